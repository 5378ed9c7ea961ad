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
    "quantizer": "gnuradio.deepquant.apps.bench_quantizer",
    "chanest": "gnuradio.deepquant.apps.bench_chanest",
}

# `deepquant train <what>`: each capability's module provides add_parser(subparsers) (light to
# import; heavy work happens in the function it sets as the sub-command's func).
TRAINERS = {
    "chanest": "gnuradio.deepquant.chanest.cli",
    "softbit": "gnuradio.deepquant.softbit.cli",
    "eqnet": "gnuradio.deepquant.eqnet.cli",
    "slp": "gnuradio.deepquant.slp.cli",
}


def _cmd_info(args) -> int:
    from . import info

    data = info.collect()
    print(json.dumps(data, indent=2) if args.json else info.render(data))
    return 0


def _cmd_demo(args) -> int:
    if args.which == "quantizer":
        from .apps import demo_quantizer

        demo_quantizer.run(bits=tuple(args.bits), n_samples=args.samples, json_path=args.json)
        return 0
    from .apps import demo

    demo.run(
        snr_db=tuple(args.snr_db),
        methods=tuple(args.methods),
        packets=args.packets,
        mimo=not args.no_mimo,
        mimo_methods=args.mimo_methods,
        mimo_packets=args.mimo_packets,
        out=args.out,
        harq=not args.no_harq,
    )
    return 0


def _parse_snr(values):
    """'a:b:step' or a list of numbers -> list of floats."""
    out = []
    for v in values:
        if ":" in v:
            a, b, st = (float(t) for t in v.split(":"))
            n = int(round((b - a) / st)) + 1
            out += [round(a + i * st, 6) for i in range(n)]
        else:
            out.append(float(v))
    return out


def _cmd_eval(args) -> int:
    from pathlib import Path

    from . import evaluate

    sc = evaluate.SCENARIOS[args.scenario]
    snr = _parse_snr(args.snr_db) if args.snr_db else evaluate.DEFAULT_SNR_DB[args.scenario]
    dets = args.detectors or (["exact_ml", "maxlog_ml", "lmmse", "zf_sic"] if sc.nr > 1 else ["exact_ml", "maxlog_ml"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    curves = []
    for d in dets:
        curves.append(
            evaluate.sweep(
                args.scenario,
                d,
                snr,
                min_errors=args.min_errors,
                max_codewords=args.max_codewords,
                batch=args.batch,
                seed=args.seed,
                compressor=args.compressor,
                progress=not args.quiet,
            )
        )
    gaps = evaluate.gaps_db(curves)
    result = {"scenario": args.scenario, "curves": curves, "gaps_db_at_bler_1e-2_vs_exact_ml": gaps}
    stem = out / (args.scenario + ("" if args.compressor == "none" else f"_{args.compressor}"))
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2))
    refs = (
        []
        if args.no_reference
        else [
            c
            for c in evaluate.load_reference(args.scenario)
            if c["detector"] not in {x["detector"] for x in curves} or args.compressor != "none"
        ]
    )
    evaluate.plot(curves, str(stem.with_suffix(".png")), title=args.scenario, references=refs)
    print(f"\n{args.scenario}: required SNR at BLER 1e-2")
    for c in curves:
        r = c["required_snr_db_at_bler_1e-2"]
        g = gaps.get(c["detector"])
        print(
            f"  {c['detector']:>12}: {('%.2f dB' % r) if r is not None else 'not reached':>12}"
            + (f"  (+{g:.2f} dB vs exact_ml)" if g is not None and c["detector"] != "exact_ml" else "")
        )
    print(f"wrote {stem.with_suffix('.json')} and {stem.with_suffix('.png')}")
    summary = {
        "scenario": args.scenario,
        "required_snr_db_at_bler_1e-2": {c["detector"]: c["required_snr_db_at_bler_1e-2"] for c in curves},
        "gap_db_vs_exact_ml": gaps,
    }
    print("RESULT " + json.dumps(summary))
    return 0


def _cmd_bench(args) -> int:
    import importlib

    mod = importlib.import_module(BENCHES[args.name])
    return int(mod.main(args.rest) or 0)


def _cmd_grc(args) -> int:
    from . import paths

    env = dict(os.environ)
    blocks = str(paths.grc_blocks_dir())
    env["GRC_BLOCKS_PATH"] = os.pathsep.join(
        [blocks] + ([env["GRC_BLOCKS_PATH"]] if env.get("GRC_BLOCKS_PATH") else [])
    )
    tool = "/usr/bin/grcc" if args.compile else "/usr/bin/gnuradio-companion"
    cmd = [sys.executable, tool] + args.files
    print("running: GRC_BLOCKS_PATH=" + blocks + " " + " ".join(cmd), file=sys.stderr)
    return subprocess.call(cmd, env=env)


def _scenarios():
    from .evaluate import SCENARIOS

    return SCENARIOS


def _register_train(sub) -> None:
    """The ``train`` group: one sub-command per entry of TRAINERS."""
    import importlib

    s = sub.add_parser(
        "train",
        help="train a learned component (e.g. `deepquant train chanest --rate 1.0`)",
        description="Train a learned component of the module; see `deepquant train WHAT --help`.",
    )
    tsub = s.add_subparsers(dest="what", metavar="WHAT")
    tsub.required = True
    for mod in TRAINERS.values():
        importlib.import_module(mod).add_parser(tsub)


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

    # --- demo (issue 8: OFDM receivers; `demo quantizer` keeps the ADC loopback) ---
    from .apps.demo import HELP as _DEMO_HELP

    s = sub.add_parser(
        "demo",
        help="run the main demo headless: OFDM receivers in GNU Radio (table, PNG, RESULT line)",
        description=_DEMO_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument(
        "which",
        nargs="?",
        default="ofdm",
        choices=["ofdm", "quantizer"],
        help="ofdm (default): flowgraphs 1 and 2; quantizer: the low-resolution ADC loopback",
    )
    s.add_argument("--snr-db", type=float, nargs="+", default=[18.0, 22.0, 26.0], help="flowgraph 1 SNRs (dB)")
    s.add_argument(
        "--methods",
        nargs="+",
        default=["none", "learned", "uniform"],
        help="flowgraph 1 LLR storage methods ('none' = float LLRs)",
    )
    s.add_argument("--packets", type=int, default=200, help="flowgraph 1 packets per point (4 codewords each)")
    s.add_argument("--mimo-packets", type=int, default=100, help="flowgraph 2 packets per point (8 codewords each)")
    s.add_argument(
        "--mimo-methods",
        nargs="+",
        default=None,
        help="flowgraph 2 detectors (default: lmmse exact_ml eqnet_l eqnet_p eqnet_p+q6; also maxlog_ml, zf_sic, ep; "
        "METHOD+q6 / +q5 stores its LLRs EQ-Net-quantized at 3 / 2.5 bits per LLR)",
    )
    s.add_argument("--no-mimo", action="store_true", help="skip flowgraph 2")
    s.add_argument(
        "--no-harq", action="store_true", help="skip flowgraph 1's HARQ retransmission run (at the lowest --snr-db)"
    )
    s.add_argument("--out", default="out/demo", help="output directory (JSON, PNG)")
    s.add_argument("--bits", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6], help="quantizer: ADC resolutions")
    s.add_argument("--samples", type=int, default=2_000_000, help="quantizer: complex samples per run")
    s.add_argument("--json", metavar="FILE", help="quantizer: also write the figures as JSON")
    s.set_defaults(func=_cmd_demo)

    s = sub.add_parser(
        "eval",
        help="BLER/BER vs SNR of detectors (and LLR compressors) with the 802.11n LDPC code",
        description="Link-level evaluation: random info bits -> 802.11n (648,324) LDPC -> interleaver -> "
        "38.211 QAM -> channel -> detector -> [LLR compressor] -> de-interleaver -> BP decoding. "
        "Each SNR point stops after --min-errors block errors or --max-codewords codewords. "
        "Writes OUT/<scenario>.json and .png (with the shipped reference curves dashed) and "
        "prints a RESULT line with the required SNR at BLER 1e-2.",
    )
    s.add_argument("--scenario", required=True, choices=sorted(_scenarios()))
    s.add_argument(
        "--detectors",
        nargs="+",
        help="detector methods (default: exact_ml maxlog_ml lmmse zf_sic; also ep and the learned eqnet_l, eqnet_p)",
    )
    s.add_argument(
        "--snr-db",
        nargs="+",
        help="SNR points: numbers and/or start:stop:step ranges (default: a range around BLER 1e-2 for the scenario)",
    )
    s.add_argument("--min-errors", type=int, default=100, help="block errors that end a point")
    s.add_argument("--max-codewords", type=int, default=20000, help="codewords that end a point")
    s.add_argument("--batch", type=int, default=500, help="codewords simulated per batch")
    s.add_argument("--compressor", default="none", help="LLR compressor between detector and decoder")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", default="out/eval", help="output directory")
    s.add_argument("--no-reference", action="store_true", help="do not draw the shipped reference curves")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.set_defaults(func=_cmd_eval)

    s = sub.add_parser("bench", help="run a benchmark (prints ratios against a baseline measured in the same run)")
    s.add_argument("name", choices=sorted(BENCHES))
    s.add_argument("rest", nargs=argparse.REMAINDER, help="arguments passed to the benchmark (see its --help)")
    s.set_defaults(func=_cmd_bench)

    s = sub.add_parser(
        "grc",
        help="start GNU Radio Companion (or grcc with --compile) with the module's blocks",
        description="GRC's launchers use /usr/bin/python3, which lacks torch; this runs them "
        "with this venv's python and GRC_BLOCKS_PATH pointing at the installed blocks.",
    )
    s.add_argument("--compile", action="store_true", help="run grcc (compile .grc to .py) instead of the GUI")
    s.add_argument("files", nargs="*", help=".grc files (and grcc options such as -o DIR)")
    s.set_defaults(func=_cmd_grc)

    _register_train(sub)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        if getattr(args, "func", None) is not _cmd_grc:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.files = extra + list(args.files)  # grcc/GRC options (e.g. -o DIR) pass through
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
