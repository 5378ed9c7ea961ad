#!/usr/bin/env python3
"""bf16 autocast vs fp32 EQ-Net training on the same seed and data: validation-loss curves of
stages 1-3 and seconds per step, so the mixed-precision default is a measured choice.

Run:  venv/bin/python scripts/eqnet_amp_check.py [--steps 600] [--out out/eqnet_amp]
Trains a 2x2 64-QAM EQ-Net-L twice (``amp`` "bf16" and "none"), both from scratch with the same
seed, and writes ``amp.json`` and ``amp.png``.  Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=600, help="steps per stage")
    p.add_argument("--batch", type=int, default=8192)
    p.add_argument("--codewords", type=int, default=1500, help="codewords per SNR of the data set")
    p.add_argument("--out", default="out/eqnet_amp")
    a = p.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    torch.set_num_threads(1)
    from gnuradio.deepquant.eqnet import train

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    n = a.steps
    res = {}
    for amp in ("bf16", "none"):
        cfg = {
            "name": f"amp-{amp}",
            "nr": 2,
            "nt": 2,
            "bits_per_symbol": 6,
            "variant": "l",
            "amp": amp,
            "codewords_per_snr": a.codewords,
            "seed": 11,
            "stage1": {"steps": n, "batch": a.batch, "lr": 3e-3, "lr_final": 3e-4},
            "stage2": {"steps": n, "batch": a.batch, "lr": 1e-3, "lr_final": 1e-4},
            "stage3": {
                "steps": n,
                "batch": a.batch,
                "lr": 3e-4,
                "lr_final": 3e-5,
                "loss": "kl",
                "joint": True,
                "warmup": 50,
            },
            "val_every": max(1, n // 12),
            "checkpoint_every": 0,
            "codebook_samples": 50000,
            "out_dir": str(out / amp),
        }
        t0 = time.perf_counter()
        path = train.train(cfg, progress=False)
        meta = json.loads((path.with_suffix(".json")).read_text())
        h = meta["history"]
        res[amp] = {
            "seconds": time.perf_counter() - t0,
            "history": h,
            "validation": meta["validation"],
            "seconds_per_step": {
                s: (
                    max(r["seconds"] for r in h if r["stage"] == s)
                    / max(1, max(r["step"] for r in h if r["stage"] == s))
                )
                for s in (1, 2, 3)
            },
        }
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, s, what in zip(axes, (1, 2, 3), ("eq. (7) weighted MSE", "L1 latent distance", "KL (bits/bit)")):
        for amp, style in (("bf16", "-"), ("none", "--")):
            rows = [r for r in res[amp]["history"] if r["stage"] == s]
            ax.semilogy(
                [r["step"] for r in rows],
                [r["val_loss"] for r in rows],
                style,
                label=f"{'bf16 autocast' if amp == 'bf16' else 'fp32'} "
                f"({res[amp]['seconds_per_step'][s] * 1e3:.0f} ms/step)",
            )
        ax.set_title(f"stage {s}: validation {what}")
        ax.set_xlabel("step")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(f"EQ-Net-L 2x2 64-QAM, same seed and data, batch {a.batch}, one thread")
    fig.tight_layout()
    fig.savefig(out / "amp.png", dpi=100)
    summary = {"steps_per_stage": n, "batch": a.batch}
    for amp in ("bf16", "none"):
        summary[f"{amp}_final_val"] = res[amp]["validation"]
        summary[f"{amp}_seconds_per_step"] = res[amp]["seconds_per_step"]
    summary["speedup_stage"] = {
        s: res["none"]["seconds_per_step"][s] / res["bf16"]["seconds_per_step"][s] for s in (1, 2, 3)
    }
    (out / "amp.json").write_text(json.dumps(summary, indent=1))
    print("RESULT " + json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
