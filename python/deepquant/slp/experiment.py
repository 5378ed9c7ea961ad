"""Measurements behind scripts/reproduce_slp.py and bench/slp.py: powers and constraint
satisfaction of every method on one test set, the memory table from the real model files, and
FLOP counts. Pure numpy/torch, no GNU Radio import."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from . import problem as pb

LABELS = {
    "block": "Block-level (SINR-constrained)",
    "optimization": "Optimisation SLP (QP)",
    "fp32": "SLP-DNet fp32",
    "binary": "SLP-DBNet (binary)",
    "ternary": "SLP-DTNet (ternary)",
    "sq-binary": "SLP-DSQBNet (SQ-binary)",
    "sq-ternary": "SLP-DSQTNet (SQ-ternary)",
}


def test_set(n: int, m: int = 4, k: int = 4, psk_order: int = 4, seed: int = 2024):
    """(H [n, k, m], symbol indices [n, k], symbols [n, k]) — the fixed test channels."""
    rng = np.random.default_rng(seed)
    H = pb.rayleigh(rng, n, k, m)
    idx, s = pb.random_symbols(rng, n, k, psk_order)
    return H, idx, s


def evaluate_method(pre, H, s) -> dict:
    """Mean power, constraint satisfaction and fallback rate of one SlpPrecoder on (H, s)."""
    from . import solvers as sv

    u, info = pre(H, s, return_info=True)
    r = {"mean_power": float(np.mean(pb.power(u))), "fallback_rate": float(np.mean(info["fallback"]))}
    if pre.method == "block":
        W = sv.block_level(H, pre.sinr_db, pre.noise_var)
        sinr = sv.block_sinr(H, W, pre.noise_var)
        r["satisfied"] = float(np.mean(np.all(sinr >= 10 ** (pre.sinr_db / 10) * (1 - 1e-6), axis=1)))
        r["criterion"] = "SINR >= Gamma"
        r["mean_power_expected_W"] = float(np.mean(np.sum(np.abs(W) ** 2, axis=(1, 2))))
    else:
        r["satisfied"] = float(np.mean(pb.satisfied(H, s, u, pre.psk_order, pre.gamma, rtol=1e-6)))
        r["criterion"] = "CI margin >= sqrt(Gamma n0) (rtol 1e-6)"
    return r


def file_memory(path) -> dict:
    """Sizes measured on a model file: file bytes, tensor payload bytes, header bytes, and the
    counts of float / binary / ternary weights read back from the file's own metadata."""
    from safetensors import safe_open

    path = Path(path)
    with safe_open(str(path), framework="numpy") as f:
        meta = json.loads(f.metadata()["meta"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    payload = int(sum(t.nbytes for t in tensors.values()))
    cfg = meta["config"]
    n_q = 0
    for layer, shape in meta["quant_shapes"].items():
        rows, cols = shape[0], int(np.prod(shape[1:]))
        if cfg["weights"] == "fp32":
            continue
        qrows = (
            np.unpackbits(tensors[layer + ".weight.qrows"])[:rows].sum() if layer + ".weight.qrows" in tensors else rows
        )
        n_q += int(qrows) * cols
    n_float = int(sum(t.size for k, t in tensors.items() if t.dtype == np.float32 and not k.endswith(".beta")))
    n_half = int(sum(t.size for t in tensors.values() if t.dtype == np.float16))
    n_beta = int(sum(t.size for k, t in tensors.items() if k.endswith(".beta")))
    return {
        "file": path.name,
        "format": meta.get("format"),
        "weights": cfg["weights"],
        "qr": cfg["qr"],
        "file_bytes": path.stat().st_size,
        "tensor_bytes": payload,
        "header_bytes": path.stat().st_size - payload,
        "float32_values": n_float,
        "float16_values": n_half,
        "float32_scales": n_beta,
        "quantized_weights": n_q,
        "quantized_bits_each": 0 if cfg["weights"] == "fp32" else (1 if "binary" in cfg["weights"] else 2),
    }


def memory_table(paths) -> list:
    rows = [file_memory(p) for p in paths]
    ref = next((r for r in rows if r["weights"] == "fp32"), None)
    for r in rows:
        if ref:
            r["saving_file"] = ref["file_bytes"] / r["file_bytes"]
            r["saving_tensors"] = ref["tensor_bytes"] / r["tensor_bytes"]
    return rows


# ------------------------------------------------------------------------------------------
# FLOPs (real operations; one multiply-accumulate = 2 FLOPs)
def flops_learned(cfg) -> dict:
    """Per symbol vector for SLP-DNet with config ``cfg`` (dnet.DNetConfig or dict): float FLOPs and
    binary operations (a quantized weight's MAC = 1 sign-flip/accumulate, counted as a binary op;
    the per-row scale costs one float multiply per output)."""
    c = cfg if isinstance(cfg, dict) else cfg.__dict__
    M, K, L = c["m"], c["k"], c["layers"]
    img = 2 * M * K
    qr = 0.0 if c["weights"] == "fp32" else float(c["qr"])
    macs_q_layers = {
        "conv1": 9 * 1 * c["c1"] * img,
        "conv2": 9 * c["c1"] * c["c2"] * img,
        "fc1": c["c2"] * img * c["hidden"],
    }
    q_macs = sum(macs_q_layers.values())
    flt = 0.0
    flt += 6 * K * M + 4 * K * M + 2 * K * M  # rotation, rho, normalisation
    flt += 8 * K * K * M + 8 * K**3 / 3 * 4 + 8 * K * M  # zero-forcing start (complex Gram, solve, back)
    flt += 8 * K * M  # real constraint matrix G
    flt += 2 * q_macs * (1 - qr) + qr * (c["c1"] * img + c["c2"] * img + c["hidden"])  # fp rows + scales
    flt += 4 * (c["c1"] + c["c2"]) * img + 4 * c["hidden"]  # BN + activations
    flt += 2 * c["hidden"] * (L + 1) + 3 * (L + 1)  # last layer + softplus
    n, mm = 2 * K, 2 * M
    per_layer = (2 * n * mm) * 3 + 2 * mm * mm * n + (2 * mm**3 / 3 + 2 * mm * mm) + 4 * n + 3 * mm
    flt += L * per_layer
    flt += 2 * n * mm + 3 * K + 2 * M  # feasibility step (margins, min, scaling)
    return {"float_flops": float(flt), "binary_ops": float(q_macs * qr), "quantized_macs_total": float(q_macs)}


def flops_opt_paper(m: int, k: int, eps: float = 1e-6) -> float:
    """Paper 003 Table I / eq. (27) for the optimisation-based SLP with n = 2KM (their order)."""
    n = 2 * k * m
    return math.sqrt(2 * m + 1) * (n * (2 * m + 1) + n * (2 * m + 1) ** 2 + n**3) * math.log(1 / eps)


def flops_block_paper(m: int, k: int, eps: float = 1e-6) -> float:
    """Paper 003 Table I for conventional block-level precoding (SOCP), n = 2KM."""
    n = 2 * k * m
    return (
        math.sqrt(4 * m + k + 2)
        * (n * (2 * m + 1) + n * (2 * m + 1) ** 2 + n * (k + 1) ** 2 + n**3)
        * math.log(1 / eps)
    )
