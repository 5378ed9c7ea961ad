"""Flowgraph 2, frequency-domain reference: ``mimo_ofdm_framer`` -- data channel uses -> aligned
MIMO-OFDM resource grids with orthogonal pilot symbols first (see :mod:`.mimo_ofdm`).
"""

from __future__ import annotations

import numpy as np
from gnuradio import gr

from ..ofdm import mimo as ofdm_mimo
from ..ofdm.layout import OfdmLayout
from ._common import BadInputCounter, zero_nonfinite


def _layout():
    return OfdmLayout()


class mimo_ofdm_framer(gr.sync_block):
    """Data channel uses -> MIMO-OFDM frames (pilot symbols first).

    Input: vectors of ``n_data_symbols * 48 * nt`` complex: the frame's data channel uses, each
    ``nt`` consecutive values one channel use (x of streams 0..nt-1), symbol-major over REs.
    Output: vectors of ``(nt + n_data_symbols) * 48 * nt``: nt pilot OFDM symbols (in pilot
    symbol j only stream j sends the BPSK pilot on every data carrier), then the data.

    Parameters
    ----------
    nt : int
        Transmit streams.
    n_data_symbols : int
        Data OFDM symbols per frame (48 data carriers each).
    """

    def __init__(self, nt=2, n_data_symbols=9):
        self.lay = _layout()
        self.nt, self.t = int(nt), int(n_data_symbols)
        if self.nt < 1 or self.t < 1:
            raise ValueError(f"mimo_ofdm_framer: nt and n_data_symbols must be >= 1, got {nt}, {n_data_symbols}")
        nd = len(self.lay.occupied)
        self.n_in = self.t * nd * self.nt
        self.n_out = (self.nt + self.t) * nd * self.nt
        gr.sync_block.__init__(
            self, name="mimo_ofdm_framer", in_sig=[(np.complex64, self.n_in)], out_sig=[(np.complex64, self.n_out)]
        )
        self._pil = ofdm_mimo.frame_pilots(self.lay, self.nt).reshape(-1)
        self.bad = BadInputCounter(self.logger, "non-finite data symbols sent as 0")

    def work(self, input_items, output_items):
        n = len(output_items[0])
        out = output_items[0][:n]
        out[:, : self._pil.size] = self._pil
        out[:, self._pil.size :] = zero_nonfinite(input_items[0][:n], self.bad)
        return n
