"""``deepquant train slp`` (light to import: the work happens in train.train)."""

from __future__ import annotations

import argparse

_EPILOG = """examples:
  deepquant train slp --weights fp32
  deepquant train slp --weights sq-ternary --qr 0.5 --steps 1500 --out-dir /tmp/slp
The shipped models (python/deepquant/models/slp/*.safetensors) were trained with these defaults;
their model cards (*.md) give the exact command. Extra config keys: --config FILE (JSON), see
`python -c "import gnuradio.deepquant.slp.train as t; help(t)"`."""


def _run(args) -> int:
    import json
    from pathlib import Path

    from . import train

    cfg = json.loads(Path(args.config).read_text()) if args.config else {}
    for key in ("weights", "qr", "m", "k", "psk_order", "steps", "batch", "seed", "layers"):
        v = getattr(args, key)
        if v is not None:
            cfg[key] = v
    if args.out_dir:
        cfg["out_dir"] = args.out_dir
    if args.name:
        cfg["name"] = args.name
    path = train.train(cfg, progress=not args.quiet)
    print(f"SLP-DNet model written to {path}")
    if not args.no_eval:
        from . import dnet

        r = train.evaluate(dnet.load_model(path), n=args.eval_vectors)
        print(
            f"30 dB test ({args.eval_vectors} vectors): power / optimisation SLP = {r['ratio']:.4f}, "
            f"constraints satisfied {100 * r['satisfied']:.2f} %, ZF fallback {100 * r['fallback_rate']:.2f} %"
        )
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``slp`` sub-command to a ``deepquant train`` sub-parser group."""
    s = subparsers.add_parser(
        "slp",
        help="SLP-DNet symbol-level precoder of Mohammad, Masouros & Andreopoulos (fp32 / binary / ternary / SQ weights)",
        description="Train the unsupervised SLP-DNet (deep-unfolded log-barrier iterations + a quantizable "
        "barrier network) for the MU-MISO downlink with CI constraints; the loss is the relative "
        "duality gap between the feasibility-scaled power and the eq. (9) Lagrangian. Writes the "
        "bit-packed safetensors model, a JSON log and checkpoints.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument(
        "--weights",
        choices=("fp32", "binary", "ternary", "sq-binary", "sq-ternary"),
        default=None,
        help="weight precision (default fp32)",
    )
    s.add_argument("--qr", type=float, default=None, help="quantization ratio of the SQ variants (default 0.5)")
    s.add_argument("--m", type=int, default=None, help="BS antennas (default 4)")
    s.add_argument("--k", type=int, default=None, help="users (default 4)")
    s.add_argument("--psk-order", dest="psk_order", type=int, default=None, help="PSK order (default 4)")
    s.add_argument("--layers", type=int, default=None, help="unfolded barrier iterations (default 5)")
    s.add_argument("--steps", type=int, default=None, help="Adam steps (default 1500)")
    s.add_argument("--batch", type=int, default=None, help="channels per step (default 256)")
    s.add_argument("--seed", type=int, default=None, help="seed (default 0)")
    s.add_argument("--config", metavar="FILE", help="JSON config (flags override it)")
    s.add_argument("--out-dir", dest="out_dir", help="output directory (default ./slp-train)")
    s.add_argument("--name", help="model name (default slp-dnet-<weights>[-qrNN]-m4k4-psk4)")
    s.add_argument(
        "--eval-vectors",
        dest="eval_vectors",
        type=int,
        default=1000,
        help="test vectors for the final check against the solver (default 1000)",
    )
    s.add_argument("--no-eval", dest="no_eval", action="store_true", help="skip the final check")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=_run)
    return s
