"""``deepquant train chanest``: train task-based quantized channel estimators (Shohat,
Tsintsadze, Shlezinger & Eldar, "Deep Quantization for MIMO Channel Estimation").

Registered into the module's CLI by :func:`add_parser`; everything heavy is imported only when the
command runs.
"""

from __future__ import annotations

import argparse
import json
import sys

# The rate grid of the shipped models: M levels per ADC with p = k = 80, n = 240 (R = log2(M)/3).
PAPER_LEVELS = (2, 3, 4, 6, 8, 12, 18)

_EPILOG = """\
examples:
  deepquant train chanest --rate 1.0                      # soft-to-hard, P = 4, M = 8, ~20 s
  deepquant train chanest --rate 0.33 0.67 --method both --training both
  deepquant train chanest --paper-grid --out python/deepquant/models/chanest   # the shipped models
  deepquant train chanest --levels 5 --training snr_uncertainty --epochs 120 --seed 3

rate R = p*log2(M)/n ADC bits per real observation (n = 2*tau_p*n_t, p = k = 2*n_u*n_t by
default); a rate picks the M >= 2 whose rate is nearest.  Each run prints the test MSE measured
through the C++ kernel next to the scalar-ADC (Lloyd-Max) limit and the rate-distortion bound,
writes <out>/<stem>.safetensors + <stem>.json (model card) and ends with a RESULT line.
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``chanest`` sub-command to a ``deepquant train`` sub-parser group."""
    s = subparsers.add_parser(
        "chanest",
        help="task-based quantized MIMO channel estimator (learned combiner + ADC thresholds)",
        description="Train the deep task-based quantizer of Shohat, Tsintsadze, Shlezinger & Eldar, 'Deep "
        "Quantization for MIMO Channel Estimation' (analog combiner -> p identical "
        "scalar ADCs -> digital estimator) on the multi-user MIMO pilot model "
        "y = sqrt(P)(Phi kron I)h + w, and evaluate it through the C++ ADC kernel.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--rate", type=float, nargs="+", metavar="R", help="target rate(s), bits per real observation")
    g.add_argument("--levels", type=int, nargs="+", metavar="M", help="ADC levels (any M >= 2)")
    g.add_argument(
        "--paper-grid",
        action="store_true",
        help=f"M in {PAPER_LEVELS} (the shipped models; implies --method both --training both, and "
        "--digital-gain for soft-to-hard with SNR uncertainty)",
    )
    s.add_argument("--method", choices=("soft_to_hard", "passing_gradient", "both"), default="soft_to_hard")
    s.add_argument(
        "--training",
        choices=("optimal", "snr_uncertainty", "both"),
        default="optimal",
        help="'optimal': P = --snr; 'snr_uncertainty': P ~ U[1, 10] per training sample",
    )
    s.add_argument("--nt", type=int, default=10, help="BS antennas (default 10)")
    s.add_argument("--nu", type=int, default=4, help="users (default 4)")
    s.add_argument("--tau-p", type=int, default=12, help="pilot length (default 12)")
    s.add_argument("--snr", type=float, default=4.0, help="pilot SNR P, linear (default 4)")
    s.add_argument("--p", type=int, default=None, help="number of ADCs (default k = 2*nu*nt)")
    s.add_argument(
        "--digital-hidden",
        type=int,
        nargs="*",
        default=[],
        metavar="W",
        help="hidden widths of a deeper digital ReLU network (default: linear)",
    )
    s.add_argument(
        "--digital-gain",
        action="store_true",
        help="energy-adaptive gain on the digital output (used for soft-to-hard SNR-uncertainty "
        "models; --paper-grid sets it there)",
    )
    s.add_argument("--epochs", type=int, default=60)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument(
        "--init",
        choices=("spread", "normal"),
        default="spread",
        help="soft-to-hard init: Gaussian-quantile thresholds, or the paper's a, b ~ N(0,1)",
    )
    s.add_argument(
        "--c-final",
        type=float,
        default=100.0,
        help="tanh slope at the end of training (5 = the paper's fixed c; default 100)",
    )
    s.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    s.add_argument("--lr", type=float, default=3e-3)
    agc = s.add_mutually_exclusive_group()
    agc.add_argument(
        "--agc",
        dest="agc",
        action="store_true",
        default=None,
        help="force the ADC-input AGC on (default: on for soft-to-hard only)",
    )
    agc.add_argument("--no-agc", dest="agc", action="store_false")
    s.add_argument("--no-refit", action="store_true", help="keep the trained digital layer (no least-squares refit)")
    s.add_argument("--train-samples", type=int, default=2**15)
    s.add_argument("--test-samples", type=int, default=2**14)
    s.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the CPU is shared)")
    s.add_argument("--out", default=None, help="output directory (default: <cache>/chanest/models)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=run)
    return s


def run(args) -> int:
    from pathlib import Path

    from ..paths import cache_dir
    from . import bounds
    from .system import ChannelSetup
    from .train import TrainConfig, save_model, train, write_index

    setup = ChannelSetup(args.nt, args.nu, args.tau_p, args.snr)
    p = setup.k if args.p is None else args.p
    if args.paper_grid:
        levels = list(PAPER_LEVELS)
        methods, trainings = ["soft_to_hard", "passing_gradient"], ["optimal", "snr_uncertainty"]
    else:
        levels = args.levels or [bounds.levels_for_rate(r, p, setup.n) for r in args.rate]
        methods = ["soft_to_hard", "passing_gradient"] if args.method == "both" else [args.method]
        trainings = ["optimal", "snr_uncertainty"] if args.training == "both" else [args.training]
    out = Path(args.out) if args.out else cache_dir() / "chanest" / "models"
    results = []
    for m in levels:
        for method in methods:
            for tr in trainings:
                cfg = TrainConfig(
                    n_t=args.nt,
                    n_u=args.nu,
                    tau_p=args.tau_p,
                    snr=args.snr,
                    method=method,
                    training=tr,
                    num_levels=m,
                    p=args.p,
                    digital_hidden=tuple(args.digital_hidden),
                    digital_gain=args.digital_gain
                    or (args.paper_grid and method == "soft_to_hard" and tr == "snr_uncertainty"),
                    num_train=args.train_samples,
                    num_test=args.test_samples,
                    epochs=args.epochs,
                    optimizer=args.optimizer,
                    lr=args.lr,
                    c_final=max(args.c_final, 5.0),
                    c_init=min(5.0, args.c_final),
                    init=args.init,
                    agc=args.agc,
                    refit_digital=not args.no_refit,
                    seed=args.seed,
                )
                label = f"{method}/{tr} M={m} R={cfg.rate:.3f}"
                bar = None
                if not args.quiet:
                    from tqdm import tqdm

                    bar = tqdm(total=cfg.epochs, desc=label, file=sys.stderr, leave=False)

                def progress(rec, bar=bar):
                    if bar is not None:
                        bar.set_postfix(train_mse=f"{rec['train_mse']:.4f}", c=f"{rec['c']:.0f}")
                        bar.update(1)

                res = train(cfg, progress=progress, threads=args.threads)
                if bar is not None:
                    bar.close()
                wpath, cpath = save_model(res, out)
                mt = res.metrics
                print(
                    f"{label}: test MSE {mt['test_mse']:.5f} (scalar-ADC limit {mt['scalar_adc_limit']:.5f}, "
                    f"x{mt['ratio_to_scalar_adc_limit']:.3f}; eta_opt {mt['eta_opt']:.5f}; MMSE {mt['mmse']:.5f}) "
                    f"in {mt['total_seconds']:.0f} s -> {wpath}",
                    flush=True,
                )
                results.append(
                    {
                        "method": method,
                        "training": tr,
                        "levels": m,
                        "rate_bits_per_obs": cfg.rate,
                        "test_mse": mt["test_mse"],
                        "scalar_adc_limit": mt["scalar_adc_limit"],
                        "train_seconds": mt["train_seconds"],
                        "weights": str(wpath),
                        "card": str(cpath),
                    }
                )
    index = write_index(out)
    print(f"model index: {index}")
    print("RESULT " + json.dumps({"models": results}))
    return 0
