"""Speed of the C++ hard-quantization kernel (``deepquant bench quantizer`` / ``bench/quantizer.py``).

For N float32 samples (default 1e7) and 4/16/64/256 levels, uniform and non-uniform, one run
measures: the kernel's samples/s (single thread: the kernel never spawns threads),
``numpy.searchsorted`` and ``torch.bucketize`` (1 thread) on the same data, and a copy of the same
input bytes (``numpy.copyto``, the memory-bandwidth bound). It also runs the ``quantizer_fb`` block
in a flowgraph (null source -> head -> quantizer_fb -> null sink) and reports the rate of its
work() from GNU Radio's performance counters, and the end-to-end rate next to the same plumbing
without the block (which bounds it).
Every figure is the median of ``--repeats`` runs; ratios are taken within this run.

Goals (issue: foundation): non-uniform 64 levels >= 20x numpy.searchsorted; uniform path
>= 1e9 samples/s and within 2x of the copy bound; quantizer_fb in a flowgraph within 3x of the
raw kernel.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np


def _median_time(fn, repeats):
    fn()  # warm-up
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def _flowgraph_rate(thresholds, n_items, with_block, repeats):
    """(end-to-end samples/s, samples/s inside the block's work()) of null source -> head ->
    [quantizer_fb ->] null sink. The second figure comes from GNU Radio's performance counters
    (time spent in work()), i.e. the block's own cost inside a running flowgraph."""
    from gnuradio import blocks, gr

    from gnuradio import deepquant as dq

    def once():
        tb = gr.top_block()
        # null_source (zeros): a vector_source copies its data into every buffer and alone runs
        # slower than the kernel. The kernel is branch-free: its speed does not depend on values.
        src = blocks.null_source(gr.sizeof_float)
        head = blocks.head(gr.sizeof_float, n_items)
        blk = dq.quantizer_fb(thresholds, 1)
        if with_block:
            tb.connect(src, head, blk, blocks.null_sink(1))
        else:
            tb.connect(src, head, blocks.null_sink(gr.sizeof_float))
        t0 = time.perf_counter()
        tb.run()
        dt = time.perf_counter() - t0
        work_ns = blk.pc_work_time_total() if with_block else 0.0
        return dt, work_ns

    runs = [once() for _ in range(repeats)]
    e2e = n_items / statistics.median(r[0] for r in runs)
    work_ns = statistics.median(r[1] for r in runs)
    return e2e, (n_items / (work_ns * 1e-9) if work_ns > 0 else float("nan"))


def _flowgraph_in_child(thresholds, n_items):
    """Run the flowgraph measurements in a child process: GNU Radio reads the performance-counter
    switch (GR_CONF_PERFCOUNTERS_ON) once, when it starts."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, GR_CONF_PERFCOUNTERS_ON="True")
    code = (
        "import json, sys; from gnuradio.deepquant.apps.bench_quantizer import _flowgraph_rate as f; "
        f"t = {list(map(float, thresholds))!r}; n = {int(n_items)}; "
        "a = f(t, n, True, 3); b = f(t, n, False, 3); print(json.dumps([a[0], a[1], b[0]]))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="bench/quantizer.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=10_000_000, help="samples per measurement")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--levels", type=int, nargs="+", default=[4, 16, 64, 256])
    ap.add_argument(
        "--isa",
        default="auto",
        choices=["auto", "avx512", "avx2", "generic"],
        help="kernel code path for the non-uniform rows (default: the best the CPU has)",
    )
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args(argv)

    import torch

    from gnuradio import deepquant as dq

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(args.n).astype(np.float32)
    xt = torch.from_numpy(x)
    dst = np.empty_like(x)
    copy_s = _median_time(lambda: np.copyto(dst, x), args.repeats)
    copy_rate = args.n / copy_s
    rows = []
    probe = dq.scalar_quantizer([0.0])
    probe.set_isa(args.isa)
    isa = probe.isa
    print(
        f"N = {args.n:.0e} float32 samples, median of {args.repeats}; kernel ISA: {isa} "
        f"(uniform path: avx2 or generic); torch threads 1"
    )
    print(f"copy of the same bytes (numpy.copyto): {copy_rate / 1e9:.2f} G samples/s")
    print(
        f"{'levels':>6} {'kind':>11} {'kernel S/s':>11} {'searchsorted':>12} {'bucketize':>10} "
        f"{'x searchsorted':>14} {'x bucketize':>11} {'copy/kernel time':>16}"
    )
    for m in args.levels:
        thr = np.sort(rng.standard_normal(m - 1) * 1.5).astype(np.float32)
        for kind in ("non-uniform", "uniform"):
            if kind == "uniform":
                q = dq.scalar_quantizer.make_uniform(-3.0, 3.0, m)
                t_ref = np.asarray(q.thresholds, dtype=np.float32)
            else:
                q = dq.scalar_quantizer(thr.tolist())
                q.set_isa(args.isa)
                t_ref = thr
            out = np.empty(args.n, dtype=np.uint8)
            k_s = _median_time(lambda: q.quantize(x, out), args.repeats)
            ref = np.searchsorted(t_ref, x, side="right")
            assert np.array_equal(ref, out), "kernel disagrees with numpy.searchsorted"
            tt = torch.from_numpy(t_ref)
            ss_s = _median_time(lambda: np.searchsorted(t_ref, x, side="right"), max(1, args.repeats // 2))
            bk_s = _median_time(lambda: torch.bucketize(xt, tt, right=True), max(1, args.repeats // 2))
            row = {
                "levels": m,
                "kind": kind,
                "kernel_samples_per_s": args.n / k_s,
                "searchsorted_samples_per_s": args.n / ss_s,
                "bucketize_samples_per_s": args.n / bk_s,
                "speedup_vs_searchsorted": ss_s / k_s,
                "speedup_vs_bucketize": bk_s / k_s,
                "kernel_time_over_copy_time": k_s / copy_s,
            }
            rows.append(row)
            print(
                f"{m:>6} {kind:>11} {row['kernel_samples_per_s']:>11.3e} {row['searchsorted_samples_per_s']:>12.3e} "
                f"{row['bucketize_samples_per_s']:>10.3e} {row['speedup_vs_searchsorted']:>14.1f} "
                f"{row['speedup_vs_bucketize']:>11.1f} {row['kernel_time_over_copy_time']:>16.2f}"
            )
    # the block in a flowgraph, 64 non-uniform levels
    thr64 = np.sort(rng.standard_normal(63) * 1.5).astype(np.float32).tolist()
    q64 = dq.scalar_quantizer(thr64)
    q64.set_isa(args.isa)
    out = np.empty(args.n, dtype=np.uint8)
    kernel64 = args.n / _median_time(lambda: q64.quantize(x, out), args.repeats)
    fg_e2e, fg_work, plumbing = _flowgraph_in_child(thr64, args.n)
    print(
        f"quantizer_fb (64 levels) in a flowgraph: its work() runs at {fg_work:.3e} samples/s "
        f"(GNU Radio performance counters) = raw kernel ({kernel64:.3e}) / {kernel64 / fg_work:.2f}; "
        f"end to end null source -> head -> quantizer_fb -> null sink {fg_e2e:.3e} samples/s, "
        f"bounded by the plumbing (null source -> head -> null sink alone: {plumbing:.3e})"
    )
    nu64 = next(r for r in rows if r["levels"] == 64 and r["kind"] == "non-uniform")
    uni = [r for r in rows if r["kind"] == "uniform"]
    result = {
        "n_samples": args.n,
        "kernel_isa": isa,
        "copy_samples_per_s": copy_rate,
        "nonuniform64_samples_per_s": nu64["kernel_samples_per_s"],
        "nonuniform64_speedup_vs_searchsorted": nu64["speedup_vs_searchsorted"],
        "uniform_min_samples_per_s": min(r["kernel_samples_per_s"] for r in uni),
        "uniform_max_time_over_copy": max(r["kernel_time_over_copy_time"] for r in uni),
        "kernel64_samples_per_s": kernel64,
        "block64_work_samples_per_s": fg_work,
        "kernel64_over_block_work_ratio": kernel64 / fg_work,
        "flowgraph64_end_to_end_samples_per_s": fg_e2e,
        "plumbing_only_samples_per_s": plumbing,
        "goals_met": {
            "nonuniform64_ge_20x_searchsorted": nu64["speedup_vs_searchsorted"] >= 20,
            "uniform_ge_1e9_samples_per_s": min(r["kernel_samples_per_s"] for r in uni) >= 1e9,
            "uniform_within_2x_copy": max(r["kernel_time_over_copy_time"] for r in uni) <= 2.0,
            "block_within_3x_kernel": kernel64 / fg_work <= 3.0,
        },
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": result, "rows": rows}, f, indent=2)
    print("RESULT " + json.dumps(result))
    return 0
