"""``mimo_ofdm_payload_estimator``: payload symbols of every receive chain and the header's channel
tags -> channel uses (y, H, sigma^2) for ``mimo_detector``, with pilot phase tracking and
optional decoder-aided re-estimation (numerics: :mod:`gnuradio.deepquant.ofdm.mimo_rx`)."""

from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr

from ..ofdm import mimo as ofdm_mimo
from ..ofdm import mimo_rx
from ..ofdm.layout import OfdmLayout
from ..tags import ERR_COLS_KEY, EST_ERR_KEY, NOISE_VAR_KEY, PACKET_NUM_KEY
from ..tags import MIMO_CHAN_KEY as CHAN_KEY
from . import _kernels
from ._common import BadInputCounter


class mimo_ofdm_payload_estimator(gr.interp_block):
    """Payload symbols of every chain + the header's channel tags -> channel uses for ``mimo_detector``.

    Inputs: Nr streams of fft-shifted payload symbols (T per packet), the first symbol of each
    packet on input 0 tagged with ``dq_mimo_chan_est``, ``dq_noise_var``, ``dq_est_err_var``
    (``dq_est_err_var_cols``) and ``ofdm_packet_num`` (from ``mimo_ofdm_header_decoder`` via
    ``header_payload_demux``).
    Outputs, one item per data channel use (T * 48 per packet, symbol-major): 0 y (vlen Nr, the
    packet's first tagged ``ofdm_packet_num``), 1 H (vlen Nr*Nt, row-major), 2 sigma^2 (float,
    noise plus the estimate's error: ``sigma^2 + Nt * err_var`` from the preamble, or with the
    decoder-aided re-estimation ``sigma^2`` plus the refined estimate's error on that carrier).
    Pilot common-phase tracking (:func:`gnuradio.deepquant.ofdm.mimo.payload_channel_uses`).

    ``decision_feedback``: decoder-aided re-estimation
    (:func:`gnuradio.deepquant.ofdm.mimo_rx.decoder_aided_reestimate`), the MIMO form of the SISO
    receiver's (``ofdm_channel_noise_estimator``): every packet is detected with LMMSE
    (:func:`gnuradio.deepquant.phy.mimo.lmmse`), LDPC-decoded (belief propagation with
    a-posteriori LLRs, ``max_iter`` iterations); validated codewords become known symbols of
    both streams, the others soft symbols (posterior means, weighted by their reliability);
    with the pilots they re-fit every antenna pair's impulse response on
    ``[-taps_pre, taps_post]`` samples, the preamble estimate as prior
    (:func:`gnuradio.deepquant.ofdm.mimo.refine_with_symbols`), ``feedback_rounds`` times
    (stopping when every codeword validated). The detector downstream -- any method -- then sees
    the refined channel and the per-carrier error of the refined estimate. With decision feedback
    on, tracking and every round run in one call of the kernel library's C++
    ``ofdm_estimator.feedback_mimo`` (the functions named above are its reference, equal to float
    rounding, and take over for more than 16 streams or a fit that is not positive definite).
    """

    def __init__(
        self,
        layout: OfdmLayout,
        nr: int,
        nt: int,
        phase_tracking: bool = True,
        decision_feedback: bool = False,
        max_iter: int = 50,
        feedback_rounds: int = 2,
        taps_pre: int = 0,
        taps_post: int = 20,
    ):
        self.layout, self.nr, self.nt = layout, int(nr), int(nt)
        self.nd = len(layout.occupied)
        gr.interp_block.__init__(
            self,
            name="mimo_ofdm_payload_estimator",
            in_sig=[(np.complex64, layout.fft_len)] * self.nr,
            out_sig=[(np.complex64, self.nr), (np.complex64, self.nr * self.nt), np.float32],
            interp=self.nd,
        )
        self.t = ofdm_mimo.td_payload_symbols(layout, self.nt)
        self.t0 = float(self.nt + layout.header_symbols)
        self.tracking = bool(phase_tracking)
        self.decision_feedback = bool(decision_feedback)
        self.max_iter, self.feedback_rounds = int(max_iter), int(feedback_rounds)
        self.taps_pre, self.taps_post = int(taps_pre), int(taps_post)
        if self.max_iter < 1 or self.feedback_rounds < 1:
            raise ValueError(
                f"mimo_ofdm_payload_estimator: max_iter and feedback_rounds must be >= 1, "
                f"got {max_iter}, {feedback_rounds}"
            )
        if self.decision_feedback:
            from ..phy import ldpc
            from ._common import configure_torch_threads

            configure_torch_threads()
            bits = self.t * self.nd * self.nt * layout.bits_per_symbol
            if bits % ldpc.N:
                raise ValueError(
                    f"mimo_ofdm_payload_estimator: decision_feedback needs whole 648-bit codewords "
                    f"per packet, got {bits} bits"
                )
        self.set_output_multiple(self.t * self.nd)
        self.set_tag_propagation_policy(gr.TPP_DONT)
        self._h = None
        self._nv = None
        self._noise = None
        self._err_cols = None
        self._num = None
        self._points = None
        self._ai = layout.idx(layout.active)
        self.noise_var_history = []
        self.untagged = 0
        self.df_packets = self.df_known = self.df_skipped = 0
        self.bad = BadInputCounter(self.logger, "packet(s) left unrefined")

    def _feedback(self, ys):
        """One packet: pilot phase tracking, then LMMSE detection, BP decoding, soft/validated
        symbols and re-estimation, all rounds in one C++ call (``ofdm_estimator.feedback_mimo``;
        equal to :func:`gnuradio.deepquant.ofdm.mimo.payload_channel_uses` followed by
        :meth:`_feedback_numpy` to float rounding)."""
        lay, nt = self.layout, self.nt
        if nt > _kernels.MAX_LMMSE_STREAMS:
            return self._feedback_numpy(ys)
        if self._points is None:
            from ..phy import mapping

            self._points = np.ascontiguousarray(mapping.constellation(lay.bits_per_symbol), np.complex128)
        r = _kernels.ofdm_estimator(lay).feedback_mimo(
            _kernels.lmmse_detector(self.nr, nt, lay.bits_per_symbol),
            _kernels.ldpc_decoder(),
            self._points,
            ys,
            self._h,
            self._noise,
            np.broadcast_to(np.asarray(self._err_cols, np.float64), (nt,)),
            float(self._nv),
            self.t0,
            self.tracking,
            self.max_iter,
            self.feedback_rounds,
            self.taps_pre,
            self.taps_post,
        )
        if r is None:  # normal equations not positive definite: the numeric core decides
            return self._feedback_numpy(ys)
        yu, hd, eff, n_known = r
        self.df_packets += 1
        self.df_known += int(n_known)
        return yu, hd, eff

    def _feedback_numpy(self, ys):
        """:meth:`_feedback` with the numeric core's steps (the C++ kernel's reference): pilot
        tracking (:func:`gnuradio.deepquant.ofdm.mimo.payload_channel_uses`), then
        :func:`gnuradio.deepquant.ofdm.mimo_rx.decoder_aided_reestimate` with the kernel library's
        C++ LMMSE detector and LDPC decoder."""
        phases = ofdm_mimo.payload_channel_uses(ys, self._h, self.layout, self.t0, self.tracking)[2]
        self.df_packets += 1
        y, h, eff, ok = mimo_rx.decoder_aided_reestimate(
            ys,
            phases,
            self._h,
            self._noise,
            self._err_cols,
            self._nv,
            self.layout,
            self.max_iter,
            self.feedback_rounds,
            self.taps_pre,
            self.taps_post,
            detect=_kernels.lmmse,
            decode=_kernels.bp_decode,
        )
        self.df_known += int(ok.sum())
        return y, h, eff

    def work(self, input_items, output_items):
        m = self.t * self.nd
        f = len(output_items[0]) // m
        base = self.nitems_read(0)
        tags = {}
        for t in self.get_tags_in_window(0, 0, f * self.t):
            tags.setdefault(int(t.offset - base), {})[pmt.symbol_to_string(t.key)] = t.value
        for i in range(f):
            tg = tags.get(i * self.t, {})
            if CHAN_KEY in tg:
                self._h = np.asarray(pmt.c32vector_elements(tg[CHAN_KEY]), np.complex64).reshape(
                    self.layout.fft_len, self.nr, self.nt
                )
                nv = pmt.to_double(tg[NOISE_VAR_KEY]) if NOISE_VAR_KEY in tg else 1.0
                err = pmt.to_double(tg[EST_ERR_KEY]) if EST_ERR_KEY in tg else 0.0
                self._noise = nv
                self._err_cols = (
                    np.asarray(pmt.f64vector_elements(tg[ERR_COLS_KEY]), np.float64)
                    if ERR_COLS_KEY in tg
                    else np.full(self.nt, err)
                )
                self._nv = nv + self.nt * err
            else:
                self.untagged += 1
            self._num = pmt.to_long(tg[PACKET_NUM_KEY]) if PACKET_NUM_KEY in tg else None
            sl = slice(i * m, (i + 1) * m)
            if self._h is None:
                output_items[0][sl] = 0
                output_items[1][sl] = 0
                output_items[2][sl] = 1.0
                continue
            ys = np.stack([np.asarray(input_items[r][i * self.t : (i + 1) * self.t]) for r in range(self.nr)])
            done = False
            if self.decision_feedback:
                ai = self._ai  # data and pilot carriers (what tracking and re-estimation read)
                if np.isfinite(ys[:, :, ai]).all() and np.isfinite(self._h[ai]).all() and np.isfinite(self._nv):
                    try:
                        y, hu, nv_use = self._feedback(ys)
                        done = True
                    except Exception as e:  # noqa: BLE001 - numerically degenerate packet: not refined
                        self.df_skipped += 1
                        self.bad.add(1, f"re-estimation failed ({type(e).__name__})")
                else:  # NaN/inf samples: the detector downstream flags them; no re-estimation
                    self.df_skipped += 1
            if not done:
                y, hu, _ = ofdm_mimo.payload_channel_uses(ys, self._h, self.layout, self.t0, self.tracking)
                nv_use = np.full(self.nd, self._nv)
            output_items[0][sl] = y
            output_items[1][sl] = np.broadcast_to(
                hu.reshape(1, self.nd, -1), (self.t, self.nd, self.nr * self.nt)
            ).reshape(m, -1)
            output_items[2][sl] = np.tile(nv_use, self.t).astype(np.float32)
            self.noise_var_history.append(float(np.mean(nv_use)))
            if self._num is not None:
                self.add_item_tag(
                    0, self.nitems_written(0) + i * m, pmt.intern(PACKET_NUM_KEY), pmt.from_long(self._num)
                )
        if len(self.noise_var_history) > 1000:
            del self.noise_var_history[:-1000]
        return f * m
