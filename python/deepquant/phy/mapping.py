#
# Copyright 2026 gr-deepquant authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QAM mapping and exact / max-log soft demapping (3GPP TS 38.211 §5.1 labelling).

Pure numeric code (torch + numpy, no GNU Radio). Every function accepts numpy arrays (and then
returns numpy arrays) or torch tensors (and then returns tensors on the same device).

Conventions
-----------
* **Bits and labels.** A symbol carries ``K = bits_per_symbol`` bits ``b(0), b(1), ..., b(K-1)``
  in the order of 38.211 (``b(i)`` of the standard is ``b(0)`` here). The *label* (index into
  :func:`constellation`) of a symbol is the integer whose binary expansion, most significant
  bit first, is ``b(0) b(1) ... b(K-1)``: ``label = sum_q b(q) * 2**(K-1-q)``.
* **Constellations** (unit average energy, ``mean |x|^2 = 1``), exactly the formulas of 38.211:

  - ``K = 1`` (BPSK): ``x = (1 - 2 b0) (1 + j) / sqrt(2)`` -- the 38.211 §5.1.2 BPSK, i.e. the
    two points lie on the diagonal (not on the real axis). pi/2-BPSK is not provided.
  - ``K = 2`` (QPSK): ``x = ((1 - 2 b0) + j (1 - 2 b1)) / sqrt(2)``.
  - ``K = 4, 6, 8`` (16/64/256-QAM): the real part is a Gray-labelled PAM of the even-indexed
    bits ``b0, b2, b4, ...``, the imaginary part the same PAM of the odd-indexed bits
    ``b1, b3, b5, ...``; e.g. 16-QAM ``x = ((1-2b0)(2-(1-2b2)) + j (1-2b1)(2-(1-2b3))) / sqrt(10)``.
    Normalisation ``sqrt(10)``, ``sqrt(42)``, ``sqrt(170)``.
* **Channel model (SISO).** ``y = h x + n`` per symbol, ``h`` complex (default 1),
  ``n ~ CN(0, noise_var)``; ``noise_var`` is the *total* complex noise variance
  (``noise_var / 2`` per real dimension), in the same linear power units as ``|x|^2 = 1``.
* **LLR.** ``L = ln P(b=1 | y) / P(b=0 | y)`` with equiprobable bits: positive means bit 1. LLRs
  of one symbol are emitted in bit order ``b0 ... b(K-1)``; symbol after symbol.
* **Precision.** float32 computation and output by default; ``dtype="float64"`` computes in
  float64 / complex128 and returns float64.

Algorithms
----------
Exact demapping uses the separability of 38.211 QAM: with ``u = conj(h) y / noise_var`` and
``g = |h|^2 / noise_var`` the log-likelihood of a point ``x = s (a_re + j a_im)`` is, up to a
constant, ``sum_d (2 s a_d t_d - g s^2 a_d^2)`` with ``t = (Re u, Im u)``, so the bits on the
real part depend only on ``Re u`` and those on the imaginary part only on ``Im u``. Each LLR is a
difference of two log-sum-exp over the ``2**(K/2)`` PAM levels of one dimension (evaluated with
the max subtracted, no underflow / overflow at any SNR). This is *exactly* the LLR of the 2-D
sum over all ``2**K`` points (the other dimension's sum cancels); the tests check it against the
brute-force 2-D formula. Max-log replaces log-sum-exp by max.

Numerics: ``u`` and ``g`` (which reach ~1e4 at high SNR while LLRs are small differences of
metrics) are formed in float64; each level's metric is then taken relative to the best level of
its dimension, ``(a_l - a*)(2 w - g (a_l - a*))`` with ``w = t - g a*`` (small numbers), and only
these offsets and their exponentials use the working precision. float32 LLRs are therefore
accurate to ~1e-6 relative at any SNR (tested <= 1e-5 against a float64 brute force up to
45 dB), and exp() arguments are floored at ln(smallest normal float) so that no denormal
(slow) arithmetic occurs.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "SUPPORTED_BITS_PER_SYMBOL",
    "constellation",
    "bit_labels",
    "bits_to_indices",
    "indices_to_bits",
    "map_bits",
    "demap_exact",
    "demap_maxlog",
    "clip_llr",
    "hard_decision",
]

#: Bits per symbol of the supported 38.211 constellations (BPSK, QPSK, 16-, 64-, 256-QAM).
SUPPORTED_BITS_PER_SYMBOL = (1, 2, 4, 6, 8)

# Symbols per internal chunk of the SISO demapper: bounds the [n, D, A] metric tensors
# (256-QAM: 2**16 * 2 * 16 * 8 bytes = 16 MiB in float64) whatever the input length.
_DEMAP_CHUNK = 1 << 16


# ---------------------------------------------------------------------------------------------
# Constellation description
# ---------------------------------------------------------------------------------------------
def check_bits_per_symbol(bits_per_symbol) -> int:
    """Return ``bits_per_symbol`` as int, or raise ``ValueError`` if it is not 1, 2, 4, 6 or 8."""
    try:
        k = int(bits_per_symbol)
        ok = k == bits_per_symbol and k in SUPPORTED_BITS_PER_SYMBOL
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            f"bits_per_symbol must be one of {SUPPORTED_BITS_PER_SYMBOL} "
            f"(BPSK, QPSK, 16/64/256-QAM), got {bits_per_symbol!r}"
        )
    return k


@dataclass(frozen=True)
class _Spec:
    """Product structure of a 38.211 constellation: x = scale * sum_d level_d * direction_d.

    ``n_dims`` real dimensions (2 for QAM, 1 for BPSK) along orthonormal complex directions;
    each dimension carries ``bits_per_dim`` bits (bit q of the symbol sits in dimension
    ``q % n_dims`` as that dimension's bit ``q // n_dims``) through a Gray PAM whose odd-integer
    levels, indexed by the dimension's own label (first bit = MSB), are ``levels``.
    """

    k: int
    n_dims: int
    bits_per_dim: int
    levels: tuple  # odd integers, label order, length 2**bits_per_dim
    scale: float
    directions: tuple  # complex unit vectors, length n_dims


def _pam_levels(m: int) -> tuple:
    """Odd-integer PAM levels of 38.211 for one QAM dimension with bits c0..c(m-1) (c0 = MSB).

    level = (1-2c0)(2^(m-1) - (1-2c1)(2^(m-2) - ... (2 - (1-2c(m-1))))), the nested form
    of the 38.211 formulas (e.g. 64-QAM: (1-2b0)(4-(1-2b2)(2-(1-2b4)))).
    """
    out = []
    for label in range(1 << m):
        c = [(label >> (m - 1 - j)) & 1 for j in range(m)]
        v = 1 - 2 * c[m - 1]
        for j in range(m - 2, -1, -1):
            v = (1 - 2 * c[j]) * ((1 << (m - 1 - j)) - v)
        out.append(v)
    return tuple(out)


@functools.lru_cache(maxsize=None)
def _spec(k: int) -> _Spec:
    if k == 1:
        return _Spec(1, 1, 1, (1, -1), 1.0, ((1 + 1j) / math.sqrt(2),))
    m = k // 2
    big_m = 1 << k
    return _Spec(k, 2, m, _pam_levels(m), 1.0 / math.sqrt(2.0 * (big_m - 1) / 3.0), (1 + 0j, 1j))


@functools.lru_cache(maxsize=None)
def _points_np(k: int) -> np.ndarray:
    sp = _spec(k)
    pts = np.zeros(1 << k, dtype=np.complex128)
    for label in range(1 << k):
        bits = [(label >> (k - 1 - q)) & 1 for q in range(k)]
        for d in range(sp.n_dims):
            dim_bits = bits[d :: sp.n_dims]
            dl = 0
            for b in dim_bits:
                dl = (dl << 1) | b
            pts[label] += sp.scale * sp.levels[dl] * sp.directions[d]
    pts.setflags(write=False)
    return pts


def constellation(bits_per_symbol: int) -> np.ndarray:
    """Constellation points of 38.211 §5.1 in label order.

    Parameters
    ----------
    bits_per_symbol : int
        ``K`` in {1, 2, 4, 6, 8} (BPSK, QPSK, 16-, 64-, 256-QAM).

    Returns
    -------
    numpy.ndarray
        Shape ``(2**K,)``, complex128, unit average energy. Entry ``i`` is the symbol whose bits
        ``b0 ... b(K-1)`` are the binary expansion of ``i`` with ``b0`` as the MSB (the order in
        which 38.211 lists them); see :func:`bit_labels`. Read-only (cached) array.
    """
    return _points_np(check_bits_per_symbol(bits_per_symbol))


@functools.lru_cache(maxsize=None)
def _labels_np(k: int) -> np.ndarray:
    lab = ((np.arange(1 << k)[:, None] >> (k - 1 - np.arange(k))[None, :]) & 1).astype(np.uint8)
    lab.setflags(write=False)
    return lab


def bit_labels(bits_per_symbol: int) -> np.ndarray:
    """Bit-label table of :func:`constellation`.

    Parameters
    ----------
    bits_per_symbol : int
        ``K`` in {1, 2, 4, 6, 8}.

    Returns
    -------
    numpy.ndarray
        Shape ``(2**K, K)``, uint8 in {0, 1}; row ``i`` holds ``b0 ... b(K-1)`` of point ``i``
        (``b0`` is the MSB of ``i``). Read-only (cached) array.
    """
    return _labels_np(check_bits_per_symbol(bits_per_symbol))


# ---------------------------------------------------------------------------------------------
# numpy / torch plumbing
# ---------------------------------------------------------------------------------------------
def resolve_dtype(dtype) -> torch.dtype:
    """Map ``None`` / "float32" / "float64" / numpy or torch float dtypes to a torch real dtype."""
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        if dtype in (torch.float32, torch.float64):
            return dtype
    else:
        try:
            nd = np.dtype(dtype)
        except TypeError:
            nd = None
        if nd == np.float32:
            return torch.float32
        if nd == np.float64:
            return torch.float64
    raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")


def complex_of(real_dtype: torch.dtype) -> torch.dtype:
    return torch.complex64 if real_dtype == torch.float32 else torch.complex128


def as_tensor(x, dtype: torch.dtype, device=None) -> torch.Tensor:
    """Tensor view/copy of ``x`` (numpy, scalar, tensor) with ``dtype`` on ``device``."""
    if isinstance(x, torch.Tensor):
        return x.to(device=device if device is not None else x.device, dtype=dtype)
    a = np.asarray(x)
    if a.dtype == object:
        raise ValueError("inputs must be numeric arrays")
    if dtype.is_complex:
        a = a.astype(np.complex64 if dtype == torch.complex64 else np.complex128, copy=False)
    else:
        if np.iscomplexobj(a):
            raise ValueError("expected a real-valued array, got a complex one")
        a = a.astype(np.float32 if dtype == torch.float32 else np.float64, copy=False)
    if not a.flags.c_contiguous:  # (np.ascontiguousarray would turn 0-d into 1-d)
        a = a.copy(order="C")
    return torch.from_numpy(a).to(device)


def out_like(t: torch.Tensor, as_numpy: bool):
    return t.cpu().numpy() if as_numpy else t


@functools.lru_cache(maxsize=None)
def _consts(k: int, dtype: torch.dtype, device: str):
    """Per-(K, dtype, device) constants of the separable demapper."""
    sp = _spec(k)
    dev = torch.device(device)
    alpha = torch.tensor([sp.scale * v for v in sp.levels], dtype=dtype, device=dev)  # [A]
    dirs = torch.tensor([complex(e) for e in sp.directions], dtype=complex_of(dtype), device=dev)
    return sp, alpha, alpha * alpha, dirs


def _device_key(t: torch.Tensor) -> str:
    return str(t.device)


# ---------------------------------------------------------------------------------------------
# Core: LLRs from sufficient statistics (shared with mimo.py)
# ---------------------------------------------------------------------------------------------
def dim_statistics(u: torch.Tensor, k: int) -> torch.Tensor:
    """Real per-dimension statistics ``t_d = Re(conj(e_d) u)``; ``u`` [...] complex -> [..., D]."""
    sp, _, _, dirs = _consts(k, u.real.dtype, _device_key(u))
    if sp.n_dims == 2:
        return torch.view_as_real(u)
    return (u * dirs[0].conj()).real.unsqueeze(-1)


def nearest_level(t: torch.Tensor, g: torch.Tensor, k: int) -> torch.Tensor:
    """Per dimension, the PAM amplitude ``a`` (scaled) maximising ``2 a t - g a^2``.

    That is the level nearest ``t / g``: ``t`` real, ``g`` broadcastable to it, real >= 0.
    ``g`` is floored at 1e-30 (no usable signal below): the result is then arbitrary but finite.
    Returns a new tensor shaped like ``t``.
    """
    sp = _spec(k)
    a = 1 << sp.bits_per_dim
    # g below 1e-30 means no usable signal: any level is then as good (all metrics ~ 0); the
    # floor only keeps t / g finite.
    inv = 0.5 / (g.clamp_min(1e-30) * sp.scale)
    n = (t * inv).add_(0.5 * (a - 1)).round_().clamp_(0, a - 1)  # index on the sorted grid
    return n.mul_(2.0 * sp.scale).sub_((a - 1) * sp.scale)


# exp() of arguments below ln(smallest normal) produces denormals, which are ~50x slower on x86;
# terms that small are below the float's resolution next to the maximum term (which is 1), so
# clamping them there changes no result.
_EXP_FLOOR = {torch.float32: -87.0, torch.float64: -708.0}


def lse(x: torch.Tensor, dim: int, maxlog: bool = False) -> torch.Tensor:
    """``log(sum(exp(x), dim))`` (or ``amax`` when ``maxlog``), dimension ``dim`` removed.

    The maximum is subtracted before exponentiating (no overflow; the sum is >= 1) and the
    shifted arguments are floored at ln(smallest normal float) (no denormals, see ``_EXP_FLOOR``).
    ``x`` must be finite.
    """
    m = x.amax(dim, keepdim=True)
    if maxlog:
        return m.squeeze(dim)
    e = (x - m).clamp_(min=_EXP_FLOOR[x.dtype]).exp_()
    return m.squeeze(dim) + e.sum(dim).log_()


@functools.lru_cache(maxsize=None)
def subset_index(n_bits: int, device: str) -> torch.Tensor:
    """Labels grouped by bit value: int64 ``[n_bits * 2 * 2**(n_bits-1)]``; viewed as
    ``[n_bits, 2, 2**(n_bits-1)]``, entry ``[q, v]`` lists the labels in ``[0, 2**n_bits)`` whose
    bit ``q`` (``q = 0`` = MSB) equals ``v``."""
    lab = np.arange(1 << n_bits)
    idx = np.stack([np.stack([lab[((lab >> (n_bits - 1 - q)) & 1) == v] for v in (0, 1)]) for q in range(n_bits)])
    return torch.from_numpy(idx.reshape(-1)).to(torch.device(device))


def llr_from_label_metrics(s: torch.Tensor, n_bits: int, maxlog: bool) -> torch.Tensor:
    """Bit LLRs from log-metrics of the ``2**n_bits`` labels along dim 1, batch innermost.

    ``s`` ``[G, 2**n_bits, n]`` -> ``[G, n_bits, n]`` with
    ``L_q = lse_{i: bit q of i = 1} s_i - lse_{i: bit q of i = 0} s_i`` (``q = 0`` is the MSB).
    (Labels along a middle dimension and the batch innermost keep every reduction vectorised.)
    """
    g, a, n = s.shape
    v = s.index_select(1, subset_index(n_bits, str(s.device))).view(g, n_bits, 2, a // 2, n)
    v = lse(v, 3, maxlog)  # [G, n_bits, 2, n]
    return v[:, :, 1] - v[:, :, 0]


def level_offsets(t: torch.Tensor, g: torch.Tensor, k: int, out_dtype: torch.dtype, need_f: bool = True, work=None):
    """Per-level log-metrics of one PAM dimension relative to the best level, without cancellation.

    For the metric ``2 a t - g a^2`` over the levels ``a_l`` (label order) with ``a*`` the best
    level (:func:`nearest_level`), returns ``(f, m)`` with
    ``f[..., l, :] = 2 (a_l - a*) w - g (a_l - a*)^2 = (a_l - a*) (2 w - g (a_l - a*)) <= 0``,
    ``w = t - g a*``, and ``m = a* (t + w) = 2 a* t - g a*^2`` the maximum itself.

    ``t`` ``[..., n]`` and ``g`` (broadcastable to it) should be float64: statistics at high
    SNR reach ~1e4 while LLRs need differences ~1e-5, so ``w`` and ``m`` are formed in the dtype
    of ``t``. ``f`` ``[..., A, n]`` (level axis inserted before the last) is computed in
    ``out_dtype`` from small quantities (``w``, level differences): float32 keeps ~1e-7
    relative accuracy there. ``a*`` is found in ``out_dtype`` (any level would give the same
    results; the best one keeps ``f <= 0`` so that ``exp(f)`` cannot overflow and sums >= 1).
    ``need_f=False`` skips ``f`` (returns ``(None, m)``; for max-log). ``work``: optional pair
    of flat ``out_dtype`` tensors with at least ``f.numel()`` elements, used as storage for
    ``f`` and a temporary (allocating fresh multi-MiB tensors per call costs page faults that
    measured 3-4x the arithmetic); ``f`` then aliases ``work[1]``.
    """
    sp, alpha, _, _ = _consts(k, out_dtype, _device_key(t))
    t_lo, g_lo = t.to(out_dtype), g.to(out_dtype)
    best_lo = nearest_level(t_lo, g_lo, k)
    best = best_lo.to(t.dtype)
    w = torch.addcmul(t, best, g, value=-1.0)  # t - g a*
    m = (w + t).mul_(best)
    if not need_f:
        return None, m
    shape = best_lo.shape[:-1] + (alpha.numel(), best_lo.shape[-1])  # [..., A, n]
    if work is None:
        delta, f = torch.empty(shape, dtype=out_dtype, device=t.device), None
    else:
        n = math.prod(shape)
        delta, f = work[0][:n].view(shape), work[1][:n].view(shape)
    torch.sub(alpha[:, None], best_lo.unsqueeze(-2), out=delta)
    two_w = (2.0 * w.to(out_dtype)).unsqueeze(-2)
    f = (
        torch.addcmul(two_w, delta, g_lo.unsqueeze(-2), value=-1.0, out=f)
        if f is not None
        else torch.addcmul(two_w, delta, g_lo.unsqueeze(-2), value=-1.0)
    )
    return f.mul_(delta), m


def llr_from_statistics(u: torch.Tensor, g: torch.Tensor, k: int, maxlog: bool) -> torch.Tensor:
    """LLRs of one 38.211 symbol from the statistics of the metric ``2 Re(conj(x) u) - g |x|^2``.

    The log-likelihood of point ``x`` is, up to a constant independent of ``x``,
    ``2 Re(conj(x) u) - g |x|^2``; for ``y = h x + n``, ``n ~ CN(0, s2)``: ``u = conj(h) y / s2``,
    ``g = |h|^2 / s2``. The statistics are handled in float64 and the per-level metrics are
    formed relative to the best level (:func:`level_offsets`), so float32 output keeps ~1e-6
    relative accuracy at any SNR.

    Parameters
    ----------
    u : torch.Tensor
        Complex, shape ``S``.
    g : torch.Tensor
        Real, >= 0, broadcastable to ``S``; its dtype is the output dtype.
    k : int
        Bits per symbol.
    maxlog : bool
        Max-log (True) or exact log-sum-exp (False).

    Returns
    -------
    torch.Tensor
        Real, shape ``S + (k,)``, bits in 38.211 order.
    """
    sp = _spec(k)
    shape = u.shape
    uf = u.reshape(-1).to(torch.complex128)
    gf = g.expand(shape).reshape(-1).to(torch.float64)
    t = dim_statistics(uf, k).T  # [D, n]
    f, _ = level_offsets(t, gf, k, g.dtype)  # [D, A, n]: per-level log-metric (+ a constant)
    llr = llr_from_label_metrics(f, sp.bits_per_dim, maxlog)  # [D, m, n]
    # -> [n, m, D] flattened: index j * D + d = position of the dimension's bit j in the symbol
    return llr.permute(2, 1, 0).reshape(*shape, k)


# ---------------------------------------------------------------------------------------------
# Mapping
# ---------------------------------------------------------------------------------------------
def bits_to_indices(bits, bits_per_symbol: int):
    """Group bits into symbol labels.

    Parameters
    ----------
    bits : array_like or torch.Tensor
        Shape ``(..., n*K)``, integer or bool, values in {0, 1}; bit ``b0`` of each symbol first.
    bits_per_symbol : int
        ``K`` in {1, 2, 4, 6, 8}.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        Shape ``(..., n)``, int64 labels in ``[0, 2**K)`` (``b0`` = MSB). numpy in, numpy out.

    Raises
    ------
    ValueError
        If the last dimension is not a multiple of ``K`` or a value is not 0/1.
    """
    k = check_bits_per_symbol(bits_per_symbol)
    is_t = isinstance(bits, torch.Tensor)
    b = bits if is_t else torch.from_numpy(np.ascontiguousarray(np.asarray(bits)))
    if b.dtype.is_floating_point or b.dtype.is_complex:
        raise ValueError(f"bits must be an integer or bool array, got dtype {b.dtype}")
    if b.ndim == 0 or b.shape[-1] % k:
        raise ValueError(f"bits: last dimension must be a multiple of bits_per_symbol={k}, got shape {tuple(b.shape)}")
    b = b.to(torch.int64)
    if b.numel() and bool(((b != 0) & (b != 1)).any()):
        raise ValueError("bits must contain only 0 and 1")
    w = (1 << torch.arange(k - 1, -1, -1, device=b.device)).to(torch.int64)
    idx = (b.unflatten(-1, (b.shape[-1] // k, k)) * w).sum(-1)
    return idx if is_t else idx.numpy()


def indices_to_bits(indices, bits_per_symbol: int):
    """Inverse of :func:`bits_to_indices`: labels ``(..., n)`` -> bits ``(..., n*K)`` uint8.

    Raises ``ValueError`` for labels outside ``[0, 2**K)``.
    """
    k = check_bits_per_symbol(bits_per_symbol)
    is_t = isinstance(indices, torch.Tensor)
    i = indices if is_t else torch.from_numpy(np.ascontiguousarray(np.asarray(indices)))
    if i.dtype.is_floating_point or i.dtype.is_complex:
        raise ValueError(f"indices must be integers, got dtype {i.dtype}")
    i = i.to(torch.int64)
    if i.numel() and bool(((i < 0) | (i >= (1 << k))).any()):
        raise ValueError(f"indices must lie in [0, {1 << k})")
    sh = torch.arange(k - 1, -1, -1, device=i.device)
    bits = ((i.unsqueeze(-1) >> sh) & 1).to(torch.uint8).flatten(-2)
    return bits if is_t else bits.numpy()


def map_bits(bits, bits_per_symbol: int, *, dtype=None):
    """Map bits to 38.211 constellation symbols.

    Parameters
    ----------
    bits : array_like or torch.Tensor
        Shape ``(..., n*K)``, integer or bool in {0, 1}; ``K`` consecutive bits form a symbol,
        ``b0`` first.
    bits_per_symbol : int
        ``K`` in {1, 2, 4, 6, 8}.
    dtype : {None, "float32", "float64"}, optional
        Real precision of the output: complex64 (default) or complex128.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        Shape ``(..., n)`` complex symbols, unit average energy (numpy in, numpy out; a tensor
        output is on the device of ``bits``).

    Raises
    ------
    ValueError
        Unsupported ``K``, last dimension not a multiple of ``K``, or values other than 0/1.
    """
    k = check_bits_per_symbol(bits_per_symbol)
    cdt = complex_of(resolve_dtype(dtype))
    is_t = isinstance(bits, torch.Tensor)
    idx = bits_to_indices(bits if is_t else np.asarray(bits), k)
    idx_t = idx if is_t else torch.from_numpy(idx)
    pts = torch.from_numpy(_points_np(k).copy()).to(dtype=cdt, device=idx_t.device)
    sym = pts[idx_t]
    return sym if is_t else sym.numpy()


# ---------------------------------------------------------------------------------------------
# Demapping
# ---------------------------------------------------------------------------------------------
def _first_bad(mask: torch.Tensor) -> str:
    m = mask if mask.ndim else mask.reshape(1)
    first = tuple(int(v) for v in torch.nonzero(m)[0])
    return f"{int(m.sum())} of {m.numel()} entries, first at index {first}"


def _demap(y, h, noise_var, bits_per_symbol, dtype, maxlog: bool, name: str):
    k = check_bits_per_symbol(bits_per_symbol)
    rdt = resolve_dtype(dtype)
    cdt = complex_of(rdt)
    as_numpy = not isinstance(y, torch.Tensor)
    dev = y.device if isinstance(y, torch.Tensor) else None
    yt = as_tensor(y, cdt, dev)
    ht = None if h is None else as_tensor(h, cdt, yt.device)
    nv = as_tensor(noise_var, rdt, yt.device)
    shapes = [yt.shape, nv.shape] + ([] if ht is None else [ht.shape])
    try:
        shape = torch.broadcast_shapes(*shapes)
    except RuntimeError:
        raise ValueError(
            f"{name}: y {tuple(yt.shape)}, h {None if ht is None else tuple(ht.shape)} "
            f"and noise_var {tuple(nv.shape)} do not broadcast together"
        ) from None
    bad = ~torch.isfinite(nv) | (nv <= 0)
    if bool(bad.any()):
        raise ValueError(
            f"{name}: noise_var must be finite and > 0 (got {nv[bad].flatten()[0].item()!r}; {_first_bad(bad)})"
        )
    if not bool(torch.isfinite(yt).all()):
        raise ValueError(f"{name}: y contains non-finite values ({_first_bad(~torch.isfinite(yt))})")
    if ht is not None and not bool(torch.isfinite(ht).all()):
        raise ValueError(f"{name}: h contains non-finite values ({_first_bad(~torch.isfinite(ht))})")

    yb = yt.expand(shape).reshape(-1)
    nb = nv.expand(shape).reshape(-1)
    hb = None if ht is None else ht.expand(shape).reshape(-1)
    out = torch.empty((yb.numel(), k), dtype=rdt, device=yt.device)
    for s in range(0, yb.numel(), _DEMAP_CHUNK):
        sl = slice(s, s + _DEMAP_CHUNK)
        inv = 1.0 / nb[sl]
        if hb is None:
            u = yb[sl] * inv
            g = inv
        else:
            u = hb[sl].conj() * yb[sl] * inv
            g = (hb[sl].real.square() + hb[sl].imag.square()) * inv
        out[sl] = llr_from_statistics(u, g, k, maxlog)
    if len(shape) == 0:
        out = out.reshape(k)
    else:
        out = out.reshape(*shape[:-1], shape[-1] * k)
    return out_like(out, as_numpy)


def demap_exact(y, h, noise_var, bits_per_symbol: int, *, dtype=None):
    """Exact (log-MAP) LLRs of 38.211 QAM symbols received as ``y = h x + n``.

    ``L_q = ln sum_{x: b_q(x)=1} exp(-|y - h x|^2 / noise_var)
    - ln sum_{x: b_q(x)=0} exp(-|y - h x|^2 / noise_var)`` (equiprobable symbols), evaluated
    with the per-dimension separation described in the module docstring; numerically stable
    (log-sum-exp with the maximum subtracted) at any SNR.

    Parameters
    ----------
    y : array_like or torch.Tensor
        Received symbols, complex, shape ``(..., n)``.
    h : array_like or torch.Tensor or None
        Complex channel gain per symbol, broadcastable against ``y``; ``None`` means 1.
        ``h = 0`` is allowed and gives zero LLRs.
    noise_var : float or array_like or torch.Tensor
        Total complex noise variance ``E|n|^2`` (linear, same power units as ``|h x|^2``),
        scalar or broadcastable per symbol; must be finite and > 0.
    bits_per_symbol : int
        ``K`` in {1, 2, 4, 6, 8}.
    dtype : {None, "float32", "float64"}, optional
        Computation and output precision (default float32).

    Returns
    -------
    numpy.ndarray or torch.Tensor
        LLRs, shape ``(..., n*K)`` where ``(..., n)`` is the broadcast shape of ``y``, ``h`` and
        ``noise_var`` (``(K,)`` for scalars); the ``K`` LLRs of symbol ``i`` are at
        ``[..., i*K:(i+1)*K]`` in the order ``b0 ... b(K-1)``. float32 unless ``dtype`` says
        otherwise. numpy if ``y`` is not a tensor, else a tensor on ``y``'s device.

    Raises
    ------
    ValueError
        Unsupported ``K``; shapes that do not broadcast; ``noise_var`` <= 0 or not finite;
        non-finite ``y`` or ``h``.
    """
    return _demap(y, h, noise_var, bits_per_symbol, dtype, False, "demap_exact")


def demap_maxlog(y, h, noise_var, bits_per_symbol: int, *, dtype=None):
    """Max-log LLRs: ``L_q = (min_{x: b_q=0} |y-hx|^2 - min_{x: b_q=1} |y-hx|^2) / noise_var``.

    Same arguments, shapes, conventions and errors as :func:`demap_exact`.
    """
    return _demap(y, h, noise_var, bits_per_symbol, dtype, True, "demap_maxlog")


def clip_llr(llr, max_abs: float):
    """Clip LLRs to ``[-max_abs, max_abs]`` (NaN stays NaN).

    Parameters
    ----------
    llr : array_like or torch.Tensor
        Real LLRs of any shape.
    max_abs : float
        Clipping magnitude, > 0 (``inf`` allowed: no clipping).

    Returns
    -------
    numpy.ndarray or torch.Tensor
        New array/tensor, same shape and dtype (numpy in, numpy out).
    """
    ma = float(max_abs)
    if not ma > 0:
        raise ValueError(f"max_abs must be > 0, got {max_abs!r}")
    if isinstance(llr, torch.Tensor):
        return llr.clamp(-ma, ma)
    return np.clip(np.asarray(llr), -ma, ma)


def hard_decision(llr):
    """Hard bits from LLRs: 1 where ``L > 0``, else 0 (``L = 0`` and NaN give 0).

    Parameters
    ----------
    llr : array_like or torch.Tensor
        Real LLRs of any shape.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        Same shape, uint8 in {0, 1} (numpy in, numpy out).
    """
    if isinstance(llr, torch.Tensor):
        return (llr > 0).to(torch.uint8)
    return (np.asarray(llr) > 0).astype(np.uint8)


def soft_symbols(llr, bits_per_symbol: int):
    """Posterior mean and variance of QAM symbols from bit LLRs (independent bits).

    ``P(x = s) = prod_b P(b = label_b(s))`` with ``P(b = 1) = sigmoid(L_b)``; returns
    ``E[x] = sum_s P(s) s`` and ``Var[x] = sum_s P(s) |s|^2 - |E[x]|^2``. Used for
    soft-decision-directed channel estimation: ``E[x]`` is the MMSE estimate of the symbol, so
    its error is uncorrelated with it and ``y = h E[x] + (h e + n)`` is an unbiased observation
    of ``h`` with extra noise ``|h|^2 Var[x]``.

    Parameters
    ----------
    llr : array_like
        Real, shape ``(..., K)``, ``L = ln P(b=1)/P(b=0)`` (values beyond +-30 are clipped).
    bits_per_symbol : int
        ``K``.

    Returns
    -------
    (mean complex128 (...), var float64 (...))
    """
    k = check_bits_per_symbol(bits_per_symbol)
    llr = np.clip(np.asarray(llr, dtype=np.float64), -30.0, 30.0)
    if llr.shape[-1:] != (k,):
        raise ValueError(f"soft_symbols: the last axis must hold {k} LLRs, got shape {llr.shape}")
    shape = llr.shape[:-1]
    lab = _labels_np(k).astype(np.float64)  # [M, K]
    logp = llr.reshape(-1, k) @ lab.T  # [n, M] (up to a per-row constant)
    logp -= logp.max(axis=1, keepdims=True)
    p = np.exp(logp)
    p /= p.sum(axis=1, keepdims=True)
    pts = _points_np(k).astype(np.complex128)
    mean = p @ pts
    var = np.maximum(p @ (np.abs(pts) ** 2) - np.abs(mean) ** 2, 0.0)
    return mean.reshape(shape), var.reshape(shape)
