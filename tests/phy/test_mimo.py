"""Soft MIMO detectors (gnuradio.deepquant.phy.mimo) against independent float64 numpy
references: brute-force log-sum-exp over every hypothesis, min-distance max-log, a step-by-step
transcription of Algorithm 1 of the EQ-Net paper (ZF-SIC), and a textbook LMMSE; EP against the
properties that pin it down (exact ML for one stream, LMMSE at zero iterations, closer to exact ML
than LMMSE); plus sign convention, Monte-Carlo BER, chunking, validation and the bad-input fallback."""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from gnuradio.deepquant.phy import mapping, mimo

torch.set_num_threads(1)


# ------------------------------------------------------------------------------------------
# Independent references (float64, explicit loops)
# ------------------------------------------------------------------------------------------
def hypotheses(k, nt):
    """All transmit vectors [P, Nt] and their stream-major bits [P, Nt*K]."""
    pts, lab = mapping.constellation(k), mapping.bit_labels(k)
    idx = np.array(list(itertools.product(range(2**k), repeat=nt)))
    return pts[idx], np.concatenate([lab[idx[:, t]] for t in range(nt)], 1)


def ref_ml(y, H, nv, k, maxlog=False):
    B, _, nt = H.shape
    X, bits = hypotheses(k, nt)
    out = np.zeros((B, nt * k))
    for b in range(B):
        metric = -np.sum(np.abs(y[b][None, :] - X @ H[b].T) ** 2, axis=1) / nv[b]
        for q in range(nt * k):
            one, zero = metric[bits[:, q] == 1], metric[bits[:, q] == 0]
            out[b, q] = (one.max() - zero.max()) if maxlog else (logsumexp(one) - logsumexp(zero))
    return out


def ref_siso(z, gain, var, k):
    """Exact LLRs of z = gain * x + CN(0, var) over the 2^K points (brute force)."""
    pts, lab = mapping.constellation(k), mapping.bit_labels(k)
    metric = -(np.abs(z - gain * pts) ** 2) / var
    return np.array([logsumexp(metric[lab[:, q] == 1]) - logsumexp(metric[lab[:, q] == 0]) for q in range(k)])


def ref_zf_sic(y, H, nv, k):
    """Algorithm 1 (EQ-Net), literally: QR, y_hat = Q^H y, for k = Nt..1: subtract the
    interference of the decided streams, marginalise per bit, decide by argmin. The exponent is
    divided by the noise variance (eq. (3) of the paper)."""
    pts = mapping.constellation(k)
    B, _, nt = H.shape
    out = np.zeros((B, nt * k))
    for b in range(B):
        Q, R = np.linalg.qr(H[b])  # thin QR (numpy's sign convention, not ours)
        yh = Q.conj().T @ y[b]
        xt = np.zeros(nt, complex)
        for s in range(nt - 1, -1, -1):
            yt = yh[s] - sum(R[s, j] * xt[j] for j in range(s + 1, nt))
            out[b, s * k : (s + 1) * k] = ref_siso(yt, R[s, s], nv[b], k)
            xt[s] = pts[np.argmin(np.abs(yt - R[s, s] * pts) ** 2)]
    return out


def ref_lmmse(y, H, nv, k):
    """Textbook LMMSE: W = (H^H H + s2 I)^-1 H^H, A = W H, mu = diag A, residual variance
    sum_{j != k} |A_kj|^2 + s2 (W W^H)_kk, then exact demapping of x_hat_k = mu_k x + noise."""
    B, _, nt = H.shape
    out = np.zeros((B, nt * k))
    mus, nus, xhs = np.zeros((B, nt)), np.zeros((B, nt)), np.zeros((B, nt), complex)
    for b in range(B):
        Hb = H[b]
        W = np.linalg.inv(Hb.conj().T @ Hb + nv[b] * np.eye(nt)) @ Hb.conj().T
        A = W @ Hb
        xh = W @ y[b]
        for s in range(nt):
            mu = A[s, s].real
            nu = sum(abs(A[s, j]) ** 2 for j in range(nt) if j != s) + nv[b] * (W[s] @ W[s].conj()).real
            out[b, s * k : (s + 1) * k] = ref_siso(xh[s], mu, nu, k)
            mus[b, s], nus[b, s], xhs[b, s] = mu, nu, xh[s]
    return out, xhs, mus, nus


def rand_case(rng, B, nr, nt, k, snr_db=(0, 25)):
    H = (rng.normal(size=(B, nr, nt)) + 1j * rng.normal(size=(B, nr, nt))) / math.sqrt(2)
    x = mapping.constellation(k)[rng.integers(0, 2**k, size=(B, nt))]
    nv = 10 ** (-rng.uniform(*snr_db, size=B) / 10)
    y = np.einsum("bij,bj->bi", H, x) + np.sqrt(nv / 2)[:, None] * (
        rng.normal(size=(B, nr)) + 1j * rng.normal(size=(B, nr))
    )
    return y, H, nv


def assert_llr_close(got, ref, rel):
    """|got - ref| <= rel * max(1, |ref|) elementwise."""
    got = np.asarray(got, np.float64)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    err = np.abs(got - ref) / np.maximum(1.0, np.abs(ref))
    assert err.max() <= rel, f"max relative error {err.max():.3g} > {rel}"


CASES = [  # (Nr, Nt, K, B)
    (1, 1, 2, 20),
    (1, 1, 6, 20),
    (2, 2, 4, 12),
    (2, 2, 6, 8),
    (4, 4, 2, 6),
    (4, 4, 4, 3),
    (3, 2, 8, 3),
    (2, 3, 1, 10),  # Nr > Nt with 256-QAM, Nr < Nt with BPSK
]


# ------------------------------------------------------------------------------------------
# ML detectors
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("nr,nt,k,B", CASES)
def test_exact_ml_matches_bruteforce(nr, nt, k, B):
    rng = np.random.default_rng(100 * nr + 10 * nt + k)
    y, H, nv = rand_case(rng, B, nr, nt, k)
    ref = ref_ml(y, H, nv, k)
    got = mimo.exact_ml(y, H, nv, k)
    assert isinstance(got, np.ndarray) and got.dtype == np.float32 and got.shape == (B, nt * k)
    assert_llr_close(got, ref, 1e-5)
    assert_llr_close(mimo.exact_ml(y, H, nv, k, dtype="float64"), ref, 1e-9)


@pytest.mark.parametrize("nr,nt,k,B", CASES)
def test_maxlog_ml_matches_min_distance(nr, nt, k, B):
    rng = np.random.default_rng(200 + 100 * nr + 10 * nt + k)
    y, H, nv = rand_case(rng, B, nr, nt, k)
    ref = ref_ml(y, H, nv, k, maxlog=True)
    assert_llr_close(mimo.maxlog_ml(y, H, nv, k), ref, 1e-5)
    assert_llr_close(mimo.maxlog_ml(y, H, nv, k, dtype="float64"), ref, 1e-9)


def test_exact_ml_extreme_snr_stable():
    """Tiny noise: every hypothesis but one is astronomically unlikely. No inf/NaN; exact ML
    converges to max-log; float64 still matches brute force."""
    rng = np.random.default_rng(1)
    y, H, nv = rand_case(rng, 6, 2, 2, 6, snr_db=(60, 90))
    ex = mimo.exact_ml(y, H, nv, 6, dtype="float64")
    assert np.all(np.isfinite(ex)) and np.abs(ex).max() > 1e5
    assert_llr_close(ex, ref_ml(y, H, nv, 6), 1e-9)
    ml = mimo.maxlog_ml(y, H, nv, 6, dtype="float64")
    np.testing.assert_allclose(ex, ml, rtol=1e-6)
    assert np.all(np.isfinite(mimo.exact_ml(y, H, nv, 6)))


@pytest.mark.parametrize("nr,nt,k,B", [(2, 2, 6, 30), (2, 2, 8, 8), (4, 4, 4, 3)])
def test_float32_accuracy_at_high_snr(nr, nt, k, B):
    """float32 output stays within 1e-5 relative of the float64 brute force at 25..40 dB,
    where ||y||^2 / noise_var reaches 1e4 (the large statistics are kept in float64)."""
    rng = np.random.default_rng(7 * k + nt)
    y, H, nv = rand_case(rng, B, nr, nt, k, snr_db=(25, 40))
    for fn, ml in ((mimo.exact_ml, False), (mimo.maxlog_ml, True)):
        assert_llr_close(fn(y, H, nv, k), ref_ml(y, H, nv, k, maxlog=ml), 1e-5)


def test_single_stream_equals_mrc_siso_demapping():
    """Nt = 1: exact ML equals SISO demapping of the matched-filter output."""
    rng = np.random.default_rng(2)
    y, H, nv = rand_case(rng, 30, 3, 1, 4)
    g = np.sum(np.abs(H[:, :, 0]) ** 2, 1)
    z = np.sum(H[:, :, 0].conj() * y, 1)
    # z = g x + CN(0, g nv): same LLRs as y = h x + n with h = sqrt(g), y' = z / sqrt(g)
    siso = mapping.demap_exact(z / np.sqrt(g), np.sqrt(g), nv, 4, dtype="float64")
    np.testing.assert_allclose(mimo.exact_ml(y, H, nv, 4, dtype="float64"), siso.reshape(30, 4), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("fn", [mimo.exact_ml, mimo.maxlog_ml])
def test_chunking_does_not_change_results(fn):
    rng = np.random.default_rng(3)
    for nr, nt, k, B in [(2, 2, 6, 300), (4, 4, 2, 150), (3, 3, 4, 40)]:
        y, H, nv = rand_case(rng, B, nr, nt, k)
        for dt, rel in (("float32", 2e-6), ("float64", 1e-12)):
            full = fn(y, H, nv, k, dtype=dt, chunk_size=B)
            default = fn(y, H, nv, k, dtype=dt)
            # chunk sizes change only the GEMM kernels' blocking: equal up to rounding
            for c in (1, 7):
                assert_llr_close(fn(y, H, nv, k, dtype=dt, chunk_size=c), full.astype(np.float64), rel)
            assert_llr_close(default, full.astype(np.float64), rel)


def test_zero_channel_column_gives_zero_llrs_for_that_stream():
    rng = np.random.default_rng(4)
    y, H, nv = rand_case(rng, 5, 2, 2, 4)
    H[:, :, 1] = 0
    for fn in (mimo.exact_ml, mimo.maxlog_ml, mimo.zf_sic, mimo.lmmse, mimo.ep):
        out = fn(y, H, nv, 4)
        assert np.all(np.isfinite(out)), fn.__name__
        np.testing.assert_allclose(out[:, 4:], 0.0, atol=1e-5, err_msg=fn.__name__)
        assert np.abs(out[:, :4]).min() > 0


def test_memory_limit_is_a_clear_error():
    y, H = np.zeros((1, 4), complex), np.ones((1, 4, 4), complex)
    with pytest.raises(ValueError, match="MEMORY_LIMIT_BYTES"):
        mimo.exact_ml(y, H, 1.0, 8)  # 4x4 256-QAM: 2^24 conditioned hypotheses


# ------------------------------------------------------------------------------------------
# ZF-SIC and LMMSE
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "nr,nt,k,B",
    [(1, 1, 4, 20), (2, 2, 4, 20), (2, 2, 6, 20), (4, 4, 4, 20), (4, 2, 2, 20), (3, 3, 8, 10), (2, 2, 1, 20)],
)
def test_zf_sic_matches_algorithm_1(nr, nt, k, B):
    rng = np.random.default_rng(300 + 100 * nr + 10 * nt + k)
    y, H, nv = rand_case(rng, B, nr, nt, k)
    ref = ref_zf_sic(y, H, nv, k)
    assert_llr_close(mimo.zf_sic(y, H, nv, k, dtype="float64"), ref, 1e-9)
    got = mimo.zf_sic(y, H, nv, k)
    assert got.dtype == np.float32 and got.shape == (B, nt * k)
    assert_llr_close(got, ref, 1e-5)


def test_zf_sic_paper_scaling_is_noise_var_one():
    """Algorithm 1 as printed (no 1/noise_var in the exponent) is our output at noise_var = 1."""
    rng = np.random.default_rng(5)
    y, H, nv = rand_case(rng, 10, 2, 2, 4)
    np.testing.assert_allclose(
        mimo.zf_sic(y, H, 1.0, 4, dtype="float64"), ref_zf_sic(y, H, np.ones(10), 4), rtol=1e-9, atol=1e-9
    )


def test_zf_sic_requires_nr_ge_nt():
    with pytest.raises(ValueError, match="Nr >= Nt"):
        mimo.zf_sic(np.zeros((1, 2), complex), np.ones((1, 2, 3), complex), 1.0, 2)


@pytest.mark.parametrize("nr,nt,k,B", [(1, 1, 4, 20), (2, 2, 6, 20), (4, 4, 4, 20), (2, 4, 2, 20), (4, 2, 8, 10)])
def test_lmmse_matches_textbook(nr, nt, k, B):
    rng = np.random.default_rng(400 + 100 * nr + 10 * nt + k)
    y, H, nv = rand_case(rng, B, nr, nt, k)
    ref, xh, mu, nu = ref_lmmse(y, H, nv, k)
    assert_llr_close(mimo.lmmse(y, H, nv, k, dtype="float64"), ref, 1e-9)
    assert_llr_close(mimo.lmmse(y, H, nv, k), ref, 1e-5)
    eq = mimo.lmmse_equalize(y, H, nv, dtype="float64")
    np.testing.assert_allclose(eq.x_hat, xh, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(eq.gain, mu, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(eq.noise_var, nu, rtol=1e-9, atol=1e-14)


# ------------------------------------------------------------------------------------------
# EP
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("nr,k", [(1, 1), (1, 2), (1, 6), (3, 4), (2, 8)])
def test_ep_single_stream_is_exact_ml(nr, k):
    """Nt = 1: EP's cavity is the likelihood itself (the real Gram matrix of one complex stream is
    |h|^2 I, so its real dimensions decouple), at any iteration count: the LLRs are the
    brute-force exact-ML ones to float rounding."""
    rng = np.random.default_rng(300 + 10 * nr + k)
    y, H, nv = rand_case(rng, 40, nr, 1, k)
    ref = ref_ml(y, H, nv, k)
    for it in (0, 2, 10):
        assert_llr_close(mimo.ep(y, H, nv, k, iterations=it, dtype="float64"), ref, 1e-9)
    assert_llr_close(mimo.ep(y, H, nv, k), ref, 1e-5)


@pytest.mark.parametrize("nr,nt,k", [(2, 2, 2), (2, 2, 6), (4, 4, 4), (3, 2, 8), (1, 2, 4)])
def test_ep_zero_iterations_is_lmmse(nr, nt, k):
    """With no site update EP is LMMSE (QAM: the real-valued LMMSE with an isotropic prior is the
    complex one, and its per-dimension cavity is LMMSE's unbiased model)."""
    rng = np.random.default_rng(400 + 10 * nt + k)
    y, H, nv = rand_case(rng, 50, nr, nt, k)
    assert_llr_close(
        mimo.ep(y, H, nv, k, iterations=0, dtype="float64"), mimo.lmmse(y, H, nv, k, dtype="float64"), 1e-9
    )
    cav = mimo.ep_cavity(y, H, nv, k, iterations=0, dtype="float64")
    eq = mimo.lmmse_equalize(y, H, nv, dtype="float64")
    np.testing.assert_allclose(cav.mean, eq.x_hat / eq.gain, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(cav.var, (1 - eq.gain) / eq.gain, rtol=1e-9)
    np.testing.assert_allclose(cav.var_dims.sum(-1), cav.var, rtol=1e-12)
    np.testing.assert_allclose(cav.var_dims[..., 0], cav.var_dims[..., 1], rtol=1e-9)


@pytest.mark.parametrize("nr,nt,k", [(4, 4, 4), (2, 2, 6), (4, 2, 8), (2, 2, 1)])
def test_ep_high_snr_recovers_sent_bits(nr, nt, k):
    """At 45 dB (E||H||^2 / sigma^2 per receive antenna) EP's hard decisions are the sent bits."""
    rng = np.random.default_rng(500 + k)
    B = 400
    bits = rng.integers(0, 2, size=(B, nt * k)).astype(np.uint8)
    x = mapping.map_bits(bits, k).astype(complex)
    H = (rng.normal(size=(B, nr, nt)) + 1j * rng.normal(size=(B, nr, nt))) / math.sqrt(2)
    nv = np.full(B, nt * 10 ** (-45 / 10))
    y = np.einsum("bij,bj->bi", H, x) + np.sqrt(nv / 2)[:, None] * (
        rng.normal(size=(B, nr)) + 1j * rng.normal(size=(B, nr))
    )
    # Rayleigh fading: a few channel uses are nearly singular; exact ML errs there too
    ok = mapping.hard_decision(mimo.exact_ml(y, H, nv, k)) == bits if nt * k <= 16 else np.ones_like(bits, bool)
    llr = mimo.ep(y, H, nv, k)
    assert np.all(np.isfinite(llr))
    np.testing.assert_array_equal(mapping.hard_decision(llr)[ok.all(1)], bits[ok.all(1)])
    assert ok.all(1).mean() > 0.97


def _kl_bits(llr, ref):
    """Bitwise KL divergence D(exact || llr) in bits per bit (float64)."""
    llr, ref = np.asarray(llr, np.float64), np.asarray(ref, np.float64)
    p = 1.0 / (1.0 + np.exp(-ref))
    ls = lambda v: -np.logaddexp(0.0, -v)  # noqa: E731 (log sigmoid)
    return float(np.mean(p * (ls(ref) - ls(llr)) + (1 - p) * (ls(-ref) - ls(-llr))) / math.log(2))


@pytest.mark.parametrize("nr,nt,k,snr_db", [(2, 2, 6, 20.0), (4, 4, 4, 19.0)])
def test_ep_llrs_closer_to_exact_ml_than_lmmse(nr, nt, k, snr_db):
    """Bitwise KL divergence from the exact-ML LLRs (i.i.d. Rayleigh, SNR = E||H||_F^2 / sigma^2
    as in ``deepquant eval``, fixed seed): EP's is well below LMMSE's (these draws: 2x2 64-QAM
    0.010 vs 0.021 bits/bit, 4x4 16-QAM 0.027 vs 0.078), and its uncoded bit errors fewer."""
    rng = np.random.default_rng(600 + k)
    B = 1500
    bits = rng.integers(0, 2, size=(B, nt * k)).astype(np.uint8)
    x = mapping.map_bits(bits, k).astype(complex)
    H = (rng.normal(size=(B, nr, nt)) + 1j * rng.normal(size=(B, nr, nt))) / math.sqrt(2)
    nv = np.full(B, nr * nt / 10 ** (snr_db / 10))
    y = np.einsum("bij,bj->bi", H, x) + np.sqrt(nv / 2)[:, None] * (
        rng.normal(size=(B, nr)) + 1j * rng.normal(size=(B, nr))
    )
    ref = mimo.exact_ml(y, H, nv, k, dtype="float64")
    ep_llr, lm_llr = mimo.ep(y, H, nv, k), mimo.lmmse(y, H, nv, k)
    kl_ep, kl_lm = _kl_bits(ep_llr, ref), _kl_bits(lm_llr, ref)
    assert kl_ep < 0.7 * kl_lm, (kl_ep, kl_lm)
    err = lambda llr: int(np.sum(mapping.hard_decision(llr) != bits))  # noqa: E731
    assert err(ep_llr) < err(lm_llr)


def test_ep_output_finite_on_degenerate_and_extreme_input():
    """Finite LLRs where the precision matrix is singular to float64 (Nr < Nt at sigma^2 = 1e-30,
    rank-one H), where the statistics overflow float64 (|H| ~ 1e160: zero LLRs), at tiny and huge
    sigma^2, and for zero y / zero H (zero LLRs)."""
    rng = np.random.default_rng(7)
    for b in (20, 100):  # both inversion paths (small batches: LAPACK Cholesky; large: Gauss-Jordan)
        y, H, nv = rand_case(rng, b, 1, 2, 4)
        for v in (1e-30, 1e-300, 1e30):
            assert np.all(np.isfinite(mimo.ep(y, H, np.full(b, v), 4, dtype="float64")))
        y2, H2, nv2 = rand_case(rng, b, 2, 2, 6)
        H2[:, :, 1] = H2[:, :, 0]  # rank one
        assert np.all(np.isfinite(mimo.ep(y2, H2, np.full(b, 1e-30), 6)))
    y2, H2, nv2 = rand_case(rng, 20, 2, 2, 6)
    H2[:, :, 1] = H2[:, :, 0]
    huge = mimo.ep(y2 * 1e160, H2 * 1e160, nv2, 6, dtype="float64")
    np.testing.assert_array_equal(huge, 0.0)
    np.testing.assert_array_equal(mimo.ep(np.zeros_like(y2), np.zeros_like(H2), nv2, 6), 0.0)
    assert np.all(np.abs(mimo.ep(np.zeros_like(y2), H2, nv2, 6)) < 1e3)


def test_ep_batch_size_does_not_change_results():
    """Large batches invert by Gauss-Jordan on batch-innermost arrays, small ones by LAPACK
    Cholesky: the LLRs agree to float64 rounding, also with ill-conditioned channel uses mixed in."""
    rng = np.random.default_rng(8)
    y, H, nv = rand_case(rng, 300, 4, 4, 4)
    H[::7, :, 3] = H[::7, :, 2] * (1 + 1e-7)  # nearly rank-deficient
    full = mimo.ep(y, H, nv, 4, dtype="float64")
    parts = np.concatenate(
        [mimo.ep(y[i : i + 10], H[i : i + 10], nv[i : i + 10], 4, dtype="float64") for i in range(0, 300, 10)]
    )
    assert_llr_close(full, parts, 1e-9)


def test_ep_parameters_are_checked():
    y, H = np.zeros((1, 2), complex), np.ones((1, 2, 2), complex)
    with pytest.raises(ValueError, match="iterations"):
        mimo.ep(y, H, 1.0, 4, iterations=-1)
    with pytest.raises(ValueError, match="iterations"):
        mimo.ep(y, H, 1.0, 4, iterations=1.5)
    with pytest.raises(ValueError, match="beta"):
        mimo.ep(y, H, 1.0, 4, beta=0.0)
    with pytest.raises(ValueError, match="eps"):
        mimo.ep_cavity(y, H, 1.0, 4, eps=0.0)
    assert mimo.ep(np.zeros((0, 2), complex), np.zeros((0, 2, 2), complex), np.zeros(0), 4).shape == (0, 8)
    assert mimo.ep_cavity(np.zeros((0, 2), complex), np.zeros((0, 2, 2), complex), np.zeros(0), 4).var_dims.shape == (
        0,
        2,
        2,
    )


# ------------------------------------------------------------------------------------------
# Conventions, statistics
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(mimo.CLASSICAL))
def test_sign_convention_noiseless(name):
    """Noiseless reception of known bits: LLR > 0 exactly for the bits that are 1."""
    rng = np.random.default_rng(6)
    B, nr, nt, k = 64, 4, 2, 4
    bits = rng.integers(0, 2, size=(B, nt * k)).astype(np.uint8)
    x = mapping.map_bits(bits, k).astype(complex)
    H = (rng.normal(size=(B, nr, nt)) + 1j * rng.normal(size=(B, nr, nt))) / math.sqrt(2)
    y = np.einsum("bij,bj->bi", H, x)
    llr = mimo.detect(name, y, H, np.full(B, 1e-3), k)
    np.testing.assert_array_equal(mapping.hard_decision(llr), bits)


def test_exact_ml_ber_matches_monte_carlo_vector_ml():
    """Uncoded BER of bitwise exact-ML hard decisions vs an independent Monte-Carlo
    simulation of the minimum-distance (joint ML) detector, 2x2 16-QAM Rayleigh: the two
    differ by far less than the statistical tolerance."""
    k, nr, nt, n, snr_db = 4, 2, 2, 3000, 16.0
    nv = 10 ** (-snr_db / 10)
    X, hbits = hypotheses(k, nt)

    def simulate(seed, detector):
        rng = np.random.default_rng(seed)
        bits = rng.integers(0, 2, size=(n, nt * k)).astype(np.uint8)
        x = mapping.map_bits(bits, k).astype(complex)
        H = (rng.normal(size=(n, nr, nt)) + 1j * rng.normal(size=(n, nr, nt))) / math.sqrt(2)
        y = np.einsum("bij,bj->bi", H, x) + math.sqrt(nv / 2) * (
            rng.normal(size=(n, nr)) + 1j * rng.normal(size=(n, nr))
        )
        return np.mean(detector(y, H) != bits)

    def vector_ml(y, H):  # symbol-error simulation: argmin over the 256 joint hypotheses
        d = np.abs(y[:, None, :] - np.einsum("bij,pj->bpi", H, X)) ** 2
        return hbits[np.argmin(d.sum(-1), axis=1)]

    ber_llr = simulate(11, lambda y, H: mapping.hard_decision(mimo.exact_ml(y, H, nv, k)))
    ber_mc = simulate(12, vector_ml)
    # bits within a channel use are correlated: count channel uses, not bits, for the spread
    p = 0.5 * (ber_llr + ber_mc)
    sd = math.sqrt(2 * p * (1 - p) / n)
    assert 0.005 < p < 0.2, p
    assert abs(ber_llr - ber_mc) < 4 * sd, (ber_llr, ber_mc, sd)


def test_detector_ranking_on_average():
    """Sanity of the soft outputs: mean bit-wise 'true-bit log-probability' orders as
    exact ML >= max-log ML, and exact ML >= LMMSE, ZF-SIC (2x2 16-QAM, 12 dB)."""
    rng = np.random.default_rng(8)
    B, k = 2000, 4
    bits = rng.integers(0, 2, size=(B, 2 * k)).astype(np.uint8)
    x = mapping.map_bits(bits, k).astype(complex)
    H = (rng.normal(size=(B, 2, 2)) + 1j * rng.normal(size=(B, 2, 2))) / math.sqrt(2)
    nv = np.full(B, 10**-1.2)
    y = np.einsum("bij,bj->bi", H, x) + np.sqrt(nv / 2)[:, None] * (
        rng.normal(size=(B, 2)) + 1j * rng.normal(size=(B, 2))
    )
    s = 2.0 * bits - 1.0
    score = {
        name: -np.mean(np.logaddexp(0, -s * mimo.detect(name, y, H, nv, k).astype(np.float64)))
        for name in mimo.CLASSICAL
    }  # mean log P(true bit) under the LLRs (<= 0)
    assert score["exact_ml"] >= score["maxlog_ml"] - 1e-3
    assert score["exact_ml"] > score["lmmse"] and score["exact_ml"] > score["zf_sic"]


# ------------------------------------------------------------------------------------------
# API: types, registry, validation, fallback
# ------------------------------------------------------------------------------------------
def test_numpy_and_torch_io():
    rng = np.random.default_rng(9)
    y, H, nv = rand_case(rng, 5, 2, 2, 2)
    for name in mimo.CLASSICAL:
        a = mimo.detect(name, y, H, nv, 2)
        t = mimo.detect(name, torch.from_numpy(y), torch.from_numpy(H), torch.from_numpy(nv), bits_per_symbol=2)
        assert isinstance(a, np.ndarray) and a.dtype == np.float32
        assert isinstance(t, torch.Tensor) and t.dtype == torch.float32 and t.shape == (5, 4)
        np.testing.assert_allclose(a, t.numpy(), rtol=1e-6, atol=1e-6)
        d = mimo.DETECTORS[name](
            y.astype(np.complex64), H.astype(np.complex64), nv.astype(np.float32), bits_per_symbol=2, dtype="float64"
        )
        assert d.dtype == np.float64
    # scalar noise variance broadcast over the batch
    np.testing.assert_array_equal(mimo.exact_ml(y, H, 0.3, 2), mimo.exact_ml(y, H, np.full(5, 0.3), 2))
    # empty batch
    assert mimo.exact_ml(np.zeros((0, 2), complex), np.zeros((0, 2, 2), complex), np.zeros(0), 2).shape == (0, 4)


def test_registry_and_detect():
    assert set(mimo.CLASSICAL) == {"exact_ml", "maxlog_ml", "zf_sic", "lmmse", "ep"} <= set(mimo.DETECTORS)
    with pytest.raises(ValueError, match="unknown detection method"):
        mimo.detect("sphere", np.zeros((1, 1), complex), np.ones((1, 1, 1), complex), 1.0, 2)
    with pytest.raises(ValueError, match="on_invalid"):
        mimo.detect("lmmse", np.zeros((1, 1), complex), np.ones((1, 1, 1), complex), 1.0, 2, on_invalid="skip")


@pytest.mark.parametrize("name", sorted(mimo.CLASSICAL))
def test_validation_errors(name):
    fn = mimo.DETECTORS[name]
    y, H, nv = np.zeros((3, 2), complex), np.ones((3, 2, 2), complex), np.ones(3)
    with pytest.raises(ValueError, match=r"y must have shape \[B, Nr\]"):
        fn(np.zeros(2, complex), H, nv, 2)
    with pytest.raises(ValueError, match=r"H must have shape \[B, Nr, Nt\]"):
        fn(y, np.ones((3, 4), complex), nv, 2)
    with pytest.raises(ValueError, match=r"H must have shape"):
        fn(y, np.ones((3, 3, 2), complex), nv, 2)  # Nr mismatch
    with pytest.raises(ValueError, match=r"H must have shape"):
        fn(y, np.ones((4, 2, 2), complex), nv, 2)  # B mismatch
    with pytest.raises(ValueError, match="noise_var must be a scalar or have shape"):
        fn(y, H, np.ones(2), 2)
    for bad in (0.0, -0.1, np.nan, np.inf):
        v = nv.copy()
        v[1] = bad
        with pytest.raises(ValueError, match="noise_var must be finite and > 0"):
            fn(y, H, v, 2)
    yb = y.copy()
    yb[2, 1] = np.nan
    with pytest.raises(ValueError, match="y contains non-finite values .*index 2"):
        fn(yb, H, nv, 2)
    Hb = H.copy()
    Hb[0, 1, 1] = np.inf
    with pytest.raises(ValueError, match="H contains non-finite values .*index 0"):
        fn(y, Hb, nv, 2)
    with pytest.raises(ValueError, match="bits_per_symbol"):
        fn(y, H, nv, 3)


def test_bad_channel_uses_and_zero_fallback():
    rng = np.random.default_rng(10)
    y, H, nv = rand_case(rng, 8, 2, 2, 4)
    y[1, 0] = np.nan
    H[3, 1, 0] = np.inf
    nv[5] = 0.0
    nv[6] = np.nan
    mask = mimo.bad_channel_uses(y, H, nv)
    assert mask.dtype == bool
    np.testing.assert_array_equal(np.nonzero(mask)[0], [1, 3, 5, 6])
    tmask = mimo.bad_channel_uses(torch.from_numpy(y), torch.from_numpy(H), torch.from_numpy(nv))
    assert isinstance(tmask, torch.Tensor) and tmask.tolist() == mask.tolist()
    ok = ~mask
    for name in mimo.CLASSICAL:
        with pytest.raises(ValueError):
            mimo.detect(name, y, H, nv, 4)
        out = mimo.detect(name, y, H, nv, 4, on_invalid="zero")
        assert np.all(out[mask] == 0) and np.all(np.isfinite(out))
        np.testing.assert_allclose(out[ok], mimo.detect(name, y[ok], H[ok], nv[ok], 4), rtol=1e-6, atol=1e-5)
