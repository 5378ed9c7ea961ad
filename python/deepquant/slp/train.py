"""Unsupervised training of SLP-DNet and its quantized versions (``deepquant train slp``).

Config keys (defaults in :data:`DEFAULTS`): m, k, psk_order, layers, c1, c2, hidden, weights
(fp32 | binary | ternary | sq-binary | sq-ternary), qr, act_bits, steps, batch, lr, lr_decay (the
paper's 0.65, applied ``lr_drops`` times evenly), mu (weight penalty of eq. 9), sinr_db_range
(the paper's U(0, 45) dB; divided out exactly, see dnet.py), sq_redraw, seed, name, out_dir,
checkpoint_every. Outputs in out_dir: ``<name>.safetensors`` (shipped format, bit-packed),
``<name>.log.json`` (config, loss curve, wall time) and ``<name>.ckpt.safetensors`` (latent float
weights + optimiser step, written every ``checkpoint_every`` steps; ``resume: true`` continues).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from . import dnet as dn
from . import problem as pb
from . import quant as qz

DEFAULTS = dict(
    m=4,
    k=4,
    psk_order=4,
    layers=5,
    c1=16,
    c2=16,
    hidden=64,
    weights="fp32",
    qr=0.5,
    act_bits=2,
    steps=1500,
    batch=256,
    lr=3e-3,
    lr_decay=0.65,
    lr_drops=6,
    mu=1e-6,
    sinr_db_range=[0.0, 45.0],
    sq_redraw=100,
    sq_freeze_at=0.8,
    seed=0,
    name=None,
    out_dir="slp-train",
    checkpoint_every=1000,
    resume=False,
    threads=1,
)


def default_name(c) -> str:
    w = c["weights"]
    q = f"-qr{int(round(100 * c['qr'])):02d}" if w.startswith("sq-") else ""
    return f"slp-dnet-{w}{q}-m{c['m']}k{c['k']}-psk{c['psk_order']}"


def make_config(cfg: dict) -> dict:
    unknown = set(cfg) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown config keys {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    c = dict(DEFAULTS)
    c.update(cfg)
    if c["name"] is None:
        c["name"] = default_name(c)
    return c


def draw_sq_partition(net: dn.SlpDNet, rng: np.random.Generator):
    """Algorithm 1 on every quantized layer's current latent weights."""
    for lay in net.quant_layers():
        W = lay.weight.detach().cpu().numpy()
        e = qz.quant_error(W.reshape(W.shape[0], -1), net.cfg.kind)
        lay.qmask.copy_(torch.from_numpy(qz.circular_lottery(e, net.cfg.qr, rng)))


def batch_problem(rng, c, n):
    H = pb.rayleigh(rng, n, c["k"], c["m"])
    _, s = pb.random_symbols(rng, n, c["k"], c["psk_order"])
    lo, hi = c["sinr_db_range"]
    gamma = pb.gamma_of(rng.uniform(lo, hi, n), 1.0)
    return H, s, gamma


def loss_of(net, out, mu):
    ps = net.scaled_power(out)
    d = net.dual(out)
    pzf = (out["xzf"] ** 2).sum(-1).detach()
    gap = ((ps - d) / pzf).mean()
    reg = sum((p**2).sum() for n, p in net.named_parameters() if n.endswith("weight"))
    return gap + mu * reg, ps, d, pzf


def train(cfg: dict, progress: bool = True) -> Path:
    c = make_config(cfg)
    torch.set_num_threads(int(c["threads"]))
    torch.manual_seed(c["seed"])
    rng = np.random.default_rng(c["seed"])
    ncfg = dn.DNetConfig(
        m=c["m"],
        k=c["k"],
        psk_order=c["psk_order"],
        layers=c["layers"],
        c1=c["c1"],
        c2=c["c2"],
        hidden=c["hidden"],
        weights=c["weights"],
        qr=c["qr"],
        act_bits=c["act_bits"],
    )
    net = dn.SlpDNet(ncfg)
    out_dir = Path(c["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt = out_dir / f"{c['name']}.ckpt.safetensors"
    opt = torch.optim.Adam(net.parameters(), lr=c["lr"])
    start = 0
    if c["resume"] and ckpt.exists():
        from safetensors.torch import load_file

        st = load_file(str(ckpt))
        start = int(st.pop("_step").item())
        net.load_state_dict(st)
    sq = c["weights"].startswith("sq-")
    freeze_at = int(c["sq_freeze_at"] * c["steps"])
    drop_every = max(1, c["steps"] // (c["lr_drops"] + 1))
    log = {"config": c, "loss": []}
    t0 = time.time()
    it = range(start, c["steps"])
    if progress:
        try:
            from tqdm import tqdm

            it = tqdm(it, desc=c["name"], mininterval=5)
        except ImportError:
            pass
    for step in it:
        if sq and step <= freeze_at and (step % c["sq_redraw"] == 0 or step == freeze_at):
            draw_sq_partition(net, rng)
        lr = c["lr"] * c["lr_decay"] ** (step // drop_every)
        for g in opt.param_groups:
            g["lr"] = lr
        H, s, _gamma = batch_problem(rng, c, c["batch"])
        An, _ = dn.normalise(H, s)
        net.train()
        out = net(torch.from_numpy(An))
        loss, ps, d, pzf = loss_of(net, out, c["mu"])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        opt.step()
        if step % 50 == 0 or step == c["steps"] - 1:
            log["loss"].append(
                [step, float(loss.detach()), float((ps / pzf).mean().detach()), float((d / pzf).mean().detach())]
            )
        if c["checkpoint_every"] and (step + 1) % c["checkpoint_every"] == 0:
            from safetensors.torch import save_file

            st = {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}
            st["_step"] = torch.tensor(step + 1)
            save_file(st, str(ckpt))
    log["train_seconds"] = time.time() - t0
    path = dn.save_model(
        out_dir / f"{c['name']}.safetensors",
        net,
        {
            "name": c["name"],
            "train": {k: c[k] for k in c if k not in ("out_dir", "resume")},
            "train_seconds": round(log["train_seconds"], 1),
        },
    )
    (out_dir / f"{c['name']}.log.json").write_text(json.dumps(log, indent=1))
    return path


def evaluate(net, n=2000, seed=12345, sinr_db=30.0, noise_var=1.0, with_opt=True):
    """Mean power of the learned precoder vs the optimisation SLP on fresh channels (dict)."""
    from . import solvers as sv

    rng = np.random.default_rng(seed)
    H = pb.rayleigh(rng, n, net.cfg.k, net.cfg.m)
    _, s = pb.random_symbols(rng, n, net.cfg.k, net.cfg.psk_order)
    g = float(pb.gamma_of(sinr_db, noise_var))
    u, fb = dn.precode(net, H, s, g)
    r = {
        "power_learned": float(pb.power(u).mean()),
        "fallback_rate": float(fb.mean()),
        "satisfied": float(pb.satisfied(H, s, u, net.cfg.psk_order, g).mean()),
    }
    if with_opt:
        uo = sv.slp_qp(H, s, net.cfg.psk_order, g)
        r["power_opt"] = float(pb.power(uo).mean())
        r["ratio"] = r["power_learned"] / r["power_opt"]
    return r
