#
# Copyright 2026 gr-deepquant authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Systematic encoder of the 802.11n (648, 324) code: the standard's dual-diagonal
back-substitution, vectorised over a batch, numpy or torch.

GNU Radio's LDPC encoder picks its information positions by Gaussian elimination, which for this
matrix in standard column order gives 320 of 324 positions different from the standard's, so it
cannot produce standard codewords; hence this encoder.
"""

from __future__ import annotations

import numpy as np

from .code import K, Z, _is_torch, base_matrix, expand_base_matrix

_CACHE: dict = {}


def _encoder_tables():
    """Index tables of the dual-diagonal encoder (see :func:`encode`), computed once."""
    if "enc" in _CACHE:
        return _CACHE["enc"]
    b = base_matrix().astype(np.int64)
    mb, nb = b.shape
    kb = nb - mb
    par = b[:, kb:]
    # Check the standard's structure: column kb is h_b (odd number of equal shifts ...), the
    # rest is the dual diagonal of zero shifts.
    for j in range(1, mb):
        col = par[:, j]
        if not (col[j - 1] == 0 and col[j] == 0 and np.sum(col >= 0) == 2):
            raise ValueError("parity part of the base matrix is not dual-diagonal")
    hb = par[:, 0]
    # Sum over GF(2) of the circulants of column kb: must reduce to a single P^s so that
    # p_0 = P^{-s} * sum_i lambda_i.
    counts = np.bincount(hb[hb >= 0], minlength=Z) % 2
    if counts.sum() != 1:
        raise ValueError("h_b column does not sum to a single circulant")
    s_star = int(np.flatnonzero(counts)[0])
    r = np.arange(Z)
    # Gather indices: (P^s v)[r] = v[(r + s) % Z]
    p0_idx = (r - s_star) % Z  # P^{-s*}
    hb_idx = [None if s < 0 else (r + s) % Z for s in hb]
    h_info = expand_base_matrix(b[:, :kb], Z).astype(np.float32)  # (M, K)
    _CACHE["enc"] = (h_info.T.copy(), p0_idx, hb_idx, mb)
    return _CACHE["enc"]


def encode(msg):
    """Systematic 802.11n encoder (IEEE Std 802.11-2020 §19.3.11.7, dual-diagonal parity).

    With ``lambda_i = sum_j P^{h_ij} s_j`` (block row ``i`` of the information part, length Z),
    the parity blocks follow from the block rows by back-substitution:
    ``p_0 = P^{-s} sum_i lambda_i`` (``P^s`` the GF(2) sum of the circulants in the first parity
    column; here ``P^1 + P^0 + P^1 = P^0``), ``p_1 = lambda_0 + P^{h_0} p_0``,
    ``p_{i+1} = lambda_i + p_i + P^{h_i} p_0`` for ``i = 1 .. 10``.

    Parameters
    ----------
    msg : numpy.ndarray or torch.Tensor
        Message bits, shape ``(..., 324)``, any integer/bool/float dtype holding 0/1.  A torch
        tensor is encoded with torch on its own device.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        Codewords, shape ``(..., 648)``, ``uint8``, ``c[..., :324] == msg`` and
        ``c[..., 324:]`` the parity; same array type (and device) as ``msg``.
    """
    h_info_t, p0_idx, hb_idx, mb = _encoder_tables()
    if msg.shape[-1] != K:
        raise ValueError(f"msg must have {K} bits in its last axis, got shape {tuple(msg.shape)}")
    if _is_torch(msg):
        import torch

        m = msg.to(torch.float32)
        hit = torch.from_numpy(h_info_t).to(m.device)
        lam = (torch.remainder(m @ hit, 2)).to(torch.uint8)  # (..., M)
        as_idx = lambda a: torch.from_numpy(a).to(m.device)  # noqa: E731
        cat = torch.cat
        out_msg = msg.to(torch.uint8)
    else:
        m = np.asarray(msg).astype(np.float32)
        lam = np.remainder(m @ h_info_t, 2).astype(np.uint8)
        as_idx = lambda a: a  # noqa: E731
        cat = np.concatenate
        out_msg = np.asarray(msg).astype(np.uint8)
    lam = lam.reshape(*lam.shape[:-1], mb, Z)
    total = lam[..., 0, :]
    for i in range(1, mb):
        total = total ^ lam[..., i, :]
    p = [total[..., as_idx(p0_idx)]]
    for i in range(mb - 1):
        nxt = lam[..., i, :]
        if i > 0:
            nxt = nxt ^ p[i]
        if hb_idx[i] is not None:
            nxt = nxt ^ p[0][..., as_idx(hb_idx[i])]
        p.append(nxt)
    return cat([out_msg] + p, -1)
