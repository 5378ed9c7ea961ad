#!/usr/bin/env python3
"""Frame-adaptive rate for the scalar soft-bit baseline (a measurement behind docs/softbit.md,
section 5): frames whose mutual information per coded bit (mean of 1 - h2(P(b|L)) over the
frame's exact LLRs, computable at the encoder) is above a threshold decode whatever the
quantizer does, so they are stored with fewer cells.

Paired on EPA 64-QAM (same LLRs for every variant): max-MI-ec with M = 8 cells (threshold
design) for every frame, and M = 8 below / M = 5 or 4 above frame MI 0.9 or 0.95; block errors
(GNU Radio's BP decoder) and payload bits per soft bit.  The choice is not signalled here (a
codec would carry it in the table field, as it carries the quantizer set).

Run:  venv/bin/python scripts/softbit_adaptive_cells.py [--codewords 15000] [--codewords-high 3000]
Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--codewords", type=int, default=15000, help="codewords at 22-24 dB (BLER near 1e-2)")
    ap.add_argument("--codewords-high", type=int, default=3000, help="codewords at 28 and 32 dB")
    ap.add_argument("--seed", type=int, default=4242)
    a = ap.parse_args(argv)
    from gnuradio.deepquant import softbit
    from gnuradio.deepquant.phy import ldpc
    from gnuradio.deepquant.softbit import baselines as B, data
    from gnuradio.deepquant.softbit.experiment import DECODER_CLIP, ZERO_LLR

    t0 = time.perf_counter()
    base = softbit.make_codec("maxmi-ec", 6, cells=8)
    low = {"m5": softbit.make_codec("maxmi-ec", 6, cells=5), "m4": softbit.make_codec("maxmi-ec", 6, cells=4)}
    rng = np.random.default_rng(a.seed)
    rows = []
    for snr, n in (
        (22.0, a.codewords),
        (23.0, a.codewords),
        (24.0, a.codewords),
        (28.0, a.codewords_high),
        (32.0, a.codewords_high),
    ):
        llr, info = data.epa_frames(6, snr, n, rng)

        def errors(x, info=info):
            x2 = np.clip(x.reshape(len(x), -1), -DECODER_CLIP, DECODER_CLIP)
            x2[x2 == 0] = ZERO_LLR
            return int((np.asarray(ldpc.decode_batch(x2, max_iter=50, workers=2)) != info).any(1).sum())

        fmi = 1.0 - B._h2(B._sigmoid(-np.abs(llr.astype(np.float64)))).mean(axis=(1, 2))
        f8 = base.encode_frames(llr, snr_db=snr)
        r8 = np.stack(base.decode_frames(f8))
        b8 = np.array([len(f) - softbit.frame.HEADER_BYTES for f in f8], dtype=np.float64)
        row = {
            "snr_db": snr,
            "codewords": n,
            "float_errors": errors(llr),
            "m8_errors": errors(r8),
            "m8_bits_per_softbit": float(b8.mean() * 8 / 648),
        }
        for name, c in low.items():
            for thr in (0.9, 0.95):
                hi = fmi > thr
                out, bits = r8.copy(), b8.copy()
                if hi.any():
                    fh = c.encode_frames(llr[hi], snr_db=snr)
                    out[hi] = np.stack(c.decode_frames(fh))
                    bits[hi] = [len(f) - softbit.frame.HEADER_BYTES for f in fh]
                key = f"m8_{name}_above_{thr}"
                row[key + "_frames"] = float(hi.mean())
                row[key + "_errors"] = errors(out)
                row[key + "_bits_per_softbit"] = float(bits.mean() * 8 / 648)
        rows.append(row)
        print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)
    print(
        "RESULT "
        + json.dumps(
            {
                "rows": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in rows],
                "wall_s": round(time.perf_counter() - t0, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
