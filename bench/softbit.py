#!/usr/bin/env python3
"""Throughput of the soft-bit blocks (one run): compress (LLR stream -> PDUs) and decompress
(PDUs -> LLR stream) in real GNU Radio flowgraphs, soft bits per second, for the learned codec
and the baselines, against the numpy API (``encode_frames`` / ``decode_many``, 25 frames per
call, one thread) measured in the same run, interleaved.  PDU formats: one frame per PDU, and
containers (softbit.container) of 25 frames per PDU.
Each block figure is given per wall-clock second, per CPU second of the whole process (all GNU
Radio threads: source, block, sink) and per CPU second of the block's own thread (its work() and
message handler: the "one thread" of the goal); the CPU-time figures are robust to other jobs on
a shared machine.  Frames of 108 channel uses x K = 6 (one LDPC codeword).  One CPU thread for
numpy/torch math.  Environment: SOFTBIT_BENCH_FRAMES (default 3000), SOFTBIT_BENCH_REPS (3).

Every timed run starts after ``gc.collect()``: with torch loaded the process holds ~2e5 objects
and one full garbage collection costs ~0.15 s, which would otherwise land at random in a run of
a fraction of a second (the blocks' per-frame objects are short-lived and do not trigger full
collections in a long-running flowgraph).

Also the entropy coder choice: the learned codec's latents of the same frames coded with the
module's C++ rANS coder (what the codecs use) and with constriction's range coder (the
well-kept library it replaced), same chain model: microseconds per frame and bytes per frame.

Ends with ``RESULT {json}``.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pmt  # noqa: E402
from gnuradio import blocks, gr  # noqa: E402

from gnuradio.deepquant import softbit  # noqa: E402
from gnuradio.deepquant.blocks import softbit_blocks  # noqa: E402
from gnuradio.deepquant.softbit import data  # noqa: E402

K, FRAME = 6, 108


def _timed(cls):
    """Subclass of a block class that adds the CPU time of its own thread (work() and message
    handling) to ``self.thread_s``."""

    class T(cls):
        thread_s = 0.0

        def work(self, i, o):
            t = time.thread_time()
            r = super().work(i, o)
            self.thread_s += time.thread_time() - t
            return r

        def _handle(self, msg):
            t = time.thread_time()
            super()._handle(msg)
            self.thread_s += time.thread_time() - t

    return T


def bench_compress(method, llr, pdu_format="frame"):
    """-> soft bits per wall second, per process CPU second, per compressor-thread CPU second,
    stored bits per soft bit."""
    tb = gr.top_block()
    src = blocks.vector_source_f(llr.tolist(), False)
    comp = _timed(softbit_blocks.softbit_compressor)(K, method, FRAME, len_tag_key="", pdu_format=pdu_format)
    tb.connect(src, comp)
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    tb.run()
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    return llr.size / dt, llr.size / dc, llr.size / comp.thread_s, comp.bytes_out * 8 / llr.size


def bench_decompress(method, pdus, n_llr):
    """PDUs posted before the start, then a ``done`` system message so that the flowgraph ends
    once every PDU is decoded (no polling thread competing for the GIL)."""
    tb = gr.top_block()
    dec = _timed(softbit_blocks.softbit_decompressor)(K, method)
    snk = blocks.null_sink(gr.sizeof_float)
    head = blocks.head(gr.sizeof_float, n_llr)
    tb.connect(dec, head, snk)
    msgs = [pmt.cons(pmt.make_dict(), pmt.init_u8vector(len(f), list(f))) for f in pdus]
    for m in msgs:
        dec._post(pmt.intern("pdus"), m)
    dec._post(pmt.intern("system"), pmt.cons(pmt.intern("done"), pmt.from_long(1)))
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    tb.run()
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    if snk.nitems_read(0) != n_llr or dec.bad_frames:
        raise RuntimeError(f"decompressor produced {snk.nitems_read(0)} of {n_llr} LLRs, {dec.bad_frames} bad frames")
    return n_llr / dt, n_llr / dc, n_llr / dec.thread_s


def bench_api(method, llr, batch):
    """The numpy API on the same frames, ``batch`` frames per call (what one work() call of the
    compressor sees): -> encode, decode soft bits per CPU second (one thread)."""
    c = softbit.make_codec(method, K)
    if hasattr(c, "lut"):
        _ = c.lut  # builds the decoder's lookup table before timing
    n = llr.size
    gc.collect()
    t = time.thread_time()
    frames = []
    for i in range(0, len(llr), batch):
        frames += c.encode_frames(llr[i : i + batch])
    te = time.thread_time() - t
    t = time.thread_time()
    for i in range(0, len(frames), batch):
        c.decode_many(frames[i : i + batch])
    td = time.thread_time() - t
    return n / te, n / td


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
    out["rans"] = {
        "encode_us_per_frame": (t1 - t0) / f * 1e6,
        "decode_us_per_frame": (t2 - t1) / f * 1e6,
        "bytes_per_frame": float(np.mean([len(p) for p in pay])),
    }
    t0 = time.perf_counter()
    pay = [ref.encode(sym[i], int(tids[i])) for i in range(f)]
    t1 = time.perf_counter()
    for i in range(f):
        ref.decode(pay[i], int(tids[i]), FRAME)
    t2 = time.perf_counter()
    out["constriction"] = {
        "encode_us_per_frame": (t1 - t0) / f * 1e6,
        "decode_us_per_frame": (t2 - t1) / f * 1e6,
        "bytes_per_frame": float(np.mean([len(p) for p in pay])),
    }
    out["ideal_bytes_per_frame"] = float(np.mean([ref.ideal_bits(sym[i], int(tids[i])) for i in range(f)]) / 8)
    for n in ("rans", "constriction"):
        v = out[n]
        print(
            f"{n:>12}: encode {v['encode_us_per_frame']:6.1f} us/frame, decode {v['decode_us_per_frame']:6.1f} us/frame, "
            f"{v['bytes_per_frame']:.1f} bytes/frame",
            flush=True,
        )
    print(f"{'ideal':>12}: {out['ideal_bytes_per_frame']:.1f} bytes/frame (chain model, float tables)")
    return out


def main():
    n_frames = int(os.environ.get("SOFTBIT_BENCH_FRAMES", "3000"))
    reps = int(os.environ.get("SOFTBIT_BENCH_REPS", "3"))
    rng = np.random.default_rng(0)
    llr = np.concatenate([data.epa_frames(K, s, n_frames // 3, rng)[0] for s in (16.0, 22.0, 28.0)])
    flat = llr.reshape(-1).astype(np.float32)
    cases = [
        ("learned", "frame"),
        ("learned", "container"),
        ("maxmi-ec", "frame"),
        ("maxmi-ec", "container"),
        ("maxmi", "frame"),
        ("int8", "frame"),
    ]
    res = {}
    # interleaved repetitions (API and blocks alternate), median per figure: the machine may be
    # shared, so only same-run ratios and CPU-time figures are meaningful
    for _rep in range(reps):
        for m, fmt in cases:
            c = softbit.make_codec(m, K)
            pdus = (
                c.encode_frames(llr)
                if fmt == "frame"
                else [c.encode_container(llr[i : i + 25]) for i in range(0, len(llr), 25)]
            )
            api_e, api_d = bench_api(m, llr, 25)
            cps, cpc, cpt, bits = bench_compress(m, flat, fmt)
            dps, dpc, dpt = bench_decompress(m, pdus, flat.size)
            r = res.setdefault(
                f"{m}/{fmt}",
                {
                    k: []
                    for k in (
                        "api_encode",
                        "api_decode",
                        "compress_wall",
                        "compress_cpu",
                        "compress_thread",
                        "decompress_wall",
                        "decompress_cpu",
                        "decompress_thread",
                    )
                },
            )
            for k, v in (
                ("api_encode", api_e),
                ("api_decode", api_d),
                ("compress_wall", cps),
                ("compress_cpu", cpc),
                ("compress_thread", cpt),
                ("decompress_wall", dps),
                ("decompress_cpu", dpc),
                ("decompress_thread", dpt),
            ):
                r[k].append(v)
            r["bits_per_softbit"] = bits
    med = {n: {k: (float(np.median(v)) if isinstance(v, list) else v) for k, v in r.items()} for n, r in res.items()}
    print(
        "M soft bits/s (median of %d): API = one thread, numpy API, 25 frames per call; wall = flowgraph "
        "wall clock; cpu = per CPU second of the whole process; thread = per CPU second of the block's "
        "own thread" % reps
    )
    for n, v in med.items():
        print(
            f"{n:>20}: API enc {v['api_encode'] / 1e6:6.2f} dec {v['api_decode'] / 1e6:6.2f} | compress wall "
            f"{v['compress_wall'] / 1e6:6.2f} cpu {v['compress_cpu'] / 1e6:6.2f} thread {v['compress_thread'] / 1e6:6.2f}"
            f" | decompress wall {v['decompress_wall'] / 1e6:6.2f} cpu {v['decompress_cpu'] / 1e6:6.2f} thread "
            f"{v['decompress_thread'] / 1e6:6.2f} | {v['bits_per_softbit']:.3f} bits/soft bit",
            flush=True,
        )
    coders = bench_coders(llr[:600])
    L, LC = med["learned/frame"], med["learned/container"]
    out = {
        "frames": len(llr),
        "frame_softbits": FRAME * K,
        "reps": reps,
        "learned_api_encode_msoftbits_per_s": L["api_encode"] / 1e6,
        "learned_api_decode_msoftbits_per_s": L["api_decode"] / 1e6,
    }
    for tag, v in (("frame", L), ("container", LC)):
        for k in (
            "compress_wall",
            "compress_cpu",
            "compress_thread",
            "decompress_wall",
            "decompress_cpu",
            "decompress_thread",
        ):
            out[f"learned_{tag}_{k}_msoftbits_per_s"] = v[k] / 1e6
        out[f"learned_{tag}_compress_thread_over_api"] = v["compress_thread"] / v["api_encode"]
        out[f"learned_{tag}_decompress_thread_over_api"] = v["decompress_thread"] / v["api_decode"]
        out[f"learned_{tag}_bits_per_softbit"] = v["bits_per_softbit"]
    out["rans_encode_us_per_frame"] = coders["rans"]["encode_us_per_frame"]
    out["rans_decode_us_per_frame"] = coders["rans"]["decode_us_per_frame"]
    out["constriction_encode_us_per_frame"] = coders["constriction"]["encode_us_per_frame"]
    out["all_thread_msoftbits_per_s"] = {
        n: [round(v["compress_thread"] / 1e6, 2), round(v["decompress_thread"] / 1e6, 2)] for n, v in med.items()
    }
    out["all_wall_msoftbits_per_s"] = {
        n: [round(v["compress_wall"] / 1e6, 2), round(v["decompress_wall"] / 1e6, 2)] for n, v in med.items()
    }
    print("RESULT " + json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in out.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
