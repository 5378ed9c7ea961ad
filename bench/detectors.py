#!/usr/bin/env python3
"""Throughput of the soft MIMO detectors of gnuradio.deepquant.phy.mimo (channel uses per second).

Run: venv/bin/python bench/detectors.py [--threads 2] [--out out/bench_detectors.json]
     [--min-time 0.5] [--skip-slow]

For 2x2 64-QAM and 4x4 16-QAM, each detector (exact_ml, maxlog_ml, zf_sic, lmmse, ep) is timed at
batch 1, 256 and 8192 channel uses per call (i.i.d. Rayleigh H with CN(0, 1) entries, SNR
E||Hx||^2 / (Nr noise_var) = 20 dB, torch complex64 inputs, float32 LLR outputs). Each figure
is the median over repeated calls after one warm-up call, repeated for at least --min-time
seconds (at least one timed call). Two rates per row: wall-clock channel uses per second (the
figure of merit) and channel uses per process-CPU-second (throughput per core actually
obtained, less sensitive to other processes on a shared machine). The 1-minute load average is
printed before and after: with more runnable processes than cores the wall-clock figures drop.
OpenMP's wait policy is left as the environment sets it (the default, active spinning, is what a
quiet machine should be measured with: exact ML 2x2 64-QAM at batch 8192 and 2 threads measured
1.9-2.1e5 cu/s with it and 6.3e4 with OMP_WAIT_POLICY=PASSIVE); on a machine shared with other
jobs, run with OMP_WAIT_POLICY=PASSIVE, where spinning teams collapse 10-50x.

Prints a table, writes JSON to --out, and ends with one line ``RESULT {json}`` holding the
figures, keyed ``<row name>_<config>_b<batch>_<unit>`` (e.g.
``exact_ml_2x2_64qam_b8192_cu_per_s``). Goal (issue: link-level toolkit): exact ML on
2x2 64-QAM >= 200 000 channel uses/s at batch 8192 with 2 torch threads.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np  # noqa: E402
import torch  # noqa: E402

from gnuradio.deepquant.phy import mapping, mimo  # noqa: E402

CONFIGS = [  # (config name, Nr, Nt, bits per symbol)
    ("2x2_64qam", 2, 2, 6),
    ("4x4_16qam", 4, 4, 4),
]
BATCHES = (1, 256, 8192)
SNR_DB = 20.0
GOAL_KEY = "exact_ml_2x2_64qam_b8192_cu_per_s"
GOAL_CU_PER_S = 200_000


def ldpc_rows():
    """GNU Radio's LDPC decoder (802.11n 648/324, 50 iterations max) in a flowgraph:
    vector source of LLRs -> ``deepquant.ldpc_decoder_fb`` -> null sink, codewords per second.

    LLRs are BPSK over AWGN at Eb/N0 = 2 dB (about 8 BP iterations on average: the waterfall,
    where sweeps spend their time) and 6 dB (1-2 iterations), 400 distinct codewords repeated.
    Decoding is single-threaded inside the block; the other core runs the source and sink.
    """
    from gnuradio import blocks, gr

    from gnuradio import deepquant as dq
    from gnuradio.deepquant.phy import ldpc

    rows = []
    rng = np.random.default_rng(0)
    n_unique, n_total = 400, 4000
    msg = rng.integers(0, 2, (n_unique, ldpc.K), dtype=np.uint8)
    x = 1.0 - 2.0 * ldpc.encode(msg).astype(np.float64)  # BPSK, bit 0 -> +1
    for ebn0 in (2.0, 6.0):
        sigma2 = 1.0 / (2 * 0.5 * 10 ** (ebn0 / 10))  # rate 1/2
        y = x + np.sqrt(sigma2) * rng.standard_normal(x.shape)
        llr = (-2.0 * y / sigma2).astype(np.float32)  # L = ln P(1)/P(0)
        tb = gr.top_block()
        src = blocks.vector_source_f(llr.ravel().tolist(), True)
        head = blocks.head(gr.sizeof_float, n_total * ldpc.N)
        dec = dq.ldpc_decoder_fb(50)
        tb.connect(src, head, dec, blocks.null_sink(gr.sizeof_char))
        t0 = time.perf_counter()
        tb.run()
        dt = time.perf_counter() - t0
        rows.append(
            {
                "name": "gr_ldpc",
                "config": f"ebn0_{ebn0:g}db",
                "batch": 1,
                "rate": n_total / dt,
                "unit": "codewords_per_s",
            }
        )
    return rows


def _data(batch, nr, nt, k, seed=0):
    g = torch.Generator().manual_seed(seed)
    H = torch.randn(batch, nr, nt, dtype=torch.complex64, generator=g)  # CN(0, 1) entries
    pts = torch.from_numpy(mapping.constellation(k).astype(np.complex64))
    x = pts[torch.randint(0, 2**k, (batch, nt), generator=g)]
    nv = torch.full((batch,), nt / 10 ** (SNR_DB / 10))
    n = torch.randn(batch, nr, dtype=torch.complex64, generator=g) * math.sqrt(nt / 10 ** (SNR_DB / 10))
    y = (H @ x.unsqueeze(-1)).squeeze(-1) + n
    return y, H, nv


def _time(fn, min_time):
    """(median wall seconds, median process-CPU seconds, timed calls) per call."""
    t0 = time.perf_counter()
    fn()  # warm-up (caches, allocator)
    warm = time.perf_counter() - t0
    reps = max(1, min(200, int(min_time / max(warm, 1e-6))))
    ts, cs = [], []
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
        cs.append(time.process_time() - c0)
    return statistics.median(ts), statistics.median(cs), reps


def detector_rows(min_time, skip_slow):
    rows = []
    for cfg, nr, nt, k in CONFIGS:
        for batch in BATCHES:
            y, H, nv = _data(batch, nr, nt, k)
            for name in mimo.CLASSICAL:
                fn = mimo.DETECTORS[name]
                if skip_slow and cfg == "4x4_16qam" and batch == 8192 and name.endswith("_ml"):
                    continue
                dt, cpu, reps = _time(lambda: fn(y, H, nv, k), min_time)
                rows.append(
                    {
                        "name": name,
                        "config": cfg,
                        "batch": batch,
                        "rate": batch / dt,
                        "unit": "cu_per_s",
                        "cpu_rate": batch / max(cpu, 1e-9),
                        "s_per_call": dt,
                        "cpu_s_per_call": cpu,
                        "timed_calls": reps,
                    }
                )
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    ap.add_argument("--out", default="out/bench_detectors.json", help="JSON output path")
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds of timed calls per figure")
    ap.add_argument("--skip-slow", action="store_true", help="skip 4x4 16-QAM ML at batch 8192 (~seconds each)")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    load0 = os.getloadavg()[0]
    print(
        f"torch {torch.__version__}, threads = {torch.get_num_threads()}, cpus = {os.cpu_count()}, "
        f"OMP_WAIT_POLICY = {os.environ.get('OMP_WAIT_POLICY')}, load average (1 min) = {load0:.2f}, "
        f"SNR = {SNR_DB} dB"
    )
    rows = detector_rows(args.min_time, args.skip_slow) + list(ldpc_rows())
    load1 = os.getloadavg()[0]

    print(f"\n{'name':<10} {'config':<10} {'batch':>6} {'rate (wall)':>14} {'per CPU-second':>15}  unit")
    for r in rows:
        cpu = f"{r['cpu_rate']:>15,.0f}" if "cpu_rate" in r else f"{'-':>15}"
        print(f"{r['name']:<10} {r['config']:<10} {r['batch']:>6} {r['rate']:>14,.0f} {cpu}  {r['unit']}")
    print(f"load average (1 min) after: {load1:.2f}")

    figures = {f"{r['name']}_{r['config']}_b{r['batch']}_{r['unit']}": round(r["rate"], 1) for r in rows}
    figures.update(
        {
            f"{r['name']}_{r['config']}_b{r['batch']}_{r['unit'].replace('_per_s', '_per_cpu_s')}": round(
                r["cpu_rate"], 1
            )
            for r in rows
            if "cpu_rate" in r
        }
    )
    figures["torch_threads"] = torch.get_num_threads()
    figures["load_average_1min_before"] = round(load0, 2)
    figures["load_average_1min_after"] = round(load1, 2)
    goal = figures.get(GOAL_KEY)
    if goal is not None:
        print(f"goal {GOAL_KEY} >= {GOAL_CU_PER_S:,}: {goal:,.0f} -> {'met' if goal >= GOAL_CU_PER_S else 'NOT met'}")
    report = {
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "load_average_1min": [load0, load1],
        "snr_db": SNR_DB,
        "rows": rows,
        "figures": figures,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")
    print("RESULT " + json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
