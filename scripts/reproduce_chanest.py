#!/usr/bin/env python3
"""Reproduce Fig. 4 of paper 000 (task-based quantized MIMO channel estimation): average MSE vs
rate for the shipped soft-to-hard / passing-gradient models (optimal and SNR-uncertainty training),
the MMSE, eta_opt (eq. 7), the scalar-ADC (Lloyd-Max) limit, eta_sc (true and noisy P),
task-ignorant uniform ADCs + LMMSE and the BLMMSE; checks the issue's goals.

Run:  venv/bin/python scripts/reproduce_chanest.py [--retrain] [--num-test 16384] [--out out/chanest]
  (about 1 minute with the shipped models; --retrain trains all 28 models first, ~15-25 minutes
  on one core).  Writes OUT/chanest_fig4.json and OUT/chanest_fig4.png and ends with one line
  `RESULT {json}`.
"""

import argparse
import json
import sys
from pathlib import Path

from gnuradio.deepquant.chanest import experiment


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="out/chanest", help="output directory (default out/chanest)")
    ap.add_argument("--num-test", type=int, default=2**14, help="test pilot blocks (default 2^14)")
    ap.add_argument(
        "--levels",
        type=int,
        nargs="+",
        default=[2, 3, 4, 6, 8, 12, 18],
        help="ADC levels M of the learned systems (rate = log2(M)/3)",
    )
    ap.add_argument("--retrain", action="store_true", help="train every model now instead of loading the shipped ones")
    ap.add_argument("--epochs", type=int, default=60, help="epochs when retraining")
    ap.add_argument(
        "--ablations",
        action="store_true",
        help="also train the ablations (passing gradient + AGC, paper init, fixed c = 5, no AGC)",
    )
    ap.add_argument("--threads", type=int, default=1, help="torch threads when training")
    args = ap.parse_args(argv)
    if args.retrain or args.ablations:
        import torch

        torch.set_num_threads(args.threads)
    res = experiment.run(
        levels=args.levels,
        num_test=args.num_test,
        retrain=args.retrain,
        epochs=args.epochs,
        ablations=args.ablations,
        progress=lambda m: print(m, file=sys.stderr, flush=True),
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "chanest_fig4.json").write_text(json.dumps(res, indent=2))
    experiment.plot(res, str(out / "chanest_fig4.png"))

    lr = res["learned"]
    cols = [
        ("R", None),
        ("M", None),
        ("MMSE", None),
        ("eta_opt", "eta_opt"),
        ("scalarlim", "scalar_adc_limit"),
        ("s2h_opt", "soft_to_hard_optimal"),
        ("s2h_unc", "soft_to_hard_snr_uncertainty"),
        ("pg_opt", "passing_gradient_optimal"),
        ("pg_unc", "passing_gradient_snr_uncertainty"),
        ("eta_sc", "eta_sc"),
        ("sc_noisyP", "eta_sc_noisy"),
        ("sc_hardMC", "eta_sc_hard_adc_mc"),
    ]
    print(" ".join(f"{c:>10}" for c, _ in cols))
    for i, (r, m) in enumerate(zip(res["rate_bits_per_obs"], res["levels"])):
        row = [f"{r:10.3f}", f"{m:10d}", f"{res['mmse']:10.5f}"]
        for _, key in cols[3:]:
            v = lr[key]["mse"][i] if key in lr else res[key][i]
            row.append(f"{v:10.5f}")
        print(" ".join(row))
    ti = res["task_ignorant_uniform_lmmse"]
    for r, m, v, vm in zip(ti["rate_bits_per_obs"], ti["levels"], ti["mse"], ti["mse_mc"]):
        print(f"task-ignorant uniform {m}-level ADCs + LMMSE at R = {r:.3f}: {v:.5f} (Monte-Carlo {vm:.5f})")
    print(f"BLMMSE (1 bit, R = 1): {res['blmmse']['mse']:.5f}")
    for name, g in res["goals"].items():
        if "met" in g:
            print(
                f"goal {name}: {'MET' if g['met'] else 'NOT MET'} "
                + json.dumps({k: v for k, v in g.items() if k not in ("met", "criterion")})
            )
    summary = {
        "rate_bits_per_obs": [round(r, 4) for r in res["rate_bits_per_obs"]],
        "mse_mmse": res["mmse"],
        "mse_eta_opt": res["eta_opt"],
        "mse_scalar_adc_limit": res["scalar_adc_limit"],
        "mse_soft_to_hard_optimal": lr["soft_to_hard_optimal"]["mse"],
        "mse_soft_to_hard_snr_uncertainty": lr["soft_to_hard_snr_uncertainty"]["mse"],
        "mse_passing_gradient_optimal": lr["passing_gradient_optimal"]["mse"],
        "mse_passing_gradient_snr_uncertainty": lr["passing_gradient_snr_uncertainty"]["mse"],
        "mse_eta_sc": res["eta_sc"],
        "mse_eta_sc_noisy_p": res["eta_sc_noisy"],
        "mse_blmmse_at_rate_1": res["blmmse"]["mse"],
        "mse_task_ignorant_uniform_lmmse_at_rate_1": ti["mse"][0],
        "max_ratio_s2h_to_scalar_adc_limit": res["goals"]["s2h_within_5pct_of_scalar_adc_limit"]["max_ratio"],
        "goals_met": {k: v["met"] for k, v in res["goals"].items() if "met" in v},
        "json": str(out / "chanest_fig4.json"),
        "png": str(out / "chanest_fig4.png"),
        "seconds": round(res["seconds"], 1),
    }
    print("RESULT " + json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
