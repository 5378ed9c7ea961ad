"""``finite_guard_cc``: the entry guard of the module's hierarchical receivers and channel
models -- complex samples that are NaN/inf, or so large that their power overflows float32
(|x| > 1e18), become 0, counted and logged (rate-limited), so a bad sample never reaches GNU
Radio's C++ blocks inside (which would carry it on silently)."""
from __future__ import annotations

import numpy as np
from gnuradio import gr

from ._common import BadInputCounter


#: |x| above which a sample counts as bad: its power |x|^2 would overflow float32 (3.4e38)
MAX_ABS = 1e18


class finite_guard_cc(gr.sync_block):
    """Complex stream (vlen ``vlen``) in -> the same out, with non-finite samples and samples
    with |x| > :data:`MAX_ABS` replaced by 0.

    ``bad.count`` counts the replaced samples. A stream without bad samples is copied as is
    (one pass over the magnitudes per work() call)."""

    def __init__(self, vlen=1, what="input samples"):
        v = int(vlen)
        gr.sync_block.__init__(self, name="finite_guard_cc", in_sig=[(np.complex64, v) if v > 1 else np.complex64],
                               out_sig=[(np.complex64, v) if v > 1 else np.complex64])
        self.bad = BadInputCounter(self.logger, f"non-finite or out-of-range (|x| > 1e18) {what} replaced by 0")

    def work(self, input_items, output_items):
        x = input_items[0]
        n = len(x)
        fin = np.abs(x) <= MAX_ABS  # False for NaN and +-inf too
        if fin.all():
            output_items[0][:n] = x
        else:
            self.bad.add(int(fin.size - np.count_nonzero(fin)))
            output_items[0][:n] = np.where(fin, x, np.complex64(0))
        return n
