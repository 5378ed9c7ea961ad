#!/usr/bin/env python3
"""The kernel library's C++ receive kernels against the numeric core's torch references they
replace on the hot paths, in one process, interleaved (ratios measured back to back).

- ``qam_demapper`` (exact / max-log, AVX2) vs ``phy.mapping.demap_exact`` / ``demap_maxlog``:
  64-QAM symbols with per-symbol h and sigma^2 (SNR -5..45 dB).
- ``ldpc_bp_decoder`` (flooding sum-product, AVX2 check nodes) vs ``phy.ldpc.bp_decode_torch``:
  802.11n (648, 324) codewords, BPSK over AWGN at Eb/N0-like SNRs 1.5 / 3 / 6 dB, 50 iterations.
- ``lmmse_detector`` vs ``phy.mimo.lmmse``: 2x2 64-QAM channel uses.
- ``ep_detector`` (``phy.mimo.ep_cpp``) vs ``phy.mimo.ep`` (torch) and vs the C++ ``lmmse_detector``
  in the same run: 2x2 64-QAM and 4x4 16-QAM channel uses (i.i.d. Rayleigh, 20 dB), EP's default
  2 iterations; the LLRs are checked against the torch EP (max error relative to the channel
  use's largest |L|).
Each figure is the best of ``--reps`` timings (least disturbed by other jobs); torch 1 thread,
the C++ kernels are single-threaded.

Run:  venv/bin/python bench/kernels.py [--reps 5] [--only all|demap|ldpc|mimo]
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
    p.add_argument("--only", choices=("all", "demap", "ldpc", "mimo"), default="all", help="kernels to time")
    a = p.parse_args(argv)
    import numpy as np
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    res = {"load_average_before": round(os.getloadavg()[0], 2)}
    if a.only in ("all", "demap"):
        demapper_rows(a, rng, res)
    if a.only in ("all", "ldpc"):
        ldpc_rows(a, rng, res)
    if a.only in ("all", "mimo"):
        mimo_rows(a, rng, res)
    res["load_average_after"] = round(os.getloadavg()[0], 2)
    print("RESULT " + json.dumps(res))
    return 0


def demapper_rows(a, rng, res):
    import numpy as np

    from gnuradio.deepquant.blocks import _kernels
    from gnuradio.deepquant.phy import mapping

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


def ldpc_rows(a, rng, res):
    import numpy as np

    from gnuradio.deepquant.blocks import _kernels
    from gnuradio.deepquant.phy import ldpc

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


def _mimo_data(rng, n, nr, nt, k, snr_db):
    import numpy as np

    from gnuradio.deepquant.phy import mapping

    h = ((rng.normal(size=(n, nr, nt)) + 1j * rng.normal(size=(n, nr, nt))) / np.sqrt(2)).astype(np.complex64)
    x = mapping.constellation(k)[rng.integers(0, 2**k, (n, nt))]
    nv = nt / 10 ** (snr_db / 10)
    noise = np.sqrt(nv / 2) * (rng.normal(size=(n, nr)) + 1j * rng.normal(size=(n, nr)))
    return (np.einsum("brt,bt->br", h, x) + noise).astype(np.complex64), h, np.full(n, nv, np.float32)


def mimo_rows(a, rng, res):
    import numpy as np

    from gnuradio.deepquant.blocks import _kernels
    from gnuradio.deepquant.phy import mapping, mimo

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
    # EP against the torch EP and the C++ LMMSE, interleaved in this run
    for cfg, nr, nt, k in (("2x2_64qam", 2, 2, 6), ("4x4_16qam", 4, 4, 4)):
        n = 50_000
        y, h, nv = _mimo_data(rng, n, nr, nt, k, 20.0)
        det = mimo.ep_kernel(nr, nt, k)
        ref = np.asarray(mimo.ep(y, h, nv, k), np.float64)
        got = mimo.ep_cpp(y, h, nv, k)
        err = float((np.abs(got - ref) / (1.0 + np.abs(ref).max(axis=1, keepdims=True))).max())
        t_torch = best_time(lambda: mimo.ep(y, h, nv, k), max(1, a.reps // 2))  # noqa: B023
        t_cpp = best_time(lambda: det.detect(y, h, nv), a.reps)  # noqa: B023
        t_lmmse = best_time(lambda: _kernels.lmmse(y, h, nv, k), a.reps)  # noqa: B023
        res[f"ep_{cfg}_torch_uses_per_s"] = round(n / t_torch)
        res[f"ep_{cfg}_cpp_uses_per_s"] = round(n / t_cpp)
        res[f"lmmse_{cfg}_cpp_uses_per_s"] = round(n / t_lmmse)
        res[f"ep_{cfg}_cpp_vs_torch_ratio"] = round(t_torch / t_cpp, 1)
        res[f"ep_{cfg}_cpp_vs_lmmse_cpp_ratio"] = round(t_lmmse / t_cpp, 3)
        res[f"ep_{cfg}_cpp_max_llr_error_rel_row"] = float(f"{err:.2g}")
        print(
            f"EP {cfg}: torch {n / t_torch:.3g} channel uses/s, C++ ({det.isa()}) {n / t_cpp:.3g} "
            f"({t_torch / t_cpp:.1f}x torch, {t_lmmse / t_cpp:.2f}x the C++ LMMSE's {n / t_lmmse:.3g}); "
            f"max |LLR error| {err:.1e} of the row's largest |L|"
        )


if __name__ == "__main__":
    sys.exit(main())
