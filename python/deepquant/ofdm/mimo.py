"""2x2 MIMO-OFDM frame numerics (flowgraph 2): frame layout with orthogonal pilots, per-subcarrier
channels, least-squares estimation. No GNU Radio import.

Frame (one packet): ``N_PILOT = nt`` pilot OFDM symbols -- in pilot symbol j only stream j
sends (BPSK sequence of sync word 2 on every data carrier), the other streams are silent --
followed by ``n_data_symbols`` OFDM symbols in which every stream sends QAM on every data
carrier. Resource elements are ordered symbol-major (all carriers of symbol 0, then symbol 1...).
Channel uses: y[k, t] = H[k] x[k, t] + n, H[k] (nr x nt) constant over the frame.
"""
from __future__ import annotations

import numpy as np

from . import channel as ofdm_channel
from .layout import OfdmLayout


def pilot_sequence(layout: OfdmLayout) -> np.ndarray:
    """BPSK pilot per data carrier (sync word 2 on the data carriers), complex64 [n_data]."""
    return layout.sync_words()[1][layout.data_idx].astype(np.complex64)


def frame_pilots(layout: OfdmLayout, nt: int) -> np.ndarray:
    """Pilot REs [nt pilot symbols, n_data carriers, nt streams]."""
    p = pilot_sequence(layout)
    out = np.zeros((nt, p.size, nt), np.complex64)
    for j in range(nt):
        out[j, :, j] = p
    return out


def channels(rng: np.random.Generator, layout: OfdmLayout, nr: int, nt: int, n: int, model: str = "epa",
             samp_rate: float = 20e6, torch_gen=None) -> np.ndarray:
    """``n`` per-subcarrier MIMO channels [n, n_data, nr, nt] (complex64), E|H_ij|^2 = 1.

    'epa': independent EPA-like impulse responses per antenna pair (delays rounded to samples
    at ``samp_rate``); 'rayleigh': i.i.d. CN(0, 1) per carrier (no frequency correlation);
    'cdla': 3GPP CDL-A (``phy.channels.cdl_a_channel``, 100 ns delay spread, the layout's carrier
    spacing ``samp_rate / fft_len``)."""
    k = np.asarray(layout.occupied)
    if model == "epa":
        d, p = ofdm_channel.epa_integer_profile(samp_rate)
        g = ofdm_channel.draw_taps(rng, d, p, n * nr * nt)
        h = ofdm_channel.frequency_response(g, k, layout.fft_len).reshape(n, nr, nt, k.size)
        return np.transpose(h, (0, 3, 1, 2)).astype(np.complex64)
    if model == "rayleigh":
        s = (n, k.size, nr, nt)
        return ((rng.standard_normal(s) + 1j * rng.standard_normal(s)) / np.sqrt(2)).astype(np.complex64)
    if model == "cdla":
        from ..phy import channels as phy_channels

        h = phy_channels.cdl_a_channel(n, k.size, nr, nt, delay_spread=100e-9,
                                       subcarrier_spacing=samp_rate / layout.fft_len,
                                       subcarriers=[float(v) for v in k], generator=torch_gen)
        return np.asarray(h.numpy() if hasattr(h, "numpy") else h, dtype=np.complex64).reshape(n, k.size, nr, nt)
    raise ValueError(f"unknown MIMO-OFDM channel model {model!r}; choose 'epa', 'rayleigh' or 'cdla'")


def ls_estimate(y_pilot: np.ndarray, layout: OfdmLayout, smooth: bool = True):
    """LS channel from the orthogonal pilot symbols, optionally smoothed over frequency.

    Parameters
    ----------
    y_pilot : ndarray complex [nt, n_data, nr]
        Received pilot REs (pilot symbol j carries only stream j).

    Returns
    -------
    h : ndarray complex64 [n_data, nr, nt]
    noise_var : float
        From the smoothing residual (when ``smooth``), else NaN.
    err_var : float
        Mean error variance of the estimate per entry, in units of sigma^2 (``L/K`` smoothed,
        1 raw).
    """
    from .estimation import _projector

    nt, nd, nr = y_pilot.shape
    p = pilot_sequence(layout)
    h = np.transpose(y_pilot / p[None, :, None], (1, 2, 0))  # [nd, nr, nt]
    if not smooth:
        return h.astype(np.complex64), float("nan"), 1.0
    act = tuple(int(c) for c in layout.occupied)
    proj, dof = _projector(layout.fft_len, act, 3, layout.cp_len - 2)
    flat = h.reshape(nd, -1).T  # [nr*nt, nd]
    sm = flat @ proj.T
    res = flat - sm
    nv = float(np.sum(np.abs(res) ** 2) / (max(dof, 1) * flat.shape[0]))
    return sm.T.reshape(nd, nr, nt).astype(np.complex64), nv, (nd - dof) / nd
