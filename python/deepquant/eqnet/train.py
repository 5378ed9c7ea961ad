"""Two-stage EQ-Net training (``deepquant train eqnet --config FILE``).

Stage 1: f_Q + g as an autoencoder on exact-ML soft bits ``s = tanh(L/2)`` with the weighted MSE
of eq. (7), ``sum_i w_i (g(f_Q(s) + u)_i - s_i)^2 / (|s_i| + eps)`` (eps = 1e-6; w_i proportional
to the mean |s_i| of bit position i in the training set, normalised to mean 1; averaged over the
batch), Gaussian latent noise ``u ~ N(0, sigma_u^2)``, sigma_u = 1e-3, in training only (eq. 8).
Codebooks: per latent dimension, k-means++ (scikit-learn ``KMeans``) on the f_Q latents of a
subset of the training set, 5 and 6 bits.  Stage 2: f_E trained with the L1 loss of eq. (9) to the
frozen f_Q latents (f_Q and g frozen).  Adam (stage 1 lr 3e-3: measured faster than the paper's
1e-3 on this budget, 0.862 vs 0.847 soft-bit sign agreement after 1500 steps; stage 2 1e-3), learning rate decayed
exponentially to ``lr_final`` over the steps (the paper runs 1000 epochs at batch 32768 on a GPU;
a 2-core CPU affords a few epochs, see the model cards for the measured cost of that).

Config (JSON; every key optional but ``nr``, ``nt``, ``bits_per_symbol``)::

    {"name": "eqnet-l-2x2-64qam", "nr": 2, "nt": 2, "bits_per_symbol": 6,
     "variant": "l",                  # "l" (1 residual block) or "p" (3 blocks)
     "snr_db": [15.5, ..., 22.0],     # default: data.DEFAULT_SNR_DB
     "codewords_per_snr": 10000, "val_fraction": 0.2, "seed": 0,
     "csi_error": null,               # {"fraction", "rel_max"}: estimated-channel inputs, see data.generate
     "arch": {...},                   # models.EQNet keyword arguments (defaults per variant below)
     "stage1": {"steps": 7000, "batch": 4096, "lr": 3e-3, "lr_final": 1e-4, "sigma_u": 1e-3},
     "stage2": {"steps": 8000, "batch": 4096, "lr": 1e-3, "lr_final": 5e-5},
     "eps": 1e-3,                     # eq. (7); see EPS below for why not the paper's 1e-6
     "stage1b": null,                 # optional warm restart of stage 1: {"steps", "batch", "lr", "lr_final"}
     "stage1_init": null,             # start stage 1 from the f_Q, g of a model file (then stage1b only)
     "stage1_from": null,             # reuse f_Q, g and codebooks of an existing model file
     "stage2_init": null,             # warm-start f_E from a (shallower) model's f_E, see init_estimator_from
     "codebook_bits": [5, 6], "codebook_samples": 200000,
     "val_every": 500, "checkpoint_every": 1000, "out_dir": null, "threads": 1}

Stage 3 (optional, ``"stage3": {"steps", "batch", "lr", "lr_final", "loss", "joint",
"quant_weight", "sigma_u"}``): fine-tuning through the decoder g on a soft-bit loss, ``"loss"``
``"kl"`` (default; :func:`kl_bits`, the bit-metric mutual information the estimate loses) or
``"wmse"`` (eq. (7)).  ``"joint": false``: f_E alone through the frozen g (f_Q, g, codebooks and the
quantization mode unchanged).  ``"joint": true``: f_Q, g and f_E together on the estimation loss plus
``quant_weight`` x the quantization (autoencoder) loss, so the decoder stays shared by both modes;
the latent codebooks are then recomputed.  ``"fresh": true``: the estimation term is the
cross-entropy of f_E's LLRs on the transmitted bits of a freshly drawn batch every step
(:func:`.data.fresh_batch`, SNR uniform over ``"fresh_snr_db"``, default the data set's SNR span;
in expectation the KL to the exact posteriors plus a constant) instead of the KL on the cached
teacher set, so the estimator never sees a sample twice; the joint autoencoder term and the
validation stay on the cached exact-ML set.  ``"fresh_teacher": true`` (with ``"fresh"``): the
loss on the fresh batch is the KL to its exact-ML LLRs, computed every step (the same objective
without the sampling noise of the sent bits: the cross-entropy's variance is dominated by the
posterior entropy the estimator cannot change; affordable where exact ML is cheap, e.g. 2x2 64-QAM,
~0.07 s per 8192 channel uses on one thread).  The L1 latent loss of stage 2 weighs every latent
direction alike although the decoder is far more sensitive along some than others.

Stage 4 (optional, ``"stage4": {"steps", "batch", "lr", "lr_final", "warmup", "bits"}``):
quantization-aware training of f_Q alone.  The decoder g and the codebooks stay frozen (so
estimation, and the joint estimation + quantization of f_E's latents, are unchanged); f_Q's latents
pass through the nearest-codeword quantizer of every ``bits`` (default: all codebooks) with a
straight-through gradient, and the loss is the mean over ``bits`` of the KL (:func:`kl_bits`) of
g's LLRs to exact ML.  Stage 1 trained f_Q with eq. (8)'s additive noise of sigma_u = 1e-3, far
below the codebooks' spacing, so it never saw the quantizer it is used with.

Mixed precision (``"amp"``, default ``"bf16"``): every stage's forward and backward pass runs under
``torch.autocast(dtype=torch.bfloat16)`` (AVX-512-BF16, and AMX where the CPU has it, 1.3-3.2x faster
steps at the shipped widths), with fp32 master weights, fp32 Adam state and fp32 losses; outputs of
tanh layers are computed in fp32.  ``"none"`` trains in fp32.

``stage1_from`` lets EQ-Net-L and EQ-Net-P of one configuration share f_Q, g and the codebooks
(the paper's shared decoder): train L with stage 1, then P with ``stage1_from`` = L's file.

Devices and parallelism: CPU by default, CUDA when available (``"device": "auto"``).  Under
``torchrun --nproc_per_node N`` (environment ``WORLD_SIZE`` > 1) the trainer initialises
``torch.distributed`` (NCCL on CUDA, Gloo on CPU), wraps the trained network in
``DistributedDataParallel``, gives every rank its own seeded mini-batches (the global batch is
``batch`` x N) and lets rank 0 alone validate, checkpoint and write the model.

Checkpoints ``<out_dir>/checkpoint.pt`` (weights_only-loadable: tensors, numbers, strings) hold
the stage, step, network and optimiser state; ``--resume`` continues from it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from . import data as data_mod
from . import io as eqio
from .models import EQNet, llr_to_softbit

log = logging.getLogger(__name__)

#: eps of eq. (7).  The paper (and the issue) use 1e-6; measured here it makes stage 1 collapse:
#: after 8000 steps (batch 4096, Adam 1e-3, 2x2 64-QAM) 8 of the 12 reconstructed soft bits stayed
#: near 0 (mean |s_hat| 0.002-0.16 vs |s| 0.62-0.89, sign agreement 51-77 %) and the autoencoder's
#: BLER was 1.0 at 20.5 dB: with weights up to 1e6 the few near-zero soft bits of a batch dominate
#: the gradient and the minimiser shrinks every uncertain output to 0.  The soft-bit capability
#: (paper 001, same loss) uses 1e-3 for the same reason; so does EQ-Net here (config "eps").
EPS = 1e-3

ARCH_DEFAULTS = {
    "l": {
        "enc_hidden_layers": 6,
        "enc_width_factor": 4,
        "dec_branch_width": 24,
        "dec_hidden_layers": 6,
        "est_width": 96,
        "est_blocks": 1,
        "est_layers_per_block": 6,
        "est_input_width": 32,
        "est_stats": True,
    },
    "p": {
        "enc_hidden_layers": 6,
        "enc_width_factor": 4,
        "dec_branch_width": 24,
        "dec_hidden_layers": 6,
        "est_width": 96,
        "est_blocks": 3,
        "est_layers_per_block": 6,
        "est_input_width": 32,
        "est_stats": True,
    },
}

DEFAULTS = {
    "name": None,
    "variant": "l",
    "snr_db": None,
    "codewords_per_snr": 10000,
    "val_fraction": 0.2,
    "seed": 0,
    "arch": None,
    "stage1": {"steps": 7000, "batch": 4096, "lr": 3e-3, "lr_final": 1e-4, "sigma_u": 1e-3},
    "stage2": {"steps": 8000, "batch": 4096, "lr": 1e-3, "lr_final": 5e-5},
    "stage1b": None,
    "stage1_init": None,
    "stage2_init": None,
    "stage1_from": None,
    "csi_error": None,
    "eps": EPS,
    "codebook_bits": [5, 6],
    "codebook_samples": 200000,
    "val_every": 500,
    "val_samples": 100000,
    "checkpoint_every": 1000,
    "out_dir": None,
    "threads": 1,
    "device": "auto",
    "amp": "bf16",
    "stage3": None,
    "stage4": None,
}


def full_config(cfg: dict) -> dict:
    """Defaults filled in; ValueError on unknown keys or bad values."""
    unknown = set(cfg) - set(DEFAULTS) - {"nr", "nt", "bits_per_symbol"}
    if unknown:
        raise ValueError(f"unknown eqnet config keys: {sorted(unknown)}")
    for key in ("nr", "nt", "bits_per_symbol"):
        if key not in cfg:
            raise ValueError(f"eqnet config needs {key!r}")
    c = json.loads(json.dumps(DEFAULTS))
    for key, v in cfg.items():
        if isinstance(v, dict) and isinstance(c.get(key), dict):
            c[key].update(v)
        else:
            c[key] = v
    if c["amp"] not in AMP_MODES:
        raise ValueError(f"amp must be one of {sorted(AMP_MODES)}, got {c['amp']!r}")
    if c["variant"] not in ARCH_DEFAULTS:
        raise ValueError(f"variant must be 'l' or 'p', got {c['variant']!r}")
    arch = dict(ARCH_DEFAULTS[c["variant"]])
    arch.update(c["arch"] or {})
    c["arch"] = arch
    nr, nt, k = int(c["nr"]), int(c["nt"]), int(c["bits_per_symbol"])
    if nr < nt:
        raise ValueError(f"EQ-Net needs nr >= nt (got {nr}x{nt})")
    if k not in (2, 4, 6, 8):
        raise ValueError(f"bits_per_symbol must be 2, 4, 6 or 8, got {k}")
    ce = c["csi_error"]
    if ce is not None:
        if (
            not isinstance(ce, dict)
            or set(ce) != {"fraction", "rel_max"}
            or not 0 <= float(ce["fraction"]) <= 1
            or not float(ce["rel_max"]) >= 0
        ):
            raise ValueError(f"csi_error must be null or {{'fraction': 0..1, 'rel_max': >= 0}}, got {ce!r}")
    if c["snr_db"] is None:
        if (nr, nt, k) not in data_mod.DEFAULT_SNR_DB:
            raise ValueError(f"no default SNR grid for {nr}x{nt} K={k}: give 'snr_db' (exact-ML BLER ~1 .. 1e-4)")
        c["snr_db"] = data_mod.DEFAULT_SNR_DB[(nr, nt, k)]
    s3 = c["stage3"]
    if s3 is not None:
        unknown3 = set(s3) - STAGE3_KEYS
        if unknown3:
            raise ValueError(f"unknown stage3 keys: {sorted(unknown3)} (known: {sorted(STAGE3_KEYS)})")
        fr = s3.get("fresh_snr_db")
        if fr is not None and (len(fr) != 2 or not float(fr[0]) <= float(fr[1])):
            raise ValueError(f"stage3 fresh_snr_db must be [lo, hi] in dB with lo <= hi, got {fr!r}")
        if s3.get("fresh_teacher") and not s3.get("fresh"):
            raise ValueError('stage3 "fresh_teacher" needs "fresh": true')
    s4 = c["stage4"]
    if s4 is not None:
        unknown4 = set(s4) - {"steps", "batch", "lr", "lr_final", "warmup", "bits"}
        if unknown4:
            raise ValueError(
                f"unknown stage4 keys: {sorted(unknown4)} (known: steps, batch, lr, lr_final, warmup, bits)"
            )
    if c["name"] is None:
        c["name"] = f"eqnet-{c['variant']}-{nr}x{nt}-k{k}"
    return c


STAGE3_KEYS = {
    "steps",
    "batch",
    "lr",
    "lr_final",
    "loss",
    "joint",
    "quant_weight",
    "sigma_u",
    "warmup",
    "fresh",
    "fresh_snr_db",
    "fresh_teacher",
}


#: "bf16": forward and backward passes under ``torch.autocast(dtype=torch.bfloat16)`` (AMX / AVX-512-BF16
#: matrix products on CPUs that have them, tensor cores on GPUs) with the fp32 master weights and the
#: fp32 Adam state untouched, and the losses evaluated in fp32; "none": fp32 throughout.
AMP_MODES = {"bf16": torch.bfloat16, "none": None}


def autocast(device: torch.device, amp: str):
    """The autocast context of a training step (a no-op context for ``amp = "none"``)."""
    import contextlib

    dt = AMP_MODES[amp]
    if dt is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dt)


def bit_weights(s: torch.Tensor) -> torch.Tensor:
    """w_i of eq. (7): mean |s_i| per bit position, normalised to mean 1."""
    w = s.abs().mean(dim=0)
    return w / w.mean()


def wmse(s_hat: torch.Tensor, s: torch.Tensor, w: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Eq. (7) averaged over the batch."""
    return ((s_hat - s) ** 2 / (s.abs() + eps) * w).sum(dim=1).mean()


def kl_bits(llr_hat: torch.Tensor, llr: torch.Tensor) -> torch.Tensor:
    """Bitwise KL divergence D(P || Q) of the exact-ML bit posteriors ``p = sigmoid(llr)`` from the
    estimated ones ``q = sigmoid(llr_hat)``, in bits per bit, averaged over the batch and bits.

    This is the loss of bit-metric-decoding mutual information that a mismatched LLR costs (the
    binary cross-entropy minus the teacher's entropy; the gradient is that of the cross-entropy).
    Measured on 2x2 64-QAM at 19-22 dB it orders the detectors as their BLER gaps to exact ML do
    (max-log 0.010, LMMSE 0.022, shipped EQ-Net-P 0.042, EQ-Net-L 0.046 bits per bit, gaps 0.30,
    0.45, 0.91, 1.01 dB); eq. (7)'s weighted MSE does not (LMMSE 1.39 vs EQ-Net-P 1.36)."""
    f = torch.nn.functional.logsigmoid
    llr = llr.float()
    p = torch.sigmoid(llr)
    return (p * (f(llr) - f(llr_hat)) + (1.0 - p) * (f(-llr) - f(-llr_hat))).mean() / math.log(2.0)


def quantize_latents(z: torch.Tensor, codebook: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """Nearest codeword per latent dimension (the runtime's rule: thresholds at the midpoints):
    z [B, D], codebook [D, 2^b] sorted per row, thresholds [D, 2^b - 1] -> [B, D]."""
    idx = torch.stack(
        [torch.bucketize(z[:, d].contiguous(), thresholds[d], right=True) for d in range(z.shape[1])], dim=1
    )
    return torch.gather(codebook, 1, idx.t()).t()


def kmeans_codebook(z: np.ndarray, bits: int, seed: int) -> np.ndarray:
    """Per-dimension k-means++ scalar codebooks: float32 [D, 2^bits], sorted per row."""
    from sklearn.cluster import KMeans

    out = np.empty((z.shape[1], 2**bits), np.float32)
    for d in range(z.shape[1]):
        km = KMeans(n_clusters=2**bits, init="k-means++", n_init=1, random_state=seed + d, max_iter=100)
        km.fit(z[:, d : d + 1].astype(np.float64))
        c = np.sort(km.cluster_centers_[:, 0]).astype(np.float32)
        # strictly increasing (ties are impossible in practice, but keep the file valid)
        c = np.maximum.accumulate(c + np.arange(c.size, dtype=np.float32) * 1e-7)
        out[d] = c
    return out


class _Dist:
    def __init__(self, device: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local = int(os.environ.get("LOCAL_RANK", "0"))
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda" and self.world > 1:
            device = f"cuda:{self.local}"
            torch.cuda.set_device(self.local)
        self.device = torch.device(device)
        if self.world > 1 and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def wrap(self, module):
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            return DistributedDataParallel(module, device_ids=[self.local] if self.device.type == "cuda" else None)
        return module


def init_estimator_from(f_e, src) -> None:
    """Warm start of f_E from a trained one: a deeper f_E (EQ-Net-P from EQ-Net-L) and/or a wider
    one (trunk ``est_width`` and input layers ``est_input_width`` at least the source's).

    Depth: input, fusion and output layers and the first residual blocks are copied; the extra
    residual blocks start with zero biases and tiny weights (std 1e-3), i.e. as nearly the identity
    (x + relu(~0) ~ x), so the network starts at the source's function and training refines it
    (exactly zero weights would never move: relu'(0) = 0).  Measured on 2x2 64-QAM: EQ-Net-P
    trained from scratch for 6000 steps (its 18 residual layers blow the first outputs up to an L1
    of ~185) ended 1.98 dB from exact ML, behind EQ-Net-L's 1.01 dB.

    Width (function-preserving): the source's weights fill the leading block of every layer; the
    new units get fresh random incoming weights and every weight from a new unit into an old unit or into
    the output is zero, so the old units and the output compute exactly the source's function
    while the new units already carry non-zero activations (their outgoing weights then receive
    gradients and training grows them in); the residual layers' rows of new units keep their
    default initialisation.

    LMMSE statistics -> ``"lmmse+ep"`` (residual form on EP's soft bits): the EP columns of the
    statistics layer start at zero and so does the output layer, so the new f_E starts as exactly
    ``f_Q(EP soft bits)`` -- the classical EP detector passed through the autoencoder -- with the
    source's trunk in place for the correction to learn (the output layer's gradient is non-zero
    from the first step, the trunk's follows)."""
    to_ep = src.stats_kind == "lmmse" and f_e.stats_kind == "lmmse+ep"
    if (src.stats_kind != f_e.stats_kind and not to_ep) or src.out.weight.shape[0] != f_e.out.weight.shape[0]:
        raise ValueError("stage2_init: the source estimator has another input set or latent size")
    w_src, w_dst = src.out.weight.shape[1], f_e.out.weight.shape[1]
    i_src, i_dst = src.in_y.weight.shape[0], f_e.in_y.weight.shape[0]
    if w_dst < w_src or i_dst < i_src:
        raise ValueError(
            f"stage2_init: the source estimator is wider (trunk {w_src}, inputs {i_src}) than the new one "
            f"(trunk {w_dst}, inputs {i_dst})"
        )
    with torch.no_grad():
        for name in ("in_y", "in_h", "in_s", "in_x"):
            a, b = getattr(f_e, name), getattr(src, name)
            if a is not None:
                a.weight[:i_src].zero_()
                a.weight[:i_src, : b.weight.shape[1]].copy_(b.weight)
                a.bias[:i_src].copy_(b.bias)
        # fusion: input columns come in groups of input width (y, H, sigma[, stats])
        n_groups = f_e.fuse.weight.shape[1] // i_dst
        f_e.fuse.weight[:w_src].zero_()
        for j in range(n_groups):
            f_e.fuse.weight[:w_src, j * i_dst : j * i_dst + i_src].copy_(
                src.fuse.weight[:, j * i_src : (j + 1) * i_src]
            )
        f_e.fuse.bias[:w_src].copy_(src.fuse.bias)
        f_e.out.weight.zero_()
        f_e.out.weight[:, :w_src].copy_(src.out.weight)
        f_e.out.bias.copy_(src.out.bias)
        for i, blk in enumerate(f_e.blocks):
            for li, lin in enumerate(blk.layers):
                # rows of the source's units: its weights, or ~identity in an added block; rows of new
                # units keep their default initialisation
                if i < len(src.blocks):
                    s_lin = src.blocks[i].layers[li]
                    lin.weight[:w_src, :w_src].copy_(s_lin.weight)
                    lin.bias[:w_src].copy_(s_lin.bias)
                else:
                    lin.weight[:w_src].normal_(0.0, 1e-3)
                    lin.bias[:w_src].zero_()
                lin.weight[:w_src, w_src:].zero_()  # new units never feed old ones
        if to_ep:
            f_e.out.weight.zero_()
            f_e.out.bias.zero_()


class _FECore(torch.nn.Module):
    """f_E on precomputed features (a module, so DistributedDataParallel can wrap its forward)."""

    def __init__(self, f_e):
        super().__init__()
        self.f_e = f_e

    def forward(self, *feats):
        return self.f_e.core(*feats)


class _Autoencoder(torch.nn.Module):
    """Stage 1 network: f_Q, the training quantizer of eq. (8) (additive Gaussian noise), g."""

    def __init__(self, f_q, g, sigma_u: float):
        super().__init__()
        self.f_q, self.g, self.sigma_u = f_q, g, sigma_u

    def forward(self, s):
        z = self.f_q(s)
        if self.training:
            z = z + self.sigma_u * torch.randn_like(z)
        return self.g(z)


def _split(n: int, val_fraction: float, seed: int):
    perm = np.random.default_rng(seed + 7).permutation(n)
    nv = int(round(n * val_fraction))
    return perm[nv:], perm[:nv]


class TrainingPaused(Exception):
    """A piece of training ended at its time budget (``max_minutes``); the checkpoint holds the
    state and ``--resume`` continues from it."""

    def __init__(self, stage, step):
        super().__init__(f"paused in stage {stage} after step {step}")
        self.stage, self.step = stage, step


def _save_ckpt(path: Path, stage: int, step: int, net, opt, log_rows, wall_s: float = 0.0) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "stage": stage,
            "step": step,
            "net": net.state_dict(),
            "opt": opt.state_dict(),
            "log": json.dumps(log_rows),
            "wall_s": float(wall_s),
        },
        tmp,
    )
    tmp.replace(path)


def _run_stage(stage, c, net, params, loss_fn, val_fn, train_idx, out_dir, dist, resume_state, progress, schedule=None):
    from tqdm import tqdm

    sc = schedule or c[f"stage{stage}"]
    steps = int(sc["steps"])
    opt = torch.optim.Adam(params, lr=sc["lr"])
    gamma = (sc["lr_final"] / sc["lr"]) ** (1.0 / max(1, steps))
    start, rows = 0, []
    if resume_state is not None and resume_state["stage"] == stage:
        net.load_state_dict(resume_state["net"])
        opt.load_state_dict(resume_state["opt"])
        start = int(resume_state["step"]) + 1
        rows = json.loads(resume_state["log"])
    warm = int(sc.get("warmup", 0))  # linear learning-rate warm-up (Adam's first steps move every weight by ~lr)

    def lr_at(step):
        return sc["lr"] * gamma**step * (min(1.0, (step + 1) / warm) if warm else 1.0)

    for gph in opt.param_groups:
        gph["lr"] = lr_at(start)
    g = torch.Generator().manual_seed(int(c["seed"] * 1000 + stage * 100 + dist.rank + start))
    tidx = torch.from_numpy(train_idx)
    bar = tqdm(
        range(start, steps),
        desc=f"{c['name']} stage {stage}",
        disable=not (progress and dist.main),
        mininterval=2.0,
        initial=start,
        total=steps,
    )
    t0 = time.perf_counter()
    for step in bar:
        idx = tidx[torch.randint(0, tidx.numel(), (int(sc["batch"]),), generator=g)]
        with autocast(dist.device, c["amp"]):
            loss = loss_fn(idx, step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        for gph in opt.param_groups:
            gph["lr"] = lr_at(step + 1)
        last = step == steps - 1
        if dist.main and (step % c["val_every"] == 0 or last):
            v = val_fn()
            rows.append(
                {
                    "stage": stage,
                    "step": step,
                    "train_loss": float(loss.detach()),
                    "val_loss": v,
                    "seconds": time.perf_counter() - t0,
                }
            )
            bar.set_postfix(train=f"{float(loss.detach()):.3e}", val=f"{v:.3e}")
        wall = c["_wall0"] + time.perf_counter() - c["_t0"]
        if dist.main and c["checkpoint_every"] and (step % c["checkpoint_every"] == 0 or last) and step > start:
            _save_ckpt(out_dir / "checkpoint.pt", stage, step, net, opt, rows, wall)
        if c["_deadline"] is not None and time.perf_counter() > c["_deadline"] and not last:
            if dist.main:
                _save_ckpt(out_dir / "checkpoint.pt", stage, step, net, opt, rows, wall)
            bar.close()
            c["_history_tail"] = rows
            raise TrainingPaused(stage, step)
    bar.close()
    return rows


def train(cfg: dict, progress: bool = True, resume: bool = False, max_minutes: Optional[float] = None) -> Path:
    """Train one EQ-Net model from a config dict; returns the model file path (see module doc).

    ``max_minutes``: a piece of training.  When the budget runs out the state is checkpointed and
    :class:`TrainingPaused` is raised -- except in stage 3, where the network is complete: there
    the model file is written as of the last step (``meta["partial"]``) and returned, so the best
    weights so far can be used while ``resume=True`` continues the run."""
    from .. import paths

    c = full_config(cfg)
    c["_t0"] = time.perf_counter()
    c["_deadline"] = None if max_minutes is None else c["_t0"] + 60.0 * float(max_minutes)
    c["_wall0"] = 0.0
    dist = _Dist(c["device"])
    if dist.device.type == "cpu":
        torch.set_num_threads(int(c["threads"]))
    torch.manual_seed(c["seed"])
    nr, nt, k = int(c["nr"]), int(c["nt"]), int(c["bits_per_symbol"])
    out_dir = Path(c["out_dir"] or (paths.cache_dir() / "eqnet" / c["name"]))
    out_dir.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    if dist.world > 1 and not dist.main:  # rank 0 generates (or loads) the cached data set first
        torch.distributed.barrier()
    ds = data_mod.load_or_generate(
        nr,
        nt,
        k,
        c["snr_db"],
        c["codewords_per_snr"],
        c["seed"],
        progress=progress and dist.main,
        csi_error=c["csi_error"],
    )
    if dist.world > 1 and dist.main:
        torch.distributed.barrier()
    t_data = time.perf_counter() - t_start
    dev = dist.device
    s_all = llr_to_softbit(torch.from_numpy(ds["llr"])).to(dev)
    y_all = torch.from_numpy(ds["y"]).to(dev)
    h_all = torch.from_numpy(ds["H"]).to(dev)
    nv_all = torch.from_numpy(ds["noise_var"]).to(dev)
    train_idx, val_idx = _split(s_all.shape[0], c["val_fraction"], c["seed"])
    val_idx = torch.from_numpy(val_idx[: int(c["val_samples"])]).to(dev)
    w = bit_weights(s_all[torch.from_numpy(train_idx).to(dev)]).to(dev)
    net = EQNet(nr, nt, k, **c["arch"]).to(dev)
    resume_state = None
    ck = out_dir / "checkpoint.pt"
    if resume and ck.exists():
        resume_state = torch.load(ck, map_location=dev, weights_only=True)
        log.info("resuming from %s (stage %s, step %d)", ck, resume_state["stage"], resume_state["step"])
        c["_wall0"] = float(resume_state.get("wall_s", 0.0))
        if resume_state["stage"] in (1.5, 2, 3, 4):
            net.load_state_dict(resume_state["net"])
    history = []
    codebooks = {}
    # ---------------- stage 1 ----------------
    if c["stage1_from"]:
        src, codebooks, src_meta = eqio.load(c["stage1_from"], expect=(nr, nt, k))
        net.f_q.load_state_dict(src.f_q.state_dict())
        net.g.load_state_dict(src.g.state_dict())
        history += [dict(r, source=str(c["stage1_from"])) for r in src_meta.get("history", []) if r["stage"] == 1]
    elif resume_state is None or resume_state["stage"] in (1, 1.5):
        if c.get("stage1_init") and resume_state is None:  # warm start of stage 1 from a model file
            src, _, _ = eqio.load(c["stage1_init"], expect=(nr, nt, k))
            net.f_q.load_state_dict(src.f_q.state_dict())
            net.g.load_state_dict(src.g.state_dict())
        sigma_u = float(c["stage1"]["sigma_u"])
        ae = _Autoencoder(net.f_q, net.g, sigma_u)
        ae_w = dist.wrap(ae)

        def loss1(idx, step=None):
            s = s_all[idx]
            return wmse(ae_w(s), s, w, c["eps"])

        def val1():
            with torch.no_grad():
                s = s_all[val_idx]
                return float(wmse(net.g(net.f_q(s)), s, w, c["eps"]))

        if not c.get("stage1_init") and (resume_state is None or resume_state["stage"] == 1):
            history += _run_stage(
                1, c, net, ae.parameters(), loss1, val1, train_idx, out_dir, dist, resume_state, progress
            )
        if c.get("stage1b"):  # warm restart of stage 1 with a second learning-rate schedule
            rs = resume_state if (resume_state is not None and resume_state["stage"] == 1.5) else None
            history += _run_stage(
                1.5, c, net, ae.parameters(), loss1, val1, train_idx, out_dir, dist, rs, progress, schedule=c["stage1b"]
            )
    if not codebooks:
        with torch.no_grad():
            sub = torch.from_numpy(train_idx[: int(c["codebook_samples"])]).to(dev)
            z = net.f_q(s_all[sub]).cpu().numpy()
        codebooks = {int(b): kmeans_codebook(z, int(b), c["seed"]) for b in c["codebook_bits"]}
    t_stage1 = time.perf_counter() - t_start - t_data
    # ---------------- stage 2 ----------------
    for p in list(net.f_q.parameters()) + list(net.g.parameters()):
        p.requires_grad_(False)
    resumed_late = resume_state is not None and resume_state["stage"] in (2, 3, 4)
    if c.get("stage2_init") and not resumed_late:
        init_estimator_from(net.f_e, eqio.load(c["stage2_init"], expect=(nr, nt, k), need_estimator=True)[0].f_e)
    fe = dist.wrap(_FECore(net.f_e))
    with torch.no_grad():
        step = 262144
        z_all = torch.cat([net.f_q(s_all[i : i + step]) for i in range(0, s_all.shape[0], step)])
        # f_E's input features once for the whole data set (they do not depend on the weights)
        parts = [
            net.f_e.features(y_all[i : i + step], h_all[i : i + step], nv_all[i : i + step])
            for i in range(0, s_all.shape[0], step)
        ]
        feats = [torch.cat([p[j] for p in parts]) for j in range(len(parts[0]))]
        del parts

    def loss2(idx, step=None):
        return (fe(*(f[idx] for f in feats)).float() - z_all[idx]).abs().sum(dim=1).mean()

    def val2():
        with torch.no_grad():
            return float((net.f_e.core(*(f[val_idx] for f in feats)) - z_all[val_idx]).abs().sum(1).mean())

    if not (resume_state is not None and resume_state["stage"] in (3, 4)):
        rs = resume_state if (resume_state is not None and resume_state["stage"] == 2) else None
        history += _run_stage(2, c, net, net.f_e.parameters(), loss2, val2, train_idx, out_dir, dist, rs, progress)
    # ---------------- stage 3 (optional): fine-tuning through the decoder ---------------------
    partial = None
    if c.get("stage3") and not (resume_state is not None and resume_state["stage"] == 4):
        s3 = c["stage3"]
        joint = bool(s3.get("joint", False))
        kind = s3.get("loss", "kl")
        if kind not in ("kl", "wmse"):
            raise ValueError(f"stage3 loss must be 'kl' or 'wmse', got {kind!r}")
        l_all = torch.from_numpy(ds["llr"]).to(dev) if kind == "kl" else None
        params = list(net.f_e.parameters())
        if joint:
            for prm in list(net.f_q.parameters()) + list(net.g.parameters()):
                prm.requires_grad_(True)
            params += list(net.f_q.parameters()) + list(net.g.parameters())
        sigma_u = float(s3.get("sigma_u", c["stage1"]["sigma_u"]))  # eq. (8) latent noise of the joint AE term
        qw = float(s3.get("quant_weight", 1.0))

        def est_loss(z, idx):
            if kind == "kl":
                return kl_bits(2.0 * net.g.half_llr(z), l_all[idx])
            return wmse(torch.tanh(net.g.half_llr(z)), s_all[idx], w, c["eps"])

        fresh = bool(s3.get("fresh", False))
        fresh_teacher = bool(s3.get("fresh_teacher", False))
        fresh_range = s3.get("fresh_snr_db") or [min(c["snr_db"]), max(c["snr_db"])]

        def fresh_loss(step):
            g = torch.Generator().manual_seed(int(c["seed"]) * 1_000_003 + 7919 * int(step) + 17 * dist.rank)
            y, h, nv, b = data_mod.fresh_batch(
                nr, nt, k, int(s3["batch"]), fresh_range, g, csi_error=c["csi_error"], device=dev
            )
            with torch.no_grad(), torch.autocast(device_type=dev.type, enabled=False):
                f_in = net.f_e.features(y, h, nv)
                teacher = None
                if fresh_teacher:
                    from ..phy import mimo

                    teacher = torch.as_tensor(
                        np.asarray(
                            mimo.detect(
                                "exact_ml", y.cpu().numpy(), h.cpu().numpy(), nv.cpu().numpy(), bits_per_symbol=k
                            ),
                            np.float32,
                        ),
                        device=dev,
                    )
            llr_hat = 2.0 * net.g.half_llr(fe(*f_in).float())
            if teacher is not None:
                return kl_bits(llr_hat.float(), teacher)
            return torch.nn.functional.binary_cross_entropy_with_logits(llr_hat.float(), b) / math.log(2.0)

        def loss3(idx, step=None):
            if fresh:
                loss = fresh_loss(step)
            else:
                loss = est_loss(fe(*(f[idx] for f in feats)).float(), idx)
            if joint:
                z = net.f_q(s_all[idx])
                loss = loss + qw * est_loss(z + sigma_u * torch.randn_like(z), idx)
            return loss

        def val3():
            with torch.no_grad():
                return float(est_loss(net.f_e.core(*(f[val_idx] for f in feats)), val_idx))

        rs = resume_state if (resume_state is not None and resume_state["stage"] == 3) else None
        try:
            history += _run_stage(3, c, net, params, loss3, val3, train_idx, out_dir, dist, rs, progress, schedule=s3)
        except TrainingPaused as e:
            history += c.pop("_history_tail")
            partial = {"stage": 3, "step": e.step, "of": int(s3["steps"])}
        for prm in net.parameters():
            prm.requires_grad_(False)
        if joint:  # f_Q moved: new latent codebooks
            with torch.no_grad():
                sub = torch.from_numpy(train_idx[: int(c["codebook_samples"])]).to(dev)
                z = net.f_q(s_all[sub]).cpu().numpy()
            codebooks = {int(b): kmeans_codebook(z, int(b), c["seed"]) for b in c["codebook_bits"]}
    # ---------------- stage 4 (optional): quantization-aware f_Q ------------------------------
    if c.get("stage4") and partial is None:
        s4 = c["stage4"]
        q_bits = [int(b) for b in (s4.get("bits") or sorted(codebooks))]
        missing = [b for b in q_bits if b not in codebooks]
        if missing:
            raise ValueError(f"stage4 bits {missing} have no codebook (codebook_bits {sorted(codebooks)})")
        for prm in net.f_q.parameters():
            prm.requires_grad_(True)
        l_all4 = torch.from_numpy(ds["llr"]).to(dev)
        cbs = {b: torch.as_tensor(codebooks[b], device=dev) for b in q_bits}
        thrs = {b: (0.5 * (cb[:, 1:] + cb[:, :-1])).contiguous() for b, cb in cbs.items()}

        def quant_loss(idx, hard=False):
            z = net.f_q(s_all[idx]).float()
            total = 0.0
            for b in q_bits:
                zq = quantize_latents(z.detach(), cbs[b], thrs[b])
                zq = zq if hard else z + (zq - z).detach()  # straight-through: forward zq, gradient to z
                total = total + kl_bits(2.0 * net.g.half_llr(zq).float(), l_all4[idx])
            return total / len(q_bits)

        def loss4(idx, step=None):
            return quant_loss(idx)

        def val4():
            with torch.no_grad():
                return float(quant_loss(val_idx, hard=True))

        rs = resume_state if (resume_state is not None and resume_state["stage"] == 4) else None
        try:
            history += _run_stage(
                4, c, net, net.f_q.parameters(), loss4, val4, train_idx, out_dir, dist, rs, progress, schedule=s4
            )
        except TrainingPaused as e:
            history += c.pop("_history_tail")
            partial = {"stage": 4, "step": e.step, "of": int(s4["steps"])}
        for prm in net.parameters():
            prm.requires_grad_(False)
    t_total = time.perf_counter() - t_start
    wall_total = c["_wall0"] + time.perf_counter() - c["_t0"]
    if not dist.main:
        return out_dir / f"{c['name']}.safetensors"
    with torch.no_grad():
        s = s_all[val_idx]
        lv = torch.from_numpy(ds["llr"]).to(dev)[val_idx]
        val = {
            "stage1_wmse": float(wmse(net.g(net.f_q(s)), s, w, c["eps"])),
            "stage2_l1": float(
                (net.f_e(y_all[val_idx], h_all[val_idx], nv_all[val_idx]) - z_all[val_idx]).abs().sum(1).mean()
            ),
            "estimate_wmse": float(
                wmse(net.g(net.f_e(y_all[val_idx], h_all[val_idx], nv_all[val_idx])), s, w, c["eps"])
            ),
            "autoencoder_kl_bits": float(kl_bits(2.0 * net.g.half_llr(net.f_q(s)), lv)),
            "quantized_kl_bits": {
                str(b): float(
                    kl_bits(
                        2.0
                        * net.g.half_llr(
                            quantize_latents(
                                net.f_q(s),
                                torch.as_tensor(cb, device=dev),
                                torch.as_tensor(0.5 * (cb[:, 1:] + cb[:, :-1]), device=dev),
                            )
                        ),
                        lv,
                    )
                )
                for b, cb in sorted(codebooks.items())
            },
            "estimate_kl_bits": float(
                kl_bits(2.0 * net.g.half_llr(net.f_e(y_all[val_idx], h_all[val_idx], nv_all[val_idx])), lv)
            ),
        }
    meta = {
        "nr": nr,
        "nt": nt,
        "k": k,
        "variant": c["variant"],
        "arch": c["arch"],
        "config": {key: v for key, v in c.items() if not key.startswith("_")},
        "partial": partial,
        "bit_weights": w.cpu().tolist(),
        "train_samples": int(train_idx.size),
        "validation": val,
        "seconds": {
            "data": t_data,
            "stage1": t_stage1,
            "total": t_total,
            "threads": torch.get_num_threads(),
            "device": str(dev),
            "world_size": dist.world,
            "amp": c["amp"],
            "all_pieces": wall_total,
        },
        "history": history,
    }
    net_cpu = net.to("cpu")
    path = eqio.save(out_dir / f"{c['name']}.safetensors", net_cpu, codebooks, meta)
    (out_dir / f"{c['name']}.json").write_text(json.dumps(meta, indent=1))
    plot_history(history, out_dir / f"{c['name']}.validation.png", c["name"], c.get("stage3"))
    log.info("EQ-Net model written to %s", path)
    return path


def plot_history(history, path, title="", stage3=None) -> None:
    """Training and validation loss vs step (PNG), one panel per stage that ran in this run
    (``stage3``: the stage-3 config, which names its loss)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s3 = stage3 or {}
    s3_what = (
        "eq. (7) weighted MSE through g" if s3.get("loss") == "wmse" else "bitwise KL to exact ML (bits/bit) through g"
    )
    if s3.get("fresh"):
        s3_what += (
            "\n(train: KL on fresh batches)" if s3.get("fresh_teacher") else "\n(train: cross-entropy on the sent bits)"
        )
    panels = [
        (st, what)
        for st, what in (
            (1, "eq. (7) weighted MSE"),
            (1.5, "eq. (7) weighted MSE (stage 1b)"),
            (2, "eq. (9) L1 latent distance"),
            (3, s3_what),
        )
        if any(r["stage"] == st for r in history)
    ]
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, (stage, what) in zip(axes[0], panels):
        rows = [r for r in history if r["stage"] == stage]
        if rows:
            ax.semilogy([r["step"] for r in rows], [r["train_loss"] for r in rows], label="train (batch)")
            ax.semilogy([r["step"] for r in rows], [r["val_loss"] for r in rows], label="validation")
        ax.set_title(f"{title} stage {stage}")
        ax.set_xlabel("step")
        ax.set_ylabel(what)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
