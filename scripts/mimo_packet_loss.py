#!/usr/bin/env python3
"""Packet loss of the 2x2 MIMO-OFDM receiver (flowgraph 2, time domain): packet detection from
chain 0 only (GNU Radio's Schmidl & Cox) against every receive chain (``sc_sync_combined``), on
the same packets, channels and noise (EPA, CFO 0.1 subcarrier spacing, LMMSE detection).

    venv/bin/python scripts/mimo_packet_loss.py [--frames 2000] [--snr-db 25 28] [--seed 11]

Issue 18's goal: < 0.1 % of packets lost at >= 25 dB over >= 2000 packets. Ends with
``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--snr-db", type=float, nargs="+", default=[25.0, 28.0])
    ap.add_argument("--seed", type=int, default=11)
    a = ap.parse_args(argv)
    from gnuradio.deepquant.apps import mimo_ofdm

    res = {}
    for snr in a.snr_db:
        for comb in (False, True):
            t0 = time.time()
            r = mimo_ofdm.run(snr, "lmmse", a.frames, "epa", seed=a.seed, cfo_subcarriers=0.1, combined_sync=comb)
            key = f"{snr:g}dB_{'all_chains' if comb else 'chain0'}"
            res[key] = {
                "lost_packets": r["lost_packets"],
                "loss_rate": r["lost_packets"] / a.frames,
                "fer": r["fer"],
                "seconds": round(time.time() - t0, 1),
            }
            print(
                f"{snr:5.1f} dB  detection from {'every chain' if comb else 'chain 0   '}: "
                f"{r['lost_packets']} of {a.frames} packets lost, FER {r['fer']:.4f}",
                flush=True,
            )
    goal = all(v["loss_rate"] < 1e-3 for k, v in res.items() if k.endswith("all_chains"))
    print(
        "RESULT " + json.dumps({"frames": a.frames, "seed": a.seed, "goal_loss_below_0.1pct_met": goal, "points": res})
    )


if __name__ == "__main__":
    sys.exit(main())
