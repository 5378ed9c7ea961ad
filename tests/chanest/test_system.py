"""The pilot model of paper 000 (eq. 5), its real stacking and the MMSE quantities, against
direct constructions and Monte-Carlo."""

import numpy as np
import pytest

from gnuradio.deepquant.chanest import bounds
from gnuradio.deepquant.chanest.system import (
    ChannelSetup,
    complex_to_real,
    h_to_rowmajor,
    pilot_matrix,
    real_to_complex,
    rowmajor_to_h,
)


def test_pilots_are_dft_columns_and_orthogonal():
    phi = pilot_matrix(12, 4)
    dft = np.fft.fft(np.eye(12))  # unnormalised DFT matrix, F[t, u] = exp(-2j pi t u / 12)
    np.testing.assert_allclose(phi, dft[:, :4], atol=1e-12)
    np.testing.assert_allclose(phi.conj().T @ phi, 12 * np.eye(4), atol=1e-12)
    with pytest.raises(ValueError):
        pilot_matrix(3, 4)


def test_sampling_matches_kronecker_model():
    s = ChannelSetup(n_t=3, n_u=2, tau_p=4, snr=2.5)
    rng = np.random.default_rng(1)
    y, h = s.sample_complex(5, rng)
    # rebuild w from the same stream: sample_complex draws h (re, im) then w (re, im)
    rng = np.random.default_rng(1)
    m, q = s.n_u * s.n_t, s.tau_p * s.n_t
    h2 = np.sqrt(0.5) * (rng.standard_normal((5, m)) + 1j * rng.standard_normal((5, m)))
    w2 = np.sqrt(0.5) * (rng.standard_normal((5, q)) + 1j * rng.standard_normal((5, q)))
    np.testing.assert_allclose(h, h2)
    y_ref = np.sqrt(2.5) * h2 @ np.kron(s.phi, np.eye(s.n_t)).T + w2
    np.testing.assert_allclose(y, y_ref, atol=1e-12)
    # real stacking of the operator
    x = complex_to_real(y)
    sr = complex_to_real(h)
    np.testing.assert_allclose(x, np.sqrt(2.5) * sr @ s.real_operator().T + complex_to_real(w2), atol=1e-12)
    np.testing.assert_allclose(real_to_complex(x), y)


def test_covariances_by_monte_carlo():
    s = ChannelSetup(n_t=2, n_u=2, tau_p=3, snr=3.0)
    sr, x = s.sample(200_000, np.random.default_rng(2), dtype=np.float64)
    sx, ssx, ss = s.covariances()
    np.testing.assert_allclose(x.T @ x / len(x), sx, atol=0.05 * sx.max())
    np.testing.assert_allclose(sr.T @ x / len(x), ssx, atol=0.02 * np.abs(ssx).max() + 0.01)
    np.testing.assert_allclose(sr.T @ sr / len(sr), ss, atol=0.01)


def test_mmse_closed_forms():
    s = ChannelSetup()
    sx, ssx, _ = s.covariances()
    np.testing.assert_allclose(s.mmse_matrix(), ssx @ np.linalg.inv(sx), atol=1e-12)
    assert bounds.mmse(s) == pytest.approx(1 / 98)
    assert bounds.mmse_numeric(s) == pytest.approx(bounds.mmse(s), rel=1e-10)
    # the MMSE estimate's covariance is P tau_p / (2 (1 + P tau_p)) I (paper, below eq. 6)
    g = s.mmse_matrix()
    np.testing.assert_allclose(g @ sx @ g.T, 48 / 98 * np.eye(s.k), atol=1e-12)


def test_sizes_and_layout():
    s = ChannelSetup()
    assert (s.n, s.k, s.rho) == (240, 80, 3.0)
    h = np.arange(8) + 1j * np.arange(8)  # n_u = 2, n_t = 4: h[u*4 + a]
    hr = h_to_rowmajor(h, n_t=4, n_u=2)
    H = np.array([[h[u * 4 + a] for u in range(2)] for a in range(4)])
    np.testing.assert_array_equal(hr, H.ravel())
    np.testing.assert_array_equal(rowmajor_to_h(hr, 4, 2), h)
    with pytest.raises(ValueError):
        ChannelSetup(tau_p=2, n_u=4)
    with pytest.raises(ValueError):
        ChannelSetup(snr=0.0)


def test_snr_per_sample():
    s = ChannelSetup(n_t=2, n_u=1, tau_p=2)
    snr = np.array([1.0, 100.0] * 20000)
    _, x = s.sample(len(snr), np.random.default_rng(3), snr=snr, dtype=np.float64)
    p_lo = np.mean(x[0::2] ** 2)
    p_hi = np.mean(x[1::2] ** 2)
    # per real entry: (P * n_u + 1) / 2
    assert p_lo == pytest.approx(1.0, rel=0.03)
    assert p_hi == pytest.approx(50.5, rel=0.03)
