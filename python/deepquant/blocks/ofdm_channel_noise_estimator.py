"""``ofdm_channel_noise_estimator``: per-subcarrier channel and noise variance of each OFDM frame,
serialised with the data symbols for the soft demapper (y, h, sigma^2 streams)."""
from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr

from ..ofdm import estimation
from ..ofdm.layout import OfdmLayout
from ._common import BadInputCounter
from .ofdm_pilot_phase_tracker import CHAN_TAPS_KEY, frame_segments, taps_from_pmt


class ofdm_channel_noise_estimator(gr.interp_block):
    """OFDM payload symbols -> (y, h, sigma^2) per data subcarrier, for ``soft_demapper_cf``.

    Input: fft-shifted payload OFDM symbols (complex vectors of ``fft_len``; after
    ``ofdm_pilot_phase_tracker``), frames started by the ``ofdm_sync_chan_taps`` tag (the LS
    estimate from the second sync word, ``|s| = 1``).

    Per frame: the LS estimate is projected onto channels with an impulse response within
    ``[-taps_pre, cp_len]`` samples (removes (K-L)/K of the estimation noise); the residual of
    that projection plus the pilot residuals of every symbol give sigma^2 (about K - L + 3.5 T
    degrees of freedom). With ``add_estimation_error`` the output variance is
    ``sigma^2 (1 + L/K)``: the smoothed estimate's own error acts as extra noise on y - h x.

    Outputs (one item per data subcarrier of every symbol, in carrier order):
      0 y (complex), 1 h (complex), 2 sigma^2 (float).
    Tags on the input (``ofdm_packet_num``, ...) are carried to the first item of the frame.

    Parameters
    ----------
    fft_len, cp_len, n_codewords, bits_per_symbol : int
        The waveform (see :class:`gnuradio.deepquant.ofdm.OfdmLayout`).
    taps_pre : int
        Samples of impulse response allowed before the timing point (early timing).
    add_estimation_error : bool
        Add the channel-estimation error variance to sigma^2.
    chan_tag_key : str
        ``ofdm_sync_chan_taps`` (GNU Radio's raw LS taps of sync word 2: smoothed and sigma^2
        estimated here) or ``dq_chan_est`` (``ofdm_rx``'s header decoder: estimate used as is,
        with sigma^2 and its error variance from the ``dq_noise_var`` / ``dq_est_err_var`` tags).

    decision_feedback : bool
        Decoder-aided re-estimation (``dq_chan_est`` frames): every frame is demapped (exact
        LLRs) and LDPC-decoded once here (GNU Radio's decoder, ``max_iter`` iterations); the
        codewords the decoder validated (all parity checks hold) are re-encoded and remapped,
        and with the pilots they re-estimate the common phase of every symbol and the channel
        (:func:`gnuradio.deepquant.ofdm.estimation.refine_with_known`, the preamble as prior).
        The outputs then carry the refined y, h and sigma^2, so the receiver's decoder gets a
        second chance at the codewords that failed. Costs one extra demap + decode per frame.
    max_iter : int
        BP iterations of that internal decoding.

    Symbols before the first tag or with a bad tag give h = 1, sigma^2 = 1e3 (LLRs near 0) and
    are counted (``bad_count``). ``noise_var_history`` keeps the last 1000 frame estimates;
    ``df_frames`` / ``df_known`` count refined frames and the codewords that were known.
    """

    def __init__(self, fft_len=64, cp_len=16, n_codewords=4, bits_per_symbol=6, taps_pre=4,
                 add_estimation_error=True, chan_tag_key=CHAN_TAPS_KEY, decision_feedback=False, max_iter=50):
        self.layout = OfdmLayout(int(fft_len), int(cp_len), int(bits_per_symbol), int(n_codewords))
        if not 0 <= int(taps_pre) < self.layout.cp_len:
            raise ValueError(f"ofdm_channel_noise_estimator: taps_pre must be in [0, cp_len), got {taps_pre}")
        self.nd = len(self.layout.occupied)
        gr.interp_block.__init__(self, name="ofdm_channel_noise_estimator",
                                 in_sig=[(np.complex64, self.layout.fft_len)],
                                 out_sig=[np.complex64, np.complex64, np.float32], interp=self.nd)
        self.taps_pre = int(taps_pre)
        self.set_output_multiple(self.layout.payload_ofdm_symbols * self.nd)
        self.add_err = bool(add_estimation_error)
        self.key = chan_tag_key
        self.decision_feedback = bool(decision_feedback)
        self.df_frames = self.df_known = 0
        self._dec = None
        if self.decision_feedback:
            from ..phy import ldpc

            if (self.layout.data_symbols * self.layout.bits_per_symbol) % ldpc.N:
                raise ValueError("ofdm_channel_noise_estimator: decision_feedback needs whole 648-bit codewords per frame")
            self._dec = ldpc.make_gr_ldpc_decoder(int(max_iter))
        self._frame = None  # (h_smooth, sum_sq_pre, dof_pre, err_factor)
        self.noise_var_history = []
        self._bad = BadInputCounter(self.logger, "OFDM symbol(s) without a valid channel-taps tag "
                                                 "(output with h=1, sigma^2=1e3)")

    @property
    def bad_count(self) -> int:
        return self._bad.count

    def _tag_double(self, offset, key):
        for t in self.get_tags_in_range(0, offset, offset + 1, pmt.intern(key)):
            try:
                return float(pmt.to_double(t.value))
            except Exception:  # noqa: BLE001
                return None
        return None

    def _start_frame(self, val, offset):
        h = taps_from_pmt(val, self.layout.fft_len)
        if h is None:
            self._frame = None
            return
        if self.key != CHAN_TAPS_KEY:  # ofdm_rx's estimate with its sigma^2 and error variance
            nv = self._tag_double(offset, "dq_noise_var")
            err = self._tag_double(offset, "dq_est_err_var")
            if nv is not None and err is not None and nv > 0:
                self._frame = [h, nv, None, err / nv]
                return
        hs, nv, err = estimation.smooth_channel(h, self.layout, self.taps_pre)
        k = len(self.layout.active)
        dof = k - (self.taps_pre + self.layout.cp_len + 1)
        self._frame = [hs, float(nv) * dof, dof, float(err / nv) if nv > 0 else 0.0]

    def _feedback(self, y, hs, nv, err_factor):
        """One frame: demap, decode, re-encode the validated codewords, re-estimate (see class doc)."""
        from ..phy import ldpc, mapping

        lay, di = self.layout, self.layout.data_idx
        k = lay.bits_per_symbol
        llr = np.asarray(mapping.demap_exact(y[:, di].reshape(-1).astype(np.complex64),
                                             np.broadcast_to(hs[di], (y.shape[0], self.nd)).reshape(-1).astype(np.complex64),
                                             np.float32(nv * (1.0 + err_factor)), k), dtype=np.float32).reshape(-1, ldpc.N)
        info = self._dec.decode(llr)
        ok = self._dec.last_iterations < self._dec.max_iter  # converged: every parity check holds
        self.df_frames += 1
        self.df_known += int(ok.sum())
        if not ok.any():
            return y, hs, err_factor
        cw = np.asarray(ldpc.encode(info), dtype=np.uint8)
        sym = np.asarray(mapping.map_bits(cw.reshape(-1, k), k), dtype=np.complex128).reshape(ok.size, -1)
        sym[~ok] = 0
        xk = np.zeros(y.shape, np.complex128)
        xk[:, di] = sym.reshape(y.shape[0], self.nd)
        y2, h2, err = estimation.refine_with_known(y, hs, nv, nv * err_factor, xk, lay, 0, 20)
        return y2, h2, err / nv

    def work(self, input_items, output_items):
        n = len(output_items[0]) // self.nd
        x = input_items[0][:n]
        di = self.layout.data_idx
        base = self.nitems_read(0)
        for a, b, val in frame_segments(self, n, self.key):
            oa, ob = a * self.nd, b * self.nd
            if val is not None:
                self._start_frame(val, base + a)
            if self._frame is None:
                self._bad.add(b - a)
                output_items[0][oa:ob] = x[a:b][:, di].reshape(-1)
                output_items[1][oa:ob] = 1.0
                output_items[2][oa:ob] = 1e3
                continue
            hs, s_pre, d_pre, err_factor = self._frame
            y = x[a:b]
            if d_pre is None:  # sigma^2 from the header decoder (preamble + header residuals)
                nv = s_pre
                if self._dec is not None and b - a == self.layout.payload_ofdm_symbols:
                    y, hs, err_factor = self._feedback(y, hs, nv, err_factor)
            else:
                # sigma^2 of the frame: preamble residual + pilot residuals of its symbols (work()
                # sees whole frames: the output multiple is one frame); pilot residuals are taken
                # against the smoothed estimate, so they carry its error too
                s_pil, d_pil = estimation.pilot_noise(y, hs, self.layout)
                nv = (s_pre + s_pil / (1.0 + err_factor)) / (d_pre + d_pil)
            if self.add_err:
                nv *= 1.0 + err_factor
            self.noise_var_history.append(nv)
            if len(self.noise_var_history) > 1000:
                del self.noise_var_history[:-1000]
            output_items[0][oa:ob] = y[:, di].reshape(-1)
            output_items[1][oa:ob] = np.broadcast_to(hs[di], (b - a, self.nd)).reshape(-1)
            output_items[2][oa:ob] = np.float32(nv)
        return n * self.nd
