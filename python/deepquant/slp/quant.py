"""Weight and activation quantization of paper 003 (torch), and bit-packed storage (numpy).

* BWN (eq. 16): ``Q = beta sign(W)``, ``beta = mean |W|`` per output row (kernel / neuron).
* TWN (eqs. 17-18): ``Q = beta t``, ``t in {-1, 0, +1}``, threshold ``delta = 0.7 mean |W|``,
  ``beta`` the mean ``|W|`` over ``|W| > delta``, per output row.
* Stochastic quantization (SQ, section IV-A/B): the rows of every quantized weight matrix are split
  into a quantized group (``round(QR * rows)`` rows) and a full-precision group by the circular
  lottery (Algorithm 1) with the linear quantization-probability function ``f_p = 1 / (e + delta)``,
  ``e_j = ||W_j - Q_j||_1 / ||W_j||_1`` (eq. 21), ``delta = 1e-6``.
* k-bit activations (eq. 22): clip to ``[lo, hi]`` and round to ``2^k`` uniform levels.
All quantizers pass gradients straight through (STE) to the latent float weights.

Storage: binary rows as 1 bit per weight (``np.packbits`` of ``W >= 0``), ternary rows as 2 bits
per weight (code 0 -> 0, 1 -> +1, 2 -> -1, four codes per byte), one float32 ``beta`` per
quantized row, the full-precision rows as float16 (model format 2; float32 in format 1; decoded
back to float32) and the row partition as 1 bit per row.
"""

from __future__ import annotations

import numpy as np

SQ_DELTA = 1e-6
TWN_FACTOR = 0.7


# ------------------------------------------------------------------------------------------
# numpy quantizers (exact definitions; the torch ones below mirror them)
def bwn_np(W2: np.ndarray):
    """Per-row BWN of a 2-D matrix: (codes int8 in {-1,+1}, beta [rows])."""
    beta = np.mean(np.abs(W2), axis=1)
    return np.where(W2 >= 0, 1, -1).astype(np.int8), beta.astype(np.float32)


def twn_np(W2: np.ndarray):
    """Per-row TWN: (codes int8 in {-1,0,+1}, beta [rows])."""
    a = np.abs(W2)
    delta = TWN_FACTOR * a.mean(axis=1, keepdims=True)
    mask = a > delta
    cnt = np.maximum(mask.sum(axis=1), 1)
    beta = (a * mask).sum(axis=1) / cnt
    return (np.sign(W2) * mask).astype(np.int8), beta.astype(np.float32)


def quant_error(W2: np.ndarray, kind: str) -> np.ndarray:
    """Eq. (21) per row: ||W_j - Q_j||_1 / ||W_j||_1."""
    codes, beta = (bwn_np if kind == "binary" else twn_np)(W2)
    Q = codes * beta[:, None]
    return np.abs(W2 - Q).sum(1) / np.maximum(np.abs(W2).sum(1), 1e-30)


def circular_lottery(errors: np.ndarray, qr: float, rng: np.random.Generator) -> np.ndarray:
    """Algorithm 1: boolean mask [rows], True for the round(qr * rows) rows chosen to be quantized.

    Probabilities ``pr_j = f_p(e_j) / sum f_p`` with ``f_p = 1 / (e + 1e-6)`` (the linear function);
    each draw spins the disc (uniform value), walks the cumulative sectors to the chosen row and
    zeroes its probability (selection without replacement).
    """
    n = len(errors)
    mq = int(round(float(qr) * n))
    pr = 1.0 / (np.asarray(errors, dtype=float) + SQ_DELTA)
    chosen = np.zeros(n, dtype=bool)
    for _ in range(mq):
        p = pr / pr.sum()
        v = rng.uniform()
        i = int(np.searchsorted(np.cumsum(p), v, side="left"))
        i = min(i, n - 1)
        while chosen[i]:  # float round-off at the end of the disc
            i = (i - 1) % n
        chosen[i] = True
        pr[i] = 0.0
    return chosen


# ------------------------------------------------------------------------------------------
# packing
def pack_binary(codes: np.ndarray) -> np.ndarray:
    return np.packbits((codes.ravel() >= 0).astype(np.uint8))


def unpack_binary(packed: np.ndarray, n: int) -> np.ndarray:
    return np.where(np.unpackbits(packed)[:n] == 1, 1, -1).astype(np.int8)


def pack_ternary(codes: np.ndarray) -> np.ndarray:
    c = codes.ravel().astype(np.int8)
    v = np.where(c == 0, 0, np.where(c > 0, 1, 2)).astype(np.uint8)
    v = np.concatenate([v, np.zeros((-len(v)) % 4, np.uint8)]).reshape(-1, 4)
    return (v[:, 0] | (v[:, 1] << 2) | (v[:, 2] << 4) | (v[:, 3] << 6)).astype(np.uint8)


def unpack_ternary(packed: np.ndarray, n: int) -> np.ndarray:
    p = packed.astype(np.uint8)
    v = np.stack([(p >> s) & 3 for s in (0, 2, 4, 6)], axis=1).ravel()[:n]
    return np.where(v == 0, 0, np.where(v == 1, 1, -1)).astype(np.int8)


def encode_weight(W: np.ndarray, kind: str, qmask: np.ndarray, fp_dtype=np.float16) -> dict:
    """Quantize rows ``qmask`` of weight ``W`` (first axis = rows) with ``kind`` and pack them;
    the other (full-precision) rows are stored as ``fp_dtype``.

    Returns the tensors stored in the model file for this weight (suffix -> array).
    """
    W2 = W.reshape(W.shape[0], -1).astype(np.float32)
    out = {}
    rows_q = W2[qmask]
    if rows_q.size:
        codes, beta = (bwn_np if kind == "binary" else twn_np)(rows_q)
        out["bits"] = pack_binary(codes) if kind == "binary" else pack_ternary(codes)
        out["beta"] = beta
    if (~qmask).any():
        out["fp"] = W2[~qmask].astype(fp_dtype)
    if not qmask.all():
        out["qrows"] = np.packbits(qmask.astype(np.uint8))
    return out


def decode_weight(parts: dict, kind: str, shape) -> np.ndarray:
    """Inverse of :func:`encode_weight`: the dense float32 weight the network computes with."""
    rows = int(shape[0])
    cols = int(np.prod(shape[1:]))
    qmask = np.unpackbits(parts["qrows"])[:rows].astype(bool) if "qrows" in parts else np.ones(rows, bool)
    W2 = np.zeros((rows, cols), np.float32)
    nq = int(qmask.sum())
    if nq:
        codes = (unpack_binary if kind == "binary" else unpack_ternary)(parts["bits"], nq * cols)
        W2[qmask] = codes.reshape(nq, cols) * parts["beta"][:, None]
    if nq < rows:
        W2[~qmask] = parts["fp"].astype(np.float32)
    return W2.reshape(shape)


# ------------------------------------------------------------------------------------------
# torch
def _torch():
    import torch

    return torch


def quantize_rows_torch(W, kind: str):
    """Per-row BWN / TWN of a torch weight (first axis = rows), STE gradient. Returns Q like W."""
    torch = _torch()
    W2 = W.reshape(W.shape[0], -1)
    a = W2.abs()
    if kind == "binary":
        beta = a.mean(1, keepdim=True)
        Q = torch.where(W2 >= 0, torch.ones_like(W2), -torch.ones_like(W2)) * beta
    else:
        delta = TWN_FACTOR * a.mean(1, keepdim=True)
        mask = (a > delta).to(W2.dtype)
        beta = (a * mask).sum(1, keepdim=True) / mask.sum(1, keepdim=True).clamp_min(1.0)
        Q = torch.sign(W2) * mask * beta
    Q = W2 + (Q - W2).detach()
    return Q.reshape(W.shape)


def act_quant(x, bits: int, lo: float, hi: float):
    """Eq. (22): clip to [lo, hi], 2^bits uniform levels, STE inside the range."""
    torch = _torch()
    n = (1 << int(bits)) - 1
    xc = torch.clamp(x, lo, hi)
    q = lo + torch.round((xc - lo) * n / (hi - lo)) * (hi - lo) / n
    return xc + (q - xc).detach()
