"""``qam_mapper``: bits (one per byte) -> 3GPP TS 38.211 QAM symbols with unit average energy."""

from __future__ import annotations

import numpy as np
from gnuradio import gr

from ._common import BadInputCounter


class qam_mapper(gr.decim_block):
    """QAM mapper: K unpacked bits in (bytes 0/1, 38.211 order b(i), b(i+1), ...) -> 1 symbol.

    Parameters
    ----------
    bits_per_symbol : int
        1 (BPSK), 2 (QPSK), 4, 6 or 8 (16/64/256-QAM).

    A byte other than 0/1 is not a bit: it is mapped by its least significant bit, counted in
    ``bad_count`` and logged (rate-limited); the flowgraph keeps running.
    """

    def __init__(self, bits_per_symbol=6):
        if int(bits_per_symbol) not in (1, 2, 4, 6, 8):
            raise ValueError(f"qam_mapper: bits_per_symbol must be 1, 2, 4, 6 or 8, got {bits_per_symbol}")
        self.k = int(bits_per_symbol)
        gr.decim_block.__init__(self, name="qam_mapper", in_sig=[np.uint8], out_sig=[np.complex64], decim=self.k)
        from ..phy import mapping

        self._points = np.asarray(mapping.constellation(self.k), dtype=np.complex64)
        self._weights = (1 << np.arange(self.k - 1, -1, -1)).astype(np.int64)  # b0 is the MSB
        self._bad = BadInputCounter(self.logger, "input byte(s) other than 0/1 (mapped by their LSB)")

    @property
    def bad_count(self) -> int:
        return self._bad.count

    def work(self, input_items, output_items):
        n = len(output_items[0])
        bits = input_items[0][: n * self.k]
        bad = bits > 1
        if bad.any():
            self._bad.add(int(bad.sum()))
        b = (bits & 1).reshape(n, self.k).astype(np.int64)
        output_items[0][:n] = self._points[b @ self._weights]
        return n
