"""numpy-callable channel estimators (no torch, no GNU Radio): received pilot blocks in, channel
estimates out.  Every ADC runs through the module's C++ kernel
(:class:`gnuradio.deepquant.scalar_quantizer`).

All estimators share :class:`ChannelEstimator`'s calling convention::

    est = TBQEstimator.load_shipped(n_t=10, n_u=4, tau_p=12, rate=1.0)
    H = est(Y)          # Y: (B, tau_p*n_t) or (tau_p*n_t,) complex -> H: (B, n_t*n_u) complex64

* input ``Y[b, t*n_t + a]``: antenna a at pilot time t (eq. 5 ordering; the tau_p consecutive
  n_t-antenna snapshots concatenated);
* output ``H[b, a*n_u + u]``: row-major n_t x n_u channel matrix, as the toolkit's MIMO blocks
  expect (``layout='paper'`` gives eq. 5's ``h[u*n_t + a]`` instead);
* ``adc_bits_per_block``: ADC bits the estimator spends per pilot block (None: unquantized);
  ``rate``: bits per real observation.

Estimators: :class:`TBQEstimator` (learned combiner + learned/fixed ADCs + digital network, from a
safetensors file), :class:`MMSEEstimator` (no quantization), :class:`UniformADCEstimator`
(task-ignorant uniform ADCs on every observation + LMMSE; BLMMSE for 1 bit) and
:class:`HardwareLimitedEstimator` (SER's model-based design with uniform ADCs).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

import numpy as np

from . import bounds as _bounds
from .system import ChannelSetup, complex_to_real, h_to_rowmajor

__all__ = [
    "ChannelEstimator",
    "TBQEstimator",
    "MMSEEstimator",
    "UniformADCEstimator",
    "HardwareLimitedEstimator",
    "shipped_models_dir",
    "list_shipped_models",
    "find_shipped_model",
    "make_estimator",
    "METHODS",
]

METHODS = ("soft_to_hard", "passing_gradient", "hardware_limited")


def _kernel(thresholds, levels):
    from gnuradio import deepquant as dq

    return dq.scalar_quantizer([float(v) for v in thresholds], [float(v) for v in levels])


class ChannelEstimator:
    """Base class: complex pilot blocks -> channel estimates (see the module docstring).

    Subclasses implement :meth:`estimate_real` ``x (B, n) float32 -> s_hat (B, k) float32``.
    """

    adc_bits_per_block: Optional[float] = None

    def __init__(self, n_t: int, n_u: int, tau_p: int, snr: float = 4.0):
        self.setup = ChannelSetup(int(n_t), int(n_u), int(tau_p), float(snr))

    @property
    def rate(self) -> Optional[float]:
        """ADC bits per real observation (None when unquantized)."""
        b = self.adc_bits_per_block
        return None if b is None else b / self.setup.n

    def estimate_real(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, y, layout: str = "rowmajor") -> np.ndarray:
        """Estimate the channel from received pilot blocks.

        Parameters
        ----------
        y : array_like complex, shape (tau_p*n_t,) or (B, tau_p*n_t)
        layout : {'rowmajor', 'paper'}
            'rowmajor': H[a*n_u + u] (toolkit MIMO blocks); 'paper': h[u*n_t + a] (eq. 5).

        Returns
        -------
        ndarray complex64, shape (n_t*n_u,) or (B, n_t*n_u)
        """
        y = np.asarray(y)
        single = y.ndim == 1
        y2 = np.atleast_2d(y)
        m = self.setup.tau_p * self.setup.n_t
        if y2.shape[-1] != m:
            raise ValueError(f"expected pilot blocks of {m} = tau_p*n_t complex samples, got shape {y.shape}")
        x = complex_to_real(y2.astype(np.complex64, copy=False))
        s_hat = self.estimate_real(np.ascontiguousarray(x, dtype=np.float32))
        kc = self.setup.k // 2
        h = (s_hat[:, :kc] + 1j * s_hat[:, kc:]).astype(np.complex64)
        if layout == "rowmajor":
            h = h_to_rowmajor(h, self.setup.n_t, self.setup.n_u)
        elif layout != "paper":
            raise ValueError(f"layout must be 'rowmajor' or 'paper', got {layout!r}")
        return np.ascontiguousarray(h[0] if single else h)

    estimate = __call__

    def mse_real(self, x: np.ndarray, s: np.ndarray, chunk: int = 8192) -> float:
        """Average MSE ``sum ||s - s_hat||^2 / (B k)`` on real-stacked data."""
        tot = 0.0
        for i in range(0, x.shape[0], chunk):
            d = self.estimate_real(np.ascontiguousarray(x[i : i + chunk], dtype=np.float32)).astype(np.float64)
            tot += float(np.sum(np.square(d - s[i : i + chunk])))
        return tot / (x.shape[0] * s.shape[1])


class MMSEEstimator(ChannelEstimator):
    """Unquantized MMSE estimate ``s_tilde = Gamma x`` at the design SNR (eq. 6)."""

    adc_bits_per_block = None

    def __init__(self, n_t: int, n_u: int, tau_p: int, snr: float = 4.0):
        super().__init__(n_t, n_u, tau_p, snr)
        self.gamma_t = np.ascontiguousarray(self.setup.mmse_matrix().T, dtype=np.float32)  # (n, k)

    def estimate_real(self, x):
        return x @ self.gamma_t


class UniformADCEstimator(ChannelEstimator):
    """Task-ignorant: an M-level uniform ADC on every real observation, then the LMMSE estimate
    from the quantized data (for M = 2 this is the Bussgang LMMSE, BLMMSE).

    The ADC range is the MSE-optimal uniform range for the Gaussian marginal of the observations
    at the design SNR; rate = log2 M bits per observation.
    """

    def __init__(self, n_t: int, n_u: int, tau_p: int, num_levels: int = 2, snr: float = 4.0):
        super().__init__(n_t, n_u, tau_p, snr)
        self.num_levels = int(num_levels)
        w, thr, lev, mse = _bounds.uniform_lmmse_matrices(self.setup, self.num_levels)
        self.predicted_mse = mse
        self.thresholds, self.levels = thr, lev
        self._q = _kernel(thr, lev)
        self.w_t = np.ascontiguousarray(w.T, dtype=np.float32)
        self.adc_bits_per_block = self.setup.n * math.log2(self.num_levels)

    def estimate_real(self, x):
        return self._q.quantize_levels(x) @ self.w_t


class HardwareLimitedEstimator(ChannelEstimator):
    """Shlezinger-Eldar-Rodrigues hardware-limited task-based quantizer: model-based analog
    combiner A, p uniform M-level ADCs on ``[-gamma, gamma]`` (the kernel, no dither), digital B.

    ``snr`` is the SNR the design assumes (a noisy estimate gives the eta_sc-with-noisy-P system).
    """

    def __init__(
        self,
        n_t: int,
        n_u: int,
        tau_p: int,
        num_levels: int = 8,
        snr: float = 4.0,
        p: Optional[int] = None,
        eta: float = 2.0,
    ):
        super().__init__(n_t, n_u, tau_p, snr)
        p = self.setup.k if p is None else int(p)
        self.design = _bounds.sc_design(*self.setup.covariances(), p, int(num_levels), eta)
        self.num_levels = int(num_levels)
        from gnuradio import deepquant as dq

        self._q = dq.scalar_quantizer.make_uniform(-self.design.gamma, self.design.gamma, self.num_levels)
        self.a_t = np.ascontiguousarray(self.design.A.T, dtype=np.float32)
        self.b_t = np.ascontiguousarray(self.design.B.T, dtype=np.float32)
        self.adc_bits_per_block = p * math.log2(self.num_levels)

    def estimate_real(self, x):
        return self._q.quantize_levels(np.ascontiguousarray(x @ self.a_t)) @ self.b_t


class TBQEstimator(ChannelEstimator):
    """A trained task-based quantizer: ``s_hat = digital(Q(W x + c))`` with Q the hard ADC.

    Parameters
    ----------
    tensors : dict
        ``combiner.weight`` (p, n), ``combiner.bias`` (p,), ``adc.thresholds`` (M-1,),
        ``adc.levels`` (M,), ``digital.{i}.weight`` / ``.bias`` (ReLU between layers), optionally
        ``digital.gain.{0,1}.weight`` / ``.bias``: the energy gain
        ``1 + W1 tanh(W0 mean(q^2) + b0) + b1`` multiplying the digital output.
    config : dict
        The model's metadata (n_t, n_u, tau_p, snr, method, training, p, num_levels, ...).
    """

    def __init__(self, tensors: dict, config: dict):
        super().__init__(config["n_t"], config["n_u"], config["tau_p"], config.get("snr", 4.0))
        self.config = dict(config)
        self.method = config.get("method", "soft_to_hard")
        self.training = config.get("training", "optimal")
        w = np.asarray(tensors["combiner.weight"], dtype=np.float32)
        if w.shape[1] != self.setup.n:
            raise ValueError(f"combiner expects {w.shape[1]} observations, the setup has n = {self.setup.n}")
        self.w_t = np.ascontiguousarray(w.T)
        self.w_b = np.asarray(tensors["combiner.bias"], dtype=np.float32)
        self.thresholds = np.asarray(tensors["adc.thresholds"], dtype=np.float32)
        self.levels = np.asarray(tensors["adc.levels"], dtype=np.float32)
        if np.any(np.diff(self.thresholds) < 0):
            raise ValueError("ADC thresholds must be sorted")
        self._q = _kernel(self.thresholds, self.levels)
        self.digital = []
        i = 0
        while f"digital.{i}.weight" in tensors:
            self.digital.append(
                (
                    np.ascontiguousarray(np.asarray(tensors[f"digital.{i}.weight"], np.float32).T),
                    np.asarray(tensors[f"digital.{i}.bias"], np.float32),
                )
            )
            i += 1
        if not self.digital:
            raise ValueError("model has no digital layer")
        if self.digital[-1][0].shape[1] != self.setup.k:
            raise ValueError("digital output size != k")
        self.gain = None
        if "digital.gain.0.weight" in tensors:
            self.gain = tuple(
                np.asarray(tensors[f"digital.gain.{n}"], np.float32)
                for n in ("0.weight", "0.bias", "1.weight", "1.bias")
            )
        self.p = w.shape[0]
        self.num_levels = int(self.levels.shape[0])
        self.adc_bits_per_block = self.p * math.log2(self.num_levels)
        self.path: Optional[Path] = None

    # ---- loading --------------------------------------------------------------------------------
    @classmethod
    def load(cls, path) -> "TBQEstimator":
        """Load a ``.safetensors`` model (no pickle); its metadata holds the config."""
        from ..modelfile import json_meta, naming, read_safetensors
        from .train import FORMAT, FORMAT_VERSION

        path = Path(path)
        kind = "channel-estimation"
        md, tensors = read_safetensors(path, kind)
        config = json_meta(md, "deepquant", path, kind)
        with naming(path, kind):
            if config.get("format") != FORMAT or int(config.get("version", 0)) > FORMAT_VERSION:
                raise ValueError(f"{path}: unsupported model format {config.get('format')} v{config.get('version')}")
            est = cls(tensors, config)
        est.path = path
        return est

    @classmethod
    def load_shipped(
        cls,
        n_t: int = 10,
        n_u: int = 4,
        tau_p: int = 12,
        rate: float = 1.0,
        method: str = "soft_to_hard",
        training: str = "optimal",
    ) -> "TBQEstimator":
        """The shipped model for this setup whose rate is nearest to ``rate`` (see
        :func:`find_shipped_model`)."""
        return cls.load(find_shipped_model(n_t, n_u, tau_p, rate, method, training))

    # ---- inference ------------------------------------------------------------------------------
    def adc_inputs_real(self, x: np.ndarray) -> np.ndarray:
        """Analog combiner output z (B, p) float32."""
        z = x @ self.w_t
        z += self.w_b
        return z

    def adc_outputs_real(self, x: np.ndarray) -> np.ndarray:
        """Hard ADC output levels (B, p) float32, through the C++ kernel."""
        return self._q.quantize_levels(np.ascontiguousarray(self.adc_inputs_real(x), dtype=np.float32))

    def digital_gain(self, q: np.ndarray) -> np.ndarray:
        """Energy gain (B, 1) of ADC outputs q (B, p) (ones when the model has none)."""
        if self.gain is None:
            return np.ones((q.shape[0], 1), np.float32)
        w0, b0, w1, b1 = self.gain
        e = np.mean(q * q, axis=1, keepdims=True)
        return (1.0 + np.tanh(e @ w0.T + b0) @ w1.T + b1).astype(np.float32)

    def estimate_real(self, x):
        q = self.adc_outputs_real(x)
        h = q
        last = len(self.digital) - 1
        for i, (wt, b) in enumerate(self.digital):
            h = h @ wt
            h += b
            if i < last:
                np.maximum(h, 0.0, out=h)
        if self.gain is not None:
            h *= self.digital_gain(q)
        return h


# ---- shipped models -----------------------------------------------------------------------------
def shipped_models_dir() -> Path:
    """``gnuradio/deepquant/models/chanest`` inside the installed package."""
    from ..paths import package_dir

    return package_dir() / "models" / "chanest"


def list_shipped_models() -> list:
    """Model cards (dicts, with ``path`` added) of every shipped channel-estimation model."""
    d = shipped_models_dir()
    cards = []
    if not d.is_dir():
        return cards
    for card_path in sorted(d.glob("*.json")):
        try:
            card = json.loads(card_path.read_text())
        except json.JSONDecodeError:
            continue
        if card.get("format") != "deepquant-chanest-tbq":
            continue
        card["path"] = str(d / card["weights"])
        cards.append(card)
    return cards


def find_shipped_model(
    n_t: int,
    n_u: int,
    tau_p: int,
    rate: float,
    method: str = "soft_to_hard",
    training: str = "optimal",
    tolerance: float = 0.03,
) -> Path:
    """Path of the shipped model for (n_t, n_u, tau_p, method, training) with the rate nearest to
    ``rate`` (within ``tolerance`` bits/observation); ValueError listing what exists otherwise."""
    cands = [
        c
        for c in list_shipped_models()
        if (c["model"]["n_t"], c["model"]["n_u"], c["model"]["tau_p"]) == (int(n_t), int(n_u), int(tau_p))
        and c["model"]["method"] == method
        and c["model"]["training"] == training
    ]
    if not cands:
        raise ValueError(
            f"no shipped {method}/{training} model for n_t={n_t}, n_u={n_u}, tau_p={tau_p}; "
            f"train one with `deepquant train chanest` and pass its path as model="
        )
    best = min(cands, key=lambda c: abs(c["model"]["rate"] - float(rate)))
    if abs(best["model"]["rate"] - float(rate)) > tolerance:
        rates = ", ".join(f"{c['model']['rate']:.3f}" for c in sorted(cands, key=lambda c: c["model"]["rate"]))
        raise ValueError(f"no shipped {method}/{training} model at rate {rate}; shipped rates: {rates}")
    return Path(best["path"])


def make_estimator(
    n_t: int,
    n_u: int,
    tau_p: int,
    rate: float,
    method: str = "soft_to_hard",
    model: str = "",
    training: str = "optimal",
    snr: float = 4.0,
    p: Optional[int] = None,
    eta: float = 2.0,
) -> ChannelEstimator:
    """The estimator behind ``tbq_channel_estimator(nt, nu, tau_p, rate, method, model)``.

    Parameters
    ----------
    rate : float
        ADC bits per real observation; picks the shipped model (learned methods) or the number of
        ADC levels ``M`` with ``p log2(M) / n`` nearest to it ('hardware_limited').
    method : {'soft_to_hard', 'passing_gradient', 'hardware_limited'}
    model : str
        Path of a trained ``.safetensors`` model ('' = the shipped one); learned methods only.
    training : {'optimal', 'snr_uncertainty'}
        Which shipped model family (ignored with an explicit ``model``).
    snr : float
        Design SNR of 'hardware_limited' (P, linear).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "hardware_limited":
        setup = ChannelSetup(int(n_t), int(n_u), int(tau_p), float(snr))
        pp = setup.k if p is None else int(p)
        m = _bounds.levels_for_rate(rate, pp, setup.n)
        return HardwareLimitedEstimator(n_t, n_u, tau_p, m, snr, pp, eta)
    if model:
        est = TBQEstimator.load(model)
    else:
        est = TBQEstimator.load_shipped(n_t, n_u, tau_p, rate, method, training)
    s = est.setup
    if (s.n_t, s.n_u, s.tau_p) != (int(n_t), int(n_u), int(tau_p)):
        raise ValueError(
            f"model {est.path} is for n_t={s.n_t}, n_u={s.n_u}, tau_p={s.tau_p}, "
            f"not n_t={n_t}, n_u={n_u}, tau_p={tau_p}"
        )
    if est.method != method:
        raise ValueError(f"model {est.path} was trained with method {est.method!r}, not {method!r}")
    return est
