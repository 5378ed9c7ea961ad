"""``mimo_ofdm_rx``: MIMO-OFDM receiver front end as an installed hierarchical block: Nr receive
chains sharing one Schmidl & Cox timing and CFO estimate, one ``header_payload_demux`` and FFT per
chain, ``mimo_ofdm_header_decoder`` (channel, sigma^2, header) and
``mimo_ofdm_payload_estimator`` (pilot phase tracking, decoder-aided re-estimation) -> y, H,
sigma^2 per data channel use for ``mimo_detector``.

Conventions: y = H x + n per data subcarrier, H (Nr x Nt, row-major), unit-energy 38.211 QAM per
stream, ``n ~ CN(0, sigma^2 I)``; SNR = E||H||_F^2 / sigma^2 (EQ-Net's definition).
"""

from __future__ import annotations

import numpy as np
from gnuradio import analog, blocks, digital, fft, gr

from ..ofdm import mimo as ofdm_mimo
from ..tags import FRAME_KEY, MIMO_CHAN_KEY
from .exact_mixer_cc import exact_mixer_cc
from .finite_guard import finite_guard_cc
from .mimo_ofdm_payload_estimator import mimo_ofdm_payload_estimator
from .sc_trigger_holdoff import sc_trigger_holdoff


def header_decoder(layout, nr: int, nt: int, taps_pre: int = 0, taps_post: int = 20, refine: bool = True):
    """``mimo_ofdm_rx``'s header decoder: the C++ ``mimo_ofdm_header_decoder_vc``, the computation
    of :class:`~gnuradio.deepquant.blocks.mimo_ofdm_header_decoder.mimo_ofdm_header_decoder` without the interpreter (the same messages,
    ``tests/blocks/qa_mimo_ofdm_payload_estimator_vcc.py``)."""
    from .. import deepquant_python as dq
    from . import _kernels

    return dq.mimo_ofdm_header_decoder_vc(
        _kernels.ofdm_estimator(layout),
        [complex(v) for v in np.asarray(layout.sync_words()[1], np.complex64)],
        int(nr),
        int(nt),
        int(layout.header_symbols),
        int(layout.n_codewords),
        int(ofdm_mimo.td_payload_symbols(layout, int(nt))),
        int(taps_pre),
        int(taps_post),
        bool(refine),
        MIMO_CHAN_KEY,
    )


def payload_estimator(
    layout,
    nr: int,
    nt: int,
    phase_tracking: bool = True,
    decision_feedback: bool = False,
    max_iter: int = 50,
    feedback_rounds: int = 2,
    taps_pre: int = 0,
    taps_post: int = 20,
):
    """``mimo_ofdm_rx``'s payload estimator: the C++ ``mimo_ofdm_payload_estimator_vcc`` (the
    computation of :class:`mimo_ofdm_payload_estimator` without the interpreter; the same outputs
    to float rounding, ``tests/blocks/qa_mimo_ofdm_payload_estimator_vcc.py``), or that Python
    block for more streams than the C++ LMMSE detector takes (16)."""
    from .. import deepquant_python as dq
    from ..phy import mapping
    from . import _kernels

    if int(nt) > _kernels.MAX_LMMSE_STREAMS:
        return mimo_ofdm_payload_estimator(
            layout, nr, nt, phase_tracking, decision_feedback, max_iter, feedback_rounds, taps_pre, taps_post
        )
    k = layout.bits_per_symbol
    t = ofdm_mimo.td_payload_symbols(layout, int(nt))
    return dq.mimo_ofdm_payload_estimator_vcc(
        _kernels.ofdm_estimator(layout),
        [int(i) for i in layout.data_idx],
        [int(i) for i in layout.pilot_idx],
        [complex(v) for v in layout.pilot_symbols],
        _kernels.lmmse_detector(int(nr), int(nt), k),
        _kernels.ldpc_decoder(),
        [complex(p) for p in mapping.constellation(k)],
        int(t),
        float(int(nt) + layout.header_symbols),
        bool(phase_tracking),
        bool(decision_feedback),
        int(max_iter),
        int(feedback_rounds),
        int(taps_pre),
        int(taps_post),
        MIMO_CHAN_KEY,
    )


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

    def __init__(
        self,
        nr=2,
        nt=2,
        n_codewords=8,
        bits_per_symbol=6,
        fft_len=64,
        cp_len=16,
        sync_threshold=0.7,
        timing_advance=-1,
        phase_tracking=True,
        taps_pre=0,
        taps_post=-1,
        trigger_holdoff=-1,
        decision_feedback=True,
        combined_sync=True,
    ):
        nr, nt = int(nr), int(nt)
        if nr < 1:
            raise ValueError(f"mimo_ofdm_rx: nr must be >= 1, got {nr}")
        lay = self.layout = ofdm_mimo.td_layout(fft_len, cp_len, n_codewords, bits_per_symbol, nt)
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
            raise ValueError(
                f"mimo_ofdm_rx: taps_pre and taps_post must be >= 0 (taps_post -1: auto) with "
                f"taps_pre + taps_post + 1 <= {n_fit} (the fit needs fewer taps than the "
                f"{len(lay.active)} active carriers), got {taps_pre}, {taps_post}"
            )
        gr.hier_block2.__init__(
            self,
            "mimo_ofdm_rx",
            gr.io_signature(nr, nr, gr.sizeof_gr_complex),
            gr.io_signature.makev(3, 3, [gr.sizeof_gr_complex * nr, gr.sizeof_gr_complex * nr * nt, gr.sizeof_float]),
        )
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
        self.header_dec = header_decoder(lay, nr, nt, self.taps_pre, self.taps_post)
        self.payload = payload_estimator(
            lay, nr, nt, bool(phase_tracking), bool(decision_feedback), taps_pre=self.taps_pre, taps_post=self.taps_post
        )
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
        h = self.payload.noise_var_history
        return np.asarray(h() if callable(h) else h, dtype=np.float64)
