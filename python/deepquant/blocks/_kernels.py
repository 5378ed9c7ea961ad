"""The kernel library's C++ soft demapper and LDPC decoder, set up from the numeric core's
tables (one source of truth: the constellation of :mod:`gnuradio.deepquant.phy.mapping`, the
parity-check matrix of :mod:`gnuradio.deepquant.phy.ldpc`).

Blocks use these on their hot paths; they compute the same as the numeric core's torch
references (``mapping.demap_exact`` / ``demap_maxlog``, ``ldpc.bp_decode_torch``) to float
rounding, which the tests check (``tests/blocks/test_kernels.py``).
"""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=None)
def qam_demapper(bits_per_symbol: int):
    """C++ ``qam_demapper`` for K = ``bits_per_symbol`` (38.211 QAM / BPSK)."""
    from .. import deepquant_python as dq
    from ..phy import mapping

    sp = mapping._spec(mapping.check_bits_per_symbol(bits_per_symbol))
    d = complex(sp.directions[0])
    return dq.qam_demapper([int(v) for v in sp.levels], float(sp.scale), int(sp.n_dims), d.real, d.imag)


def demap(y, h, noise_var, bits_per_symbol: int, maxlog: bool = False) -> np.ndarray:
    """LLRs ``[n * K]`` float32 of ``y = h x + n`` (1-D arrays; ``h`` None = 1; ``noise_var`` a
    scalar or one value per symbol). Inputs must be finite with ``noise_var > 0``."""
    y = np.ascontiguousarray(y, dtype=np.complex64).reshape(-1)
    nv = np.ascontiguousarray(np.broadcast_to(np.asarray(noise_var, np.float32), y.shape))
    hh = None if h is None else np.ascontiguousarray(np.broadcast_to(np.asarray(h, np.complex64), y.shape))
    return qam_demapper(int(bits_per_symbol)).demap(y, hh, nv, bool(maxlog))


@functools.lru_cache(maxsize=None)
def ldpc_decoder():
    """C++ ``ldpc_bp_decoder`` for the 802.11n (648, 324) code (standard column order)."""
    from .. import deepquant_python as dq
    from ..phy import ldpc

    h = ldpc.parity_check_matrix()
    row_ptr = np.concatenate([[0], np.cumsum(h.sum(axis=1))]).astype(int)
    col_idx = np.concatenate([np.flatnonzero(r) for r in h]).astype(int)
    return dq.ldpc_bp_decoder(row_ptr.tolist(), col_idx.tolist(), ldpc.N, float(ldpc.LLR_CLIP))


def bp_decode(llr, max_iter: int = 50):
    """``ldpc.bp_decode_torch``'s codewords, iterations and posteriors (``return_codewords``,
    ``return_iterations``, ``return_posteriors``) from the C++ decoder: numpy arrays
    (uint8 [B, 648], int32 [B], float32 [B, 648])."""
    from ..phy import ldpc

    return ldpc_decoder().decode(np.ascontiguousarray(llr, dtype=np.float32).reshape(-1, ldpc.N), int(max_iter), True)


#: streams the C++ LMMSE detector handles (more: phy.mimo.lmmse)
MAX_LMMSE_STREAMS = 16


@functools.lru_cache(maxsize=None)
def lmmse_detector(nr: int, nt: int, bits_per_symbol: int):
    """C++ ``lmmse_detector`` (the computation of :func:`gnuradio.deepquant.phy.mimo.lmmse`)."""
    from .. import deepquant_python as dq
    from ..phy import mapping

    sp = mapping._spec(mapping.check_bits_per_symbol(bits_per_symbol))
    d = complex(sp.directions[0])
    return dq.lmmse_detector(
        int(nr), int(nt), [int(v) for v in sp.levels], float(sp.scale), int(sp.n_dims), d.real, d.imag
    )


def lmmse(y, h, noise_var, bits_per_symbol: int) -> np.ndarray:
    """LLRs [B, Nt * K] float32 of ``y`` [B, Nr], ``H`` [B, Nr, Nt], ``noise_var`` [B] (or a
    scalar); inputs finite, ``noise_var > 0``."""
    h = np.ascontiguousarray(h, dtype=np.complex64)
    b, nr, nt = h.shape
    y = np.ascontiguousarray(y, dtype=np.complex64).reshape(b, nr)
    nv = np.ascontiguousarray(np.broadcast_to(np.asarray(noise_var, np.float32), (b,)))
    if nt > MAX_LMMSE_STREAMS:  # beyond the C++ kernel's stack matrices: the torch reference
        from ..phy import mimo

        return np.asarray(mimo.lmmse(y, h, nv.copy(), int(bits_per_symbol)), dtype=np.float32)
    return lmmse_detector(nr, nt, int(bits_per_symbol)).detect(y, h, nv, False)


def ep(y, h, noise_var, bits_per_symbol: int):
    """EP LLRs [B, Nt * K] float32 (:func:`gnuradio.deepquant.phy.mimo.ep_cpp`, the C++
    ``ep_detector``, with EP's default parameters) and the number of channel uses whose float32
    LLRs overflowed (demapped in float64 and saturated). ``y`` [B, Nr], ``H`` [B, Nr, Nt],
    ``noise_var`` [B] (or a scalar); inputs finite, ``noise_var > 0``. More streams than the
    kernel takes: the torch reference :func:`~gnuradio.deepquant.phy.mimo.ep` (overflow shows as
    non-finite LLRs there)."""
    from ..phy import mimo

    h = np.ascontiguousarray(h, dtype=np.complex64)
    b, nr, nt = h.shape
    y = np.ascontiguousarray(y, dtype=np.complex64).reshape(b, nr)
    nv = np.ascontiguousarray(np.broadcast_to(np.asarray(noise_var, np.float32), (b,)))
    if nt > mimo.EP_CPP_MAX_STREAMS:
        return np.asarray(mimo.ep(y, h, nv.copy(), int(bits_per_symbol)), dtype=np.float32), 0
    llr, status = mimo.ep_cpp(y, h, nv, int(bits_per_symbol), on_invalid="zero", return_status=True)
    return llr, int((status == 2).sum())


def ofdm_estimator(layout):
    """C++ ``ofdm_estimator`` of an :class:`gnuradio.deepquant.ofdm.layout.OfdmLayout` (made once
    per layout): the per-packet channel / noise estimation, pilot phase tracking and header
    decoding of :mod:`gnuradio.deepquant.ofdm.estimation` and :mod:`gnuradio.deepquant.ofdm.header`."""
    est = layout._cache.get("cxx_ofdm_estimator")
    if est is None:
        from .. import deepquant_python as dq

        est = dq.ofdm_estimator(
            int(layout.fft_len),
            [int(k) for k in layout.active],
            [int(k) for k in layout.occupied],
            [int(k) for k in layout.pilots],
            [complex(s) for s in layout.pilot_symbols],
        )
        layout._cache["cxx_ofdm_estimator"] = est
    return est


def estimate_channel(y, x, layout, taps_pre: int = 6, taps_post=None, ref_row=1, per_carrier: bool = False):
    """:func:`gnuradio.deepquant.ofdm.estimation.estimate_channel` (same arguments and returns)
    computed by the C++ ``ofdm_estimator``; the numeric core itself when the fit's matrix is not
    positive definite (its pseudo-inverse) or the inputs are not finite."""
    taps_post = layout.cp_len if taps_post is None else int(taps_post)
    r = ofdm_estimator(layout).estimate(y, x, int(taps_pre), taps_post, -1 if ref_row is None else int(ref_row))
    if r is None:
        from ..ofdm import estimation

        return estimation.estimate_channel(y, x, layout, taps_pre, taps_post, ref_row, per_carrier)
    h, nv, err, err_k = r
    return (h, nv, err, err_k) if per_carrier else (h, nv, err)


def decode_header(z):
    """:func:`gnuradio.deepquant.ofdm.header.decode_header` by the C++ kernel: (packet_num,
    n_codewords) or None when the CRC fails."""
    from .. import deepquant_python as dq

    return dq.ofdm_estimator.header_fields(np.ascontiguousarray(z, dtype=np.float64).reshape(-1))
