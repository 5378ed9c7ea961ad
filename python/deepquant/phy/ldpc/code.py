#
# Copyright 2026 gr-deepquant authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The 802.11n (648, 324) rate-1/2 code itself: sizes, the base matrix (package data), its
lifting into the parity-check matrix H, syndromes.

Circulant ``P^s`` (Z x Z, ``s >= 0``): row ``r`` has its single 1 in column ``(r + s) mod Z``,
i.e. the identity with its columns cyclically shifted right by ``s`` (IEEE Std 802.11-2020,
§19.3.11.7 and Annex F).  Codeword bit order is the standard's, ``[s_0 .. s_323 | p_0 .. p_323]``.
"""

from __future__ import annotations

import importlib.resources

import numpy as np

#: Codeword length (bits).
N = 648
#: Information bits per codeword.
K = 324
#: Parity checks (rows of H).
M = N - K
#: Lifting size (circulant dimension).
Z = 27

_BASE_FILE = "ieee80211n_ldpc_648_r12_base.txt"

_CACHE: dict = {}


def base_matrix() -> np.ndarray:
    """The 12 x 24 base matrix of circulant shifts of the 802.11n n=648, R=1/2 code.

    Read from the package data file ``data/ieee80211n_ldpc_648_r12_base.txt`` (values of IEEE
    Std 802.11-2020, Annex F).

    Returns
    -------
    numpy.ndarray
        ``int16``, shape ``(12, 24)``; entry ``s >= 0`` is the circulant ``P^s``, ``-1`` the
        all-zero Z x Z block.  Columns 0..11 carry information, 12..23 parity.  A fresh copy.
    """
    if "base" not in _CACHE:
        res = importlib.resources.files("gnuradio.deepquant") / "data" / _BASE_FILE
        rows = []
        for line in res.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                rows.append([int(v) for v in line.split()])
        b = np.array(rows, dtype=np.int16)
        if b.shape != (M // Z, N // Z):
            raise ValueError(f"{_BASE_FILE}: expected a 12 x 24 base matrix, got {b.shape}")
        _CACHE["base"] = b
    return _CACHE["base"].copy()


def expand_base_matrix(base: np.ndarray, z: int) -> np.ndarray:
    """Expand a quasi-cyclic base matrix into its binary parity-check matrix.

    Parameters
    ----------
    base : numpy.ndarray
        Integer array, shape ``(Mb, Nb)``; ``-1`` = zero block, ``s >= 0`` = circulant ``P^s``
        (row ``r`` of the block has its 1 in column ``(r + s) mod z``).
    z : int
        Lifting size.

    Returns
    -------
    numpy.ndarray
        ``uint8``, shape ``(Mb*z, Nb*z)``, entries 0/1.
    """
    base = np.asarray(base)
    mb, nb = base.shape
    h = np.zeros((mb * z, nb * z), dtype=np.uint8)
    r = np.arange(z)
    for i in range(mb):
        for j in range(nb):
            s = int(base[i, j])
            if s >= 0:
                h[i * z + r, j * z + (r + s) % z] = 1
    return h


def parity_check_matrix(sparse: bool = False):
    """Parity-check matrix H of the 802.11n (648, 324) code, standard column order.

    Parameters
    ----------
    sparse : bool
        Return a ``scipy.sparse.csr_matrix`` instead of a dense array.

    Returns
    -------
    numpy.ndarray or scipy.sparse.csr_matrix
        ``uint8``, shape ``(324, 648)``; ``H @ c = 0 (mod 2)`` for every codeword ``c``.  2376
        ones: column weights 2, 3 and 12 (irregular), row weights 7 and 8.
    """
    if "H" not in _CACHE:
        _CACHE["H"] = expand_base_matrix(base_matrix(), Z)
        _CACHE["H"].setflags(write=False)
    h = _CACHE["H"]
    if sparse:
        import scipy.sparse

        return scipy.sparse.csr_matrix(h)
    return h.copy()


def _is_torch(x) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def syndrome(c):
    """Syndrome ``H c mod 2``.

    Parameters
    ----------
    c : numpy.ndarray or torch.Tensor
        Hard bits (0/1), shape ``(..., 648)``, standard order.

    Returns
    -------
    numpy.ndarray
        ``uint8``, shape ``(..., 324)``; all zero iff ``c`` is a codeword.
    """
    if _is_torch(c):
        c = c.detach().cpu().numpy()
    if "H_csr" not in _CACHE:
        _CACHE["H_csr"] = parity_check_matrix(sparse=True).astype(np.int32)
    h = _CACHE["H_csr"]
    c = np.asarray(c)
    flat = c.reshape(-1, N).astype(np.int32)
    s = (h @ flat.T).T % 2
    return s.astype(np.uint8).reshape(*c.shape[:-1], M)


def is_codeword(c) -> np.ndarray:
    """``True`` where ``c`` (shape ``(..., 648)``, 0/1) satisfies every parity check.

    Returns
    -------
    numpy.ndarray
        ``bool``, shape ``c.shape[:-1]``.
    """
    return ~syndrome(c).any(axis=-1)
