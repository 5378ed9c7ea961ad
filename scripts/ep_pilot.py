#!/usr/bin/env python3
"""Paired BLER pilots of EP detector settings (how ``phy.mimo``'s EP defaults were chosen).

    venv/bin/python scripts/ep_pilot.py --scenario 4x4-16qam-rayleigh --snr-db 20.5 --codewords 20000 \\
        --variants 2:0.5:5e-7 2:0.5:1e-2 1:0.5:1e-2 [--baselines lmmse]

Each variant ``ITERATIONS:BETA:EPS`` (``mimo.ep``'s ``iterations``, damping ``beta``, variance floor
``eps``) and each baseline detector decodes the same seeded codewords (a fresh
``evaluate.Link`` with the same seed per variant: paired draws, so differences are not sampling
noise of the channel), ``--codewords`` at one SNR, 802.11n LDPC (648, 324) with GNU Radio's decoder
as in ``deepquant eval``. Prints block errors, BLER and uncoded BER per variant, and the rate of
confidently wrong LLRs (wrong sign and ``|L| > 10``, the cause of an error floor) on
``--floor-uses`` channel uses of the same channel; ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="4x4-16qam-rayleigh")
    ap.add_argument("--snr-db", type=float, default=20.5)
    ap.add_argument("--codewords", type=int, default=4000)
    ap.add_argument("--variants", nargs="+", default=["2:0.5:5e-7", "2:0.5:1e-2"], help="ITERATIONS:BETA:EPS")
    ap.add_argument("--baselines", nargs="*", default=["lmmse"], help="other detector names")
    ap.add_argument("--floor-uses", type=int, default=100_000, help="channel uses for the |L| > 10 count (0: skip)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from gnuradio.deepquant import evaluate as E
    from gnuradio.deepquant import registry
    from gnuradio.deepquant.phy import channels, mapping, mimo

    sc = E.SCENARIOS[a.scenario]
    dets = {name: name for name in a.baselines}
    for v in a.variants:
        it, beta, eps = v.split(":")
        dets[f"ep:{v}"] = functools.partial(mimo.ep, iterations=int(it), beta=float(beta), eps=float(eps))
    # channel uses for the confidently-wrong-LLR count (same draws for every detector)
    if a.floor_uses:
        rng = np.random.default_rng(a.seed + 1)
        n, k = a.floor_uses, sc.bits_per_symbol
        bits = rng.integers(0, 2, (n, sc.nt * k), dtype=np.uint8)
        x = np.asarray(mapping.map_bits(bits.reshape(-1, k), k), np.complex64).reshape(n, sc.nt)
        g = torch.Generator().manual_seed(a.seed + 2)
        h = channels.rayleigh_mimo(n, sc.nr, sc.nt, generator=g).numpy().astype(np.complex64)
        nv = sc.noise_var(a.snr_db)
        noise = rng.standard_normal((n, sc.nr)) + 1j * rng.standard_normal((n, sc.nr))
        y = (np.einsum("bij,bj->bi", h, x) + np.sqrt(nv / 2) * noise).astype(np.complex64)
        nvs = np.full(n, nv, np.float32)
    res = {}
    for name, det in dets.items():
        link = E.Link(sc, seed=a.seed, workers=1)
        tot = {}
        t0 = time.perf_counter()
        for i in range(0, a.codewords, 500):
            r = link.run_batch(det, a.snr_db, min(500, a.codewords - i))
            for key, val in r.items():
                tot[key] = tot.get(key, 0) + val
        row = {
            "block_errors": tot["block_errors"],
            "codewords": tot["codewords"],
            "bler": tot["block_errors"] / tot["codewords"],
            "uncoded_ber": tot["uncoded_bit_errors"] / tot["uncoded_bits"],
        }
        if a.floor_uses:
            llr = np.asarray(registry.detect(det, y, h, nvs, sc.bits_per_symbol), np.float64)
            row["confidently_wrong_per_bit"] = float(np.mean((np.sign(llr) != 2.0 * bits - 1.0) & (np.abs(llr) > 10)))
        res[name] = row
        print(
            f"{a.scenario} {a.snr_db:5.1f} dB {name:20s} BLER {row['bler']:.2e} ({row['block_errors']}/{row['codewords']})"
            f"  uncoded BER {row['uncoded_ber']:.4f}"
            + (f"  wrong |L|>10 {row['confidently_wrong_per_bit']:.2e}" if a.floor_uses else "")
            + f"  {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
    print("RESULT " + json.dumps({"scenario": a.scenario, "snr_db": a.snr_db, "seed": a.seed, "detectors": res}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
