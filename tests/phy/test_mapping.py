"""QAM mapping / SISO soft demapping (gnuradio.deepquant.phy.mapping) against independent
references: the 38.211 formulas written out, brute-force float64 log-sum-exp over all points,
min-distance max-log, closed-form QPSK BER."""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import norm

from gnuradio.deepquant.phy import mapping

torch.set_num_threads(1)

KS = (1, 2, 4, 6, 8)


# ------------------------------------------------------------------------------------------
# Independent references
# ------------------------------------------------------------------------------------------
def ref_point(bits):
    """38.211 §5.1.2-5.1.7, written out literally per modulation."""
    b = [1 - 2 * v for v in bits]  # (1 - 2 b(i))
    k = len(bits)
    if k == 1:
        return (b[0] + 1j * b[0]) / math.sqrt(2)
    if k == 2:
        return (b[0] + 1j * b[1]) / math.sqrt(2)
    if k == 4:
        return (b[0] * (2 - b[2]) + 1j * b[1] * (2 - b[3])) / math.sqrt(10)
    if k == 6:
        return (b[0] * (4 - b[2] * (2 - b[4])) + 1j * b[1] * (4 - b[3] * (2 - b[5]))) / math.sqrt(42)
    if k == 8:
        return (
            b[0] * (8 - b[2] * (4 - b[4] * (2 - b[6]))) + 1j * b[1] * (8 - b[3] * (4 - b[5] * (2 - b[7])))
        ) / math.sqrt(170)
    raise AssertionError(k)


def ref_table(k):
    bits = list(itertools.product((0, 1), repeat=k))  # b0 first = MSB order of the label
    return np.array([ref_point(b) for b in bits]), np.array(bits)


def ref_demap(y, h, nv, k, maxlog=False):
    """Brute force, float64: per symbol, all 2^K points, explicit loop over bits."""
    pts, bits = ref_table(k)
    y, h, nv = np.broadcast_arrays(np.asarray(y, complex), np.asarray(h, complex), np.asarray(nv, float))
    out = np.zeros(y.shape + (k,))
    for idx in np.ndindex(y.shape):
        metric = -(np.abs(y[idx] - h[idx] * pts) ** 2) / nv[idx]
        for q in range(k):
            one, zero = metric[bits[:, q] == 1], metric[bits[:, q] == 0]
            if maxlog:
                out[idx + (q,)] = one.max() - zero.max()
            else:
                out[idx + (q,)] = logsumexp(one) - logsumexp(zero)
    return out.reshape(*y.shape[:-1], -1) if y.ndim else out


def rand_case(rng, shape, k, snr_db=(0, 25)):
    pts, _ = ref_table(k)
    x = pts[rng.integers(0, len(pts), size=shape)]
    h = (rng.normal(size=shape) + 1j * rng.normal(size=shape)) / math.sqrt(2)
    nv = 10 ** (-rng.uniform(*snr_db, size=shape) / 10)
    y = h * x + np.sqrt(nv / 2) * (rng.normal(size=shape) + 1j * rng.normal(size=shape))
    return y, h, nv


def assert_llr_close(got, ref, rel):
    """|got - ref| <= rel * max(1, |ref|) elementwise (relative, with a unit floor near 0)."""
    got = np.asarray(got, np.float64)
    err = np.abs(got - ref) / np.maximum(1.0, np.abs(ref))
    assert got.shape == ref.shape
    assert err.max() <= rel, f"max relative error {err.max():.3g} > {rel}"


# ------------------------------------------------------------------------------------------
# Constellations and labels
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", KS)
def test_constellation_matches_38211_formulas(k):
    pts, bits = ref_table(k)
    c = mapping.constellation(k)
    assert c.shape == (2**k,) and c.dtype == np.complex128
    np.testing.assert_allclose(c, pts, atol=1e-15)
    np.testing.assert_array_equal(mapping.bit_labels(k), bits.astype(np.uint8))


@pytest.mark.parametrize("k", KS)
def test_unit_energy_distinct_points(k):
    c = mapping.constellation(k)
    assert abs(np.mean(np.abs(c) ** 2) - 1.0) < 1e-12
    assert len(np.unique(np.round(c, 9))) == 2**k


def test_16qam_spot_checks():
    c = mapping.constellation(4)
    s = 1 / math.sqrt(10)
    # b = 0000 -> (1 + 1j)/sqrt(10); 0001 -> (1 + 3j); 0010 -> (3 + 1j); 1111 -> (-3 - 3j)
    assert c[0b0000] == pytest.approx((1 + 1j) * s)
    assert c[0b0001] == pytest.approx((1 + 3j) * s)
    assert c[0b0010] == pytest.approx((3 + 1j) * s)
    assert c[0b1000] == pytest.approx((-1 + 1j) * s)
    assert c[0b1111] == pytest.approx((-3 - 3j) * s)


@pytest.mark.parametrize("k", (2, 4, 6, 8))
def test_gray_labelling(k):
    """Nearest neighbours (at minimum distance) differ in exactly one bit."""
    c = mapping.constellation(k)
    lab = mapping.bit_labels(k)
    d = np.abs(c[:, None] - c[None, :])
    dmin = d[d > 0].min()
    i, j = np.nonzero(np.isclose(d, dmin))
    assert len(i) > 0
    assert np.all((lab[i] != lab[j]).sum(1) == 1)


def test_bpsk_is_the_38211_diagonal_bpsk():
    c = mapping.constellation(1)
    np.testing.assert_allclose(c, [(1 + 1j) / math.sqrt(2), -(1 + 1j) / math.sqrt(2)])


def test_bits_indices_roundtrip():
    rng = np.random.default_rng(0)
    for k in KS:
        bits = rng.integers(0, 2, size=(3, 5 * k))
        idx = mapping.bits_to_indices(bits, k)
        assert idx.shape == (3, 5)
        np.testing.assert_array_equal(mapping.indices_to_bits(idx, k), bits)
        lab = mapping.bit_labels(k)
        np.testing.assert_array_equal(lab[idx].reshape(3, -1), bits)


@pytest.mark.parametrize("k", KS)
def test_map_bits_numpy_and_torch(k):
    rng = np.random.default_rng(k)
    bits = rng.integers(0, 2, size=(2, 7 * k)).astype(np.uint8)
    pts, _ = ref_table(k)
    expect = np.array([[ref_point(tuple(row[i * k : (i + 1) * k])) for i in range(7)] for row in bits])
    sym = mapping.map_bits(bits, k)
    assert isinstance(sym, np.ndarray) and sym.dtype == np.complex64 and sym.shape == (2, 7)
    np.testing.assert_allclose(sym, expect, atol=1e-6)
    sym64 = mapping.map_bits(torch.from_numpy(bits), k, dtype="float64")
    assert isinstance(sym64, torch.Tensor) and sym64.dtype == torch.complex128
    np.testing.assert_allclose(sym64.numpy(), expect, atol=1e-15)


def test_map_bits_errors():
    with pytest.raises(ValueError, match="multiple"):
        mapping.map_bits(np.zeros(5, np.uint8), 2)
    with pytest.raises(ValueError, match="0 and 1"):
        mapping.map_bits(np.array([0, 2]), 2)
    with pytest.raises(ValueError, match="bits_per_symbol"):
        mapping.map_bits(np.zeros(3, np.uint8), 3)
    with pytest.raises(ValueError, match="integer"):
        mapping.map_bits(np.zeros(2), 2)


# ------------------------------------------------------------------------------------------
# Demapping
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("maxlog", (False, True))
def test_demap_matches_bruteforce(k, maxlog):
    rng = np.random.default_rng(10 * k + maxlog)
    y, h, nv = rand_case(rng, (3, 40), k)
    fn = mapping.demap_maxlog if maxlog else mapping.demap_exact
    ref = ref_demap(y, h, nv, k, maxlog)
    got = fn(y, h, nv, k)
    assert isinstance(got, np.ndarray) and got.dtype == np.float32 and got.shape == (3, 40 * k)
    assert_llr_close(got, ref, 1e-5)
    got64 = fn(y, h, nv, k, dtype="float64")
    assert got64.dtype == np.float64
    assert_llr_close(got64, ref, 1e-10)


@pytest.mark.parametrize("k", KS)
def test_sign_convention_noiseless(k):
    """The noiseless symbol of a bit-1 label gives positive LLRs for that bit (and negative
    for bit 0), through any channel gain."""
    c = mapping.constellation(k)
    lab = mapping.bit_labels(k)
    h = 0.7 * np.exp(1j * 2.1)
    for fn in (mapping.demap_exact, mapping.demap_maxlog):
        llr = fn(h * c, h, 0.01, k).reshape(-1, k)
        np.testing.assert_array_equal(llr > 0, lab == 1)
        np.testing.assert_array_equal(mapping.hard_decision(llr), lab)


def test_broadcasting_and_shapes():
    rng = np.random.default_rng(3)
    y, h, nv = rand_case(rng, (2, 5), 4)
    ref = ref_demap(y, 1.0, 0.3, 4)
    assert mapping.demap_exact(y, None, 0.3, 4).shape == (2, 20)
    assert_llr_close(mapping.demap_exact(y, None, 0.3, 4), ref, 1e-5)
    # per-row gain [2, 1] broadcast over the 5 symbols; per-symbol noise
    hr = h[:, :1]
    assert_llr_close(mapping.demap_exact(y, hr, nv, 4), ref_demap(y, np.broadcast_to(hr, y.shape), nv, 4), 1e-5)
    # scalar symbol -> (K,)
    out = mapping.demap_exact(np.complex64(0.3 - 0.2j), None, 0.5, 6)
    assert out.shape == (6,)
    assert_llr_close(out, ref_demap(np.array([0.3 - 0.2j]), 1.0, 0.5, 6), 1e-5)


def test_torch_in_torch_out():
    rng = np.random.default_rng(4)
    y, h, nv = rand_case(rng, (8,), 6)
    got = mapping.demap_exact(torch.from_numpy(y), torch.from_numpy(h), torch.from_numpy(nv), 6)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32 and got.shape == (48,)
    assert_llr_close(got.numpy(), ref_demap(y, h, nv, 6), 1e-5)


def test_zero_gain_gives_zero_llrs():
    y = np.array([0.3 + 0.1j, -1.0 + 2.0j])
    for k in KS:
        np.testing.assert_array_equal(mapping.demap_exact(y, 0.0, 0.1, k), 0.0)
        np.testing.assert_array_equal(mapping.demap_maxlog(y, 0.0, 0.1, k), 0.0)


@pytest.mark.parametrize("k", (2, 8))
def test_extreme_snr_is_finite_and_tends_to_maxlog(k):
    """Tiny noise and far-away samples: no overflow/underflow (exact -> max-log)."""
    y = np.array([0.1 + 0.05j, 50 - 80j, -3e3 + 1e-3j])
    for nv in (1e-6, 1e-12):
        ex = mapping.demap_exact(y, None, nv, k, dtype="float64")
        ml = mapping.demap_maxlog(y, None, nv, k, dtype="float64")
        assert np.all(np.isfinite(ex))
        np.testing.assert_allclose(ex, ml, rtol=1e-6, atol=1e-6 * np.abs(ml).max())
        ex32 = mapping.demap_exact(y, None, nv, k)
        assert np.all(np.isfinite(ex32))
        np.testing.assert_allclose(ex32, ml, rtol=1e-4, atol=1e-6 * np.abs(ml).max())


@pytest.mark.parametrize("k", (4, 6, 8))
def test_float32_accuracy_at_high_snr(k):
    """float32 LLRs within 1e-5 relative of the float64 brute force at 25..45 dB."""
    rng = np.random.default_rng(20 + k)
    y, h, nv = rand_case(rng, (200,), k, snr_db=(25, 45))
    for fn, ml in ((mapping.demap_exact, False), (mapping.demap_maxlog, True)):
        assert_llr_close(fn(y, h, nv, k), ref_demap(y, h, nv, k, ml), 1e-5)


def test_long_input_is_chunked_consistently():
    rng = np.random.default_rng(5)
    n = mapping._DEMAP_CHUNK + 123
    y, h, nv = rand_case(rng, (n,), 4)
    full = mapping.demap_exact(y, h, nv, 4)
    head = mapping.demap_exact(y[:100], h[:100], nv[:100], 4)
    tail = mapping.demap_exact(y[-50:], h[-50:], nv[-50:], 4)
    np.testing.assert_allclose(full[:400], head, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(full[-200:], tail, rtol=1e-6, atol=1e-6)


def test_demap_validation():
    y = np.array([0.1 + 0.2j, 0.3j])
    for bad_nv in (0.0, -1.0, np.nan, np.inf, [0.1, 0.0]):
        with pytest.raises(ValueError, match="noise_var"):
            mapping.demap_exact(y, None, bad_nv, 2)
    with pytest.raises(ValueError, match="y contains non-finite"):
        mapping.demap_maxlog(np.array([np.nan + 0j, 1]), None, 1.0, 2)
    with pytest.raises(ValueError, match="h contains non-finite"):
        mapping.demap_exact(y, np.array([1.0, np.inf]), 1.0, 2)
    with pytest.raises(ValueError, match="broadcast"):
        mapping.demap_exact(y, np.ones(3), 1.0, 2)
    with pytest.raises(ValueError, match="bits_per_symbol"):
        mapping.demap_exact(y, None, 1.0, 5)
    with pytest.raises(ValueError, match="dtype"):
        mapping.demap_exact(y, None, 1.0, 2, dtype="float16")


def test_clip_and_hard_decision():
    L = np.array([-50.0, -0.5, 0.0, 0.5, 80.0, np.nan], np.float32)
    c = mapping.clip_llr(L, 20)
    assert c.dtype == np.float32
    np.testing.assert_array_equal(c[:5], [-20, -0.5, 0, 0.5, 20])
    assert np.isnan(c[5])
    np.testing.assert_array_equal(mapping.clip_llr(torch.from_numpy(L), 1.0).numpy()[:5], [-1, -0.5, 0, 0.5, 1])
    np.testing.assert_array_equal(mapping.hard_decision(L), [0, 0, 0, 1, 1, 0])
    assert mapping.hard_decision(torch.from_numpy(L)).dtype == torch.uint8
    with pytest.raises(ValueError):
        mapping.clip_llr(L, 0)


def test_qpsk_awgn_ber_matches_closed_form():
    """Uncoded BER of exact-LLR hard decisions, QPSK over AWGN: Q(1/sigma) per bit exactly
    (amplitude 1/sqrt(2) per dimension, noise variance nv/2 per dimension)."""
    rng = np.random.default_rng(7)
    n, nv = 100_000, 0.5
    bits = rng.integers(0, 2, size=2 * n).astype(np.uint8)
    x = mapping.map_bits(bits, 2)
    y = x + np.sqrt(nv / 2) * (rng.normal(size=n) + 1j * rng.normal(size=n))
    ber = np.mean(mapping.hard_decision(mapping.demap_exact(y, None, nv, 2)) != bits)
    p = norm.sf(1 / math.sqrt(nv))
    assert abs(ber - p) < 4 * math.sqrt(p * (1 - p) / (2 * n)), (ber, p)
