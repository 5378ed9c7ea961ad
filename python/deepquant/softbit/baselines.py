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
    m = 2**bits
    step = 2 * c / m
    return -c + step * np.arange(1, m)


def uniform_levels(c: float, bits: int) -> np.ndarray:
    m = 2**bits
    step = 2 * c / m
    return -c + step * (np.arange(m) + 0.5)


def best_uniform_clip(llr: np.ndarray, bits: int, grid=None) -> float:
    """Clipping ``c`` maximising the MI summed over bit positions. ``llr`` (n, K)."""
    grid = np.geomspace(0.5, 60.0, 60) if grid is None else grid
    mis = [sum(mutual_information(llr[:, j], uniform_thresholds(c, bits)) for j in range(llr.shape[1])) for c in grid]
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
    m = 2**bits
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


# ---------------------------------------------------------------------------------------------
# Optimal max-MI quantizer of one bit position by dynamic programming (Kurkoski & Yagi,
# "Quantization of binary-input discrete memoryless channels", IEEE Trans. Inf. Theory 2014):
# for a binary input the MI-optimal quantizer of a (pre-quantized) output has cells that are
# contiguous in the order of the output's posterior, i.e. of the LLR, so the best M cells out of
# N fine bins sorted by LLR are found exactly by a dynamic program over cell boundaries.
DP_FINE_BINS = 512


def _cell_cost(w: np.ndarray, s1: np.ndarray) -> np.ndarray:
    """``w * h2(s1 / w)`` (the weight of a cell times its conditional entropy of the bit)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(w > 0, s1 / np.where(w > 0, w, 1.0), 0.5)
    return w * _h2(q)


def maxmi_dp(llr: np.ndarray, cells: int, fine: int = DP_FINE_BINS, polish: int = 20):
    """Max-MI scalar quantizer of one bit position with ``cells`` cells: the Kurkoski-Yagi
    dynamic program on ``fine`` quantile bins of the training LLRs (globally optimal for that
    pre-quantization), then ``polish`` iterations of the Winkelbauer-Matz alternation
    (:func:`maxmi_quantizer`'s update, which can only raise the training MI) to move the
    boundaries off the fine grid.

    Parameters
    ----------
    llr : numpy.ndarray
        1-D training LLRs (``L = ln P1/P0``) of one bit position; their posteriors
        ``sigmoid(L)`` are the exact ``P(b = 1 | y)`` (uniform bits).
    cells : int
        Number of cells ``M >= 2``.
    fine : int
        Fine bins of the pre-quantization (equal-count bins of the sorted samples).

    Returns
    -------
    thresholds : numpy.ndarray
        float64 ``(M - 1,)`` ascending (``searchsorted(..., side='right')`` convention).
    levels : numpy.ndarray
        float64 ``(M,)`` reproduction LLRs, ``logit`` of each cell's posterior mean (the LLR a
        decoder should see for that cell), clipped to ``|r| <= 30``.
    """
    m = int(cells)
    if m < 2:
        raise ValueError(f"cells must be >= 2, got {cells}")
    x = np.sort(np.asarray(llr, dtype=np.float64).reshape(-1))
    x = x[np.isfinite(x)]
    if x.size < 2 * m:
        raise ValueError(f"need at least {2 * m} finite training LLRs for {m} cells, got {x.size}")
    post = _sigmoid(x)
    # fine bins: equal-count groups of the sorted samples, never splitting equal LLR values
    cut = np.unique(np.linspace(0, x.size, min(fine, x.size) + 1).astype(np.int64))
    cut = np.unique(np.searchsorted(x, x[np.minimum(cut, x.size - 1)], side="left"))
    cut = np.unique(np.concatenate([[0], cut[(cut > 0) & (cut < x.size)], [x.size]]))
    nb = cut.size - 1
    if nb < m:
        raise ValueError(f"the training LLRs take fewer than {m} distinct values")
    cw = np.concatenate([[0.0], np.cumsum(np.ones_like(x))])[cut]
    cs = np.concatenate([[0.0], np.cumsum(post)])[cut]
    # cost[a, b] of one cell covering fine bins a..b-1 (a < b), +inf elsewhere
    w = cw[None, :] - cw[:, None]
    s = cs[None, :] - cs[:, None]
    cost = _cell_cost(np.maximum(w, 0.0), np.maximum(s, 0.0))
    cost[np.tril_indices(nb + 1)] = np.inf
    d = cost[0].copy()  # d[b]: best cost of covering bins 0..b-1 with one cell
    arg = np.zeros((m, nb + 1), dtype=np.int64)
    for j in range(1, m):
        tot = d[:, None] + cost  # (a, b)
        arg[j] = np.argmin(tot, axis=0)
        d = tot[arg[j], np.arange(nb + 1)]
    bounds = [nb]
    for j in range(m - 1, 0, -1):
        bounds.append(int(arg[j][bounds[-1]]))
    bounds = bounds[::-1]  # m boundaries (fine-bin indices) of cells 1..m-1 and the end
    starts = cut[np.asarray(bounds[:-1])]
    thr = (x[starts - 1] + x[starts]) / 2.0
    thr = _polish(x, post, thr, polish)
    return thr, _levels(x, post, thr)


def _levels(x, post, thr):
    m = thr.size + 1
    idx = np.searchsorted(thr, x, side="right")
    cnt = np.bincount(idx, minlength=m).astype(np.float64)
    s1 = np.bincount(idx, weights=post, minlength=m)
    q = np.where(cnt > 0, s1 / np.maximum(cnt, 1), np.nan)
    qc = np.clip(q, 1e-13, 1 - 1e-13)
    lv = np.log(qc / (1 - qc))
    ext = np.concatenate([[thr[0] - 1.0], thr, [thr[-1] + 1.0]])
    mid = (ext[:-1] + ext[1:]) / 2  # empty cells: midpoint of their boundaries
    return np.clip(np.where(np.isfinite(lv), lv, mid), -30.0, 30.0)


def _polish(x, post, thr, iters):
    """Winkelbauer-Matz alternation from ``thr``; keeps the best training MI seen."""
    best, best_mi = thr, _mi_sorted(x, post, thr)
    for _ in range(iters):
        idx = np.searchsorted(thr, x, side="right")
        mm = thr.size + 1
        cnt = np.bincount(idx, minlength=mm).astype(np.float64)
        s1 = np.bincount(idx, weights=post, minlength=mm)
        if np.any(cnt == 0):
            break
        q = np.clip(s1 / cnt, 1e-12, 1 - 1e-12)
        a = np.log((1 - q[:-1]) / (1 - q[1:]))
        bb = np.log(q[1:] / q[:-1])
        with np.errstate(divide="ignore", invalid="ignore"):
            pstar = a / (a + bb)
        pstar = np.clip(np.nan_to_num(pstar, nan=0.5), 1e-12, 1 - 1e-12)
        new = np.log(pstar / (1 - pstar))
        if new.size != thr.size or np.any(np.diff(new) <= 0):
            break
        mi = _mi_sorted(x, post, new)
        if mi > best_mi:
            best, best_mi = new, mi
        if np.allclose(new, thr, rtol=0, atol=1e-9):
            break
        thr = new
    return best


def _mi_sorted(x, post, thr):
    idx = np.searchsorted(thr, x, side="right")
    m = thr.size + 1
    cnt = np.bincount(idx, minlength=m).astype(np.float64)
    s1 = np.bincount(idx, weights=post, minlength=m)
    return float(-np.sum(_cell_cost(cnt, s1)) / x.size)


def uniform_design(llr: np.ndarray, cells: int, grid=None):
    """Uniform quantizer of one bit position: ``cells`` equal cells on ``[-c, c]`` (mid-rise,
    thresholds ``-c + 2c i / M``), ``c`` maximising ``I(B; Q(L))`` on the training LLRs (a
    geometric grid, then a finer grid around the best), reproduction LLRs = ``logit`` of each
    cell's posterior mean (as for max-MI: what the cell tells a decoder).

    Returns ``(thresholds (M-1,), levels (M,), c)``, float64.
    """
    x = np.sort(np.asarray(llr, dtype=np.float64).reshape(-1))
    x = x[np.isfinite(x)]
    post = _sigmoid(x)
    m = int(cells)

    def thr_of(c):
        return -c + (2 * c / m) * np.arange(1, m)

    grid = np.geomspace(0.5, 80.0, 40) if grid is None else np.asarray(grid, dtype=np.float64)
    mis = [_mi_sorted(x, post, thr_of(c)) for c in grid]
    i = int(np.argmax(mis))
    fine = np.linspace(grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)], 21)
    mis2 = [_mi_sorted(x, post, thr_of(c)) for c in fine]
    c = float(fine[int(np.argmax(mis2))])
    thr = thr_of(c)
    return thr, _levels(x, post, thr), c
