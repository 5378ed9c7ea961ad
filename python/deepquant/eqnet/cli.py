"""``deepquant train eqnet --config FILE`` / ``--shipped`` (light to import)."""

from __future__ import annotations

import argparse

#: training order of ``--shipped``.  Intermediates (trained, not shipped): eqnet-l-2x2-64qam-s12
#: (stages 1 + 2 of EQ-Net-L: the shared f_Q, g, codebooks), eqnet-p-2x2-64qam-base (EQ-Net-P on
#: perfect CSI at 15.5-22 dB, f_E warm-started from it), eqnet-p-2x2-64qam-est (continued on
#: 15.5-30.5 dB with estimated channels), eqnet-p-2x2-64qam-j (stage 3: f_Q, g, f_E jointly on the
#: KL loss), eqnet-l-2x2-64qam-k (EQ-Net-L's f_E, 4000 steps through that decoder),
#: eqnet-l-4x4-16qam-s12 (stages 1 + 2 of 4x4 EQ-Net-L), eqnet-p-4x4-16qam-j (4x4 EQ-Net-P: stage 2
#: + joint stage 3), eqnet-p-2x2-64qam-v (-j's f_E continued alone through the frozen decoder),
#: eqnet-p-2x2-64qam-w (-v's f_E widened to trunk 192 / inputs 64, function-preserving, and trained
#: on fresh channel uses against exact ML, stage 3 ``fresh_teacher``).  Shipped: eqnet-p-2x2-64qam
#: (-w continued the same way at a 3x lower learning rate), eqnet-l-2x2-64qam (-k continued
#: through the same decoder, so L and P share f_Q, g and the codebooks), eqnet-p-4x4-16qam (-j
#: continued on fresh channel uses, stage 3 ``fresh``), eqnet-l-4x4-16qam (-s12's f_E trained on
#: fresh channel uses through eqnet-p-4x4-16qam's decoder).
SHIPPED_ORDER = (
    "eqnet-l-2x2-64qam-s12",
    "eqnet-p-2x2-64qam-base",
    "eqnet-p-2x2-64qam-est",
    "eqnet-p-2x2-64qam-j",
    "eqnet-p-2x2-64qam-v",
    "eqnet-p-2x2-64qam-w",
    "eqnet-p-2x2-64qam",
    "eqnet-l-2x2-64qam-k",
    "eqnet-l-2x2-64qam",
    "eqnet-l-4x4-16qam-s12",
    "eqnet-p-4x4-16qam-j",
    "eqnet-p-4x4-16qam-k",
    "eqnet-p-4x4-16qam",
    "eqnet-l-4x4-16qam-m",
    "eqnet-l-4x4-16qam",
)

_EPILOG = """config: a JSON object, e.g.
  {"nr": 2, "nt": 2, "bits_per_symbol": 6, "variant": "l", "codewords_per_snr": 10000,
   "stage1": {"steps": 8000}, "stage2": {"steps": 12000}, "seed": 0}
keys and defaults: `python -c "import gnuradio.deepquant.eqnet.train as t; help(t)"`.
"stage1_from" may name a model file, or the name of a model trained earlier into the same --out.
The shipped models' configs: gnuradio/deepquant/models/eqnet/*.config.json; `--shipped` retrains all
in order (EQ-Net-P reuses EQ-Net-L's stage 1 and continues the intermediate eqnet-p-2x2-64qam-base)
and writes them to --out.
Multi-GPU: torchrun --nproc_per_node N $(which deepquant) train eqnet --config FILE"""


def _resolve_stage1(cfg: dict, out):
    """A ``stage1_from`` / ``stage2_init`` that is a model name (not a file) -> the file trained
    earlier into ``out`` (or the cache); without ``out``, a name falls back to the shipped
    model of that name."""
    from pathlib import Path

    from .. import paths

    for key in ("stage1_from", "stage2_init"):
        src = cfg.get(key)
        if not src or Path(src).is_file():
            continue
        cands = [paths.cache_dir() / "eqnet" / src / f"{src}.safetensors"]
        if out:
            cands = [Path(out) / f"{src}.safetensors", Path(out) / src / f"{src}.safetensors"] + cands
        if not out:
            from .io import shipped_dir

            cands.append(shipped_dir() / f"{src}.safetensors")
        found = next((c for c in cands if c.is_file()), None)
        if found is None:
            raise SystemExit(f"{key} {src!r}: no such model file (train {src} first, into the same --out)")
        cfg[key] = str(found)
    return cfg


def _run(args) -> int:
    import json
    import shutil
    from importlib import resources
    from pathlib import Path

    from . import train

    if args.shipped:
        cfg_dir = Path(str(resources.files("gnuradio.deepquant") / "models" / "eqnet"))
        names = SHIPPED_ORDER
        cfgs = [json.loads((cfg_dir / f"{n}.config.json").read_text()) for n in names]
    else:
        if not args.config:
            raise SystemExit("give --config FILE or --shipped")
        cfgs = [json.loads(Path(args.config).read_text())]
    for cfg in cfgs:
        if args.out:
            cfg.setdefault("out_dir", str(Path(args.out) / cfg.get("name", "eqnet")))
        if args.device:
            cfg["device"] = args.device
        if args.threads:
            cfg["threads"] = args.threads
        cfg = _resolve_stage1(cfg, args.out)
        try:
            path = train.train(cfg, progress=not args.quiet, resume=args.resume, max_minutes=args.max_minutes)
        except train.TrainingPaused as e:
            print(
                f"{cfg.get('name', 'eqnet')}: {e} (time budget of {args.max_minutes} min); continue with the same "
                f"command and --resume"
            )
            return 0
        from .io import read

        partial = read(path)[1].get("partial") if path.is_file() else None  # non-zero DDP ranks write nothing
        if partial:
            print(
                f"{path}: written as of stage-3 step {partial['step']} (time budget); continue with the same "
                f"command and --resume"
            )
            return 0
        if args.out and args.shipped:
            shutil.copy(path, Path(args.out) / path.name)
            shutil.copy(path.with_suffix(".json"), Path(args.out) / path.with_suffix(".json").name)
        print(f"EQ-Net model written to {path}")
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    s = subparsers.add_parser(
        "eqnet",
        help="EQ-Net joint MIMO LLR estimation and quantization (Arvinte, Tewfik & Vishwanath), two-stage training",
        description="Stage 1: quantization encoder f_Q + branched decoder g as an autoencoder on exact-ML soft "
        "bits (weighted MSE, latent noise); k-means++ latent codebooks (5 and 6 bits). Stage 2: "
        "estimation encoder f_E (y, H, sigma) -> frozen f_Q latents (L1). Generates and caches "
        "exact-ML training data on first use. Writes a safetensors model, a JSON log and "
        "checkpoints (--resume continues). CPU by default, CUDA when present; DDP under torchrun.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("--config", metavar="FILE", help="JSON training config")
    s.add_argument("--shipped", action="store_true", help="retrain the shipped models in order")
    s.add_argument("--out", metavar="DIR", help="output directory (default: the cache, ~/.cache/gr-deepquant/eqnet)")
    s.add_argument("--device", choices=["auto", "cpu", "cuda"], help="training device (default auto)")
    s.add_argument("--threads", type=int, help="CPU threads (default 1)")
    s.add_argument("--resume", action="store_true", help="continue from <out_dir>/checkpoint.pt")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="train for at most this long, then checkpoint and stop (--resume continues); a model "
        "stopped in stage 3 is also written as of its last step (its card says 'partial')",
    )
    s.set_defaults(func=_run)
    return s
