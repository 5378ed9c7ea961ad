"""Per-packet steps of the time-domain MIMO-OFDM receiver (``mimo_ofdm_rx``), composed from the
pieces of :mod:`.mimo`. No GNU Radio import: the blocks ``mimo_ofdm_header_decoder`` and
``mimo_ofdm_payload_estimator`` adapt them to streams, tags and messages.

* :func:`decode_preamble`: training symbols and header of every chain -> LS channel of every
  antenna pair, sigma^2, packet number (or None when the header fails).
* :func:`decoder_aided_reestimate`: a packet's payload detected (LMMSE) and LDPC-decoded, its
  validated and soft-decided symbols used as extra training to re-estimate the channel.

Shapes: ``ys`` are FFT outputs, fft-shifted, [nr, symbols, fft_len]; ``h`` [fft_len, nr, nt]
(row-major H per carrier); noise ``CN(0, sigma^2)`` per subcarrier.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import estimation as ofdm_estimation
from . import header as ofdm_header
from . import mimo as ofdm_mimo
from .layout import OfdmLayout


class Preamble(NamedTuple):
    """What one packet's preamble and header gave (:func:`decode_preamble`)."""

    #: packet number from the header
    packet_num: int
    #: complex64 [fft_len, nr, nt]: channel on the active carriers (0 elsewhere), columns aligned
    #: to training symbol 1
    h: np.ndarray
    #: sigma^2 per subcarrier from the fit residuals
    noise_var: float
    #: mean error variance of one entry of ``h``
    err_var: float
    #: float64 [nt]: error variance of one entry of column j
    err_cols: np.ndarray
    #: residual CFO measured on the decoded header, radians per OFDM symbol
    cfo_residual: float


def decode_preamble(
    ys: np.ndarray, layout: OfdmLayout, nt: int, taps_pre: int = 0, taps_post: int = 20, refine: bool = True
):
    """Training symbols and header of one packet -> channel, sigma^2 and packet number.

    LS estimate per antenna pair from the time-orthogonal training symbols
    (:func:`.mimo.ltf_estimate`, impulse response fitted on ``[-taps_pre, taps_post]``), header
    MRC over the chains with column 0 and CRC-8 check (:func:`.header.decode_header`), column
    alignment against the residual CFO measured on the decoded header
    (:func:`.mimo.residual_cfo_align`), and with ``refine`` column 0 re-estimated with the decoded
    header as extra training (:func:`.mimo.refine_column0`).

    Parameters
    ----------
    ys : ndarray complex [nr, 1 + nt + n_hdr, fft_len]
        Schmidl & Cox symbol, the ``nt`` training symbols and the header symbols of every chain.
    layout : OfdmLayout
    nt : int

    Returns
    -------
    Preamble, or None when the header's CRC fails or it announces another codeword count than
    ``layout.n_codewords``.
    """
    nt = int(nt)
    n_hdr = layout.header_symbols
    ys = np.asarray(ys)
    if ys.ndim != 3 or ys.shape[1] != 1 + nt + n_hdr or ys.shape[2] != layout.fft_len:
        raise ValueError(f"ys must be [nr, {1 + nt + n_hdr}, {layout.fft_len}], got {ys.shape}")
    y_ltf = ys[:, 1 : 1 + nt]
    y_hdr = ys[:, 1 + nt :]
    h, nv, err = ofdm_mimo.ltf_estimate(y_ltf, layout, taps_pre, taps_post)
    err_cols = [err] * nt
    res = ofdm_header.decode_header(ofdm_mimo.header_mrc(y_hdr, h, layout))
    if res is None or res[1] != layout.n_codewords:
        return None
    x_hdr = ofdm_header.header_symbols(res[0], res[1], len(layout.occupied)).reshape(n_hdr, -1)
    h, phi = ofdm_mimo.residual_cfo_align(h, y_hdr, x_hdr, layout)
    if refine:
        # column 0 again with the decoded header as training (3 known symbols, not 1)
        h, nv0, err0 = ofdm_mimo.refine_column0(h, y_ltf, y_hdr, x_hdr, layout, taps_pre, taps_post)
        nv = (nv * nt + nv0) / (nt + 1)
        err = (err * (nt - 1) + err0) / nt
        err_cols[0] = err0
    return Preamble(int(res[0]), h, float(nv), float(err), np.asarray(err_cols, dtype=np.float64), float(phi))


def decoder_aided_reestimate(
    ys: np.ndarray,
    phases: np.ndarray,
    h: np.ndarray,
    noise_var: float,
    err_cols,
    noise_eff: float,
    layout: OfdmLayout,
    max_iter: int = 50,
    rounds: int = 2,
    taps_pre: int = 0,
    taps_post: int = 20,
    detect=None,
    decode=None,
):
    """Decoder-aided re-estimation of one packet's channel (the MIMO form of the SISO receiver's).

    Per round: every channel use is detected with LMMSE, the packet's codewords are decoded by
    belief propagation with a-posteriori LLRs (``max_iter`` iterations); validated codewords
    become known symbols, the others soft symbols (posterior means and variances,
    :func:`.estimation.decoded_symbols`); with the pilots they re-fit every antenna pair's
    impulse response, the preamble estimate ``h`` as prior (:func:`.mimo.refine_with_symbols`).
    ``rounds`` rounds at most, stopping when every codeword validated.

    Parameters
    ----------
    ys : ndarray complex [nr, T, fft_len]
        Payload symbols of every chain (fft-shifted).
    phases : ndarray float [T]
        Common phase per payload symbol from pilot tracking (:func:`.mimo.payload_channel_uses`),
        removed here.
    h : ndarray complex [fft_len, nr, nt]
        Preamble estimate (the prior).
    noise_var : float
        sigma^2 per subcarrier.
    err_cols : array [nt]
        Error variance of one entry of column j of ``h``.
    noise_eff : float
        Effective noise of the first detection (sigma^2 plus the preamble estimate's error).
    layout : OfdmLayout
        The payload must hold whole 648-bit codewords.
    detect : callable, optional
        ``(y [B, nr], H [B, nr, nt], noise_var [B], bits_per_symbol) -> LLRs [B, nt K]`` float32,
        stream-major, ``L = ln P(1)/P(0)``; default :func:`gnuradio.deepquant.phy.mimo.lmmse`
        (the blocks pass the kernel library's C++ LMMSE detector, which computes the same).
    decode : callable, optional
        As :func:`.estimation.decoded_symbols`' ``decode`` (default: the torch BP decoder).

    Returns
    -------
    y : ndarray complex [T * n_data, nr]
        Channel uses, symbol-major, phase re-aligned.
    h_data : ndarray complex [n_data, nr, nt]
        Refined channel per data carrier.
    noise : ndarray float64 [n_data]
        sigma^2 plus the refined estimate's error on each data carrier.
    ok : ndarray bool [n_codewords]
        Codewords whose parity checks all held in the last round.
    """
    if int(max_iter) < 1 or int(rounds) < 1:
        raise ValueError(f"max_iter and rounds must be >= 1, got {max_iter}, {rounds}")
    if detect is None:
        from ..phy import mimo as phy_mimo

        detect = phy_mimo.lmmse
    nr, t, _ = ys.shape
    nt = h.shape[2]
    nd = len(layout.occupied)
    k = layout.bits_per_symbol
    di = layout.data_idx
    y = ys * np.exp(-1j * phases)[None, :, None]
    h_pre = h
    eff = np.full(nd, noise_eff)
    ok = None
    for _ in range(int(rounds)):
        yu = np.transpose(y[:, :, di], (1, 2, 0)).reshape(-1, nr)
        hu = np.broadcast_to(h[di][None], (t, nd, nr, nt)).reshape(-1, nr, nt)
        llr = detect(yu, hu, np.tile(eff, t), k)
        mean, var, ok = ofdm_estimation.decoded_symbols(llr, k, int(max_iter), decode=decode)
        mean, var = mean.reshape(t, nd, nt), var.reshape(t, nd, nt)
        y, h, err_d = ofdm_mimo.refine_with_symbols(
            y, h_pre, noise_var, err_cols, mean, var, layout, taps_pre, taps_post
        )
        eff = noise_var + err_d
        if ok.all():
            break
    yu = np.transpose(y[:, :, di], (1, 2, 0)).reshape(-1, nr)
    return yu, h[di], eff, ok
