"""Scalar-quantizer design and closed-form distortion for Gaussian inputs (numpy/scipy only).

These are the references the learned quantizers of the module are measured against:

* :func:`gaussian_distortion` -- exact MSE of any scalar quantizer on N(0, sigma^2) input,
  from the closed-form truncated-Gaussian moments (no Monte-Carlo).
* :func:`uniform_quantizer` / :func:`optimal_uniform_range` -- the uniform mid-rise quantizer
  of the C++ kernel's fast path and its MSE-optimal clipping range.
* :func:`lloyd_max_gaussian` -- the Lloyd-Max (MSE-optimal) quantizer of a Gaussian with any
  number of levels M >= 1, computed by the Lloyd iteration on the exact density.

Thresholds follow the kernel's rule: a sample equal to a threshold belongs to the upper cell.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special

__all__ = [
    "gaussian_distortion",
    "uniform_quantizer",
    "optimal_uniform_range",
    "lloyd_max_gaussian",
]


def _phi(x):
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.exp(-0.5 * np.square(x)) / np.sqrt(2.0 * np.pi)
    return np.where(np.isinf(x), 0.0, out)


def _cell_moments(a, b):
    """P, E[x 1_cell], E[x^2 1_cell] of a standard normal over cells [a, b)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    p = special.ndtr(b) - special.ndtr(a)
    m1 = _phi(a) - _phi(b)
    with np.errstate(invalid="ignore"):
        ta = np.where(np.isinf(a), 0.0, a * _phi(a))
        tb = np.where(np.isinf(b), 0.0, b * _phi(b))
    m2 = p + ta - tb
    return p, m1, m2


def gaussian_distortion(thresholds, levels, sigma: float = 1.0) -> float:
    """Exact mean squared error E[(x - Q(x))^2] of a scalar quantizer for x ~ N(0, sigma^2).

    Parameters
    ----------
    thresholds : array_like, shape (M-1,)
        Sorted decision thresholds.
    levels : array_like, shape (M,)
        Reconstruction levels, lowest cell first.
    sigma : float
        Standard deviation of the Gaussian input.

    Returns
    -------
    float
        The distortion (same units as sigma^2).
    """
    t = np.asarray(thresholds, dtype=np.float64) / sigma
    lv = np.asarray(levels, dtype=np.float64) / sigma
    if lv.shape[0] != t.shape[0] + 1:
        raise ValueError(f"need len(levels) == len(thresholds) + 1, got {lv.shape[0]} and {t.shape[0]}")
    edges = np.concatenate([[-np.inf], t, [np.inf]])
    p, m1, m2 = _cell_moments(edges[:-1], edges[1:])
    return float(np.sum(m2 - 2.0 * lv * m1 + lv * lv * p) * sigma**2)


def uniform_quantizer(lo: float, hi: float, num_levels: int):
    """Thresholds (M-1,) and levels (M,) of the uniform mid-rise quantizer on [lo, hi].

    Level i is ``lo + (i + 0.5) * (hi - lo) / M``; thresholds are the cell edges inside the range.
    This is the design of ``scalar_quantizer.make_uniform`` (whose reported thresholds are the
    nearest float32 switching points of its arithmetic).
    """
    if not hi > lo:
        raise ValueError(f"need lo < hi, got [{lo}, {hi}]")
    if num_levels < 1:
        raise ValueError("num_levels must be >= 1")
    delta = (hi - lo) / num_levels
    levels = lo + (np.arange(num_levels) + 0.5) * delta
    thresholds = lo + np.arange(1, num_levels) * delta
    return thresholds, levels


def optimal_uniform_range(num_levels: int, sigma: float = 1.0) -> float:
    """Full-scale A minimising the MSE of the uniform quantizer on [-A, A] for N(0, sigma^2)."""
    if num_levels == 1:
        return sigma

    def mse(a):
        return gaussian_distortion(*uniform_quantizer(-a, a, num_levels), sigma=sigma)

    res = optimize.minimize_scalar(
        mse, bounds=(0.05 * sigma, 12.0 * sigma), method="bounded", options={"xatol": 1e-7 * sigma}
    )
    return float(res.x)


def lloyd_max_gaussian(num_levels: int, sigma: float = 1.0, tol: float = 1e-12, max_iter: int = 100000):
    """MSE-optimal (Lloyd-Max) scalar quantizer of N(0, sigma^2) with ``num_levels`` levels.

    Alternates the two optimality conditions on the exact density: thresholds at the midpoints
    of adjacent levels, levels at the centroids (conditional means) of their cells, starting
    from the optimal uniform quantizer.

    Returns
    -------
    thresholds : ndarray, shape (M-1,)
    levels : ndarray, shape (M,)
    distortion : float
        Its MSE (for sigma = 1 this is the D(M) of the channel-estimation bounds).
    """
    m = int(num_levels)
    if m < 1:
        raise ValueError("num_levels must be >= 1")
    if m == 1:
        return np.zeros(0), np.zeros(1), float(sigma**2)
    a = optimal_uniform_range(m, 1.0)
    t, lv = uniform_quantizer(-a, a, m)
    for _ in range(max_iter):
        edges = np.concatenate([[-np.inf], t, [np.inf]])
        p, m1, _ = _cell_moments(edges[:-1], edges[1:])
        new_lv = m1 / np.maximum(p, 1e-300)
        new_t = 0.5 * (new_lv[:-1] + new_lv[1:])
        done = np.max(np.abs(new_lv - lv)) < tol
        t, lv = new_t, new_lv
        if done:
            break
    d = gaussian_distortion(t, lv)
    return t * sigma, lv * sigma, d * sigma**2
