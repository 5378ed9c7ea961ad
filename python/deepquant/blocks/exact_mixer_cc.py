"""``exact_mixer_cc``: complex multiply (or divide) of two streams whose result does not depend on
how the scheduler chunks the streams.

GNU Radio's ``blocks.multiply_cc`` / ``divide_cc`` call VOLK, which picks an aligned or an
unaligned kernel at every work() call from the buffer pointers -- and on this hardware the two
round differently (fused multiply-add in one of them): measured, the same inputs chunked
differently (``top_block.run(max_noutput_items)``) give products differing in the last bit. In a
receiver's CFO mixer that made two runs at one seed differ (one HARQ packet flipped between runs,
issue 18). Here every float32 product is formed exactly in float64 (24 x 24 mantissa bits fit in
53), so whichever SIMD path numpy takes the result is the same, then rounded to complex64.
"""
from __future__ import annotations

import numpy as np
from gnuradio import gr


class exact_mixer_cc(gr.sync_block):
    """out = in0 * in1 (``op='mul'``) or in0 / in1 (``op='div'``, 0 where in1 = 0), complex64,
    identical whatever the work() chunking."""

    def __init__(self, op="mul"):
        if op not in ("mul", "div"):
            raise ValueError(f"exact_mixer_cc: op must be 'mul' or 'div', got {op!r}")
        gr.sync_block.__init__(self, name="exact_mixer_cc", in_sig=[np.complex64, np.complex64],
                               out_sig=[np.complex64])
        self.op = op

    def work(self, input_items, output_items):
        n = len(output_items[0])
        a = input_items[0][:n].astype(np.complex128)
        b = input_items[1][:n].astype(np.complex128)
        if self.op == "mul":
            output_items[0][:n] = a * b
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                q = a / b
            q[b == 0] = 0
            output_items[0][:n] = q
        return n
