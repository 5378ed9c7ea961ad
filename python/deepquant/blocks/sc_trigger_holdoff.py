"""``sc_trigger_holdoff``: Schmidl & Cox trigger hold-off for receivers whose training symbols
look like a Schmidl & Cox word (``mimo_ofdm_rx`` with a long cyclic prefix)."""

from __future__ import annotations

import numpy as np
from gnuradio import gr


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
        gr.sync_block.__init__(
            self, name="sc_trigger_holdoff", in_sig=[np.float32, np.int8], out_sig=[np.float32, np.int8]
        )
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
