#!/usr/bin/env python3
"""How often the SISO re-estimation skips its LDPC decoding, and its time per packet.

The re-estimation (``ofdm_estimator.feedback``) decodes only the codewords whose channel hard
decisions do not already satisfy every parity check (``ldpc_bp_decoder.hard_codeword``; for the
others the decoder would return exactly those bits after one iteration). This counts such
codewords and times the feedback call per packet over random 9-tap channels (the EPA-like
profile of ``tests/blocks/test_ofdm_estimator_kernel.py``) with 64-QAM LDPC codewords, at
several SNRs, one thread.

Run:  venv/bin/python bench/reestimation_skip.py [--packets 40] [--snr-db 20 26 30]
Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main(argv=None) -> int:
    import numpy as np

    from gnuradio.deepquant.blocks import _kernels
    from gnuradio.deepquant.ofdm.layout import OfdmLayout
    from gnuradio.deepquant.phy import ldpc, mapping

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--packets", type=int, default=40)
    p.add_argument("--snr-db", type=float, nargs="+", default=[20.0, 26.0, 30.0])
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args(argv)
    lay = OfdmLayout()
    t, n, di = lay.payload_ofdm_symbols, lay.fft_len, lay.data_idx
    est, dem, dec = _kernels.ofdm_estimator(lay), _kernels.qam_demapper(6), _kernels.ldpc_decoder()
    pts = np.ascontiguousarray(mapping.constellation(6), np.complex128)

    def channel(rng):
        taps = np.zeros(n, complex)
        pw = np.exp(-np.arange(9) / 3.0)
        taps[3:12] = (rng.normal(size=9) + 1j * rng.normal(size=9)) * np.sqrt(pw / pw.sum() / 2)
        return np.fft.fftshift(np.fft.fft(taps)).astype(np.complex64)

    out = {}
    for snr in a.snr_db:
        rng = np.random.default_rng(1)
        cases, skipped = [], 0
        for _ in range(a.packets):
            bits = ldpc.encode(rng.integers(0, 2, size=(lay.n_codewords, 324)).astype(np.uint8))
            x = np.zeros((t, n), np.complex64)
            x[:, di] = np.asarray(mapping.map_bits(np.asarray(bits).reshape(-1), 6)).reshape(t, -1)
            x[:, lay.pilot_idx] = np.asarray(lay.pilot_symbols)
            h, s2 = channel(rng), 10 ** (-snr / 10)
            noise = np.sqrt(s2 / 2) * (rng.normal(size=x.shape) + 1j * rng.normal(size=x.shape))
            y = (h * x + noise).astype(np.complex64)
            he = (h + np.sqrt(0.1 * s2 / 2) * (rng.normal(size=n) + 1j * rng.normal(size=n))).astype(np.complex64)
            cases.append((y, he, s2))
            hd = np.ascontiguousarray(np.broadcast_to(he[di], (t, len(di))).reshape(-1))
            nv = np.full(hd.size, s2 * 1.1, np.float32)
            llr = dem.demap(np.ascontiguousarray(y[:, di].reshape(-1)), hd, nv, False).reshape(-1, ldpc.N)
            skipped += sum(bool(dec.hard_codeword(row)[0]) for row in llr)
        t0 = time.perf_counter()
        for _ in range(a.repeat):
            for y, he, s2 in cases:
                est.feedback(dem, dec, pts, y, he, s2, 0.1, 50, 2, True, 15)
        us = (time.perf_counter() - t0) / a.repeat / len(cases) * 1e6
        total = lay.n_codewords * len(cases)
        print(f"{snr:g} dB: {skipped}/{total} codewords skip the decoding; feedback {us:.0f} us per packet")
        out[f"{snr:g}"] = {"codewords": total, "skipped": skipped, "feedback_us_per_packet": round(us, 1)}
    print("RESULT " + json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
