"""``deepquant demo quantizer``: the quantizer loopback, run headless.

At this stage of the module the demo is the quantizer loopback: complex Gaussian samples go
through the module's low-resolution ADC blocks (uniform with the MSE-optimal full scale, and
Lloyd-Max non-uniform) inside a real GNU Radio flowgraph; the measured signal-to-quantization-
noise ratio is compared with the closed-form value, the index/level path
(quantizer_fb -> dequantizer_bf) is checked against quantizer_ff, and the flowgraph throughput
is reported. The same flowgraph is ``examples/quantizer_loopback.grc``.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np

from .. import quantization

__all__ = ["adc_loopback", "run"]


def adc_loopback(bits: int, nonuniform: bool, n_samples: int, seed: int = 1):
    """Run Gaussian samples through the ADC blocks in a flowgraph; return the measured figures.

    Parameters
    ----------
    bits : int
        ADC resolution per I/Q.
    nonuniform : bool
        Lloyd-Max thresholds (``adc_cc.make_nonuniform``) instead of the uniform ADC.
    n_samples : int
        Complex samples pushed through the flowgraph.

    Returns
    -------
    dict
        ``sqnr_db`` (measured), ``sqnr_theory_db`` (closed form), ``msamples_per_s`` (flowgraph
        throughput), ``index_path_equal`` (quantizer_fb -> dequantizer_bf == quantizer_ff).
    """
    from gnuradio import blocks, gr

    from .. import deepquant_python as dq

    m = 2**bits
    sigma = math.sqrt(0.5)  # CN(0, 1): each of I and Q has variance 1/2
    if nonuniform:
        t, lv, _ = quantization.lloyd_max_gaussian(m, sigma)
        adc = dq.adc_cc.make_nonuniform(t.tolist(), lv.tolist(), 1, 1.0)
    else:
        a = quantization.optimal_uniform_range(m, sigma)
        adc = dq.adc_cc(bits, a, 1, 1.0)
        t, lv = np.asarray(adc.thresholds()), np.asarray(adc.levels())
    theory = quantization.gaussian_distortion(t, lv, sigma)  # per real dimension
    rng = np.random.default_rng(seed)
    n_unique = min(n_samples, 1 << 20)
    x = ((rng.standard_normal(n_unique) + 1j * rng.standard_normal(n_unique)) * sigma).astype(np.complex64)

    tb = gr.top_block("adc_loopback")
    src = blocks.vector_source_c(x.tolist(), True)
    head = blocks.head(gr.sizeof_gr_complex, n_samples)
    snk = blocks.vector_sink_c(1, n_unique)
    tb.connect(src, head, adc, blocks.head(gr.sizeof_gr_complex, n_unique), snk)
    # throughput: the same ADC alone into a null sink
    tb2 = gr.top_block("adc_speed")
    adc2 = dq.adc_cc.make_nonuniform(list(map(float, t)), list(map(float, lv)), 1, 1.0)
    tb2.connect(
        blocks.vector_source_c(x.tolist(), True),
        blocks.head(gr.sizeof_gr_complex, n_samples),
        adc2,
        blocks.null_sink(gr.sizeof_gr_complex),
    )
    tb.run()
    t0 = time.perf_counter()
    tb2.run()
    dt = time.perf_counter() - t0
    y = np.asarray(snk.data(), dtype=np.complex64)
    err = np.mean(np.abs(y - x[: len(y)]) ** 2) / 2.0  # per real dimension
    # index path vs level path on the real parts
    q_fb = dq.quantizer_fb(list(map(float, t)), 1)
    deq = dq.dequantizer_bf(list(map(float, lv)), 1)
    q_ff = dq.quantizer_ff(list(map(float, t)), list(map(float, lv)), 1)
    tb3 = gr.top_block("index_path")
    re = x.real[:65536].astype(np.float32)
    s3 = blocks.vector_source_f(re.tolist(), False)
    k1, k2 = blocks.vector_sink_f(), blocks.vector_sink_f()
    tb3.connect(s3, q_fb, deq, k1)
    tb3.connect(s3, q_ff, k2)
    tb3.run()
    equal = bool(np.array_equal(np.asarray(k1.data()), np.asarray(k2.data())))
    return {
        "bits": bits,
        "adc": "lloyd-max" if nonuniform else "uniform",
        "sqnr_db": 10 * math.log10(sigma**2 / err),
        "sqnr_theory_db": 10 * math.log10(sigma**2 / theory),
        "msamples_per_s": n_samples / dt / 1e6,
        "index_path_equal": equal,
    }


def run(bits=(1, 2, 3, 4, 5, 6), n_samples: int = 2_000_000, json_path: str | None = None) -> dict:
    """Run the demo and print its table; returns (and optionally writes) the figures."""
    rows = []
    print("Quantizer loopback through the module's ADC blocks (complex Gaussian input, CN(0,1))")
    print(f"{'bits':>4} {'ADC':>10} {'SQNR meas.':>11} {'SQNR theory':>12} {'Msamples/s':>11}  idx path")
    for b in bits:
        for nonuni in (False, True):
            r = adc_loopback(b, nonuni, n_samples)
            rows.append(r)
            print(
                f"{b:>4} {r['adc']:>10} {r['sqnr_db']:>9.2f} dB {r['sqnr_theory_db']:>9.2f} dB "
                f"{r['msamples_per_s']:>11.1f}  {'ok' if r['index_path_equal'] else 'MISMATCH'}"
            )
    worst = max(abs(r["sqnr_db"] - r["sqnr_theory_db"]) for r in rows)
    result = {
        "max_sqnr_gap_db": worst,
        "all_index_paths_equal": all(r["index_path_equal"] for r in rows),
        "min_adc_msamples_per_s": min(r["msamples_per_s"] for r in rows),
        "rows": rows,
    }
    print(f"largest |measured - theory| SQNR gap: {worst:.3f} dB over {n_samples} samples per row")
    if json_path:
        with open(json_path, "w") as f:
            json.dump(result, f, indent=2)
    summary = {k: v for k, v in result.items() if k != "rows"}
    print("RESULT " + json.dumps(summary))
    return result
