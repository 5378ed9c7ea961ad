#!/usr/bin/env python3
"""Throughput of the soft-bit blocks (one run): compress (LLR stream -> PDUs) and decompress
(PDUs -> LLR stream) in real GNU Radio flowgraphs, soft bits per second, for the learned codec
and the baselines; ratios against the fixed-rate max-MI scalar quantizer measured in the same run.
Frames of 108 channel uses x K = 6 (one LDPC codeword). One CPU thread for numpy/torch math.

Ends with ``RESULT {json}``.
"""
from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pmt  # noqa: E402
from gnuradio import blocks, gr  # noqa: E402

from gnuradio import deepquant  # noqa: E402
from gnuradio.deepquant import softbit  # noqa: E402
from gnuradio.deepquant.softbit import data  # noqa: E402

K, FRAME = 6, 108


def bench_compress(method, llr):
    tb = gr.top_block()
    src = blocks.vector_source_f(llr.tolist(), False)
    comp = deepquant.softbit_compressor(K, method, FRAME, len_tag_key="")
    tb.connect(src, comp)
    t0 = time.perf_counter()
    tb.run()
    dt = time.perf_counter() - t0
    return llr.size / dt, comp.bytes_out * 8 / llr.size


def bench_decompress(method, frames, n_llr):
    tb = gr.top_block()
    dec = deepquant.softbit_decompressor(K, method)
    snk = blocks.null_sink(gr.sizeof_float)
    head = blocks.head(gr.sizeof_float, n_llr)
    tb.connect(dec, head, snk)
    msgs = [pmt.cons(pmt.make_dict(), pmt.init_u8vector(len(f), list(f))) for f in frames]
    for m in msgs:
        dec._post(pmt.intern("pdus"), m)
    # a block with message inputs and no upstream publisher never reports itself finished: run
    # until the sink has everything, then stop
    t0 = time.perf_counter()
    tb.start()
    while snk.nitems_read(0) < n_llr and time.perf_counter() - t0 < 300:
        time.sleep(0.0005)
    dt = time.perf_counter() - t0
    tb.stop()
    tb.wait()
    return n_llr / dt


def main():
    n_frames = int(os.environ.get("SOFTBIT_BENCH_FRAMES", "3000"))
    rng = np.random.default_rng(0)
    llr = np.concatenate([data.epa_frames(K, s, n_frames // 3, rng)[0] for s in (16.0, 22.0, 28.0)])
    flat = llr.reshape(-1).astype(np.float32)
    res = {}
    for m in ("maxmi", "maxmi-ec", "uniform", "int8", "deepllr", "learned"):
        c = softbit.make_codec(m, K)
        frames = c.encode_frames(llr)
        cps, bits = bench_compress(m, flat)
        dps = bench_decompress(m, frames, flat.size)
        res[m] = {"compress_softbits_per_s": cps, "decompress_softbits_per_s": dps, "bits_per_softbit_with_header": bits}
        print(f"{m:>10}: compress {cps / 1e6:6.2f} M soft bits/s, decompress {dps / 1e6:6.2f} M soft bits/s, "
              f"{bits:.3f} bits/soft bit (header incl.)", flush=True)
    base = res["maxmi"]
    out = {
        "learned_compress_msoftbits_per_s": res["learned"]["compress_softbits_per_s"] / 1e6,
        "learned_decompress_msoftbits_per_s": res["learned"]["decompress_softbits_per_s"] / 1e6,
        "learned_compress_time_ratio_vs_maxmi": base["compress_softbits_per_s"] / res["learned"]["compress_softbits_per_s"],
        "learned_decompress_time_ratio_vs_maxmi": base["decompress_softbits_per_s"] / res["learned"]["decompress_softbits_per_s"],
        "maxmi_compress_msoftbits_per_s": base["compress_softbits_per_s"] / 1e6,
        "maxmi_decompress_msoftbits_per_s": base["decompress_softbits_per_s"] / 1e6,
        "frames": len(llr), "frame_softbits": FRAME * K,
        "all_msoftbits_per_s": {m: [round(v["compress_softbits_per_s"] / 1e6, 2), round(v["decompress_softbits_per_s"] / 1e6, 2)]
                                 for m, v in res.items()},
    }
    print("RESULT " + json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in out.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
