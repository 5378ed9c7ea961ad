"""``mimo_ofdm_fading_core``: the sample-synchronous part of ``mimo_ofdm_impairments``
(multipath per antenna pair, CFO, noise), a stream adapter of
:class:`gnuradio.deepquant.ofdm.mimo_channel.MimoMultipathChannel`."""

from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr

from ..ofdm.mimo_channel import MimoMultipathChannel
from ..tags import LEN_KEY
from ._common import BadInputCounter, zero_nonfinite


class mimo_ofdm_fading_core(gr.sync_block):
    """The sample-synchronous part of :class:`~gnuradio.deepquant.blocks.mimo_ofdm_impairments.mimo_ofdm_impairments`
    (multipath per antenna pair, CFO, noise; parameters as there). ``mimo_ofdm_impairments``
    wraps it and adds the sampling-rate offset, which changes the number of samples.

    Inputs: Nt complex streams; a ``len_tag_key`` tag on input 0 starts a packet (new taps).
    Outputs: Nr complex streams. Non-finite input samples are taken as 0 and received samples
    beyond complex64 range output as 0, both counted (``bad``, ``overflow``).
    The channel itself (taps, filter memory, oscillator, generators) is ``channel``.
    """

    def __init__(
        self,
        nr=2,
        nt=2,
        snr_db=26.0,
        cfo_subcarriers=0.0,
        model="epa",
        samp_rate=20e6,
        fft_len=64,
        seed=0,
        len_tag_key=LEN_KEY,
        delay_spread=100e-9,
    ):
        try:
            self.channel = MimoMultipathChannel(
                nr, nt, snr_db, cfo_subcarriers, model, samp_rate, fft_len, seed, delay_spread
            )
        except ValueError as e:
            raise ValueError(f"mimo_ofdm_impairments: {e}") from None
        self.nr, self.nt = self.channel.nr, self.channel.nt
        gr.sync_block.__init__(
            self, name="mimo_ofdm_impairments", in_sig=[np.complex64] * self.nt, out_sig=[np.complex64] * self.nr
        )
        self.key = pmt.intern(len_tag_key)
        self.bad = BadInputCounter(self.logger, "non-finite transmit samples taken as 0")
        self.overflow = BadInputCounter(self.logger, "received samples beyond complex64 range output as 0")
        self.set_tag_propagation_policy(gr.TPP_ONE_TO_ONE if self.nr == self.nt else gr.TPP_DONT)

    # the channel's state, read through (genie and reports)
    model = property(lambda self: self.channel.model)
    ntaps = property(lambda self: self.channel.ntaps)
    noise_var = property(lambda self: self.channel.noise_var)
    snr_db = property(lambda self: self.channel.snr_db)
    cfo = property(lambda self: self.channel.cfo)
    taps_history = property(lambda self: self.channel.taps_history)

    def set_snr_db(self, snr_db):
        self.channel.set_snr_db(snr_db)

    def set_cfo_subcarriers(self, cfo):
        try:
            self.channel.set_cfo_subcarriers(cfo)
        except ValueError as e:
            raise ValueError(f"mimo_ofdm_impairments: {e}") from None

    def work(self, input_items, output_items):
        n = len(output_items[0])
        x = zero_nonfinite(np.stack([np.asarray(input_items[j][:n]) for j in range(self.nt)]), self.bad)
        base = self.nitems_read(0)
        starts = [int(t.offset - base) for t in self.get_tags_in_window(0, 0, n, self.key)]
        y = zero_nonfinite(self.channel.apply(x, starts).astype(np.complex64), self.overflow)
        for r in range(self.nr):
            output_items[r][:n] = y[r]
        return n
