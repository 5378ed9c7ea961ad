"""The C++ EP detector (``ep_detector`` via :func:`gnuradio.deepquant.phy.mimo.ep_cpp`) against its
reference, the torch :func:`gnuradio.deepquant.phy.mimo.ep`: random channels over SNRs, ill-conditioned
and rank-deficient H, huge and tiny sigma^2, float32 overflow, invalid input, iterations=0 = LMMSE,
both demapping paths (AVX2 and portable), chunk boundaries and parameter checks."""

import numpy as np
import pytest
import torch

from gnuradio.deepquant.phy import mapping, mimo

FLT_MAX = float(np.finfo(np.float32).max)


def channel(rng, b, nr, nt, k, snr_db):
    """i.i.d. Rayleigh H, random 38.211 symbols, y = H x + n at E||Hx||^2 / (Nr sigma^2) = snr_db."""
    H = ((rng.standard_normal((b, nr, nt)) + 1j * rng.standard_normal((b, nr, nt))) / np.sqrt(2)).astype(np.complex64)
    x = mapping.constellation(k)[rng.integers(0, 2**k, (b, nt))]
    nv = np.full(b, nt / 10 ** (snr_db / 10))
    n = np.sqrt(nv[:, None] / 2) * (rng.standard_normal((b, nr)) + 1j * rng.standard_normal((b, nr)))
    y = (np.einsum("brt,bt->br", H, x) + n).astype(np.complex64)
    return y, H, nv.astype(np.float32)


def assert_close_to_reference(got, ref, rel=2e-6):
    """|got - ref| <= rel * (1 + the channel use's largest |ref|): float32 demapping forms each
    dimension's level metrics to ~6e-8 of their size, which the row's largest LLR bounds."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    assert np.all(np.isfinite(got))
    scale = 1.0 + np.abs(ref).max(axis=1, keepdims=True)
    err = (np.abs(got - ref) / scale).max()
    assert err <= rel, f"max error {err:.3g} of the row scale > {rel}"


CONFIGS = [
    (2, 2, 6),
    (4, 4, 4),
    (1, 1, 6),
    (3, 2, 4),
    (2, 3, 2),
    (2, 2, 1),
    (1, 1, 1),
    (2, 2, 8),
    (1, 3, 4),
    (6, 8, 2),
    (16, 16, 4),
]


@pytest.mark.parametrize("nr,nt,k", CONFIGS)
def test_equals_torch_reference_over_snr(nr, nt, k):
    rng = np.random.default_rng(100 + 10 * nr + nt + k)
    for snr in (-10.0, 0.0, 10.0, 20.0, 30.0, 50.0):
        y, H, nv = channel(rng, 300, nr, nt, k, snr)
        got = mimo.ep_cpp(y, H, nv, k)
        assert got.dtype == np.float32 and got.shape == (300, nt * k)
        assert_close_to_reference(got, mimo.ep(y, H, nv, k))
        assert_close_to_reference(got, mimo.ep(y, H, nv, k, dtype="float64"))


@pytest.mark.parametrize("iterations,beta,eps", [(1, 0.5, 1e-2), (4, 0.3, 1e-3), (3, 1.0, 0.2)])
def test_parameters_follow_the_reference(iterations, beta, eps):
    rng = np.random.default_rng(3)
    y, H, nv = channel(rng, 400, 4, 4, 4, 15.0)
    kw = dict(iterations=iterations, beta=beta, eps=eps)
    assert_close_to_reference(mimo.ep_cpp(y, H, nv, 4, **kw), mimo.ep(y, H, nv, 4, **kw))


def test_ill_conditioned_and_extreme_noise():
    """Nearly collinear columns, rank-one H, Nr < Nt, tiny and huge sigma^2.  Compared channel use
    by channel use (the torch reference applies one diagonal loading to all channel uses of a
    batch that need one, the kernel the smallest that works for each)."""
    rng = np.random.default_rng(11)
    cases = []
    y, H, nv = channel(rng, 40, 4, 4, 4, 25.0)
    H[:, :, 3] = H[:, :, 2] * (1 + 1e-4)
    cases.append((y, H, nv, 4))
    y, H, nv = channel(rng, 40, 2, 2, 6, 30.0)
    H[:, :, 1] = H[:, :, 0]
    cases.append((y, H, nv, 6))
    y, H, _ = channel(rng, 40, 1, 2, 4, 20.0)
    for v in (1e-8, 1e-6, 1e6, 1e30):
        cases.append((y, H, np.full(40, v, np.float32), 4))
    y, H, _ = channel(rng, 40, 2, 2, 6, 20.0)
    for v in (1e-30, 1e-12, 1e12, 1e30):
        cases.append((y, H, np.full(40, v, np.float32), 6))
    for y, H, nv, k in cases:
        got, status = mimo.ep_cpp(y, H, nv, k, return_status=True)
        assert np.all(status == 0)
        ref = np.concatenate([mimo.ep(y[i : i + 1], H[i : i + 1], nv[i : i + 1], k) for i in range(len(y))])
        assert np.all(np.isfinite(ref))
        assert_close_to_reference(got, ref, rel=1e-5)


def test_numerically_singular_precision_matrix_gives_finite_llrs():
    """Rank-deficient H (rank one; Nr < Nt) at sigma^2 far below |H|^2 * 1e-16: EP's precision
    matrix is singular to float64 (condition ~1e20 and beyond), Cholesky either fails (then the
    diagonal loading) or returns pivots made of rounding; the LLRs of kernel and reference are
    then both rounding-dominated (they differ), and finite."""
    rng = np.random.default_rng(17)
    y, H, _ = channel(rng, 60, 2, 2, 6, 30.0)
    H[:, :, 1] = H[:, :, 0]
    y1, H1, _ = channel(rng, 60, 1, 2, 4, 20.0)
    for yy, hh, k in ((y, H, 6), (y1, H1, 4)):
        for v in (1e-30, 1e-20, 1e-16, 1.4e-45):
            got, status = mimo.ep_cpp(yy, hh, np.full(60, v, np.float32), k, return_status=True)
            assert np.all(np.isfinite(got)) and np.all(status != 1)


def test_float32_overflow_is_demapped_in_float64_and_saturated():
    """sigma^2 = 1e-42 (a float32 denormal): LLRs ~1e42 overflow float32; the kernel demaps those
    channel uses in float64 and saturates at float32's largest value (status 2)."""
    rng = np.random.default_rng(12)
    y, H, _ = channel(rng, 30, 2, 2, 6, 20.0)
    nv = np.full(30, 1e-42, np.float32)
    got, status = mimo.ep_cpp(y, H, nv, 6, return_status=True)
    assert np.all(np.isfinite(got)) and np.all(status == 2)
    ref = np.clip(mimo.ep(y, H, nv, 6, dtype="float64"), -FLT_MAX, FLT_MAX)
    assert np.all(np.isfinite(ref))
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    assert np.abs(got).max() == FLT_MAX


def test_invalid_channel_uses_give_zero_llrs():
    rng = np.random.default_rng(13)
    y, H, nv = channel(rng, 50, 2, 2, 6, 15.0)
    y[3, 0] = np.nan
    y[4, 1] = np.inf
    H[5, 1, 0] = np.inf
    H[6, 0, 1] = complex(0, np.nan)
    nv[7], nv[8], nv[9], nv[10] = 0.0, -1.0, np.nan, np.inf
    bad = np.asarray(mimo.bad_channel_uses(y, H, nv))
    assert np.flatnonzero(bad).tolist() == [3, 4, 5, 6, 7, 8, 9, 10]
    got, status = mimo.ep_cpp(y, H, nv, 6, on_invalid="zero", return_status=True)
    np.testing.assert_array_equal(status, bad.astype(np.uint8))
    np.testing.assert_array_equal(got[bad], 0.0)
    ref = np.asarray(mimo.detect("ep", y, H, nv, 6, on_invalid="zero"))
    np.testing.assert_array_equal(ref[bad], 0.0)
    assert_close_to_reference(got, ref)
    with pytest.raises(ValueError, match="non-finite|noise_var"):
        mimo.ep_cpp(y, H, nv, 6)


@pytest.mark.parametrize("nr,nt,k", [(2, 2, 6), (4, 4, 4), (3, 2, 2), (1, 2, 8)])
def test_zero_iterations_is_lmmse(nr, nt, k):
    """With no site update the cavities are LMMSE's unbiased model (QAM): the LLRs of the torch
    LMMSE detector and of the C++ lmmse_detector."""
    from gnuradio.deepquant.blocks import _kernels

    rng = np.random.default_rng(14)
    y, H, nv = channel(rng, 300, nr, nt, k, 12.0)
    got = mimo.ep_cpp(y, H, nv, k, iterations=0)
    assert_close_to_reference(got, mimo.lmmse(y, H, nv, k, dtype="float64"))
    assert_close_to_reference(got, _kernels.lmmse(y, H, nv, k))


@pytest.mark.parametrize("nr,nt,k", [(2, 2, 6), (4, 4, 4), (1, 1, 4), (2, 2, 1), (8, 8, 1), (3, 3, 2)])
def test_isa_paths_agree_and_chunks_are_independent(nr, nt, k):
    """The AVX2 path (four channel uses per vector where 2 Nt is 2, 4 or 8, vectorised moment
    matching and demapping) and the portable loops give the same LLRs to float rounding; every
    channel use gets bit for bit the same LLRs wherever it sits in a batch (vector lanes, chunks,
    tails), next to an invalid channel use or one with a numerically singular precision matrix."""
    rng = np.random.default_rng(15)
    y, H, nv = channel(rng, 777, nr, nt, k, 18.0)
    y[100, 0] = np.nan  # invalid: its group of four is done one channel use at a time
    H[300, :, -1] = H[300, :, 0]
    nv[300] = 1e-30  # rank-deficient H at tiny sigma^2: a numerically singular precision matrix
    det = mimo.ep_kernel(nr, nt, k)
    full = det.detect(y, H, nv)
    parts = np.concatenate([det.detect(y[i : i + 37], H[i : i + 37], nv[i : i + 37]) for i in range(0, 777, 37)])
    np.testing.assert_array_equal(full, parts)
    ones = np.concatenate([det.detect(y[i : i + 1], H[i : i + 1], nv[i : i + 1]) for i in range(0, 777)])
    np.testing.assert_array_equal(full, ones)
    sp = mapping._spec(k)
    d = complex(sp.directions[0])
    fresh = type(det)(nr, nt, [int(v) for v in sp.levels], float(sp.scale), sp.n_dims, d.real, d.imag)
    fresh.set_isa("generic")
    assert fresh.isa() == "generic"
    ok = np.setdiff1d(np.arange(777), [100, 300])  # 300: rounding-dominated (test below)
    assert_close_to_reference(fresh.detect(y, H, nv)[ok], full[ok])


def test_torch_inputs_and_empty_batch():
    rng = np.random.default_rng(16)
    y, H, nv = channel(rng, 20, 2, 2, 4, 10.0)
    a = mimo.ep_cpp(torch.from_numpy(y), torch.from_numpy(H), torch.from_numpy(nv), 4)
    np.testing.assert_array_equal(a, mimo.ep_cpp(y, H, nv, 4))
    np.testing.assert_array_equal(mimo.ep_cpp(y, H, float(nv[0]), 4), mimo.ep_cpp(y, H, np.full(20, nv[0]), 4))
    empty = mimo.ep_cpp(np.zeros((0, 2), np.complex64), np.zeros((0, 2, 2), np.complex64), np.zeros(0), 4)
    assert empty.shape == (0, 8)


def test_bad_parameters_raise():
    y = np.zeros((3, 2), np.complex64)
    H = np.zeros((3, 2, 2), np.complex64)
    for kw in (dict(iterations=-1), dict(iterations=1.5), dict(beta=0.0), dict(beta=1.5), dict(eps=0.0)):
        with pytest.raises(ValueError):
            mimo.ep_cpp(y, H, 1.0, 4, **kw)
    with pytest.raises(ValueError):
        mimo.ep_cpp(y, H, 1.0, 3)
    with pytest.raises(ValueError):
        mimo.ep_cpp(y, H[:, :1], np.ones(2), 4)
    with pytest.raises(ValueError):
        mimo.ep_kernel(2, 17, 4)
    from gnuradio.deepquant import deepquant_python as dq

    with pytest.raises(ValueError):
        dq.ep_detector(2, 2, [1, -1], 1.0, 1, 1.0, 0.0, 2, 0.0, 0.01)
    with pytest.raises(ValueError):
        dq.ep_detector(2, 2, [3, 1, -1], 1.0, 2)


def test_block_wrapper_counts_overflow_and_falls_back_beyond_16_streams():
    """``blocks._kernels.ep`` (what mimo_detector calls): the kernel's LLRs and its count of float32
    overflows; more than 16 streams: the torch reference."""
    from gnuradio.deepquant.blocks import _kernels

    rng = np.random.default_rng(18)
    y, H, nv = channel(rng, 40, 2, 2, 4, 10.0)
    nv[:3] = 1e-42
    llr, n_overflow = _kernels.ep(y, H, nv, 4)
    assert n_overflow == 3
    np.testing.assert_array_equal(llr, mimo.ep_cpp(y, H, nv, 4))
    y, H, nv = channel(rng, 6, 17, 17, 2, 10.0)
    llr, n_overflow = _kernels.ep(y, H, nv, 2)
    assert n_overflow == 0
    np.testing.assert_array_equal(llr, mimo.ep(y, H, nv, 2))
