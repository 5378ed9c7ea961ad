"""``sc_sync_combined``: Schmidl & Cox timing and fractional CFO from every receive chain.

Schmidl, Cox, "Robust frequency and timing synchronization for OFDM" (IEEE Trans. Commun.,
1997): with a training symbol of two identical halves (length N/2 each), ``P(d) = sum_m
conj(r[d+m]) r[d+m+N/2]`` and ``R(d) = sum_m |r[d+m+N/2]|^2``; the timing metric ``|P|^2 / R^2``
has a plateau at the symbol, and ``angle(P)`` is the CFO over N/2 samples. With several receive
chains, the correlations and energies add over the chains before the metric is formed
(``P = sum_r P_r``, ``R = sum_r R_r``): a packet whose preamble faded on one antenna is still
detected from the others (GNU Radio's ``ofdm_sync_sc_cfb`` sees one chain).

The block is GNU Radio's ``ofdm_sync_sc_cfb`` with that sum: the same normalisation, plateau
detector and sample-and-hold, same outputs (0: ``angle(P)`` held at the last trigger, float;
1: trigger, byte). With one chain its triggers equal GNU Radio's. The per-sample correlation of
all chains is one C++ block (``sc_correlator_ccf``; :class:`sc_correlator` is its numpy reference),
computed in float64 so that the result does not depend on how the scheduler chunks the streams
(see ``exact_mixer_cc``).
"""

from __future__ import annotations

import numpy as np
from gnuradio import blocks, filter as gr_filter, gr


class sc_correlator(gr.sync_block):
    """nr complex streams -> ``sum_r x_r[d] conj(x_r[d - N/2])`` (complex) and
    ``sum_r |x_r[d]|^2`` (float), per sample."""

    def __init__(self, nr, half):
        self.nr, self.half = int(nr), int(half)
        gr.sync_block.__init__(
            self, name="sc_correlator", in_sig=[np.complex64] * self.nr, out_sig=[np.complex64, np.float32]
        )
        self.set_history(self.half + 1)

    def work(self, input_items, output_items):
        n = len(output_items[0])
        h = self.half
        p = np.zeros(n, np.complex128)
        e = np.zeros(n, np.float64)
        for r in range(self.nr):
            x = input_items[r].astype(np.complex128)
            cur = x[h : h + n]
            p += cur * np.conj(x[:n])
            e += cur.real * cur.real + cur.imag * cur.imag
        output_items[0][:n] = p
        output_items[1][:n] = e
        return n


class sc_sync_combined(gr.hier_block2):
    """Schmidl & Cox over ``nr`` receive chains (inputs 0..nr-1, complex): outputs 0 the
    fractional CFO ``angle(P)`` held at the last trigger (float, radians per N/2 samples, as GNU
    Radio's ``ofdm_sync_sc_cfb``), 1 the trigger (byte, 1 at the plateau's middle)."""

    def __init__(self, nr, fft_len, cp_len, threshold=0.7):
        nr, n = int(nr), int(fft_len)
        if nr < 1:
            raise ValueError(f"sc_sync_combined: nr must be >= 1, got {nr}")
        gr.hier_block2.__init__(
            self,
            "sc_sync_combined",
            gr.io_signature(nr, nr, gr.sizeof_gr_complex),
            gr.io_signature.makev(2, 2, [gr.sizeof_float, gr.sizeof_char]),
        )
        from .. import deepquant_python as dq

        # sc_correlator's computation in C++ (the same values bit for bit, no interpreter per sample)
        self.corr = dq.sc_correlator_ccf(nr, n // 2)
        # as GNU Radio's block with use_even_carriers=False (the module's preambles): taps -1
        self.corr_ma = gr_filter.fir_filter_ccf(1, [-1.0] * (n // 2))
        self.corr_mag = blocks.complex_to_mag_squared()
        self.energy_ma = gr_filter.fir_filter_fff(1, [0.5] * n)
        self.energy_square = blocks.multiply_ff()
        self.normalize = blocks.divide_ff()
        self.angle = blocks.complex_to_arg()
        self.hold = blocks.sample_and_hold_ff()
        self.plateau = blocks.plateau_detector_fb(int(cp_len), float(threshold))
        for r in range(nr):
            self.connect((self, r), (self.corr, r))
        self.connect((self.corr, 0), self.corr_ma, self.corr_mag, (self.normalize, 0))
        self.connect((self.corr, 1), self.energy_ma)
        self.connect(self.energy_ma, (self.energy_square, 0))
        self.connect(self.energy_ma, (self.energy_square, 1))
        self.connect(self.energy_square, (self.normalize, 1))
        self.connect(self.corr_ma, self.angle, (self.hold, 0))
        self.connect(self.normalize, self.plateau)
        self.connect(self.plateau, (self.hold, 1))
        self.connect(self.hold, (self, 0))
        self.connect(self.plateau, (self, 1))
