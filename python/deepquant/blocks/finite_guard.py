"""``finite_guard_cc``: the entry guard of the module's hierarchical receivers and channel models --
complex samples that are NaN/inf, or so large that their power overflows float32 (|x| > 1e18),
become 0, counted and logged (rate-limited), so a bad sample never reaches GNU Radio's C++ blocks
inside (which would carry it on silently).

The block is the kernel library's C++ ``finite_guard_cc`` (it sits on every received sample: no
Python, no interpreter lock there); :func:`reference` is the numpy rule it applies.
"""

from __future__ import annotations

import numpy as np

#: |x| above which a sample counts as bad: its power |x|^2 would overflow float32 (3.4e38)
MAX_ABS = 1e18


def finite_guard_cc(vlen=1, what="input samples"):
    """Complex stream (vlen ``vlen``) in -> the same out, with non-finite samples and samples with
    |x| > :data:`MAX_ABS` replaced by 0 (a C++ ``gr.sync_block``). ``bad_count()``: the samples
    replaced so far (each call that replaced some is logged at the 1st, 2nd, 4th, 8th ... time,
    naming ``what``)."""
    if int(vlen) < 1:
        raise ValueError(f"finite_guard_cc: vlen must be >= 1, got {vlen}")
    from .. import deepquant_python as dq

    return dq.finite_guard_cc(int(vlen), str(what))


def reference(x) -> tuple:
    """The guard's output for the complex64 samples ``x`` and the number replaced (numpy)."""
    x = np.asarray(x, dtype=np.complex64)
    fin = np.abs(x) <= MAX_ABS  # False for NaN and +-inf too
    return np.where(fin, x, np.complex64(0)).astype(np.complex64), int(fin.size - np.count_nonzero(fin))
