#!/usr/bin/env python3
"""``mimo_detector``'s work() on its C++ path against its generic path, in one process.

The C++ path (lmmse, ep, eqnet_l / eqnet_p with the C++ EQ-Net backend) is one ``detect_into``
call per work() on GNU Radio's buffers, the guards in C++; the generic path (the block with
``_fast = None``) is the numpy sanitising, the batched kernel call, the copy into the output
buffer and the numpy finiteness check / clipping that every method had before. Both blocks get
the same 2x2 64-QAM channel uses (28 dB) through direct work() calls of ``--items`` channel
uses (768 is what GNU Radio's default buffers hand a vlen-12 float output), interleaved over
``--rounds``; it prints channel uses/s of each and the per-round ratio C++ / generic, and the
``detect_into`` call alone (no work() around it) as the ceiling.

Run: venv/bin/python bench/mimo_detector_work.py [--items 768 8192] [--rounds 5] [--methods lmmse ep eqnet_l]
Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--items", type=int, nargs="+", default=[768, 8192], help="channel uses per work() call")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--uses", type=int, default=200000, help="channel uses per timing")
    p.add_argument("--methods", nargs="+", default=["lmmse", "ep", "eqnet_l"])
    a = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from eqnet import _data

    from gnuradio import deepquant as dq

    res = {}
    for m in a.methods:
        for n in a.items:
            y, H, nv = _data(n, 2, 2, 6, seed=3)
            ins = [np.ascontiguousarray(y, np.complex64), np.ascontiguousarray(H, np.complex64).reshape(n, 4), nv]
            out = np.empty((n, 12), np.float32)
            blks = {"cpp": dq.mimo_detector(2, 2, 6, m), "generic": dq.mimo_detector(2, 2, 6, m)}
            blks["generic"]._fast = None
            st = np.empty(n, np.uint8)
            calls = {name: (lambda b=b: b.work(ins, [out])) for name, b in blks.items()}
            calls["kernel"] = lambda f=blks["cpp"]._fast: f(ins[0], ins[1], ins[2], out, st)
            rate = {k: [] for k in calls}
            reps = max(3, a.uses // n)
            for _ in range(a.rounds):
                for name, fn in calls.items():
                    fn()
                    t = time.perf_counter()
                    for _ in range(reps):
                        fn()
                    rate[name].append(n * reps / (time.perf_counter() - t))
            ratios = [c / g for c, g in zip(rate["cpp"], rate["generic"])]
            r = {
                "cpp_cu_per_s": float(np.median(rate["cpp"])),
                "generic_cu_per_s": float(np.median(rate["generic"])),
                "detect_into_cu_per_s": float(np.median(rate["kernel"])),
                "cpp_vs_generic_ratio": float(np.median(ratios)),
                "cpp_vs_generic_ratios": [round(x, 3) for x in ratios],
            }
            res[f"{m}_{n}"] = r
            print(
                f"{m:8s} {n:5d} per work(): C++ path {r['cpp_cu_per_s']:.3g}, generic {r['generic_cu_per_s']:.3g}, "
                f"detect_into alone {r['detect_into_cu_per_s']:.3g} channel uses/s; C++ / generic per round "
                f"{' '.join(f'{x:.2f}' for x in ratios)} (median {r['cpp_vs_generic_ratio']:.2f})",
                flush=True,
            )
    print("RESULT " + json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
