"""Error-rate statistics for Monte-Carlo results (numpy/scipy only)."""

from __future__ import annotations

import numpy as np


def clopper_pearson(errors, trials, confidence: float = 0.95):
    """Exact (Clopper-Pearson) two-sided confidence interval of a binomial error rate.

    Parameters
    ----------
    errors, trials : int or array_like of int
        Observed errors k and trials n (0 <= k <= n).
    confidence : float
        Coverage, e.g. 0.95.

    Returns
    -------
    (lo, hi) : float or numpy.ndarray
        ``lo = B(a/2; k, n-k+1)``, ``hi = B(1-a/2; k+1, n-k)`` with ``B`` the beta quantile and
        ``a = 1 - confidence``; ``lo = 0`` when k = 0, ``hi = 1`` when k = n; NaN when n = 0.
        The interval assumes independent trials: codewords of one packet share its channel and
        a lost packet loses all of them, so for FER per codeword it is a lower bound on the
        real uncertainty.
    """
    from scipy.stats import beta

    k = np.asarray(errors, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    if np.any(k < 0) or np.any(k > n):
        raise ValueError("clopper_pearson: need 0 <= errors <= trials")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"clopper_pearson: confidence must be in (0, 1), got {confidence}")
    a = 1.0 - confidence
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(k > 0, beta.ppf(a / 2, np.maximum(k, 1e-300), n - k + 1), 0.0)
        hi = np.where(k < n, beta.ppf(1 - a / 2, k + 1, np.maximum(n - k, 1e-300)), 1.0)
    lo = np.where(n > 0, lo, np.nan)
    hi = np.where(n > 0, hi, np.nan)
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi
