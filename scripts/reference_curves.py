#!/usr/bin/env python3
"""Reference BLER curves of the classical detectors, stored in the package as JSON.

    venv/bin/python scripts/reference_curves.py [--quick]

For 2x2 64-QAM and 4x4 16-QAM i.i.d. Rayleigh (802.11n LDPC 648/324, see
gnuradio.deepquant.evaluate): exact ML, max-log ML, LMMSE and ZF-SIC. Writes
python/deepquant/data/reference_curves/<scenario>.json (shipped: learned detectors are plotted
against them by `deepquant eval`) and out/reference_curves/<scenario>.png, prints the required
SNR at BLER 1e-2 and the gaps to exact ML, and ends with one `RESULT {json}` line.
"""

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="few errors per point (a smoke run, not for shipping)")
    ap.add_argument("--scenarios", nargs="+", default=["2x2-64qam-rayleigh", "4x4-16qam-rayleigh"])
    ap.add_argument("--min-errors", type=int, default=60)
    ap.add_argument("--max-codewords", type=int, default=6000)
    ap.add_argument(
        "--detectors",
        nargs="+",
        default=["exact_ml", "maxlog_ml", "lmmse", "zf_sic"],
        help="detectors to (re)run; with a subset, the other curves are kept from the existing JSON",
    )
    ap.add_argument("--out", default=str(REPO / "python" / "deepquant" / "data" / "reference_curves"))
    args = ap.parse_args(argv)

    import torch

    from gnuradio.deepquant import evaluate

    torch.set_num_threads(1)  # the machine is shared with other jobs; see ENVIRONMENT.md
    grids = {  # around each detector's waterfall (measured), 1 dB steps
        "2x2-64qam-rayleigh": [float(s) for s in range(16, 31)],
        "4x4-16qam-rayleigh": [float(s) for s in range(14, 37)],
    }
    min_err, max_cw = (20, 1000) if args.quick else (args.min_errors, args.max_codewords)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plots = REPO / "out" / "reference_curves"
    plots.mkdir(parents=True, exist_ok=True)
    summary = {}
    for sc in args.scenarios:
        old = out / f"{sc}.json"
        kept = {c["detector"]: c for c in json.loads(old.read_text())["curves"]} if old.exists() else {}
        for det in args.detectors:
            t0 = time.time()
            c = evaluate.sweep(sc, det, grids[sc], min_errors=min_err, max_codewords=max_cw, progress=True)
            c["seconds"] = time.time() - t0
            kept[det] = c
        curves = [kept[d] for d in ["exact_ml", "maxlog_ml", "lmmse", "zf_sic"] if d in kept]
        gaps = evaluate.gaps_db(curves)
        req = {c["detector"]: c["required_snr_db_at_bler_1e-2"] for c in curves}
        order_ok = all(
            req[a] is not None and req[b] is not None and req[a] <= req[b] + 0.05
            for a, b in [("exact_ml", "maxlog_ml"), ("maxlog_ml", "lmmse"), ("lmmse", "zf_sic")]
        )
        (out / f"{sc}.json").write_text(
            json.dumps(
                {
                    "scenario": sc,
                    "curves": curves,
                    "gaps_db_at_bler_1e-2_vs_exact_ml": gaps,
                    "command": "venv/bin/python scripts/reference_curves.py",
                },
                indent=1,
            )
        )
        evaluate.plot(curves, str(plots / f"{sc}.png"), title=f"{sc} (reference)")
        print(
            f"{sc}: required SNR at BLER 1e-2 {req}; gaps vs exact ML {gaps}; "
            f"ordering exact <= maxlog <= lmmse <= zf_sic: {order_ok}"
        )
        summary[sc] = {
            "required_snr_db_at_bler_1e-2": req,
            "gap_db_vs_exact_ml": gaps,
            "ordering_exact_maxlog_lmmse_zfsic_holds": order_ok,
        }
    print("RESULT " + json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
