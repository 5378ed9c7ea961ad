"""Trainable task-based quantizers (torch): analog combiner -> p identical scalar ADCs -> digital net.

Shapes: input ``x`` (B, n) float32 real-stacked pilot block, output ``s_hat`` (B, k) float32; the
ADC input ``z`` is (B, p).  No GNU Radio import; inference of trained models runs without torch
(:mod:`.estimators`, through the C++ kernel).

Two ways through the non-differentiable ADC (paper 000, Sec. III):

* :class:`PassingGradientADC` -- forward: the fixed uniform codebook on ``[-r, r]`` (r = 3);
  backward: identity (straight-through).
* :class:`SoftToHardADC` -- eq. (3), ``q~(z) = sum_i a_i tanh(c_i z - b_i)`` with learnable a_i,
  b_i (shared by the p ADCs: they are identical) and fixed or annealed c_i.  Internally the
  thresholds ``t_i = b_i / c_i`` are the parameters (``b_i = c_i t_i``): the same function class,
  and annealing c (multiplying it during training) then keeps the thresholds where training put
  them instead of dragging them towards 0.  ``hard()`` gives eq. (4).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from . import hard as _hard

__all__ = ["SoftToHardADC", "PassingGradientADC", "EnergyGain", "TaskBasedQuantizer"]


class SoftToHardADC(nn.Module):
    """Sum-of-tanh soft quantizer, eq. (3), applied elementwise (identical ADCs).

    Parameters
    ----------
    num_levels : int
        M >= 2 (M - 1 tanh terms).
    c : float
        Initial slope of every term (paper: 5, fixed).
    init : {'normal', 'spread'}
        'normal': a_i, b_i ~ N(0, 1) (the paper); 'spread': thresholds at the Lloyd-Max-like
        positions ``Phi^-1(i/M)`` of a unit Gaussian and equal a_i (not used for the shipped models).
    generator : torch.Generator, optional
    """

    def __init__(self, num_levels: int, c: float = 5.0, init: str = "normal", generator=None):
        super().__init__()
        m = int(num_levels)
        if m < 2:
            raise ValueError("num_levels must be >= 2")
        self.num_levels = m
        c0 = torch.full((m - 1,), float(c))
        if init == "normal":
            a = torch.randn(m - 1, generator=generator)
            b = torch.randn(m - 1, generator=generator)
        elif init == "spread":
            from scipy.stats import norm

            t = torch.tensor(norm.ppf(np.arange(1, m) / m), dtype=torch.float32)
            b = t * c0
            a = torch.full((m - 1,), 1.0 / (m - 1))
        else:
            raise ValueError(f"unknown init {init!r}")
        self.register_buffer("c", c0)
        self.a = nn.Parameter(a.float())
        self.t = nn.Parameter((b / c0).float())

    @property
    def b(self) -> torch.Tensor:
        """Shifts ``b_i = c_i t_i``."""
        return self.c * self.t

    def scale_c(self, factor: float) -> None:
        """Anneal: multiply every c_i by ``factor`` keeping the thresholds ``b_i / c_i``."""
        self.c.mul_(float(factor))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh((z.unsqueeze(-1) - self.t) * self.c) @ self.a

    def hard(self):
        """(thresholds (M-1,), levels (M,)) float64 numpy, eq. (4)."""
        with torch.no_grad():
            return _hard.soft_to_hard(self.a.double().numpy(), self.b.double().numpy(), self.c.double().numpy())

    def params_numpy(self) -> dict:
        with torch.no_grad():
            return {"a": self.a.double().numpy(), "b": self.b.double().numpy(), "c": self.c.double().numpy()}


class _StraightThrough(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, lo, hi, m):
        delta = (hi - lo) / m
        idx = torch.clamp(torch.floor((z - lo) / delta), 0, m - 1)
        return lo + (idx + 0.5) * delta

    @staticmethod
    def backward(ctx, grad):
        return grad, None, None, None


class PassingGradientADC(nn.Module):
    """Fixed uniform mid-rise codebook on ``[-r, r]`` with M levels; identity gradient."""

    def __init__(self, num_levels: int, dynamic_range: float = 3.0):
        super().__init__()
        if int(num_levels) < 2:
            raise ValueError("num_levels must be >= 2")
        self.num_levels = int(num_levels)
        self.dynamic_range = float(dynamic_range)

    def forward(self, z):
        r = self.dynamic_range
        return _StraightThrough.apply(z, -r, r, self.num_levels)

    def hard(self):
        return _hard.passing_gradient_quantizer(self.num_levels, self.dynamic_range)


class EnergyGain(nn.Module):
    """Energy-adaptive output gain of the digital network: ``1 + g(mean_j q_j^2)``.

    ``g`` is a 1 -> width -> 1 tanh MLP (zero-initialised output, so training starts from the
    plain linear estimator).  With SNR uncertainty the MMSE estimate is a shrinkage
    ``beta(P) * (matched filter)`` whose gain depends on P; the energy of the ADC outputs of one
    pilot block carries (noisy) information about P, and this lets a data-trained digital
    estimator adapt its gain per block -- still learned from data only.
    """

    def __init__(self, width: int = 16):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(1, width), nn.Tanh(), nn.Linear(width, 1))
        nn.init.zeros_(self.net[2].weight)
        nn.init.zeros_(self.net[2].bias)

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        """(B, p) ADC outputs -> (B, 1) gain."""
        return 1.0 + self.net(torch.mean(q * q, dim=1, keepdim=True))


class TaskBasedQuantizer(nn.Module):
    """Analog combiner (n -> p, linear) -> p identical ADCs -> digital network (p -> k).

    Parameters
    ----------
    n, p, k : int
        Observations, ADCs, unknowns.
    adc : nn.Module
        :class:`SoftToHardADC` or :class:`PassingGradientADC`.
    digital_hidden : sequence of int
        Hidden widths of the digital network (ReLU); empty = one linear layer (the paper).
    digital_gain : bool
        Multiply the digital output by an :class:`EnergyGain` (for SNR-uncertainty training).
    x_scale : float
        Fixed input gain applied before the combiner (1/RMS of the training observations); it is
        folded into the combiner weights on export.
    agc : bool
        Automatic gain control in front of the ADCs: during training each ADC input is divided by
        its RMS over the mini-batch (tracked as a running value for evaluation), so the ADC sees
        unit power whatever the combiner's scale.  Without it (and with the paper's fixed c = 5)
        the soft-to-hard network escapes the quantizer by shrinking its input into the linear part
        of the tanh (measured: soft MSE 0.014, hard MSE 2.2 at M = 2).  On export the gain is
        folded into the combiner.
    """

    def __init__(
        self,
        n: int,
        p: int,
        k: int,
        adc: nn.Module,
        digital_hidden=(),
        x_scale: float = 1.0,
        generator=None,
        agc: bool = True,
        agc_momentum: float = 0.05,
        agc_rms: float = 1.0,
        digital_gain: bool = False,
    ):
        super().__init__()
        self.n, self.p, self.k = int(n), int(p), int(k)
        self.x_scale = float(x_scale)
        self.agc = bool(agc)
        self.agc_momentum = float(agc_momentum)
        self.agc_rms = float(agc_rms)
        self.register_buffer("z_rms", torch.ones(self.p))
        self.combiner = nn.Linear(self.n, self.p)
        self.adc = adc
        layers = []
        width = self.p
        for h in digital_hidden:
            layers += [nn.Linear(width, int(h)), nn.ReLU()]
            width = int(h)
        layers.append(nn.Linear(width, self.k))
        self.digital = nn.Sequential(*layers)
        self.digital_hidden = tuple(int(h) for h in digital_hidden)
        self.gain = EnergyGain() if digital_gain else None
        if generator is not None:  # reproducible default (Kaiming-uniform-like) init
            for mod in self.modules():
                if isinstance(mod, nn.Linear):
                    bound = 1.0 / math.sqrt(mod.in_features)
                    with torch.no_grad():
                        mod.weight.uniform_(-bound, bound, generator=generator)
                        mod.bias.uniform_(-bound, bound, generator=generator)

    def analog(self, x: torch.Tensor) -> torch.Tensor:
        """ADC inputs z (B, p) (after the AGC when enabled)."""
        z = self.combiner(x * self.x_scale)
        if not self.agc:
            return z
        if self.training:
            rms = torch.sqrt(torch.mean(z * z, dim=0) + 1e-12)
            with torch.no_grad():
                self.z_rms.mul_(1 - self.agc_momentum).add_(self.agc_momentum * rms)
            return z * (self.agc_rms / rms)
        return z * (self.agc_rms / self.z_rms)

    def calibrate_agc(self, x: torch.Tensor) -> None:
        """Set the AGC gains to the exact RMS of the ADC inputs over ``x`` (end of training)."""
        if not self.agc:
            return
        with torch.no_grad():
            z = self.combiner(x * self.x_scale)
            self.z_rms.copy_(torch.sqrt(torch.mean(z * z, dim=0) + 1e-12))

    def digital_out(self, q: torch.Tensor) -> torch.Tensor:
        """Digital network on ADC outputs q (B, p) -> (B, k)."""
        out = self.digital(q)
        return out if self.gain is None else out * self.gain(q)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.digital_out(self.adc(self.analog(x)))

    def forward_hard(self, x: torch.Tensor) -> torch.Tensor:
        """Forward pass with the extracted hard quantizer (torch reference, for training checks)."""
        thr, lev = self.adc.hard()
        z = self.analog(x)
        t = torch.as_tensor(thr, dtype=z.dtype)
        lv = torch.as_tensor(lev, dtype=z.dtype)
        q = lv[torch.bucketize(z.contiguous(), t, right=True)]
        return self.digital_out(q)

    def export(self) -> dict:
        """numpy float32 tensors of the deployable hard system (input gain folded in)."""
        thr, lev = self.adc.hard()
        with torch.no_grad():
            g = (self.agc_rms / self.z_rms) if self.agc else torch.ones(self.p)
            out = {
                "combiner.weight": (self.combiner.weight * self.x_scale * g[:, None]).numpy().astype(np.float32),
                "combiner.bias": (self.combiner.bias * g).numpy().astype(np.float32),
                "adc.thresholds": np.asarray(thr, dtype=np.float32),
                "adc.levels": np.asarray(lev, dtype=np.float32),
            }
            li = 0
            for mod in self.digital:
                if isinstance(mod, nn.Linear):
                    out[f"digital.{li}.weight"] = mod.weight.numpy().astype(np.float32)
                    out[f"digital.{li}.bias"] = mod.bias.numpy().astype(np.float32)
                    li += 1
            if self.gain is not None:
                out["digital.gain.0.weight"] = self.gain.net[0].weight.numpy().astype(np.float32)
                out["digital.gain.0.bias"] = self.gain.net[0].bias.numpy().astype(np.float32)
                out["digital.gain.1.weight"] = self.gain.net[2].weight.numpy().astype(np.float32)
                out["digital.gain.1.bias"] = self.gain.net[2].bias.numpy().astype(np.float32)
        if isinstance(self.adc, SoftToHardADC):
            for key, val in self.adc.params_numpy().items():
                out[f"adc.soft.{key}"] = val.astype(np.float32)
        return out
