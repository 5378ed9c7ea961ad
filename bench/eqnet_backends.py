#!/usr/bin/env python3
"""EQ-Net inference backends (issue 15, point 3): which way of running the shipped EQ-Net models is
fastest on one thread, at what accuracy, and how far the arithmetic ceiling is.

Run: venv/bin/python bench/eqnet_backends.py [--min-time 0.3] [--no-compile] [--codewords 300]
     [--out out/bench_eqnet_backends.json]

For EQ-Net-L and EQ-Net-P on 2x2 64-QAM and EQ-Net-L on 4x4 16-QAM (i.i.d. Rayleigh, 20 dB), at
batch 1, 16, 256, 2048 and 8192, channel uses per second of the whole estimation path (y, H,
sigma^2 -> LLRs, LMMSE-statistics features included), one thread, all in the same run (median CPU
time of the calling thread per call, so that other jobs on a shared machine do not count):

* ``torchscript_fp32``  EQNetRuntime(backend='torchscript'): traced, frozen, float32 (the old path);
* ``eager_fp32`` / ``eager_bf16``  torch eager, float32 / ``torch.autocast('cpu', torch.bfloat16)``
  (oneDNN);
* ``compiled_fp32`` / ``compiled_bf16``  ``torch.compile(dynamic=True)`` (inductor), same two
  precisions (``--no-compile`` skips them: compiling takes ~1 min per model on a loaded 2-core machine);
* ``onnxruntime_fp32``  the f_E + g graph exported with ``torch.onnx.export`` and run by ONNX Runtime
  (one intra-op thread), features from torch (skipped when onnxruntime is not installed);
* ``cpp_fp32`` / ``cpp_avx2`` / ``cpp_generic`` / ``cpp_bf16``  the module's C++ kernel
  ``eqnet_detector`` (AVX-512 float32 / AVX2-FMA float32 / portable loops / AVX-512-BF16); EQNetRuntime's
  default 'cpp' backend runs the first the CPU has of avx512, avx2, generic;
* baselines: ``lmmse`` (the C++ kernel behind mimo_detector's 'lmmse'), ``exact_ml``, ``maxlog_ml``.

Accuracy of every EQ-Net backend on the exact-ML test set of ``scripts/eqnet_kl.py`` (300
codewords per SNR, seed 99): bitwise KL divergence from exact ML (bits per bit), its change
against the float32 torch reference, and max |L - L_ref| against the same network in float64.

The ceiling: multiply-accumulates per channel use (f_E + g, from the kernel) and this core's
measured multiply-accumulate rate (``eqnet_detector.peak_flops``: independent AVX-512 FMAs, or
VDPBF16PS for bfloat16, in registers) give the channel uses per second that no implementation of
these networks can exceed on one core; ``torch.mm`` 1024 x 1024 (one thread) is printed beside it.
Prints tables and ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eqnet import _data  # noqa: E402  (bench/eqnet.py: the same channel uses at the same SNR)

MODELS = [
    ("eqnet_l", "2x2_64qam", 2, 2, 6, "l"),
    ("eqnet_p", "2x2_64qam", 2, 2, 6, "p"),
    ("eqnet_l", "4x4_16qam", 4, 4, 4, "l"),
]
BATCHES = (1, 16, 256, 2048, 8192)
KL_SNRS = {(2, 2, 6): [19.0, 20.5, 22.0], (4, 4, 4): [17.0, 18.5, 20.0]}


def _time(fn, min_time):
    """Median CPU time of this thread per call: every backend here computes on the calling thread,
    and on a shared machine CPU time leaves out the time the thread waited for a core (wall-clock
    medians penalise long calls, which are preempted more often than short ones)."""
    t0 = time.thread_time()
    fn()
    warm = time.thread_time() - t0
    reps = max(3, min(300, int(min_time / max(warm, 1e-6))))
    ts = []
    for _ in range(reps):
        t0 = time.thread_time()
        fn()
        ts.append(time.thread_time() - t0)
    return max(statistics.median(ts), 1e-9)


def _torch_backend(rt, core, bf16):
    """y, H, sigma^2 -> LLRs through rt's torch features and ``core`` (f_E + g on the features)."""
    from gnuradio.deepquant.eqnet.models import softbit_to_llr

    def fn(y, H, nv):
        feats = rt._feats(torch.from_numpy(y), torch.from_numpy(H), torch.from_numpy(nv))
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            s = core(*feats)
        return softbit_to_llr(s.float()).numpy()

    return fn


def _onnx_backend(rt, core, path):
    import onnxruntime as ort

    names = ["fy", "fh", "fs", "fx"]
    ex = rt._feats(
        torch.randn(4, rt.nr, dtype=torch.complex64), torch.randn(4, rt.nr, rt.nt, dtype=torch.complex64), torch.ones(4)
    )
    with torch.no_grad():
        torch.onnx.export(
            core,
            ex,
            path,
            input_names=names,
            output_names=["s"],
            dynamic_axes={n: {0: "b"} for n in names + ["s"]},
            dynamo=False,
        )
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])

    def fn(y, H, nv):
        feats = rt._feats(torch.from_numpy(y), torch.from_numpy(H), torch.from_numpy(nv))
        s = sess.run(None, {n: f.numpy() for n, f in zip(names, feats)})[0]
        s = np.clip(s, -(1 - 1e-6), 1 - 1e-6)
        return (2 * np.arctanh(s)).astype(np.float32)

    return fn


def _mm_gflops(dtype, min_time):
    a = torch.randn(1024, 1024).to(dtype)
    b = torch.randn(1024, 1024).to(dtype)
    dt = _time(lambda: torch.mm(a, b), min_time)
    return 2 * 1024**3 / dt / 1e9


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--min-time", type=float, default=0.3, help="seconds of repetitions per timing")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile backends")
    p.add_argument("--codewords", type=int, default=300, help="codewords per SNR of the KL test set")
    p.add_argument("--out", default="out/bench_eqnet_backends.json")
    a = p.parse_args(argv)
    os.environ["DEEPQUANT_TORCH_THREADS"] = "1"
    torch.set_num_threads(1)
    # one compiled graph per model and precision (6 here), each used at 5 batch sizes
    torch._dynamo.config.recompile_limit = 64
    from gnuradio.deepquant import eqnet
    from gnuradio.deepquant.blocks import _kernels
    from gnuradio.deepquant.eqnet import data as D
    from gnuradio.deepquant.eqnet import kernel
    from gnuradio.deepquant.eqnet.models import DetectCore
    from gnuradio.deepquant.eqnet.train import kl_bits
    from gnuradio.deepquant.phy import mimo

    try:
        import onnxruntime  # noqa: F401

        have_ort = True
    except ImportError:
        have_ort = False
    load0 = os.getloadavg()[0]
    fig, rows, acc = {"threads": 1, "load_average_before": round(load0, 2)}, [], {}
    from gnuradio import deepquant as dq

    det = dq.eqnet_detector
    peak = {
        "fp32": det.peak_flops("avx512") / 1e9 if det.cpu_has_avx512() else float("nan"),
        "bf16": det.peak_flops("avx512_bf16") / 1e9 if det.cpu_has_avx512_bf16() else float("nan"),
    }
    mm = {"fp32": _mm_gflops(torch.float32, a.min_time), "bf16": _mm_gflops(torch.bfloat16, a.min_time)}
    fig["peak_fp32_gflops"] = round(peak["fp32"], 1)
    fig["peak_bf16_gflops"] = round(peak["bf16"], 1)
    fig["torch_mm_1024_fp32_gflops"] = round(mm["fp32"], 1)
    fig["torch_mm_1024_bf16_gflops"] = round(mm["bf16"], 1)
    tmp = tempfile.mkdtemp(prefix="eqnet_onnx_")
    kl_sets = {}
    for name, cfg, nr, nt, k, v in MODELS:
        tag = f"{name}_{cfg}"
        rt = eqnet.EQNetRuntime(eqnet.io.shipped_path(nr, nt, k, v), backend="torchscript")
        core = DetectCore(rt.net).eval()
        kern = kernel.build(rt.net)
        isas = (["avx512"] if kern.cpu_has_avx512() else []) + (["avx2"] if kern.cpu_has_avx2() else [])
        isas += ["generic"] + (["avx512_bf16"] if kern.cpu_has_avx512_bf16() else [])
        kerns = {}
        for isa in isas:
            kerns[isa] = kernel.build(rt.net, isa)
        backends = {
            "torchscript_fp32": rt.detect,
            "eager_fp32": _torch_backend(rt, core, False),
            "eager_bf16": _torch_backend(rt, core, True),
        }
        if not a.no_compile:
            for prec, bf in (("fp32", False), ("bf16", True)):
                t0 = time.perf_counter()
                f = _torch_backend(rt, torch.compile(core, dynamic=True), bf)
                f(*_data(16, nr, nt, k))
                fig[f"{tag}_compile_{prec}_s"] = round(time.perf_counter() - t0, 1)
                backends[f"compiled_{prec}"] = f
        if have_ort:
            backends["onnxruntime_fp32"] = _onnx_backend(rt, core, os.path.join(tmp, f"{tag}.onnx"))
        names = {"avx512": "cpp_fp32", "avx2": "cpp_avx2", "generic": "cpp_generic", "avx512_bf16": "cpp_bf16"}
        for isa, kk in kerns.items():
            backends[names[isa]] = kk.detect
        macs = kern.macs_per_channel_use
        fig[f"{tag}_macs_per_cu"] = macs
        fig[f"{tag}_flops_per_cu"] = 2 * macs
        fig[f"{tag}_ceiling_fp32_cu_per_s"] = round(peak["fp32"] * 1e9 / (2 * macs), 0)
        fig[f"{tag}_ceiling_bf16_cu_per_s"] = round(peak["bf16"] * 1e9 / (2 * macs), 0)
        # accuracy on the exact-ML test set
        key = (nr, nt, k)
        if key not in kl_sets:
            kl_sets[key] = D.generate(nr, nt, k, KL_SNRS[key], a.codewords, seed=99)
        ds = kl_sets[key]
        yk, Hk, nvk = ds["y"], ds["H"], np.ascontiguousarray(ds["noise_var"], np.float32)
        ref_ml = torch.from_numpy(ds["llr"])
        ref64 = kernel.reference_llr(rt.net, yk, Hk, nvk)
        acc[tag] = {}
        for bname, fn in backends.items():
            llr = np.asarray(fn(yk, Hk, nvk), np.float32)
            acc[tag][bname] = {
                "kl_bits": float(kl_bits(torch.from_numpy(llr), ref_ml)),
                "max_abs_dllr_vs_float64": float(np.abs(llr - ref64).max()),
            }
        for bname in ("lmmse", "maxlog_ml") if cfg == "2x2_64qam" else ("lmmse",):
            llr = mimo.detect(bname, yk, Hk, nvk, bits_per_symbol=k)
            acc[tag][bname] = {"kl_bits": float(kl_bits(torch.from_numpy(np.asarray(llr, np.float32)), ref_ml))}
        base_kl = acc[tag]["torchscript_fp32"]["kl_bits"]
        for r in acc[tag].values():
            if "max_abs_dllr_vs_float64" in r:
                r["delta_kl_bits_vs_torchscript_fp32"] = r["kl_bits"] - base_kl
        # speed
        classical = {
            "lmmse": lambda y, H, nv: _kernels.lmmse(y, H, nv, k),
            "exact_ml": lambda y, H, nv: mimo.detect("exact_ml", y, H, nv, bits_per_symbol=k),
            "maxlog_ml": lambda y, H, nv: mimo.detect("maxlog_ml", y, H, nv, bits_per_symbol=k),
        }
        if name == "eqnet_p":
            classical = {}  # measured once per configuration (with EQ-Net-L)
        for batch in BATCHES:
            y, H, nv = _data(batch, nr, nt, k)
            for bname, fn in list(backends.items()) + list(classical.items()):
                dt = _time(lambda fn=fn: fn(y, H, nv), a.min_time)
                rows.append({"model": tag, "backend": bname, "batch": batch, "cu_per_s": batch / dt})
        print(f"[{tag}] done; load average {os.getloadavg()[0]:.2f}", flush=True)

    # tables
    for name, cfg, *_ in MODELS:
        tag = f"{name}_{cfg}"
        print(
            f"\n{tag}: channel uses/s, one thread (FLOPs/cu {fig[f'{tag}_flops_per_cu']}; ceiling at this core's "
            f"peak: fp32 {fig[f'{tag}_ceiling_fp32_cu_per_s']:.3g}, bf16 {fig[f'{tag}_ceiling_bf16_cu_per_s']:.3g})"
        )
        print(
            f"{'backend':>18} " + " ".join(f"{'b=' + str(b):>9}" for b in BATCHES) + f" {'KL bits':>9} {'dKL':>9}"
            f" {'max|dL|':>8}"
        )
        for bname in dict.fromkeys(r["backend"] for r in rows if r["model"] == tag):
            cells = []
            for b in BATCHES:
                r = next((r for r in rows if r["model"] == tag and r["backend"] == bname and r["batch"] == b), None)
                cells.append(f"{r['cu_per_s']:9.3g}" if r else f"{'-':>9}")
            ac = acc[tag].get(bname, {})
            tail = (f" {ac['kl_bits']:9.5f}" if "kl_bits" in ac else f" {'':9}") + (
                f" {ac['delta_kl_bits_vs_torchscript_fp32']:+9.1e} {ac['max_abs_dllr_vs_float64']:8.1e}"
                if "max_abs_dllr_vs_float64" in ac
                else ""
            )
            print(f"{bname:>18} " + " ".join(cells) + tail)
    print(
        f"\nthis core's peak (register FMAs): fp32 {peak['fp32']:.1f} GFLOP/s, bf16 {peak['bf16']:.1f} GFLOP/s; "
        f"torch.mm 1024x1024 one thread: fp32 {mm['fp32']:.1f}, bf16 {mm['bf16']:.1f} GFLOP/s"
    )

    for r in rows:
        fig[f"{r['model']}_{r['backend']}_b{r['batch']}_cu_per_s"] = round(r["cu_per_s"], 1)
    for tag, d in acc.items():
        for bname, r in d.items():
            for key, val in r.items():
                fig[f"{tag}_{bname}_{key}"] = round(val, 6) if "kl" in key else round(val, 5)
    # the fastest EQ-Net backend per model and batch, and its ratio to LMMSE / exact ML (same run)
    for name, cfg, *_ in MODELS:
        tag = f"{name}_{cfg}"
        base = "eqnet_l_" + cfg
        for b in BATCHES:
            cand = [
                r
                for r in rows
                if r["model"] == tag and r["batch"] == b and r["backend"] not in ("lmmse", "exact_ml", "maxlog_ml")
            ]
            best = max(cand, key=lambda r: r["cu_per_s"])
            fig[f"{tag}_fastest_b{b}"] = best["backend"]
            lm = fig.get(f"{base}_lmmse_b{b}_cu_per_s")
            ml = fig.get(f"{base}_exact_ml_b{b}_cu_per_s")
            cpp = fig.get(f"{tag}_cpp_fp32_b{b}_cu_per_s")
            if lm and cpp:
                fig[f"{tag}_cpp_fp32_vs_lmmse_b{b}_ratio"] = round(cpp / lm, 3)
            if ml and cpp:
                fig[f"{tag}_cpp_fp32_vs_exact_ml_b{b}_ratio"] = round(cpp / ml, 2)
            if cpp:
                fig[f"{tag}_cpp_fp32_b{b}_fraction_of_peak"] = round(
                    cpp * fig[f"{tag}_flops_per_cu"] / 1e9 / peak["fp32"], 3
                )
            ts = fig.get(f"{tag}_torchscript_fp32_b{b}_cu_per_s")
            if ts and cpp:
                fig[f"{tag}_cpp_fp32_vs_torchscript_b{b}_ratio"] = round(cpp / ts, 2)
    fig["load_average_after"] = round(os.getloadavg()[0], 2)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"rows": rows, "accuracy": acc, "figures": fig}, indent=1))
    print("RESULT " + json.dumps(fig))
    return 0


if __name__ == "__main__":
    sys.exit(main())
