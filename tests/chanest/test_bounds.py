"""Bounds and model-based baselines against independent references (closed forms from the papers,
Monte-Carlo with numpy, the arcsine law)."""

import numpy as np
import pytest

from gnuradio.deepquant import quantization as Q
from gnuradio.deepquant.chanest import bounds as B
from gnuradio.deepquant.chanest.system import ChannelSetup

S = ChannelSetup()


def test_eta_opt_eq7_and_ratio_to_scalar_limit():
    # eq. (7) by hand at R = 1/3: 1/98 + 48/98 * 2^(-2*3/3)
    assert B.eta_opt(S, 1 / 3) == pytest.approx(1 / 98 + 48 / 98 / 4)
    np.testing.assert_allclose(B.eta_opt(S, np.array([0.0, 100.0])), [0.5, 1 / 98], rtol=1e-12)
    # the issue: the scalar-ADC limit sits 1.2-1.7x above eta_opt for R in [0.33, 1.4]
    for m in (2, 3, 4, 6, 8, 12, 18):
        r = B.rate_of(m, 80, 240)
        assert 1.15 < B.scalar_adc_limit(S, m) / B.eta_opt(S, r) < 1.75


def test_lloyd_max_distortion_known_values():
    # Max (1960): D(2) = 1 - 2/pi, D(4) = 0.1175
    assert B.lloyd_max_distortion(2) == pytest.approx(1 - 2 / np.pi, rel=1e-9)
    assert B.lloyd_max_distortion(4) == pytest.approx(0.11748, abs=2e-5)


def test_scalar_adc_limit_by_monte_carlo():
    """Lloyd-Max ADCs on the normalised MMSE estimate, then rescale: the limit is achieved."""
    m = 3
    rng = np.random.default_rng(5)
    s, x = S.sample(20000, rng, dtype=np.float64)
    st = x @ S.mmse_matrix().T
    sd = np.sqrt(48 / 98)
    thr, lev, _ = Q.lloyd_max_gaussian(m)
    q = lev[np.searchsorted(thr, st / sd, side="right")] * sd
    mse = np.mean((s - q) ** 2)
    assert mse == pytest.approx(B.scalar_adc_limit(S, m), rel=0.02)


def test_levels_for_rate():
    assert B.levels_for_rate(1 / 3, 80, 240) == 2
    assert B.levels_for_rate(0.33, 80, 240) == 2
    assert B.levels_for_rate(1.0, 80, 240) == 8
    assert B.levels_for_rate(1.39, 80, 240) == 18
    assert B.levels_for_rate(2.0, 240, 240) == 4
    with pytest.raises(ValueError):
        B.levels_for_rate(0.0, 80, 240)


def test_equal_diagonal_rotation():
    rng = np.random.default_rng(0)
    for p in (1, 2, 5, 17):
        lam = rng.exponential(size=p)
        u = B.equal_diagonal_rotation(lam)
        np.testing.assert_allclose(u @ u.T, np.eye(p), atol=1e-10)
        d = np.diag(u @ np.diag(lam) @ u.T)
        np.testing.assert_allclose(d, lam.mean(), atol=1e-9)


def test_sc_closed_form_equal_eigenvalues():
    """p = k, all estimate eigenvalues equal (this setup): eta_sc = eta~ + v kappa / (1 + kappa),
    kappa = 2 eta^2 / (3 M^2)."""
    for m, eta in ((2, 2.0), (8, 2.0), (5, 3.0)):
        kappa = 2 * eta**2 / (3 * m * m)
        ref = 1 / 98 + 48 / 98 * kappa / (1 + kappa)
        assert B.eta_sc(S, m, eta=eta) == pytest.approx(ref, rel=1e-9)


def test_sc_design_structure_and_dithered_monte_carlo():
    """The design's MSE formula against a simulation of non-subtractive dithered uniform ADCs.

    (Small setup, wide range eta = 4 so overload is negligible, as the dithered model assumes.)"""
    s = ChannelSetup(n_t=2, n_u=2, tau_p=3, snr=2.0)
    sx, ssx, ss = s.covariances()
    d = B.sc_design(sx, ssx, ss, p=4, num_levels=4, eta=4.0)
    cz = d.A @ sx @ d.A.T
    np.testing.assert_allclose(np.diag(cz), np.diag(cz).mean(), rtol=1e-9)  # equal ADC powers
    assert d.gamma == pytest.approx(4.0 * np.sqrt(np.diag(cz).max()))
    rng = np.random.default_rng(9)
    sr, x = s.sample(400000, rng, dtype=np.float64)
    z = x @ d.A.T
    delta = 2 * d.gamma / 4
    dither = rng.uniform(-delta / 2, delta / 2, z.shape)
    idx = np.clip(np.floor((z + dither + d.gamma) / delta), 0, 3)
    q = -d.gamma + (idx + 0.5) * delta
    mse = np.mean(np.sum((sr - q @ d.B.T) ** 2, axis=1)) / s.k
    assert mse == pytest.approx(d.predicted_mse, rel=0.03)


def test_sc_noisy_snr_is_worse_and_zero_noise_is_exact():
    assert B.eta_sc_noisy(S, 8, snr_var_factor=1e-12, quantiles=5) == pytest.approx(B.eta_sc(S, 8), rel=1e-6)
    assert B.eta_sc_noisy(S, 8, quantiles=40) > B.eta_sc(S, 8)


def test_quantized_correlation_arcsine_law_and_monte_carlo():
    t, lv = np.array([0.0]), np.array([-1.0, 1.0])
    for r in (-0.9, -0.3, 0.0, 0.5, 0.95, 1.0):
        assert B.quantized_correlation(r, t, lv) == pytest.approx(2 / np.pi * np.arcsin(r), abs=1e-6)
    thr, lev = Q.uniform_quantizer(-2, 2, 4)
    rng = np.random.default_rng(4)
    r = 0.6
    a = rng.standard_normal(400000)
    b = r * a + np.sqrt(1 - r * r) * rng.standard_normal(400000)
    mc = np.mean(lev[np.searchsorted(thr, a, "right")] * lev[np.searchsorted(thr, b, "right")])
    assert B.quantized_correlation(r, thr, lev) == pytest.approx(mc, abs=0.01)


def test_blmmse_equals_one_bit_uniform_lmmse_and_monte_carlo():
    s = ChannelSetup(n_t=2, n_u=2, tau_p=4, snr=4.0)
    val = B.blmmse(s)
    assert B.uniform_lmmse(s, 2) == pytest.approx(val, rel=1e-6)
    # empirical LMMSE from sign(x) (covariances estimated on one set, MSE on another)
    rng = np.random.default_rng(6)
    sr, x = s.sample(200000, rng, dtype=np.float64)
    q = np.sign(x)
    w = np.linalg.solve(q.T @ q, q.T @ sr).T
    st, xt = s.sample(100000, rng, dtype=np.float64)
    mc = np.mean((st - np.sign(xt) @ w.T) ** 2)
    assert mc == pytest.approx(val, rel=0.02)
    # paper setup: BLMMSE at R = 1 is worse than the scalar-ADC limit at R = 1 (M = 8)
    assert B.blmmse(S) > B.scalar_adc_limit(S, 8)


def test_uniform_lmmse_multibit_monte_carlo():
    s = ChannelSetup(n_t=2, n_u=2, tau_p=4, snr=4.0)
    w, thr, lev, mse = B.uniform_lmmse_matrices(s, 3)
    rng = np.random.default_rng(8)
    st, xt = s.sample(200000, rng, dtype=np.float64)
    q = lev[np.searchsorted(thr, xt, side="right")]
    assert np.mean((st - q @ w.T) ** 2) == pytest.approx(mse, rel=0.02)
    assert mse < B.blmmse(s)
