"""``ofdm_rx``: GNU Radio's OFDM synchronisation and header path, then the module's soft path
(pilot phase tracking, channel/noise estimation, exact soft demapping, soft-bit compression,
LDPC decoding) as an installed hierarchical block."""

from __future__ import annotations

import numpy as np
import pmt
from gnuradio import analog, blocks, digital, fft, gr

from ..ofdm.layout import OfdmLayout
from ..tags import CHAN_EST_KEY, EST_ERR_KEY, FRAME_KEY, LEN_KEY, NOISE_VAR_KEY, PACKET_NUM_KEY  # noqa: F401
from .exact_mixer_cc import exact_mixer_cc
from .finite_guard import finite_guard_cc

SOFTBIT_METHODS = ("none", "learned", "deepllr", "deepllr-ec", "maxmi", "maxmi-ec", "uniform", "uniform-ec", "int8")


def check_params(bits_per_symbol, softbit_method, demapper):
    if softbit_method not in SOFTBIT_METHODS:
        raise ValueError(f"ofdm_rx: softbit_method must be one of {SOFTBIT_METHODS}, got {softbit_method!r}")
    if demapper not in ("exact", "maxlog"):
        raise ValueError(f"ofdm_rx: demapper must be 'exact' or 'maxlog', got {demapper!r}")


class header_decoder(gr.sync_block):
    """Channel estimation from the preamble and header, header decoding, and the answer to
    ``header_payload_demux``.

    Input: the ``2 + header symbols`` OFDM symbols the demux outputs per trigger, after
    ``fft_vcc`` (fft-shifted vectors: sync word 1, sync word 2, header symbols).
    The impulse response is fitted on ``[-taps_pre, taps_post]`` samples after the FFT window
    start: with ``timing_advance=5`` the channel starts ~7 samples into the window, and EPA's 8
    samples plus the Schmidl & Cox timing jitter (+-4 samples at threshold 0.7) fit in [0, 20].
    (Measured at 26 dB, EPA, CFO 0.15: advance 8 with [-3, 14] left 1 % of the packets with
    10-17x the noise from the cut-off response and ISI -- FER 1.7e-2; advance 5 with [0, 20]:
    worst packet 1.4x, FER 6e-3.)
    Per packet: (1) channel from the two sync words
    (:func:`gnuradio.deepquant.ofdm.estimation.estimate_channel`); (2) header: the three
    replicas of every bit combined (MRC, ``Re(conj(h) y)``), CRC-8 checked; (3) once the CRC
    passed, the header symbols are known too and the channel, sigma^2 and the estimate's error
    variance are re-estimated from all 4 symbols. Message output ``header_data``: a dict
    (``frame_len`` payload OFDM symbols, ``packet_len`` data symbols, ``ofdm_packet_num``,
    ``dq_chan_est`` (c32vector), ``dq_noise_var``, ``dq_est_err_var``) which the demux puts on
    the payload's first symbol as tags, or ``#f`` for a failed header (the demux resumes its
    search). Counters: ``headers_ok``, ``headers_failed``. Steps (1)-(3) run in one call of the
    kernel library's C++ ``ofdm_estimator.decode_header`` (the functions named above are its
    reference, equal to float rounding; they take over for a fit that is not positive definite).
    """

    def __init__(self, layout: OfdmLayout, taps_pre: int = 0, taps_post: int = 20):
        gr.sync_block.__init__(self, name="ofdm_header_decoder", in_sig=[(np.complex64, layout.fft_len)], out_sig=None)
        from ..ofdm import header

        self.layout = layout
        self.taps_pre, self.taps_post = int(taps_pre), int(taps_post)
        self._header = header
        self.n_sym = 2 + layout.header_symbols
        self.port = pmt.intern("header_data")
        self.message_port_register_out(self.port)
        self._pending = []
        self.headers_ok = self.headers_failed = 0
        from ..ofdm import estimation

        from . import _kernels

        self._est = estimation
        self._x_sync = estimation.known_preamble(layout)
        self._cxx = _kernels.ofdm_estimator(layout)
        self._k_frame, self._v_frame = pmt.intern(FRAME_KEY), pmt.from_long(layout.payload_ofdm_symbols)
        self._k_len, self._v_len = pmt.intern(LEN_KEY), pmt.from_long(layout.data_symbols)
        self._k_num, self._k_chan = pmt.intern(PACKET_NUM_KEY), pmt.intern(CHAN_EST_KEY)
        self._k_nv, self._k_err = pmt.intern(NOISE_VAR_KEY), pmt.intern(EST_ERR_KEY)

    def work(self, input_items, output_items):
        x = np.asarray(input_items[0])
        n, i = len(x), 0
        if self._pending:  # complete the packet begun in an earlier call
            i = min(n, self.n_sym - len(self._pending))
            self._pending.extend(x[:i])
            if len(self._pending) == self.n_sym:
                self._packet(np.asarray(self._pending))
                self._pending = []
        while n - i >= self.n_sym:  # whole packets straight from the input buffer
            self._packet(x[i : i + self.n_sym])
            i += self.n_sym
        self._pending.extend(x[i:])
        return n

    def _packet(self, ys):
        lay = self.layout
        # C++ kernel (ofdm_estimator.decode_header): the steps below, to float rounding
        st, num, ncw, h, nv, err = self._cxx.decode_header(ys, self._x_sync, self.taps_pre, self.taps_post)
        if st < 0:  # a fit that was not positive definite: the numeric core's pseudo-inverse
            res, h, nv, err = self._packet_numpy(ys)
        else:
            res = (num, ncw) if st == 1 else None
        if res is None or res[1] != lay.n_codewords:
            self.headers_failed += 1
            self.message_port_pub(self.port, pmt.PMT_F)
            return
        self.headers_ok += 1
        d = pmt.make_dict()
        d = pmt.dict_add(d, self._k_frame, self._v_frame)
        d = pmt.dict_add(d, self._k_len, self._v_len)
        d = pmt.dict_add(d, self._k_num, pmt.from_long(res[0]))
        d = pmt.dict_add(d, self._k_chan, pmt.init_c32vector(lay.fft_len, h.tolist()))
        d = pmt.dict_add(d, self._k_nv, pmt.from_double(nv))
        d = pmt.dict_add(d, self._k_err, pmt.from_double(err))
        self.message_port_pub(self.port, d)

    def _packet_numpy(self, ys):
        """The numeric core's steps: (header fields or None, h, sigma^2, error variance)."""
        lay, est = self.layout, self._est
        di = lay.data_idx
        h0, nv0, _ = est.estimate_channel(ys[:2], self._x_sync, lay, self.taps_pre, self.taps_post)
        z = np.real(np.conj(h0[di])[None, :] * ys[2:, di])
        res = self._header.decode_header(z)
        if res is None:
            return None, None, None, None
        hsym = self._header.header_symbols(res[0], res[1], len(lay.occupied))
        xk = est.known_preamble(lay, hsym)
        h, nv, err = est.estimate_channel(ys, xk, lay, self.taps_pre, self.taps_post)
        return res, h, nv, err


def cxx_header_decoder(layout: OfdmLayout, taps_pre: int = 0, taps_post: int = 20):
    """``ofdm_rx``'s header decoder: the C++ ``ofdm_header_decoder`` set up from the layout. It
    answers ``header_payload_demux`` as :class:`header_decoder` does (the same messages;
    ``tests/blocks/qa_ofdm_channel_noise_estimator_vcc.py``), without the Python interpreter."""
    from .. import deepquant_python as dq
    from ..ofdm import estimation
    from . import _kernels

    return dq.ofdm_header_decoder(
        _kernels.ofdm_estimator(layout),
        [complex(v) for v in estimation.known_preamble(layout).reshape(-1)],
        int(layout.header_symbols),
        int(layout.n_codewords),
        int(layout.payload_ofdm_symbols),
        int(layout.data_symbols),
        int(taps_pre),
        int(taps_post),
        FRAME_KEY,
        LEN_KEY,
        PACKET_NUM_KEY,
        CHAN_EST_KEY,
        NOISE_VAR_KEY,
        EST_ERR_KEY,
    )


def cxx_demapper(bits_per_symbol: int, method: str = "exact"):
    """``ofdm_rx``'s soft demapper: the C++ ``soft_demapper_stream_cf``, the computation of
    :class:`~gnuradio.deepquant.blocks.soft_demapper_cf.soft_demapper_cf` with
    ``channel_input=True, noise_var_source='stream'`` (the same LLRs;
    ``tests/blocks/qa_ofdm_channel_noise_estimator_vcc.py``)."""
    from .. import deepquant_python as dq
    from ..phy import mapping
    from . import _kernels

    if method not in ("exact", "maxlog"):
        raise ValueError(f"ofdm_rx: demapper must be 'exact' or 'maxlog', got {method!r}")
    k = int(bits_per_symbol)
    return dq.soft_demapper_stream_cf(
        _kernels.qam_demapper(k), [complex(p) for p in mapping.constellation(k)], method == "maxlog", 0.0
    )


def payload_estimator(layout, decision_feedback=True, max_iter=50, phase_tracking=True, feedback_rounds=2):
    """``ofdm_rx``'s payload estimator: the C++ ``ofdm_channel_noise_estimator_vcc`` set up from the
    layout and the numeric core's tables. It computes what the Python
    :class:`~gnuradio.deepquant.blocks.ofdm_channel_noise_estimator.ofdm_channel_noise_estimator`
    computes with ``chan_tag_key='dq_chan_est'``, ``taps_pre=4``, ``add_estimation_error=True``
    and ``soft_feedback=True``, ``taps_post=15`` (the same outputs; ``tests/blocks/qa_ofdm_rx_cxx_estimator.py``).
    Parameters as that block's."""
    from .. import deepquant_python as dq
    from ..phy import ldpc, mapping
    from . import _kernels

    if int(max_iter) < 1:
        raise ValueError(f"ofdm_rx: max_iter must be >= 1, got {max_iter}")
    if int(feedback_rounds) < 1:
        raise ValueError(f"ofdm_rx: feedback_rounds must be >= 1, got {feedback_rounds}")
    k = layout.bits_per_symbol
    if decision_feedback and (layout.data_symbols * k) % ldpc.N:
        raise ValueError("ofdm_rx: decision_feedback needs whole 648-bit codewords per frame")
    return dq.ofdm_channel_noise_estimator_vcc(
        _kernels.ofdm_estimator(layout),
        [int(i) for i in layout.data_idx],
        _kernels.qam_demapper(k),
        _kernels.ldpc_decoder(),
        [complex(p) for p in mapping.constellation(k)],
        int(layout.payload_ofdm_symbols),
        bool(decision_feedback),
        int(max_iter),
        int(feedback_rounds),
        True,
        15,
        bool(phase_tracking),
        True,
        CHAN_EST_KEY,
    )


class ofdm_rx(gr.hier_block2):
    """OFDM receiver with real synchronisation and a soft LLR path to the LDPC decoder.

    Input: complex baseband (from ``ofdm_tx`` through a channel, a file, or an SDR source).
    Outputs:
      0 decoded information bits (bytes 0/1, 324 per codeword, ``n_codewords`` per packet),
        tagged ``ofdm_packet_num`` (from the header) on each packet's first bit; with
        ``decoder_threads=0`` the LLRs instead (float, 648 per codeword);
      1 equalised data symbols y/h (complex, for a constellation display);
      2 per-data-subcarrier channel estimate h (complex, ``len(occupied)`` per OFDM symbol).

    Chain: ``tag_gate`` (incoming tags dropped) -> ``ofdm_sync_sc_cfb`` (Schmidl & Cox timing and fractional CFO) -> CFO correction ->
    ``header_payload_demux`` -> header: ``fft_vcc``, header decoder (C++ ``ofdm_header_decoder``,
    :class:`header_decoder`'s computation: channel from the sync words, MRC of the 3 header
    replicas, CRC-8, then channel/sigma^2 re-estimated with the header known; tells the demux the
    payload length and hands it the estimates as tags) -> payload: ``fft_vcc`` -> C++
    ``ofdm_channel_noise_estimator_vcc`` (``ofdm_channel_noise_estimator``'s computation:
    ``ofdm_pilot_phase_tracker``'s pilot phase tracking, then estimation and decoder-aided
    re-estimation, in one block) -> C++ ``soft_demapper_stream_cf`` (``soft_demapper_cf``'s
    computation with h and sigma^2 streams) -> [``softbit_compressor`` ->
    ``softbit_decompressor``] -> [HARQ: ``harq_combiner_ff`` (chase combining with the
    ``harq_buffer`` it holds)] -> ``ldpc_decoder_fb``.
    LLR convention ``L = ln P(b=1)/P(b=0)``.

    Parameters
    ----------
    fft_len, cp_len, n_codewords, bits_per_symbol : int
        Must match the transmitter.
    softbit_method : str
        LLR storage between demapper and decoder: 'none' (float LLRs) or a codec of
        :mod:`gnuradio.deepquant.softbit` ('learned', 'uniform', 'maxmi', 'int8', ...).
    softbit_bits : int
        Bits per soft bit for 'uniform'/'maxmi' (0 = codec default).
    demapper : {'exact', 'maxlog'}
    max_iter : int
        LDPC BP iterations.
    sync_threshold : float
        Schmidl & Cox plateau threshold (0..1).
    phase_tracking : bool
        Pilot common-phase tracking on/off.
    timing_advance : int
        Samples every FFT window is moved later than where GNU Radio's Schmidl & Cox timing puts
        it (that trigger lands ~12 samples into a 16-sample cyclic prefix, so multipath longer
        than 4 samples would leak the previous symbol in). 5 keeps EPA's 8 samples clean with
        +-4 samples of timing jitter, erring early (a late window takes the next symbol's
        strongest taps, an early one only the previous symbol's weakest).
    harq_period : int
        0: no HARQ. P > 0: retransmission mode -- packet ``n + P`` is the retransmission of packet
        ``n`` (the transmitter sends the same payload again); every packet's LLRs go through
        ``harq_combiner_ff`` and its ``harq_buffer`` (``self.harq``), which chase-combine them
        with the stored LLRs of the same ``harq_id`` (``n mod P``), store the result compressed
        with ``harq_method``, and release the entry
        when an ``ack`` message names it (message input port ``ack``: connect the ``ack`` output
        of ``packet_crc_check``, or of the FER counter for a genie ack). So a packet that failed is decoded again from the sum
        of both transmissions' LLRs.
    harq_method : str
        Soft-bit codec of the HARQ buffer (:func:`gnuradio.deepquant.softbit.make_codec`).
    harq_bits : int
        Bits per soft bit for 'uniform'/'maxmi' HARQ storage (0 = codec default).
    harq_max_bytes : int
        HARQ buffer size (bytes).
    harq_wait_decisions : bool
        Combine in stream order (``harq_combiner_ff``'s ``wait_for_decisions``): connect a
        ``packet_crc_check``'s ``decision`` port to this block's ``decision`` input; the results
        then do not depend on thread timing. False: ``ack`` messages release entries when they
        arrive.
    decision_feedback : bool
        Decoder-aided re-estimation in ``ofdm_channel_noise_estimator``: every frame is demapped
        and decoded there (two rounds), the validated codewords (all parity checks hold) as known
        symbols and the others as soft decisions from the decoder's posteriors re-estimate, with
        the pilots, each symbol's common phase and the channel (preamble as prior); the demapper
        and decoder then see the refined estimate. Two extra demaps + decodes per frame (C++
        kernels); measured gain in the README ("Flowgraph 1").
    decoder_threads : int
        GNU Radio LDPC decoder instances in parallel (``ldpc_decoder_fb`` ``threads``); 0 = no
        decoder inside: output 0 then carries the float LLRs (648 per codeword, standard order,
        ``L = ln P(b=1)/P(b=0)``) for an external decoder. Throughput per setting:
        docs/throughput.md.
    """

    def __init__(
        self,
        fft_len=64,
        cp_len=16,
        n_codewords=4,
        bits_per_symbol=6,
        softbit_method="none",
        softbit_bits=0,
        demapper="exact",
        max_iter=50,
        sync_threshold=0.7,
        phase_tracking=True,
        timing_advance=5,
        harq_period=0,
        harq_method="learned",
        harq_bits=0,
        harq_max_bytes=1 << 20,
        decision_feedback=True,
        decoder_threads=1,
        harq_wait_decisions=False,
    ):
        check_params(bits_per_symbol, softbit_method, demapper)
        if int(harq_period) < 0:
            raise ValueError(f"ofdm_rx: harq_period must be >= 0 (0 = no HARQ), got {harq_period}")
        if not 0 <= int(decoder_threads) <= 16:
            raise ValueError(f"ofdm_rx: decoder_threads must be in [0, 16] (0 = LLR output), got {decoder_threads}")
        self.decoder_threads = int(decoder_threads)
        out0 = gr.sizeof_char if self.decoder_threads else gr.sizeof_float
        gr.hier_block2.__init__(
            self,
            "ofdm_rx",
            gr.io_signature(1, 1, gr.sizeof_gr_complex),
            gr.io_signature.makev(3, 3, [out0, gr.sizeof_gr_complex, gr.sizeof_gr_complex]),
        )
        from . import ldpc_blocks

        lay = self.layout = OfdmLayout(int(fft_len), int(cp_len), int(bits_per_symbol), int(n_codewords))
        n, cp = lay.fft_len, lay.cp_len
        # --- sync -----------------------------------------------------------------------------
        self.sync = digital.ofdm_sync_sc_cfb(n, cp, False, float(sync_threshold))
        if not 0 <= int(timing_advance) < cp:
            raise ValueError(f"ofdm_rx: timing_advance must be in [0, cp_len), got {timing_advance}")
        # GNU Radio's Schmidl & Cox trigger puts the FFT window about 12 samples before the
        # symbol (measured with a 16-sample CP); EPA's 8-sample delay spread then leaks the
        # previous symbol into the window. Delaying the data path timing_advance samples less
        # than n + cp moves every window that much later.
        self.delay = blocks.delay(gr.sizeof_gr_complex, n + cp - int(timing_advance))
        self.osc = analog.frequency_modulator_fc(-2.0 / n)
        self.mixer = exact_mixer_cc()  # not blocks.multiply_cc: see exact_mixer_cc
        self.hpd = digital.header_payload_demux(2 + lay.header_symbols, n, cp, FRAME_KEY, "", True)
        # Incoming tags (a transmitter's packet_len, an SDR's rx_time ...) would be copied onto the
        # header stream by header_payload_demux and override the parsed packet length: drop them.
        self.gate = blocks.tag_gate(gr.sizeof_gr_complex, False)
        self.guard = finite_guard_cc(1, "received samples")  # NaN/inf never reach the C++ sync
        self.connect(self, self.guard, self.gate, self.sync)
        self.connect(self.gate, self.delay, (self.mixer, 0), (self.hpd, 0))
        self.connect((self.sync, 0), self.osc, (self.mixer, 1))
        self.connect((self.sync, 1), (self.hpd, 1))
        # --- header ---------------------------------------------------------------------------
        self.header_fft = fft.fft_vcc(n, True, (), True)
        self.header_dec = cxx_header_decoder(lay)
        self.connect((self.hpd, 0), self.header_fft, self.header_dec)
        self.msg_connect(self.header_dec, "header_data", self.hpd, "header_data")
        # --- payload: the module's soft path ----------------------------------------------------
        self.payload_fft = fft.fft_vcc(n, True, (), True)
        # pilot phase tracking, estimation and decoder-aided re-estimation in one C++ block (the
        # computation of ofdm_channel_noise_estimator with phase_tracking, without the interpreter)
        self.estimator = payload_estimator(lay, bool(decision_feedback), int(max_iter), bool(phase_tracking))
        # the soft demapper with h and sigma^2 streams in C++ (soft_demapper_cf's computation)
        self.demapper = cxx_demapper(lay.bits_per_symbol, demapper)
        self.demapper.set_output_multiple(lay.coded_bits)  # whole frames per call
        self.decoder = (
            ldpc_blocks.ldpc_decoder_fb(int(max_iter), self.decoder_threads) if self.decoder_threads else None
        )
        self.connect((self.hpd, 1), self.payload_fft, self.estimator)
        self.connect((self.estimator, 0), (self.demapper, 0))
        self.connect((self.estimator, 1), (self.demapper, 1))
        self.connect((self.estimator, 2), (self.demapper, 2))
        self.softbit_method = softbit_method
        if softbit_method == "none":
            self.compressor = self.decompressor = None
            llr_out = self.demapper
        else:
            from .softbit_blocks import softbit_compressor, softbit_decompressor

            cw_uses = 648 // lay.bits_per_symbol
            self.compressor = softbit_compressor(
                lay.bits_per_symbol, softbit_method, cw_uses, "", "", int(softbit_bits)
            )
            self.decompressor = softbit_decompressor(lay.bits_per_symbol, softbit_method, "", int(softbit_bits), "")
            self.connect(self.demapper, self.compressor)
            self.msg_connect(self.compressor, "pdus", self.decompressor, "pdus")
            llr_out = self.decompressor
        # --- HARQ (retransmission mode) ------------------------------------------------------------
        self.message_port_register_hier_in("ack")
        self.message_port_register_hier_in("decision")
        self.harq_period = int(harq_period)
        if self.harq_period:
            from .harq_combiner_ff import harq_combiner_ff

            self.harq_combiner = harq_combiner_ff(
                lay.coded_bits,
                self.harq_period,
                lay.bits_per_symbol,
                harq_method,
                int(harq_bits),
                int(harq_max_bytes),
                wait_for_decisions=bool(harq_wait_decisions),
            )
            self.harq = self.harq_combiner.buffer
            self.connect(llr_out, self.harq_combiner)
            llr_out = self.harq_combiner
            self.msg_connect(self, "ack", self.harq_combiner, "ack")
            self.msg_connect(self, "decision", self.harq_combiner, "decision")
        else:
            self.harq = self.harq_combiner = None
        if self.decoder is not None:
            self.connect(llr_out, self.decoder, (self, 0))
        else:
            self.connect(llr_out, (self, 0))
        # --- monitoring outputs -------------------------------------------------------------------
        self.eq_div = exact_mixer_cc("div")
        self.connect((self.estimator, 0), (self.eq_div, 0))
        self.connect((self.estimator, 1), (self.eq_div, 1))
        self.connect(self.eq_div, (self, 1))
        self.connect((self.estimator, 1), (self, 2))

    def stored_bits_per_llr(self) -> float:
        """Bytes the soft-bit compressor produced, in bits per LLR (32 for float LLRs); NaN before
        the first frame."""
        if self.compressor is None:
            return 32.0
        c = self.compressor
        n = c.frames_out * 648
        return 8.0 * c.bytes_out / n if n else float("nan")

    def noise_var_estimates(self) -> np.ndarray:
        """sigma^2 estimates of the latest frames (up to 1000)."""
        return np.asarray(self.estimator.noise_var_history(), dtype=np.float64)
