"""Soft-bit data sets: i.i.d. Rayleigh training data (paper section IV-A) and EPA OFDM test
frames (never seen in training).

Every codeword is a random 324-bit message encoded with the 802.11n (648, 324) LDPC code, mapped
to 38.211 QAM (unit energy) and received as ``y = h x + n`` with ``n ~ CN(0, sigma^2)``,
``SNR = E|h|^2 / sigma^2 = 1 / sigma^2``; LLRs come from the exact (log-MAP) demapper with the
true per-symbol ``h`` and ``sigma^2``.  648 is a multiple of K for K = 6 (108 channel uses) and
K = 8 (81 channel uses), so one codeword fills whole channel uses (no padding).
"""

from __future__ import annotations

import math

import numpy as np
import torch

N_CODE = 648


def uses_per_codeword(k: int) -> int:
    """Channel uses carrying one 648-bit codeword with K bits per symbol (ceil)."""
    return int(math.ceil(N_CODE / k))


def _codeword_bits(rng: np.random.Generator, n_cw: int) -> np.ndarray:
    from ..phy import ldpc

    info = rng.integers(0, 2, (n_cw, ldpc.K), dtype=np.uint8)
    return np.asarray(ldpc.encode(info), dtype=np.uint8), info


def _transmit(bits_rows: np.ndarray, h: np.ndarray, snr_db, k: int, rng: np.random.Generator):
    """bits_rows (n, K) uint8, h (n,) complex, snr_db scalar or (n,) -> LLR (n, K) float32."""
    from ..phy import mapping

    x = np.asarray(mapping.map_bits(bits_rows, k), dtype=np.complex64).reshape(-1)
    nv = 10.0 ** (-np.asarray(snr_db, dtype=np.float64) / 10.0)
    nv = np.broadcast_to(nv, x.shape)
    noise = (rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape)) * np.sqrt(nv / 2)
    y = (h * x + noise).astype(np.complex64)
    llr = mapping.demap_exact(y, h.astype(np.complex64), nv.astype(np.float32), k)
    return np.asarray(llr, dtype=np.float32).reshape(-1, k)


def rayleigh_llrs(k: int, snr_db_grid, codewords_per_snr: int, seed: int = 0, chunk: int = 2000):
    """LLRs of LDPC codewords over i.i.d. Rayleigh fading (a new ``h ~ CN(0,1)`` every symbol).

    Parameters
    ----------
    k : int
        Bits per symbol (6 or 8).
    snr_db_grid : sequence of float
        SNRs (dB); ``codewords_per_snr`` codewords at each.
    codewords_per_snr : int
    seed : int

    Returns
    -------
    llr : numpy.ndarray
        float32, shape ``(n, K)`` with ``n = len(grid) * codewords_per_snr * 648 / K``.
    snr_db : numpy.ndarray
        float32, shape ``(n,)``, the nominal SNR of each row.
    eff_snr_db : numpy.ndarray
        float32, shape ``(n,)``, the effective per-symbol SNR ``10 log10(|h|^2 / sigma^2)``.
    """
    rng = np.random.default_rng(seed)
    out, snrs, effs = [], [], []
    for s in snr_db_grid:
        left = codewords_per_snr
        while left > 0:
            n_cw = min(chunk, left)
            left -= n_cw
            cw, _ = _codeword_bits(rng, n_cw)
            rows = cw.reshape(-1, k)
            h = (rng.standard_normal(rows.shape[0]) + 1j * rng.standard_normal(rows.shape[0])) / np.sqrt(2)
            out.append(_transmit(rows, h, s, k, rng))
            snrs.append(np.full(rows.shape[0], s, np.float32))
            effs.append((s + 10 * np.log10(np.abs(h) ** 2 + 1e-30)).astype(np.float32))
    return np.concatenate(out), np.concatenate(snrs), np.concatenate(effs)


LTE_10MHZ_USED = 600  # used subcarriers of a 10 MHz LTE carrier (50 resource blocks)


def subcarrier_layout(n_sc: int, layout: str = "spread") -> np.ndarray:
    """Subcarrier indices (multiples of 15 kHz from the carrier) of one codeword's channel uses.

    ``"spread"`` (default, used for the paper's figures): ``n_sc`` subcarriers evenly spread over
    the 600 used subcarriers of a 10 MHz LTE carrier (the paper allocates 108 subcarriers per
    codeword in a 10 MHz channel and does not say which; spreading them gives the codeword the
    band's frequency diversity).  ``"contiguous"``: ``n_sc`` adjacent subcarriers centred on DC
    (1.62 MHz for 108: EPA is almost flat over it, block Rayleigh fading with a BLER slope of one
    decade per 10 dB).
    """
    if layout == "spread":
        return np.floor(np.linspace(-LTE_10MHZ_USED / 2, LTE_10MHZ_USED / 2, n_sc, endpoint=False)).astype(np.int64)
    if layout == "contiguous":
        return np.arange(n_sc, dtype=np.int64) - n_sc // 2
    raise ValueError(f"layout must be 'spread' or 'contiguous', got {layout!r}")


def epa_responses(n_cw: int, n_sc: int, rng: np.random.Generator, layout: str = "spread") -> np.ndarray:
    """Per-subcarrier responses of independent LTE EPA realisations, complex64 ``(n_cw, n_sc)``,
    ``E|h|^2 = 1`` (block fading: one realisation per codeword), from the project's shared
    channel model ``phy.channels.epa_channel`` on the subcarriers of :func:`subcarrier_layout`.
    """
    from ..phy import channels

    g = torch.Generator().manual_seed(int(rng.integers(2**62)))
    h = channels.epa_channel(n_cw, n_sc, subcarriers=subcarrier_layout(n_sc, layout), generator=g)
    return np.asarray(h.numpy(), dtype=np.complex64).reshape(n_cw, n_sc)


def epa_frames(k: int, snr_db: float, n_cw: int, rng: np.random.Generator, layout: str = "spread"):
    """Codewords over EPA OFDM: one realisation per codeword on ``648/K`` subcarriers (108 for
    64-QAM, 81 for 256-QAM) placed by :func:`subcarrier_layout`.

    Returns
    -------
    llr : numpy.ndarray
        float32 ``(n_cw, 648/K, K)``; row-major flattening of a codeword's ``(648/K, K)`` block is
        the codeword's LLRs in standard LDPC order (no interleaver: the channel is block fading
        over the frame and the paper does not interleave).
    info : numpy.ndarray
        uint8 ``(n_cw, 324)`` transmitted messages.
    """
    n_sc = uses_per_codeword(k)
    cw, info = _codeword_bits(rng, n_cw)
    h = epa_responses(n_cw, n_sc, rng, layout).reshape(-1)
    llr = _transmit(cw.reshape(-1, k), h, snr_db, k, rng)
    return llr.reshape(n_cw, n_sc, k), info
