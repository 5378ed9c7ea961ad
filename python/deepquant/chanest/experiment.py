"""Reproduction of Fig. 4 of paper 000: average MSE vs quantization rate, every curve, and the
issue's goals checked from the numbers.

:func:`run` evaluates the shipped models (or retrains them with ``retrain=True``) on one common
test set (``num_test`` fresh samples at P = 4, seed ``TEST_SEED``, never used in training),
computes the bounds and baselines, and returns a JSON-serialisable dict; :func:`plot` draws it.
"""

from __future__ import annotations

import math
import time
from typing import Optional

import numpy as np

from . import bounds as B
from .system import ChannelSetup

__all__ = ["run", "plot", "check_goals", "TEST_SEED"]

TEST_SEED = 20_260_425
LEARNED = (
    ("soft_to_hard", "optimal"),
    ("soft_to_hard", "snr_uncertainty"),
    ("passing_gradient", "optimal"),
    ("passing_gradient", "snr_uncertainty"),
)


def _key(method, training):
    return f"{method}_{training}"


def run(
    levels=(2, 3, 4, 6, 8, 12, 18),
    num_test: int = 2**14,
    retrain: bool = False,
    models_dir: Optional[str] = None,
    epochs: int = 60,
    eta: float = 2.0,
    progress=print,
    ablations: bool = False,
) -> dict:
    """Compute every curve of Fig. 4 at the given ADC resolutions (p = k).

    Parameters
    ----------
    levels : sequence of int
        M of the learned systems (rates log2(M)/3 for the paper's setup).
    num_test : int
        Test pilot blocks (>= 2^14 for the issue).
    retrain : bool
        Train every model now (seed 0, ``epochs``) instead of loading the shipped ones.
    models_dir : str, optional
        Where to write retrained models (default: the cache).
    ablations : bool
        Also train passing-gradient with the AGC and soft-to-hard with the paper's N(0,1) init.
    """
    from .estimators import HardwareLimitedEstimator, TBQEstimator, UniformADCEstimator, find_shipped_model

    t0 = time.time()
    setup = ChannelSetup()
    rng = np.random.default_rng(TEST_SEED)
    s_te, x_te = setup.sample(num_test, rng)
    n, k = setup.n, setup.k
    levels = [int(m) for m in levels]
    rates = [B.rate_of(m, k, n) for m in levels]
    out = {
        "setup": setup.as_dict() | {"n": n, "k": k, "p": k},
        "test": {"samples": num_test, "seed": TEST_SEED, "snr": setup.snr},
        "levels": levels,
        "rate_bits_per_obs": rates,
        "mmse": B.mmse(setup),
    }
    # ---- theory on a fine grid and at every integer M in range -----------------------------------
    r_fine = np.linspace(0.3, 1.6, 131)
    out["eta_opt_curve"] = {"rate_bits_per_obs": r_fine.tolist(), "mse": B.eta_opt(setup, r_fine).tolist()}
    all_m = list(range(2, 19))
    progress("bounds: scalar-ADC limit, eta_sc (true and noisy P) ...")
    out["scalar_adc_limit_curve"] = {
        "levels": all_m,
        "rate_bits_per_obs": [B.rate_of(m, k, n) for m in all_m],
        "mse": [B.scalar_adc_limit(setup, m) for m in all_m],
    }
    out["eta_sc_curve"] = {
        "levels": all_m,
        "rate_bits_per_obs": [B.rate_of(m, k, n) for m in all_m],
        "mse": [B.eta_sc(setup, m, eta=eta) for m in all_m],
        "eta": eta,
    }
    out["eta_sc_noisy_curve"] = {
        "levels": all_m,
        "rate_bits_per_obs": [B.rate_of(m, k, n) for m in all_m],
        "mse": [B.eta_sc_noisy(setup, m, eta=eta) for m in all_m],
        "snr_estimate_variance": "P/4",
    }
    out["eta_opt"] = [B.eta_opt(setup, r) for r in rates]
    out["scalar_adc_limit"] = [B.scalar_adc_limit(setup, m) for m in levels]
    out["eta_sc"] = [B.eta_sc(setup, m, eta=eta) for m in levels]
    out["eta_sc_noisy"] = [B.eta_sc_noisy(setup, m, eta=eta) for m in levels]
    # the SER design run with real (undithered) uniform ADCs through the kernel, Monte-Carlo
    out["eta_sc_hard_adc_mc"] = [
        HardwareLimitedEstimator(setup.n_t, setup.n_u, setup.tau_p, m, setup.snr, eta=eta).mse_real(x_te, s_te)
        for m in levels
    ]
    # ---- task-ignorant uniform ADCs on every observation + LMMSE; BLMMSE ------------------------
    ti = {"levels": [2, 3, 4], "rate_bits_per_obs": [1.0, math.log2(3), 2.0], "mse": [], "mse_mc": []}
    for m in ti["levels"]:
        est = UniformADCEstimator(setup.n_t, setup.n_u, setup.tau_p, m, setup.snr)
        ti["mse"].append(est.predicted_mse)
        ti["mse_mc"].append(est.mse_real(x_te, s_te))
    out["task_ignorant_uniform_lmmse"] = ti
    out["blmmse"] = {"rate_bits_per_obs": 1.0, "mse": B.blmmse(setup)}
    # ---- learned ---------------------------------------------------------------------------------
    learned = {}
    for method, training in LEARNED:
        vals, paths, secs = [], [], []
        for m in levels:
            if retrain:
                from .train import TrainConfig, save_model, train
                from ..paths import cache_dir

                cfg = TrainConfig(method=method, training=training, num_levels=m, epochs=epochs)
                progress(f"training {method}/{training} M={m} ...")
                res = train(cfg)
                wpath, _ = save_model(res, models_dir or (cache_dir() / "chanest" / "models"))
                secs.append(res.metrics["train_seconds"])
            else:
                wpath = find_shipped_model(
                    setup.n_t, setup.n_u, setup.tau_p, B.rate_of(m, k, n), method, training, tolerance=1e-6
                )
            est = TBQEstimator.load(wpath)
            vals.append(est.mse_real(x_te, s_te))
            paths.append(str(wpath))
        learned[_key(method, training)] = {"mse": vals, "models": paths}
        if secs:
            learned[_key(method, training)]["train_seconds"] = secs
        progress(f"{method}/{training}: " + ", ".join(f"{v:.4f}" for v in vals))
    out["learned"] = learned
    if ablations:
        out["ablations"] = _ablations(levels, x_te, s_te, epochs, progress)
    out["goals"] = check_goals(out)
    out["seconds"] = time.time() - t0
    return out


def _ablations(levels, x_te, s_te, epochs, progress) -> dict:
    """Passing-gradient + AGC; soft-to-hard with the paper's N(0,1) init, with fixed c = 5, without
    the AGC; SNR-uncertainty soft-to-hard with the paper's plain linear digital layer."""
    from .estimators import TBQEstimator
    from .train import TrainConfig, _card_config, train

    res = {}
    variants = {
        "passing_gradient_optimal_with_agc": dict(method="passing_gradient", agc=True),
        "soft_to_hard_optimal_paper_init": dict(method="soft_to_hard", init="normal"),
        "soft_to_hard_optimal_fixed_c5": dict(method="soft_to_hard", c_final=5.0),
        "soft_to_hard_optimal_no_agc": dict(method="soft_to_hard", agc=False),
        "soft_to_hard_snr_uncertainty_linear_digital": dict(method="soft_to_hard", training="snr_uncertainty"),
    }
    for name, kw in variants.items():
        vals = []
        for m in levels:
            cfg = TrainConfig(num_levels=m, epochs=epochs, **kw)
            r = train(cfg)
            vals.append(TBQEstimator(r.tensors, _card_config(cfg)).mse_real(x_te, s_te))
        res[name] = {"mse": vals, "config": kw}
        progress(f"ablation {name}: " + ", ".join(f"{v:.4f}" for v in vals))
    return res


def check_goals(res: dict) -> dict:
    """The issue's goals, evaluated on the measured numbers (met: bool plus the margins)."""
    rates = np.array(res["rate_bits_per_obs"])
    lim = np.array(res["scalar_adc_limit"])
    opt = np.array(res["eta_opt"])
    sc = np.array(res["eta_sc"])
    scn = np.array(res["eta_sc_noisy"])
    lr = res["learned"]
    s2h = np.array(lr["soft_to_hard_optimal"]["mse"])
    s2h_u = np.array(lr["soft_to_hard_snr_uncertainty"]["mse"])
    pg = np.array(lr["passing_gradient_optimal"]["mse"])
    low = rates < 1.0
    ratio_lim = s2h / lim
    pg_ratio = pg / s2h
    above_one_bit = np.array(res["levels"]) > 2
    goals = {
        "s2h_within_5pct_of_scalar_adc_limit": {
            "met": bool(np.all(ratio_lim <= 1.05)),
            "max_ratio": float(ratio_lim.max()),
            "ratio_per_rate": ratio_lim.tolist(),
        },
        "scalar_adc_limit_over_eta_opt": {"ratio_per_rate": (lim / opt).tolist()},
        "s2h_below_eta_sc_for_rate_below_1": {
            "met": bool(np.all(s2h[low] < sc[low])),
            "max_ratio_s2h_to_eta_sc": float((s2h[low] / sc[low]).max()),
        },
        "passing_gradient_visibly_worse": {
            "met": bool(np.all(pg_ratio[above_one_bit] >= 1.10)),
            "criterion": "passing-gradient MSE >= 1.10 x soft-to-hard at every M > 2 (at M = 2 a "
            "symmetric 2-level uniform ADC is the Lloyd-Max quantizer up to a scale the "
            "digital layer absorbs, so both methods coincide there)",
            "ratio_pg_to_s2h_per_rate": pg_ratio.tolist(),
        },
        "snr_uncertainty_not_worse_than_eta_sc_noisy": {
            "met": bool(np.all(s2h_u <= scn)),
            "max_ratio": float((s2h_u / scn).max()),
            "ratio_per_rate": (s2h_u / scn).tolist(),
        },
    }
    return goals


def plot(res: dict, path: str) -> None:
    """Fig. 4-style plot (log MSE vs rate) of :func:`run`'s result, written to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 6))
    r = np.array(res["rate_bits_per_obs"])
    ax.axhline(res["mmse"], color="k", lw=1.2, label="MMSE (no quantization)")
    ax.plot(
        res["eta_opt_curve"]["rate_bits_per_obs"],
        res["eta_opt_curve"]["mse"],
        "k--",
        lw=1.2,
        label=r"$\eta_{opt}$ (rate-distortion, eq. 7)",
    )
    c = res["scalar_adc_limit_curve"]
    ax.plot(
        c["rate_bits_per_obs"], c["mse"], ":", marker=".", color="tab:gray", label="scalar-ADC limit (Lloyd-Max D(M))"
    )
    c = res["eta_sc_curve"]
    ax.plot(c["rate_bits_per_obs"], c["mse"], "-", color="tab:green", lw=1, label=r"$\eta_{sc}$ (SER, true P)")
    c = res["eta_sc_noisy_curve"]
    ax.plot(c["rate_bits_per_obs"], c["mse"], "--", color="tab:green", lw=1, label=r"$\eta_{sc}$ (SER, noisy P)")
    lr = res["learned"]
    style = {
        "soft_to_hard_optimal": ("o-", "tab:blue", "soft-to-hard, optimal training"),
        "soft_to_hard_snr_uncertainty": ("o--", "tab:cyan", "soft-to-hard, SNR uncertainty"),
        "passing_gradient_optimal": ("s-", "tab:red", "passing gradient, optimal training"),
        "passing_gradient_snr_uncertainty": ("s--", "tab:orange", "passing gradient, SNR uncertainty"),
    }
    for key, (fmt, col, lab) in style.items():
        if key in lr:
            ax.plot(r, lr[key]["mse"], fmt, color=col, ms=5, label=lab)
    ti = res["task_ignorant_uniform_lmmse"]
    ax.plot(
        ti["rate_bits_per_obs"],
        ti["mse"],
        "^",
        color="tab:purple",
        ms=11,
        mfc="none",
        mew=1.5,
        label="task-ignorant uniform ADCs + LMMSE",
    )
    ax.plot(
        [res["blmmse"]["rate_bits_per_obs"]],
        [res["blmmse"]["mse"]],
        "x",
        color="tab:brown",
        ms=10,
        mew=2,
        label="BLMMSE (1-bit)",
    )
    ax.set_yscale("log")
    ax.set_xlim(0.3, 1.62)
    ax.set_xlabel("rate R (ADC bits per real observation)")
    ax.set_ylabel(r"average MSE $\eta$")
    ax.set_title(r"Task-based quantized channel estimation, $n_t$=10, $n_u$=4, $\tau_p$=12, P=4 (p = k = 80)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
