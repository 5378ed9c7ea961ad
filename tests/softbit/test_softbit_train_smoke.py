"""Short training smoke test: a few steps of the learned and deepllr recipes, model file loads
into a codec that round-trips frames."""

import json

import numpy as np
import pytest

from gnuradio.deepquant import softbit
from gnuradio.deepquant.softbit import train


def test_train_smoke(tmp_path):
    for kind in ("learned", "deepllr"):
        cfg = {
            "bits_per_symbol": 6,
            "kind": kind,
            "alpha": 0.01,
            "steps": 60,
            "batch": 512,
            "codewords_per_snr": 4,
            "calib_codewords_per_snr": 4,
            "chain_calib_codewords_per_snr": 4,
            "snr_db": [10, 30, 10],
            "out_dir": str(tmp_path),
            "checkpoint_every": 50,
            "name": f"t-{kind}",
        }
        path = train.train(cfg, progress=False)
        assert path.exists() and (tmp_path / "checkpoint_50.pt").exists()
        assert json.loads((tmp_path / f"t-{kind}.json").read_text())["model_id"].startswith("0x")
        c = softbit.make_codec("learned" if kind == "learned" else "deepllr-ec", 6, model=str(path))
        meta = c.meta
        assert type(c.coder).__name__ == "RansChainCoder"
        assert meta["config"]["kind"] == kind and len(meta["log"]) >= 1
        assert np.isfinite(meta["log"][-1]["distortion"])
        x = np.random.default_rng(0).normal(0, 5, (108, 6)).astype(np.float32)
        assert c.decode(c.encode(x)).shape == (108, 6)


def test_cli_config_roundtrip(tmp_path):
    cfgp = tmp_path / "c.json"
    cfgp.write_text(
        json.dumps(
            {
                "bits_per_symbol": 6,
                "steps": 5,
                "batch": 256,
                "codewords_per_snr": 2,
                "calib_codewords_per_snr": 2,
                "chain_calib_codewords_per_snr": 2,
                "snr_db": [20, 20, 1],
                "out_dir": str(tmp_path),
                "name": "cli",
            }
        )
    )
    assert train.main(str(cfgp), progress=False) == 0
    assert (tmp_path / "cli.safetensors").exists()


def _small_cfg(tmp_path, **kw):
    cfg = {
        "bits_per_symbol": 6,
        "kind": "learned",
        "alpha": 0.01,
        "steps": 40,
        "batch": 256,
        "codewords_per_snr": 2,
        "calib_codewords_per_snr": 2,
        "chain_calib_codewords_per_snr": 2,
        "snr_db": [10, 30, 10],
        "out_dir": str(tmp_path),
        "checkpoint_every": 20,
        "name": "r",
    }
    cfg.update(kw)
    return cfg


def _weights(path):
    from gnuradio.deepquant.softbit import codec

    tensors, meta, _ = codec.load_tensors(path)
    return {k: np.asarray(v) for k, v in tensors.items() if k.startswith("net.")}, meta


def test_resume_continues_to_the_uninterrupted_weights(tmp_path):
    """A run resumed from its step-20 checkpoint ends with the weights of the uninterrupted run:
    network, Adam, scheduler and mini-batch generator state all come back."""
    full = train.train(_small_cfg(tmp_path / "full"), progress=False)
    part_dir = tmp_path / "part"
    train.train(_small_cfg(part_dir), progress=False)
    # keep only the step-20 state: rewrite checkpoint.pt from the run that is resumed below
    import torch

    ck = torch.load(part_dir / "checkpoint.pt", weights_only=True)
    assert ck["step"] == 20
    (part_dir / "r.safetensors").unlink()
    resumed = train.train(_small_cfg(part_dir, checkpoint_every=1000), resume=True, progress=False)
    wf, mf = _weights(full)
    wr, mr = _weights(resumed)
    assert mr["resumed_from_step"] == 20 and "resumed_from_step" not in mf
    assert wf.keys() == wr.keys()
    for k in wf:
        np.testing.assert_array_equal(wf[k], wr[k], err_msg=k)
    assert [r["step"] for r in mr["log"]] == [r["step"] for r in mf["log"]]


def test_resume_refuses_a_changed_config(tmp_path):
    train.train(_small_cfg(tmp_path), progress=False)
    with pytest.raises(ValueError, match="alpha"):
        train.train(_small_cfg(tmp_path, alpha=0.02), resume=True, progress=False)


def test_time_budget_pauses_with_a_partial_model_and_resume_finishes(tmp_path):
    cfg = _small_cfg(tmp_path, steps=400, checkpoint_every=0)
    with pytest.raises(train.TrainingPaused) as e:
        train.train(cfg, max_minutes=1e-9, progress=False)
    assert e.value.step == 0
    _, meta = _weights(e.value.path)
    assert meta["partial"] is True and meta["steps_done"] == 1
    path = train.train(cfg, resume=True, progress=False)
    _, meta = _weights(path)
    assert meta["resumed_from_step"] == 0 and meta["steps_done"] == 400 and "partial" not in meta


def test_bf16_mixed_precision_keeps_fp32_outputs_and_tracks_fp32():
    """bf16 autocast in the hidden layers: latents and reconstruction stay fp32, the gradients reach
    fp32 master weights, and the outputs agree with fp32 to bf16 accuracy."""
    import torch

    from gnuradio.deepquant.softbit import core

    torch.manual_seed(0)
    m = core.SoftBitAutoencoder(8, 4, 8)
    lam = torch.tanh(torch.randn(512, 8) * 3)
    ref, zr = train.forward(m, lam, True, "none")
    out, z = train.forward(m, lam, True, "bf16")
    assert out.dtype == torch.float32 and z.dtype == torch.float32
    assert torch.allclose(z, zr, atol=0.03) and not torch.equal(z, zr)
    core.distortion(lam, out).backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in m.parameters())
    with pytest.raises(ValueError, match="amp"):
        train.full_config({"bits_per_symbol": 8, "amp": "fp16"})


def test_model_from_checkpoint_carries_the_checkpoint_weights(tmp_path):
    import torch

    train.train(_small_cfg(tmp_path), progress=False)
    path = train.model_from_checkpoint(tmp_path / "checkpoint_20.pt", tmp_path / "at20.safetensors")
    w, meta = _weights(path)
    assert meta["steps_done"] == 21 and meta["from_checkpoint"] == "checkpoint_20.pt"
    st = torch.load(tmp_path / "checkpoint_20.pt", weights_only=True)["model"]
    for name, v in st.items():
        np.testing.assert_array_equal(w["net." + name], v.numpy(), err_msg=name)
    final, _ = _weights(tmp_path / "r.safetensors")
    assert any(not np.array_equal(final[n], w[n]) for n in w)  # a different (earlier) state
    c = softbit.make_codec("learned", 6, model=str(path))
    x = np.random.default_rng(1).normal(0, 5, (108, 6)).astype(np.float32)
    assert c.decode(c.encode(x)).shape == (108, 6)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt"):
        train.model_from_checkpoint(bad, tmp_path / "bad.safetensors")
    assert not (tmp_path / "bad.safetensors").exists()


def test_warm_start_from_a_trained_model(tmp_path):
    """init_from: a run with a negligible learning rate keeps the source's network weights exactly (the
    weights came from the file, not a random draw); a model of another shape and a missing file
    are refused naming the file; the tau offset must be non-negative."""
    src = train.train(_small_cfg(tmp_path / "src"), progress=False)
    warm = train.train(
        _small_cfg(tmp_path / "warm", init_from=str(src), lr=1e-12, lr_final=1e-12, steps=5, tau_step_offset=40),
        progress=False,
    )
    ws, _ = _weights(src)
    ww, mw = _weights(warm)
    assert mw["config"]["init_from"] == str(src)
    for k in ws:
        np.testing.assert_allclose(ws[k], ww[k], atol=1e-6, err_msg=k)
    cold = train.train(_small_cfg(tmp_path / "cold", lr=1e-12, lr_final=1e-12, steps=5, seed=5), progress=False)
    wc, _ = _weights(cold)
    assert any(not np.allclose(ws[k], wc[k], atol=1e-3) for k in ws)
    with pytest.raises(ValueError, match="width_factor"):
        train.train(_small_cfg(tmp_path / "w", init_from=str(src), width_factor=4), progress=False)
    with pytest.raises(ValueError, match="nope.safetensors"):
        train.train(_small_cfg(tmp_path / "n", init_from=str(tmp_path / "nope.safetensors")), progress=False)
    with pytest.raises(ValueError, match="tau_step_offset"):
        train.full_config(_small_cfg(tmp_path, tau_step_offset=-1))
    with pytest.raises(ValueError, match="lr"):
        train.full_config(_small_cfg(tmp_path, lr=0.0))
