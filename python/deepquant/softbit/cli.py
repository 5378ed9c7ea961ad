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

    path = train.train(json.loads(Path(args.config).read_text()), progress=not args.quiet)
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
        "and checkpoints.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("--config", required=True, metavar="FILE", help="JSON training config")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=_run)
    return s
