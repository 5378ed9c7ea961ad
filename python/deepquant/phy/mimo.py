#
# Copyright 2026 gr-deepquant authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Classical soft-output MIMO detectors: exact ML, max-log ML, ZF-SIC (QR), LMMSE, EP.

Pure numeric code (torch + numpy, no GNU Radio), batched over channel uses.

Conventions
-----------
* **Channel use.** ``y = H x + n`` with ``y`` in C^Nr, ``H`` in C^(Nr x Nt), ``x`` in C^Nt (one
  38.211 symbol per stream, unit average energy, equiprobable and independent, see
  :mod:`.mapping`), ``n ~ CN(0, noise_var I)``; ``noise_var`` is the *total* complex noise
  variance per receive antenna, in the power units of ``|x|^2 = 1``. ``H`` flattened is
  row-major (``H[r, t]`` at ``r * Nt + t``).
* **LLR.** ``L = ln P(b=1 | y, H) / P(b=0 | y, H)`` (positive means bit 1), output stream-major:
  ``L[b, t*K + q]`` is bit ``q`` (38.211 order) of stream ``t``.
* **One signature for every detector:** ``f(y, H, noise_var, bits_per_symbol, *, dtype=None)``
  with ``y`` [B, Nr] complex, ``H`` [B, Nr, Nt] complex, ``noise_var`` [B] (or a scalar) real
  > 0, ``bits_per_symbol`` = K in {1, 2, 4, 6, 8}; returns ``L`` [B, Nt*K] float32 (float64 with
  ``dtype="float64"``, which also makes the computation float64/complex128). numpy inputs give
  numpy outputs; torch inputs give tensors on ``y``'s device.
* **Invalid input** (wrong shapes, ``noise_var`` <= 0 or NaN, non-finite ``y``/``H``) raises
  ``ValueError``. :func:`bad_channel_uses` returns the mask of offending channel uses and
  ``detect(..., on_invalid="zero")`` outputs zero LLRs ("no information") for them instead,
  so a streaming block can count them and keep running.

Detectors
---------
``exact_ml``
    ``L_q = ln sum_{x: b_q=1} exp(-||y - Hx||^2 / noise_var) - ln sum_{x: b_q=0} (...)`` over all
    ``2**(K Nt)`` hypotheses. Evaluated exactly (not approximated) with a decomposition:
    with ``z = H^H y / noise_var`` and ``G = H^H H / noise_var`` the metric is
    ``2 Re(z^H x) - x^H G x``; conditioned on all streams but one (the "last" stream ``l``), it is
    ``a(x_c) + 2 Re(conj(x_l) u(x_c)) - G_ll |x_l|^2`` with ``u = z_l - G_lc x_c``, which is a
    sum of independent terms over the real and imaginary PAM of ``x_l``. The sum over ``x_l``
    therefore costs ``2 * 2**(K/2)`` terms instead of ``2**K``, and the per-stream marginals
    ``s_t(i) = ln sum_{x: x_t = c_i} exp(metric)`` of the conditioned streams follow by
    log-sum-exp over the other conditioned streams. Two such passes (the last stream is Nt-1,
    then 0) give every stream's marginal; bit LLRs are log-sum-exp over the labels of one
    marginal. Every log-sum-exp subtracts its exact maximum (the PAM maximum in closed form,
    the others by ``amax``) and floors the shifted arguments at ln(smallest normal): no
    underflow, overflow or denormal slow-down at any SNR in either precision.
    Work per channel use ~ ``2 * M**(Nt-1) * 2 * sqrt(M)`` exponentials (M = 2**K): 2x2 64-QAM
    2 048 (vs 4 096 hypotheses), 4x4 16-QAM 32 768 (vs 65 536).

    Numerics: the statistics (``z``, ``G``, ``a``, ``u``) and the max-log part of every
    hypothesis metric reach ``||y||^2 / noise_var`` (1e3..1e5 at high SNR) while LLRs are small
    differences of them, so they are computed in float64 and centred per channel use whatever
    ``dtype``; only bounded quantities -- each PAM level's metric relative to the best level,
    ``(a_l - a*) (2 w - g (a_l - a*)) <= 0`` with ``w = t - g a*`` taken from float64, and the
    exponentials and sums -- use the working precision. float32 results are thereby accurate to
    ~1e-6 relative at any SNR (tests: <= 1e-5 against a float64 brute force), at ~0.6x the
    speed of a naive float32 evaluation (measured; that one loses ~1e-4 relative at 25 dB with
    64-QAM).
``maxlog_ml``
    The same with max instead of log-sum-exp: exactly
    ``(min_{b_q=0} ||y-Hx||^2 - min_{b_q=1} ||y-Hx||^2) / noise_var`` over all hypotheses (the
    per-dimension maxima are found in closed form by slicing).
``zf_sic``
    Algorithm 1 of Arvinte, Tewfik, Vishwanath, *EQ-Net* (paper 002): ``H = QR`` (thin QR, R
    upper triangular with real diagonal >= 0; computed by modified Gram-Schmidt on ``[H | y]``,
    which yields ``y_hat = Q^H y`` backward-stably), then for ``k = Nt-1, ..., 0``:
    ``y~_k = y_hat_k - sum_{j>k} r_kj x~_j``; exact SISO LLRs of ``y~_k = r_kk x_k + noise``;
    hard decision ``x~_k = argmin_x |y~_k - r_kk x|^2``. No stream ordering (as in the paper).
    Two deliberate choices: (1) the paper's Algorithm 1 prints the per-stream metric as
    ``-|y~_k - r_kk x|^2`` without the noise variance, while its eqs. (2)-(3) divide by
    ``noise_var``; we follow (2)-(3) (``Q^H n`` has covariance ``noise_var I``), i.e. the
    printed algorithm is our output at ``noise_var = 1``. (2) The paper's LLR is
    ``ln sum_{b=1} / sum_{b=0}``, the same sign as ours: no sign flip. Needs ``Nr >= Nt``.
    Interference from wrong decisions is not accounted for in the LLRs (as in the paper).
``lmmse``
    ``x_hat = (H^H H + noise_var I)^-1 H^H y``; per stream ``x_hat_k = mu_k x_k + w_k`` with
    ``mu_k = 1 - e_k``, ``e_k = noise_var [(H^H H + noise_var I)^-1]_kk`` (the LMMSE error), and
    ``w_k`` (residual interference + noise) treated as ``CN(0, mu_k (1 - mu_k))``; exact SISO
    LLRs of that model (post-equalisation SINR ``mu_k / (1 - mu_k)``). See :func:`lmmse_equalize`.
``ep``
    Expectation propagation (Céspedes, Olmos, Sánchez-Fernández & Pérez-Cruz, "Expectation
    Propagation Detection for High-Order High-Dimensional MIMO Systems") on the real-valued model:
    LMMSE refined by ``iterations`` rounds of moment matching of one Gaussian site per real
    dimension against the PAM prior (``O(Nt^3)`` per round, no hypotheses), then exact LLRs of
    each stream's final extrinsic (cavity) Gaussian. ``iterations=0`` is ``lmmse`` (QAM); Nt = 1
    is exact ML. See :func:`ep`.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
import torch

from .mapping import (
    _EXP_FLOOR,
    _consts,
    _device_key,
    _spec,
    as_tensor,
    check_bits_per_symbol,
    complex_of,
    constellation,
    llr_from_label_metrics,
    llr_from_statistics,
    level_offsets,
    lse,
    nearest_level,
    out_like,
    resolve_dtype,
)

__all__ = [
    "DETECTORS",
    "CLASSICAL",
    "detect",
    "exact_ml",
    "maxlog_ml",
    "zf_sic",
    "lmmse",
    "lmmse_equalize",
    "Equalized",
    "ep",
    "ep_cavity",
    "ep_cpp",
    "ep_kernel",
    "EP_CPP_MAX_STREAMS",
    "EPCavity",
    "EP_ITERATIONS",
    "EP_BETA",
    "EP_EPS",
    "bad_channel_uses",
    "MEMORY_LIMIT_BYTES",
]

#: Upper bound on the working memory of one ML chunk (bytes). The ML detectors process the
#: batch in chunks of channel uses sized for speed (cache-sized, see ``_CHUNK_ELEMS``) and never
#: above this bound; a single channel use needing more raises ``ValueError``.
MEMORY_LIMIT_BYTES = 256 * 1024 * 1024

# Chunk sizing for speed: target elements of the [P, D, A, chunk] metric tensor (exact) or of
# the [P, D, chunk] tensors (max-log) per chunk, and a minimum chunk, since the channel use is
# the innermost (vectorised) dimension. Measured (1 thread, AVX-512, 2 MiB L2): 2x2 64-QAM
# best at 128..512 channel uses per chunk (exact) / 512..1024 (max-log), 4x4 16-QAM at 16..32.
_CHUNK_ELEMS = 1 << 18
_CHUNK_ELEMS_MAXLOG = 1 << 16
_MIN_CHUNK = 16
# Live [P, D, A, chunk]-sized buffers (metric tensor and its temporaries, float64 statistics),
# for the memory bound.
_LIVE_BUFFERS = 4


# ---------------------------------------------------------------------------------------------
# Input handling
# ---------------------------------------------------------------------------------------------
def _convert(y, H, noise_var, dtype, name):
    """numpy/tensor inputs -> (y [B,Nr], H [B,Nr,Nt], nv [B]) tensors; shape checks only."""
    rdt = resolve_dtype(dtype)
    cdt = complex_of(rdt)
    as_numpy = not isinstance(y, torch.Tensor)
    dev = y.device if isinstance(y, torch.Tensor) else None
    yt = as_tensor(y, cdt, dev)
    Ht = as_tensor(H, cdt, yt.device)
    nv = as_tensor(noise_var, rdt, yt.device)
    if yt.ndim != 2:
        raise ValueError(f"{name}: y must have shape [B, Nr], got {tuple(yt.shape)}")
    if Ht.ndim != 3:
        raise ValueError(f"{name}: H must have shape [B, Nr, Nt], got {tuple(Ht.shape)}")
    b, nr = yt.shape
    if Ht.shape[0] != b or Ht.shape[1] != nr:
        raise ValueError(
            f"{name}: H must have shape [B, Nr, Nt] = [{b}, {nr}, Nt] to match "
            f"y {tuple(yt.shape)}, got {tuple(Ht.shape)}"
        )
    if nr < 1 or Ht.shape[2] < 1:
        raise ValueError(f"{name}: need Nr >= 1 and Nt >= 1, got H {tuple(Ht.shape)}")
    if nv.ndim == 0:
        nv = nv.expand(b)
    elif nv.shape != (b,):
        raise ValueError(f"{name}: noise_var must be a scalar or have shape [B] = [{b}], got {tuple(nv.shape)}")
    return yt, Ht, nv, as_numpy


def _gram(H, y):
    """z = H^H y [B, Nt] and G = H^H H [B, Nt, Nt], elementwise (batched matmuls of tiny
    matrices are several times slower on CPU)."""
    hc = H.conj()
    z = (hc * y.unsqueeze(-1)).sum(1)
    G = (hc.unsqueeze(-1) * H.unsqueeze(-2)).sum(1)
    return z, G


def _bad_mask(yt, Ht, nv):
    return ~(torch.isfinite(yt).all(1) & torch.isfinite(Ht).flatten(1).all(1) & torch.isfinite(nv) & (nv > 0))


def _describe(mask: torch.Tensor) -> str:
    idx = torch.nonzero(mask).flatten()
    return f"{idx.numel()} of {mask.numel()} channel uses, first at index {int(idx[0])}"


def _prepare(y, H, noise_var, bits_per_symbol, dtype, name):
    k = check_bits_per_symbol(bits_per_symbol)
    yt, Ht, nv, as_numpy = _convert(y, H, noise_var, dtype, name)
    if yt.shape[0]:
        bad_nv = ~(torch.isfinite(nv) & (nv > 0))
        if bool(bad_nv.any()):
            raise ValueError(
                f"{name}: noise_var must be finite and > 0 (got {nv[bad_nv][0].item()!r}; {_describe(bad_nv)})"
            )
        bad_y = ~torch.isfinite(yt).all(1)
        if bool(bad_y.any()):
            raise ValueError(f"{name}: y contains non-finite values ({_describe(bad_y)})")
        bad_h = ~torch.isfinite(Ht).flatten(1).all(1)
        if bool(bad_h.any()):
            raise ValueError(f"{name}: H contains non-finite values ({_describe(bad_h)})")
    return yt, Ht, nv, k, as_numpy


def bad_channel_uses(y, H, noise_var):
    """Mask of channel uses no detector can process.

    Parameters
    ----------
    y : array_like or torch.Tensor
        [B, Nr] complex.
    H : array_like or torch.Tensor
        [B, Nr, Nt] complex.
    noise_var : float or array_like or torch.Tensor
        Scalar or [B] real.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        [B] bool, True where ``y`` or ``H`` has a non-finite entry or ``noise_var`` is <= 0 or
        not finite (NaN included). numpy in, numpy out.

    Raises
    ------
    ValueError
        Shapes inconsistent (shape errors are programming errors, not data errors).
    """
    yt, Ht, nv, as_numpy = _convert(y, H, noise_var, "float64", "bad_channel_uses")
    return out_like(_bad_mask(yt, Ht, nv), as_numpy)


# ---------------------------------------------------------------------------------------------
# Exact / max-log ML
# ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _hyp_features(k: int, n_c: int, dtype: torch.dtype, device: str):
    """Feature matrices of the M**n_c hypotheses of the conditioned streams.

    Hypothesis p = sum_i label_i M**(n_c-1-i) (first conditioned stream most significant).
    Returns (phi_a [P, F_a], phi_u [P, 1 + 2 n_c]) real; see _coefficients for the pairing.
    """
    m = 1 << k
    pts = constellation(k)
    lab = np.indices((m,) * n_c).reshape(n_c, -1)
    x = pts[lab]  # [n_c, P] complex128
    rows_a = [x.real, x.imag, np.abs(x) ** 2]
    for i in range(n_c):
        for j in range(i + 1, n_c):
            w = np.conj(x[i]) * x[j]
            rows_a += [w.real[None], w.imag[None]]
    phi_a = np.concatenate(rows_a, 0)
    phi_u = np.concatenate([np.ones((1, x.shape[1])), x.real, x.imag], 0)
    dev = torch.device(device)
    return (
        torch.tensor(phi_a.T, dtype=dtype, device=dev).contiguous(),
        torch.tensor(phi_u.T, dtype=dtype, device=dev).contiguous(),
    )


def _coefficients(z, G, last, k):
    """Per-channel-use coefficients of a run that keeps stream ``last`` for closed-form summing.

    z [B, Nt] = H^H y / s2, G [B, Nt, Nt] = H^H H / s2 (complex). Returns
    (ca [B, F_a], ct [B, D, 1 + 2 n_c], g [B]) such that, for the hypothesis matrix of the
    conditioned streams cond = all but ``last`` (increasing order):
    a(p) = phi_a[p] @ ca = 2 Re(z_c^H x_c) - x_c^H G_cc x_c,
    t_d(p) = phi_u[p] @ ct[:, d] = Re(conj(e_d) (z_l - G_lc x_c)), g = G_ll.
    """
    nt = z.shape[1]
    cond = [i for i in range(nt) if i != last]
    zc = z[:, cond]
    parts = [2 * zc.real, 2 * zc.imag, -torch.diagonal(G, dim1=1, dim2=2).real[:, cond]]
    for ii, i in enumerate(cond):
        for j in cond[ii + 1 :]:
            gij = G[:, i, j]
            parts += [-2 * gij.real[:, None], 2 * gij.imag[:, None]]
    ca = torch.cat(parts, 1)
    glc = G[:, last, cond]  # [B, n_c]
    zl = z[:, last]
    re_u = torch.cat([zl.real[:, None], -glc.real, glc.imag], 1)
    im_u = torch.cat([zl.imag[:, None], -glc.imag, -glc.real], 1)
    _, _, _, dirs = _consts(k, z.real.dtype, str(z.device))
    ct = dirs.real[None, :, None] * re_u[:, None, :] + dirs.imag[None, :, None] * im_u[:, None, :]
    return ca, ct, G[:, last, last].real


def _run(ca, ct, g, phi_a, phi_u, k, maxlog, lo, work=None):
    """Log-metric of every conditioned hypothesis, summed (or maximised) over the last stream.

    Batch innermost. ``ca`` [F_a, c], ``ct`` [F_u, D, c], ``g`` [c] and the feature matrices
    are float64: the statistics ``a`` and ``t`` reach ~||y||^2 / s2 (1e3..1e5 at high SNR)
    while LLRs are differences of them. The max-log part ``a + sum_d cmax_d`` is formed in
    float64 and centred (max 0 per channel use) before it is cast to the working dtype ``lo``;
    the per-level metrics relative to the best level (``mapping.level_offsets``: small numbers)
    and their log-sum-exp are computed in ``lo``. Returns T [P, c] in ``lo``, max <= log(A^D).
    """
    a = phi_a @ ca  # [P, c]
    t = (phi_u @ ct.flatten(1)).view(phi_u.shape[0], -1, ca.shape[1])  # [P, D, c]
    f, cmax = level_offsets(t, g, k, lo, not maxlog, work)  # f [P, D, A, c] <= 0; cmax [P, D, c]
    T = a.add_(cmax.sum(1))
    T = T.sub_(T.amax(0)).to(lo)
    if maxlog:
        return T
    # exp cannot overflow (f <= 0, == 0 at the best level, so the sum is >= 1); floored against
    # denormals (mapping._EXP_FLOOR). The ceiling 0 keeps that true when the best level was found
    # in float32 next to a decision boundary at very high SNR (a neighbour of the true best: its
    # offset f ~ 1e-7 |t| > 0 overflowed exp and gave NaN LLRs, issue 18); the error it leaves is
    # that relative size.
    f.clamp_(min=_EXP_FLOOR[lo], max=0.0).exp_()
    return T.add_(f.sum(2).log_().sum(1))


def _stream_marginal(T, i, maxlog):
    """T [M, ..., M, c] (n_c hypothesis axes) -> [M, c]: reduce every hypothesis axis but i."""
    if T.ndim == 2:
        return T
    m, c = T.shape[i], T.shape[-1]
    x = T.movedim(i, 0).reshape(m, -1, c)  # copies only when axis i is not the first
    return lse(x, 1, maxlog)


def _ml_chunk_size(n_hyp, k, rdt, maxlog, b):
    sp = _spec(k)
    per_cu = n_hyp * sp.n_dims * (1 if maxlog else (1 << sp.bits_per_dim))
    bytes_per_cu = per_cu * _LIVE_BUFFERS * (4 if rdt == torch.float32 else 8)
    if bytes_per_cu > MEMORY_LIMIT_BYTES:
        raise ValueError(
            f"ML detection of one channel use would need ~{bytes_per_cu / 2**20:.0f} MiB "
            f"(> MEMORY_LIMIT_BYTES = {MEMORY_LIMIT_BYTES / 2**20:.0f} MiB); use a "
            f"smaller configuration or the zf_sic / lmmse detectors"
        )
    # With more threads each chunk must be larger for the parallel regions to pay off: 2x2
    # 64-QAM exact ML at batch 8192 measured 1.66e5 cu/s (1 thread) at 256 channel uses per
    # chunk (1.42e5 at 1024), and 2.5e5 (2 threads) at 1024 (2.0e5 at 256).
    scale = min(16, torch.get_num_threads() ** 2)
    target = max(_MIN_CHUNK, scale * (_CHUNK_ELEMS_MAXLOG if maxlog else _CHUNK_ELEMS) // per_cu)
    return max(1, min(b, target, MEMORY_LIMIT_BYTES // bytes_per_cu))


def _ml(y, H, noise_var, bits_per_symbol, dtype, chunk_size, maxlog, name):
    yt, Ht, nv, k, as_numpy = _prepare(y, H, noise_var, bits_per_symbol, dtype, name)
    b, _, nt = Ht.shape
    rdt = nv.dtype
    out = torch.empty((b, nt * k), dtype=rdt, device=yt.device)
    if b == 0:
        return out_like(out, as_numpy)
    # Sufficient statistics in float64 whatever the working precision (see _run).
    y64, H64 = yt.to(torch.complex128), Ht.to(torch.complex128)
    inv = 1.0 / nv.to(torch.float64)
    z, G = _gram(H64, y64)
    z = z * inv[:, None]  # [B, Nt]
    G = G * inv[:, None, None]  # [B, Nt, Nt]
    if nt == 1:
        out[:] = llr_from_statistics(z[:, 0], G[:, 0, 0].real.to(rdt), k, maxlog)
        return out_like(out, as_numpy)

    m = 1 << k
    n_c = nt - 1
    n_hyp = m**n_c
    if chunk_size is None:
        chunk = _ml_chunk_size(n_hyp, k, rdt, maxlog, b)
    else:
        chunk = int(chunk_size)
        if chunk < 1:
            raise ValueError(f"{name}: chunk_size must be >= 1, got {chunk_size!r}")
        _ml_chunk_size(n_hyp, k, rdt, maxlog, b)  # memory check of one channel use
    phi_a, phi_u = _hyp_features(k, n_c, torch.float64, str(yt.device))
    # Run A keeps the last stream for closed-form summing: marginals of streams 0..Nt-2.
    # Run B keeps stream 0: marginal of stream Nt-1 (the last conditioned one there).
    # Coefficients transposed once so that the channel use is the innermost dimension.
    runs = []
    for last in (nt - 1, 0):
        ca, ct, g = _coefficients(z, G, last, k)
        runs.append((last, ca.T.contiguous(), ct.permute(2, 1, 0).contiguous(), g))
    hyp_shape = (m,) * n_c
    work = None
    if not maxlog:  # storage reused by every chunk (see mapping.level_offsets)
        sp = _spec(k)
        numel = n_hyp * sp.n_dims * (1 << sp.bits_per_dim) * min(chunk, b)
        work = (torch.empty(numel, dtype=rdt, device=yt.device), torch.empty(numel, dtype=rdt, device=yt.device))
    for s0 in range(0, b, chunk):
        sl = slice(s0, s0 + chunk)
        c = min(chunk, b - s0)
        marg = []
        for last, ca, ct, g in runs:
            T = _run(ca[:, sl], ct[:, :, sl].contiguous(), g[sl], phi_a, phi_u, k, maxlog, rdt, work)
            T = T.view(*hyp_shape, c)
            for i in range(n_c) if last == nt - 1 else [n_c - 1]:
                marg.append(_stream_marginal(T, i, maxlog))
        llr = llr_from_label_metrics(torch.stack(marg, 0), k, maxlog)  # [Nt, K, c]
        out[sl] = llr.reshape(nt * k, c).T
    return out_like(out, as_numpy)


def exact_ml(y, H, noise_var, bits_per_symbol: int, *, dtype=None, chunk_size=None):
    """Exact maximum-likelihood (log-MAP) LLRs over all ``2**(K*Nt)`` hypotheses.

    ``L[b, t*K+q] = ln sum_{x: b_tq(x)=1} exp(-||y_b - H_b x||^2 / s2_b)
    - ln sum_{x: b_tq(x)=0} exp(-||y_b - H_b x||^2 / s2_b)``; evaluation described in the module
    docstring (exact, numerically stable at any SNR).

    Parameters
    ----------
    y : array_like or torch.Tensor
        Received vectors, [B, Nr] complex.
    H : array_like or torch.Tensor
        Channel matrices, [B, Nr, Nt] complex (any Nr >= 1, Nt >= 1).
    noise_var : float or array_like or torch.Tensor
        Total complex noise variance per receive antenna, scalar or [B], finite and > 0.
    bits_per_symbol : int
        K in {1, 2, 4, 6, 8}; the same constellation on every stream.
    dtype : {None, "float32", "float64"}, optional
        Working and output precision (default float32; the large statistics are float64 in
        both cases, see the module docstring). float32: ~1e-6 relative accuracy; float64:
        ~1e-12, about 2.5-3x slower (measured, 1 thread).
    chunk_size : int, optional
        Channel uses per internal chunk; default: sized for speed (cache) and bounded by
        :data:`MEMORY_LIMIT_BYTES`. Results do not depend on it.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        [B, Nt*K] LLRs, stream-major, bits in 38.211 order; float32 (or float64).

    Raises
    ------
    ValueError
        Bad shapes, unsupported K, ``noise_var`` <= 0 / NaN / inf, non-finite ``y`` or ``H``, or a
        configuration whose single channel use exceeds :data:`MEMORY_LIMIT_BYTES`
        (e.g. 4x4 256-QAM).
    """
    return _ml(y, H, noise_var, bits_per_symbol, dtype, chunk_size, False, "exact_ml")


def maxlog_ml(y, H, noise_var, bits_per_symbol: int, *, dtype=None, chunk_size=None):
    """Max-log ML LLRs over all hypotheses.

    ``L[b, t*K+q] = (min_{x: b_tq=0} ||y_b - H_b x||^2 - min_{x: b_tq=1} ||y_b - H_b x||^2) / s2_b``
    (exact max-log, not a sub-search). Arguments, shapes, dtype and errors as :func:`exact_ml`.
    """
    return _ml(y, H, noise_var, bits_per_symbol, dtype, chunk_size, True, "maxlog_ml")


# ---------------------------------------------------------------------------------------------
# ZF-SIC (Algorithm 1 of EQ-Net)
# ---------------------------------------------------------------------------------------------
def _mgs_qr(H, y):
    """Thin QR of H by modified Gram-Schmidt, applied to [H | y].

    Returns (R [B, Nt, Nt] complex, upper triangular, real diagonal >= 0; y_hat [B, Nt] = Q^H y).
    A column that is (numerically exactly) dependent gets r_kk = 0 and q_k = 0.
    """
    b, nr, nt = H.shape
    V = torch.cat([H, y.unsqueeze(-1)], -1)  # new tensor
    R = torch.zeros((b, nt, nt + 1), dtype=H.dtype, device=H.device)
    for k in range(nt):
        v = V[:, :, k]
        rkk = torch.linalg.vector_norm(v, dim=1)  # real
        q = torch.where((rkk > 0)[:, None], v / torch.where(rkk > 0, rkk, 1.0)[:, None], 0)
        R[:, k, k] = rkk.to(H.dtype)
        rest = V[:, :, k + 1 :]
        rk = (q.conj().unsqueeze(-1) * rest).sum(1)  # [B, Nt-k]
        R[:, k, k + 1 :] = rk
        V[:, :, k + 1 :] = rest - q.unsqueeze(-1) * rk.unsqueeze(1)
    return R[:, :, :nt], R[:, :, nt]


def zf_sic(y, H, noise_var, bits_per_symbol: int, *, dtype=None):
    """ZF-SIC soft detection via QR, Algorithm 1 of the EQ-Net paper (no ordering).

    For ``k = Nt-1`` down to ``0``: ``y~_k = (Q^H y)_k - sum_{j>k} r_kj x~_j``, LLRs of stream ``k``
    = exact SISO LLRs of ``y~_k = r_kk x_k + CN(0, s2)``, then
    ``x~_k = argmin_{x in C} |y~_k - r_kk x|^2`` (per-dimension slicing; for ``r_kk = 0`` the
    stream's LLRs are 0 and its decision, then arbitrary, does not affect other streams).
    See the module docstring for the noise-variance scaling and sign choices.

    Parameters
    ----------
    y, H, noise_var, bits_per_symbol, dtype
        As :func:`exact_ml`; ``Nr >= Nt`` is required.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        [B, Nt*K] LLRs, stream-major; float32 (or float64).

    Raises
    ------
    ValueError
        As :func:`exact_ml`, and ``Nr < Nt``.
    """
    yt, Ht, nv, k, as_numpy = _prepare(y, H, noise_var, bits_per_symbol, dtype, "zf_sic")
    b, nr, nt = Ht.shape
    if nr < nt:
        raise ValueError(f"zf_sic: needs Nr >= Nt (upper-triangular R), got Nr={nr}, Nt={nt}")
    rdt = nv.dtype
    # QR, interference cancellation and decisions in float64 whatever the output precision:
    # O(B Nt^2 Nr) work, and the decisions then do not depend on the output dtype.
    yt, Ht, nv = yt.to(torch.complex128), Ht.to(torch.complex128), nv.to(torch.float64)
    sp, _, _, dirs = _consts(k, torch.float64, str(yt.device))
    out = torch.empty((b, nt, k), dtype=rdt, device=yt.device)
    R, yhat = _mgs_qr(Ht, yt)
    inv = 1.0 / nv
    xt = torch.zeros((b, nt), dtype=yt.dtype, device=yt.device)
    for s in range(nt - 1, -1, -1):
        yk = yhat[:, s] - (R[:, s, s + 1 :] * xt[:, s + 1 :]).sum(-1)
        r = R[:, s, s].real
        u = (r * inv) * yk
        g = r * r * inv
        out[:, s] = llr_from_statistics(u, g.to(rdt), k, False)
        t = torch.view_as_real(u) if sp.n_dims == 2 else (u * dirs[0].conj()).real.unsqueeze(-1)
        lev = nearest_level(t, g[:, None], k)  # [B, D]
        xt[:, s] = (lev.to(yt.dtype) * dirs).sum(-1)
    return out_like(out.reshape(b, nt * k), as_numpy)


# ---------------------------------------------------------------------------------------------
# LMMSE
# ---------------------------------------------------------------------------------------------
class Equalized(NamedTuple):
    """Output of :func:`lmmse_equalize` (per channel use b and stream k):
    ``x_hat[b, k] = gain[b, k] * x_k + w`` with ``w`` of variance ``noise_var[b, k]``."""

    x_hat: object  #: [B, Nt] complex LMMSE estimates
    gain: object  #: [B, Nt] real in [0, 1], mu_k = 1 - LMMSE error e_k
    noise_var: object  #: [B, Nt] real, mu_k (1 - mu_k): residual interference + noise variance


def _lmmse_core(yt, Ht, nv):
    """-> (x_hat [B,Nt] complex, mu [B,Nt], err = 1 - mu [B,Nt]) computed stably."""
    z, A = _gram(Ht, yt)
    A.diagonal(dim1=1, dim2=2).add_(nv[:, None].to(A.dtype))
    L = torch.linalg.cholesky(A)  # A is Hermitian positive definite since s2 > 0
    P = torch.cholesky_inverse(L)
    x_hat = (P * z.unsqueeze(1)).sum(-1)
    err = (nv[:, None] * torch.diagonal(P, dim1=1, dim2=2).real).clamp(0.0, 1.0)
    return x_hat, 1.0 - err, err


def lmmse_equalize(y, H, noise_var, *, dtype=None):
    """LMMSE equalisation with per-stream unbiased-model statistics.

    Parameters
    ----------
    y, H, noise_var, dtype
        As :func:`exact_ml` (any Nr, Nt).

    Returns
    -------
    Equalized
        ``(x_hat [B, Nt] complex, gain [B, Nt] real, noise_var [B, Nt] real)`` where
        ``x_hat = (H^H H + s2 I)^-1 H^H y``, ``gain_k = 1 - s2 [(H^H H + s2 I)^-1]_kk`` and
        ``noise_var_k = gain_k (1 - gain_k)`` (exactly the variance of the residual interference
        plus noise in ``x_hat_k - gain_k x_k`` for unit-energy independent symbols). The
        post-equalisation SINR is ``gain / (1 - gain)``. numpy in, numpy out.
    """
    yt, Ht, nv, as_numpy = _convert(y, H, noise_var, dtype, "lmmse_equalize")
    x_hat, mu, err = _lmmse_core(yt, Ht, nv)
    return Equalized(out_like(x_hat, as_numpy), out_like(mu, as_numpy), out_like(mu * err, as_numpy))


def lmmse(y, H, noise_var, bits_per_symbol: int, *, dtype=None):
    """LMMSE equalisation followed by exact per-stream demapping.

    Each stream ``k`` is demapped exactly under the model ``x_hat_k = mu_k x_k + CN(0, mu_k(1-mu_k))``
    (see :func:`lmmse_equalize`), i.e. with metric
    ``(2 Re(conj(x) x_hat_k) - mu_k |x|^2) / (1 - mu_k)``, which stays finite for ``mu_k -> 0``
    (zero LLRs) and ``mu_k -> 1``.

    Parameters
    ----------
    y, H, noise_var, bits_per_symbol, dtype
        As :func:`exact_ml` (any Nr, Nt).

    Returns
    -------
    numpy.ndarray or torch.Tensor
        [B, Nt*K] LLRs, stream-major; float32 (or float64).
    """
    yt, Ht, nv, k, as_numpy = _prepare(y, H, noise_var, bits_per_symbol, dtype, "lmmse")
    b, _, nt = Ht.shape
    if b == 0:
        return out_like(torch.empty((0, nt * k), dtype=nv.dtype, device=yt.device), as_numpy)
    # Equalisation in float64 whatever the output precision (O(B Nt^3) work).
    x_hat, mu, err = _lmmse_core(yt.to(torch.complex128), Ht.to(torch.complex128), nv.to(torch.float64))
    inv = 1.0 / err.clamp_min(torch.finfo(torch.float64).tiny)
    llr = llr_from_statistics(x_hat * inv, (mu * inv).to(nv.dtype), k, False)  # [B, Nt, K]
    return out_like(llr.reshape(b, nt * k), as_numpy)


# ---------------------------------------------------------------------------------------------
# Expectation propagation (EP)
# ---------------------------------------------------------------------------------------------
#: EP defaults, chosen by measured BLER (docs/evaluator.md, "EP"): the number of iterations (more
#: sharpen the hard decisions but make the extrinsic LLRs overconfident), the damping of the site
#: updates, and the floor on the moment-matched variance per real dimension (the paper's 5e-7 lets
#: sites collapse onto wrong symbols and left a BLER floor near 1.5e-3 on 4x4 16-QAM; 1e-2 removes
#: it at equal BLER in the waterfall).
EP_ITERATIONS = 2
EP_BETA = 0.5
EP_EPS = 1e-2
# relative diagonal loadings tried, in order, for channel uses whose EP precision matrix is not
# numerically positive definite (e.g. Nr < Nt at sigma^2 ~ 1e-30)
_EP_LOADINGS = (1e-12, 1e-9, 1e-6, 1e-3)


class EPCavity(NamedTuple):
    """Output of :func:`ep_cavity` (per channel use b and stream k): EP's final extrinsic (cavity)
    approximation of stream k's likelihood, independent Gaussians along the real dimensions of
    the constellation (I and Q for QAM; the BPSK axis for BPSK)."""

    mean: object  #: [B, Nt] complex, the cavity mean (sum over dimensions of mean_d * direction_d)
    var: object  #: [B, Nt] real, total variance (sum over dimensions; inf where y tells nothing)
    var_dims: object  #: [B, Nt, D] real, variance per real dimension (D = 2 for QAM, 1 for BPSK)


def _chol_inverse(A):
    """Inverse of symmetric positive definite [B, n, n] float64 matrices by Cholesky (LAPACK);
    rows that are not numerically positive definite get a small relative diagonal loading
    (``_EP_LOADINGS``)."""
    L, info = torch.linalg.cholesky_ex(A)
    bad = info != 0
    if bool(bad.any()):
        n = A.shape[-1]
        idx = torch.arange(n, device=A.device)
        scale = A[bad][:, idx, idx].abs().amax(-1).clamp_min(torch.finfo(A.dtype).tiny)
        for rel in _EP_LOADINGS:
            Ab = A[bad].clone()
            Ab[:, idx, idx] += (rel * scale)[:, None]
            Lb, ib = torch.linalg.cholesky_ex(Ab)
            L[bad] = Lb
            if not bool((ib != 0).any()):
                break
    return torch.cholesky_inverse(L)


def _gj_inverse(A):
    """In-place Gauss-Jordan inverse of [n, n, B] matrices (batch innermost, no pivoting: for
    symmetric positive definite ones every pivot is a positive Schur complement). Returns
    (inverse [n, n, B], smallest pivot relative to the largest diagonal entry [B])."""
    M = A.clone()
    n = M.shape[0]
    scale = torch.diagonal(A, 0, 0, 1).abs().amax(-1).clamp_min(torch.finfo(A.dtype).tiny)
    rel = torch.full_like(scale, math.inf)
    for k in range(n):
        piv = M[k, k].clone()
        rel = torch.minimum(rel, piv / scale)
        pinv = 1.0 / piv
        M[k, k] = 1.0
        M[k] *= pinv
        f = M[:, k].clone()
        f[k] = 0.0
        M[:, k] = 0.0
        M[k, k] = pinv
        M.sub_(f.unsqueeze(1) * M[k].unsqueeze(0))
    return M, rel


def _spd_inverse(A):
    """Inverse of symmetric positive definite [n, n, B] float64 matrices (same layout out). Large
    batches: Gauss-Jordan on batch-innermost arrays (LAPACK's per-matrix calls cost ~10 us for an
    8 x 8 matrix); small ones, or channel uses whose smallest pivot is not clearly positive:
    Cholesky with diagonal loading (:func:`_chol_inverse`)."""
    b = A.shape[-1]
    if b < 64:
        return _chol_inverse(A.permute(2, 0, 1)).permute(1, 2, 0)
    P, rel = _gj_inverse(A)
    bad = ~(rel > 1e-13)  # also NaN
    if bool(bad.any()):
        P[:, :, bad] = _chol_inverse(A[:, :, bad].permute(2, 0, 1)).permute(1, 2, 0)
    return P


def _ep_core(yt, Ht, nv, k, iterations, beta, eps):
    """Real-valued EP (complex128/float64 in) -> cavity natural parameters per real dimension
    ``(p [B, D, Nt], prec [B, D, Nt])``: the cavity of dimension d of stream t is
    ``exp(p a - prec a^2 / 2)`` in the PAM amplitude ``a`` along direction ``e_d``.

    The unknowns are the PAM amplitudes ``a_{d,t}`` with ``x_t = sum_d a_{d,t} e_d`` (column
    ``d Nt + t`` of ``H e_d``); their real model has Gram matrix ``Re(Hc^H Hc)``, statistic
    ``Re(Hc^H y)`` and noise variance ``s2 / 2`` per real dimension. Works on the scaled
    precision matrix ``A = Re(Hc^H Hc) + (s2/2) diag(lam)`` (= ``s2/2`` times EP's ``Sigma^-1``),
    so nothing is divided by ``s2`` before the inversion. Arrays are held batch-innermost
    ([n, B], [n, n, B]) so that every elementwise step is vectorised over channel uses."""
    sp, alpha, alpha2, dirs = _consts(k, torch.float64, _device_key(yt))
    b, nr, nt = Ht.shape
    d = sp.n_dims
    zc, gc = _gram(Ht, yt)  # H^H y [B, Nt], H^H H [B, Nt, Nt]
    # real model of column d*Nt + t = H[:, t] e_d: Re(conj(e_d) (H^H y)_t), Re(conj(e_d) e_d' G_tt')
    z = (zc.unsqueeze(1) * dirs.conj()[:, None]).real.reshape(b, d * nt).T.contiguous()  # [n, B]
    ee = dirs.conj()[:, None] * dirs[None, :]  # [D, D]
    g0 = (gc[:, None, :, None, :] * ee[None, :, None, :, None]).real  # [B, D, Nt, D, Nt]
    g0 = g0.reshape(b, d * nt, d * nt).permute(1, 2, 0).contiguous()  # [n, n, B]
    n = d * nt
    s = 0.5 * nv  # [B]
    lam = torch.full((n, b), 1.0 / float(alpha2.mean()), dtype=torch.float64, device=yt.device)  # prior 1/E_d
    gam = torch.zeros((n, b), dtype=torch.float64, device=yt.device)
    al, al2 = alpha[:, None, None], alpha2[:, None, None]
    for it in range(iterations + 1):
        A = g0.clone()
        torch.diagonal(A, 0, 0, 1).add_((s * lam).T)
        P = _spd_inverse(A)  # Sigma / (s2/2)
        mu = (P * (z + s * gam).unsqueeze(0)).sum(1)  # posterior mean [n, B]
        inv = 1.0 / (s * torch.diagonal(P, 0, 0, 1).T)  # 1 / Sigma_ii
        prec = (inv - lam).clamp_min(0.0)  # cavity precision (>= 0: a Schur complement of G / (s2/2))
        p = mu * inv - gam  # cavity precision x cavity mean
        if it == iterations:
            return p.T.reshape(b, d, nt), prec.T.reshape(b, d, nt)
        # moments of the cavity times the uniform prior on the PAM levels, levels outermost
        f = p * al - 0.5 * prec * al2  # [A, n, B]
        e = (f - f.amax(0)).exp_()
        tot = e.sum(0)
        m = (e * al).sum(0) / tot
        v = ((e * (al - m) ** 2).sum(0) / tot).clamp_min(eps)
        lam_new = 1.0 / v - prec
        gam_new = m / v - p
        ok = lam_new > 0  # a negative site precision is not applied (as in the paper)
        lam = torch.where(ok, beta * lam_new + (1.0 - beta) * lam, lam)
        gam = torch.where(ok, beta * gam_new + (1.0 - beta) * gam, gam)
    raise AssertionError("unreachable")


def _ep_check(iterations, beta, eps, name):
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
        raise ValueError(f"{name}: iterations must be an integer >= 0, got {iterations!r}")
    if not (0.0 < float(beta) <= 1.0):
        raise ValueError(f"{name}: beta (damping) must be in (0, 1], got {beta!r}")
    if not (0.0 < float(eps) < 1.0):
        raise ValueError(f"{name}: eps (variance floor) must be in (0, 1), got {eps!r}")
    return int(iterations), float(beta), float(eps)


def _ep_run(yt, Ht, nv, k, iterations, beta, eps):
    """EP in float64 whatever the input precision; channel uses whose statistics overflow float64
    (|H|^2 / s2 beyond ~1e300) get zero cavity precision ("no information")."""
    p, prec = _ep_core(yt.to(torch.complex128), Ht.to(torch.complex128), nv.to(torch.float64), k, iterations, beta, eps)
    ok = (torch.isfinite(p) & torch.isfinite(prec)).flatten(1).all(1)[:, None, None]
    zero = torch.zeros((), dtype=p.dtype, device=p.device)
    return torch.where(ok, p, zero), torch.where(ok, prec, zero)


def ep_cavity(y, H, noise_var, bits_per_symbol: int, *, iterations=EP_ITERATIONS, beta=EP_BETA, eps=EP_EPS, dtype=None):
    """EP's final per-stream Gaussian approximations: the extrinsic (cavity) ones :func:`ep` demaps.

    Parameters
    ----------
    y, H, noise_var, bits_per_symbol, dtype
        As :func:`exact_ml` (any Nr, Nt); invalid input raises ``ValueError``.
    iterations, beta, eps
        As :func:`ep`.

    Returns
    -------
    EPCavity
        ``(mean [B, Nt] complex, var [B, Nt] real, var_dims [B, Nt, D] real)``; for QAM with
        ``iterations=0``, ``mean`` and ``var`` are LMMSE's unbiased estimate ``x_hat_k / mu_k`` and
        its error variance ``(1 - mu_k) / mu_k`` (:func:`lmmse_equalize`). numpy in, numpy out.
    """
    iterations, beta, eps = _ep_check(iterations, beta, eps, "ep_cavity")
    yt, Ht, nv, k, as_numpy = _prepare(y, H, noise_var, bits_per_symbol, dtype, "ep_cavity")
    b, _, nt = Ht.shape
    sp, _, _, dirs = _consts(k, torch.float64, _device_key(yt))
    if b == 0:
        p = prec = torch.zeros((0, sp.n_dims, nt), dtype=torch.float64, device=yt.device)
    else:
        p, prec = _ep_run(yt, Ht, nv, k, iterations, beta, eps)
    var_d = 1.0 / prec  # inf where prec = 0
    mean_d = torch.where(prec > 0, p * var_d, torch.zeros((), dtype=p.dtype, device=p.device))
    mean = (mean_d.to(dirs.dtype) * dirs[:, None]).sum(1)
    var_d = var_d.transpose(1, 2)
    return EPCavity(
        out_like(mean.to(yt.dtype), as_numpy),
        out_like(var_d.sum(-1).to(nv.dtype), as_numpy),
        out_like(var_d.to(nv.dtype), as_numpy),
    )


def ep(y, H, noise_var, bits_per_symbol: int, *, iterations=EP_ITERATIONS, beta=EP_BETA, eps=EP_EPS, dtype=None):
    """Expectation-propagation (EP) detection followed by exact per-stream demapping.

    EP (Céspedes, Olmos, Sánchez-Fernández & Pérez-Cruz, "Expectation Propagation Detection for
    High-Order High-Dimensional MIMO Systems") works on the real-valued model: the unknowns are
    the PAM amplitudes ``a_i`` of the real dimensions of every stream (I and Q for QAM), each with
    a uniform prior on its levels. It replaces each prior by a Gaussian site
    ``exp(-lam_i a_i^2 / 2 + gam_i a_i)`` and refines the sites by moment matching; per iteration,
    with ``G``, ``z`` the real Gram matrix and matched filter and ``s = noise_var / 2``:
    ``Sigma = (G / s + diag(lam))^-1``, ``mu = Sigma (z / s + gam)``; the cavity of ``a_i`` (the
    posterior without its own site) is ``N(t_i, h_i^2)`` with ``1/h_i^2 = 1/Sigma_ii - lam_i``,
    ``t_i / h_i^2 = mu_i / Sigma_ii - gam_i``; the cavity times the prior has mean ``m_i`` and
    variance ``v_i`` (floored at ``eps``), giving the new site ``lam_i = 1/v_i - 1/h_i^2``,
    ``gam_i = m_i/v_i - t_i/h_i^2``, applied with damping ``beta`` (``beta new + (1 - beta) old``)
    and skipped where ``lam_i`` would be negative. Sites start at the prior's moments
    (``lam_i = 1 / E[a_i^2]``, ``gam_i = 0``).

    The LLRs are the exact LLRs of the final cavities (the extrinsic information of each stream),
    i.e. per real dimension of the metric ``a t_i / h_i^2 - a^2 / (2 h_i^2)`` over the PAM
    levels, with the per-level offsets and log-sum-exp of :func:`lmmse`'s demapper
    (:func:`.mapping.level_offsets`). They are finite by construction in float64 (float32 output
    overflows where :func:`lmmse`'s does, ``|L|`` beyond 3e38, e.g. sigma^2 ~ 1e-40;
    ``mimo_detector`` recomputes such channel uses in float64): ``1/h_i^2 >= 0`` is a Schur
    complement of ``G / s`` (0 gives zero LLRs), the factorisation gets a small diagonal
    loading where it is not numerically positive definite, and channel uses whose statistics
    overflow float64 get zero LLRs. For QAM with ``iterations=0`` the cavities are LMMSE's
    unbiased model and the LLRs are :func:`lmmse`'s; with one stream (Nt = 1, any Nr) the cavity
    is the likelihood itself at every iteration and the LLRs are exact ML's. Work per channel
    use: ``iterations + 1`` inversions of a ``2 Nt x 2 Nt`` symmetric positive definite real
    matrix (``Nt x Nt`` for BPSK) plus ``O(Nt sqrt(M))`` moments per iteration; no hypotheses are
    enumerated. :func:`ep_cpp` computes the same in the module's C++ kernel (what
    ``mimo_detector`` runs); this function stays the reference and serves torch / GPU tensors.

    Parameters
    ----------
    y, H, noise_var, bits_per_symbol, dtype
        As :func:`exact_ml` (any Nr, Nt). EP itself runs in float64 whatever ``dtype``.
    iterations : int, >= 0
        Site updates (default :data:`EP_ITERATIONS`, chosen by measured BLER).
    beta : float in (0, 1]
        Damping (default :data:`EP_BETA`).
    eps : float in (0, 1)
        Floor on the moment-matched variance per real dimension (default :data:`EP_EPS`; the
        paper uses 5e-7).

    Returns
    -------
    numpy.ndarray or torch.Tensor
        [B, Nt*K] LLRs, stream-major; float32 (or float64).
    """
    iterations, beta, eps = _ep_check(iterations, beta, eps, "ep")
    yt, Ht, nv, k, as_numpy = _prepare(y, H, noise_var, bits_per_symbol, dtype, "ep")
    b, _, nt = Ht.shape
    if b == 0:
        return out_like(torch.empty((0, nt * k), dtype=nv.dtype, device=yt.device), as_numpy)
    p, prec = _ep_run(yt, Ht, nv, k, iterations, beta, eps)  # [B, D, Nt]
    sp = _spec(k)
    # metric p a - prec a^2 / 2 = 2 a t - g a^2 with t = p / 2, g = prec / 2; batch innermost
    t = (0.5 * p).transpose(0, 1).reshape(sp.n_dims, b * nt)
    g = (0.5 * prec).transpose(0, 1).reshape(sp.n_dims, b * nt)
    f, _ = level_offsets(t, g, k, nv.dtype)  # [D, A, n]
    llr = llr_from_label_metrics(f, sp.bits_per_dim, False)  # [D, m, n]
    return out_like(llr.permute(2, 1, 0).reshape(b, nt * k), as_numpy)


#: streams the C++ EP kernel handles (its matrices live on the stack)
EP_CPP_MAX_STREAMS = 16


@functools.lru_cache(maxsize=64)
def ep_kernel(nr: int, nt: int, bits_per_symbol: int, iterations=EP_ITERATIONS, beta=EP_BETA, eps=EP_EPS):
    """The compiled ``ep_detector`` (the module's kernel library) for (Nr, Nt, K) and EP's
    parameters, made once per combination; loads the compiled bindings on first use."""
    from .. import deepquant_python as dq

    iterations, beta, eps = _ep_check(iterations, beta, eps, "ep_kernel")
    if not (1 <= int(nt) <= EP_CPP_MAX_STREAMS) or int(nr) < 1:
        raise ValueError(f"ep_kernel: need nr >= 1 and 1 <= nt <= {EP_CPP_MAX_STREAMS}, got nr={nr}, nt={nt}")
    sp = _spec(check_bits_per_symbol(bits_per_symbol))
    d = complex(sp.directions[0])
    return dq.ep_detector(
        int(nr),
        int(nt),
        [int(v) for v in sp.levels],
        float(sp.scale),
        int(sp.n_dims),
        d.real,
        d.imag,
        iterations,
        beta,
        eps,
    )


def ep_cpp(
    y,
    H,
    noise_var,
    bits_per_symbol: int,
    *,
    iterations=EP_ITERATIONS,
    beta=EP_BETA,
    eps=EP_EPS,
    on_invalid: str = "raise",
    return_status: bool = False,
):
    """:func:`ep` computed by the module's C++ kernel ``ep_detector`` (one thread, CPU).

    The same algorithm step for step (float64 EP, float32 demapping of the final cavities with
    the level offsets of :func:`ep`), so the LLRs are :func:`ep`'s float32 ones to float
    rounding (tests: ~3e-7 of the channel use's largest ``|L|``). Differences: inputs are taken
    as complex64 / float32 (the precision of the module's streams); channel uses whose EP
    precision matrix is not numerically positive definite get the smallest diagonal loading
    that factorises *that* channel use (:func:`ep` applies one loading to all such uses of a
    batch); LLRs beyond float32's range are saturated at +-3.4e38 instead of overflowing.
    Nt <= :data:`EP_CPP_MAX_STREAMS`.

    Parameters
    ----------
    y, H, noise_var, bits_per_symbol
        As :func:`exact_ml`; numpy arrays or CPU tensors (converted to complex64 / float32).
    iterations, beta, eps
        As :func:`ep`.
    on_invalid : {"raise", "zero"}
        As :func:`detect`: invalid channel uses (:func:`bad_channel_uses`) raise ``ValueError``,
        or get zero LLRs.
    return_status : bool
        Also return the kernel's status per channel use (uint8 [B]: 0 detected, 1 invalid input,
        2 float32 overflow).

    Returns
    -------
    numpy.ndarray
        [B, Nt*K] float32 LLRs, stream-major, finite (and the status with ``return_status``).
    """
    iterations, beta, eps = _ep_check(iterations, beta, eps, "ep_cpp")
    k = check_bits_per_symbol(bits_per_symbol)
    if on_invalid not in ("raise", "zero"):
        raise ValueError(f"on_invalid must be 'raise' or 'zero', got {on_invalid!r}")

    def arr(x, dt):
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().numpy()
        return np.asarray(x, dtype=dt)  # (np.ascontiguousarray would make a scalar 1-D)

    y, H = arr(y, np.complex64), arr(H, np.complex64)
    if y.ndim != 2:
        raise ValueError(f"ep_cpp: y must have shape [B, Nr], got {y.shape}")
    b, nr = y.shape
    if H.ndim != 3 or H.shape[:2] != (b, nr) or H.shape[2] < 1 or nr < 1:
        raise ValueError(f"ep_cpp: H must have shape [B, Nr, Nt] = [{b}, {nr}, Nt] to match y {y.shape}, got {H.shape}")
    nt = H.shape[2]
    nv = arr(noise_var, np.float32)
    if nv.ndim == 0:
        nv = np.full(b, nv, np.float32)
    elif nv.shape != (b,):
        raise ValueError(f"ep_cpp: noise_var must be a scalar or have shape [B] = [{b}], got {nv.shape}")
    llr, status = ep_kernel(nr, nt, k, iterations, beta, eps).detect(y, H, nv, True)
    if on_invalid == "raise" and bool((status == 1).any()):
        _prepare(y, H, nv, k, None, "ep_cpp")  # raises, naming what is invalid
    return (llr, status) if return_status else llr


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------
#: name -> detector function, all with the signature
#: ``(y [B,Nr], H [B,Nr,Nt], noise_var [B], bits_per_symbol, *, dtype=None) -> L [B, Nt*K]``.
DETECTORS = {
    "exact_ml": exact_ml,
    "maxlog_ml": maxlog_ml,
    "zf_sic": zf_sic,
    "lmmse": lmmse,
    "ep": ep,
}

#: the classical detectors above (learned ones, e.g. ``eqnet_l``, are listed with these by
#: :mod:`gnuradio.deepquant.registry`, which sits above this module)
CLASSICAL = ("exact_ml", "maxlog_ml", "zf_sic", "lmmse", "ep")


def detect(method: str, y, H, noise_var, bits_per_symbol: int, *, on_invalid: str = "raise", **kwargs):
    """Run the detector ``DETECTORS[method]``.

    Parameters
    ----------
    method : str or callable
        A key of :data:`DETECTORS`, or a detector function with the same signature (e.g. from
        :func:`gnuradio.deepquant.registry.detector`, which also knows the ``eqnet_*`` names).
    y, H, noise_var, bits_per_symbol
        As :func:`exact_ml`.
    on_invalid : {"raise", "zero"}
        What to do with channel uses flagged by :func:`bad_channel_uses` (non-finite ``y``/``H``,
        ``noise_var`` <= 0 or NaN): raise ``ValueError`` (default), or output all-zero LLRs for
        them ("no information") and detect the others normally. Count them with
        ``bad_channel_uses(...).sum()``. Shape errors always raise.
    **kwargs
        Passed to the detector (``dtype``, ``chunk_size`` for the ML detectors).

    Returns
    -------
    numpy.ndarray or torch.Tensor
        [B, Nt*K] LLRs.
    """
    if callable(method):
        fn = method
    else:
        try:
            fn = DETECTORS[method]
        except (KeyError, TypeError):
            raise ValueError(
                f"unknown detection method {method!r}; choose one of {sorted(DETECTORS)} "
                "(learned detectors such as 'eqnet_l': gnuradio.deepquant.registry.detect)"
            ) from None
    if on_invalid == "raise":
        return fn(y, H, noise_var, bits_per_symbol, **kwargs)
    if on_invalid != "zero":
        raise ValueError(f"on_invalid must be 'raise' or 'zero', got {on_invalid!r}")
    rdt = resolve_dtype(kwargs.get("dtype"))
    yt, Ht, nv, as_numpy = _convert(y, H, noise_var, rdt, f"detect({method})")
    bad = _bad_mask(yt, Ht, nv)
    if bool(bad.any()):
        eye = torch.eye(Ht.shape[1], Ht.shape[2], dtype=Ht.dtype, device=Ht.device)
        yt = torch.where(bad[:, None], torch.zeros((), dtype=yt.dtype, device=yt.device), yt)
        Ht = torch.where(bad[:, None, None], eye, Ht)
        nv = torch.where(bad, torch.ones((), dtype=nv.dtype, device=nv.device), nv)
    llr = fn(yt, Ht, nv, bits_per_symbol, **kwargs)
    llr = llr.masked_fill(bad[:, None], 0.0)
    return out_like(llr, as_numpy)
