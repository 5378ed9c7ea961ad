#!/usr/bin/env python3
"""Write trained SLP-DNet models into the package (python/deepquant/models/slp/) in the current
model-file format (2: float16 full-precision tensors in the quantized models; format-1 training
outputs are converted), with a check file (a stored output for fixed inputs, used by
tests/slp/test_slp_dnet.py) and a model card.

Run: venv/bin/python scripts/ship_slp_models.py SRC_DIR [--vectors 2000]
(SRC_DIR holds the ``deepquant train slp`` outputs: <name>.safetensors and <name>.log.json),
or   venv/bin/python scripts/ship_slp_models.py --convert OLD.safetensors NEW.safetensors
(rewrite one model file, e.g. a format-1 file, in the current format; nothing else).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]
DST = REPO / "python" / "deepquant" / "models" / "slp"
CHECK = {"n": 6, "seed": 7, "sinr_db": 20.0, "noise_var": 1.0}


def check_output(path):
    from gnuradio.deepquant.slp import dnet, experiment, problem as pb

    net = dnet.load_model(path)
    H, _, s = experiment.test_set(CHECK["n"], net.cfg.m, net.cfg.k, net.cfg.psk_order, CHECK["seed"])
    u, fb = dnet.precode(net, H, s, float(pb.gamma_of(CHECK["sinr_db"], CHECK["noise_var"])))
    return {**CHECK, "u_real": u.real.tolist(), "u_imag": u.imag.tolist(), "fallback": fb.tolist()}


def card(name, path, log, ev, mem, cfg):
    w = cfg["weights"]
    half = (
        " Float16 tensors are read back\n  into float32 at inference."
        if mem["float16_values"]
        else " The reference model: float32 storage\n  throughout."
    )
    cmd = f"deepquant train slp --weights {w}" + (f" --qr {cfg['qr']}" if w.startswith("sq-") else "")
    return f"""# Model card: {name}

* What: SLP-DNet of Mohammad, Masouros & Andreopoulos, *A Memory-Efficient Learning Framework for Symbol Level Precoding with Quantized NN Weights* (symbol-level precoding, MU-MISO downlink, M = {cfg["m"]} antennas,
  K = {cfg["k"]} users, {cfg["psk_order"]}-PSK, CI constraints with relaxed phase), weights `{w}`
  {"(QR = %.2f of the rows of conv1, conv2, fc1 quantized by the circular lottery)" % cfg["qr"] if w.startswith("sq-") else ""}.
  {cfg["layers"]} deep-unfolded log-barrier Newton iterations; barrier network conv3x3(1->{cfg["c1"]}) -
  conv3x3({cfg["c1"]}->{cfg["c2"]}) - fc({cfg["c2"]}*{2 * cfg["m"] * cfg["k"]}->{cfg["hidden"]}) - fc({cfg["hidden"]}->{cfg["layers"] + 1});
  {"PReLU activations" if w == "fp32" else "%d-bit activations (eq. 22)" % cfg["act_bits"]}. Design choices: `gnuradio.deepquant.slp.dnet` docstring.
* File: `{path.name}` (format `{mem["format"]}`), {mem["file_bytes"]} bytes ({mem["tensor_bytes"]} bytes of tensors:
  {mem["quantized_weights"]} weights at {mem["quantized_bits_each"]} bit(s) + {mem["float32_scales"]} float32 row scales + {mem["float16_values"]} float16 values
  + {mem["float32_values"]} float32 values; {mem["header_bytes"]} bytes of header/metadata).{half}
* Training: unsupervised (no solver labels), relative duality gap loss (eqs. 9-10), i.i.d. CN(0, 1)
  channels, uniform PSK symbols, Gamma ~ U(0, 45) dB (divided out exactly), {log["config"]["steps"]} Adam steps of
  {log["config"]["batch"]} channels, lr {log["config"]["lr"]} x 0.65 every {log["config"]["steps"] // (log["config"]["lr_drops"] + 1)} steps, seed {log["config"]["seed"]},
  one CPU thread, {log["train_seconds"]:.0f} s on the shared 2-core machine.
* Reproduce: `{cmd}` (then `venv/bin/python scripts/ship_slp_models.py slp-train`); torch training is not
  bit-exact across machines.

## Measured (fresh test channels, seed 2024, {ev["vectors"]} symbol vectors, Gamma = 30 dB, n0 = 1)

* Mean transmit power / optimisation SLP (Clarabel QP), same vectors: {ev["ratio"]:.4f}
* CI constraints satisfied after the feasibility step: {100 * ev["satisfied"]:.2f} %; zero-forcing fallback: {100 * ev["fallback_rate"]:.2f} %
* Full curves, memory table and speed: `scripts/reproduce_slp.py`, `bench/slp.py`.
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", nargs="?")
    ap.add_argument("--vectors", type=int, default=2000)
    ap.add_argument("--convert", nargs=2, metavar=("OLD", "NEW"), help="only rewrite OLD in the current format as NEW")
    a = ap.parse_args(argv)
    if a.convert:
        from gnuradio.deepquant.slp import dnet

        print(dnet.convert_file(*a.convert))
        return 0
    if not a.src:
        ap.error("SRC_DIR is required (or --convert OLD NEW)")
    import torch

    torch.set_num_threads(1)
    from gnuradio.deepquant.slp import dnet, experiment, problem as pb, solvers as sv

    DST.mkdir(parents=True, exist_ok=True)
    H, _, s = experiment.test_set(a.vectors)
    g = float(pb.gamma_of(30.0, 1.0))
    p_opt = pb.power(sv.slp_qp(H, s, 4, g))
    for src in sorted(Path(a.src).glob("slp-dnet-*.safetensors")):
        if src.name.endswith(".ckpt.safetensors"):
            continue
        name = src.name[: -len(".safetensors")]
        dst = DST / src.name
        dnet.convert_file(src, dst)  # the current format (training outputs of older versions: format 1)
        log = json.loads((src.parent / f"{name}.log.json").read_text())
        net = dnet.load_model(dst)
        u, fb = dnet.precode(net, H, s, g)
        ev = {
            "vectors": a.vectors,
            "ratio": float(pb.power(u).mean() / p_opt.mean()),
            "satisfied": float(pb.satisfied(H, s, u, 4, g, rtol=1e-6).mean()),
            "fallback_rate": float(fb.mean()),
        }
        mem = experiment.file_memory(dst)
        (DST / f"{name}.check.json").write_text(json.dumps(check_output(dst)))
        (DST / f"{name}.md").write_text(card(name, dst, log, ev, mem, net.cfg.__dict__))
        print(f"{name}: power/opt {ev['ratio']:.4f}, satisfied {ev['satisfied']:.4f}, {mem['file_bytes']} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
