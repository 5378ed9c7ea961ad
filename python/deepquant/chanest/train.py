"""Training of the task-based quantizers of paper 000, saving, and model cards.

One call of :func:`train` = one rate, one method, one training set; a few tens of seconds to a
couple of minutes on one CPU thread for the paper's setup.

Recipe (defaults of :class:`TrainConfig`) and the choices behind it -- the paper fixes the
architecture (linear layers, p = k), the data (2^15 training samples, P = 4 or P ~ U[1, 10] per
sample), c_i = 5, a, b ~ N(0, 1), "SGD with momentum 0.5 and learning-rate decay 0.7", the
[-3, 3] passing-gradient codebook, and leaves the rest open:

* **Optimizer**: Adam, lr 3e-3, cosine decay, batch 256, 60 epochs (``optimizer='sgd'`` gives the
  paper's SGD, momentum 0.5, lr x0.7 every ``lr_step_epochs``).
* **AGC in front of the ADCs (soft-to-hard)**: each ADC input is normalised to unit RMS (batch
  statistics in training, a fixed gain at inference, folded into the combiner).  Without it, at
  the paper's fixed c = 5, the network shrinks the ADC input into the linear part of the tanh:
  the soft system then reaches almost the unquantized MMSE while the extracted hard quantizer is
  useless (measured at M = 2: soft 0.014, hard 2.2); with annealing but no AGC the hard system
  is 1.5x / 1.4x the scalar-ADC limit at M = 3 / 4 (``--ablations`` of the reproduction).  The passing-gradient method follows the paper (no AGC: the combiner
  sets the scale seen by the fixed [-3, 3] codebook); ``agc=True`` is available as an ablation.
* **Annealing**: c_i goes geometrically from 5 (the paper's value) to ``c_final`` = 100 over the
  epochs (t_i = b_i/c_i kept), so that the trained soft quantizer is the hard one of eq. (4).
* **Initialisation**: ``init='spread'`` puts the M-1 thresholds at the Gaussian quantiles
  ``Phi^-1(i/M)`` with equal amplitudes; the paper's ``init='normal'`` (a, b ~ N(0, 1)) is
  available but, measured, often leaves merged thresholds and non-monotone levels (hard MSE
  1.83x / 1.84x / 1.73x the scalar-ADC limit at M = 3 / 8 / 18, instead of 1.01x-1.02x).
* **Digital refit**: after extraction of the hard quantizer the (linear) digital layer is refit by
  least squares on the hard-quantized *training* data (a data-driven step, no model knowledge);
  with a deeper digital network it is fine-tuned on the hard outputs instead.
* **SNR uncertainty**: the shipped soft-to-hard SNR-uncertainty models add an energy-adaptive gain
  to the linear digital layer (``digital_gain``, :class:`.models.EnergyGain`): with one fixed
  linear estimator for P in [1, 10] the error at P = 4 is dominated by the gain mismatch
  (measured 0.0256 at M = 18, above eta_sc with noisy P, 0.0240); with the gain, 0.018.
* **Test data**: 2^14 fresh samples at the nominal P (also for SNR-uncertainty training: the
  paper's Fig. 4 compares at P = 4), evaluated through the C++ kernel (:mod:`.estimators`).
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from . import bounds as _bounds
from .system import ChannelSetup

__all__ = [
    "TrainConfig",
    "TrainResult",
    "make_dataset",
    "train",
    "save_model",
    "model_stem",
    "write_index",
    "FORMAT",
    "FORMAT_VERSION",
]

FORMAT = "deepquant-chanest-tbq"
FORMAT_VERSION = 1
METHODS = ("soft_to_hard", "passing_gradient")
TRAININGS = ("optimal", "snr_uncertainty")


@dataclass
class TrainConfig:
    """Everything that defines one trained model (saved in its model card).

    Attributes (units: SNR linear; rates in ADC bits per real observation)
    ----------
    n_t, n_u, tau_p, snr : the channel setup (paper: 10, 4, 12, 4.0).
    method : 'soft_to_hard' | 'passing_gradient'.
    training : 'optimal' (P = snr) | 'snr_uncertainty' (P ~ U[snr_range] per sample).
    num_levels : M >= 2 levels per ADC (rate = p log2 M / n).
    p : number of ADCs (None = k, the paper's choice).
    digital_hidden : hidden widths of the digital ReLU network (empty = linear, the paper's).
    digital_gain : energy-adaptive output gain of the digital network (:class:`.models.EnergyGain`);
        used by the shipped soft-to-hard SNR-uncertainty models.
    num_train, num_test : data set sizes (paper: 2^15 training samples).
    epochs, batch_size, optimizer, lr, momentum, lr_decay, lr_step_epochs : optimisation.
    c_init, c_final : tanh slopes at the start / end of training (equal = fixed c).
    init : 'spread' | 'normal' (soft-to-hard initialisation, see the module docstring).
    agc : None (auto: on for soft-to-hard, off for passing-gradient) | bool.
    pg_range : passing-gradient codebook range [-pg_range, pg_range].
    refit_digital : refit the digital layer on the hard-quantized training data.
    seed : seeds the training data (``seed``), the test data (``seed + 1_000_003``) and torch.
    """

    n_t: int = 10
    n_u: int = 4
    tau_p: int = 12
    snr: float = 4.0
    method: str = "soft_to_hard"
    training: str = "optimal"
    snr_range: tuple = (1.0, 10.0)
    num_levels: int = 8
    p: Optional[int] = None
    digital_hidden: tuple = ()
    digital_gain: bool = False
    num_train: int = 2**15
    num_test: int = 2**14
    epochs: int = 60
    batch_size: int = 256
    optimizer: str = "adam"
    lr: float = 3e-3
    momentum: float = 0.5
    lr_decay: float = 0.7
    lr_step_epochs: int = 10
    c_init: float = 5.0
    c_final: float = 100.0
    init: str = "spread"
    agc: Optional[bool] = None
    agc_rms: float = 1.0
    pg_range: float = 3.0
    refit_digital: bool = True
    seed: int = 0

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.training not in TRAININGS:
            raise ValueError(f"training must be one of {TRAININGS}, got {self.training!r}")
        if int(self.num_levels) < 2:
            raise ValueError(f"num_levels must be >= 2, got {self.num_levels}")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if self.init not in ("spread", "normal"):
            raise ValueError(f"init must be 'spread' or 'normal', got {self.init!r}")
        if not (0 < self.c_init <= self.c_final):
            raise ValueError("need 0 < c_init <= c_final")
        self.snr_range = tuple(float(v) for v in self.snr_range)
        self.digital_hidden = tuple(int(h) for h in self.digital_hidden)
        self.num_levels = int(self.num_levels)

    @property
    def setup(self) -> ChannelSetup:
        return ChannelSetup(self.n_t, self.n_u, self.tau_p, self.snr)

    @property
    def num_adcs(self) -> int:
        return self.setup.k if self.p is None else int(self.p)

    @property
    def rate(self) -> float:
        return _bounds.rate_of(self.num_levels, self.num_adcs, self.setup.n)

    @property
    def use_agc(self) -> bool:
        return (self.method == "soft_to_hard") if self.agc is None else bool(self.agc)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["snr_range"] = list(self.snr_range)
        d["digital_hidden"] = list(self.digital_hidden)
        return d


@dataclass
class TrainResult:
    """Outcome of :func:`train`.

    Attributes
    ----------
    config : TrainConfig
    tensors : dict name -> float32 ndarray (the deployable hard system, see :mod:`.estimators`)
    metrics : dict (test MSE through the kernel, soft MSE, bounds at this rate, timings)
    history : list of per-epoch dicts
    """

    config: TrainConfig
    tensors: dict
    metrics: dict
    history: list = field(default_factory=list)


def make_dataset(setup: ChannelSetup, num: int, seed: int, training: str = "optimal", snr_range=(1.0, 10.0)):
    """(s (num, k), x (num, n)) float32; 'snr_uncertainty' draws P ~ U[snr_range] per sample."""
    rng = np.random.default_rng(seed)
    snr = rng.uniform(snr_range[0], snr_range[1], num) if training == "snr_uncertainty" else None
    return setup.sample(num, rng, snr=snr)


def model_stem(config: TrainConfig) -> str:
    """File stem of a model, e.g. ``soft_to_hard_optimal_nt10_nu4_tp12_p80_M8``."""
    return (
        f"{config.method}_{config.training}_nt{config.n_t}_nu{config.n_u}_tp{config.tau_p}"
        f"_p{config.num_adcs}_M{config.num_levels}"
    )


def _build(config: TrainConfig, x_scale: float, generator):
    from .models import PassingGradientADC, SoftToHardADC, TaskBasedQuantizer

    setup = config.setup
    if config.method == "soft_to_hard":
        adc = SoftToHardADC(config.num_levels, config.c_init, config.init, generator)
    else:
        adc = PassingGradientADC(config.num_levels, config.pg_range)
    return TaskBasedQuantizer(
        setup.n,
        config.num_adcs,
        setup.k,
        adc,
        config.digital_hidden,
        x_scale,
        generator,
        agc=config.use_agc,
        agc_rms=config.agc_rms,
        digital_gain=config.digital_gain,
    )


def train(config: TrainConfig, progress: Optional[Callable[[dict], None]] = None, threads: int = 1) -> TrainResult:
    """Train one task-based quantizer and evaluate it through the C++ kernel.

    Parameters
    ----------
    config : TrainConfig
    progress : callable, optional
        Called after every epoch with a dict (epoch, epochs, train_mse, c, seconds).
    threads : int
        torch intra-op threads (1 while other jobs share the CPU).
    """
    import torch

    from .estimators import TBQEstimator

    torch.set_num_threads(max(1, int(threads)))
    t_start = time.time()
    setup = config.setup
    k = setup.k
    s_tr, x_tr = make_dataset(setup, config.num_train, config.seed, config.training, config.snr_range)
    s_te, x_te = make_dataset(setup, config.num_test, config.seed + 1_000_003, "optimal")
    x_scale = float(1.0 / np.sqrt(np.mean(np.square(x_tr, dtype=np.float64))))
    gen = torch.Generator().manual_seed(int(config.seed))
    net = _build(config, x_scale, gen)
    xt, st = torch.from_numpy(x_tr), torch.from_numpy(s_tr)

    if config.optimizer == "adam":
        opt = torch.optim.Adam(net.parameters(), lr=config.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, config.epochs))
    else:
        opt = torch.optim.SGD(net.parameters(), lr=config.lr, momentum=config.momentum)
        sched = torch.optim.lr_scheduler.StepLR(opt, max(1, config.lr_step_epochs), gamma=config.lr_decay)
    soft = config.method == "soft_to_hard"
    c_factor = (config.c_final / config.c_init) ** (1.0 / max(1, config.epochs - 1)) if soft else 1.0
    history = []
    num = x_tr.shape[0]
    for epoch in range(config.epochs):
        net.train()
        perm = torch.randperm(num, generator=gen)
        total = 0.0
        for i in range(0, num, config.batch_size):
            idx = perm[i : i + config.batch_size]
            loss = torch.mean(torch.sum((net(xt[idx]) - st[idx]) ** 2, dim=1)) / k
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * idx.numel()
        sched.step()
        c_now = float(net.adc.c[0]) if soft else float("nan")
        rec = {
            "epoch": epoch + 1,
            "epochs": config.epochs,
            "train_mse": total / num,
            "c": c_now,
            "seconds": time.time() - t_start,
        }
        history.append(rec)
        if progress is not None:
            progress(rec)
        if soft and epoch < config.epochs - 1:
            net.adc.scale_c(c_factor)
    t_train = time.time() - t_start

    net.eval()
    net.calibrate_agc(xt)
    with torch.no_grad():
        soft_test = float(torch.mean(torch.sum((net(torch.from_numpy(x_te)) - torch.from_numpy(s_te)) ** 2, dim=1)) / k)
    tensors = net.export()
    before_refit = TBQEstimator(tensors, _card_config(config)).mse_real(x_te, s_te)
    if config.refit_digital:
        tensors = _refit_digital(net, tensors, x_tr, s_tr, config)
    est = TBQEstimator(tensors, _card_config(config))
    test_mse = est.mse_real(x_te, s_te)
    lim = _bounds.scalar_adc_limit(setup, config.num_levels) if config.num_adcs == k else float("nan")
    metrics = {
        "test_mse": test_mse,
        "test_mse_before_refit": before_refit,
        "soft_test_mse": soft_test,
        "final_train_mse_soft": history[-1]["train_mse"] if history else float("nan"),
        "rate_bits_per_obs": config.rate,
        "adc_bits_per_block": config.num_adcs * math.log2(config.num_levels),
        "mmse": _bounds.mmse(setup),
        "eta_opt": _bounds.eta_opt(setup, config.rate),
        "scalar_adc_limit": lim,
        "ratio_to_scalar_adc_limit": test_mse / lim if lim == lim else float("nan"),
        "train_seconds": t_train,
        "total_seconds": time.time() - t_start,
        "test_samples": int(config.num_test),
        "test_snr": setup.snr,
    }
    return TrainResult(config, tensors, metrics, history)


def _refit_digital(net, tensors: dict, x_tr, s_tr, config: TrainConfig) -> dict:
    """Least-squares refit of the last (linear) digital layer on the hard ADC outputs of the
    training data.  With an energy gain g the fit uses the features ``[q g, g]`` (exact, g kept);
    deeper digital networks are kept as trained (fine-tuning them on the hard outputs over-fitted
    in a measurement: 0.0239 -> 0.0247 at M = 18)."""
    from .estimators import TBQEstimator

    if config.digital_hidden:
        return tensors
    est = TBQEstimator(tensors, _card_config(config))
    q = est.adc_outputs_real(x_tr).astype(np.float64)
    g = est.digital_gain(q.astype(np.float32)).astype(np.float64)
    feats = np.concatenate([q * g, g], axis=1)
    sol, *_ = np.linalg.lstsq(feats, s_tr.astype(np.float64), rcond=None)
    out = dict(tensors)
    out["digital.0.weight"] = sol[:-1].T.astype(np.float32)
    out["digital.0.bias"] = sol[-1].astype(np.float32)
    return out


def _card_config(config: TrainConfig) -> dict:
    """The part of the config the inference code needs (stored as safetensors metadata)."""
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "n_t": config.n_t,
        "n_u": config.n_u,
        "tau_p": config.tau_p,
        "snr": config.snr,
        "method": config.method,
        "training": config.training,
        "p": config.num_adcs,
        "num_levels": config.num_levels,
        "digital_hidden": list(config.digital_hidden),
        "digital_gain": bool(config.digital_gain),
        "rate": config.rate,
    }


def reproduce_command(config: TrainConfig) -> str:
    """The ``deepquant train chanest`` command line that retrains this model."""
    d = TrainConfig()
    parts = [
        "deepquant train chanest",
        f"--levels {config.num_levels}",
        f"--method {config.method}",
        f"--training {config.training}",
    ]
    for name, flag in (
        ("n_t", "--nt"),
        ("n_u", "--nu"),
        ("tau_p", "--tau-p"),
        ("snr", "--snr"),
        ("epochs", "--epochs"),
        ("seed", "--seed"),
        ("init", "--init"),
        ("c_final", "--c-final"),
        ("optimizer", "--optimizer"),
        ("lr", "--lr"),
    ):
        if getattr(config, name) != getattr(d, name):
            parts.append(f"{flag} {getattr(config, name)}")
    if config.p is not None:
        parts.append(f"--p {config.p}")
    if config.digital_hidden:
        parts.append("--digital-hidden " + " ".join(str(h) for h in config.digital_hidden))
    if config.digital_gain:
        parts.append("--digital-gain")
    if config.agc is not None:
        parts.append("--agc" if config.agc else "--no-agc")
    if not config.refit_digital:
        parts.append("--no-refit")
    return " ".join(parts)


def save_model(result: TrainResult, out_dir, stem: Optional[str] = None) -> tuple:
    """Write ``<stem>.safetensors`` (tensors + metadata, no pickle) and ``<stem>.json`` (model card).

    Returns
    -------
    (Path, Path) : the weights and the card.
    """
    import safetensors
    import torch
    from safetensors.numpy import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = result.config
    stem = stem or model_stem(cfg)
    wpath = out / f"{stem}.safetensors"
    meta = {"deepquant": json.dumps(_card_config(cfg), sort_keys=True)}
    save_file(
        {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in result.tensors.items()}, str(wpath), metadata=meta
    )
    digest = hashlib.sha256(wpath.read_bytes()).hexdigest()
    card = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "weights": wpath.name,
        "sha256": digest,
        "description": (
            "Task-based quantized MIMO channel estimator (paper 000): linear analog "
            "combiner -> p identical scalar ADCs -> linear digital estimator."
        ),
        "model": _card_config(cfg),
        "training_config": cfg.as_dict(),
        "data": {
            "train": (
                f"{cfg.num_train} samples of eq. (5), seed {cfg.seed}, "
                + (
                    f"P = {cfg.snr}"
                    if cfg.training == "optimal"
                    else f"P ~ U[{cfg.snr_range[0]}, {cfg.snr_range[1]}] per sample"
                )
            ),
            "test": f"{cfg.num_test} samples at P = {cfg.snr}, seed {cfg.seed + 1_000_003}",
        },
        "metrics": result.metrics,
        "conventions": (
            "input: received pilot block y (tau_p*n_t complex, y[t*n_t+a]) as x = [Re y; Im y]; "
            "output s = [Re h; Im h], h[u*n_t+a]; MSE = E||s - s_hat||^2 / k; ADC inference "
            "through gnuradio.deepquant.scalar_quantizer (index = searchsorted(thr, z, 'right'))."
        ),
        "reproduce": reproduce_command(cfg),
        "environment": {
            "torch": torch.__version__,
            "numpy": np.__version__,
            "safetensors": safetensors.__version__,
            "python": platform.python_version(),
        },
    }
    cpath = out / f"{stem}.json"
    cpath.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")
    return wpath, cpath


def write_index(out_dir) -> Path:
    """(Re)write ``README.md`` in a model directory: one row per model card found there."""
    out = Path(out_dir)
    rows = []
    for cpath in sorted(out.glob("*.json")):
        try:
            card = json.loads(cpath.read_text())
        except json.JSONDecodeError:
            continue
        if card.get("format") != FORMAT:
            continue
        m, mt, tc = card["model"], card["metrics"], card["training_config"]
        rows.append((m["method"], m["training"], m["num_levels"], m, mt, tc, card))
    rows.sort(key=lambda r: (r[0] != "soft_to_hard", r[1] != "optimal", r[2]))
    lines = [
        "# Shipped task-based quantized channel-estimation models",
        "",
        "Paper 000 (Shohat, Tsintsadze, Shlezinger, Eldar, *Deep quantization for MIMO channel estimation*),",
        "setup n_t = 10, n_u = 4, tau_p = 12, P = 4, p = k = 80 identical ADCs of M levels, rate",
        "R = p log2(M) / n = log2(M)/3 bits per real observation. Each `<stem>.safetensors` (weights, no",
        "pickle; config in the metadata) has a model card `<stem>.json` with the full training config, data,",
        "seed, measured MSE and the command that reproduces it. Test MSE: 2^14 fresh pilot blocks at P = 4,",
        "through the C++ ADC kernel; limit = scalar-ADC (Lloyd-Max) limit at that M.",
        "",
        "Regenerate all: `deepquant train chanest --paper-grid --out python/deepquant/models/chanest`",
        "(about 10 minutes on one core); one model: the `reproduce` command of its card.",
        "",
        "| method | training | digital | M | R | test MSE | limit | ratio | eta_opt | train s | file |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for method, training, lv, m, mt, _tc, card in rows:
        digital = "linear" + (" + energy gain" if m.get("digital_gain") else "")
        if m.get("digital_hidden"):
            digital = (
                "MLP " + "x".join(str(h) for h in m["digital_hidden"]) + (" + gain" if m.get("digital_gain") else "")
            )
        lines.append(
            f"| {method} | {training} | {digital} | {lv} | {m['rate']:.3f} | {mt['test_mse']:.5f} | "
            f"{mt['scalar_adc_limit']:.5f} | {mt['ratio_to_scalar_adc_limit']:.3f} | {mt['eta_opt']:.5f} | "
            f"{mt['train_seconds']:.0f} | `{card['weights']}` |"
        )
    lines += [
        "",
        "Training recipe and the choices behind it: `gnuradio.deepquant.chanest.train` (module docstring).",
        "",
    ]
    path = out / "README.md"
    path.write_text("\n".join(lines))
    return path
