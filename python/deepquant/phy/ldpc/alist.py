#
# Copyright 2026 gr-deepquant authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""MacKay's alist format for sparse parity-check matrices, as GNU Radio's ``fec`` reads it.

Written here because GNU Radio 3.10.5's own Python alist helpers (``fec.LDPC.read_alist_file`` /
``write_alist_file``) fail with a NameError.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import numpy as np


def write_alist(h, path: Union[str, os.PathLike]) -> Path:
    """Write a binary matrix in MacKay's alist format, as GNU Radio's ``fec`` reads it.

    Layout (one block per line): ``N M``; ``max column weight, max row weight``; the N column
    weights; the M row weights; N lines of 1-based row indices (one line per column); M lines
    of 1-based column indices (one line per row).  Index lists are not zero-padded: GNU Radio's
    reader takes exactly as many indices per line as the weight says.

    Parameters
    ----------
    h : array_like or scipy.sparse matrix
        Shape ``(M, N)``, 0/1 entries (parity checks x variable nodes).
    path : str or os.PathLike
        Output file; parent directories must exist.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    try:
        import scipy.sparse

        if scipy.sparse.issparse(h):
            h = h.toarray()
    except ImportError:  # pragma: no cover
        pass
    h = np.asarray(h) != 0
    m, n = h.shape
    colw = h.sum(axis=0)
    roww = h.sum(axis=1)
    lines = [
        f"{n} {m}",
        f"{int(colw.max())} {int(roww.max())}",
        " ".join(str(int(w)) for w in colw),
        " ".join(str(int(w)) for w in roww),
    ]
    for j in range(n):
        lines.append(" ".join(str(i + 1) for i in np.flatnonzero(h[:, j])))
    for i in range(m):
        lines.append(" ".join(str(j + 1) for j in np.flatnonzero(h[i, :])))
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path


def read_alist(path: Union[str, os.PathLike]) -> np.ndarray:
    """Read an alist file (see :func:`write_alist`) into a dense matrix.

    Zero entries used as padding by some writers are ignored.  The column lists and the row
    lists must describe the same matrix (checked).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    numpy.ndarray
        ``uint8``, shape ``(M, N)``.
    """
    tok = [int(t) for t in Path(path).read_text().split()]
    n, m = tok[0], tok[1]
    pos = 4
    colw = tok[pos : pos + n]
    pos += n
    roww = tok[pos : pos + m]
    pos += m
    h = np.zeros((m, n), dtype=np.uint8)

    def take(count):
        nonlocal pos
        vals = []
        while len(vals) < count:
            v = tok[pos]
            pos += 1
            if v != 0:
                vals.append(v)
        # skip zero padding that may follow
        while pos < len(tok) and tok[pos] == 0:
            pos += 1
        return vals

    for j in range(n):
        for i in take(colw[j]):
            h[i - 1, j] = 1
    h_rows = np.zeros_like(h)
    for i in range(m):
        for j in take(roww[i]):
            h_rows[i, j - 1] = 1
    if not np.array_equal(h, h_rows):
        raise ValueError(f"{path}: column and row lists disagree")
    return h
