"""EQ-Net numerics: networks, loss, codebooks, bitstreams, model files, registry, training smoke."""

import json

import numpy as np
import pytest
import torch

from gnuradio.deepquant import eqnet
from gnuradio.deepquant.eqnet import io as eqio
from gnuradio.deepquant.eqnet import models, train


def test_branched_decoder_equals_independent_mlps():
    torch.manual_seed(0)
    dec = models.BranchedDecoder(6, 12, branch_width=8, hidden_layers=3)
    z = torch.randn(50, 6)
    out = dec(z)
    ref = torch.empty(50, 12)
    for j in range(12):  # one plain MLP per output, from the same weights
        h = z
        for i, (w, b) in enumerate(zip(dec.weights, dec.biases)):
            h = h @ w[j] + b[j, 0]
            if i < len(dec.weights) - 1:
                h = torch.relu(h)
        ref[:, j] = torch.tanh(h[:, 0])
    assert torch.allclose(out, ref, atol=1e-6)


def test_shapes_and_latent_range():
    net = models.EQNet(2, 2, 6, est_width=16, dec_branch_width=8)
    s = torch.rand(7, 12) * 2 - 1
    z = net.f_q(s)
    assert z.shape == (7, 6) and z.abs().max() < 1
    assert net.g(z).shape == (7, 12)
    y = torch.randn(7, 2, dtype=torch.complex64)
    H = torch.randn(7, 2, 2, dtype=torch.complex64)
    assert net.f_e(y, H, torch.ones(7)).shape == (7, 6)


def test_real_flat_order():
    x = torch.tensor([[1 + 2j, 3 + 4j]], dtype=torch.complex64)
    assert models.real_flat(x).tolist() == [[1.0, 3.0, 2.0, 4.0]]


def test_wmse_matches_formula():
    rng = np.random.default_rng(0)
    s = rng.uniform(-1, 1, (20, 4)).astype(np.float32)
    sh = rng.uniform(-1, 1, (20, 4)).astype(np.float32)
    w = np.abs(s).mean(0)
    w = w / w.mean()
    ref = np.mean(np.sum(w * (sh - s) ** 2 / (np.abs(s) + train.EPS), axis=1))
    got = train.wmse(torch.from_numpy(sh), torch.from_numpy(s), train.bit_weights(torch.from_numpy(s)))
    assert float(got) == pytest.approx(ref, rel=1e-5)


def test_softbit_llr_roundtrip():
    # float32 soft bits resolve |L| up to ~14.5 (2 atanh(1 - 1e-6)); beyond, LLRs saturate there
    llr = torch.linspace(-13, 13, 101)
    assert torch.allclose(models.softbit_to_llr(models.llr_to_softbit(llr)), llr, atol=0.05)
    big = models.softbit_to_llr(models.llr_to_softbit(torch.tensor([-40.0, 40.0])))
    assert torch.allclose(big, torch.tensor([-14.5, 14.5]), atol=0.01)


def test_pack_unpack_roundtrip_and_bit_order():
    idx = np.array([[1, 2, 3]], np.uint8)
    data = eqnet.pack_indices(idx, 5)
    # 00001 00010 00011 + one pad bit -> 0000100010000110
    assert data == bytes([0b00001000, 0b10000110])
    rng = np.random.default_rng(1)
    for bits in (5, 6):
        x = rng.integers(0, 2**bits, (33, 6), dtype=np.uint8)
        got = eqnet.unpack_indices(eqnet.pack_indices(x, bits), bits)[: x.size].reshape(x.shape)
        assert np.array_equal(got, x)


def test_kmeans_codebook_sorted_and_nearest():
    rng = np.random.default_rng(0)
    z = np.tanh(rng.standard_normal((3000, 2)))
    cb = train.kmeans_codebook(z, 4, seed=0)
    assert cb.shape == (2, 16) and np.all(np.diff(cb, axis=1) > 0)


def _tiny(tmp_path, **kw):
    net = models.EQNet(
        2,
        2,
        6,
        **dict(train.ARCH_DEFAULTS["l"], est_width=16, dec_branch_width=8),
    )
    cbs = {
        5: np.sort(np.random.default_rng(0).uniform(-1, 1, (6, 32)), axis=1).astype(np.float32),
        6: np.sort(np.random.default_rng(1).uniform(-1, 1, (6, 64)), axis=1).astype(np.float32),
    }
    meta = {
        "nr": 2,
        "nt": 2,
        "k": 6,
        "variant": "l",
        "arch": dict(train.ARCH_DEFAULTS["l"], est_width=16, dec_branch_width=8),
    }
    meta.update(kw)
    return eqio.save(tmp_path / "m.safetensors", net, cbs, meta), net, cbs


def test_model_file_roundtrip_and_nearest_codeword(tmp_path):
    path, net, cbs = _tiny(tmp_path)
    rt = eqnet.EQNetRuntime(path, expect=(2, 2, 6), need_estimator=True)
    rng = np.random.default_rng(2)
    llr = rng.normal(0, 5, (40, 12)).astype(np.float32)
    z = rt.encode_latents(llr)
    idx = rt.quantize(llr, 6)
    brute = np.abs(z[:, :, None] - cbs[6][None]).argmin(axis=2)
    assert np.array_equal(idx, brute)
    with torch.no_grad():
        ref = models.softbit_to_llr(net.g(torch.from_numpy(cbs[6][np.arange(6)[None], brute]))).numpy()
    assert np.allclose(rt.dequantize(idx, 6), ref, atol=1e-5)


def test_model_file_errors(tmp_path):
    path, _, _ = _tiny(tmp_path)
    with pytest.raises(eqio.ModelFileError, match="2x2 with 6 bits.*4x4 with 4"):
        eqnet.EQNetRuntime(path, expect=(4, 4, 4))
    bad = tmp_path / "garbage.safetensors"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(eqio.ModelFileError, match="not a readable safetensors"):
        eqnet.EQNetRuntime(bad)
    with pytest.raises(eqio.ModelFileError, match="does not exist"):
        eqnet.EQNetRuntime(tmp_path / "nope.safetensors")
    # wrong version
    from safetensors.torch import load_file, save_file

    t = load_file(str(path))
    save_file(
        t,
        str(tmp_path / "v9.safetensors"),
        metadata={"deepquant": json.dumps({"format": "deepquant-eqnet", "version": 9})},
    )
    with pytest.raises(eqio.ModelFileError, match="version 9"):
        eqnet.EQNetRuntime(tmp_path / "v9.safetensors")
    # weights that do not match the declared architecture
    path2, _, _ = _tiny(tmp_path)
    t = load_file(str(path2))
    from safetensors import safe_open

    with safe_open(str(path2), framework="pt") as f:
        md = json.loads(f.metadata()["deepquant"])
    md["arch"]["est_width"] = 32
    save_file(t, str(tmp_path / "shape.safetensors"), metadata={"deepquant": json.dumps(md)})
    with pytest.raises(eqio.ModelFileError, match="do not match"):
        eqnet.EQNetRuntime(tmp_path / "shape.safetensors")
    with pytest.raises(eqio.ModelFileError, match="no shipped"):
        eqio.shipped_path(3, 3, 2, "l")


def test_training_smoke_and_resume(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPQUANT_CACHE", str(tmp_path / "cache"))
    cfg = {
        "name": "smoke",
        "nr": 2,
        "nt": 2,
        "bits_per_symbol": 6,
        "codewords_per_snr": 4,
        "arch": {"est_width": 16, "dec_branch_width": 8},
        "stage1": {"steps": 30, "batch": 256},
        "stage2": {"steps": 30, "batch": 256},
        "val_every": 10,
        "checkpoint_every": 10,
        "codebook_samples": 2000,
        "out_dir": str(tmp_path / "out"),
    }
    path = train.train(cfg, progress=False)
    rt = eqnet.EQNetRuntime(path, expect=(2, 2, 6), need_estimator=True)
    meta = rt.meta
    h = meta["history"]
    assert [r["stage"] for r in h].count(1) >= 3 and [r["stage"] for r in h].count(2) >= 3
    # training lowers the validation losses
    v1 = [r["val_loss"] for r in h if r["stage"] == 1]
    v2 = [r["val_loss"] for r in h if r["stage"] == 2]
    assert v1[-1] < v1[0] and v2[-1] < v2[0]
    assert (tmp_path / "out" / "checkpoint.pt").exists()
    ck = torch.load(tmp_path / "out" / "checkpoint.pt", weights_only=True)
    assert ck["stage"] == 2
    # resume: a longer stage 2 continues from the checkpoint, not from scratch
    cfg["stage2"]["steps"] = 40
    path2 = train.train(cfg, progress=False, resume=True)
    h2 = eqnet.EQNetRuntime(path2).meta["history"]
    assert max(r["step"] for r in h2 if r["stage"] == 2) == 39
    # same seed, same data: data set is cached and reproducible
    from gnuradio.deepquant.eqnet import data

    a = data.generate(2, 2, 6, [18.0], 2, seed=3)
    b = data.generate(2, 2, 6, [18.0], 2, seed=3)
    assert np.array_equal(a["llr"], b["llr"]) and a["llr"].shape == (108, 12)
    # LLR labels are exact-ML LLRs of the stored channel uses
    from gnuradio.deepquant.phy import mimo

    ref = mimo.exact_ml(a["y"], a["H"], a["noise_var"], 6)
    assert np.allclose(ref, a["llr"], atol=1e-4)
    # bits are what the hard decisions of exact ML mostly recover
    assert np.mean((a["llr"] > 0) == a["bits"].astype(bool)) > 0.8


def test_kl_bits_against_reference():
    """kl_bits is the bitwise KL divergence in bits (independent float64 numpy reference)."""
    rng = np.random.default_rng(0)
    L = rng.normal(0, 6, 5000)
    Lh = L + rng.normal(0, 2, 5000)
    p, q = 1 / (1 + np.exp(-L)), 1 / (1 + np.exp(-Lh))
    ref = np.mean(p * np.log2(p / q) + (1 - p) * np.log2((1 - p) / (1 - q)))
    got = float(train.kl_bits(torch.tensor(Lh, dtype=torch.float32), torch.tensor(L, dtype=torch.float32)))
    assert abs(got - ref) < 1e-4 * max(1.0, ref) + 1e-6
    assert abs(float(train.kl_bits(torch.tensor(L), torch.tensor(L)))) < 1e-6
    # saturated teachers stay finite
    big = torch.tensor([60.0, -60.0, 1e4])
    assert torch.isfinite(train.kl_bits(torch.tensor([0.0, 0.0, 0.0]), big))


def test_stage3_joint_kl_latent8_bf16_and_resume(tmp_path, monkeypatch):
    """Stage 3 (f_Q, g, f_E jointly on the KL loss, bf16 autocast) with 8 latents (Theorem 2's
    Nt (Nt + 2)) trains, lowers its validation loss, writes codebooks of the new width, and resumes
    inside stage 3 without redoing stages 1-2."""
    monkeypatch.setenv("DEEPQUANT_CACHE", str(tmp_path / "cache"))
    cfg = {
        "name": "s3",
        "nr": 2,
        "nt": 2,
        "bits_per_symbol": 6,
        "codewords_per_snr": 4,
        "arch": {"est_width": 16, "dec_branch_width": 8, "latent_dim": 8},
        "amp": "bf16",
        "stage1": {"steps": 20, "batch": 256},
        "stage2": {"steps": 20, "batch": 256},
        "stage3": {"steps": 30, "batch": 256, "lr": 1e-3, "lr_final": 1e-4, "loss": "kl", "joint": True, "warmup": 5},
        "val_every": 10,
        "checkpoint_every": 10,
        "codebook_samples": 2000,
        "out_dir": str(tmp_path / "out"),
    }
    path = train.train(cfg, progress=False)
    rt = eqnet.EQNetRuntime(path, expect=(2, 2, 6), need_estimator=True)
    assert rt.latent_dim == 8 and rt.codebooks[6].shape == (8, 64)
    v3 = [r["val_loss"] for r in rt.meta["history"] if r["stage"] == 3]
    assert len(v3) >= 3 and v3[-1] < v3[0]
    idx = rt.quantize(np.random.default_rng(1).normal(0, 4, (5, 12)).astype(np.float32), 6)
    assert idx.shape == (5, 8)
    ck = torch.load(tmp_path / "out" / "checkpoint.pt", weights_only=True)
    assert ck["stage"] == 3
    cfg["stage3"]["steps"] = 40
    rt2 = eqnet.EQNetRuntime(train.train(cfg, progress=False, resume=True))
    h = rt2.meta["history"]
    assert max(r["step"] for r in h if r["stage"] == 3) == 39
    assert not any(r["stage"] == 2 for r in h)  # stage 2 not rerun on resume in stage 3
    with pytest.raises(ValueError, match="amp"):
        train.full_config({"nr": 2, "nt": 2, "bits_per_symbol": 6, "amp": "fp8"})


def test_training_in_pieces(tmp_path, monkeypatch):
    """max_minutes: a piece stopped in stage 1 checkpoints and raises TrainingPaused; one stopped in
    stage 3 writes a usable model marked partial; --resume finishes the run, and the wall time of
    all pieces accumulates."""
    monkeypatch.setenv("DEEPQUANT_CACHE", str(tmp_path / "cache"))
    cfg = {
        "name": "pieces",
        "nr": 2,
        "nt": 2,
        "bits_per_symbol": 6,
        "codewords_per_snr": 4,
        "arch": {"est_width": 16, "dec_branch_width": 8},
        "stage1": {"steps": 20, "batch": 128},
        "stage2": {"steps": 10, "batch": 128},
        "stage3": {"steps": 10, "batch": 128, "lr": 1e-3, "lr_final": 1e-4},
        "val_every": 5,
        "checkpoint_every": 5,
        "codebook_samples": 1000,
        "out_dir": str(tmp_path / "out"),
    }
    with pytest.raises(train.TrainingPaused) as e:
        train.train(cfg, progress=False, max_minutes=0.0)
    assert e.value.stage == 1 and e.value.step == 0
    ck = torch.load(tmp_path / "out" / "checkpoint.pt", weights_only=True)
    assert ck["stage"] == 1 and ck["step"] == 0 and ck["wall_s"] > 0
    # resume to the end of stage 2 and pause at once in stage 3: the model is written, marked partial
    monkeypatch.setattr(train, "_run_stage", _pause_in_stage3(train._run_stage))
    path = train.train(cfg, progress=False, resume=True, max_minutes=10.0)
    rt = eqnet.EQNetRuntime(path, need_estimator=True)
    assert rt.meta["partial"] == {"stage": 3, "step": 0, "of": 10}
    assert rt.meta["seconds"]["all_pieces"] > ck["wall_s"]
    monkeypatch.undo()
    monkeypatch.setenv("DEEPQUANT_CACHE", str(tmp_path / "cache"))
    rt2 = eqnet.EQNetRuntime(train.train(cfg, progress=False, resume=True))
    assert rt2.meta["partial"] is None
    assert max(r["step"] for r in rt2.meta["history"] if r["stage"] == 3) == 9


def _pause_in_stage3(run_stage):
    def wrapped(stage, c, *a, **kw):
        if stage == 3:
            c["_deadline"] = 0.0
        return run_stage(stage, c, *a, **kw)

    return wrapped


def test_data_with_estimated_channels():
    """csi_error: stored H is the estimate, sigma^2 includes its error, labels are exact ML of them."""
    from gnuradio.deepquant.eqnet import data
    from gnuradio.deepquant.phy import mimo

    a = data.generate(2, 2, 6, [24.0], 40, seed=5)
    b = data.generate(2, 2, 6, [24.0], 40, seed=5, csi_error={"fraction": 0.5, "rel_max": 0.6})
    assert np.array_equal(a["bits"], b["bits"])
    nv = float(a["noise_var"][0])
    rel = (b["noise_var"] / nv - 1.0) / 2.0  # sigma^2 (1 + Nt c)
    assert np.all(rel >= -1e-6) and np.all(rel <= 0.6 + 1e-6)
    assert 0.35 < np.mean(rel > 1e-6) < 0.65  # about half the channel uses see an estimate
    # the error's variance matches c sigma^2 (y is unchanged: the link is the same)
    e = b["H"] - a["H"]
    assert np.array_equal(a["y"], b["y"])
    np.testing.assert_allclose(np.mean(np.abs(e) ** 2), np.mean(rel) * nv, rtol=0.1)
    ref = mimo.exact_ml(b["y"], b["H"], b["noise_var"], 6)
    assert np.allclose(ref, b["llr"], atol=1e-4)
    with pytest.raises(ValueError, match="csi_error"):
        train.full_config({"nr": 2, "nt": 2, "bits_per_symbol": 6, "csi_error": {"fraction": 2, "rel_max": 1}})


def test_fresh_batch_is_the_data_model():
    """fresh_batch: at a very high SNR exact ML recovers the sent bits (mapping, H and y agree);
    the noise variance follows the drawn SNR; estimated channels raise sigma^2 as in generate."""
    from gnuradio.deepquant.eqnet import data
    from gnuradio.deepquant.phy import mimo

    g = torch.Generator().manual_seed(3)
    y, H, nv, b = data.fresh_batch(2, 2, 6, 400, (70.0, 70.0), g)
    assert y.shape == (400, 2) and H.shape == (400, 2, 2) and b.shape == (400, 12)
    assert y.dtype == torch.complex64 and nv.dtype == torch.float32 and b.dtype == torch.float32
    np.testing.assert_allclose(nv.numpy(), 4 / 10**7, rtol=1e-5)
    llr = mimo.exact_ml(y.numpy(), H.numpy(), nv.numpy().astype(np.float64), 6)
    assert np.array_equal((llr > 0).astype(np.float32), b.numpy())
    _, _, nv2, b2 = data.fresh_batch(2, 2, 6, 20000, (10.0, 20.0), torch.Generator().manual_seed(4))
    snr = 10 * np.log10(4 / nv2.numpy())
    assert snr.min() >= 10.0 - 1e-3 and snr.max() <= 20.0 + 1e-3 and abs(snr.mean() - 15.0) < 0.1
    assert abs(float(b2.mean()) - 0.5) < 0.01
    _, _, nv3, _ = data.fresh_batch(
        2, 2, 6, 20000, (15.0, 15.0), torch.Generator().manual_seed(5), csi_error={"fraction": 0.5, "rel_max": 0.6}
    )
    rel = (nv3.numpy() / (4 / 10**1.5) - 1.0) / 2.0
    assert rel.min() > -1e-5 and rel.max() <= 0.6 + 1e-5 and 0.45 < np.mean(rel > 1e-6) < 0.55


def _tiny_cfg(tmp_path, name, out="out", stage1_steps=20, **kw):
    """A 2x2 64-QAM training config small enough for a test (4 codewords per SNR, narrow networks);
    ``kw`` adds or replaces keys."""
    cfg = {
        "name": name,
        "nr": 2,
        "nt": 2,
        "bits_per_symbol": 6,
        "codewords_per_snr": 4,
        "arch": {"est_width": 16, "dec_branch_width": 8},
        "stage1": {"steps": stage1_steps, "batch": 256},
        "stage2": {"steps": 5, "batch": 256},
        "val_every": 10,
        "checkpoint_every": 0,
        "codebook_samples": 1000,
        "out_dir": str(tmp_path / out),
    }
    cfg.update(kw)
    return cfg


def test_stage3_fresh_data_trains(tmp_path, monkeypatch):
    """Stage 3 with ``fresh``: the estimation term on freshly drawn channel uses lowers the held-out
    KL to exact ML; unknown stage-3 keys are refused."""
    monkeypatch.setenv("DEEPQUANT_CACHE", str(tmp_path / "cache"))
    cfg = _tiny_cfg(
        tmp_path,
        "fresh",
        val_every=13,
        stage3={
            "steps": 40,
            "batch": 512,
            "lr": 3e-3,
            "lr_final": 1e-3,
            "joint": True,
            "fresh": True,
            "fresh_snr_db": [15.0, 25.0],
        },
    )
    rt = eqnet.EQNetRuntime(train.train(cfg, progress=False), need_estimator=True)
    v3 = [r["val_loss"] for r in rt.meta["history"] if r["stage"] == 3]
    assert len(v3) >= 3 and v3[-1] < v3[0]
    assert rt.meta["config"]["stage3"]["fresh"] is True
    cfg["stage3"]["fresh_snr_db"] = [25.0, 15.0]
    with pytest.raises(ValueError, match="fresh_snr_db"):
        train.full_config(cfg)
    cfg["stage3"]["bogus"] = 1
    with pytest.raises(ValueError, match="unknown stage3 keys"):
        train.full_config(cfg)


def test_widened_estimator_starts_at_the_source_function():
    """init_estimator_from into a wider f_E (trunk and input layers): the output equals the source's
    on the same inputs (function-preserving), the new units are active, and training moves the
    output; a narrower target is refused."""
    from gnuradio.deepquant.eqnet import data
    from gnuradio.deepquant.eqnet.models import EQNet

    torch.manual_seed(0)
    src = EQNet(2, 2, 6, est_width=16, est_blocks=1, est_input_width=8, est_stats=True, dec_branch_width=8)
    dst = EQNet(2, 2, 6, est_width=40, est_blocks=1, est_input_width=12, est_stats=True, dec_branch_width=8)
    train.init_estimator_from(dst.f_e, src.f_e)
    y, H, nv, _ = data.fresh_batch(2, 2, 6, 300, (10.0, 30.0), torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = src.f_e(y, H, nv), dst.f_e(y, H, nv)
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-5)
        f = dst.f_e.features(y, H, nv)
        parts = [torch.relu(dst.f_e.in_y(f[0])), torch.relu(dst.f_e.in_h(f[1]))]
        assert all(float(p[:, 8:].abs().mean()) > 0 for p in parts)  # new input units carry signal
    opt = torch.optim.Adam(dst.f_e.parameters(), 1e-2)
    for _ in range(3):
        opt.zero_grad()
        dst.f_e(y, H, nv).square().mean().backward()
        opt.step()
    with torch.no_grad():
        assert float((dst.f_e(y, H, nv) - a).abs().max()) > 1e-3
    narrow = EQNet(2, 2, 6, est_width=8, est_blocks=1, est_input_width=8, est_stats=True, dec_branch_width=8)
    with pytest.raises(ValueError, match="wider"):
        train.init_estimator_from(narrow.f_e, src.f_e)


def test_ep_residual_estimator_starts_at_ep_through_the_autoencoder(tmp_path):
    """est_stats "lmmse+ep": warm-started from an LMMSE-statistics f_E, the new f_E is exactly
    f_Q(tanh(L_EP / 2)) (the classical EP detector's LLRs through the quantization encoder), its
    trunk still learns, a model file round-trips through the runtime (the C++ kernel's EP-input
    mode) with the eager LLRs, and a source without statistics is refused."""
    from gnuradio.deepquant.eqnet import data
    from gnuradio.deepquant.phy import mimo

    torch.manual_seed(0)
    kw = dict(est_width=16, est_blocks=1, est_input_width=8, dec_branch_width=8)
    src = models.EQNet(2, 2, 6, est_stats=True, **kw)
    dst = models.EQNet(2, 2, 6, est_stats="lmmse+ep", **kw)
    dst.f_q.load_state_dict(src.f_q.state_dict())
    dst.g.load_state_dict(src.g.state_dict())
    train.init_estimator_from(dst.f_e, src.f_e)
    assert dst.f_e.in_x.weight.shape[1] == src.f_e.in_x.weight.shape[1] + 12
    y, H, nv, _ = data.fresh_batch(2, 2, 6, 200, (12.0, 28.0), torch.Generator().manual_seed(3))
    llr_ep = mimo.ep(y.numpy().astype(np.complex128), H.numpy().astype(np.complex128), nv.numpy().astype(np.float64), 6)
    s_ep = torch.from_numpy(np.tanh(0.5 * np.asarray(llr_ep, np.float64)).astype(np.float32))
    with torch.no_grad():
        np.testing.assert_allclose(models.ep_softbits(y, H, nv, 6).numpy(), s_ep.numpy(), atol=1e-6)
        np.testing.assert_allclose(dst.f_e(y, H, nv).numpy(), dst.f_q(s_ep).numpy(), atol=1e-5)
        z0 = dst.f_e(y, H, nv).clone()
    opt = torch.optim.Adam(dst.f_e.parameters(), 1e-2)
    for _ in range(3):
        opt.zero_grad()
        dst.f_e(y, H, nv).square().mean().backward()
        opt.step()
    with torch.no_grad():
        assert float((dst.f_e(y, H, nv) - z0).abs().max()) > 1e-3
    # f_Q is not a parameter of f_E: the state dict holds it once
    assert not any(k.startswith("f_e._fq") for k in dst.state_dict())
    cbs = {6: np.sort(np.random.default_rng(1).uniform(-1, 1, (6, 64)), axis=1).astype(np.float32)}
    meta = {"nr": 2, "nt": 2, "k": 6, "variant": "p", "arch": dict(est_stats="lmmse+ep", **kw)}
    path = eqio.save(tmp_path / "ep.safetensors", dst.eval(), cbs, meta)
    rt = eqnet.EQNetRuntime(path, expect=(2, 2, 6), need_estimator=True)
    assert rt.backend == "cpp" and rt.cpp_kernel.ep_input  # the kernel's EP-input mode
    from gnuradio.deepquant.eqnet import kernel

    assert kernel.build(dst).ep_input
    eager = eqnet.EQNetRuntime(path, need_estimator=True, backend="eager")
    np.testing.assert_allclose(rt.detect(y.numpy(), H.numpy(), nv.numpy()), eager.detect(y, H, nv), atol=2e-3)
    bare = models.EQNet(2, 2, 6, est_stats=False, **kw)
    with pytest.raises(ValueError, match="input set"):
        train.init_estimator_from(dst.f_e, bare.f_e)
    with pytest.raises(ValueError, match="est_stats"):
        models.EQNet(2, 2, 6, est_stats="zf", **kw)


def test_stage3_fresh_teacher(tmp_path, monkeypatch):
    """Stage 3 with ``fresh_teacher``: the KL to exact ML of each fresh batch lowers the held-out
    KL; ``fresh_teacher`` without ``fresh`` is refused."""
    monkeypatch.setenv("DEEPQUANT_CACHE", str(tmp_path / "cache"))
    cfg = _tiny_cfg(
        tmp_path,
        "teacher",
        stage3={
            "steps": 30,
            "batch": 512,
            "lr": 3e-3,
            "lr_final": 1e-3,
            "fresh": True,
            "fresh_teacher": True,
            "fresh_snr_db": [15.0, 25.0],
        },
    )
    calls = []
    from gnuradio.deepquant.phy import mimo

    real_detect = mimo.detect

    def counting(method, *a, **kw):
        calls.append(method)
        return real_detect(method, *a, **kw)

    monkeypatch.setattr(mimo, "detect", counting)
    rt = eqnet.EQNetRuntime(train.train(cfg, progress=False), need_estimator=True)
    v3 = [r["val_loss"] for r in rt.meta["history"] if r["stage"] == 3]
    assert len(v3) >= 3 and v3[-1] < v3[0]
    assert calls.count("exact_ml") >= 30  # one teacher call per stage-3 step
    cfg["stage3"]["fresh"] = False
    with pytest.raises(ValueError, match="fresh_teacher"):
        train.full_config(cfg)


def test_stage4_quantization_aware_encoder(tmp_path, monkeypatch):
    """Stage 4: f_Q trained through the frozen codebooks and g lowers the quantized KL; g, f_E and
    the codebooks are unchanged; quantize_latents is the runtime's nearest-codeword rule."""
    monkeypatch.setenv("DEEPQUANT_CACHE", str(tmp_path / "cache"))
    cfg = _tiny_cfg(tmp_path, "q", out="a", stage1_steps=30)
    a = eqnet.EQNetRuntime(train.train(cfg, progress=False), need_estimator=True, backend="eager")
    cfg4 = dict(cfg, stage1_from=a.path, stage2_init=a.path, out_dir=str(tmp_path / "b"))
    cfg4["stage2"] = {"steps": 0, "batch": 256}
    cfg4["stage4"] = {"steps": 40, "batch": 512, "lr": 3e-3, "lr_final": 1e-3}
    b = eqnet.EQNetRuntime(train.train(cfg4, progress=False), need_estimator=True, backend="eager")
    v4 = [r["val_loss"] for r in b.meta["history"] if r["stage"] == 4]
    assert len(v4) >= 3 and v4[-1] < v4[0]
    for bits in (5, 6):
        assert (
            b.meta["validation"]["quantized_kl_bits"][str(bits)] < a.meta["validation"]["quantized_kl_bits"][str(bits)]
        )
        np.testing.assert_array_equal(a.codebooks[bits], b.codebooks[bits])
    for x, y in ((a.net.g, b.net.g), (a.net.f_e, b.net.f_e)):
        for (n1, p1), (_, p2) in zip(x.state_dict().items(), y.state_dict().items()):
            assert torch.equal(p1, p2), n1
    assert any(not torch.equal(p1, p2) for p1, p2 in zip(a.net.f_q.parameters(), b.net.f_q.parameters()))
    # the training quantizer is the runtime's
    llr = np.random.default_rng(0).normal(0, 4, (500, 12)).astype(np.float32)
    z = torch.from_numpy(b.encode_latents(llr))
    cb = torch.from_numpy(b.codebooks[6])
    zq = train.quantize_latents(z, cb, 0.5 * (cb[:, 1:] + cb[:, :-1]))
    idx = b.quantize(llr, 6)
    np.testing.assert_array_equal(zq.numpy(), b.codebooks[6][np.arange(6)[None, :], idx])
    with pytest.raises(ValueError, match="unknown stage4 keys"):
        train.full_config(dict(cfg4, stage4={"steps": 1, "bogus": 2}))


def test_config_errors():
    with pytest.raises(ValueError, match="unknown eqnet config keys"):
        train.full_config({"nr": 2, "nt": 2, "bits_per_symbol": 6, "bogus": 1})
    with pytest.raises(ValueError, match="needs 'nr'"):
        train.full_config({"nt": 2, "bits_per_symbol": 6})
    with pytest.raises(ValueError, match="nr >= nt"):
        train.full_config({"nr": 1, "nt": 2, "bits_per_symbol": 6})


def test_ddp_training_under_torchrun(tmp_path):
    """Two CPU processes (gloo) under torchrun train one model without code changes."""
    import json as _json
    import os
    import subprocess
    import sys

    cfg = {
        "name": "ddp",
        "nr": 2,
        "nt": 2,
        "bits_per_symbol": 6,
        "codewords_per_snr": 3,
        "arch": {"est_width": 16, "dec_branch_width": 8},
        "stage1": {"steps": 12, "batch": 128},
        "stage2": {"steps": 12, "batch": 128},
        "val_every": 6,
        "checkpoint_every": 0,
        "codebook_samples": 1000,
        "out_dir": str(tmp_path / "out"),
    }
    (tmp_path / "c.json").write_text(_json.dumps(cfg))
    env = dict(os.environ, DEEPQUANT_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1")
    deepquant = os.path.join(os.path.dirname(sys.executable), "deepquant")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            deepquant,
            "train",
            "eqnet",
            "--config",
            str(tmp_path / "c.json"),
            "--quiet",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    rt = eqnet.EQNetRuntime(tmp_path / "out" / "ddp.safetensors")
    assert rt.meta["seconds"]["world_size"] == 2
    assert (tmp_path / "out" / "ddp.validation.png").exists()


@pytest.mark.parametrize("nr,nt,k", [(2, 2, 6), (4, 4, 4), (3, 2, 2)])
def test_ep_features_layout_and_lmmse_limit(nr, nt, k):
    """ep_features: [B, 3 Nt] (or 4 Nt per dimension), finite; at zero EP iterations it is
    lmmse_features' first 3 Nt entries (LMMSE estimate, log MMSE error); after EP iterations the
    means move towards the sent symbols (smaller squared error than LMMSE's)."""
    from gnuradio.deepquant.phy import mapping

    rng = np.random.default_rng(11 + k)
    B = 400
    x = mapping.constellation(k)[rng.integers(0, 2**k, size=(B, nt))]
    H = (rng.normal(size=(B, nr, nt)) + 1j * rng.normal(size=(B, nr, nt))) / np.sqrt(2)
    nv = np.full(B, nr * nt / 10 ** (18 / 10))
    y = np.einsum("bij,bj->bi", H, x) + np.sqrt(nv / 2)[:, None] * (
        rng.normal(size=(B, nr)) + 1j * rng.normal(size=(B, nr))
    )
    yt, Ht, nvt = torch.from_numpy(y), torch.from_numpy(H), torch.from_numpy(nv)
    lm = models.lmmse_features(yt, Ht, nvt)[:, : 3 * nt]
    f0 = models.ep_features(yt, Ht, nvt, k, iterations=0)
    assert f0.dtype == torch.float32 and f0.shape == (B, 3 * nt)
    torch.testing.assert_close(f0, lm, rtol=1e-5, atol=1e-5)
    f2 = models.ep_features(yt, Ht, nvt, k)
    assert f2.shape == (B, 3 * nt) and torch.isfinite(f2).all() and (f2[:, 2 * nt :] <= 0).all()
    fd = models.ep_features(yt, Ht, nvt, k, per_dim=True)
    assert fd.shape == (B, 4 * nt)
    # the per-dimension variances sum to the per-stream one
    v = fd[:, 2 * nt :].double().exp()
    torch.testing.assert_close(v[:, :nt] + v[:, nt:], f2[:, 2 * nt :].double().exp(), rtol=1e-5, atol=1e-9)
    xt = torch.from_numpy(x)

    def mse(f):
        return float((torch.complex(f[:, :nt].double(), f[:, nt : 2 * nt].double()) - xt).abs().pow(2).mean())

    assert mse(f2) < mse(f0)
