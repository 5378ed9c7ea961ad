#!/usr/bin/env python3
"""Reproduce paper 001's figures (Fig. 3, 4 and 5) for the soft-bit codecs: JSON + PNG.

Fig. 3: BLER vs SNR on EPA 64-QAM (108 subcarriers, spread over a 10 MHz carrier) for float,
learned (proposed), deep LLR quantization [13], max-MI scalar and uniform scalar; the legend
gives the average storage per soft bit over the SNRs where the float BLER is in [1e-3, 1].
Fig. 4: storage per soft bit vs SNR with and without source coding, and the latent entropy.
Fig. 5: rate-distortion (additive BLER vs storage) for 256-QAM over the available alpha models.

All methods compress the same LLRs at each SNR (paired simulation, see softbit.experiment).
Every storage figure is the payload (range-coded or packed bits) per soft bit; the 22-byte
frame header (0.27 bit per soft bit for a 648-bit frame) is reported separately.

Names: ``learned`` (paper 001, shipped model), ``deepllr`` (paper [13]: fixed 18 bits per channel
use), ``deepllr-ec`` (the same latents range coded with the same chain entropy model as
``learned``), ``maxmi-<b>b`` / ``uniform-<b>b`` (fixed rate) and ``-ec`` (range coded).
"Ideally entropy-coded" scalar quantizers = the empirical entropy of their indices
(``avg_entropy_bits_per_softbit``, per bit position, at each SNR).  The latent entropy of the
autoencoders is the empirical chain entropy H(z0) + H(z1|z0) + H(z2|z1) at each SNR.
Calibration: for each scalar family the cheapest fixed-rate variant within 0.2 dB of float at
BLER 1e-2 is the reference.

Run:  venv/bin/python scripts/reproduce_softbit.py [--codewords 3000] [--out DIR]
Ends with one line ``RESULT {json}``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def _avg(vals):
    vals = [v for v in vals if v is not None]
    return float(np.mean(vals)) if vals else None


def run_k(k, snrs, n_cw, methods, seed, models=None, progress=True):
    from gnuradio.deepquant import softbit
    from gnuradio.deepquant.softbit import experiment as X

    codecs = {}
    for name, (m, opts) in methods.items():
        kw = dict(opts)
        model = (models or {}).get(name, "")
        codecs[name] = softbit.make_codec(m, k, model, **kw)
    rng = np.random.default_rng(seed)
    rows = []
    for s in snrs:
        t0 = time.perf_counter()
        r = X.run_point(k, s, n_cw, codecs, rng)
        r["snr_db"] = s
        rows.append(r)
        if progress:
            print(f"K={k} {s:5.1f} dB float {r['float']['block_errors']:4d}/{n_cw} | " + " ".join(
                f"{n}:{v['block_errors']}/{v['payload_bits_per_softbit']:.2f}b" for n, v in r.items()
                if isinstance(v, dict) and n != "float") + f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    return rows


def curves(rows, names):
    from gnuradio.deepquant.evaluate import required_snr

    snrs = [r["snr_db"] for r in rows]
    out = {}
    for n in ["float"] + list(names):
        bler = [r[n]["bler"] for r in rows]
        out[n] = {"snr_db": snrs, "bler": bler, "block_errors": [r[n]["block_errors"] for r in rows],
                  "required_snr_db_at_bler_1e-2": required_snr(snrs, bler)}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--codewords", type=int, default=3000, help="codewords per SNR point (K=6)")
    ap.add_argument("--codewords-k8", type=int, default=1500)
    ap.add_argument("--snr-k6", type=float, nargs="+", default=[14, 16, 18, 20, 22, 24, 26, 28])
    ap.add_argument("--snr-k8", type=float, nargs="+", default=[20, 24, 28])
    ap.add_argument("--alpha-models-k8", nargs="*", default=[], help="extra K=8 learned model files (Fig. 5)")
    ap.add_argument("--extra-learned-k6", nargs="*", default=[], help="extra K=6 learned model files (reported too)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", default="softbit_results")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    m6 = {"learned": ("learned", {}), "deepllr": ("deepllr", {}), "deepllr-ec": ("deepllr-ec", {}),
          "maxmi-3b": ("maxmi", {"bits": 3}), "maxmi-3b-ec": ("maxmi-ec", {"bits": 3}),
          "maxmi-4b": ("maxmi", {"bits": 4}), "maxmi-4b-ec": ("maxmi-ec", {"bits": 4}),
          "uniform-4b": ("uniform", {"bits": 4}), "uniform-4b-ec": ("uniform-ec", {"bits": 4}),
          "uniform-5b": ("uniform", {"bits": 5}), "uniform-5b-ec": ("uniform-ec", {"bits": 5}),
          "int8": ("int8", {})}
    models6 = {}
    for p in a.extra_learned_k6:
        m6[f"learned-{Path(p).stem}"] = ("learned", {})
        models6[f"learned-{Path(p).stem}"] = p
    rows6 = run_k(6, a.snr_k6, a.codewords, m6, a.seed, models6)
    c6 = curves(rows6, m6)
    ref = c6["float"]["required_snr_db_at_bler_1e-2"]
    # SNRs of practical interest: float BLER in [1e-3, 1]
    sel = [i for i, r in enumerate(rows6) if 1e-3 <= r["float"]["bler"] <= 1.0]
    summary = {}
    for n in m6:
        req = c6[n]["required_snr_db_at_bler_1e-2"]
        summary[n] = {
            "loss_db_at_bler_1e-2": None if (req is None or ref is None) else req - ref,
            "avg_payload_bits_per_softbit": _avg([rows6[i][n]["payload_bits_per_softbit"] for i in sel]),
            "avg_entropy_bits_per_softbit": _avg([rows6[i][n]["entropy_bits_per_softbit"] for i in sel]),
            "avg_frame_bits_per_softbit_with_header": _avg([rows6[i][n]["frame_bits_per_softbit"] for i in sel]),
            "payload_bits_per_softbit_vs_snr": [r[n]["payload_bits_per_softbit"] for r in rows6],
            "entropy_bits_per_softbit_vs_snr": [r[n]["entropy_bits_per_softbit"] for r in rows6],
        }

    # calibration: the cheapest scalar quantizer of each family within 0.2 dB of float
    def calibrated(family):
        cands = [n for n in m6 if n.startswith(family) and not n.endswith("-ec")]
        ok = [n for n in cands if summary[n]["loss_db_at_bler_1e-2"] is not None
              and summary[n]["loss_db_at_bler_1e-2"] <= 0.2]
        return min(ok, key=lambda n: summary[n]["avg_payload_bits_per_softbit"]) if ok else cands[-1]

    mm, un = calibrated("maxmi"), calibrated("uniform")
    L = summary["learned"]
    goals = {
        "learned_loss_db": L["loss_db_at_bler_1e-2"],
        "learned_avg_bits_per_softbit": L["avg_payload_bits_per_softbit"],
        "maxmi_calibrated": mm, "uniform_calibrated": un,
        "saving_vs_maxmi_fixed_rate_pct": 100 * (1 - L["avg_payload_bits_per_softbit"] / summary[mm]["avg_payload_bits_per_softbit"]),
        "saving_vs_maxmi_ideal_ec_pct": 100 * (1 - L["avg_payload_bits_per_softbit"] / summary[mm]["avg_entropy_bits_per_softbit"]),
        "saving_vs_uniform_ideal_ec_pct": 100 * (1 - L["avg_payload_bits_per_softbit"] / summary[un]["avg_entropy_bits_per_softbit"]),
        "saving_vs_deepllr_fixed_rate_pct": 100 * (1 - L["avg_payload_bits_per_softbit"] / summary["deepllr"]["avg_payload_bits_per_softbit"]),
        "saving_vs_deepllr_ec_same_coder_pct": 100 * (1 - L["avg_payload_bits_per_softbit"] / summary["deepllr-ec"]["avg_payload_bits_per_softbit"]),
        "header_bits_per_softbit_648": 22 * 8 / 648,
        "coded_over_latent_entropy_pct_max": max(100 * (p / e - 1) for p, e in zip(L["payload_bits_per_softbit_vs_snr"], L["entropy_bits_per_softbit_vs_snr"])),
        "coded_over_latent_entropy_pct_avg": 100 * (L["avg_payload_bits_per_softbit"] / L["avg_entropy_bits_per_softbit"] - 1),
    }
    goals["met"] = {
        "loss_le_0.2dB": goals["learned_loss_db"] is not None and goals["learned_loss_db"] <= 0.2,
        "ge_25pct_vs_maxmi_fixed": goals["saving_vs_maxmi_fixed_rate_pct"] >= 25,
        "beats_maxmi_ideal_ec": goals["saving_vs_maxmi_ideal_ec_pct"] > 0,
        "beats_uniform_ideal_ec": goals["saving_vs_uniform_ideal_ec_pct"] > 0,
        "ge_5pct_vs_deepllr": goals["saving_vs_deepllr_fixed_rate_pct"] >= 5,
        "coded_within_2pct_of_entropy": goals["coded_over_latent_entropy_pct_max"] <= 2,
    }

    # K = 8 (Fig. 5)
    m8 = {"learned": ("learned", {}), "deepllr-ec": ("deepllr-ec", {}), "maxmi-4b": ("maxmi", {"bits": 4})}
    models8 = {}
    for p in a.alpha_models_k8:
        m8[f"learned-{Path(p).stem}"] = ("learned", {})
        models8[f"learned-{Path(p).stem}"] = p
    rows8 = run_k(8, a.snr_k8, a.codewords_k8, m8, a.seed + 1, models8)
    rd = {n: {"snr_db": [r["snr_db"] for r in rows8],
              "payload_bits_per_softbit": [r[n]["payload_bits_per_softbit"] for r in rows8],
              "additive_bler": [r[n]["bler"] - r["float"]["bler"] for r in rows8]} for n in m8}

    # plots
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    for n in ["float", "learned", "deepllr", mm, un, "int8"]:
        lab = n if n == "float" else f"{n} ({summary[n]['avg_payload_bits_per_softbit']:.2f} b)"
        ax.semilogy(c6[n]["snr_db"], np.maximum(c6[n]["bler"], 1e-5), "o-", label=lab)
    ax.set_xlabel("SNR (dB)"), ax.set_ylabel("BLER"), ax.grid(True, which="both", alpha=0.3), ax.legend()
    ax.set_title("EPA 64-QAM, 108 subcarriers, LDPC (648,324)")
    fig.tight_layout(), fig.savefig(out / "fig3_bler_epa_64qam.png", dpi=110), plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 5))
    snrs = a.snr_k6
    for n, st in (("learned", "o-"), ("deepllr", "k-"), ("deepllr-ec", "k--"), (mm, "r-"), (mm + "-ec", "r--"),
                  (un + "-ec", "g--")):
        ax.plot(snrs, summary[n]["payload_bits_per_softbit_vs_snr"], st, label=n)
    ax.plot(snrs, summary["learned"]["entropy_bits_per_softbit_vs_snr"], "bo", mfc="none", label="latent entropy")
    ax.set_xlabel("SNR (dB)"), ax.set_ylabel("bits per soft bit"), ax.grid(True, alpha=0.3), ax.legend()
    fig.tight_layout(), fig.savefig(out / "fig4_storage_vs_snr.png", dpi=110), plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 5))
    for n, v in rd.items():
        ax.plot(v["payload_bits_per_softbit"], v["additive_bler"], "o", label=n)
        for x, y, s in zip(v["payload_bits_per_softbit"], v["additive_bler"], v["snr_db"]):
            ax.annotate(f"{s:g} dB", (x, y), fontsize=7)
    ax.set_xlabel("bits per soft bit"), ax.set_ylabel("additive BLER vs float"), ax.grid(True, alpha=0.3)
    ax.legend(), ax.set_title("256-QAM EPA (81 subcarriers)")
    fig.tight_layout(), fig.savefig(out / "fig5_rate_distortion_256qam.png", dpi=110), plt.close(fig)

    res = {"k6": {"curves": c6, "summary": summary, "rows": rows6}, "k8": {"rate_distortion": rd, "rows": rows8},
           "goals": goals, "codewords_per_snr_k6": a.codewords, "codewords_per_snr_k8": a.codewords_k8,
           "seconds": time.perf_counter() - t_start}
    (out / "softbit_results.json").write_text(json.dumps(res, indent=1, default=float))
    line = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in goals.items() if k != "met"}
    line["goals_met"] = goals["met"]
    line["wall_s"] = round(res["seconds"], 1)
    print("RESULT " + json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
