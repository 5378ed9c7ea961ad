"""EQ-Net estimation mode in the module's C++ kernel (``gnuradio.deepquant.eqnet_detector``):
the weights of an :class:`.models.EQNet` handed over in the layer order the kernel takes.

The kernel computes what :class:`.models.DetectCore` computes on the features of
:meth:`.models.EstimationEncoder.features` (LMMSE statistics included), followed by
``softbit_to_llr``, in one call per batch: float32 (AVX-512, AVX2/FMA or portable loops), or with
``isa='avx512_bf16'`` bfloat16 weights and layer inputs with float32 accumulation.  The LLR is
``2 clamp(h, +-c)`` from g's pre-tanh output h, which equals ``2 atanh(clamp(tanh(h)))`` without
float32's rounding of tanh near +-1 (see ``eqnet_detector.h``).
"""

from __future__ import annotations

import numpy as np

from .models import EQNet

#: instruction sets of the kernel ('auto': AVX-512 float32 where the CPU has it, else AVX2/FMA,
#: else portable loops; 'avx512_bf16' only when asked for)
ISAS = ("auto", "avx512", "avx2", "avx512_bf16", "generic")


#: |L| bound of the kernel and of the float32 torch path: 2 atanh of the largest float32 soft bit
LLR_CLAMP = 2 * np.arctanh(np.float64(np.float32(1 - 1e-6)))


def reference_llr(net: EQNet, y, H, noise_var) -> np.ndarray:
    """The kernel's reference: ``net``'s f_E core and g evaluated in float64 torch on the features
    of :meth:`.models.EstimationEncoder.features` (computed from complex128 inputs), LLRs clamped to
    :data:`LLR_CLAMP` as the kernel clamps them.  float64 numpy ``[B, Nt K]``."""
    import copy

    import torch

    n64 = copy.deepcopy(net).double()
    with torch.no_grad():
        feats = n64.f_e.features(
            torch.from_numpy(np.asarray(y)).to(torch.complex128),
            torch.from_numpy(np.asarray(H)).to(torch.complex128),
            torch.from_numpy(np.asarray(noise_var)).double(),
        )
        h = n64.g.half_llr(n64.f_e.core(*(f.double() for f in feats))).numpy()
    return np.clip(2 * h, -LLR_CLAMP, LLR_CLAMP)


def _linear(lin):
    w = lin.weight.detach().cpu().numpy().astype(np.float32)
    return np.ascontiguousarray(w), lin.bias.detach().cpu().numpy().astype(np.float32), w.shape


def build(net: EQNet, isa: str = "auto"):
    """The C++ ``eqnet_detector`` for ``net`` (which must have an estimation encoder)."""
    from .. import deepquant_python as dq

    if net.f_e is None:
        raise ValueError("EQ-Net kernel: the model has no estimation encoder f_E")
    if net.f_e.n_ep:
        raise ValueError(
            "EQ-Net kernel: this f_E takes EP's soft bits (est_stats 'lmmse+ep'), which the kernel does not "
            "compute; run it with EQNetRuntime's torch backends"
        )
    if isa not in ISAS:
        raise ValueError(f"EQ-Net kernel: isa must be one of {ISAS}, got {isa!r}")
    fe = net.f_e
    lins = [fe.in_y, fe.in_h, fe.in_s] + ([fe.in_x] if fe.stats else []) + [fe.fuse]
    res = [lin for blk in fe.blocks for lin in blk.layers]
    ws, bs, dims = [], [], []
    for lin in lins + res + [fe.out]:
        w, b, (o, i) = _linear(lin)
        ws.append(w)
        bs.append(b)
        dims += [o, i]
    g = net.g
    for w, b in zip(g.weights, g.biases):
        wn = w.detach().cpu().numpy().astype(np.float32)  # [n_out, in, out]
        ws.append(np.ascontiguousarray(wn))
        bs.append(np.ascontiguousarray(b.detach().cpu().numpy().astype(np.float32)).reshape(-1))
        dims += [wn.shape[2], wn.shape[1]]
    k = dq.eqnet_detector(
        net.nr, net.nt, net.k, bool(fe.stats), ws, bs, [int(v) for v in dims], len(res), len(g.weights)
    )
    k.set_isa(isa)
    return k
