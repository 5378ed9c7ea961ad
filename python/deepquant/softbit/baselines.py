"""Scalar LLR quantizer design for the baselines (numpy; no GNU Radio import).

* Uniform scalar quantizer with ``2^b`` cells on ``[-c, c]`` (mid-rise, the foundation kernel's
  ``make_uniform``), ``c`` chosen on the training data to maximise the mutual information
  ``I(B; Q(L))`` (the "best clipping"; one ``c`` for all bit positions, pooled over SNRs).
* Maximum-mutual-information scalar quantizer per bit position (Winkelbauer & Matz, SPAWC 2015):
  a Lloyd-type alternation on training LLRs between (a) reproduction LLRs ``r_i = logit(p_i)``
  with ``p_i = P(b = 1 | cell i)`` estimated as the mean posterior ``sigmoid(L)`` of the samples in
  the cell (exact LLRs make the posterior known, which is lower-variance than counting bits) and
  (b) boundaries: the boundary between cells i and i+1 is the LLR whose posterior is equally
  far, in Kullback-Leibler divergence, from ``p_i`` and ``p_{i+1}`` — the decision rule that
  maximises ``I(B; Q)`` for fixed reproduction values.  Cells start at sample quantiles; 60
  iterations.
"""
from __future__ import annotations

import numpy as np


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(np.asarray(x, dtype=np.float64) / 2.0))


def _h2(p):
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


def mutual_information(llr: np.ndarray, thresholds: np.ndarray) -> float:
    """``I(B; Q(L))`` in bits for one bit position given exact LLR samples (uniform bits)."""
    idx = np.searchsorted(thresholds, llr, side="right")
    m = len(thresholds) + 1
    post = _sigmoid(llr)
    cnt = np.bincount(idx, minlength=m).astype(np.float64)
    s1 = np.bincount(idx, weights=post, minlength=m)
    pc = cnt / cnt.sum()
    q = np.where(cnt > 0, s1 / np.maximum(cnt, 1), 0.5)
    return float(1.0 - np.sum(pc * _h2(q)))


def uniform_thresholds(c: float, bits: int) -> np.ndarray:
    """Thresholds of the ``2^bits``-cell mid-rise uniform quantizer on ``[-c, c]``."""
    m = 2 ** bits
    step = 2 * c / m
    return -c + step * np.arange(1, m)


def uniform_levels(c: float, bits: int) -> np.ndarray:
    m = 2 ** bits
    step = 2 * c / m
    return -c + step * (np.arange(m) + 0.5)


def best_uniform_clip(llr: np.ndarray, bits: int, grid=None) -> float:
    """Clipping ``c`` maximising the MI summed over bit positions. ``llr`` (n, K)."""
    grid = np.geomspace(0.5, 60.0, 60) if grid is None else grid
    mis = [sum(mutual_information(llr[:, j], uniform_thresholds(c, bits)) for j in range(llr.shape[1]))
           for c in grid]
    return float(grid[int(np.argmax(mis))])


def maxmi_quantizer(llr: np.ndarray, bits: int, iters: int = 60):
    """Max-MI quantizer for one bit position.

    Parameters
    ----------
    llr : numpy.ndarray
        1-D training LLRs of one bit position (``L = ln P1/P0``).
    bits : int
        ``2^bits`` cells.

    Returns
    -------
    thresholds : numpy.ndarray
        float64 ``(2^bits - 1,)`` ascending.
    levels : numpy.ndarray
        float64 ``(2^bits,)`` reproduction LLRs (``logit`` of the cell posterior, clipped to
        ``|r| <= 30``).
    """
    x = np.sort(np.asarray(llr, dtype=np.float64))
    m = 2 ** bits
    post = _sigmoid(x)
    thr = np.quantile(x, np.arange(1, m) / m)
    thr = np.unique(thr)
    for _ in range(iters):
        idx = np.searchsorted(thr, x, side="right")
        mm = len(thr) + 1
        cnt = np.bincount(idx, minlength=mm).astype(np.float64)
        s1 = np.bincount(idx, weights=post, minlength=mm)
        keep = cnt > 0
        q = np.clip(s1[keep] / cnt[keep], 1e-12, 1 - 1e-12)
        if q.size < 2:
            break
        # KL-equidistant posterior between neighbouring reproduction posteriors
        a = np.log((1 - q[:-1]) / (1 - q[1:]))
        bb = np.log(q[1:] / q[:-1])
        with np.errstate(divide="ignore", invalid="ignore"):
            pstar = a / (a + bb)
        pstar = np.clip(np.nan_to_num(pstar, nan=0.5), 1e-12, 1 - 1e-12)
        new_thr = np.log(pstar / (1 - pstar))
        new_thr = np.unique(new_thr)
        if new_thr.size == thr.size and np.allclose(new_thr, thr, rtol=0, atol=1e-9):
            thr = new_thr
            break
        thr = new_thr
    # pad to exactly m-1 thresholds (degenerate data) by splitting the widest inner gap
    while thr.size < m - 1:
        thr = np.sort(np.append(thr, (thr[-1] + 1.0) if thr.size else 0.0))
    idx = np.searchsorted(thr, x, side="right")
    cnt = np.bincount(idx, minlength=m).astype(np.float64)
    s1 = np.bincount(idx, weights=post, minlength=m)
    q = np.where(cnt > 0, s1 / np.maximum(cnt, 1), np.nan)
    lv = np.log(np.clip(q, 1e-13, 1 - 1e-13) / (1 - np.clip(q, 1e-13, 1 - 1e-13)))
    # empty cells: midpoint of their boundaries
    ext = np.concatenate([[thr[0] - 1.0], thr, [thr[-1] + 1.0]])
    mid = (ext[:-1] + ext[1:]) / 2
    lv = np.where(np.isfinite(lv), lv, mid)
    return thr, np.clip(lv, -30.0, 30.0)
