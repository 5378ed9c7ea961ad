"""Flowgraph 2 in the time domain: 2x2 (any Nr x Nt) MIMO-OFDM with real OFDM modulation and
synchronisation.

* ``mimo_ofdm_tx``          info bits -> LDPC -> QAM -> Nt streams of GNU Radio OFDM packets
  (carrier allocator, IFFT, cyclic prefix): Schmidl & Cox word, Nt time-orthogonal long-training
  symbols, a CRC header, the payload (packet layout: :mod:`gnuradio.deepquant.ofdm.mimo`).
* ``mimo_ofdm_impairments`` multipath taps per antenna pair (EPA-like, or 3GPP CDL-A of the whole
  array; one independent draw per packet), carrier frequency offset, white noise and a
  sampling-rate offset, in the time domain.
* ``mimo_ofdm_rx``          Nr receive chains sharing one Schmidl & Cox timing and CFO estimate
  (GNU Radio's ``ofdm_sync_sc_cfb`` on chain 0), one ``header_payload_demux`` and FFT per chain,
  LS estimation of every antenna pair from the training symbols, header decoding (MRC over the
  chains), pilot phase tracking -> y, H, sigma^2 per data channel use for ``mimo_detector``.
  A longer cyclic prefix (``cp_len=32`` for CDL-A at 100 ns) moves the timing advance and the
  channel-fit window with it and turns on a Schmidl & Cox trigger hold-off
  (:class:`sc_trigger_holdoff`).

Conventions: y = H x + n per data subcarrier, H (Nr x Nt, row-major), unit-energy 38.211 QAM per
stream, ``n ~ CN(0, sigma^2 I)``; SNR = E||H||_F^2 / sigma^2 (EQ-Net's definition).
"""
from __future__ import annotations

import numpy as np
import pmt
from gnuradio import analog, blocks, digital, fft, gr

from ..ofdm import mimo as ofdm_mimo
from ..ofdm.layout import OfdmLayout
from ..tags import ERR_COLS_KEY, EST_ERR_KEY, FRAME_KEY, LEN_KEY, NOISE_VAR_KEY, PACKET_NUM_KEY  # noqa: F401
from ..tags import MIMO_CHAN_KEY as CHAN_KEY
from . import _kernels
from ._common import BadInputCounter, zero_nonfinite
from .exact_mixer_cc import exact_mixer_cc
from .finite_guard import finite_guard_cc

MODELS = ("epa", "flat", "none", "cdla")


def make_layout(fft_len=64, cp_len=16, n_codewords=8, bits_per_symbol=6, nt=2) -> OfdmLayout:
    """The layout of a time-domain MIMO-OFDM packet (raises ValueError naming the fix when the
    codewords do not fill whole OFDM symbols on ``nt`` streams)."""
    if int(nt) < 1:
        raise ValueError(f"nt must be >= 1, got {nt}")
    lay = OfdmLayout(int(fft_len), int(cp_len), int(bits_per_symbol), int(n_codewords))
    ofdm_mimo.td_payload_symbols(lay, int(nt))
    return lay


class mimo_ofdm_tx(gr.hier_block2):
    """MIMO-OFDM transmitter: Nt spatially multiplexed streams of GNU Radio OFDM packets.

    Input: unpacked information bits (bytes 0/1), ``324 * n_codewords`` per packet.
    Outputs: Nt complex baseband streams (one per transmit antenna), sample-aligned, packets of
    ``(1 + Nt + 2 + T) * (fft_len + cp_len) + fft_len/2`` samples tagged ``packet_len``.

    Chain: ``ldpc_encoder_bb`` -> ``qam_mapper`` -> ``blocks.deinterleave`` (channel use = Nt
    consecutive symbols, stream j takes symbol j, so LLRs come out stream-major) -> per stream
    ``tagged_stream_mux`` (header | payload) -> ``ofdm_carrier_allocator_cvc`` (preamble symbols
    of :func:`gnuradio.deepquant.ofdm.mimo.td_sync_words`, pilots) -> ``fft_vcc`` (inverse) ->
    ``ofdm_cyclic_prefixer`` -> ``1/fft_len`` -> ``burst_shaper_cc`` (guard zeros).
    Stream 0 carries the Schmidl & Cox word and the BPSK header; training symbol ``1 + j`` is sent
    by stream j alone. With GNU Radio's unnormalised receive FFT, a data subcarrier reads
    ``y = H x + n``, ``Var(n) = fft_len * sigma_t^2``.

    Parameters
    ----------
    nt : int
        Transmit streams.
    n_codewords : int
        802.11n (648, 324) codewords per packet (8 for 2 streams of 9 symbols of 48 x 64-QAM).
    bits_per_symbol : int
    fft_len, cp_len : int
    """

    def __init__(self, nt=2, n_codewords=8, bits_per_symbol=6, fft_len=64, cp_len=16):
        nt = int(nt)
        lay = self.layout = make_layout(fft_len, cp_len, n_codewords, bits_per_symbol, nt)
        gr.hier_block2.__init__(self, "mimo_ofdm_tx", gr.io_signature(1, 1, gr.sizeof_char),
                                gr.io_signature(nt, nt, gr.sizeof_gr_complex))
        from . import ldpc_blocks, qam_mapper
        from .ofdm_tx import header_gen_bc

        self.nt = nt
        self.t = ofdm_mimo.td_payload_symbols(lay, nt)
        per_stream = self.t * len(lay.occupied)
        self.encoder = ldpc_blocks.ldpc_encoder_bb()
        self.mapper = qam_mapper.qam_mapper(lay.bits_per_symbol)
        self.split = blocks.deinterleave(gr.sizeof_gr_complex, 1)
        self.header_gen = header_gen_bc(lay)
        self.connect(self, self.encoder, self.mapper, self.split)
        self.connect(self.encoder, self.header_gen)
        words = ofdm_mimo.td_sync_words(lay, nt)
        self._keep = []
        for j in range(nt):
            ptag = blocks.stream_to_tagged_stream(gr.sizeof_gr_complex, 1, per_stream, LEN_KEY)
            hsrc = self.header_gen if j == 0 else blocks.multiply_const_cc(0.0)
            if j:
                self.connect(self.header_gen, hsrc)
            htag = blocks.stream_to_tagged_stream(gr.sizeof_gr_complex, 1, self.header_gen.n_out, LEN_KEY)
            mux = blocks.tagged_stream_mux(gr.sizeof_gr_complex, LEN_KEY, 1)
            alloc = digital.ofdm_carrier_allocator_cvc(lay.fft_len, lay.gr_occupied(), lay.gr_pilots(),
                                                       lay.gr_pilot_symbols(), [list(w) for w in words[j]],
                                                       LEN_KEY, True)
            ifft = fft.fft_vcc(lay.fft_len, False, (), True)
            cp = digital.ofdm_cyclic_prefixer(lay.fft_len, lay.fft_len + lay.cp_len, 0, LEN_KEY)
            scale = blocks.multiply_const_cc(1.0 / lay.fft_len)
            guard = digital.burst_shaper_cc([], 0, lay.guard_len, False, LEN_KEY)
            self.connect((self.split, j), ptag, (mux, 1))
            self.connect(hsrc, htag, (mux, 0))
            self.connect(mux, alloc, ifft, cp, scale, guard, (self, j))
            self._keep += [ptag, hsrc, htag, mux, alloc, ifft, cp, scale, guard]

    def samples_per_packet(self) -> int:
        return ofdm_mimo.td_samples_per_packet(self.layout, self.nt)


class mimo_ofdm_fading_core(gr.sync_block):
    """The sample-synchronous part of :class:`mimo_ofdm_impairments` (multipath per antenna pair,
    CFO, noise; parameters as there). ``mimo_ofdm_impairments`` wraps it and adds the
    sampling-rate offset, which changes the number of samples."""

    def __init__(self, nr=2, nt=2, snr_db=26.0, cfo_subcarriers=0.0, model="epa", samp_rate=20e6, fft_len=64, seed=0,
                 len_tag_key=LEN_KEY, delay_spread=100e-9):
        self.nr, self.nt = int(nr), int(nt)
        if self.nr < 1 or self.nt < 1:
            raise ValueError(f"mimo_ofdm_impairments: nr and nt must be >= 1, got {nr}, {nt}")
        if model not in MODELS:
            raise ValueError(f"mimo_ofdm_impairments: model must be one of {MODELS}, got {model!r}")
        if not samp_rate > 0 or int(fft_len) < 2:
            raise ValueError("mimo_ofdm_impairments: samp_rate must be > 0 and fft_len >= 2")
        if not 0 <= float(delay_spread) <= 2e-6:
            raise ValueError(f"mimo_ofdm_impairments: delay_spread must be in [0, 2e-6] s (CDL-A rms delay spread), "
                             f"got {delay_spread}")
        gr.sync_block.__init__(self, name="mimo_ofdm_impairments", in_sig=[np.complex64] * self.nt,
                               out_sig=[np.complex64] * self.nr)
        from ..ofdm import channel as ofdm_channel

        self.model = model
        self.fft_len = int(fft_len)
        self.samp_rate = float(samp_rate)
        self.delay_spread = float(delay_spread)
        if model == "epa":
            self.delays, self.powers = ofdm_channel.epa_integer_profile(float(samp_rate))
        else:
            self.delays, self.powers = np.array([0]), np.array([1.0])
        self._draw_taps = ofdm_channel.draw_taps
        self.ntaps = int(self.delays.max()) + 1
        if model == "cdla":
            import torch

            self._torch_gen = torch.Generator().manual_seed(int(seed))
            self.ntaps = ofdm_mimo.cdl_a_span(self.samp_rate, self.delay_spread)
            self._band = min(max(abs(k) for k in OfdmLayout().active), self.fft_len // 2 - 1)
        # channel draws and noise from separate generators, the noise drawn sample-major
        # ([n, nr, re/im]): both sequences are then the same whatever chunks the scheduler hands
        # work(), so every run (every detector) at one seed sees the same channels and noise
        self.rng = np.random.default_rng(int(seed))
        self.noise_rng = np.random.default_rng([int(seed), 1])
        self.key = pmt.intern(len_tag_key)
        self._hist = np.zeros((self.nt, self.ntaps - 1), np.complex64)
        self._phase = 0.0
        self.taps_history = []
        self.bad = BadInputCounter(self.logger, "non-finite transmit samples taken as 0")
        self.overflow = BadInputCounter(self.logger, "received samples beyond complex64 range output as 0")
        self.set_snr_db(snr_db)
        self.set_cfo_subcarriers(cfo_subcarriers)
        self._g = self._draw()
        self.set_tag_propagation_policy(gr.TPP_ONE_TO_ONE if self.nr == self.nt else gr.TPP_DONT)

    def set_snr_db(self, snr_db):
        from ..phy.channels import snr_to_noise_var

        self.snr_db = float(snr_db)
        self.noise_var = float(snr_to_noise_var(self.snr_db, self.nr, self.nt))
        self._sigma_t = np.sqrt(self.noise_var / self.fft_len / 2)

    def set_cfo_subcarriers(self, cfo):
        if abs(float(cfo)) >= 0.5:
            raise ValueError(f"mimo_ofdm_impairments: |cfo_subcarriers| must be < 0.5 (the receiver corrects "
                             f"fractional offsets only), got {cfo}")
        self.cfo = float(cfo)
        self._w = 2 * np.pi * self.cfo / self.fft_len

    def _draw(self):
        if self.model == "none":
            g = np.zeros((self.nr, self.nt, 1), np.complex64)
            for i in range(min(self.nr, self.nt)):
                g[i, i, 0] = 1
        elif self.model == "cdla":
            taps, _ = ofdm_mimo.cdl_a_taps(1, self.nr, self.nt, self.fft_len, self.samp_rate, self.delay_spread,
                                           band=self._band, generator=self._torch_gen)
            g = taps[0].astype(np.complex64)
        else:
            g = self._draw_taps(self.rng, self.delays, self.powers, self.nr * self.nt)
            g = g.reshape(self.nr, self.nt, -1).astype(np.complex64)
        self.taps_history.append(g)
        if len(self.taps_history) > 1000:
            del self.taps_history[:-1000]
        return g

    def _filter(self, seg):
        """seg [nt, m] -> [nr, m] with the current taps and the filter memory."""
        m = seg.shape[1]
        xx = np.concatenate([self._hist, seg], axis=1)  # [nt, L-1+m]
        y = np.zeros((self.nr, m), np.complex128)
        for l in range(self.ntaps):
            if np.any(self._g[:, :, l]):
                y += self._g[:, :, l] @ xx[:, self.ntaps - 1 - l: self.ntaps - 1 - l + m]
        if self.ntaps > 1:
            self._hist = xx[:, xx.shape[1] - (self.ntaps - 1):]
        return y

    def work(self, input_items, output_items):
        n = len(output_items[0])
        x = zero_nonfinite(np.stack([np.asarray(input_items[j][:n]) for j in range(self.nt)]), self.bad)
        base = self.nitems_read(0)
        offs = sorted({int(t.offset - base) for t in self.get_tags_in_window(0, 0, n, self.key)})
        y = np.zeros((self.nr, n), np.complex128)
        pos = 0
        for c in offs + [n]:
            if c > pos:
                y[:, pos:c] = self._filter(x[:, pos:c])
            if c < n:
                self._g = self._draw()
            pos = c
        rot = np.exp(1j * (self._phase + self._w * np.arange(n)))
        self._phase = float(np.mod(self._phase + self._w * n, 2 * np.pi))
        y *= rot[None, :]
        w = self.noise_rng.standard_normal((n, self.nr, 2))
        y += (w[:, :, 0] + 1j * w[:, :, 1]).T * self._sigma_t
        y = zero_nonfinite(y.astype(np.complex64), self.overflow)
        for r in range(self.nr):
            output_items[r][:n] = y[r]
        return n


class mimo_ofdm_impairments(gr.hier_block2):
    """Time-domain MIMO channel for MIMO-OFDM loopbacks: multipath per antenna pair, CFO, noise,
    sampling-rate offset.

    ``y_r[n] = e^{j 2 pi f n} sum_j (g_rj * x_j)[n] + w_r[n]``: an independent tap vector
    ``g_rj`` per antenna pair, drawn anew at every ``len_tag_key`` tag on input 0 (block fading,
    one realisation per packet); one carrier offset ``f`` for all chains (shared oscillator);
    white noise ``w_r ~ CN(0, sigma^2 / fft_len)`` so that a data subcarrier after the receiver's
    FFT has noise variance ``sigma^2`` with ``SNR = E||H||_F^2 / sigma^2``. With ``sro_ppm`` != 0
    every receive chain is then resampled by GNU Radio's ``filter.mmse_resampler_cc`` with the
    same ratio ``1 + sro_ppm * 1e-6`` (one sampling clock for all chains; the convention of
    ``channels.channel_model``'s epsilon, which ``ofdm_impairments`` of flowgraph 1 uses).

    Inputs: Nt complex streams (``mimo_ofdm_tx``). Outputs: Nr complex streams.

    Parameters
    ----------
    nr, nt : int
    snr_db : float
        ``E||H||_F^2 / sigma^2`` per subcarrier (:func:`gnuradio.deepquant.phy.channels.snr_to_noise_var`).
    cfo_subcarriers : float
        Carrier frequency offset in subcarrier spacings (|cfo| < 0.5).
    model : {'epa', 'flat', 'none', 'cdla'}
        'epa': LTE EPA power-delay profile with delays rounded to samples at ``samp_rate``
        (0..8 samples at 20 Msps), Rayleigh taps, E sum|g|^2 = 1; 'flat': one Rayleigh tap per
        pair; 'none': identity for r == j, 0 otherwise; 'cdla': 3GPP CDL-A of the whole Nr x Nt
        array (spatially correlated, ``delay_spread``) as band-limited taps
        (:func:`gnuradio.deepquant.ofdm.mimo.cdl_a_taps`: 29 taps at 20 Msps and 100 ns, channel
        delayed by 4 samples; needs a cyclic prefix of 32 samples at the receiver).
    samp_rate : float
    fft_len : int
    seed : int
    len_tag_key : str
    delay_spread : float
        rms delay spread of 'cdla' in seconds (default 100 ns; ignored by the other models).
    sro_ppm : float
        Sampling-rate offset in parts per million (|sro_ppm| <= 1000; 0: no resampler).

    ``taps_history`` keeps the last 1000 tap tensors [Nr, Nt, L] (genie); ``noise_var``,
    ``ntaps``, ``model`` come from the fading part.
    """

    def __init__(self, nr=2, nt=2, snr_db=26.0, cfo_subcarriers=0.0, model="epa", samp_rate=20e6, fft_len=64, seed=0,
                 len_tag_key=LEN_KEY, delay_spread=100e-9, sro_ppm=0.0):
        if not abs(float(sro_ppm)) <= 1000:
            raise ValueError(f"mimo_ofdm_impairments: |sro_ppm| must be <= 1000, got {sro_ppm}")
        self.core = mimo_ofdm_fading_core(nr, nt, snr_db, cfo_subcarriers, model, samp_rate, fft_len, seed,
                                          len_tag_key, delay_spread)
        nr, nt = self.core.nr, self.core.nt
        gr.hier_block2.__init__(self, "mimo_ofdm_impairments", gr.io_signature(nt, nt, gr.sizeof_gr_complex),
                                gr.io_signature(nr, nr, gr.sizeof_gr_complex))
        self.sro_ppm = float(sro_ppm)
        self.resamplers = []
        for j in range(nt):
            self.connect((self, j), (self.core, j))
        for r in range(nr):
            if self.sro_ppm:
                from gnuradio import filter as gr_filter

                rs = gr_filter.mmse_resampler_cc(0.0, 1.0 + self.sro_ppm * 1e-6)
                self.resamplers.append(rs)
                self.connect((self.core, r), rs, (self, r))
            else:
                self.connect((self.core, r), (self, r))

    def __getattr__(self, name):
        # the fading part's state (taps_history, noise_var, ntaps, model, ...) reads through; the
        # rest (to_basic_block, ...) goes to the C++ hier block as in gr.hier_block2
        core = self.__dict__.get("core")
        if core is not None and name in core.__dict__:
            return core.__dict__[name]
        return gr.hier_block2.__getattr__(self, name)

    def set_snr_db(self, snr_db):
        self.core.set_snr_db(snr_db)

    def set_cfo_subcarriers(self, cfo):
        self.core.set_cfo_subcarriers(cfo)


class mimo_ofdm_header_decoder(gr.sync_block):
    """Preamble and header of every chain -> LS channel of every antenna pair, sigma^2, header.

    Inputs: Nr streams of fft-shifted symbols (``1 + Nt + 2`` per trigger of the chains'
    ``header_payload_demux``: Schmidl & Cox word, training symbols, header).
    Per packet: LS estimate per antenna pair from the training symbols
    (:func:`gnuradio.deepquant.ofdm.mimo.ltf_estimate`), header MRC over the chains with column 0
    and CRC-8 check, column alignment against the residual CFO measured on the decoded header
    (:func:`~gnuradio.deepquant.ofdm.mimo.residual_cfo_align`), and (``refine``) column 0
    re-estimated with the decoded header as extra training
    (:func:`~gnuradio.deepquant.ofdm.mimo.refine_column0`). Message ``header_data`` (to every
    chain's demux): dict ``frame_len``, ``packet_len``, ``ofdm_packet_num``, ``dq_mimo_chan_est``
    (c32vector fft_len*Nr*Nt, [carrier, r, j]), ``dq_noise_var``, ``dq_est_err_var``; ``#f`` when
    the CRC fails. The whole packet runs in one call of the kernel library's C++
    ``ofdm_estimator.decode_header_mimo`` (the functions named above are its reference, equal to
    float rounding; they take over for a fit that is not positive definite).
    """

    def __init__(self, layout: OfdmLayout, nr: int, nt: int, taps_pre: int = 0, taps_post: int = 20,
                 refine: bool = True):
        gr.sync_block.__init__(self, name="mimo_ofdm_header_decoder", in_sig=[(np.complex64, layout.fft_len)] * nr,
                               out_sig=None)
        from ..ofdm import header

        self.layout, self.nr, self.nt = layout, int(nr), int(nt)
        self.taps_pre, self.taps_post = int(taps_pre), int(taps_post)
        self.refine = bool(refine)
        self._header = header
        self.n_hdr = layout.header_symbols
        self.n_sym = 1 + self.nt + self.n_hdr
        self.t = ofdm_mimo.td_payload_symbols(layout, self.nt)
        self.port = pmt.intern("header_data")
        self.message_port_register_out(self.port)
        self._pending = np.zeros((self.nr, 0, layout.fft_len), np.complex64)
        self._cxx = _kernels.ofdm_estimator(layout)
        self._w2 = np.ascontiguousarray(layout.sync_words()[1], np.complex64)
        self.headers_ok = self.headers_failed = 0
        self.cfo_residual = []

    def work(self, input_items, output_items):
        n = len(input_items[0])
        x = np.stack([np.asarray(input_items[r][:n]) for r in range(self.nr)])
        self._pending = np.concatenate([self._pending, x], axis=1)
        while self._pending.shape[1] >= self.n_sym:
            self._packet(self._pending[:, : self.n_sym])
            self._pending = self._pending[:, self.n_sym:]
        return n

    def _packet(self, ys):
        lay, nt = self.layout, self.nt
        # C++ (ofdm_estimator.decode_header_mimo): the steps of _packet_numpy to float rounding
        st, num, ncw, h, nv, err, err_cols, phi = self._cxx.decode_header_mimo(
            ys, nt, self._w2, self.taps_pre, self.taps_post, self.refine)
        if st < 0:  # a fit that was not positive definite: the numeric core
            r = self._packet_numpy(ys)
            if r is None:
                st = 0
            else:
                st, (num, ncw), h, nv, err, err_cols, phi = 1, *r
        if st == 0 or ncw != lay.n_codewords:
            self.headers_failed += 1
            self.message_port_pub(self.port, pmt.PMT_F)
            return
        self.headers_ok += 1
        self.cfo_residual.append(phi)
        if len(self.cfo_residual) > 1000:
            del self.cfo_residual[:-1000]
        d = pmt.make_dict()
        d = pmt.dict_add(d, pmt.intern(FRAME_KEY), pmt.from_long(self.t))
        d = pmt.dict_add(d, pmt.intern(LEN_KEY), pmt.from_long(self.t * len(lay.occupied)))
        d = pmt.dict_add(d, pmt.intern(PACKET_NUM_KEY), pmt.from_long(num))
        d = pmt.dict_add(d, pmt.intern(CHAN_KEY), pmt.init_c32vector(h.size, h.reshape(-1).tolist()))
        d = pmt.dict_add(d, pmt.intern(NOISE_VAR_KEY), pmt.from_double(nv))
        d = pmt.dict_add(d, pmt.intern(EST_ERR_KEY), pmt.from_double(err))
        d = pmt.dict_add(d, pmt.intern(ERR_COLS_KEY), pmt.init_f64vector(nt, [float(e) for e in err_cols]))
        self.message_port_pub(self.port, d)

    def _packet_numpy(self, ys):
        """The numeric core's steps of :meth:`_packet`: ((packet_num, n_codewords), h, sigma^2,
        error variance, per-column error variances, residual CFO) or None (CRC failed)."""
        lay, nt = self.layout, self.nt
        y_ltf = ys[:, 1:1 + nt]
        y_hdr = ys[:, 1 + nt:]
        h, nv, err = ofdm_mimo.ltf_estimate(y_ltf, lay, self.taps_pre, self.taps_post)
        err_cols = [err] * nt
        res = self._header.decode_header(ofdm_mimo.header_mrc(y_hdr, h, lay))
        if res is None:
            return None
        x_hdr = self._header.header_symbols(res[0], res[1], len(lay.occupied)).reshape(self.n_hdr, -1)
        h, phi = ofdm_mimo.residual_cfo_align(h, y_hdr, x_hdr, lay)
        if self.refine:
            # column 0 again with the decoded header as training (3 known symbols, not 1)
            h, nv0, err0 = ofdm_mimo.refine_column0(h, y_ltf, y_hdr, x_hdr, lay, self.taps_pre, self.taps_post)
            nv = (nv * nt + nv0) / (nt + 1)
            err = (err * (nt - 1) + err0) / nt
            err_cols[0] = err0
        return res, h, nv, err, np.asarray(err_cols, np.float64), phi


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

    ``decision_feedback``: decoder-aided re-estimation, the MIMO form of flowgraph 1's
    (``ofdm_channel_noise_estimator``): every packet is detected here with LMMSE
    (:func:`gnuradio.deepquant.phy.mimo.lmmse`), LDPC-decoded (belief propagation with
    a-posteriori LLRs, ``max_iter`` iterations); validated codewords become known symbols of
    both streams, the others soft symbols (posterior means, weighted by their reliability);
    with the pilots they re-fit every antenna pair's impulse response on
    ``[-taps_pre, taps_post]`` samples, the preamble estimate as prior
    (:func:`gnuradio.deepquant.ofdm.mimo.refine_with_symbols`, computed by the kernel library's
    C++ ``ofdm_estimator.refine_mimo`` to float rounding), ``feedback_rounds`` times
    (stopping when every codeword validated). The detector downstream -- any method -- then sees
    the refined channel and the per-carrier error of the refined estimate.
    """

    def __init__(self, layout: OfdmLayout, nr: int, nt: int, phase_tracking: bool = True,
                 decision_feedback: bool = False, max_iter: int = 50, feedback_rounds: int = 2,
                 taps_pre: int = 0, taps_post: int = 20):
        self.layout, self.nr, self.nt = layout, int(nr), int(nt)
        self.nd = len(layout.occupied)
        gr.interp_block.__init__(self, name="mimo_ofdm_payload_estimator",
                                 in_sig=[(np.complex64, layout.fft_len)] * self.nr,
                                 out_sig=[(np.complex64, self.nr), (np.complex64, self.nr * self.nt), np.float32],
                                 interp=self.nd)
        self.t = ofdm_mimo.td_payload_symbols(layout, self.nt)
        self.t0 = float(self.nt + layout.header_symbols)
        self.tracking = bool(phase_tracking)
        self.decision_feedback = bool(decision_feedback)
        self.max_iter, self.feedback_rounds = int(max_iter), int(feedback_rounds)
        self.taps_pre, self.taps_post = int(taps_pre), int(taps_post)
        if self.max_iter < 1 or self.feedback_rounds < 1:
            raise ValueError(f"mimo_ofdm_payload_estimator: max_iter and feedback_rounds must be >= 1, "
                             f"got {max_iter}, {feedback_rounds}")
        if self.decision_feedback:
            from ..phy import ldpc
            from ._common import configure_torch_threads

            configure_torch_threads()
            bits = self.t * self.nd * self.nt * layout.bits_per_symbol
            if bits % ldpc.N:
                raise ValueError(f"mimo_ofdm_payload_estimator: decision_feedback needs whole 648-bit codewords "
                                 f"per packet, got {bits} bits")
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
            return self._feedback_numpy(self._tracked(ys))
        if self._points is None:
            from ..phy import mapping

            self._points = np.ascontiguousarray(mapping.constellation(lay.bits_per_symbol), np.complex128)
        r = _kernels.ofdm_estimator(lay).feedback_mimo(
            _kernels.lmmse_detector(self.nr, nt, lay.bits_per_symbol), _kernels.ldpc_decoder(), self._points, ys,
            self._h, self._noise, np.broadcast_to(np.asarray(self._err_cols, np.float64), (nt,)), float(self._nv),
            self.t0, self.tracking, self.max_iter, self.feedback_rounds, self.taps_pre, self.taps_post)
        if r is None:  # normal equations not positive definite: the numeric core decides
            return self._feedback_numpy(self._tracked(ys))
        yu, hd, eff, n_known = r
        self.df_packets += 1
        self.df_known += int(n_known)
        return yu, hd, eff

    def _tracked(self, ys):
        """``ys`` [nr, T, fft_len] with the pilot phase tracking of payload_channel_uses removed."""
        phases = ofdm_mimo.payload_channel_uses(ys, self._h, self.layout, self.t0, self.tracking)[2]
        return ys * np.exp(-1j * phases)[None, :, None]

    def _feedback_numpy(self, y):
        """:meth:`_feedback`'s rounds with the numeric core's functions (the C++ kernel's
        reference): ``y`` the phase-tracked payload [nr, T, fft_len]."""
        from ..ofdm import estimation as ofdm_estimation

        lay, nr, nt, t, nd = self.layout, self.nr, self.nt, self.t, self.nd
        k = lay.bits_per_symbol
        di = lay.data_idx
        h_pre = self._h
        h = h_pre
        eff = np.full(nd, self._nv)
        self.df_packets += 1
        ok = None
        for _ in range(self.feedback_rounds):
            yu = np.transpose(y[:, :, di], (1, 2, 0)).reshape(-1, nr)
            hu = np.broadcast_to(h[di][None], (t, nd, nr, nt)).reshape(-1, nr, nt)
            llr = _kernels.lmmse(yu, hu, np.tile(eff, t), k)  # C++: phy.mimo.lmmse's LLRs
            mean, var, ok = ofdm_estimation.decoded_symbols(llr, k, self.max_iter, decode=_kernels.bp_decode)
            mean, var = mean.reshape(t, nd, nt), var.reshape(t, nd, nt)
            # C++ ofdm_estimator.refine_mimo = ofdm.mimo.refine_with_symbols to float rounding
            r = _kernels.ofdm_estimator(lay).refine_mimo(y, h_pre, self._noise, np.broadcast_to(
                np.asarray(self._err_cols, np.float64), (nt,)), mean, var, self.taps_pre, self.taps_post)
            if r is None:  # normal equations not positive definite: the numeric core decides
                r = ofdm_mimo.refine_with_symbols(y, h_pre, self._noise, self._err_cols, mean, var, lay,
                                                  self.taps_pre, self.taps_post)
            y, h, err_d = r
            eff = self._noise + err_d
            if ok.all():
                break
        self.df_known += int(ok.sum())
        yu = np.transpose(y[:, :, di], (1, 2, 0)).reshape(-1, nr)
        return yu, h[di], eff

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
                    self.layout.fft_len, self.nr, self.nt)
                nv = pmt.to_double(tg[NOISE_VAR_KEY]) if NOISE_VAR_KEY in tg else 1.0
                err = pmt.to_double(tg["dq_est_err_var"]) if "dq_est_err_var" in tg else 0.0
                self._noise = nv
                self._err_cols = (np.asarray(pmt.f64vector_elements(tg[ERR_COLS_KEY]), np.float64)
                                  if ERR_COLS_KEY in tg else np.full(self.nt, err))
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
            ys = np.stack([np.asarray(input_items[r][i * self.t:(i + 1) * self.t]) for r in range(self.nr)])
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
            output_items[1][sl] = np.broadcast_to(hu.reshape(1, self.nd, -1), (self.t, self.nd, self.nr * self.nt)).reshape(m, -1)
            output_items[2][sl] = np.tile(nv_use, self.t).astype(np.float32)
            self.noise_var_history.append(float(np.mean(nv_use)))
            if self._num is not None:
                self.add_item_tag(0, self.nitems_written(0) + i * m, pmt.intern(PACKET_NUM_KEY), pmt.from_long(self._num))
        if len(self.noise_var_history) > 1000:
            del self.noise_var_history[:-1000]
        return f * m


class sc_trigger_holdoff(gr.sync_block):
    """Schmidl & Cox trigger hold-off: after a trigger, ignore further triggers for ``holdoff``
    samples, and keep the CFO estimate of the accepted trigger.

    Inputs: 0 the CFO output of ``digital.ofdm_sync_sc_cfb`` (float, sampled-and-held at every
    trigger), 1 its trigger output (bytes). Outputs: 0 the CFO held from the last accepted
    trigger, 1 the accepted triggers.

    Why: with ``cp_len = fft_len / 2`` the cyclic prefix of a training symbol is the second half
    of its body, and all ``Nt`` training symbols carry the same sync word (from different
    antennas). So the second half of training symbol 1 followed by the prefix of training
    symbol 2 is a half-symbol repetition -- exactly what Schmidl & Cox looks for -- whenever the
    two antennas' channels to chain 0 are alike (CDL-A's correlated arrays make that common;
    measured: 2 of 20 packets at 35 dB). GNU Radio's block then re-triggers inside the preamble
    and its sample-and-hold replaces the CFO estimate in the middle of the packet;
    ``header_payload_demux`` ignores the trigger but the CFO correction of the rest of the packet
    is wrong and the header fails.
    """

    def __init__(self, holdoff: int):
        gr.sync_block.__init__(self, name="sc_trigger_holdoff", in_sig=[np.float32, np.int8],
                               out_sig=[np.float32, np.int8])
        if int(holdoff) < 1:
            raise ValueError(f"sc_trigger_holdoff: holdoff must be >= 1 sample, got {holdoff}")
        self.holdoff = int(holdoff)
        self._left = 0  # samples of hold-off still to go at the start of the next call
        self._cfo = 0.0
        self.suppressed = 0

    def work(self, input_items, output_items):
        f, t = input_items[0], input_items[1]
        n = len(output_items[0])
        out_f, out_t = output_items[0], output_items[1]
        out_t[:n] = 0
        cuts, vals = [0], [self._cfo]
        pos_free = self._left  # first index where a trigger may be accepted
        for i in np.flatnonzero(t[:n]):
            if i < pos_free:
                self.suppressed += 1
                continue
            out_t[i] = 1
            cuts.append(int(i))
            vals.append(float(f[i]))
            pos_free = int(i) + self.holdoff
        cuts.append(n)
        for a, b, v in zip(cuts[:-1], cuts[1:], vals):
            out_f[a:b] = v
        self._cfo = vals[-1]
        self._left = max(0, pos_free - n)
        return n


class mimo_ofdm_rx(gr.hier_block2):
    """MIMO-OFDM receiver front end: Nr chains sharing one timing/CFO estimate -> channel uses.

    Inputs: Nr complex baseband streams (one per receive antenna: ``mimo_ofdm_impairments``, a
    recording, or a coherent multi-channel SDR source).
    Outputs, one item per data channel use, straight into ``mimo_detector``:
      0 y (complex, vlen Nr), tagged ``ofdm_packet_num`` at each packet's first channel use;
      1 H estimate (complex, vlen Nr*Nt, row-major); 2 sigma^2 (float, estimate's error included).

    Chain: ``tag_gate`` per chain -> Schmidl & Cox timing and fractional CFO from all chains
    (``sc_sync_combined``; or GNU Radio's ``ofdm_sync_sc_cfb`` on chain 0) shared -> per chain: delay, CFO correction (one oscillator for all
    chains), ``header_payload_demux`` (the same trigger for all chains), ``fft_vcc`` of header and
    payload -> ``mimo_ofdm_header_decoder`` (LS channel per antenna pair from the time-orthogonal
    training symbols, smoothed over frequency; sigma^2; header MRC + CRC-8; residual-CFO column
    alignment; answers every demux) -> ``mimo_ofdm_payload_estimator`` (pilot phase tracking,
    channel uses).

    Parameters
    ----------
    nr, nt : int
    n_codewords, bits_per_symbol, fft_len, cp_len : int
        Must match ``mimo_ofdm_tx``.
    sync_threshold : float
        Schmidl & Cox plateau threshold (0..1).
    timing_advance : int
        Samples every FFT window is moved later than GNU Radio's Schmidl & Cox trigger
        (see ``ofdm_rx``); -1 (default): ``5 + 3 (cp_len - 16) // 8`` (5 for the 16-sample
        prefix, 11 for 32). GNU Radio triggers in the middle of the Schmidl & Cox plateau, which
        grows with the prefix, so a longer prefix needs a larger advance. Measured with CDL-A
        100 ns, cp_len 32, LMMSE, 30 dB, 1600 codewords: advance 9/11/13/15 -> 1/0/8/52 codeword
        errors (from 13 on the window cuts the channel's first samples at unlucky timing).
    phase_tracking : bool
    taps_pre, taps_post : int
        The channel estimator fits the impulse response on ``[-taps_pre, taps_post]`` samples
        of the FFT window; ``taps_post`` -1 (default) means ``20 + (cp_len - 16) // 4`` (20 for
        the 16-sample prefix, 24 for 32). A longer fit covers more of a long channel but adds
        estimation noise: CDL-A 100 ns, cp_len 32, advance 13, 27 dB, LMMSE, 2400 codewords:
        taps_post 20/24/28/32/36 -> 55/50/63/77/87 codeword errors.
    trigger_holdoff : int
        1: after a Schmidl & Cox trigger, further triggers are ignored until the packet's
        header has passed and the CFO estimate is held (:class:`sc_trigger_holdoff`); 0: GNU
        Radio's triggers as they come; -1 (default): on when ``2 cp_len >= fft_len`` (where the
        training symbols look like a Schmidl & Cox word), off otherwise.
    combined_sync : bool
        Packet detection from every receive chain (default): the Schmidl & Cox correlations and
        energies of all chains are summed before the timing metric (:mod:`.sc_sync_combined`), so
        a preamble faded on one antenna is still found; False: GNU Radio's ``ofdm_sync_sc_cfb``
        on chain 0 only.
    decision_feedback : bool
        Decoder-aided re-estimation in the payload estimator (default on; see
        :class:`mimo_ofdm_payload_estimator`): each packet is detected (LMMSE) and decoded
        twice inside the receiver, its validated and soft-decided symbols re-estimate the
        channel, so the detector sees a far better H than the one training symbol per stream
        gives.
    """

    def __init__(self, nr=2, nt=2, n_codewords=8, bits_per_symbol=6, fft_len=64, cp_len=16, sync_threshold=0.7,
                 timing_advance=-1, phase_tracking=True, taps_pre=0, taps_post=-1, trigger_holdoff=-1,
                 decision_feedback=True, combined_sync=True):
        nr, nt = int(nr), int(nt)
        if nr < 1:
            raise ValueError(f"mimo_ofdm_rx: nr must be >= 1, got {nr}")
        lay = self.layout = make_layout(fft_len, cp_len, n_codewords, bits_per_symbol, nt)
        if int(timing_advance) == -1:
            timing_advance = max(0, min(lay.cp_len - 1, 5 + 3 * (lay.cp_len - 16) // 8))
        if not 0 <= int(timing_advance) < lay.cp_len:
            raise ValueError(f"mimo_ofdm_rx: timing_advance must be in [0, cp_len) or -1 (auto), got {timing_advance}")
        self.timing_advance = int(timing_advance)
        if not 0 < float(sync_threshold) < 1:
            raise ValueError(f"mimo_ofdm_rx: sync_threshold must be in (0, 1), got {sync_threshold}")
        self.taps_pre = int(taps_pre)
        self.taps_post = max(1, 20 + (lay.cp_len - 16) // 4) if int(taps_post) == -1 else int(taps_post)
        n_fit = len(lay.active) - 8
        if self.taps_pre < 0 or self.taps_post < 0 or self.taps_pre + self.taps_post + 1 > n_fit:
            raise ValueError(f"mimo_ofdm_rx: taps_pre and taps_post must be >= 0 (taps_post -1: auto) with "
                             f"taps_pre + taps_post + 1 <= {n_fit} (the fit needs fewer taps than the "
                             f"{len(lay.active)} active carriers), got {taps_pre}, {taps_post}")
        gr.hier_block2.__init__(self, "mimo_ofdm_rx", gr.io_signature(nr, nr, gr.sizeof_gr_complex),
                                gr.io_signature.makev(3, 3, [gr.sizeof_gr_complex * nr,
                                                             gr.sizeof_gr_complex * nr * nt, gr.sizeof_float]))
        self.nr, self.nt = nr, nt
        n, cp = lay.fft_len, lay.cp_len
        n_head = 1 + nt + lay.header_symbols
        self.combined_sync = bool(combined_sync)
        if self.combined_sync:  # Schmidl & Cox metric summed over every receive chain
            from .sc_sync_combined import sc_sync_combined

            self.sync = sc_sync_combined(nr, n, cp, float(sync_threshold))
        else:  # GNU Radio's, on chain 0
            self.sync = digital.ofdm_sync_sc_cfb(n, cp, False, float(sync_threshold))
        self.osc = analog.frequency_modulator_fc(-2.0 / n)
        if int(trigger_holdoff) not in (-1, 0, 1):
            raise ValueError(f"mimo_ofdm_rx: trigger_holdoff must be -1 (auto), 0 or 1, got {trigger_holdoff}")
        use_holdoff = 2 * cp >= n if int(trigger_holdoff) == -1 else bool(trigger_holdoff)
        if use_holdoff:
            self.holdoff = sc_trigger_holdoff(n_head * (n + cp))
            self.connect((self.sync, 0), (self.holdoff, 0))
            self.connect((self.sync, 1), (self.holdoff, 1))
            sync_out = self.holdoff
        else:
            self.holdoff = None
            sync_out = self.sync
        self.connect((sync_out, 0), self.osc)
        self.header_dec = mimo_ofdm_header_decoder(lay, nr, nt, self.taps_pre, self.taps_post)
        self.payload = mimo_ofdm_payload_estimator(lay, nr, nt, bool(phase_tracking), bool(decision_feedback),
                                                   taps_pre=self.taps_pre, taps_post=self.taps_post)
        self._keep = []
        self.guards = [finite_guard_cc(1, f"samples of receive chain {r}") for r in range(nr)]
        for r in range(nr):
            gate = blocks.tag_gate(gr.sizeof_gr_complex, False)
            delay = blocks.delay(gr.sizeof_gr_complex, n + cp - int(timing_advance))
            mixer = exact_mixer_cc()  # not blocks.multiply_cc: see exact_mixer_cc
            hpd = digital.header_payload_demux(n_head, n, cp, FRAME_KEY, "", True)
            hfft = fft.fft_vcc(n, True, (), True)
            pfft = fft.fft_vcc(n, True, (), True)
            self.connect((self, r), self.guards[r], gate, delay, (mixer, 0), (hpd, 0))
            if self.combined_sync:
                self.connect(gate, (self.sync, r))
            elif r == 0:
                self.connect(gate, self.sync)
            self.connect(self.osc, (mixer, 1))
            self.connect((sync_out, 1), (hpd, 1))
            self.connect((hpd, 0), hfft, (self.header_dec, r))
            self.connect((hpd, 1), pfft, (self.payload, r))
            self.msg_connect(self.header_dec, "header_data", hpd, "header_data")
            self._keep += [gate, delay, mixer, hpd, hfft, pfft]
        for i in range(3):
            self.connect((self.payload, i), (self, i))

    def noise_var_estimates(self) -> np.ndarray:
        """sigma^2 (estimate's error included) of the latest packets (up to 1000)."""
        return np.asarray(self.payload.noise_var_history, dtype=np.float64)
