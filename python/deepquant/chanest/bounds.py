"""Performance limits and model-based baselines for quantized MIMO channel estimation (numpy/scipy).

Every function returns the *average* MSE per real unknown, ``eta = E||s - s_hat||^2 / k`` (each
entry of s has variance 1/2), for the model of :mod:`.system`.

Closed form (or deterministic numerical integration) everywhere:

* :func:`mmse` -- no quantization, ``eta~ = 1 / (2 (1 + P tau_p))``.
* :func:`eta_opt` -- indirect rate-distortion bound, eq. (7) of paper 000:
  ``eta~ + P tau_p / (2 (1 + P tau_p)) * 2^(-2 rho R)``.
* :func:`scalar_adc_limit` -- the best that p = k identical scalar ADCs with M levels can do:
  quantize each (i.i.d. Gaussian) entry of the MMSE estimate with the Lloyd-Max quantizer,
  ``eta~ + P tau_p / (2 (1 + P tau_p)) * D(M)``, D(M) computed by
  :func:`gnuradio.deepquant.quantization.lloyd_max_gaussian`.
* :func:`sc_design` / :func:`eta_sc` / :func:`eta_sc_noisy` -- the hardware-limited task-based
  quantizer of Shlezinger, Eldar & Rodrigues (IEEE TSP 2019, "eta_sc" in paper 000), with the true
  SNR and with a noisy SNR estimate.
* :func:`blmmse` -- the Bussgang LMMSE of Li et al. (IEEE TSP 2017, eq. 15) for 1-bit ADCs on
  every observation (R = 1), via the arcsine law.
* :func:`uniform_lmmse` -- task-ignorant b-bit (any M) uniform ADCs on every observation followed
  by the LMMSE estimate from the quantized data; the quantized-data correlations are computed by
  bivariate-normal integration over the quantizer cells (it reduces to :func:`blmmse` for M = 2).

Choices the papers leave open (documented here, used everywhere):

* Hardware-limited quantizer: the dynamic range is ``gamma = eta * max_i std((A x)_i)`` with
  ``eta = 2`` by default (paper 000 does not restate it), and the quantization error is the
  non-subtractive dithered-quantizer model of SER: uncorrelated with the input, variance
  ``Delta^2 / 6 = 2 gamma^2 / (3 M^2)``, ``Delta = 2 gamma / M``.
* Noisy SNR: the design uses ``P_hat ~ N(P, P/4)``; the expectation over P_hat is taken by the
  midpoint rule over ``J`` equiprobable quantiles (default 200; P_hat <= 0 has probability 3e-5 and
  is never reached by those quantiles).  The dynamic range and the digital matrix are the ones the
  design computes for P_hat; the MSE is evaluated under the true statistics (same noise model).
* Task-ignorant ADCs: the range of each ADC is the MSE-optimal uniform range for the Gaussian
  marginal of its observation (:func:`~gnuradio.deepquant.quantization.optimal_uniform_range`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from .. import quantization as _q
from .system import ChannelSetup

__all__ = [
    "rate_of",
    "levels_for_rate",
    "mmse",
    "mmse_numeric",
    "eta_opt",
    "lloyd_max_distortion",
    "scalar_adc_limit",
    "SCDesign",
    "sc_design",
    "sc_mse",
    "eta_sc",
    "eta_sc_noisy",
    "equal_diagonal_rotation",
    "blmmse",
    "quantized_correlation",
    "uniform_lmmse",
]


# ---------------------------------------------------------------------------------------------
# rates
# ---------------------------------------------------------------------------------------------
def rate_of(num_levels: int, p: int, n: int) -> float:
    """Quantization rate ``R = p log2(M) / n`` (ADC bits per real observation)."""
    return float(p * np.log2(num_levels) / n)


def levels_for_rate(rate: float, p: int, n: int) -> int:
    """The number of ADC levels M >= 2 whose rate ``p log2(M) / n`` is nearest to ``rate``.

    The paper's rule ``M = floor(2^(R n / p))`` is fragile at the grid points (R = 0.33 -> M = 1);
    the nearest rate is used instead, and callers report the rate actually spent.
    """
    if not (np.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be positive and finite, got {rate}")
    m0 = max(2, int(np.floor(2.0 ** (rate * n / p))))
    cands = [m for m in (m0 - 1, m0, m0 + 1) if m >= 2]
    return min(cands, key=lambda m: (abs(rate_of(m, p, n) - rate), m))


# ---------------------------------------------------------------------------------------------
# bounds
# ---------------------------------------------------------------------------------------------
def mmse(setup: ChannelSetup) -> float:
    """MMSE without quantization, ``1 / (2 (1 + P tau_p))``."""
    return 1.0 / (2.0 * (1.0 + setup.snr * setup.tau_p))


def _estimate_variance(setup: ChannelSetup) -> float:
    """Variance of each entry of the MMSE estimate, ``P tau_p / (2 (1 + P tau_p))``."""
    pt = setup.snr * setup.tau_p
    return pt / (2.0 * (1.0 + pt))


def mmse_numeric(setup: ChannelSetup) -> float:
    """``tr(Sigma_s - Sigma_sx Sigma_x^-1 Sigma_xs) / k`` from the matrices (checks :func:`mmse`)."""
    sx, ssx, ss = setup.covariances()
    return float(np.trace(ss - ssx @ np.linalg.solve(sx, ssx.T)) / setup.k)


def eta_opt(setup: ChannelSetup, rate) -> np.ndarray | float:
    """Indirect rate-distortion bound, eq. (7): ``eta~ + var * 2^(-2 rho R)``."""
    r = np.asarray(rate, dtype=np.float64)
    out = mmse(setup) + _estimate_variance(setup) * 2.0 ** (-2.0 * setup.rho * r)
    return float(out) if out.ndim == 0 else out


def lloyd_max_distortion(num_levels: int) -> float:
    """D(M): MSE of the Lloyd-Max quantizer of a unit-variance Gaussian with M levels."""
    return _q.lloyd_max_gaussian(int(num_levels))[2]


def scalar_adc_limit(setup: ChannelSetup, num_levels: int) -> float:
    """``eta~ + P tau_p / (2 (1 + P tau_p)) * D(M)`` -- p = k identical M-level scalar ADCs."""
    return mmse(setup) + _estimate_variance(setup) * lloyd_max_distortion(num_levels)


# ---------------------------------------------------------------------------------------------
# Shlezinger-Eldar-Rodrigues hardware-limited task-based quantizer
# ---------------------------------------------------------------------------------------------
def equal_diagonal_rotation(eigvals: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """Real orthogonal U (p, p) such that ``U diag(eigvals) U^T`` has a constant diagonal.

    Exists by the Schur-Horn theorem; built from Givens rotations, each of which sets one
    diagonal entry to the mean and never touches it again (at most p - 1 rotations).
    """
    lam = np.asarray(eigvals, dtype=np.float64)
    p = lam.shape[0]
    s = np.diag(lam)
    u = np.eye(p)
    m = lam.mean()
    for _ in range(p):
        d = np.diag(s)
        hi = np.where(d > m + tol * max(1.0, abs(m)))[0]
        lo = np.where(d < m - tol * max(1.0, abs(m)))[0]
        if hi.size == 0 or lo.size == 0:
            break
        i, j = hi[0], lo[0]
        a, b, c = s[i, i], s[j, j], s[i, j]
        # rotated (i,i) entry: a cos^2 + b sin^2 + 2 c sin cos  == m ; solve in t = tan(theta)
        # (a - m) + 2 c t + (b - m) t^2 = 0 ; real roots exist since a > m > b.
        roots = np.roots([b - m, 2.0 * c, a - m])
        t = float(np.real(roots[np.argmin(np.abs(np.imag(roots)))]))
        cs = 1.0 / np.sqrt(1.0 + t * t)
        sn = t * cs
        g = np.eye(p)
        g[i, i], g[i, j], g[j, i], g[j, j] = cs, sn, -sn, cs
        s = g @ s @ g.T
        u = g @ u
    return u  # U diag U^T == (g_r..g_1) diag (g_r..g_1)^T


@dataclass
class SCDesign:
    """A hardware-limited task-based quantizer ``s_hat = B Q_unif(A x)``.

    Attributes
    ----------
    A : ndarray (p, n)
        Analog combiner.
    B : ndarray (k, p)
        Digital (LMMSE) matrix.
    gamma : float
        ADC dynamic range: M-level uniform mid-rise quantizer on ``[-gamma, gamma]``.
    num_levels : int
    noise_var : float
        Quantization-noise variance of the dithered model, ``2 gamma^2 / (3 M^2)``.
    predicted_mse : float
        The design's MSE under its own statistics (dithered model).
    """

    A: np.ndarray
    B: np.ndarray
    gamma: float
    num_levels: int
    noise_var: float
    predicted_mse: float


def sc_design(
    sigma_x: np.ndarray, sigma_sx: np.ndarray, sigma_s: np.ndarray, p: int, num_levels: int, eta: float = 2.0
) -> SCDesign:
    """Hardware-limited task-based quantizer (SER, Theorem 2 with linear recovery) from statistics.

    Derivation used (self-contained): with ``x_w = Sigma_x^{-1/2} x`` and
    ``G = Gamma Sigma_x^{1/2}`` (``Gamma = Sigma_sx Sigma_x^{-1}``), any combiner is
    ``A = U Lambda V^T Sigma_x^{-1/2}``; the optimal V are the leading right singular vectors of G
    (eigenvalues mu_i of the MMSE-estimate covariance), U equalises the diagonal of
    ``A Sigma_x A^T = U Lambda^2 U^T`` (so the common dynamic range fits every ADC), and the gains
    follow the water-filling ``lambda_i^2 = (sqrt(mu_i / zeta) - 1)^+`` with
    ``sum lambda_i^2 = 3 p M^2 / (2 eta^2)`` (noise variance normalised to 1).

    Parameters
    ----------
    sigma_x : (n, n), sigma_sx : (k, n), sigma_s : (k, k)
        Second-order statistics.
    p : int
        Number of ADCs (1 <= p <= k).
    num_levels : int
        M >= 2 levels per ADC.
    eta : float
        Dynamic range in standard deviations of the ADC input.
    """
    k, n = sigma_sx.shape
    if not 1 <= p <= k:
        raise ValueError(f"sc_design needs 1 <= p <= k = {k}, got p={p}")
    m = int(num_levels)
    gamma_mat = np.linalg.solve(sigma_x, sigma_sx.T).T  # Sigma_sx Sigma_x^-1, (k, n)
    cov_est = gamma_mat @ sigma_sx.T  # Gamma Sigma_x Gamma^T
    mu, ug = np.linalg.eigh(0.5 * (cov_est + cov_est.T))
    order = np.argsort(mu)[::-1]
    mu, ug = np.clip(mu[order], 0.0, None), ug[:, order]
    mu_p = mu[:p]
    kappa = 2.0 * eta * eta / (3.0 * m * m)  # noise var / mean ADC-input power
    budget = p / kappa  # sum lambda^2 with noise var = 1

    def total(zeta):
        return np.sum(np.clip(np.sqrt(mu_p / zeta) - 1.0, 0.0, None))

    pos = mu_p > 0
    if not pos.any():
        raise ValueError("the MMSE estimate is identically zero; nothing to quantize")
    lo_z, hi_z = 1e-300, float(mu_p.max())  # total(hi) = 0 <= budget
    for _ in range(400):  # bisection in log(zeta)
        mid = np.sqrt(lo_z * hi_z) if lo_z > 0 else hi_z / 2
        if total(mid) > budget:
            lo_z = mid
        else:
            hi_z = mid
        if hi_z / lo_z < 1 + 1e-14:
            break
    zeta = 0.5 * (lo_z + hi_z)
    lam2 = np.clip(np.sqrt(mu_p / zeta) - 1.0, 0.0, None)
    lam2 *= budget / lam2.sum()  # exact budget after bisection
    gains = np.where(pos, np.sqrt(lam2) / np.sqrt(np.where(pos, mu_p, 1.0)), 0.0)
    u = equal_diagonal_rotation(lam2)
    a = u @ (gains[:, None] * (ug[:, :p].T @ gamma_mat))  # (p, n)
    cov_z = a @ sigma_x @ a.T
    gamma = float(eta * np.sqrt(np.max(np.diag(cov_z))))
    noise_var = 2.0 * gamma * gamma / (3.0 * m * m)
    b = (sigma_sx @ a.T) @ np.linalg.inv(cov_z + noise_var * np.eye(p))
    design = SCDesign(A=a, B=b, gamma=gamma, num_levels=m, noise_var=noise_var, predicted_mse=0.0)
    design.predicted_mse = sc_mse(design, sigma_x, sigma_sx, sigma_s)
    return design


def sc_mse(design: SCDesign, sigma_x: np.ndarray, sigma_sx: np.ndarray, sigma_s: np.ndarray) -> float:
    """MSE of a fixed design under (possibly different) true statistics, dithered-noise model.

    ``E||s - B(Ax + e)||^2 / k`` with e white, variance ``design.noise_var`` (set by the design's
    own dynamic range), uncorrelated with x and s.
    """
    a, b = design.A, design.B
    k = sigma_s.shape[0]
    cov_z = a @ sigma_x @ a.T + design.noise_var * np.eye(a.shape[0])
    val = np.trace(sigma_s) - 2.0 * np.trace(b @ a @ sigma_sx.T) + np.trace(b @ cov_z @ b.T)
    return float(val / k)


def eta_sc(setup: ChannelSetup, num_levels: int, p: int | None = None, eta: float = 2.0) -> float:
    """eta_sc with the true SNR: the SER design's MSE (dithered model)."""
    sx, ssx, ss = setup.covariances()
    return sc_design(sx, ssx, ss, setup.k if p is None else p, num_levels, eta).predicted_mse


def eta_sc_noisy(
    setup: ChannelSetup,
    num_levels: int,
    p: int | None = None,
    eta: float = 2.0,
    snr_var_factor: float = 0.25,
    quantiles: int = 200,
) -> float:
    """eta_sc when the design uses a noisy SNR ``P_hat ~ N(P, snr_var_factor * P)``.

    The expectation over P_hat uses the midpoint rule on ``quantiles`` equiprobable quantiles.
    """
    p_true = setup.snr
    sx, ssx, ss = setup.covariances()
    q = stats.norm.ppf((np.arange(quantiles) + 0.5) / quantiles)
    p_hats = p_true + np.sqrt(snr_var_factor * p_true) * q
    if np.any(p_hats <= 0):
        raise ValueError("noisy SNR quantiles reach P_hat <= 0; use fewer quantiles or less noise")
    vals = []
    for ph in p_hats:
        d = sc_design(*setup.covariances(ph), setup.k if p is None else p, num_levels, eta)
        vals.append(sc_mse(d, sx, ssx, ss))
    return float(np.mean(vals))


# ---------------------------------------------------------------------------------------------
# task-ignorant ADCs on every observation + LMMSE
# ---------------------------------------------------------------------------------------------
def blmmse(setup: ChannelSetup) -> float:
    """MSE of the Bussgang LMMSE estimator from 1-bit observations (Li et al. 2017, eq. 15).

    Real form: ``q = sign(x)``, ``E[q q^T] = (2/pi) arcsin(D^-1/2 Sigma_x D^-1/2)``,
    ``E[s q^T] = sqrt(2/pi) Sigma_sx D^-1/2``; MSE = ``tr(Sigma_s - C_sq C_q^-1 C_qs) / k``.
    """
    sx, ssx, ss = setup.covariances()
    dinv = 1.0 / np.sqrt(np.diag(sx))
    corr = np.clip(sx * dinv[:, None] * dinv[None, :], -1.0, 1.0)
    cq = (2.0 / np.pi) * np.arcsin(corr)
    csq = np.sqrt(2.0 / np.pi) * ssx * dinv[None, :]
    return float(np.trace(ss - csq @ np.linalg.solve(cq, csq.T)) / setup.k)


def quantized_correlation(r: float, thresholds: np.ndarray, levels: np.ndarray) -> float:
    """``E[Q(X) Q(Y)]`` for a standard bivariate normal (X, Y) with correlation r.

    Cell probabilities by inclusion-exclusion of the bivariate normal CDF on the threshold grid.
    """
    t = np.asarray(thresholds, dtype=np.float64)
    lv = np.asarray(levels, dtype=np.float64)
    if abs(r) >= 1.0 - 1e-12:
        # degenerate: Y = sign(r) X
        edges = np.concatenate([[-np.inf], t, [np.inf]])
        pcell = np.diff(special.ndtr(edges))
        if r > 0:
            return float(np.sum(lv * lv * pcell))
        # Y = -X: Q(-X) for a symmetric quantizer; integrate on a fine grid otherwise
        xs = np.linspace(-9, 9, 200001)
        w = np.exp(-0.5 * xs * xs) / np.sqrt(2 * np.pi) * (xs[1] - xs[0])
        qa = lv[np.searchsorted(t, xs, side="right")]
        qb = lv[np.searchsorted(t, -xs, side="right")]
        return float(np.sum(qa * qb * w))
    big = 12.0
    e = np.concatenate([[-big], np.clip(t, -big, big), [big]])
    mvn = stats.multivariate_normal(mean=[0.0, 0.0], cov=[[1.0, r], [r, 1.0]])
    gx, gy = np.meshgrid(e, e, indexing="ij")
    cdf = mvn.cdf(np.stack([gx.ravel(), gy.ravel()], axis=1)).reshape(gx.shape)
    cell = cdf[1:, 1:] - cdf[:-1, 1:] - cdf[1:, :-1] + cdf[:-1, :-1]
    return float(lv @ np.clip(cell, 0.0, None) @ lv)


def _uniform_adc(num_levels: int, sigma: float):
    a = _q.optimal_uniform_range(num_levels, sigma)
    return _q.uniform_quantizer(-a, a, num_levels)


def uniform_lmmse_matrices(setup: ChannelSetup, num_levels: int):
    """LMMSE estimator from M-level uniform ADC outputs on every observation.

    Returns
    -------
    w : ndarray (k, n)
        ``s_hat = w q``, q the quantized observations (levels of the ADC below).
    thresholds, levels : ndarray
        The ADC (same for every observation: all have the same variance in this model).
    mse : float
        Its average MSE, ``tr(Sigma_s - C_sq C_q^-1 C_qs) / k``.
    """
    sx, ssx, ss = setup.covariances()
    var = np.diag(sx)
    if np.ptp(var) > 1e-9 * var.max():
        raise ValueError("uniform_lmmse assumes equal observation variances (true for DFT pilots)")
    sig = float(np.sqrt(var[0]))
    thr, lev = _uniform_adc(num_levels, sig)
    tn, ln = thr / sig, lev / sig  # normalised quantizer for unit variance
    corr = np.clip(sx / var[0], -1.0, 1.0)
    # distinct correlation values (the Kronecker structure leaves few)
    key = np.round(corr, 12)
    uniq, inv = np.unique(key, return_inverse=True)
    vals = np.array([quantized_correlation(float(r), tn, ln) for r in uniq])
    cq = vals[inv].reshape(corr.shape) * var[0]  # back to the ADC's levels
    # Bussgang: E[s Q(x_i)] = Sigma_{s x_i} E[x_i Q(x_i)] / var_i
    edges = np.concatenate([[-np.inf], tn, [np.inf]])
    phi = np.exp(-0.5 * np.square(edges)) / np.sqrt(2 * np.pi)
    exq = float(np.sum(ln * (phi[:-1] - phi[1:]))) * var[0]  # E[x Q(x)] at scale sig
    csq = ssx * (exq / var[0])
    w = np.linalg.solve(cq, csq.T).T
    mse_val = float(np.trace(ss - w @ csq.T) / setup.k)
    return w, thr, lev, mse_val


def uniform_lmmse(setup: ChannelSetup, num_levels: int) -> float:
    """Task-ignorant: M-level uniform ADCs on every observation + LMMSE (rate log2 M)."""
    return uniform_lmmse_matrices(setup, num_levels)[3]
