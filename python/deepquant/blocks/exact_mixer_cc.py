"""``exact_mixer_cc``: complex multiply (or divide) of two streams whose result does not depend on
how the scheduler chunks the streams.

GNU Radio's ``blocks.multiply_cc`` / ``divide_cc`` call VOLK, which picks an aligned or an
unaligned kernel at every work() call from the buffer pointers -- and on this hardware the two
round differently (fused multiply-add in one of them): measured, the same inputs chunked
differently (``top_block.run(max_noutput_items)``) give products differing in the last bit. In a
receiver's CFO mixer that made two runs at one seed differ (one HARQ packet flipped between runs,
issue 18). Here every float32 product is formed exactly in float64 (24 x 24 mantissa bits fit in
53), so the result is the same whatever the chunking, then rounded to complex64.

The block is the kernel library's C++ ``exact_mixer_cc`` (no Python, no interpreter lock on the
receivers' sample-rate paths); :func:`reference` is the numpy computation it reproduces bit for
bit (the tests compare them).
"""

from __future__ import annotations

import numpy as np


def exact_mixer_cc(op="mul"):
    """out = in0 * in1 (``op='mul'``) or in0 / in1 (``op='div'``, 0 where in1 = 0), complex64,
    identical whatever the work() chunking: a C++ ``gr.sync_block`` (two complex inputs, one
    complex output)."""
    if op not in ("mul", "div"):
        raise ValueError(f"exact_mixer_cc: op must be 'mul' or 'div', got {op!r}")
    from .. import deepquant_python as dq

    return dq.exact_mixer_cc(op == "div")


def reference(a, b, op="mul") -> np.ndarray:
    """The block's output for input streams ``a``, ``b`` (complex64 arrays), computed by numpy."""
    a = np.asarray(a).astype(np.complex128)
    b = np.asarray(b).astype(np.complex128)
    if op == "mul":
        return (a * b).astype(np.complex64)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = a / b
    q[b == 0] = 0
    return q.astype(np.complex64)
