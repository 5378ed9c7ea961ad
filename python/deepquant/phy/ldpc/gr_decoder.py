#
# Copyright 2026 gr-deepquant authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio's belief-propagation decoder (``fec.ldpc_decoder``, sum-product in the probability
domain) set up for the 802.11n (648, 324) code and the module's LLR convention.

The decoder is handed the columns in the order ``[parity | info]`` (:data:`GR_COLUMN_ORDER`);
with that order GNU Radio's Gaussian elimination keeps the last ``K`` columns as its systematic
positions, so its decoded information bits are exactly the standard's message bits (checked in
``tests/phy/test_ldpc.py``).  :func:`to_gr_order` / :func:`from_gr_order` convert between the two
orders.  GNU Radio is imported only when a decoder is built, so the rest of the package is usable
without it.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Optional, Union

import numpy as np

from .alist import write_alist
from .code import K, N, _is_torch, parity_check_matrix

#: |L| is clipped to this value before GNU Radio's decoder. It works in the probability domain
#: with single-precision floats: a check node multiplies the likelihood ratios ``exp(|L|)`` of up
#: to 8 edges (the row weight of this code), so ``8 * |L|`` must stay below ln(FLT_MAX) = 88.7.
#: With |L| up to 50 (the value first used) GNU Radio silently converged to wrong codewords on
#: 18% of 2x2 64-QAM exact-ML frames at 21 dB, where the tanh-domain decoder fails on 0.1%;
#: at 10 both decoders agree (tests/phy/test_ldpc.py::test_gr_decoder_large_llrs). Clipping
#: at 10 (P(error) = 4.5e-5 per bit) costs nothing measurable.
GR_LLR_CLIP = 10.0

#: Exact-zero LLRs (erasures, NaN inputs, zero fallbacks of the detectors) are replaced by this
#: tiny value before GNU Radio's decoder: with |L| = 0 it fails on every frame (measured: 2 % of
#: the LLRs of 64-QAM AWGN frames at 14 dB set to 0 -> 3000 of 3000 frames wrong, 1 with 1e-3,
#: 0 with the tanh-domain decoder; tests/phy/test_ldpc.py::test_gr_decoder_zero_llrs).
GR_ZERO_LLR = 1e-3


def prepare_gr_llr(llr: np.ndarray) -> np.ndarray:
    """LLRs (any order, float) made safe for GNU Radio's decoder, in place when float32:
    NaN -> erasure, ``|L|`` clipped to :data:`GR_LLR_CLIP`, erasures (0) -> :data:`GR_ZERO_LLR`."""
    g = np.nan_to_num(np.asarray(llr, dtype=np.float32), nan=0.0, copy=False)
    np.clip(g, -GR_LLR_CLIP, GR_LLR_CLIP, out=g)
    g[g == 0] = GR_ZERO_LLR
    return g


#: Column order handed to GNU Radio: position ``j`` of a GR-ordered vector holds standard bit
#: ``GR_COLUMN_ORDER[j]``, i.e. ``[p_0 .. p_323, s_0 .. s_323]``.
GR_COLUMN_ORDER = np.concatenate([np.arange(K, N), np.arange(0, K)]).astype(np.int64)
_GR_INVERSE = np.argsort(GR_COLUMN_ORDER)


def to_gr_order(x):
    """Reorder standard-order values (LLRs or bits) into GNU Radio's column order.

    Parameters
    ----------
    x : numpy.ndarray or torch.Tensor
        Shape ``(..., 648)`` in the standard order ``[info | parity]``.

    Returns
    -------
    Same type, shape ``(..., 648)``, order ``[parity | info]`` (:data:`GR_COLUMN_ORDER`).
    """
    idx = GR_COLUMN_ORDER
    if _is_torch(x):
        import torch

        idx = torch.from_numpy(idx).to(x.device)
    return x[..., idx]


def from_gr_order(x):
    """Inverse of :func:`to_gr_order`: GNU Radio's column order back to the standard order.

    Parameters
    ----------
    x : numpy.ndarray or torch.Tensor
        Shape ``(..., 648)``, order ``[parity | info]``.

    Returns
    -------
    Same type, shape ``(..., 648)``, standard order ``[info | parity]``.
    """
    idx = _GR_INVERSE
    if _is_torch(x):
        import torch

        idx = torch.from_numpy(idx).to(x.device)
    return x[..., idx]


def _default_cache_dir() -> Path:
    d = os.environ.get("DEEPQUANT_CACHE")
    if d is None:
        d = Path.home() / ".cache" / "gr-deepquant"
    d = Path(d)
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe = d / ".w"
        probe.touch()
        probe.unlink()
    except OSError:  # read-only home: fall back to the temp dir
        d = Path(tempfile.gettempdir()) / "gr-deepquant"
        d.mkdir(parents=True, exist_ok=True)
    return d


def gr_alist_path(cache_dir: Optional[Union[str, os.PathLike]] = None) -> Path:
    """Alist file of H with columns in :data:`GR_COLUMN_ORDER`, written once into a cache dir.

    Parameters
    ----------
    cache_dir : str or os.PathLike, optional
        Directory; default ``$DEEPQUANT_CACHE`` or ``~/.cache/gr-deepquant`` (the system temp
        dir if that is not writable).

    Returns
    -------
    pathlib.Path
        Path of ``ieee80211n_648_r12_grorder_<hash>.alist``; the name carries a hash of the
        content, so a stale or foreign file is never reused.
    """
    h = parity_check_matrix()[:, GR_COLUMN_ORDER]
    digest = hashlib.sha1(np.packbits(h).tobytes()).hexdigest()[:12]
    d = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"ieee80211n_648_r12_grorder_{digest}.alist"
    if not path.exists():
        # write atomically: several decoder processes may race here
        fd, tmp = tempfile.mkstemp(dir=d, suffix=".alist.tmp")
        os.close(fd)
        write_alist(h, tmp)
        os.replace(tmp, path)
    return path


def _capsule(arr: np.ndarray):
    new = ctypes.pythonapi.PyCapsule_New
    new.restype = ctypes.py_object
    new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    return new(arr.ctypes.data, None, None)


class GrLdpcDecoder:
    """GNU Radio's sum-product LDPC decoder set up for the 802.11n (648, 324) code and for
    LLRs in the module convention.

    Build it with :func:`make_gr_ldpc_decoder`.

    Attributes
    ----------
    fec : gnuradio.fec.generic_decoder
        The ``fec.ldpc_decoder`` object itself, for use in flowgraphs
        (``fec.extended_decoder(fec, ...)`` / ``fec.decoder(fec, gr.sizeof_float,
        gr.sizeof_char)``).  In a flowgraph it expects per frame 648 float LLRs (positive =
        bit 1) **in GNU Radio column order** (:func:`to_gr_order`), with ``|L|`` clipped to
        :data:`GR_LLR_CLIP` by the caller, and emits the 324 information bits in the standard
        order.
    alist_path : pathlib.Path
        The alist file the decoder was built from (columns in :data:`GR_COLUMN_ORDER`).
    max_iter : int
        Maximum BP iterations (the decoder stops early once all parity checks hold).
    sigma : float or None
        Noise sigma passed to the 3-argument ``make`` (``1/sqrt(2)``, which makes its internal
        ``exp(x / (2 sigma^2))`` equal to ``exp(L)``), ``None`` where the 2-argument ``make``
        (GNU Radio >= 3.10.8, LLR input) was used.
    """

    def __init__(self, max_iter: int = 50, cache_dir=None):
        from gnuradio import fec  # lazy: only the decoder needs GNU Radio

        self.max_iter = int(max_iter)
        self.alist_path = gr_alist_path(cache_dir)
        try:
            self.sigma = float(1.0 / np.sqrt(2.0))
            self.fec = fec.ldpc_decoder.make(str(self.alist_path), self.sigma, self.max_iter)
        except TypeError:  # GNU Radio >= 3.10.8: make(alist, max_iter), LLR input
            self.sigma = None
            self.fec = fec.ldpc_decoder.make(str(self.alist_path), self.max_iter)
        if self.fec.get_input_size() != N or self.fec.get_output_size() != K:
            raise RuntimeError(
                f"unexpected GNU Radio LDPC frame sizes {self.fec.get_input_size()}/{self.fec.get_output_size()}"
            )
        self._in = np.zeros(N, dtype=np.float32)
        self._out = np.zeros(K, dtype=np.uint8)
        self._in_cap = _capsule(self._in)
        self._out_cap = _capsule(self._out)
        self.last_iterations = np.zeros(0, dtype=np.float32)

    def decode(self, llr) -> np.ndarray:
        """Decode a batch of codewords, one ``generic_work`` call per codeword (no flowgraph).

        Parameters
        ----------
        llr : array_like or torch.Tensor
            Shape ``(B, 648)`` or ``(648,)``, standard bit order, ``L = ln P(1)/P(0)``
            (positive = bit 1).  Converted to ``float32`` and clipped to
            ``[-GR_LLR_CLIP, GR_LLR_CLIP]``; NaN is treated as an erasure and erasures (0)
            become ``GR_ZERO_LLR`` (see :func:`prepare_gr_llr`).

        Returns
        -------
        numpy.ndarray
            ``uint8`` information bits, shape ``(B, 324)`` (or ``(324,)``).  The number of BP
            iterations each codeword used is left in :attr:`last_iterations` (``float32``,
            shape ``(B,)``; ``max_iter`` means the frame did not converge).
        """
        if _is_torch(llr):
            llr = llr.detach().cpu().numpy()
        llr = np.asarray(llr, dtype=np.float32)
        if llr.shape[-1] != N or llr.ndim > 2:
            raise ValueError(f"llr must have shape (B, {N}) or ({N},), got {llr.shape}")
        single = llr.ndim == 1
        llr2 = llr.reshape(-1, N)
        g = prepare_gr_llr(llr2[:, GR_COLUMN_ORDER])
        out = np.empty((g.shape[0], K), dtype=np.uint8)
        its = np.empty(g.shape[0], dtype=np.float32)
        work = self.fec.generic_work
        get_it = self.fec.get_iterations
        for b in range(g.shape[0]):
            self._in[:] = g[b]
            work(self._in_cap, self._out_cap)
            out[b] = self._out
            its[b] = get_it()
        self.last_iterations = its
        return out[0] if single else out

    __call__ = decode


def make_gr_ldpc_decoder(max_iter: int = 50, cache_dir=None) -> GrLdpcDecoder:
    """Build GNU Radio's ``fec.ldpc_decoder`` for the 802.11n (648, 324) code.

    The parity-check matrix is written as an alist with columns in the order
    ``[parity | info]`` (:data:`GR_COLUMN_ORDER`) into ``cache_dir`` (default
    ``$DEEPQUANT_CACHE`` or ``~/.cache/gr-deepquant``); with that order GNU Radio's decoded
    information bits are the standard's message bits.  The decoder is made with
    ``sigma = 1/sqrt(2)`` (3-argument ``make``, GNU Radio < 3.10.8) so that it takes
    ``L = ln P(1)/P(0)`` unchanged; on ``TypeError`` (GNU Radio >= 3.10.8) the 2-argument
    ``make(alist, max_iter)`` is used, whose input is that same LLR.

    Parameters
    ----------
    max_iter : int
        Maximum number of BP iterations.
    cache_dir : str or os.PathLike, optional
        Where the alist file goes.

    Returns
    -------
    GrLdpcDecoder
        ``.decode(llr[B, 648]) -> bits[B, 324]`` (standard order in, LLRs clipped to
        ``±GR_LLR_CLIP``), and ``.fec``, the raw GNU Radio object for flowgraphs (GR column order
        in: see :class:`GrLdpcDecoder`).
    """
    return GrLdpcDecoder(max_iter=max_iter, cache_dir=cache_dir)
