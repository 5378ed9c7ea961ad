"""EQ-Net (Arvinte, Tewfik & Vishwanath, "EQ-Net: A Unified Deep Learning Framework for
Log-Likelihood Ratio Estimation and Quantization"): one network family that estimates MIMO LLRs (detection) and
compresses them (quantization).  Pure torch/numpy; no GNU Radio import.

* :mod:`.models` -- f_Q (quantization encoder), g (shared branched decoder), f_E (estimation
  encoder, EQ-Net-L: 1 residual block, EQ-Net-P: 3).
* :mod:`.data` -- exact-ML training data (seeded, cached on disk).
* :mod:`.train` -- the two-stage training (``deepquant train eqnet --config FILE``).
* :mod:`.io` -- model files (safetensors + versioned JSON metadata, no pickle), shipped models.
* :class:`EQNetRuntime` -- inference: ``detect`` (estimation mode), ``quantize`` /
  ``dequantize`` (quantization mode, 5 or 6 bits per latent dimension, k-means++ codebooks),
  ``estimate_indices`` (joint estimation + quantization), ``pack`` / ``unpack`` (bitstreams).

:func:`detectors` (``eqnet_l`` / ``eqnet_p``, shipped model chosen by the (Nr, Nt, K) of the
call, and the joint modes ``eqnet_l_q5`` ... ``eqnet_p_q6``) and :func:`compressors`
(``eqnet-q5`` / ``eqnet-q6``) are listed by :mod:`gnuradio.deepquant.registry`, so ``deepquant
eval`` uses them like the classical detectors. Importing this package registers nothing.
"""

from __future__ import annotations

import threading
from typing import Dict, Tuple

import numpy as np
import torch

from . import io as _io
from .io import SHIPPED, ModelFileError  # noqa: F401
from .models import llr_to_softbit, softbit_to_llr

VARIANTS = ("l", "p")
#: rows per decoder call (see EQNetRuntime._decode)
CHUNK = 1024


#: inference backends of :class:`EQNetRuntime` ('cpp' is what the blocks use)
BACKENDS = ("cpp", "torchscript", "eager")


class EQNetRuntime:
    """A loaded EQ-Net model ready for inference (CPU, float32).

    Parameters
    ----------
    path : str or Path
        Model file (see :mod:`.io`).
    expect : (nr, nt, K), optional
        Raise :class:`ModelFileError` when the file is for another configuration.
    need_estimator : bool
        Raise when the file has no f_E (detection impossible).
    variant : {'l', 'p'}, optional
        Raise when the file is of the other EQ-Net variant.
    backend : {'cpp', 'torchscript', 'eager'}
        How :meth:`detect` runs: 'cpp' (default) the module's C++ kernel
        (``gnuradio.deepquant.eqnet_detector``: LMMSE statistics, f_E and g in one call, AVX-512
        float32 where the CPU has it), the fastest at every batch size measured by
        ``bench/eqnet_backends.py``; 'torchscript' (traced, frozen) or 'eager' torch, the
        references it is tested against. A model whose f_E takes EP's soft bits (arch
        ``est_stats: "lmmse+ep"``) runs the kernel's EP-input mode (the C++ EP detector's soft
        bits and f_Q in the same call). Quantization mode (:meth:`quantize`, :meth:`dequantize`)
        runs in torch with every backend.
    isa : str
        The C++ kernel's instruction set: 'auto' (default: avx512, else avx2, else generic),
        'avx512', 'avx2', 'generic' or 'avx512_bf16'
        (bfloat16 weights and layer inputs: faster, but a measurable accuracy loss, see
        docs/eqnet.md; never chosen by 'auto').
    """

    def __init__(
        self, path, expect=None, need_estimator: bool = False, backend: str = "cpp", variant=None, isa: str = "auto"
    ):
        self.path = str(path)
        self.net, self.codebooks, self.meta = _io.load(
            path, expect=expect, need_estimator=need_estimator, variant=variant
        )
        self.nr, self.nt, self.k = self.net.nr, self.net.nt, self.net.k
        self.latent_dim = self.net.latent_dim
        self._thr = {b: 0.5 * (cb[:, 1:] + cb[:, :-1]) for b, cb in self.codebooks.items()}
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self._core = None
        self._kernel = None
        self._g = self.net.g
        self.backend = backend
        if backend == "cpp" and self.has_estimator:
            from . import kernel

            self._kernel = kernel.build(self.net, isa)
        if backend != "eager":
            with torch.inference_mode(False), torch.no_grad():
                self._g = torch.jit.optimize_for_inference(
                    torch.jit.freeze(torch.jit.trace(self.net.g.eval(), (torch.zeros(4, self.latent_dim),)))
                )
        if self.has_estimator and self._kernel is None:
            from .models import DetectCore

            core = DetectCore(self.net).eval()
            if backend == "torchscript":
                # traced + frozen + optimize_for_inference (bench/eqnet.py compares it with the C++
                # kernel); same LLRs up to float32 rounding near the +-14.5 saturation
                with torch.inference_mode(False), torch.no_grad():
                    y0 = torch.randn(4, self.nr, dtype=torch.complex64)
                    h0 = torch.randn(4, self.nr, self.nt, dtype=torch.complex64)
                    ex = self._feats(y0, h0, torch.ones(4))
                    core = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(core, ex)))
            self._core = core

    @classmethod
    def shipped(cls, nr: int, nt: int, k: int, variant: str = "l", need_estimator: bool = True):
        return cls(
            _io.shipped_path(nr, nt, k, variant), expect=(nr, nt, k), need_estimator=need_estimator, variant=variant
        )

    @property
    def has_estimator(self) -> bool:
        return self.net.f_e is not None

    def _bits(self, bits: int) -> int:
        if int(bits) not in self.codebooks:
            raise ValueError(
                f"EQ-Net model {self.path} has codebooks for {sorted(self.codebooks)} bits per latent, not {bits}"
            )
        return int(bits)

    # ---- estimation ---------------------------------------------------------------------------
    def latents(self, y, H, noise_var) -> torch.Tensor:
        y = torch.as_tensor(np.asarray(y, np.complex64)).reshape(-1, self.nr)
        H = torch.as_tensor(np.asarray(H, np.complex64)).reshape(-1, self.nr, self.nt)
        nv = torch.as_tensor(np.asarray(noise_var, np.float32)).reshape(-1)
        if nv.numel() == 1 and y.shape[0] != 1:
            nv = nv.expand(y.shape[0])
        with torch.inference_mode():
            return self.net.f_e(y, H, nv)

    @property
    def trained_snr_db(self):
        """(lowest, highest) training SNR of the model (dB, ``E||H||_F^2 / sigma^2``), or None when
        the file does not record it."""
        grid = (self.meta.get("config") or {}).get("snr_db")
        try:
            g = [float(v) for v in grid]
        except (TypeError, ValueError):
            return None
        return (min(g), max(g)) if g else None

    def channel_snr_range_db(self):
        """The per-channel-use SNR ``||H||_F^2 / sigma^2`` (dB) the model saw in training: the
        training SNR range widened by the 5 % / 95 % quantiles of ``||H||_F^2 / (Nr Nt)`` under
        i.i.d. Rayleigh fading (a Gamma(Nr Nt) variable over Nr Nt); None if unknown. For 2x2
        trained at 15.5..30.5 dB: about 10.8..33.4 dB."""
        if not hasattr(self, "_snr_range"):  # computed once: mimo_detector asks on every work() call
            rng = self.trained_snr_db
            if rng is None:
                self._snr_range = None
            else:
                from scipy.stats import gamma

                n = self.nr * self.nt
                q05, q95 = gamma.ppf([0.05, 0.95], n) / n
                self._snr_range = (rng[0] + 10 * np.log10(q05), rng[1] + 10 * np.log10(q95))
        return self._snr_range

    @property
    def cpp_kernel(self):
        """The C++ ``eqnet_detector`` that runs :meth:`detect` (backend 'cpp'), or None (torch)."""
        return self._kernel

    def in_trained_range(self, H, noise_var) -> np.ndarray:
        """[B] bool: channel uses whose SNR ``||H||_F^2 / sigma^2`` lies in
        :meth:`channel_snr_range_db` (all True when the range is unknown)."""
        H = np.asarray(H)
        nv = np.asarray(noise_var, np.float64).reshape(-1)
        r = self.channel_snr_range_db()
        if r is None:
            return np.ones(H.shape[0], dtype=bool)
        p = np.sum(np.abs(H.reshape(H.shape[0], -1)).astype(np.float64) ** 2, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            snr = 10 * np.log10(p / nv)
        return (snr >= r[0]) & (snr <= r[1])

    def detect(self, y, H, noise_var) -> np.ndarray:
        """Estimation mode: y [B, Nr], H [B, Nr, Nt], sigma^2 [B] -> LLRs [B, Nt K] float32."""
        if not self.has_estimator:
            raise ModelFileError(f"EQ-Net model {self.path} has no estimation encoder")
        if self._kernel is not None:
            y = np.ascontiguousarray(y, np.complex64).reshape(-1, self.nr)
            H = np.ascontiguousarray(H, np.complex64).reshape(y.shape[0], self.nr, self.nt)
            nv = np.ascontiguousarray(np.broadcast_to(np.asarray(noise_var, np.float32).reshape(-1), (y.shape[0],)))
            return self._kernel.detect(y, H, nv)
        y = torch.as_tensor(np.asarray(y, np.complex64)).reshape(-1, self.nr)
        H = torch.as_tensor(np.asarray(H, np.complex64)).reshape(-1, self.nr, self.nt)
        nv = torch.as_tensor(np.asarray(noise_var, np.float32)).reshape(-1)
        if nv.numel() == 1 and y.shape[0] != 1:
            nv = nv.expand(y.shape[0])
        feats = self._feats(y, H, nv)
        out = np.empty((y.shape[0], self.nt * self.k), np.float32)
        with torch.inference_mode():
            for i in range(0, y.shape[0], CHUNK):
                sl = slice(i, i + CHUNK)
                out[sl] = softbit_to_llr(self._core(*(f[sl] for f in feats))).numpy()
        return out

    def _feats(self, y, H, nv):
        """f_E's input features, always four tensors (the fourth is empty without LMMSE stats)."""
        f = self.net.f_e.features(y, H, nv)
        return f if len(f) == 4 else f + (torch.zeros(y.shape[0], 0),)

    def _decode(self, z: torch.Tensor) -> np.ndarray:
        """g in chunks of rows small enough that the branched decoder's activations ([Nt K, rows,
        width]) stay in the L2 cache."""
        out = np.empty((z.shape[0], self.nt * self.k), np.float32)
        with torch.inference_mode():
            for i in range(0, z.shape[0], CHUNK):
                out[i : i + CHUNK] = softbit_to_llr(self._g(z[i : i + CHUNK])).numpy()
        return out

    # ---- quantization -------------------------------------------------------------------------
    def encode_latents(self, llr) -> np.ndarray:
        s = llr_to_softbit(torch.as_tensor(np.asarray(llr, np.float32)).reshape(-1, self.nt * self.k))
        with torch.inference_mode():
            return self.net.f_q(s).numpy()

    def latent_indices(self, z: np.ndarray, bits: int) -> np.ndarray:
        """Nearest codeword per latent dimension: uint8 [B, 3 Nt]."""
        thr = self._thr[self._bits(bits)]
        z = np.asarray(z, np.float32)
        out = np.empty(z.shape, np.uint8)
        for d in range(z.shape[1]):  # per latent dimension (3 Nt columns), vectorised over the batch
            out[:, d] = np.searchsorted(thr[d], z[:, d], side="right")
        return out

    def quantize(self, llr, bits: int = 6) -> np.ndarray:
        """Quantization mode: LLRs [B, Nt K] -> latent indices uint8 [B, 3 Nt]."""
        return self.latent_indices(self.encode_latents(llr), bits)

    def dequantize(self, idx, bits: int = 6) -> np.ndarray:
        """Latent indices [B, 3 Nt] -> LLRs [B, Nt K] float32 (through g)."""
        cb = self.codebooks[self._bits(bits)]
        idx = np.asarray(idx).reshape(-1, self.latent_dim).astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= cb.shape[1]):
            raise ValueError(f"latent index out of range 0..{cb.shape[1] - 1}")
        z = cb[np.arange(self.latent_dim)[None, :], idx]
        return self._decode(torch.from_numpy(np.ascontiguousarray(z, np.float32)))

    def estimate_indices(self, y, H, noise_var, bits: int = 6) -> np.ndarray:
        """Joint estimation and quantization: (y, H, sigma^2) -> latent indices uint8 [B, 3 Nt]."""
        if not self.has_estimator:
            raise ModelFileError(f"EQ-Net model {self.path} has no estimation encoder")
        return self.latent_indices(self.latents(y, H, noise_var).numpy(), bits)

    # ---- bitstreams ---------------------------------------------------------------------------
    def pack(self, idx, bits: int) -> bytes:
        """Indices [B, 3 Nt] -> bytes: each index as ``bits`` bits, MSB first, channel uses in
        order, zero-padded to a whole byte."""
        return pack_indices(idx, bits)

    def unpack(self, payload: bytes, bits: int, n_uses: int = None) -> np.ndarray:
        idx = unpack_indices(payload, bits)
        n_full = idx.size // self.latent_dim if n_uses is None else int(n_uses)
        if n_full * self.latent_dim > idx.size:
            raise ValueError(f"bitstream of {len(payload)} bytes holds fewer than {n_full} channel uses")
        return idx[: n_full * self.latent_dim].reshape(n_full, self.latent_dim)


def pack_indices(idx, bits: int) -> bytes:
    idx = np.asarray(idx, np.uint8).reshape(-1)
    b = ((idx[:, None] >> np.arange(bits - 1, -1, -1, dtype=np.uint8)) & 1).astype(np.uint8)
    return np.packbits(b.reshape(-1)).tobytes()


def unpack_indices(payload: bytes, bits: int) -> np.ndarray:
    b = np.unpackbits(np.frombuffer(payload, np.uint8))
    n = b.size // bits
    w = (1 << np.arange(bits - 1, -1, -1)).astype(np.uint16)
    return (b[: n * bits].reshape(n, bits) @ w).astype(np.uint8)


# ---- named detectors and compressors (listed by ..registry) -----------------------------------------------------------------------------
_CACHE: Dict[Tuple, EQNetRuntime] = {}
_LOCK = threading.Lock()


def runtime(nr: int, nt: int, k: int, variant: str, model: str = "") -> EQNetRuntime:
    """Cached runtime: the shipped model for (nr, nt, K, variant), or ``model`` (a file)."""
    key = (int(nr), int(nt), int(k), variant, str(model or ""))
    with _LOCK:
        rt = _CACHE.get(key)
        if rt is None:
            if model:
                rt = EQNetRuntime(model, expect=(nr, nt, k), need_estimator=False, variant=variant)
            else:
                rt = EQNetRuntime.shipped(nr, nt, k, variant, need_estimator=False)
            _CACHE[key] = rt
    return rt


def _detector(variant: str, bits=None):
    def fn(y, H, noise_var, bits_per_symbol, *, dtype=None, **_):
        as_torch = isinstance(y, torch.Tensor)
        yn = y.detach().cpu().numpy() if as_torch else np.asarray(y)
        Hn = H.detach().cpu().numpy() if isinstance(H, torch.Tensor) else np.asarray(H)
        nv = noise_var.detach().cpu().numpy() if isinstance(noise_var, torch.Tensor) else np.asarray(noise_var)
        nr, nt = Hn.shape[-2], Hn.shape[-1]
        rt = runtime(nr, nt, bits_per_symbol, variant)
        nv = np.array(
            np.broadcast_to(np.asarray(nv, np.float32).reshape(-1) if np.ndim(nv) else np.float32(nv), (yn.shape[0],))
        )  # a writable copy (torch warns on read-only views)
        if bits is None:
            llr = rt.detect(yn, Hn, nv)
        else:
            llr = rt.dequantize(rt.estimate_indices(yn, Hn, nv, bits), bits)
        if dtype == "float64":
            llr = llr.astype(np.float64)
        return torch.from_numpy(llr).to(y.device) if as_torch else llr

    fn.__name__ = f"eqnet_{variant}" + (f"_q{bits}" if bits else "")
    fn.__doc__ = (
        f"EQ-Net-{variant.upper()} "
        + ("estimation" if bits is None else f"joint estimation + {bits}-bit latent quantization")
        + " with the shipped model for the "
        "call's (Nr, Nt, K)."
    )
    return fn


def _compressor(bits: int):
    def f(llr):
        x = np.asarray(llr, np.float32)
        n = x.shape[1]
        cfgs = [c for c in SHIPPED if c[1] * c[2] == n]
        if not cfgs:
            raise ValueError(f"eqnet-q{bits}: no shipped EQ-Net model for {n} LLRs per channel use")
        nr, nt, k, _ = cfgs[0]
        rt = runtime(nr, nt, k, "l")
        return rt.dequantize(rt.quantize(x, bits), bits)

    return f


def detectors() -> Dict[str, object]:
    """The EQ-Net detectors by name, for :mod:`gnuradio.deepquant.registry`: ``eqnet_l`` /
    ``eqnet_p`` (estimation) and ``eqnet_<v>_q5`` / ``eqnet_<v>_q6`` (joint estimation +
    quantization), each using the shipped model for the call's (Nr, Nt, K)."""
    out = {}
    for v in VARIANTS:
        out[f"eqnet_{v}"] = _detector(v)
        for b in (5, 6):
            out[f"eqnet_{v}_q{b}"] = _detector(v, b)
    return out


def compressors() -> Dict[str, object]:
    """The EQ-Net LLR compressors ``eqnet-q5`` / ``eqnet-q6`` by name, for
    :mod:`gnuradio.deepquant.registry`."""
    return {f"eqnet-q{b}": _compressor(b) for b in (5, 6)}
