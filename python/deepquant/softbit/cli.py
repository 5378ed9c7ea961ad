"""``deepquant train softbit --config FILE`` (light to import: the work happens in train.main)."""

from __future__ import annotations

import argparse

_EPILOG = """config: a JSON object, e.g.
  {"bits_per_symbol": 6, "kind": "learned", "alpha": 0.01, "steps": 20000, "seed": 0}
keys and defaults: see `python -c "import gnuradio.deepquant.softbit.train as t; help(t)"`.
The shipped models' configs are in gnuradio/deepquant/models/softbit/*.config.json."""


def _run(args) -> int:
    from . import train

    import json
    from pathlib import Path

    cfg = json.loads(Path(args.config).read_text())
    try:
        path = train.train(cfg, progress=not args.quiet, resume=args.resume, max_minutes=args.max_minutes)
    except train.TrainingPaused as e:
        print(
            f"{cfg.get('name', 'softbit')}: {e} (time budget of {args.max_minutes} min); continue with the same "
            f"command and --resume"
        )
        return 0
    print(f"softbit model written to {path}")
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``softbit`` sub-command to a ``deepquant train`` sub-parser group."""
    s = subparsers.add_parser(
        "softbit",
        help="entropy-aware soft-bit (LLR) autoencoder of Arvinte & Tamir, or the deep LLR baseline",
        description="Train the soft-bit autoencoder (K soft bits -> 3 latents -> fixed 64-level quantizer -> "
        "K soft bits) on i.i.d. Rayleigh LDPC soft bits with the sample-weighted distortion plus "
        "alpha x the tau-soft entropy; writes weights + entropy tables (safetensors), a JSON log "
        "and checkpoints (--resume continues). bf16 mixed precision by default (config key amp).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("--config", required=True, metavar="FILE", help="JSON training config")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--resume", action="store_true", help="continue from <out_dir>/checkpoint.pt (same config)")
    s.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="train for at most this long, then checkpoint, write the model as of the last step and "
        "stop (--resume continues)",
    )
    s.set_defaults(func=_run)
    return s
