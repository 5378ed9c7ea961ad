#!/usr/bin/env python3
"""Flowgraph 1 with HARQ: FER of the first transmission vs after one chase-combined
retransmission, per HARQ-buffer storage codec; JSON + PNG.

Chain (GNU Radio flowgraphs, ``gnuradio.deepquant.apps.ofdm_flowgraphs``, the same as
``examples/ofdm_siso_loopback.grc``): reference bits -> ``ofdm_tx`` (802.11n LDPC, 64-QAM, GNU
Radio OFDM) -> ``ofdm_impairments`` (EPA-like block fading, a new channel per packet, CFO 0.15
subcarrier, SRO 10 ppm, noise) -> ``ofdm_rx`` in retransmission mode (``harq_period`` P: packet
P + n carries packet n's payload again; GNU Radio sync, header/payload demux, FFT, the module's
channel/noise estimation, phase tracking, exact soft demapper -> ``llr_to_pdu_f`` ->
``harq_buffer`` (chase combining: the sum of both transmissions' LLRs; entries stored compressed
with the codec under test, released by the ack of ``packet_crc_check``: the payload's CRC-32) -> ``pdu_to_tagged_stream`` ->
GNU Radio LDPC decoder) -> ``ofdm_fer_counter``.  At each SNR every codec sees the same packets,
channels and noise.  A packet fails after HARQ when its first transmission and its combined
retransmission both fail; lost packets count as failed.

Run:  venv/bin/python scripts/reproduce_ofdm_harq.py [--period 96] [--snr-db 14 15 16 17 18 19]
      [--methods learned int8 uniform] [--out results/ofdm_harq]
Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--period", type=int, default=96, help="HARQ period P (packets; a multiple of 16): 2P packets per point"
    )
    p.add_argument("--snr-db", type=float, nargs="+", default=[14.0, 15.0, 16.0, 17.0, 18.0, 19.0])
    p.add_argument(
        "--methods",
        nargs="+",
        default=["learned", "int8", "uniform"],
        help="HARQ buffer codecs (gnuradio.deepquant.softbit.make_codec names)",
    )
    p.add_argument("--cfo", type=float, default=0.15)
    p.add_argument("--sro-ppm", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="results/ofdm_harq")
    a = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import numpy as np
    import torch

    torch.set_num_threads(int(os.environ.get("DEEPQUANT_TORCH_THREADS", "1")))
    from gnuradio.deepquant.apps import ofdm_flowgraphs as fg

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    iq, starts = fg.transmit(2 * a.period)
    rows = []
    for i, s in enumerate(a.snr_db):
        for m in a.methods:
            r = fg.receive(
                iq, starts, s, a.cfo, a.sro_ppm, "epa_block", seed=a.seed * 100 + i, harq_period=a.period, harq_method=m
            )
            h = r["harq"]
            rows.append({"snr_db": s, "method": m, **h, "rx_wall_s": r["rx_wall_s"]})
            print(
                f"  {s:5.1f} dB {m:>8}: FER first tx {h['fer_first_tx']:.4f} -> after HARQ {h['fer_after_harq']:.4f} "
                f"({h['retransmissions_needed']}/{a.period} retransmitted), {h['stored_bits_per_llr']:.2f} bits/LLR, "
                f"peak {h['peak_bytes_stored']} B, {r['rx_wall_s']:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    cw = a.period * 4
    result = {
        "period_packets": a.period,
        "codewords_per_point": cw,
        "cfo_subcarriers": a.cfo,
        "sro_ppm": a.sro_ppm,
        "seed": a.seed,
        "points": rows,
        "wall_s": time.time() - t0,
    }
    (out / "ofdm_harq.json").write_text(json.dumps(result, indent=2))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    floor = 0.5 / cw
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    first = [r for r in rows if r["method"] == a.methods[0]]
    ax.semilogy(
        [r["snr_db"] for r in first],
        [max(r["fer_first_tx"], floor) for r in first],
        "-o",
        color="k",
        label="first transmission",
    )
    for m in a.methods:
        pts = [r for r in rows if r["method"] == m]
        bits = np.nanmean([r["stored_bits_per_llr"] for r in pts])
        ax.semilogy(
            [r["snr_db"] for r in pts],
            [max(r["fer_after_harq"], floor) for r in pts],
            "-s",
            label=f"after 1 retransmission, buffer {m} ({bits:.2f} bits/LLR)",
        )
    ax.set_xlabel("SNR per subcarrier (dB)")
    ax.set_ylabel(f"codeword error rate ({cw} codewords per point; floor = none seen)")
    ax.set_title("Flowgraph 1 + HARQ chase combining: SISO OFDM, 64-QAM, EPA, CFO 0.15, real sync", fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "ofdm_harq.png", dpi=120)
    print(f"wrote {out / 'ofdm_harq.json'} and {out / 'ofdm_harq.png'}", file=sys.stderr)
    summary = {
        "codewords_per_point": cw,
        "fer_first_tx": {f"{r['snr_db']:g}dB": round(r["fer_first_tx"], 5) for r in first},
        "fer_after_harq": {
            f"{m}@{r['snr_db']:g}dB": round(r["fer_after_harq"], 5) for m in a.methods for r in rows if r["method"] == m
        },
        "stored_bits_per_llr": {
            m: round(float(np.nanmean([r["stored_bits_per_llr"] for r in rows if r["method"] == m])), 3)
            for m in a.methods
        },
        "float_bits_per_llr": 32,
        "wall_s": round(time.time() - t0, 1),
    }
    print("RESULT " + json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
