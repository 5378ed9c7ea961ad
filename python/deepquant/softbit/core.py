"""Numeric core of entropy-aware soft-bit compression (paper 001, Arvinte & Tamir): the fixed
latent quantizer, the encoder/decoder networks, the sample-weighted distortion (eq. 3) and the
tau-soft entropy (eq. 7).  Torch only; no GNU Radio import.

Conventions
-----------
* LLR ``L = ln P(b=1|y) / P(b=0|y)`` (positive means bit 1), as everywhere in the module.
* Soft bit ``Lambda = tanh(L / 2)`` in (-1, 1); rows are channel uses, columns the ``K`` bits
  ``b0 ... b(K-1)`` of one QAM symbol (38.211 labelling), shape ``(n, K)``.

Choices the paper leaves open (documented here once)
----------------------------------------------------
* Latent quantizer: "64 uniform levels on [-0.8, 0.8]" is read as levels that *include* both
  endpoints, ``Q_i = -0.8 + i * 1.6 / 63`` (i = 0..63), with decision thresholds halfway between
  neighbouring levels; latents outside [-0.8, 0.8] map to the end levels.  This is not the
  mid-rise ``make_uniform`` grid of the foundation kernel (whose levels stop half a step inside
  the interval), so the kernel is built with explicit thresholds/levels
  (:func:`latent_kernel`).  In training the same grid is computed in torch (:func:`quantize_st`);
  a unit test checks that the two agree.
* tau-soft entropy: the paper calls tau an *inverse* temperature and anneals it upward
  (tau_t = 40 * 1.001^t), so the soft assignment is ``softmax_i(-tau * (z - Q_i)^2)`` (the printed
  ``/tau`` would make the assignment flatter as training proceeds, contradicting the text).
  ``t`` counts optimisation steps (the paper's "epoch"; our epochs are single steps over a fresh
  random mini-batch).  ``p_i`` are the hard histogram frequencies of ``Q(z)`` in the mini-batch per
  latent dimension (no gradient), floored at 1e-6.  The entropy is in bits per latent, averaged
  over the three latent dimensions.
* Distortion eq. (3) with ``eps = 1e-3``.
* Hidden layers: four in encoder and decoder (section IV-A), ReLU, Glorot-uniform weights, zero
  biases; tanh at both outputs.  Width ``width_factor * K``: the text says 4K, the shipped models
  use 8K (see :mod:`.train` for the measurement behind this choice).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

LATENT_DIM = 3
LATENT_LEVELS = 64
LATENT_LO, LATENT_HI = -0.8, 0.8
DISTORTION_EPS = 1e-3
TAU0, TAU_GROWTH = 40.0, 1.001


def latent_levels() -> np.ndarray:
    """The 64 reconstruction levels of the fixed latent quantizer, float32, ascending, from -0.8
    to 0.8 inclusive (step 1.6/63)."""
    return np.linspace(LATENT_LO, LATENT_HI, LATENT_LEVELS).astype(np.float32)


def latent_thresholds() -> np.ndarray:
    """The 63 decision thresholds (midpoints between levels), float32."""
    lv = latent_levels().astype(np.float64)
    return ((lv[1:] + lv[:-1]) / 2).astype(np.float32)


def latent_kernel():
    """The foundation's C++ ``scalar_quantizer`` for the latent grid (used at inference)."""
    from gnuradio import deepquant as dq

    return dq.scalar_quantizer([float(t) for t in latent_thresholds()], [float(v) for v in latent_levels()])


def quantize_index_torch(z: torch.Tensor) -> torch.Tensor:
    """Index of the nearest latent level (int64, same shape); the kernel's rule (a value equal to
    a threshold goes up) up to float rounding exactly at thresholds."""
    thr = torch.as_tensor(latent_thresholds(), dtype=z.dtype, device=z.device)
    return torch.bucketize(z.detach(), thr, right=True)


def quantize_st(z: torch.Tensor) -> torch.Tensor:
    """Eq. (5): forward ``Q(z)``, backward identity (straight-through / pass-through)."""
    lv = torch.as_tensor(latent_levels(), dtype=z.dtype, device=z.device)
    zq = lv[quantize_index_torch(z)]
    return z + (zq - z).detach()


def tau_at(step: int, tau_max=None) -> float:
    """Inverse temperature of the soft entropy at optimisation step ``step``: 40 * 1.001^step,
    capped at ``tau_max`` when given (see train.py: without a cap, runs longer than ~15 k steps
    reach tau ~ 1e9, where the soft assignment is hard except in a sliver at the cell boundaries
    and its gradients destabilise training)."""
    tau = TAU0 * TAU_GROWTH ** min(step, 100_000)
    return min(tau, float(tau_max)) if tau_max else tau


def soft_entropy_conditional(
    z: torch.Tensor, tau: float, group: torch.Tensor, n_groups: int, prior_weight: float = 16.0
) -> torch.Tensor:
    """tau-soft entropy conditioned on a per-row group (e.g. the effective-SNR bin the coder's
    tables are chosen by): like :func:`soft_entropy` but each row's code length uses the
    histogram of its own group, smoothed toward the pooled histogram with ``prior_weight``
    pseudo-counts, ``p_g = (c_g + w p) / (n_g + w)``.  Bits per latent.

    This is H(Z | group) instead of the paper's H(Z): the codecs code each segment of a frame
    with an effective-SNR-binned table, so the pooled entropy over-counts the rate the coder pays
    (it also charges for the spread *between* SNRs)."""
    lv = torch.as_tensor(latent_levels(), dtype=z.dtype, device=z.device)
    q = torch.softmax(-tau * (z.unsqueeze(-1) - lv) ** 2, dim=-1)  # (n, D, M)
    with torch.no_grad():
        idx = quantize_index_torch(z)  # (n, D)
        n, d = idx.shape
        cell = (group.view(-1, 1) * d + torch.arange(d, device=z.device).view(1, -1)) * LATENT_LEVELS + idx
        counts = torch.zeros(n_groups * d * LATENT_LEVELS, dtype=z.dtype, device=z.device)
        counts.scatter_add_(0, cell.reshape(-1), torch.ones(n * d, dtype=z.dtype, device=z.device))
        counts = counts.view(n_groups, d, LATENT_LEVELS)
        pooled = counts.sum(0) / n  # (D, M)
        ng = counts.sum(-1, keepdim=True)  # (G, D, 1)
        p = ((counts + prior_weight * pooled) / (ng + prior_weight)).clamp_min(1e-6)
        logp = torch.log2(p)[group]  # (n, D, M)
    return -(q * logp).sum(-1).mean()


def soft_entropy(z: torch.Tensor, tau: float) -> torch.Tensor:
    """tau-soft entropy, eq. (7), in bits per latent (mean over latent dimensions).

    Parameters
    ----------
    z : torch.Tensor
        Continuous latents, shape ``(n, D)``.
    tau : float
        Inverse temperature (> 0).

    Returns
    -------
    torch.Tensor
        Scalar.  ``-(1/n) sum_j sum_i q_ij log2 p_i`` with ``q_ij = softmax_i(-tau (z_j - Q_i)^2)``
        and ``p_i`` the (gradient-free) histogram of ``Q(z)`` per dimension.
    """
    lv = torch.as_tensor(latent_levels(), dtype=z.dtype, device=z.device)
    q = torch.softmax(-tau * (z.unsqueeze(-1) - lv) ** 2, dim=-1)  # (n, D, M)
    with torch.no_grad():
        idx = quantize_index_torch(z)  # (n, D)
        counts = torch.zeros(z.shape[1], LATENT_LEVELS, dtype=z.dtype, device=z.device)
        counts.scatter_add_(1, idx.T, torch.ones_like(idx.T, dtype=z.dtype))
        p = (counts / z.shape[0]).clamp_min(1e-6)
        logp = torch.log2(p)  # (D, M)
    return -(q * logp).sum(-1).mean()


def distortion(lam: torch.Tensor, lam_hat: torch.Tensor, eps: float = DISTORTION_EPS) -> torch.Tensor:
    """Sample-weighted squared error of eq. (3): ``mean(|Lambda - Lambda~|^2 / (|Lambda| + eps))``."""
    return ((lam - lam_hat) ** 2 / (lam.abs() + eps)).mean()


def _mlp(sizes, out_act: nn.Module) -> nn.Sequential:
    layers = []
    for i in range(len(sizes) - 1):
        lin = nn.Linear(sizes[i], sizes[i + 1])
        nn.init.xavier_uniform_(lin.weight)
        nn.init.zeros_(lin.bias)
        layers.append(lin)
        layers.append(nn.ReLU() if i < len(sizes) - 2 else out_act)
    return nn.Sequential(*layers)


class SoftBitAutoencoder(nn.Module):
    """Encoder f (K -> 4K x hidden_layers -> 3, tanh) and mirrored decoder g (3 -> 4K x
    hidden_layers -> K, tanh), applied row-wise (eq. 4 and 8).

    Parameters
    ----------
    bits_per_symbol : int
        ``K``.
    hidden_layers : int
        Hidden layers in each of f and g (paper: 4).
    width_factor : int
        Hidden width = width_factor * K (paper: 4).
    """

    def __init__(self, bits_per_symbol: int, hidden_layers: int = 4, width_factor: int = 4):
        super().__init__()
        k = int(bits_per_symbol)
        w = width_factor * k
        self.bits_per_symbol = k
        self.hidden_layers = int(hidden_layers)
        self.width_factor = int(width_factor)
        self.encoder = _mlp([k] + [w] * hidden_layers + [LATENT_DIM], nn.Tanh())
        self.decoder = _mlp([LATENT_DIM] + [w] * hidden_layers + [k], nn.Tanh())

    def forward(self, lam: torch.Tensor, quantize: bool = True):
        """Returns ``(lam_hat, z)``: reconstruction (n, K) and continuous latents (n, 3)."""
        z = self.encoder(lam)
        zq = quantize_st(z) if quantize else z
        return self.decoder(zq), z


def llr_to_softbit(llr):
    """``tanh(L/2)`` (numpy or torch, dtype kept)."""
    if isinstance(llr, torch.Tensor):
        return torch.tanh(llr / 2)
    return np.tanh(np.asarray(llr, dtype=np.float32) / 2)


SOFTBIT_CLIP = 1.0 - 2.0**-20  # |Lambda~| cap before atanh: |L| <= 2 atanh(1 - 2^-20) ~= 28.4


def softbit_to_llr(lam):
    """``2 atanh(Lambda)`` with ``|Lambda|`` capped at ``1 - 2^-20`` (|L| <= 28.4), numpy float32."""
    lam = np.clip(np.asarray(lam, dtype=np.float64), -SOFTBIT_CLIP, SOFTBIT_CLIP)
    return (2.0 * np.arctanh(lam)).astype(np.float32)
