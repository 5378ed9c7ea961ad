#!/usr/bin/env python3
"""Fuzz harness, long profile (issue 18): every block of the module x every input class x
several seeds and stream lengths, plus hypothesis-generated cases, each in a real flowgraph
with a timeout; and every model loader x generated bad files. The short profile of the same
harness runs in the test suite (tests/fuzz).

    venv/bin/python scripts/fuzz_blocks.py [--seeds 5] [--examples 300] [--blocks NAME ...]

Prints a block x input-class matrix (OK or the problem) and ends with ``RESULT {json}``:
cases run, hangs, exceptions, non-finite outputs, uncounted bad inputs, seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fuzz"))

import blocks_spec as bs  # noqa: E402
from runner import run_case  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5, help="seeds per block and input class")
    ap.add_argument("--examples", type=int, default=300, help="hypothesis-generated cases over all blocks")
    ap.add_argument("--blocks", nargs="*", default=None, help="only these block specs")
    a = ap.parse_args(argv)
    names = a.blocks or sorted(bs.specs())
    t0 = time.time()
    stats = {"cases": 0, "hangs": 0, "exceptions": 0, "nonfinite_outputs": 0, "uncounted": 0}
    failures = []

    def record(o):
        stats["cases"] += 1
        pr = o.problems()
        stats["hangs"] += not o.finished
        stats["exceptions"] += bool(o.errors)
        stats["nonfinite_outputs"] += not o.finite
        stats["uncounted"] += bool(o.injected_bad and not o.counted)
        if pr:
            failures.append(f"{o.block} {o.case}: {'; '.join(pr)}"[:300])
        return "OK" if not pr else "FAIL"

    print(f"{'block':32s} " + " ".join(f"{c:>8s}" for c in bs.VALUE_CLASSES), flush=True)
    for name in names:
        row = []
        for cls in bs.VALUE_CLASSES:
            cell = "OK"
            for seed in range(a.seeds):
                units = seed % 4  # 0 = the spec's default length, else 1..3 work units
                r = record(run_case(name, cls, seed=seed, tags=seed % 2 == 1, messages=seed % 2 == 1, n_units=units))
                if r != "OK":
                    cell = "FAIL"
            row.append(cell)
        print(f"{name:32s} " + " ".join(f"{c:>8s}" for c in row), flush=True)

    if a.examples > 0:
        from hypothesis import HealthCheck, given, settings
        from hypothesis import strategies as st

        @settings(max_examples=a.examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(
            name=st.sampled_from(names),
            cls=st.sampled_from(bs.VALUE_CLASSES),
            seed=st.integers(0, 2**31 - 1),
            tags=st.booleans(),
            messages=st.booleans(),
            units=st.integers(0, 3),
        )
        def generated(name, cls, seed, tags, messages, units):
            record(run_case(name, cls, seed=seed, tags=tags, messages=messages, n_units=units))

        generated()
    for f in failures[:50]:
        print("FAIL", f)
    stats["seconds"] = round(time.time() - t0, 1)
    stats["blocks"] = len(names)
    stats["failures"] = len(failures)
    print("RESULT " + json.dumps(stats))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
