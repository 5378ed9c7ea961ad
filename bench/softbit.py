#!/usr/bin/env python3
"""Throughput of the soft-bit blocks (one run): compress (LLR stream -> PDUs) and decompress
(PDUs -> LLR stream) in real GNU Radio flowgraphs, soft bits per second, for the learned codec
and the baselines; ratios against the fixed-rate max-MI scalar quantizer measured in the same run.
Each figure is given per wall-clock second and per CPU second of the whole process (all GNU Radio
threads: source, block, sink), the latter being robust to other jobs on a shared machine; the
flowgraphs are kept on one core's worth of work (numpy/torch on one thread).
Frames of 108 channel uses x K = 6 (one LDPC codeword). One CPU thread for numpy/torch math.

Also the entropy coder choice: the learned codec's latents of the same frames coded with the
module's C++ rANS coder (what the codecs use) and with constriction's range coder (the
well-kept library it replaced), same chain model: microseconds per frame and bytes per frame.

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
    t0, c0 = time.perf_counter(), time.process_time()
    tb.run()
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    return llr.size / dt, llr.size / dc, comp.bytes_out * 8 / llr.size


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
    t0, c0 = time.perf_counter(), time.process_time()
    tb.start()
    while snk.nitems_read(0) < n_llr and time.perf_counter() - t0 < 300:
        time.sleep(0.0005)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    tb.stop()
    tb.wait()
    return n_llr / dt, n_llr / dc


def bench_coders(llr):
    """rANS (C++) vs constriction on the learned codec's latents: per-frame time and size."""
    from gnuradio.deepquant.softbit import entropy

    c = softbit.make_codec("learned", K)
    f = len(llr)
    sym = c.latents(llr.reshape(-1, K)).reshape(f, FRAME, 3)
    tids = c.coder.choose_tables(sym)
    ref = entropy.ChainCoder(c.coder_tables["marg"], c.coder_tables["c1"], c.coder_tables["c2"])
    out = {}
    t0 = time.perf_counter()
    pay = c.coder.encode_frames(sym, tids)
    t1 = time.perf_counter()
    dec, _ = c.coder.decode_frames(pay, tids, np.full(f, FRAME))
    t2 = time.perf_counter()
    assert np.array_equal(dec.reshape(sym.shape), sym)
    out["rans"] = {"encode_us_per_frame": (t1 - t0) / f * 1e6, "decode_us_per_frame": (t2 - t1) / f * 1e6,
                   "bytes_per_frame": float(np.mean([len(p) for p in pay]))}
    t0 = time.perf_counter()
    pay = [ref.encode(sym[i], int(tids[i])) for i in range(f)]
    t1 = time.perf_counter()
    for i in range(f):
        ref.decode(pay[i], int(tids[i]), FRAME)
    t2 = time.perf_counter()
    out["constriction"] = {"encode_us_per_frame": (t1 - t0) / f * 1e6, "decode_us_per_frame": (t2 - t1) / f * 1e6,
                           "bytes_per_frame": float(np.mean([len(p) for p in pay]))}
    out["ideal_bytes_per_frame"] = float(np.mean([ref.ideal_bits(sym[i], int(tids[i])) for i in range(f)]) / 8)
    for n in ("rans", "constriction"):
        v = out[n]
        print(f"{n:>12}: encode {v['encode_us_per_frame']:6.1f} us/frame, decode {v['decode_us_per_frame']:6.1f} us/frame, "
              f"{v['bytes_per_frame']:.1f} bytes/frame", flush=True)
    print(f"{'ideal':>12}: {out['ideal_bytes_per_frame']:.1f} bytes/frame (chain model, float tables)")
    return out


def main():
    n_frames = int(os.environ.get("SOFTBIT_BENCH_FRAMES", "3000"))
    rng = np.random.default_rng(0)
    llr = np.concatenate([data.epa_frames(K, s, n_frames // 3, rng)[0] for s in (16.0, 22.0, 28.0)])
    flat = llr.reshape(-1).astype(np.float32)
    res = {}
    for m in ("maxmi", "maxmi-ec", "uniform", "int8", "deepllr", "learned"):
        c = softbit.make_codec(m, K)
        frames = c.encode_frames(llr)
        cps, cpc, bits = bench_compress(m, flat)
        dps, dpc = bench_decompress(m, frames, flat.size)
        res[m] = {"compress_softbits_per_s": cps, "decompress_softbits_per_s": dps,
                  "compress_softbits_per_cpu_s": cpc, "decompress_softbits_per_cpu_s": dpc,
                  "bits_per_softbit_with_header": bits}
        print(f"{m:>10}: compress {cps / 1e6:6.2f} M soft bits/s ({cpc / 1e6:6.2f} M per CPU second), "
              f"decompress {dps / 1e6:6.2f} M soft bits/s ({dpc / 1e6:6.2f} M per CPU second), "
              f"{bits:.3f} bits/soft bit (header incl.)", flush=True)
    coders = bench_coders(llr[:600])
    base = res["maxmi"]
    out = {
        "learned_compress_msoftbits_per_s": res["learned"]["compress_softbits_per_s"] / 1e6,
        "learned_decompress_msoftbits_per_s": res["learned"]["decompress_softbits_per_s"] / 1e6,
        "learned_compress_msoftbits_per_cpu_s": res["learned"]["compress_softbits_per_cpu_s"] / 1e6,
        "learned_decompress_msoftbits_per_cpu_s": res["learned"]["decompress_softbits_per_cpu_s"] / 1e6,
        "learned_compress_time_ratio_vs_maxmi": base["compress_softbits_per_s"] / res["learned"]["compress_softbits_per_s"],
        "learned_decompress_time_ratio_vs_maxmi": base["decompress_softbits_per_s"] / res["learned"]["decompress_softbits_per_s"],
        "maxmi_compress_msoftbits_per_s": base["compress_softbits_per_s"] / 1e6,
        "maxmi_decompress_msoftbits_per_s": base["decompress_softbits_per_s"] / 1e6,
        "frames": len(llr), "frame_softbits": FRAME * K,
        "rans_encode_us_per_frame": coders["rans"]["encode_us_per_frame"],
        "rans_decode_us_per_frame": coders["rans"]["decode_us_per_frame"],
        "constriction_encode_us_per_frame": coders["constriction"]["encode_us_per_frame"],
        "constriction_decode_us_per_frame": coders["constriction"]["decode_us_per_frame"],
        "rans_bytes_per_frame": coders["rans"]["bytes_per_frame"],
        "constriction_bytes_per_frame": coders["constriction"]["bytes_per_frame"],
        "all_msoftbits_per_s": {m: [round(v["compress_softbits_per_s"] / 1e6, 2), round(v["decompress_softbits_per_s"] / 1e6, 2)]
                                 for m, v in res.items()},
    }
    print("RESULT " + json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in out.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
