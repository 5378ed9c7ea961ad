#!/usr/bin/env python3
"""Flowgraph 1 (SISO OFDM with real synchronisation) against its genie: FER vs SNR, JSON + PNG.

Real chain (GNU Radio flowgraphs, ``gnuradio.deepquant.apps.ofdm_flowgraphs``): reference
payloads -> ``ofdm_tx`` (802.11n LDPC, 64-QAM, 48 data + 4 pilot carriers of a 64-point FFT,
20 Msps) -> ``ofdm_impairments`` (independent EPA-like channel per packet, CFO, sampling-rate
offset, white noise) -> ``ofdm_rx`` (Schmidl & Cox, header/payload demux, FFT, channel and
noise from preamble + header, pilot phase tracking, exact soft demapper, soft-bit storage,
GNU Radio's LDPC decoder) -> ``ofdm_fer_counter`` (lost packets count as errors).

Genie (``gnuradio.deepquant.ofdm.genie``): the same payloads, code, 64-QAM, EPA-like channel
statistics, per-subcarrier SNR, soft-bit storage and GNU Radio decoder, with perfect
synchronisation (no CFO/SRO), the true channel and the true noise variance.

The gap at each tested point is the SNR difference to the genie curve at the same FER
(log-FER interpolated between genie points). Goal (issue 8): within 0.5 dB with CFO up to
+-0.2 subcarrier spacings.

Run:  venv/bin/python scripts/reproduce_ofdm.py [--packets 600] [--snr-db 16 18 20 22]
      [--cfo 0.2 -0.2] [--sro-ppm 20] [--softbit learned] [--out out/ofdm]
Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np


def genie_snr_at(fer, snrs, fers):
    """SNR where the genie curve reaches ``fer`` (log-linear interpolation; None outside)."""
    pts = [(s, f) for s, f in zip(snrs, fers) if f > 0]
    if fer <= 0 or len(pts) < 2:
        return None
    s = np.array([p[0] for p in pts])
    lf = np.log10([p[1] for p in pts])
    order = np.argsort(-lf)  # increasing SNR, decreasing FER
    s, lf = s[order], lf[order]
    t = np.log10(fer)
    if t > lf[0] or t < lf[-1]:
        # outside the genie's range: extrapolate from the nearest segment
        i = 0 if t > lf[0] else len(lf) - 2
    else:
        i = max(0, min(len(lf) - 2, int(np.searchsorted(-lf, -t)) - 1))
    if lf[i] == lf[i + 1]:
        return float(s[i])
    return float(s[i] + (t - lf[i]) * (s[i + 1] - s[i]) / (lf[i + 1] - lf[i]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--packets", type=int, default=600, help="packets per real-chain point (4 codewords each)")
    p.add_argument("--genie-packets", type=int, default=3000, help="packets per genie point")
    p.add_argument("--snr-db", type=float, nargs="+", default=[16.0, 18.0, 20.0, 22.0])
    p.add_argument(
        "--genie-snr-db",
        type=float,
        nargs="+",
        default=None,
        help="genie SNRs (default: the tested SNRs and 1 dB steps around them)",
    )
    p.add_argument("--cfo", type=float, nargs="+", default=[0.2, -0.2], help="CFO in subcarrier spacings")
    p.add_argument("--sro-ppm", type=float, default=20.0)
    p.add_argument("--softbit", default="learned", help="LLR storage method ('none' = float)")
    p.add_argument(
        "--decision-feedback",
        type=int,
        choices=[0, 1],
        default=1,
        help="ofdm_rx decoder-aided channel/phase re-estimation (1 = on, the default)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="out/ofdm")
    a = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(int(os.environ.get("DEEPQUANT_TORCH_THREADS", "1")))
    from gnuradio.deepquant.apps import ofdm_flowgraphs as fg
    from gnuradio.deepquant.ofdm import genie
    from gnuradio.deepquant.ofdm.layout import OfdmLayout

    lay = OfdmLayout()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    gsnr = a.genie_snr_db or sorted(set(np.round(np.arange(min(a.snr_db) - 2, max(a.snr_db) + 1.01, 1.0), 3)))
    print(f"genie: {a.genie_packets} packets per point at {gsnr} dB", file=sys.stderr)
    g_curve = []
    for i, s in enumerate(gsnr):
        r = genie.genie_fer(lay, float(s), a.genie_packets, seed=1000 + i, softbit_method=a.softbit)
        g_curve.append(
            {"snr_db": float(s), "fer": r["fer"], "codewords": r["codewords"], "codeword_errors": r["codeword_errors"]}
        )
        print(f"  genie {s:5.1f} dB  FER {r['fer']:.4f}", file=sys.stderr)
    iq, starts = fg.transmit(a.packets, lay)
    real = []
    for cfo in a.cfo:
        for j, s in enumerate(a.snr_db):
            r = fg.receive(
                iq,
                starts,
                s,
                cfo,
                a.sro_ppm,
                "epa_block",
                a.softbit,
                layout=lay,
                seed=a.seed * 100 + j,
                decision_feedback=bool(a.decision_feedback),
            )
            gs = genie_snr_at(r["fer"], [c["snr_db"] for c in g_curve], [c["fer"] for c in g_curve])
            r["genie_snr_db_at_same_fer"] = gs
            r["gap_db"] = None if gs is None else float(s - gs)
            real.append(r)
            print(
                f"  real  {s:5.1f} dB CFO {cfo:+.2f}: FER {r['fer']:.4f} (lost packets {r['lost_packets']}), "
                f"gap {r['gap_db'] if r['gap_db'] is not None else float('nan'):+.2f} dB, "
                f"{r['samples_per_s']:.3g} samples/s, {r['stored_bits_per_llr']:.2f} bits/LLR",
                file=sys.stderr,
            )
    gaps = [r["gap_db"] for r in real if r["gap_db"] is not None and r["codeword_errors"] > 0]
    result = {
        "layout": {
            "fft_len": lay.fft_len,
            "cp_len": lay.cp_len,
            "data_carriers": len(lay.occupied),
            "bits_per_symbol": lay.bits_per_symbol,
            "codewords_per_packet": lay.n_codewords,
            "samp_rate_hz": fg.SAMP_RATE,
        },
        "softbit": a.softbit,
        "sro_ppm": a.sro_ppm,
        "decision_feedback": bool(a.decision_feedback),
        "genie": g_curve,
        "real": real,
        "max_gap_db": max(gaps) if gaps else None,
        "mean_gap_db": float(np.mean(gaps)) if gaps else None,
        "wall_s": time.time() - t_start,
    }
    (out / "ofdm_siso.json").write_text(json.dumps(result, indent=2))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.semilogy(
        [c["snr_db"] for c in g_curve],
        [max(c["fer"], 1e-4) for c in g_curve],
        "k--o",
        label="genie (perfect sync, CSI, sigma^2)",
    )
    for cfo in a.cfo:
        pts = [r for r in real if r["cfo_subcarriers"] == cfo]
        ax.semilogy(
            [r["snr_db"] for r in pts],
            [max(r["fer"], 1e-4) for r in pts],
            "-s",
            label=f"GNU Radio flowgraph, CFO {cfo:+.2f}, SRO {a.sro_ppm:g} ppm",
        )
    ax.set_xlabel("SNR per subcarrier (dB)")
    ax.set_ylabel("codeword error rate")
    ax.set_title(f"SISO OFDM, 64-QAM, 802.11n LDPC (648,324), EPA-like, LLR storage: {a.softbit}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "ofdm_siso.png", dpi=120)
    print(f"wrote {out / 'ofdm_siso.json'} and {out / 'ofdm_siso.png'}", file=sys.stderr)
    summary = {
        "max_gap_db": result["max_gap_db"],
        "mean_gap_db": result["mean_gap_db"],
        "fer_real": {f"{r['snr_db']:g}dB_cfo{r['cfo_subcarriers']:+g}": round(r["fer"], 5) for r in real},
        "fer_genie": {f"{c['snr_db']:g}dB": round(c["fer"], 5) for c in g_curve},
        "packets_per_point": a.packets,
        "softbit": a.softbit,
        "rx_samples_per_s": float(np.median([r["samples_per_s"] for r in real])),
        "stored_bits_per_llr": float(np.nanmean([r["stored_bits_per_llr"] for r in real])),
    }
    print("RESULT " + json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
