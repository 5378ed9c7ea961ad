"""SLP-DNet of paper 003 (and its binary / ternary / stochastically quantized versions), torch.

What the network computes (M antennas, K users, PSK order O; everything per symbol vector)
------------------------------------------------------------------------------------------
The CI power minimisation (problem.py) is exactly homogeneous: the optimum for threshold
``gamma = sqrt(Gamma n0)`` and channel ``rho * A_n`` is ``gamma / rho`` times the optimum for
``gamma = 1`` and ``A_n``. The network therefore solves the normalised problem (``gamma = 1``,
rotated channel ``A_n = A / rho`` with ``rho`` the RMS of A's entries) and the result is rescaled
exactly; Gamma (drawn from U(0, 45) dB in training as in the paper) and n0 never reach the layers.

1. Feature map: ``Phi = [Re A_n^T; Im A_n^T]`` as a 1-channel ``2M x K`` image (Fig. 4 / Table III).
2. Proximity-barrier / auxiliary network (the quantizable part; Tables III-IV shapes, sizes ours):
   conv3x3(1->c1) - BN - act - conv3x3(c1->c2) - BN - act - flatten - fc(c2*2M*K -> hidden) - BN - act -
   fc(hidden -> L+1). ``act`` is PReLU (fp32) or the k-bit quantizer of eq. (22) (quantized variants).
   Outputs, through softplus, one barrier weight ``v_l > 0`` per unfolded layer and the start scale.
3. Parameter-update module = L deep-unfolded log-barrier interior-point iterations (eqs. 3-8) of
   ``min ||x||^2 - v_l sum_j ln(h_j - G_j x)``: a Newton step ``(2I + v G^T S^-2 G) d = -(2x + v G^T S^-1 1)``
   (S = slacks), a learned fraction-to-boundary step ``x <- x + min(1, f_l * max feasible step) d``
   (f_l in (0, 1), learned per layer). The iteration starts from the zero-forcing precoder scaled by
   ``1 + softplus(.) > 1`` (strictly feasible), so every iterate is strictly feasible.
4. Multipliers on the central path ``lambda_j = v_L / s_j`` (``[v1; v2]`` of eq. 9), the precoder
   from the multipliers by eq. (10) ``x(lambda) = -G^T lambda / 2`` and the Lagrangian of eq. (9)
   at ``(x(lambda), lambda)`` = the dual function ``d(lambda)``, a certified lower bound on the
   optimal power.
5. Output: the last primal iterate, then the final feasibility step (scale to the tightest CI
   constraint; problem.scale_to_feasible), counted in the cost.

Choices the paper leaves open (ours, measured in scripts/reproduce_slp.py)
--------------------------------------------------------------------------
* Unfolded iteration: a primal barrier *Newton* step with learned barrier weights and learned
  fraction-to-boundary per layer, L = 5 layers; the paper's eqs. (5)-(8) name a proximal-gradient
  step on the barrier without its exact form. Newton steps on the 2M x 2M system reach the optimum
  in few layers; a gradient step needed hundreds.
* Transmitted precoder: the primal iterate, not eq. (10). Measured with unfolded iterations that
  stop early: eq. (10) applied to inexact multipliers gives an infeasible precoder for > 90 % of the
  vectors and, after scaling, 2-100x the optimal power. Eq. (10) is still used, inside the loss.
* Loss (unsupervised, no solver labels): ``(P_scaled - d(lambda)) / P_zf`` averaged over the batch,
  i.e. the relative duality gap between the power after the feasibility step and the eq. (9)
  Lagrangian at the eq. (10) precoder, plus ``mu`` times the squared weights (eq. 9's last term,
  ``mu = 1e-6``). The gap is >= 0 and is 0 only at the optimum. Minimising eq. (9) alone would be
  unbounded (the dual function is concave in lambda).
* Quantized layers: conv1, conv2, fc1 (about 99 % of the weights); the last layer (fc2, L+1 outputs),
  biases, BN and PReLU parameters and the per-layer scalars stay float32 (the paper keeps its last
  convolution in full precision). BWN/TWN scales per output row.
* k-bit activations (eq. 22) with k = 2 on the clip range [-1.5, 1.5] (after BN) for all quantized
  variants (the paper uses 1-bit activations for the fully binary/ternary nets, 2-bit for SQ).
* SQ: the row partition (Algorithm 1, f_p = 1/(e + 1e-6)) is re-drawn every ``sq_redraw`` steps
  from the current latent weights; the partition drawn at 80 % of training is kept for the rest
  of training and for inference (the paper keeps QR fixed; it does not say when the partition is
  frozen). QR is the fraction of *rows* of each quantized layer.
* The barrier network computes in float32; the unfolded iterations, the multipliers and the loss
  in float64 (the barrier Newton systems get ill-conditioned near the boundary). Stored weights
  (model format 2): the fp32 model in float32; quantized models as 1/2-bit codes + float32 per-row
  scales for the quantized rows and float16 for every other float tensor except the per-layer
  scalars (read back into float32).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from . import problem as pb
from . import quant as qz

WEIGHT_MODES = ("fp32", "binary", "ternary", "sq-binary", "sq-ternary")
QUANT_LAYERS = ("conv1", "conv2", "fc1")


@dataclass
class DNetConfig:
    m: int = 4
    k: int = 4
    psk_order: int = 4
    layers: int = 5
    c1: int = 16
    c2: int = 16
    hidden: int = 64
    weights: str = "fp32"
    qr: float = 1.0
    act_bits: int = 2
    act_clip: float = 1.5

    def __post_init__(self):
        if self.weights not in WEIGHT_MODES:
            raise ValueError(f"weights must be one of {WEIGHT_MODES}, got {self.weights!r}")
        pb.check_psk_order(self.psk_order)
        if not (0.0 <= float(self.qr) <= 1.0):
            raise ValueError(f"qr must be in [0, 1], got {self.qr}")
        if self.weights in ("binary", "ternary"):
            self.qr = 1.0
        if self.weights == "fp32":
            self.qr = 0.0

    @property
    def kind(self):
        return None if self.weights == "fp32" else ("binary" if "binary" in self.weights else "ternary")

    @property
    def quantized(self):
        return self.weights != "fp32"


class _QMixin:
    """Weight quantization of a conv/linear layer: mode None (float), 'binary', 'ternary'; ``qmask``
    selects the quantized rows (SQ). ``frozen`` = weights already hold the decoded values."""

    def _qinit(self, kind):
        self.kind = kind
        self.frozen = False
        self.register_buffer("qmask", torch.ones(self.weight.shape[0], dtype=torch.bool))

    def eff_weight(self):
        if self.kind is None or self.frozen:
            return self.weight
        Q = qz.quantize_rows_torch(self.weight, self.kind)
        if bool(self.qmask.all()):
            return Q
        m = self.qmask.view(-1, *([1] * (self.weight.dim() - 1)))
        return torch.where(m, Q, self.weight)


class QConv2d(nn.Conv2d, _QMixin):
    def __init__(self, cin, cout, kind):
        super().__init__(cin, cout, 3, padding=1)
        self._qinit(kind)

    def forward(self, x):
        return self._conv_forward(x, self.eff_weight(), self.bias)


class QLinear(nn.Linear, _QMixin):
    def __init__(self, nin, nout, kind):
        super().__init__(nin, nout)
        self._qinit(kind)

    def forward(self, x):
        return nn.functional.linear(x, self.eff_weight(), self.bias)


def _inv_softplus(y):
    return math.log(math.expm1(y))


class SlpDNet(nn.Module):
    def __init__(self, cfg: DNetConfig):
        super().__init__()
        self.cfg = cfg
        M, K, L = cfg.m, cfg.k, cfg.layers
        kind = cfg.kind
        self.conv1 = QConv2d(1, cfg.c1, kind)
        self.bn1 = nn.BatchNorm2d(cfg.c1, eps=1e-6)
        self.conv2 = QConv2d(cfg.c1, cfg.c2, kind)
        self.bn2 = nn.BatchNorm2d(cfg.c2, eps=1e-6)
        self.fc1 = QLinear(cfg.c2 * 2 * M * K, cfg.hidden, kind)
        self.bn3 = nn.BatchNorm1d(cfg.hidden, eps=1e-6)
        self.fc2 = nn.Linear(cfg.hidden, L + 1)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)
        if not cfg.quantized:
            self.act1, self.act2, self.act3 = nn.PReLU(), nn.PReLU(), nn.PReLU()
        # per-layer barrier weight offsets (schedule v_l ~ 0.2^l of the start power), start scale,
        # fraction-to-boundary logits
        self.v_off = nn.Parameter(torch.tensor([_inv_softplus(0.2**l) for l in range(L)]))
        self.s_off = nn.Parameter(torch.tensor(_inv_softplus(1.0)))
        self.f_logit = nn.Parameter(torch.full((L,), math.log(0.95 / 0.05)))
        self.tan_t = pb.tan_theta(cfg.psk_order)
        self.double()
        for mod in self.aux_modules():  # the network runs in float32 (fast kernels), the iterations in float64
            mod.float()
        for conv in (self.conv1, self.conv2):
            conv.to(memory_format=torch.channels_last)

    def aux_modules(self):
        mods = [self.conv1, self.bn1, self.conv2, self.bn2, self.fc1, self.bn3, self.fc2]
        if not self.cfg.quantized:
            mods += [self.act1, self.act2, self.act3]
        return mods

    # -- the auxiliary network
    def _act(self, x, i):
        if self.cfg.quantized:
            if torch.is_grad_enabled():
                return qz.act_quant(x, self.cfg.act_bits, -self.cfg.act_clip, self.cfg.act_clip)
            n = (1 << int(self.cfg.act_bits)) - 1
            lo, hi = -self.cfg.act_clip, self.cfg.act_clip
            # the same levels as eq. (22), in-place (round and clamp to integer bounds commute)
            return x.mul(n / (hi - lo)).add_(-lo * n / (hi - lo)).round_().clamp_(0, n).mul_((hi - lo) / n).add_(lo)
        if torch.is_grad_enabled():
            return (self.act1, self.act2, self.act3)[i](x)
        return nn.functional.leaky_relu(x, float((self.act1, self.act2, self.act3)[i].weight))

    @torch.no_grad()
    def fuse_for_inference(self):
        """Precompute the inference form of the barrier network (the same function, fewer passes over
        memory). Used by load_model; training never calls it (``self.train()`` drops it); call it
        again after changing any weight of a loaded model.

        * Each eval-mode BatchNorm is folded into the layer before it:
          W' = diag(g / sqrt(var + eps)) W_eff, b' = (b - mean) g / sqrt(var + eps) + beta.
        * conv1 (one input channel, 2M x K image) becomes one matrix product with its dense
          [2MK, c1 2MK] matrix whose output is laid out channels-last (position-major), so conv2
          reads it as a channels-last image and fc1 reads conv2's channels-last output without a
          copy (fc1's columns are permuted to that order).
        * Quantized variants: eq. (22) ``act(z) = lo + c q``, ``q = clamp(round(a z - a lo), 0, n)``,
          ``a = n / (hi - lo)``, ``c = 1 / a``: the affine map before the rounding is folded into the
          layer that produces z, the one after it into the layer that consumes q (for conv2 with
          its zero padding, a per-position bias map), so each activation is round + clamp in place.
          Float round-off of the folded weights can move a pre-activation lying within ~1e-7 of a
          rounding boundary to the other level (rare; the check outputs of the shipped models
          are unchanged to 1e-6).
        """
        F = nn.functional
        cfg = self.cfg
        M2, K = 2 * cfg.m, cfg.k
        npos = M2 * K
        fused = []
        for lay, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2), (self.fc1, self.bn3)):
            a = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            W = lay.eff_weight() * a.view(-1, *([1] * (lay.weight.dim() - 1)))
            fused.append((W.float(), ((lay.bias - bn.running_mean) * a + bn.bias).float()))
        (W1, b1), (W2, b2), (W3, b3) = fused
        c1, c2 = W1.shape[0], W2.shape[0]
        # conv1 as a dense matrix: row p = the response to a one-hot image at position p, columns (pos, chan)
        basis = torch.eye(npos, dtype=torch.float32).view(npos, 1, M2, K)
        D1 = F.conv2d(basis, W1, None, padding=1).permute(0, 2, 3, 1).reshape(npos, npos * c1)
        B1 = b1.repeat(npos)
        # fc1 columns from (chan, pos) to (pos, chan) order
        W3p = W3.view(W3.shape[0], c2, npos).transpose(1, 2).reshape(W3.shape[0], npos * c2)
        W4, B4 = self.fc2.weight.detach().float(), self.fc2.bias.detach().float()
        inf = {"quantized": cfg.quantized}
        if cfg.quantized:
            n = (1 << int(cfg.act_bits)) - 1
            lo, hi = -float(cfg.act_clip), float(cfg.act_clip)
            sa, c = n / (hi - lo), (hi - lo) / n
            inf["n"] = float(n)
            inf["D1"], inf["B1"] = (D1 * sa).contiguous(), B1 * sa - lo * sa
            ones = torch.ones(1, c1, M2, K)
            map2 = F.conv2d(ones, W2, None, padding=1) * lo + b2.view(1, -1, 1, 1)  # response to the constant lo
            inf["W2"] = (W2 * (sa * c)).contiguous(memory_format=torch.channels_last)
            inf["B2"] = (map2 * sa - lo * sa).contiguous(memory_format=torch.channels_last)
            inf["W3t"] = (W3p * (sa * c)).t().contiguous()
            inf["B3"] = (b3 + lo * W3p.sum(1)) * sa - lo * sa
            inf["W4t"] = (W4 * c).t().contiguous()
            inf["B4"] = B4 + lo * W4.sum(1)
        else:
            inf["slopes"] = [float(m.weight) for m in (self.act1, self.act2, self.act3)]
            inf["D1"], inf["B1"] = D1.contiguous(), B1
            inf["W2"], inf["B2"] = W2.contiguous(memory_format=torch.channels_last), b2
            inf["W3t"], inf["B3"] = W3p.t().contiguous(), b3
            inf["W4t"], inf["B4"] = W4.t().contiguous(), B4
        self._fused = inf

    def train(self, mode: bool = True):
        if mode:
            self._fused = None
        return super().train(mode)

    def _aux_fused(self, An):
        """Inference form of :meth:`aux` (see fuse_for_inference)."""
        f = self._fused
        B = An.shape[0]
        M2, K = 2 * self.cfg.m, self.cfg.k
        x = torch.cat([An.real, An.imag], 2).transpose(1, 2).reshape(B, M2 * K).float()  # the 2M x K image
        z = torch.addmm(f["B1"], x, f["D1"])  # [B, pos * c1], channels-last
        c1 = z.shape[1] // (M2 * K)
        img = z.view(B, M2, K, c1).permute(0, 3, 1, 2)  # channels-last view, no copy
        if f["quantized"]:
            n = f["n"]
            z.round_().clamp_(0.0, n)
            z2 = nn.functional.conv2d(img, f["W2"], None, padding=1).add_(f["B2"]).round_().clamp_(0.0, n)
            flat = z2.permute(0, 2, 3, 1).reshape(B, -1)  # channels-last memory: a view
            z3 = torch.addmm(f["B3"], flat, f["W3t"]).round_().clamp_(0.0, n)
        else:
            sl = f["slopes"]
            nn.functional.leaky_relu_(z, sl[0])
            z2 = nn.functional.leaky_relu_(nn.functional.conv2d(img, f["W2"], f["B2"], padding=1), sl[1])
            flat = z2.permute(0, 2, 3, 1).reshape(B, -1)
            z3 = nn.functional.leaky_relu_(torch.addmm(f["B3"], flat, f["W3t"]), sl[2])
        return torch.addmm(f["B4"], z3, f["W4t"]).double()

    def aux(self, An):
        """An [B, K, M] complex (normalised rotated channel) -> raw outputs [B, L+1]."""
        if getattr(self, "_fused", None) is not None and not self.training and not torch.is_grad_enabled():
            return self._aux_fused(An)
        img = torch.cat([An.real.transpose(1, 2), An.imag.transpose(1, 2)], dim=1).unsqueeze(1).float()  # B,1,2M,K
        img = img.contiguous(memory_format=torch.channels_last)  # 2x faster convolutions on these tiny images
        z = self._act(self.bn1(self.conv1(img)), 0)
        z = self._act(self.bn2(self.conv2(z)), 1)
        z = self._act(self.bn3(self.fc1(z.contiguous().flatten(1))), 2)
        return self.fc2(z).double()

    @staticmethod
    def real_constraints(An, tan_t):
        P = torch.cat([An.real, -An.imag], -1)
        Q = torch.cat([An.imag, An.real], -1)
        G = torch.cat([Q - tan_t * P, -Q - tan_t * P], -2)
        h = torch.full(G.shape[:-1], -tan_t, dtype=G.dtype, device=G.device)
        return G, h

    def forward(self, An):
        """Normalised problem (gamma = 1): An [B, K, M] complex128 -> dict with x [B, 2M] (strictly
        feasible), lam [B, 2K], G, h, x_zf."""
        cfg = self.cfg
        B = An.shape[0]
        G, h = self.real_constraints(An, self.tan_t)
        ones = torch.ones(B, cfg.k, 1, dtype=An.dtype, device=An.device)
        Ah = An.conj().transpose(1, 2)
        uzf = (Ah @ torch.linalg.solve(An @ Ah, ones)).squeeze(-1)
        xzf = torch.cat([uzf.real, uzf.imag], -1)
        o = self.aux(An)
        x = (1.0 + nn.functional.softplus(o[:, -1] + self.s_off))[:, None] * xzf
        p0 = (xzf * xzf).sum(-1) / (2 * cfg.k)
        eye = torch.eye(2 * cfg.m, dtype=x.dtype, device=x.device)
        v = None
        for l in range(cfg.layers):
            v = p0 * nn.functional.softplus(o[:, l] + self.v_off[l])
            sl = h - torch.einsum("bij,bj->bi", G, x)
            w = v[:, None] / sl
            grad = 2 * x + torch.einsum("bij,bi->bj", G, w)
            Hs = 2 * eye + torch.bmm((G * (w / sl).unsqueeze(-1)).transpose(1, 2), G)  # SPD
            Lc, _ = torch.linalg.cholesky_ex(Hs)
            d = -torch.cholesky_solve(grad.unsqueeze(-1), Lc).squeeze(-1)
            Gd = torch.einsum("bij,bj->bi", G, d)
            ratio = torch.where(
                Gd > 0, sl / torch.where(Gd > 0, Gd, torch.ones_like(Gd)), torch.full_like(Gd, 1e30)
            ).amin(-1)
            step = torch.clamp(torch.sigmoid(self.f_logit[l]) * ratio, max=1.0)
            x = x + step[:, None] * d
        sl = h - torch.einsum("bij,bj->bi", G, x)
        lam = v[:, None] / sl
        return {"x": x, "lam": lam, "G": G, "h": h, "xzf": xzf}

    @torch.no_grad()
    def infer(self, An):
        """Inference form of :meth:`forward` (needs :meth:`fuse_for_inference`): An [B, K, M]
        complex128 -> the last primal iterate x [B, 2M]. The same iterations with fewer passes:
        all barrier weights at once, the slacks updated with the step instead of recomputed
        (``s <- s + t G d``, equal to ``h - G x`` up to float64 round-off), Newton direction
        ``d = H^-1 grad`` and ``x <- x - t d``."""
        cfg = self.cfg
        B = An.shape[0]
        G, _ = self.real_constraints(An, self.tan_t)
        ones = torch.ones(B, cfg.k, 1, dtype=An.dtype)
        Ah = An.conj().transpose(1, 2)
        uzf = (Ah @ torch.linalg.solve(An @ Ah, ones)).squeeze(-1)
        xzf = torch.cat([uzf.real, uzf.imag], -1)
        o = self._aux_fused(An)
        L = cfg.layers
        x = (1.0 + nn.functional.softplus(o[:, L] + self.s_off)).unsqueeze(-1) * xzf
        p0 = (xzf * xzf).sum(-1) / (2 * cfg.k)
        V = p0.unsqueeze(-1) * nn.functional.softplus(o[:, :L] + self.v_off)  # [B, L]
        frac = torch.sigmoid(self.f_logit)
        eye2 = 2 * torch.eye(2 * cfg.m, dtype=x.dtype)
        Gt = G.transpose(1, 2)
        sl = -self.tan_t - torch.bmm(G, x.unsqueeze(-1)).squeeze(-1)
        for l in range(L):
            w = V[:, l : l + 1] / sl
            grad = torch.bmm(Gt, w.unsqueeze(-1)).squeeze(-1).add_(x, alpha=2.0)
            Hs = torch.baddbmm(eye2, Gt * (w / sl).unsqueeze(1), G)  # 2I + G^T diag(w / s) G, SPD
            d = torch.linalg.solve_ex(Hs, grad.unsqueeze(-1))[0]  # minus the Newton direction (one LAPACK call)
            Gd = torch.bmm(G, d).squeeze(-1)
            d = d.squeeze(-1)
            # largest feasible step along -d: min over G_j d < 0 of s_j / -(G_j d)
            ratio = torch.where(Gd < 0, sl / Gd, torch.full_like(Gd, -1e30)).amax(-1).neg_()
            step = torch.clamp(frac[l] * ratio, max=1.0).unsqueeze(-1)
            x = x - step * d
            sl = sl + step * Gd
        return x

    # -- losses / helpers on the normalised problem
    def scaled_power(self, out):
        """||x||^2 after the feasibility step (gamma = 1): ||x||^2 / min_i c_i(x)^2."""
        G, x = out["G"], out["x"]
        K = self.cfg.k
        gx = torch.einsum("bij,bj->bi", G, x)
        # G rows: Q - tP and -Q - tP  ->  Re r~ = -(g1 + g2) / (2t), |Im r~| = |g1 - g2| / 2
        re = -(gx[:, :K] + gx[:, K:]) / (2 * self.tan_t)
        im = (gx[:, :K] - gx[:, K:]) / 2
        c = (re - im.abs() / self.tan_t).amin(-1)
        return (x * x).sum(-1) / c.clamp_min(1e-9) ** 2

    @staticmethod
    def dual(out):
        """Eq. (9) (no regulariser) at the eq. (10) precoder x(lam) = -G^T lam / 2: d(lam) [B]."""
        G, h, lam = out["G"], out["h"], out["lam"]
        xl = -0.5 * torch.einsum("bij,bi->bj", G, lam)
        return (xl * xl).sum(-1) + (lam * (torch.einsum("bij,bj->bi", G, xl) - h)).sum(-1)

    def quant_layers(self):
        return [getattr(self, n) for n in QUANT_LAYERS]

    def weight_count(self):
        return sum(p.numel() for n, p in self.named_parameters() if n.endswith("weight"))


# ------------------------------------------------------------------------------------------
# numpy front end (exact rescaling + final feasibility step)
def normalise(H, s):
    """(A_n [B, K, M] complex128, rho [B])."""
    A = pb.rotated(np.asarray(H, dtype=np.complex128), np.asarray(s))
    rho = np.sqrt(np.mean(A.real**2 + A.imag**2, axis=(1, 2)))
    rho = np.where(rho > 0, rho, 1.0)
    return A / rho[:, None, None], rho


@torch.no_grad()
def precode(net: SlpDNet, H, s, gamma, chunk: int = 1024):
    """Learned precoder: H [B, K, M], s [B, K], gamma scalar or [B] -> (u [B, M] complex128 feasible,
    fallback [B] bool: rows where the final step had to use zero forcing). Runs in chunks of
    ``chunk`` vectors (1024: the activations stay in cache; measured faster than 8192 on one thread)."""
    net.eval()
    H = np.asarray(H)
    An, rho = normalise(H, s)
    fused = getattr(net, "_fused", None) is not None
    xs = []
    for i in range(0, len(An), chunk):
        a = torch.from_numpy(An[i : i + chunk])
        xs.append((net.infer(a) if fused else net(a)["x"]).numpy())
    x = np.concatenate(xs) if xs else np.zeros((0, 2 * net.cfg.m))
    g = np.broadcast_to(np.asarray(gamma, dtype=float), rho.shape)
    u = pb.to_complex(x) * (g / rho)[:, None]
    return pb.scale_to_feasible(H, s, u, net.cfg.psk_order, g)


# ------------------------------------------------------------------------------------------
# model files
# Format 2 (current): quantized rows bit-packed (+ float32 per-row scales), every other float tensor of a
# quantized model (its full-precision rows of conv1/conv2/fc1, fc2, biases, BN) stored as float16 and
# read back into float32; the per-layer scalars (v_off, s_off, f_logit) stay float32. The fp32 model
# is the reference and keeps float32 storage throughout.
# Format 1 (first release): the same tensors, all floats in float32. load_model refuses it with a
# message; convert_file() rewrites a format-1 file as format 2 (exact float32 -> float16 rounding).
FORMAT = "deepquant-slp-dnet-2"
LEGACY_FORMATS = ("deepquant-slp-dnet-1",)
FLOAT32_ALWAYS = ("v_off", "s_off", "f_logit")


def storage_dtype(name: str, cfg: DNetConfig):
    """The dtype a float tensor ``name`` of a model with config ``cfg`` is stored with (format 2)."""
    if not cfg.quantized or name in FLOAT32_ALWAYS or name.endswith(".beta"):
        return np.float32
    return np.float16


def _to_storage(name, arr, cfg):
    dt = storage_dtype(name, cfg)
    out = np.asarray(arr, dtype=np.float32).astype(dt)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name}: values outside the {np.dtype(dt).name} range, cannot store this model")
    return out


def state_to_tensors(net: SlpDNet) -> dict:
    """The shipped representation (format 2): quantized rows bit-packed, floats as storage_dtype()."""
    cfg = net.cfg
    out = {}
    sd = {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}
    for name, t in sd.items():
        layer = name.rsplit(".", 1)[0]
        if name.endswith("qmask") or name.endswith("num_batches_tracked"):
            continue
        if cfg.quantized and layer in QUANT_LAYERS and name.endswith(".weight"):
            mask = sd[layer + ".qmask"].astype(bool)
            for part, arr in qz.encode_weight(t, cfg.kind, mask, storage_dtype(name + ".fp", cfg)).items():
                out[f"{name}.{part}"] = _to_storage(f"{name}.{part}", arr, cfg) if part == "fp" else arr
        else:
            out[name] = _to_storage(name, t, cfg)
    return out


def save_model(path, net: SlpDNet, meta: dict):
    from pathlib import Path

    from safetensors.numpy import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    shapes = {n: list(getattr(net, n).weight.shape) for n in QUANT_LAYERS}
    m = dict(meta)
    m.update({"config": asdict(net.cfg), "quant_shapes": shapes, "format": FORMAT})
    tensors = {k: np.ascontiguousarray(v) for k, v in state_to_tensors(net).items()}
    save_file(tensors, str(path), metadata={"meta": json.dumps(m)})
    return path


def _read_file(path):
    """-> (meta, tensors); ValueError naming the file if it is missing, unreadable, holds NaN/inf
    or has no SLP-DNet metadata."""
    from ..modelfile import json_meta, read_safetensors

    md, t = read_safetensors(path, "SLP-DNet")
    return json_meta(md, "meta", path, "SLP-DNet"), t


def convert_file(src, dst):
    """Rewrite an SLP-DNet model file (format 1 or 2) as format 2 at ``dst``. Quantized codes and
    scales are copied; float tensors are rounded to storage_dtype(). Returns ``dst``."""
    from pathlib import Path

    from safetensors.numpy import save_file

    meta, t = _read_file(src)
    fmt = meta.get("format")
    if fmt not in LEGACY_FORMATS + (FORMAT,):
        raise ValueError(f"{src}: not an SLP-DNet model file (format {fmt!r})")
    cfg = DNetConfig(**meta["config"])
    out = {k: (_to_storage(k, v, cfg) if v.dtype.kind == "f" else v) for k, v in t.items()}
    meta["format"] = FORMAT
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v) for k, v in out.items()}, str(dst), metadata={"meta": json.dumps(meta)})
    return dst


def load_model(path) -> SlpDNet:
    """Load a model file (format 2): bit-packed weights decoded, float16 tensors read back into
    float32 (the network's dtypes), eval mode, BatchNorm folded for inference.

    Any bad file (missing, truncated, foreign, NaN weights, metadata of the wrong type or
    describing a network larger than the file) raises ValueError naming the file."""
    from ..modelfile import naming

    with naming(path, "SLP-DNet"):
        return _load_model(path)


def _load_model(path) -> SlpDNet:
    from ..modelfile import check_param_budget, meta_param_count

    meta, t = _read_file(path)
    fmt = meta.get("format")
    if fmt in LEGACY_FORMATS:
        raise ValueError(
            f"{path}: SLP-DNet model file format {fmt!r} (float32 storage) is no longer read; this "
            f"version reads {FORMAT!r}. Convert it with `python scripts/ship_slp_models.py --convert "
            f"{path} NEW.safetensors` (or gnuradio.deepquant.slp.dnet.convert_file) or retrain with "
            f"`deepquant train slp`."
        )
    if fmt != FORMAT:
        raise ValueError(f"{path}: not an SLP-DNet model file (format {fmt!r}, expected {FORMAT!r})")
    cfg = DNetConfig(**meta["config"])
    check_param_budget(meta_param_count(lambda: SlpDNet(cfg)), path, "SLP-DNet")
    net = SlpDNet(cfg)
    sd = {}
    for name in net.state_dict():
        layer = name.rsplit(".", 1)[0]
        if name.endswith("qmask") or name.endswith("num_batches_tracked"):
            continue
        if cfg.quantized and layer in QUANT_LAYERS and name.endswith(".weight"):
            parts = {k[len(name) + 1 :]: v for k, v in t.items() if k.startswith(name + ".")}
            sd[name] = torch.from_numpy(qz.decode_weight(parts, cfg.kind, meta["quant_shapes"][layer]))
            if "qrows" in parts:  # keep the SQ partition (re-saving a loaded model keeps it)
                rows = meta["quant_shapes"][layer][0]
                sd[layer + ".qmask"] = torch.from_numpy(np.unpackbits(parts["qrows"])[:rows].astype(bool))
        else:
            sd[name] = torch.from_numpy(np.asarray(t[name], dtype=np.float32))
    net.load_state_dict(sd, strict=False)  # copies cast to each parameter's dtype
    for lay in net.quant_layers():
        lay.frozen = True
    net.meta = meta
    net.eval()
    net.fuse_for_inference()
    return net
