#!/usr/bin/env python3
"""Paired FER check of the receive chains: the same packets, channels and noise through this
checkout's receivers and through another installation's (e.g. the main checkout before the
real-time work), codeword errors side by side.

Flowgraph 1 (SISO ``ofdm_rx``, decoder-aided re-estimation on, float LLRs, EPA-like block fading,
CFO +0.2 subcarrier, 20 ppm) at the README's operating points, and flowgraph 2 (2x2 time-domain
MIMO-OFDM, LMMSE, re-estimation on) -- every run seeded, so both installations see identical
input samples; only the receivers' arithmetic differs.

Run:  venv/bin/python bench/fer_paired.py --baseline-python /work/main/venv/bin/python
      [--packets 400] [--snr-db 18 20] [--mimo-frames 150] [--mimo-snr-db 24]
Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys


def child(packets, snrs, mimo_frames, mimo_snrs) -> dict:
    import torch

    torch.set_num_threads(1)
    from gnuradio.deepquant.apps import mimo_ofdm
    from gnuradio.deepquant.apps import ofdm_flowgraphs as fg

    out = {"siso": {}, "mimo_lmmse": {}}
    iq, starts = fg.transmit(packets)
    for i, s in enumerate(snrs):
        r = fg.receive(iq, starts, float(s), 0.2, 20.0, "epa_block", seed=1000 + i)
        out["siso"][f"{s:g}"] = {
            "codeword_errors": r["codeword_errors"],
            "codewords": r["codewords"],
            "fer": r["fer"],
            "lost_packets": r["lost_packets"],
            "samples_per_s": r["samples_per_s"],
        }
    for i, s in enumerate(mimo_snrs):
        r = mimo_ofdm.run(float(s), "lmmse", mimo_frames, "epa", seed=i)
        out["mimo_lmmse"][f"{s:g}"] = {
            "codeword_errors": r["codeword_errors"],
            "codewords": r["codewords"],
            "fer": r["fer"],
            "lost_packets": r["lost_packets"],
            "samples_per_s": r["samples_per_s"],
        }
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--baseline-python", required=True, help="python of the installation to compare against")
    p.add_argument("--packets", type=int, default=400)
    p.add_argument("--snr-db", type=float, nargs="+", default=[18.0, 20.0])
    p.add_argument("--mimo-frames", type=int, default=150)
    p.add_argument("--mimo-snr-db", type=float, nargs="+", default=[24.0])
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print("CHILD " + json.dumps(child(a.packets, a.snr_db, a.mimo_frames, a.mimo_snr_db)))
        return 0
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", DEEPQUANT_TORCH_THREADS="1")
    args = [
        "--child",
        "--baseline-python",
        "-",
        "--packets",
        str(a.packets),
        "--mimo-frames",
        str(a.mimo_frames),
        "--snr-db",
        *map(str, a.snr_db),
        "--mimo-snr-db",
        *map(str, a.mimo_snr_db),
    ]
    res = {}
    for name, py in (("this", sys.executable), ("baseline", a.baseline_python)):
        r = subprocess.run([py, __file__, *args], env=env, capture_output=True, text=True, timeout=3600)
        line = [x for x in r.stdout.splitlines() if x.startswith("CHILD ")]
        if r.returncode != 0 or not line:
            print(f"{name} ({py}) failed:\n{r.stderr[-3000:]}", file=sys.stderr)
            return 1
        res[name] = json.loads(line[-1][6:])
    rows = []
    for chain in ("siso", "mimo_lmmse"):
        for snr, d in res["this"][chain].items():
            b = res["baseline"][chain][snr]
            rows.append(
                {
                    "chain": chain,
                    "snr_db": float(snr),
                    "codewords": d["codewords"],
                    "errors_this": d["codeword_errors"],
                    "errors_baseline": b["codeword_errors"],
                    "fer_this": d["fer"],
                    "fer_baseline": b["fer"],
                    "lost_this": d["lost_packets"],
                    "lost_baseline": b["lost_packets"],
                    "samples_per_s_this": round(d["samples_per_s"]),
                    "samples_per_s_baseline": round(b["samples_per_s"]),
                }
            )
            print(
                f"{chain:>10} {snr:>5} dB: codeword errors {d['codeword_errors']:5d} (this) vs "
                f"{b['codeword_errors']:5d} (baseline) of {d['codewords']}; lost packets {d['lost_packets']} vs "
                f"{b['lost_packets']}; {d['samples_per_s']:.3g} vs {b['samples_per_s']:.3g} samples/s"
            )
    print("RESULT " + json.dumps({"points": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
