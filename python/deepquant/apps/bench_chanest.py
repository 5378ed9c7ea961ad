"""Speed of the channel-estimator blocks (``bench/chanest.py`` / ``deepquant bench chanest``).

One run measures, for the paper's setup (n_t = 10, n_u = 4, tau_p = 12), channel estimates per
second of

* the ``tbq_channel_estimator`` block (soft-to-hard, shipped model at ``--rate``) and, as the
  baseline in the same run, the ``mmse_channel_estimator`` block (plus the uniform-ADC and
  hardware-limited blocks), each in a flowgraph
  ``vector_source (pilot blocks, repeated) -> head -> estimator -> null_sink``: end-to-end
  estimates/s and the rate of the block's own work() (GNU Radio performance counters, measured
  in a child process because GNU Radio reads that switch at start-up);
* the same estimators called directly on numpy batches (``--batch`` pilot blocks per call).

Every figure is the median of ``--repeats`` runs; one thread (the CPU is shared).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

NT, NU, TP = 10, 4, 12


def _make_block(kind, rate):
    from gnuradio import deepquant as dq

    if kind == "tbq_soft_to_hard":
        return dq.tbq_channel_estimator(NT, NU, TP, rate, method="soft_to_hard")
    if kind == "mmse":
        return dq.mmse_channel_estimator(NT, NU, TP, 4.0)
    if kind == "uniform_1bit":
        return dq.uniform_adc_channel_estimator(NT, NU, TP, 1, 4.0)
    if kind == "tbq_hardware_limited":
        return dq.tbq_channel_estimator(NT, NU, TP, rate, method="hardware_limited", snr=4.0)
    raise ValueError(kind)


def _flowgraph_rates(kind, rate, n_items, repeats):
    """(end-to-end estimates/s, estimates/s inside work()) -- median of ``repeats`` runs."""
    from gnuradio import blocks, gr

    from ..chanest.system import ChannelSetup

    y, _ = ChannelSetup(NT, NU, TP).sample_complex(1024, np.random.default_rng(0))
    data = y.astype(np.complex64).ravel().tolist()
    runs = []
    for _ in range(repeats):
        tb = gr.top_block()
        src = blocks.vector_source_c(data, True, TP * NT)
        head = blocks.head(gr.sizeof_gr_complex * TP * NT, n_items)
        blk = _make_block(kind, rate)
        snk = blocks.null_sink(gr.sizeof_gr_complex * NT * NU)
        tb.connect(src, head, blk, snk)
        t0 = time.perf_counter()
        tb.run()
        dt = time.perf_counter() - t0
        runs.append((dt, blk.pc_work_time_total()))
    e2e = n_items / statistics.median(r[0] for r in runs)
    work_ns = statistics.median(r[1] for r in runs)
    return e2e, (n_items / (work_ns * 1e-9) if work_ns > 0 else float("nan"))


def _in_child(kind, rate, n_items, repeats):
    import os
    import subprocess
    import sys

    env = dict(os.environ, GR_CONF_PERFCOUNTERS_ON="True", OMP_NUM_THREADS="1")
    code = (
        "import json; from gnuradio.deepquant.apps.bench_chanest import _flowgraph_rates as f; "
        f"print(json.dumps(f({kind!r}, {float(rate)!r}, {int(n_items)}, {int(repeats)})))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _numpy_rate(est, y, repeats):
    est(y[:8])  # warm-up
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        est(y)
        ts.append(time.perf_counter() - t0)
    return len(y) / statistics.median(ts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="bench/chanest.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rate", type=float, default=1.0, help="rate of the soft-to-hard model (default 1.0: M = 8)")
    ap.add_argument("--items", type=int, default=200_000, help="pilot blocks per flowgraph run")
    ap.add_argument("--batch", type=int, default=8192, help="pilot blocks per direct numpy call")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args(argv)

    from ..chanest.estimators import make_estimator, MMSEEstimator, UniformADCEstimator
    from ..chanest.system import ChannelSetup

    y, _ = ChannelSetup(NT, NU, TP).sample_complex(args.batch, np.random.default_rng(1))
    y = y.astype(np.complex64)
    direct = {
        "tbq_soft_to_hard": make_estimator(NT, NU, TP, args.rate, "soft_to_hard"),
        "mmse": MMSEEstimator(NT, NU, TP, 4.0),
        "uniform_1bit": UniformADCEstimator(NT, NU, TP, 2, 4.0),
        "tbq_hardware_limited": make_estimator(NT, NU, TP, args.rate, "hardware_limited"),
    }
    rows = {}
    print(
        f"n_t={NT}, n_u={NU}, tau_p={TP}; soft-to-hard model at rate {args.rate} "
        f"({direct['tbq_soft_to_hard'].num_levels} levels); median of {args.repeats}; 1 thread"
    )
    print(f"{'estimator':>22} {'numpy est/s':>12} {'block work() est/s':>19} {'flowgraph est/s':>16}")
    for kind, est in direct.items():
        npr = _numpy_rate(est, y, args.repeats)
        e2e, work = _in_child(kind, args.rate, args.items, args.repeats)
        rows[kind] = {
            "numpy_estimates_per_s": npr,
            "block_work_estimates_per_s": work,
            "flowgraph_estimates_per_s": e2e,
        }
        print(f"{kind:>22} {npr:>12.3e} {work:>19.3e} {e2e:>16.3e}")
    t, m = rows["tbq_soft_to_hard"], rows["mmse"]
    result = {
        "rate_bits_per_obs": args.rate,
        "items": args.items,
        "tbq_block_work_estimates_per_s": t["block_work_estimates_per_s"],
        "mmse_block_work_estimates_per_s": m["block_work_estimates_per_s"],
        "tbq_over_mmse_block_work_ratio": t["block_work_estimates_per_s"] / m["block_work_estimates_per_s"],
        "tbq_flowgraph_estimates_per_s": t["flowgraph_estimates_per_s"],
        "mmse_flowgraph_estimates_per_s": m["flowgraph_estimates_per_s"],
        "tbq_over_mmse_flowgraph_ratio": t["flowgraph_estimates_per_s"] / m["flowgraph_estimates_per_s"],
        "tbq_numpy_estimates_per_s": t["numpy_estimates_per_s"],
        "mmse_numpy_estimates_per_s": m["numpy_estimates_per_s"],
        "rows": rows,
    }
    print(
        f"tbq_channel_estimator / mmse_channel_estimator: work() {result['tbq_over_mmse_block_work_ratio']:.2f}x, "
        f"flowgraph {result['tbq_over_mmse_flowgraph_ratio']:.2f}x"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    print("RESULT " + json.dumps(result))
    return 0
