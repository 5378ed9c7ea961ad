"""EQ-Net networks (Arvinte, Tewfik & Vishwanath, "EQ-Net: A Unified Deep Learning Framework for
Log-Likelihood Ratio Estimation and Quantization"): quantization encoder f_Q, shared branched decoder g,
estimation encoder f_E.  Pure torch, no GNU Radio.

Shapes for ``Nt`` streams, ``K`` bits per symbol, ``D`` latent dimensions (default ``3 Nt``, the
ZF-SIC dimension of the paper's Theorem 1; the arch key ``latent_dim`` sets another, e.g. exact ML's
``Nt (Nt + 2)`` of Theorem 2):

* ``QuantEncoder``   soft bits ``tanh(L/2)`` [B, Nt K] -> latents [B, D] in (-1, 1) (tanh).
  MLP, ``hidden_layers`` (6) hidden layers of width ``4 Nt K``, ReLU.
* ``BranchedDecoder`` latents [B, D] -> soft bits [B, Nt K]: ``Nt K`` parallel MLPs, each sees the
  whole latent and produces one soft bit (tanh output), ``hidden_layers`` (6) hidden layers of
  width ``branch_width``.  The branches are evaluated together as batched matrix products
  (weights [Nt K, in, out]), not a Python loop.
* ``EstimationEncoder`` (y, H, sigma) -> latents [B, D]: one dense input layer per input (y and H
  real-flattened: real parts then imaginary parts; the noise input is ``[sigma, ln sigma^2]``;
  with ``stats`` (the shipped models) a fourth input layer for the LMMSE statistics of
  :func:`lmmse_features`), concatenation, a dense layer to the trunk width, ``blocks`` residual
  blocks (EQ-Net-L: 1, EQ-Net-P: 3), each ``layers_per_block`` (6) hidden layers with a skip
  connection around every layer (``x <- x + relu(W x + b)``), and a linear output of size D.

Choices the paper leaves open or that were changed after measuring (see the model cards):

* branch width 24, trunk width 96, input layers 32 wide (speed: EQ-Net-L must stream >= 1e5
  channel uses/s on 2 cores);
* the exact residual wiring; the noise input ``[sigma, ln sigma^2]`` (``sigma`` alone is badly
  scaled over 15-25 dB);
* He initialisation of the ReLU layers (:func:`he_init_`: with torch's default init stage 1
  collapsed);
* the LMMSE-statistics input of f_E.  The paper feeds only (y, H, sigma).  Measured on 2x2 64-QAM
  with the same stage-1 model, 3000 stage-2 steps (batch 4096): raw inputs only reached an L1
  latent distance of 0.70 and BLER 1.0 at 20.5 dB; with the statistics 0.21 and BLER 0.048 --
  products and inverses of y and H are what a shallow ReLU network learns slowest, and a 2-core
  CPU affords ~1 % of the paper's 1000 epochs.  The raw inputs stay (the network still sees
  y, H, sigma) and ``est_stats = false`` in a config gives the paper's literal encoder.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def llr_to_softbit(llr: torch.Tensor) -> torch.Tensor:
    return torch.tanh(0.5 * llr)


#: soft bits are clipped to +-SOFTBIT_MAX before atanh (|L| <= 2 atanh(1 - 1e-6) ~ 28.6)
SOFTBIT_MAX = 1.0 - 1e-6


def softbit_to_llr(s: torch.Tensor) -> torch.Tensor:
    return 2.0 * torch.atanh(s.clamp(-SOFTBIT_MAX, SOFTBIT_MAX))


def he_init_(lin: nn.Linear) -> nn.Linear:
    """He (Kaiming) normal weights for a ReLU layer, zero bias.

    torch's default Linear init (variance 1/(3 fan_in)) shrinks the signal ~6x per ReLU layer:
    through the 6-layer f_Q and the 6-layer decoder branches it vanishes, and stage 1 trained that
    way left whole outputs stuck near 0 (2x2 64-QAM: soft-bit sign agreement 0.86 and eq. (7)
    loss 3.0 after 1500 steps, autoencoder BLER 0.97 at 20.5 dB after 7000); with He init the same
    run reached 0.96 and 0.90 after 1500 steps.
    """
    nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
    nn.init.zeros_(lin.bias)
    return lin


class MLP(nn.Module):
    def __init__(self, d_in: int, width: int, hidden_layers: int, d_out: int):
        super().__init__()
        layers, d = [], d_in
        for _ in range(hidden_layers):
            layers += [he_init_(nn.Linear(d, width)), nn.ReLU()]
            d = width
        layers.append(nn.Linear(d, d_out))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class QuantEncoder(nn.Module):
    """f_Q: soft bits [B, Nt K] -> latents [B, 3 Nt] (tanh)."""

    def __init__(self, nt: int, k: int, hidden_layers: int = 6, width_factor: int = 4, d_latent: int = 0):
        super().__init__()
        n = nt * k
        self.mlp = MLP(n, width_factor * n, hidden_layers, int(d_latent) or 3 * nt)

    def forward(self, s):
        return torch.tanh(self.mlp(s).float())


class BranchedDecoder(nn.Module):
    """g: latents [B, D] -> soft bits [B, n_out]; n_out parallel MLPs batched as bmm."""

    def __init__(self, d_latent: int, n_out: int, branch_width: int = 32, hidden_layers: int = 6):
        super().__init__()
        self.n_out, self.hidden_layers = n_out, hidden_layers
        dims = [d_latent] + [branch_width] * hidden_layers + [1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            if i < hidden_layers:  # He init for the ReLU layers (see he_init_), zero biases
                w = torch.randn(n_out, a, b) * math.sqrt(2.0 / a)
                bias = torch.zeros(n_out, 1, b)
            else:  # output layer: torch.nn.Linear's default init, per branch
                bound = 1.0 / math.sqrt(a)
                w = torch.empty(n_out, a, b).uniform_(-bound, bound)
                bias = torch.empty(n_out, 1, b).uniform_(-bound, bound)
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(bias))

    def half_llr(self, z):
        """Pre-tanh outputs [B, n_out] in float32: L_hat / 2 (soft bit = tanh of it)."""
        h = z.unsqueeze(0).expand(self.n_out, -1, -1)  # [n_out, B, D]
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = torch.relu(h)
        # float32: under bf16 autocast the soft bits near +-1 (large LLRs) would otherwise be rounded
        # to bf16's 2^-8 spacing (|L| > 6 indistinguishable)
        return h.squeeze(-1).transpose(0, 1).float()

    def forward(self, z):
        return torch.tanh(self.half_llr(z))  # [B, n_out]


def real_flat(x: torch.Tensor) -> torch.Tensor:
    """Complex [B, ...] -> real [B, 2 prod(...)]: real parts (row-major) then imaginary parts."""
    x = x.reshape(x.shape[0], -1)
    return torch.cat([x.real, x.imag], dim=1)


def lmmse_features(y, H, noise_var) -> torch.Tensor:
    """Per channel use: the LMMSE estimate ``x_hat = (H^H H + s2 I)^-1 H^H y`` (2 Nt reals), the
    log per-stream MMSE error ``ln(s2 P_kk)`` (Nt) and the error correlations
    ``P_ij / sqrt(P_ii P_jj)``, i < j (2 reals each), with ``P = (H^H H + s2 I)^-1``: float32
    [B, 3 Nt + Nt (Nt - 1)]. Computed in float64 (Cholesky), like the toolkit's LMMSE detector."""
    Hd = H.to(torch.complex128)
    yd = y.to(torch.complex128)
    nv = noise_var.reshape(-1).to(torch.float64)
    Hh = Hd.conj().transpose(1, 2)
    A = Hh @ Hd
    A.diagonal(dim1=1, dim2=2).add_(nv[:, None].to(A.dtype))
    P = torch.cholesky_inverse(torch.linalg.cholesky(A))
    x = (P @ (Hh @ yd.unsqueeze(-1))).squeeze(-1)
    d = torch.diagonal(P, dim1=1, dim2=2).real.clamp_min(1e-300)
    err = (nv[:, None] * d).clamp(1e-12, 1.0).log()
    nt = H.shape[2]
    iu = torch.triu_indices(nt, nt, 1)
    corr = P[:, iu[0], iu[1]] / torch.sqrt(d[:, iu[0]] * d[:, iu[1]])
    return torch.cat([x.real, x.imag, err, corr.real, corr.imag], dim=1).to(torch.float32)


def ep_features(y, H, noise_var, bits_per_symbol: int, iterations: int = None, per_dim: bool = False) -> torch.Tensor:
    """EP statistics in the layout of :func:`lmmse_features`' first ``3 Nt`` entries, an alternative
    statistics input for f_E (not used by the shipped models).

    Per stream, EP's final extrinsic (cavity) Gaussian of each real dimension d, ``N(t_d, h_d^2)``
    (:func:`gnuradio.deepquant.phy.mimo.ep_cavity`, Céspedes et al.), combined with the Gaussian
    prior of the same energy ``E_d`` (``1/2`` per QAM dimension) as LMMSE combines: mean
    ``t_d E_d / (E_d + h_d^2)`` and variance ``E_d h_d^2 / (E_d + h_d^2)``.  Returns float32
    ``[B, 3 Nt]``: the complex mean (real parts, then imaginary parts) and ``ln`` of the variance
    summed over dimensions (in ``[ln 1e-12, 0]``); with ``iterations=0`` this is exactly
    ``lmmse_features(...)[:, :3 Nt]`` (QAM), the LMMSE estimate and its log MMSE error.
    ``per_dim=True``: ``[B, 4 Nt]``, the log variance per real dimension (I of every stream, then
    Q) instead of their sum -- with the means, a one-to-one function of the cavities, which alone
    determine EP's LLRs.  Computed in float64; ``iterations`` defaults to the detector's
    (``mimo.EP_ITERATIONS``); invalid input raises ``ValueError`` (as the detector)."""
    from ..phy import mapping, mimo

    it = mimo.EP_ITERATIONS if iterations is None else iterations
    yt = y if isinstance(y, torch.Tensor) else torch.as_tensor(y)
    nv = noise_var if isinstance(noise_var, torch.Tensor) else torch.as_tensor(noise_var)
    cav = mimo.ep_cavity(yt, torch.as_tensor(H), nv.reshape(-1), bits_per_symbol, iterations=it, dtype="float64")
    m_d = mapping.dim_statistics(cav.mean.to(torch.complex128), bits_per_symbol)  # [B, Nt, D]
    dirs = torch.tensor(mapping._spec(bits_per_symbol).directions, dtype=torch.complex128, device=m_d.device)
    e_d = 1.0 / m_d.shape[-1]  # unit symbol energy split evenly over the real dimensions
    w = e_d / (e_d + cav.var_dims)  # [B, Nt, D]; 0 where the cavity variance is inf
    mean = ((w * m_d).to(torch.complex128) * dirs).sum(-1)
    var = e_d * (1.0 - w)
    v = var if per_dim else var.sum(-1, keepdim=True)
    logv = v.clamp(1e-12, 1.0).log().transpose(1, 2).reshape(v.shape[0], -1)  # dimension-major
    return torch.cat([mean.real, mean.imag, logv], dim=1).to(torch.float32)


class ResidualBlock(nn.Module):
    def __init__(self, width: int, layers: int = 6):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(layers))

    def forward(self, x):
        for lin in self.layers:
            x = x + torch.relu(lin(x))
        return x


#: f_E statistics inputs (arch ``est_stats``): none, LMMSE's, or LMMSE's plus EP's soft bits
STATS_KINDS = ("none", "lmmse", "lmmse+ep")


def stats_kind(stats) -> str:
    """Normalise an arch ``est_stats`` value (bool or one of :data:`STATS_KINDS`)."""
    if stats is True:
        return "lmmse"
    if stats is False or stats is None:
        return "none"
    if stats in STATS_KINDS:
        return str(stats)
    raise ValueError(f"EQ-Net est_stats must be true, false or one of {STATS_KINDS}, got {stats!r}")


def ep_softbits(y, H, noise_var, bits_per_symbol: int) -> torch.Tensor:
    """Soft bits ``tanh(L/2)`` of the classical EP detector's LLRs with its default iterations and
    damping: float32 [B, Nt K], stream-major as every LLR here, on ``y``'s device.  Computed by the
    module's C++ kernel (:func:`..phy.mimo.ep_cpp`: EP in float64, float32 LLRs equal to
    :func:`..phy.mimo.ep`'s to float rounding) on complex64 / float32 copies of the inputs."""
    from ..phy import mimo

    llr = mimo.ep_cpp(y, H, noise_var.reshape(-1), bits_per_symbol)
    return torch.tanh(0.5 * torch.from_numpy(llr).to(torch.float64)).to(torch.float32).to(y.device)


class EstimationEncoder(nn.Module):
    """f_E: (y [B, Nr] complex, H [B, Nr, Nt] complex, noise_var [B]) -> latents [B, 3 Nt].

    ``stats``: the statistics input (:data:`STATS_KINDS`; ``True`` means ``"lmmse"``).  With
    ``"lmmse+ep"`` the statistics are LMMSE's followed by the soft bits of the classical EP
    detector (:func:`ep_softbits`), and the output is the residual form
    ``f_Q(EP soft bits) + out(trunk)``: the quantization encoder f_Q (shared with the EQNet, attached
    by :class:`EQNet`, not a parameter of f_E) places EP's LLRs on the latent manifold and the
    trunk learns the correction towards exact ML from y, H and the statistics."""

    def __init__(
        self,
        nr: int,
        nt: int,
        width: int = 128,
        blocks: int = 1,
        layers_per_block: int = 6,
        input_width: int = 64,
        stats=False,
        d_latent: int = 0,
        k: int = 0,
    ):
        super().__init__()
        self.stats_kind = stats_kind(stats)
        self.nr, self.nt, self.k, self.stats = nr, nt, int(k), self.stats_kind != "none"
        if self.stats_kind == "lmmse+ep" and self.k < 1:
            raise ValueError("EQ-Net est_stats 'lmmse+ep' needs the bits per symbol")
        n_pairs = nt * (nt - 1) // 2
        n_ep = nt * self.k if self.stats_kind == "lmmse+ep" else 0
        self.n_ep = n_ep
        self.in_x = he_init_(nn.Linear(3 * nt + 2 * n_pairs + n_ep, input_width)) if self.stats else None
        # He init for the ReLU input and fusion layers; the residual layers keep torch's default
        # (smaller) init so that x + relu(W x) does not double the signal at each of up to 18 layers
        self.in_y = he_init_(nn.Linear(2 * nr, input_width))
        self.in_h = he_init_(nn.Linear(2 * nr * nt, input_width))
        self.in_s = he_init_(nn.Linear(2, input_width))
        self.fuse = he_init_(nn.Linear((4 if self.stats else 3) * input_width, width))
        self.blocks = nn.ModuleList(ResidualBlock(width, layers_per_block) for _ in range(blocks))
        self.out = nn.Linear(width, int(d_latent) or 3 * nt)

    def attach_quant_encoder(self, f_q) -> None:
        """The f_Q of the residual form (``"lmmse+ep"``); held as a plain reference, so its weights
        stay f_Q's in the state dict and in ``parameters()``."""
        object.__setattr__(self, "_fq", f_q)

    def features(self, y, H, noise_var):
        """Real input features: (y, H, [sigma, ln sigma^2]) and, with ``stats``, the statistics
        (:func:`lmmse_features`, then with ``"lmmse+ep"`` :func:`ep_softbits`)."""
        nv = noise_var.reshape(-1, 1).to(torch.float32)
        s = torch.cat([nv.sqrt(), nv.log()], dim=1)
        out = (real_flat(y).to(torch.float32), real_flat(H).to(torch.float32), s)
        if self.stats:
            fx = lmmse_features(y, H, noise_var)
            if self.n_ep:
                fx = torch.cat([fx, ep_softbits(y, H, noise_var, self.k)], dim=1)
            out = out + (fx,)
        return out

    def forward(self, y, H, noise_var):
        return self.core(*self.features(y, H, noise_var))

    def core(self, fy, fh, fs, fx=None):
        """f_E on the real features of :meth:`features` (the part worth compiling)."""
        parts = [torch.relu(self.in_y(fy)), torch.relu(self.in_h(fh)), torch.relu(self.in_s(fs))]
        if self.stats:
            parts.append(torch.relu(self.in_x(fx)))
        x = torch.cat(parts, dim=1)
        x = torch.relu(self.fuse(x))
        for b in self.blocks:
            x = b(x)
        z = self.out(x)
        if self.n_ep:
            fq = self.__dict__.get("_fq")
            if fq is None:
                raise RuntimeError("EQ-Net f_E 'lmmse+ep' used without its f_Q (build it through EQNet)")
            z = z + fq(fx[:, -self.n_ep :]).to(z.dtype)
        return z


class EQNet(nn.Module):
    """The three EQ-Net networks for one (Nr, Nt, K) configuration; f_E is optional (a model
    trained only through stage 1 quantizes but does not estimate)."""

    def __init__(
        self,
        nr: int,
        nt: int,
        k: int,
        *,
        enc_hidden_layers: int = 6,
        enc_width_factor: int = 4,
        dec_branch_width: int = 32,
        dec_hidden_layers: int = 6,
        est_width: int = 128,
        est_blocks: int = 1,
        est_layers_per_block: int = 6,
        est_input_width: int = 64,
        est_stats: bool = False,
        latent_dim: int = 0,
        with_estimator: bool = True,
    ):
        super().__init__()
        self.nr, self.nt, self.k = nr, nt, k
        d = int(latent_dim) or 3 * nt
        if not 1 <= d <= 4 * nt * k:
            raise ValueError(f"EQ-Net latent_dim must be in 1..{4 * nt * k}, got {latent_dim}")
        self._latent_dim = d
        self.f_q = QuantEncoder(nt, k, enc_hidden_layers, enc_width_factor, d)
        self.g = BranchedDecoder(d, nt * k, dec_branch_width, dec_hidden_layers)
        self.f_e = (
            EstimationEncoder(nr, nt, est_width, est_blocks, est_layers_per_block, est_input_width, est_stats, d, k)
            if with_estimator
            else None
        )
        if self.f_e is not None:
            self.f_e.attach_quant_encoder(self.f_q)

    @property
    def latent_dim(self) -> int:
        """Latent dimensions: 3 Nt (the paper's choice, ZF-SIC's dimension; arch ``latent_dim`` 0) or
        the arch's ``latent_dim`` (e.g. Nt (Nt + 2), exact ML's, Theorem 2)."""
        return self._latent_dim


class DetectCore(nn.Module):
    """Estimation mode on real features: (fy, fh, fs) -> soft bits (f_E core, then g); the unit
    that :class:`gnuradio.deepquant.eqnet.EQNetRuntime` compiles with TorchScript (its 'torchscript'
    backend; the default 'cpp' backend, the C++ ``eqnet_detector``, computes the same)."""

    def __init__(self, net: EQNet):
        super().__init__()
        self.f_e, self.g = net.f_e, net.g
        if net.f_e is not None and net.f_e.n_ep:
            self.f_q = net.f_q  # the residual form's f_Q, registered so tracing sees its weights

    def forward(self, fy, fh, fs, fx):
        return self.g(self.f_e.core(fy, fh, fs, fx))
