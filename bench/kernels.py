#!/usr/bin/env python3
"""The kernel library's C++ receive kernels against the numeric core's torch references they
replace on the hot paths, in one process, interleaved (ratios measured back to back).

- ``qam_demapper`` (exact / max-log, AVX2) vs ``phy.mapping.demap_exact`` / ``demap_maxlog``:
  64-QAM symbols with per-symbol h and sigma^2 (SNR -5..45 dB).
- ``ldpc_bp_decoder`` (flooding sum-product, AVX2 check nodes) vs ``phy.ldpc.bp_decode_torch``:
  802.11n (648, 324) codewords, BPSK over AWGN at Eb/N0-like SNRs 1.5 / 3 / 6 dB, 50 iterations.
- ``lmmse_detector`` vs ``phy.mimo.lmmse``: 2x2 64-QAM channel uses.
Each figure is the best of ``--reps`` timings (least disturbed by other jobs); torch 1 thread.

Run:  venv/bin/python bench/kernels.py [--reps 5]
Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def best_time(fn, reps):
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=5)
    a = p.parse_args(argv)
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from gnuradio.deepquant.blocks import _kernels
    from gnuradio.deepquant.phy import ldpc, mapping, mimo

    rng = np.random.default_rng(0)
    res = {}
    # soft demapper
    n = 200_000
    x = mapping.constellation(6)[rng.integers(0, 64, n)]
    h = ((rng.normal(size=n) + 1j * rng.normal(size=n)) / np.sqrt(2)).astype(np.complex64)
    nv = (10 ** (-rng.uniform(-5, 45, n) / 10)).astype(np.float32)
    y = (h * x + np.sqrt(nv / 2) * (rng.normal(size=n) + 1j * rng.normal(size=n))).astype(np.complex64)
    dm = _kernels.qam_demapper(6)
    for name, ref, maxlog in (("exact", mapping.demap_exact, False), ("maxlog", mapping.demap_maxlog, True)):
        t_ref = best_time(lambda: ref(y, h, nv, 6), a.reps)
        t_cpp = best_time(lambda: dm.demap(y, h, nv, maxlog), a.reps)
        res[f"demap_{name}_64qam_torch_symbols_per_s"] = round(n / t_ref)
        res[f"demap_{name}_64qam_cpp_symbols_per_s"] = round(n / t_cpp)
        res[f"demap_{name}_speedup"] = round(t_ref / t_cpp, 1)
        print(
            f"demapper {name:6s}: torch {n / t_ref:.3g} symbols/s, C++ ({dm.isa()}) {n / t_cpp:.3g} "
            f"({t_ref / t_cpp:.1f}x)"
        )
    # LDPC decoder
    b = 200
    cw = np.asarray(ldpc.encode(rng.integers(0, 2, (b, ldpc.K))))
    dec = _kernels.ldpc_decoder()
    for snr in (1.5, 3.0, 6.0):
        s2 = 10 ** (-snr / 10)
        llr = (-2 * (1 - 2.0 * cw + rng.normal(0, np.sqrt(s2), cw.shape)) / s2).astype(np.float32)
        t_ref = best_time(
            lambda: ldpc.bp_decode_torch(
                llr, 50, return_codewords=True, return_iterations=True, return_posteriors=True
            ),
            a.reps,
        )
        t_cpp = best_time(lambda: dec.decode(llr, 50, True), a.reps)
        its = dec.decode(llr, 50, True)[1]
        res[f"ldpc_{snr:g}dB_torch_codewords_per_s"] = round(b / t_ref)
        res[f"ldpc_{snr:g}dB_cpp_codewords_per_s"] = round(b / t_cpp)
        res[f"ldpc_{snr:g}dB_mean_iterations"] = round(float(its.mean()), 2)
        print(
            f"LDPC {snr:3.1f} dB ({its.mean():5.2f} iterations): torch {b / t_ref:.0f} codewords/s, "
            f"C++ ({dec.isa()}) {b / t_cpp:.0f} ({t_ref / t_cpp:.1f}x)"
        )
    # LMMSE
    n = 50_000
    hm = ((rng.normal(size=(n, 2, 2)) + 1j * rng.normal(size=(n, 2, 2))) / np.sqrt(2)).astype(np.complex64)
    xm = mapping.constellation(6)[rng.integers(0, 64, (n, 2))]
    nvm = np.full(n, 0.01, np.float32)
    ym = (np.einsum("brt,bt->br", hm, xm) + 0.07 * (rng.normal(size=(n, 2)) + 1j * rng.normal(size=(n, 2)))).astype(
        np.complex64
    )
    t_ref = best_time(lambda: mimo.lmmse(ym, hm, nvm, 6), a.reps)
    t_cpp = best_time(lambda: _kernels.lmmse(ym, hm, nvm, 6), a.reps)
    res["lmmse_2x2_64qam_torch_uses_per_s"] = round(n / t_ref)
    res["lmmse_2x2_64qam_cpp_uses_per_s"] = round(n / t_cpp)
    res["lmmse_speedup"] = round(t_ref / t_cpp, 1)
    print(f"LMMSE 2x2 64-QAM: torch {n / t_ref:.3g} channel uses/s, C++ {n / t_cpp:.3g} ({t_ref / t_cpp:.1f}x)")
    print("RESULT " + json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
