"""``ofdm_pilot_phase_tracker``: removes the common phase drift of every OFDM payload symbol
(residual CFO, phase noise) measured on the pilots against the frame's preamble channel estimate."""

from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr

from ..ofdm import estimation
from ..ofdm.layout import OfdmLayout
from ..tags import CHAN_TAPS_KEY  # noqa: F401  (re-exported)
from . import _kernels
from ._common import BadInputCounter


def frame_segments(block, n, key):
    """Split ``[0, n)`` at the tags ``key`` of input 0: list of (start, stop, tag value or None)."""
    base = block.nitems_read(0)
    tags = sorted(block.get_tags_in_window(0, 0, n, pmt.intern(key)), key=lambda t: t.offset)
    cuts = [(int(t.offset - base), t.value) for t in tags]
    segs = []
    pos, val = 0, None
    for off, v in cuts:
        if off > pos:
            segs.append((pos, off, val))
        pos, val = off, v
    if pos < n:
        segs.append((pos, n, val))
    return segs


def taps_from_pmt(value, fft_len):
    try:
        h = np.asarray(pmt.c32vector_elements(value), dtype=np.complex64)
    except Exception:  # noqa: BLE001
        return None
    return h if h.size == fft_len and np.all(np.isfinite(h)) else None


class ofdm_pilot_phase_tracker(gr.sync_block):
    """Common-phase tracking of OFDM payload symbols from the pilots.

    Input/output: fft-shifted OFDM symbols after GNU Radio's FFT (complex vectors of ``fft_len``),
    frames started by the ``chan_tag_key`` tag (``ofdm_sync_chan_taps`` from
    ``ofdm_chanest_vcvc``, or ``dq_chan_est`` from ``ofdm_rx``'s header decoder; carried to the
    payload by ``header_payload_demux``). For symbol t of a frame,
    ``phi_t = angle(sum_p conj(h_p s_p) y_t[p])`` with h the (smoothed) preamble estimate, and the
    whole symbol is multiplied by ``exp(-j phi_t)`` (one call of the kernel library's C++
    ``ofdm_estimator.track`` per frame: :func:`gnuradio.deepquant.ofdm.estimation.pilot_correlations`
    and :func:`~gnuradio.deepquant.ofdm.estimation.linear_phase_fit` to float rounding). Residual CFO after Schmidl & Cox makes the
    phase drift linearly over a frame; this removes it (and any common phase noise).

    Parameters
    ----------
    fft_len, cp_len, n_codewords, bits_per_symbol : int
        The waveform (see :class:`gnuradio.deepquant.ofdm.OfdmLayout`).
    enabled : bool
        False passes the symbols through unchanged (to measure what tracking buys).
    linear_fit : bool
        Fit a straight line to the frame's phases (residual CFO) instead of using each symbol's
        own noisy 4-pilot phase (measured: channel-error MSE 1.30 -> see the module docs).
    chan_tag_key : str
        Tag with the frame's channel (c32vector of fft_len): ``ofdm_sync_chan_taps`` (GNU Radio's
        raw LS taps, smoothed here) or ``dq_chan_est`` (``ofdm_rx``'s own estimate, used as is).

    Symbols before the first tag, or with a non-finite tag, pass unchanged and are counted
    (``untracked_count``); symbols with NaN/inf samples are output as 0 and counted
    (``nonfinite_count``). ``last_phases`` holds the phases of the latest frame (radians).
    """

    def __init__(
        self,
        fft_len=64,
        cp_len=16,
        n_codewords=4,
        bits_per_symbol=6,
        enabled=True,
        chan_tag_key=CHAN_TAPS_KEY,
        linear_fit=True,
    ):
        self.layout = OfdmLayout(int(fft_len), int(cp_len), int(bits_per_symbol), int(n_codewords))
        gr.sync_block.__init__(
            self,
            name="ofdm_pilot_phase_tracker",
            in_sig=[(np.complex64, self.layout.fft_len)],
            out_sig=[(np.complex64, self.layout.fft_len)],
        )
        self.enabled = bool(enabled)
        self.linear_fit = bool(linear_fit)
        # whole frames per work() call (the stream holds whole frames from its start)
        self.set_output_multiple(self.layout.payload_ofdm_symbols)
        self.key = chan_tag_key
        # GNU Radio's raw LS taps are smoothed here; ofdm_rx's own estimate (dq_chan_est) already is
        self._smooth = chan_tag_key == CHAN_TAPS_KEY
        self._h = None
        self._cxx = _kernels.ofdm_estimator(self.layout)
        self.last_phases = np.zeros(0)
        self._bad = BadInputCounter(self.logger, "OFDM symbol(s) without a channel-taps tag passed untracked")
        self._bad_out = BadInputCounter(self.logger, "OFDM symbol(s) with non-finite samples output as 0")

    @property
    def untracked_count(self) -> int:
        return self._bad.count

    @property
    def nonfinite_count(self) -> int:
        return self._bad_out.count

    def set_enabled(self, enabled):
        self.enabled = bool(enabled)

    def work(self, input_items, output_items):
        x = input_items[0]
        n = len(x)
        out = output_items[0]
        for a, b, val in frame_segments(self, n, self.key):
            if val is not None:
                h = taps_from_pmt(val, self.layout.fft_len)
                self._h = h if (h is None or not self._smooth) else estimation.smooth_channel(h, self.layout)[0]
            if self._h is None or not self.enabled:
                if self._h is None:
                    self._bad.add(b - a)
                out[a:b] = x[a:b]
                fin = np.isfinite(out[a:b]).all(axis=1)
                if not fin.all():  # NaN/inf samples: the symbol is output as 0
                    out[a:b][~fin] = 0
                    self._bad_out.add(int((~fin).sum()))
                continue
            # C++ (ofdm_estimator.track): pilot correlations, phases (the weighted line of
            # estimation.linear_phase_fit on a whole frame), rotation; non-finite rows -> 0
            linear = self.linear_fit and val is not None and b - a == self.layout.payload_ofdm_symbols
            out[a:b], self.last_phases, n_bad = self._cxx.track(x[a:b], self._h, linear)
            if n_bad:
                self._bad_out.add(int(n_bad))
        return n
