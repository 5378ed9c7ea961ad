#!/usr/bin/env python3
"""Finish shipped EQ-Net models: copy trained files into the package, write each model's
known-output check file (``<name>.check.json``, read by tests/eqnet/test_shipped.py) and model
card (``<name>.md``) with config, data, seed, training time and -- when the reproduction and bench
JSON are given -- the measured BLER gaps and latency.

Run: venv/bin/python scripts/eqnet_model_cards.py [--from runs/eqnet] [--repro results/eqnet]
     [--bench out/bench_eqnet.json]
Ends with ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

CHECK_SEED = 1234
CHECK_USES = 8


def _rounded(v):
    """Validation numbers to 4 decimals (nested dicts, e.g. the quantized KL per codebook, too)."""
    return {kk: _rounded(vv) for kk, vv in v.items()} if isinstance(v, dict) else round(v, 4)


def check_inputs(nr, nt, k, seed=CHECK_SEED, n=CHECK_USES):
    """Deterministic inputs (numpy only, so the test regenerates them exactly)."""
    rng = np.random.default_rng(seed)
    y = (rng.standard_normal((n, nr)) + 1j * rng.standard_normal((n, nr))).astype(np.complex64)
    H = ((rng.standard_normal((n, nr, nt)) + 1j * rng.standard_normal((n, nr, nt))) / np.sqrt(2)).astype(np.complex64)
    nv = np.full(n, 0.05, np.float32)
    llr = rng.normal(0, 4, (n, nt * k)).astype(np.float32)
    return y, H, nv, llr


def write_check(rt, path):
    y, H, nv, llr = check_inputs(rt.nr, rt.nt, rt.k)
    d = {"seed": CHECK_SEED, "uses": CHECK_USES, "model_id": rt.meta["model_id"]}
    if rt.has_estimator:
        d["detect_llr"] = rt.detect(y, H, nv).round(5).tolist()
    for b in sorted(rt.codebooks):
        idx = rt.quantize(llr, b)
        d[f"quantize_b{b}"] = idx.tolist()
        d[f"dequantize_b{b}"] = rt.dequantize(idx, b).round(5).tolist()
    Path(path).write_text(json.dumps(d))


def card(name, meta, repro, bench):
    c = meta["config"]
    nr, nt, k, v = meta["nr"], meta["nt"], meta["k"], meta["variant"]
    sec = meta["seconds"]
    lines = [
        f"# {name}",
        "",
        f"EQ-Net-{v.upper()} (Arvinte, Tewfik & Vishwanath, *EQ-Net*) for {nr}x{nt} MIMO, {2**k}-QAM (K = {k}), i.i.d. Rayleigh training"
        + (", with estimated-channel inputs (see data)." if c.get("csi_error") else "."),
        "",
        "## Use",
        "",
        f"`deepquant.mimo_detector({nr}, {nt}, {k}, method='eqnet_{v}')` (estimation), "
        f"`deepquant.eqnet_quantizer({nt}, {k}, 6)` / `eqnet_dequantizer` (quantization, 5 or 6 bits per "
        f"latent), `gnuradio.deepquant.eqnet.EQNetRuntime.shipped({nr}, {nt}, {k}, '{v}')`.",
        "",
        "## Training (reproduce: `deepquant train eqnet --shipped --out DIR`)",
        "",
        f"- config: `{name}.config.json` (seed {c['seed']}); architecture `{json.dumps(meta['arch'])}`",
        f"- data: exact-ML LLRs of interleaved 802.11n (648, 324) codewords, {c['codewords_per_snr']} codewords "
        f"at each SNR of {c['snr_db']} dB (SNR = E||H||_F^2 / sigma^2), {meta['train_samples']} training "
        f"channel uses ({int(c['val_fraction'] * 100)} % held out)",
        (
            f"- estimated channels (`csi_error` {json.dumps(c['csi_error'])}): on that fraction of the channel uses "
            f"f_E (and its exact-ML teacher) sees `H_hat = H + E`, `E ~ CN(0, c sigma^2)`, `c ~ U(0, rel_max)`, and "
            f"sigma^2 (1 + Nt c), as the module's OFDM receivers report LS estimates"
            if c.get("csi_error")
            else None
        ),
        f"- stage 1: {'shared with ' + str(Path(c['stage1_from']).stem) if c.get('stage1_from') else json.dumps(c['stage1'])}; "
        f"stage 2: {json.dumps(c['stage2'])}; eq. (7) eps = {c.get('eps')}",
        (
            "- this file's stage 1 was warm-started (`stage1_init`) from the f_Q/g of a finished run of the "
            "same config's first stage-1 schedule, then trained with `stage1b`; `--shipped` runs both in one go"
            if c.get("stage1_init")
            else None
        ),
        (
            f"- f_Q, g and the codebooks are `{Path(c['stage1_from']).stem}`'s (`stage1_from`, the paper's "
            f"shared decoder)"
            + (
                "; stage 3 then trains them jointly with f_E and refits the codebooks"
                if (c.get("stage3") or {}).get("joint")
                else ""
            )
            if c.get("stage1_from")
            else None
        ),
        (
            '- f_E input `est_stats: "lmmse+ep"`: besides y, H, sigma and the LMMSE statistics, the soft bits '
            "of the classical EP detector (Céspedes, Olmos, Sánchez-Fernández & Pérez-Cruz, 2 iterations), and the "
            "residual output form f_Q(EP soft bits) + trunk: the warm start from an LMMSE-statistics f_E zeroes the "
            "output layer, so training starts from EP's LLRs passed through this model's autoencoder"
            if meta["arch"].get("est_stats") == "lmmse+ep"
            else None
        ),
        (
            f"- f_E warm-started from `{Path(c['stage2_init']).stem}` (`stage2_init`: its layers copied; extra "
            f"residual blocks, if any, start near identity; a wider trunk or input layers, if any, grow "
            f"function-preserving: new units start with zero weights into the source's units and the output)"
            if c.get("stage2_init")
            else None
        ),
        (
            f"- stage 3: {json.dumps(c['stage3'])} ("
            + ("f_Q, g and f_E jointly" if c["stage3"].get("joint") else "f_E through the frozen decoder g")
            + (
                (
                    ", the estimation term as the KL to exact ML of a fresh batch of channel uses every step"
                    if c["stage3"].get("fresh_teacher")
                    else ", the estimation term as the cross-entropy on the transmitted bits of a fresh batch of channel "
                    "uses every step"
                )
                + f" (SNR uniform over {c['stage3'].get('fresh_snr_db') or 'the data set span'} dB), the "
                f"autoencoder term as the {c['stage3'].get('loss', 'kl')} loss on the cached set)"
                if c["stage3"].get("fresh")
                else f", {c['stage3'].get('loss', 'kl')} loss)"
            )
            if c.get("stage3")
            else None
        ),
        (
            f"- **partial**: written at stage-3 step {meta['partial']['step']} of {meta['partial']['of']} "
            f"(a time-budgeted piece; `--resume` continues)"
            if meta.get("partial")
            else None
        ),
        f"- wall time of this file's run: {sec.get('all_pieces', sec['total']) / 60:.1f} min on {sec['device']} with "
        f"{sec['threads']} thread(s), {sec.get('amp', 'none')} autocast (data {sec['data']:.0f} s), on a 2-core "
        f"machine shared with other jobs; warm starts (`stage1_from`, `stage2_init`) add their own runs' time",
        f"- validation (held-out): {json.dumps(_rounded(meta['validation']))}",
        "",
    ]
    if repro:
        lines += ["## Measured (scripts/reproduce_eqnet.py)", ""]
        for part in repro:
            lines.append(f"- {part}")
        lines.append("")
    if bench:
        lines += ["## Speed (bench/eqnet.py)", ""] + [f"- {b}" for b in bench] + [""]
    lines += [
        "## Limits",
        "",
        "Trained for a few epochs on a 2-core CPU (the paper: 1000 epochs per stage on a GPU); see "
        "docs/eqnet.md for the measured gap this leaves.",
        "",
    ]
    return "\n".join(line for line in lines if line is not None) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--from", dest="src", default="runs/eqnet")
    p.add_argument("--repro", default="")
    p.add_argument("--bench", default="")
    a = p.parse_args(argv)
    from gnuradio.deepquant import eqnet

    dst = Path(__file__).resolve().parents[1] / "python" / "deepquant" / "models" / "eqnet"
    done = {}
    for key, name in eqnet.SHIPPED.items():
        src = next(
            (
                q
                for q in [Path(a.src) / f"{name}.safetensors", Path(a.src) / name / f"{name}.safetensors"]
                if q.is_file()
            ),
            None,
        )
        if src is not None:
            shutil.copy(src, dst / f"{name}.safetensors")
        if not (dst / f"{name}.safetensors").is_file():
            print(f"{name}: no model file", file=sys.stderr)
            continue
        rt = eqnet.EQNetRuntime(dst / f"{name}.safetensors", expect=key[:3])
        write_check(rt, dst / f"{name}.check.json")
        repro, bench = [], []
        nr, nt, k, v = key
        sc = f"{nr}x{nt}-{2**k}qam-rayleigh"
        if a.repro and (Path(a.repro) / "detection.json").is_file():
            det = json.loads((Path(a.repro) / "detection.json").read_text())
            if sc in det:
                g = det[sc]["gap_db_to_exact_ml_at_bler_1e-2"]

                def f2(x):
                    return "n/a" if x is None else f"{x:+.2f}"

                repro.append(
                    f"{sc}: SNR gap to exact ML at BLER 1e-2: EQ-Net-{v.upper()} "
                    f"{f2(g.get('eqnet_' + v))} dB (LMMSE {f2(g.get('lmmse'))} dB, max-log "
                    f"{f2(g.get('maxlog_ml'))} dB, ZF-SIC {f2(g.get('zf_sic'))} dB)"
                )
        if a.repro and (Path(a.repro) / "quantization.json").is_file() and key[:3] == (2, 2, 6):
            q = json.loads((Path(a.repro) / "quantization.json").read_text())["gap_db_to_unquantized_at_bler_1e-2"]
            repro.append(
                "quantization of exact-ML LLRs (2x2 64-QAM), gap to unquantized at BLER 1e-2: "
                + ", ".join(
                    f"{kk.replace('exact_ml + ', '')} {vv:+.2f} dB"
                    for kk, vv in q.items()
                    if vv is not None and kk != "exact_ml"
                )
            )
        if a.bench and Path(a.bench).is_file():
            f = json.loads(Path(a.bench).read_text())["figures"]
            cfg = f"{nr}x{nt}_{2**k}qam"
            for b in (1, 256, 8192):
                kk = f"eqnet_{v}_{cfg}_b{b}"
                if f"{kk}_cu_per_s" in f:
                    bench.append(
                        f"batch {b}: {f[kk + '_cu_per_s']:.3g} channel uses/s, {f[kk + '_latency_ms']:.3f} ms per call"
                    )
        (dst / f"{name}.md").write_text(card(name, rt.meta, repro, bench))
        done[name] = rt.meta["model_id"]
    print("RESULT " + json.dumps(done))
    return 0


if __name__ == "__main__":
    sys.exit(main())
