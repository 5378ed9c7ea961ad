"""The ``deepquant`` command line: demo, info, bench, grc (more subcommands join as capabilities land).

Run ``deepquant --help`` or ``deepquant <subcommand> --help``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from ._version import __version__

BENCHES = {
    "quantizer": "gnuradio.deepquant.bench.quantizer",
}


def _cmd_info(args) -> int:
    from . import info

    data = info.collect()
    print(json.dumps(data, indent=2) if args.json else info.render(data))
    return 0


def _cmd_demo(args) -> int:
    from . import demo

    demo.run(bits=tuple(args.bits), n_samples=args.samples, json_path=args.json)
    return 0


def _cmd_bench(args) -> int:
    import importlib

    mod = importlib.import_module(BENCHES[args.name])
    return int(mod.main(args.rest) or 0)


def _cmd_grc(args) -> int:
    from . import paths

    env = dict(os.environ)
    blocks = str(paths.grc_blocks_dir())
    env["GRC_BLOCKS_PATH"] = os.pathsep.join([blocks] + ([env["GRC_BLOCKS_PATH"]] if env.get("GRC_BLOCKS_PATH") else []))
    tool = "/usr/bin/grcc" if args.compile else "/usr/bin/gnuradio-companion"
    cmd = [sys.executable, tool] + args.files
    print("running: GRC_BLOCKS_PATH=" + blocks + " " + " ".join(cmd), file=sys.stderr)
    return subprocess.call(cmd, env=env)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="deepquant",
        description="gr-deepquant: learned, quantization-aware receiver/transmitter blocks for GNU Radio. "
                    "LLR convention everywhere: L = ln P(b=1)/P(b=0).",
    )
    p.add_argument("--version", action="version", version=f"gr-deepquant {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser("info", help="versions, install paths, shipped models, where GRC finds the blocks")
    s.add_argument("--json", action="store_true", help="print JSON instead of text")
    s.set_defaults(func=_cmd_info)

    s = sub.add_parser(
        "demo", help="run the main demo headless (prints a table and a RESULT line)",
        description="The quantizer loopback: complex Gaussian samples through the module's uniform and "
                    "Lloyd-Max ADC blocks in a GNU Radio flowgraph; measured SQNR vs closed-form theory, "
                    "index path (quantizer_fb -> dequantizer_bf) vs level path (quantizer_ff), and "
                    "flowgraph throughput. Open examples/quantizer_loopback.grc in GNU Radio Companion "
                    "(`deepquant grc examples/quantizer_loopback.grc`) for the same flowgraph.")
    s.add_argument("--bits", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6], help="ADC resolutions to run")
    s.add_argument("--samples", type=int, default=2_000_000, help="complex samples per run")
    s.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    s.set_defaults(func=_cmd_demo)

    s = sub.add_parser("bench", help="run a benchmark (prints ratios against a baseline measured in the same run)")
    s.add_argument("name", choices=sorted(BENCHES))
    s.add_argument("rest", nargs=argparse.REMAINDER, help="arguments passed to the benchmark (see its --help)")
    s.set_defaults(func=_cmd_bench)

    s = sub.add_parser("grc", help="start GNU Radio Companion (or grcc with --compile) with the module's blocks",
                       description="GRC's launchers use /usr/bin/python3, which lacks torch; this runs them "
                                   "with this venv's python and GRC_BLOCKS_PATH pointing at the installed blocks.")
    s.add_argument("--compile", action="store_true", help="run grcc (compile .grc to .py) instead of the GUI")
    s.add_argument("files", nargs="*", help=".grc files (and grcc options such as -o DIR)")
    s.set_defaults(func=_cmd_grc)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
