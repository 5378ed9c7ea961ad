"""EQ-Net estimation mode in the module's C++ kernel (``gnuradio.deepquant.eqnet_detector``):
the weights of an :class:`.models.EQNet` handed over in the layer order the kernel takes.

The kernel computes what :class:`.models.DetectCore` computes on the features of
:meth:`.models.EstimationEncoder.features` (LMMSE statistics included, and for f_E with EP input
the soft bits of the C++ EP detector and f_Q's residual term), followed by
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
    of :meth:`.models.EstimationEncoder.features` (computed from complex128 inputs; EP's soft bits,
    where f_E takes them, from the C++ EP on complex64 copies, and f_Q's tanh in float32 as
    :class:`.models.QuantEncoder` computes it), LLRs clamped to
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
    """The C++ ``eqnet_detector`` for ``net`` (which must have an estimation encoder).  An f_E that
    takes EP's soft bits (arch ``est_stats: "lmmse+ep"``) gets the kernel's EP-input mode: the
    soft bits from the C++ ``ep_detector`` of :func:`..phy.mimo.ep_kernel` with EP's default
    parameters (as :func:`.models.ep_softbits`) and the model's f_Q layers."""
    import torch

    from .. import deepquant_python as dq

    if net.f_e is None:
        raise ValueError("EQ-Net kernel: the model has no estimation encoder f_E")
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
    ep_args = {}
    if fe.n_ep:  # EP-input mode: the C++ EP of ep_softbits, and f_Q (Linear + ReLU ..., Linear; tanh)
        from ..phy import mimo
        from .models import QuantEncoder

        if not isinstance(net.f_q, QuantEncoder):
            raise ValueError("EQ-Net kernel: the EP-input f_E needs the model's f_Q (a QuantEncoder)")
        mods = list(net.f_q.mlp.net)
        lins = mods[0::2]
        acts = mods[1::2]
        if (
            not all(isinstance(m, torch.nn.Linear) for m in lins)
            or not all(isinstance(m, torch.nn.ReLU) for m in acts)
            or len(acts) != len(lins) - 1
        ):
            raise ValueError("EQ-Net kernel: f_Q must be Linear + ReLU hidden layers and a Linear output")
        qw, qb, qd = [], [], []
        for lin in lins:
            w, b, (o, i) = _linear(lin)
            qw.append(w)
            qb.append(b)
            qd += [o, i]
        ep_args = dict(ep=mimo.ep_kernel(net.nr, net.nt, net.k), fq_weights=qw, fq_biases=qb, fq_dims=qd)
    k = dq.eqnet_detector(
        net.nr, net.nt, net.k, bool(fe.stats), ws, bs, [int(v) for v in dims], len(res), len(g.weights), **ep_args
    )
    k.set_isa(isa)
    return k
