#
# Copyright 2026 gr-deepquant authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Seeded random bit interleaver between the LDPC encoder and the symbol mapper.

A coded link maps ``Q`` consecutive interleaved bits onto one channel use (``Q = bits per
symbol x spatial streams``); without interleaving, neighbouring codeword bits, which share
parity checks, would see the same fade and the same detector error.  The interleaver is a
fixed pseudo-random permutation of the codeword's ``N`` positions, as in the bit-interleaved
coded-modulation links the module reproduces, optionally with an S-random spread constraint.

Convention: ``y = interleave(x)`` has ``y[..., i] = x[..., perm[i]]`` (interleaved position
``i`` carries codeword bit ``perm[i]``); channel use ``t`` then carries interleaved positions
``t*Q .. t*Q + Q - 1``.  ``deinterleave`` is the exact inverse and is applied to the
detector's LLRs before decoding.  Works on numpy arrays and torch tensors (bits, LLRs, any
dtype; gradients pass through the torch gather).

Written here because neither GNU Radio (its ``trellis``/``fec`` interleavers are stream blocks
without a batched array form) nor numpy/torch provide a seeded interleaver object with an
inverse for ``(..., N)`` arrays; the permutation itself comes from numpy's Generator.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BitInterleaver", "s_random_permutation"]


def _is_torch(x) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def s_random_permutation(n: int, spread: int, seed: int = 0, max_restarts: int = 1000) -> np.ndarray:
    """S-random permutation: any two positions at most ``spread`` apart map to values more than
    ``spread`` apart, i.e. ``|i - j| <= S  =>  |perm[i] - perm[j]| > S`` for ``i != j``.

    Built greedily (Dolinar & Divsalar, TDA PR 42-122, 1995): position by position, a value is
    drawn at random among the unused ones that are more than ``S`` away from the previous ``S``
    choices; a dead end restarts with the next draw of the same seeded generator.  Feasible
    quickly for ``S`` below about ``sqrt(n / 2)`` (18 for n = 648).

    Parameters
    ----------
    n : int
        Length.
    spread : int
        S >= 0 (0 gives a plain random permutation).
    seed : int
        Seed of ``numpy.random.default_rng``.
    max_restarts : int
        Give up (``RuntimeError``) after this many dead ends.

    Returns
    -------
    numpy.ndarray
        ``int64``, shape ``(n,)``, a permutation of ``0 .. n-1``.
    """
    rng = np.random.default_rng(seed)
    if spread <= 0:
        return rng.permutation(n).astype(np.int64)
    for _ in range(max_restarts):
        free = np.ones(n, dtype=bool)
        perm = np.empty(n, dtype=np.int64)
        ok = True
        for i in range(n):
            allowed = free.copy()
            for v in perm[max(0, i - spread) : i]:
                allowed[max(0, v - spread) : v + spread + 1] = False
            cand = np.flatnonzero(allowed)
            if cand.size == 0:
                ok = False
                break
            v = int(cand[rng.integers(cand.size)])
            perm[i] = v
            free[v] = False
        if ok:
            return perm
    raise RuntimeError(
        f"no S-random permutation with n={n}, S={spread} found in {max_restarts} attempts (try S < sqrt(n/2))"
    )


class BitInterleaver:
    """Fixed seeded permutation of the ``N`` bits of a codeword.

    Parameters
    ----------
    n : int
        Codeword length N (648 for the module's LDPC code).
    seed : int
        Seed of ``numpy.random.default_rng``; with ``spread=0`` the permutation is exactly
        ``numpy.random.default_rng(seed).permutation(n)``, so a given seed reproduces the same
        interleaver everywhere.
    spread : int
        Optional S-random constraint (:func:`s_random_permutation`); choosing
        ``S >= Q - 1`` guarantees that adjacent codeword bits never share a channel use of
        ``Q`` bits.  0 (default) = plain random permutation.

    Attributes
    ----------
    perm : numpy.ndarray
        ``int64``, shape ``(N,)``: interleaved position ``i`` carries codeword bit ``perm[i]``.
    inverse : numpy.ndarray
        ``int64``, shape ``(N,)``: codeword bit ``j`` sits at interleaved position
        ``inverse[j]``.
    """

    def __init__(self, n: int, seed: int = 0, spread: int = 0):
        self.n = int(n)
        self.seed = int(seed)
        self.spread = int(spread)
        self.perm = s_random_permutation(self.n, self.spread, self.seed)
        self.inverse = np.argsort(self.perm).astype(np.int64)
        self.perm.setflags(write=False)
        self.inverse.setflags(write=False)
        self._torch_idx: dict = {}

    def __repr__(self) -> str:
        return f"BitInterleaver(n={self.n}, seed={self.seed}, spread={self.spread})"

    def _apply(self, x, idx: np.ndarray, which: str):
        if x.shape[-1] != self.n:
            raise ValueError(f"last axis must have length {self.n}, got shape {tuple(x.shape)}")
        if _is_torch(x):
            key = (which, str(x.device))
            t = self._torch_idx.get(key)
            if t is None:
                import torch

                t = self._torch_idx[key] = torch.from_numpy(idx.copy()).to(x.device)
            return x.index_select(-1, t)
        return np.asarray(x)[..., idx]

    def interleave(self, x):
        """Interleave along the last axis.

        Parameters
        ----------
        x : numpy.ndarray or torch.Tensor
            Shape ``(..., N)``, codeword order, any dtype.

        Returns
        -------
        Same type and dtype, shape ``(..., N)``: ``y[..., i] = x[..., perm[i]]``.
        """
        return self._apply(x, self.perm, "perm")

    def deinterleave(self, y):
        """Undo :meth:`interleave` along the last axis (e.g. on detector LLRs).

        Parameters
        ----------
        y : numpy.ndarray or torch.Tensor
            Shape ``(..., N)``, interleaved order.

        Returns
        -------
        Same type and dtype, shape ``(..., N)``, codeword order: ``x[..., perm[i]] = y[..., i]``.
        """
        return self._apply(y, self.inverse, "inverse")

    __call__ = interleave

    def channel_use_of_bit(self, bits_per_use: int) -> np.ndarray:
        """Channel use carrying each codeword bit when ``Q = bits_per_use`` interleaved bits
        go to one channel use.

        Returns
        -------
        numpy.ndarray
            ``int64``, shape ``(N,)``: ``inverse // Q``.
        """
        return self.inverse // int(bits_per_use)
