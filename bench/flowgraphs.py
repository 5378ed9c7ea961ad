#!/usr/bin/env python3
"""Throughput of the OFDM flowgraphs and where their time goes (GNU Radio performance counters).

Each flowgraph runs in its own child process started with ``GR_CONF_PERFCOUNTERS_ON=True``
(GNU Radio reads it once at start-up). The child runs the receive flowgraph, then reads every
block's ``pc_work_time_total()`` (ns of CPU spent in its work()) -- walking into the module's
hierarchical blocks -- and reports each block's share of the summed work time. The bottleneck
is the block with the largest share (GNU Radio runs one thread per block, so on a machine with
as many cores as blocks it bounds the throughput; on these 2 cores the sum matters too).

Flowgraphs: 1 SISO OFDM receive chain (sync, header, estimation, demapper, LDPC) with float
LLRs and with the learned soft-bit codec (both with the default decoder-aided re-estimation), and
with float LLRs without it; 2 MIMO-OFDM 2x2 in the time domain (two receive
chains sharing one Schmidl & Cox sync, LS training, detector, LDPC) with LMMSE and exact ML
(both with the default decoder-aided re-estimation in the payload estimator), and exact ML
without it.
Samples/s are complex baseband samples at the 20 Msps numerology (real time = 2e7; MIMO: per
antenna).

Run:  venv/bin/python bench/flowgraphs.py [--packets 150] [--out out/bench_flowgraphs]
Ends with one line ``RESULT {json}``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

FLOWGRAPHS = {
    "siso_float": ("siso", "none"),
    "siso_learned": ("siso", "learned"),
    "siso_float_no_feedback": ("siso", "none/nofb"),
    "mimo_lmmse": ("mimo", "lmmse"),
    "mimo_exact_ml": ("mimo", "exact_ml"),
    "mimo_exact_ml_no_feedback": ("mimo", "exact_ml/nofb"),
}


def _collect(objs, prefix=""):
    """(name, block) for every GNU Radio block reachable from the given objects' attributes."""
    from gnuradio import gr

    out, seen = [], set()

    def visit(name, o, depth):
        if id(o) in seen or depth > 3:
            return
        seen.add(id(o))
        if isinstance(o, gr.hier_block2):
            for k, v in vars(o).items():
                if hasattr(v, "pc_work_time_total") or isinstance(v, gr.hier_block2):
                    visit(f"{name}.{k}", v, depth + 1)
            return
        if hasattr(o, "pc_work_time_total"):
            out.append((name, o))

    for n, o in objs:
        visit(prefix + n, o, 0)
    return out


def child(name: str, packets: int) -> dict:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import numpy as np
    import pmt
    import torch
    from gnuradio import blocks, gr

    torch.set_num_threads(1)
    kind, method = FLOWGRAPHS[name]
    if kind == "siso":
        from gnuradio.deepquant.apps import ofdm_flowgraphs as fg
        from gnuradio.deepquant.blocks.ofdm_fer_counter import ofdm_fer_counter
        from gnuradio.deepquant.blocks.ofdm_impairments import ofdm_impairments
        from gnuradio.deepquant.blocks.ofdm_rx import ofdm_rx
        from gnuradio.deepquant.ofdm.layout import OfdmLayout

        lay = OfdmLayout()
        iq, starts = fg.transmit(packets)
        tags = [gr.tag_utils.python_to_tag((int(s), pmt.intern("packet_len"), pmt.from_long(lay.samples_per_packet),
                                            pmt.intern("tx"))) for s in starts]
        sig = np.concatenate([iq, np.zeros(3 * lay.samples_per_packet, np.complex64)])
        tb = gr.top_block()
        src = blocks.vector_source_c(sig.tolist(), False, 1, tags)
        ch = ofdm_impairments(fg.SAMP_RATE, 24.0, 0.15, 10.0, "epa_block", 50.0, 64, 1)
        rx = ofdm_rx(softbit_method=method.split("/")[0], decision_feedback=not method.endswith("/nofb"))
        cnt = ofdm_fer_counter(4, 1, 16, False)
        tb.connect(src, ch, rx, cnt)
        tb.connect((rx, 1), blocks.null_sink(gr.sizeof_gr_complex))
        tb.connect((rx, 2), blocks.null_sink(gr.sizeof_gr_complex))
        objs = [("channel", ch), ("rx", rx), ("fer_counter", cnt), ("source", src)]
        n_samples = sig.size
    else:
        from gnuradio.deepquant.apps import mimo_ofdm

        n_frames = max(4, packets // 4)
        # time domain: two chains, shared sync
        tb, blks = mimo_ofdm.build(24.0, method.split("/")[0], n_frames, "epa",
                                   decision_feedback=not method.endswith("/nofb"))
        n_samples = blks.pop("n_samples")  # per antenna, lead-in and tail zeros included
        srcs = blks.pop("sources")
        objs = list(blks.items()) + [(f"source{j}", s) for j, s in enumerate(srcs)]
        cnt = blks["counter"]
    t0 = time.perf_counter()
    tb.run()
    dt = time.perf_counter() - t0
    times = {}
    for n, b in _collect(objs):
        try:
            times[n] = float(b.pc_work_time_total())
        except Exception:  # noqa: BLE001
            pass
    return {"flowgraph": name, "samples": int(n_samples), "wall_s": dt, "work_ns": times, "fer": cnt.fer()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--packets", type=int, default=150, help="SISO packets (MIMO: a quarter as many frames)")
    p.add_argument("--flowgraphs", nargs="+", default=list(FLOWGRAPHS), choices=list(FLOWGRAPHS))
    p.add_argument("--out", default="out/bench_flowgraphs")
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print("CHILD " + json.dumps(child(a.child, a.packets)))
        return 0
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GR_CONF_PERFCOUNTERS_ON="True")
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("DEEPQUANT_TORCH_THREADS", "1")
    results = []
    for name in a.flowgraphs:
        r = subprocess.run([sys.executable, __file__, "--child", name, "--packets", str(a.packets)], env=env,
                           capture_output=True, text=True, timeout=1800)
        line = [x for x in r.stdout.splitlines() if x.startswith("CHILD ")]
        if r.returncode != 0 or not line:
            print(f"{name}: child failed\n{r.stderr[-2000:]}", file=sys.stderr)
            return 1
        d = json.loads(line[-1][6:])
        tot = sum(d["work_ns"].values()) or 1.0
        shares = sorted(((k, v / tot) for k, v in d["work_ns"].items() if v > 0), key=lambda kv: -kv[1])
        d["share"] = dict(shares)
        d["samples_per_s"] = d["samples"] / d["wall_s"]
        d["bottleneck"] = shares[0][0] if shares else None
        d["bottleneck_share"] = shares[0][1] if shares else None
        results.append(d)
        print(f"{name:>14}: {d['samples_per_s']:.3g} samples/s ({d['samples_per_s'] / 2e7:.4f} x real time at 20 Msps); "
              f"bottleneck {d['bottleneck']} ({100 * d['bottleneck_share']:.0f} % of work time)")
        for k, v in shares[:6]:
            print(f"{'':>16}{k:<40} {100 * v:5.1f} %")
    (out / "flowgraphs.json").write_text(json.dumps(results, indent=2))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 1, figsize=(8, 2.2 * len(results)), squeeze=False)
    for ax, d in zip(axes[:, 0], results):
        items = list(d["share"].items())[:8][::-1]
        ax.barh([k[-38:] for k, _ in items], [100 * v for _, v in items])
        ax.set_title(f"{d['flowgraph']}: {d['samples_per_s']:.3g} samples/s", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("% of work time")
    fig.tight_layout()
    fig.savefig(out / "flowgraphs.png", dpi=110)
    summary = {d["flowgraph"]: {"samples_per_s": round(d["samples_per_s"]), "bottleneck": d["bottleneck"],
                                "bottleneck_share": round(d["bottleneck_share"], 3)} for d in results}
    print("RESULT " + json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
