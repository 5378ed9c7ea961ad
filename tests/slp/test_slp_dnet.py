"""SLP-DNet: feasibility by construction, bit-packed files round trip, shipped models load and
reproduce their stored outputs, training smoke test, the CLI hook."""

import json

import numpy as np
import pytest
import torch

from gnuradio.deepquant.slp import dnet, experiment as ex, precoder as pc, problem as pb, train as tr

MODES = ("fp32", "binary", "ternary", "sq-binary", "sq-ternary")
SHIPPED = [pc.shipped_model_path(w, 4, 4, 4, 0.5) for w in MODES]


def _small(mode, seed=0):
    torch.manual_seed(seed)
    net = dnet.SlpDNet(dnet.DNetConfig(weights=mode, qr=0.5, c1=4, c2=4, hidden=8, layers=3))
    if mode.startswith("sq-"):
        tr.draw_sq_partition(net, np.random.default_rng(seed))
    # give BN non-trivial statistics
    net.train()
    H, _, s = ex.test_set(64, seed=seed)
    with torch.no_grad():
        net(torch.from_numpy(dnet.normalise(H, s)[0]))
    return net.eval()


@pytest.mark.parametrize("mode", MODES)
def test_file_round_trip_reproduces_the_network(mode, tmp_path):
    net = _small(mode)
    H, _, s = ex.test_set(32, seed=1)
    u1, _ = dnet.precode(net, H, s, 2.0)
    p = dnet.save_model(tmp_path / "m.safetensors", net, {"name": "t"})
    net2 = dnet.load_model(p)
    u2, _ = dnet.precode(net2, H, s, 2.0)
    mem = ex.file_memory(p)
    assert mem["format"] == dnet.FORMAT
    n_q = sum(getattr(net, n).weight.numel() for n in dnet.QUANT_LAYERS)
    if mode == "fp32":  # the reference: float32 storage
        np.testing.assert_allclose(u2, u1, rtol=1e-5, atol=1e-7)
        assert mem["quantized_weights"] == 0 and mem["float16_values"] == 0
    else:  # float16 storage of the full-precision tensors: the same precoder to float16 accuracy
        np.testing.assert_allclose(u2, u1, rtol=2e-2, atol=1e-3 * np.abs(u1).max())
        assert mem["float16_values"] > 0
        if mode in ("binary", "ternary"):
            assert mem["quantized_weights"] == n_q
    # the stored values are exactly the float16 rounding; quantized rows and the SQ partition survive a re-save
    sd1, sd2 = net.state_dict(), net2.state_dict()
    for name in ("fc2.weight", "bn3.running_var", "conv1.bias"):
        ref = sd1[name].float().numpy()
        if mode != "fp32":
            ref = ref.astype(np.float16).astype(np.float32)
        np.testing.assert_array_equal(sd2[name].float().numpy(), ref)
    for lay in dnet.QUANT_LAYERS:
        assert torch.equal(sd2[lay + ".qmask"], sd1[lay + ".qmask"])
    p2 = dnet.save_model(tmp_path / "m2.safetensors", net2, {"name": "t"})
    u3, _ = dnet.precode(dnet.load_model(p2), H, s, 2.0)
    np.testing.assert_allclose(u3, u2, rtol=1e-6, atol=1e-9)


def test_old_format_refused_with_a_clear_message_and_convertible(tmp_path):
    from safetensors.numpy import save_file

    net = _small("sq-ternary")
    p = dnet.save_model(tmp_path / "m.safetensors", net, {"name": "t"})
    meta, t = dnet._read_file(p)
    meta["format"] = "deepquant-slp-dnet-1"  # format 1: the same tensors, floats in float32
    old = tmp_path / "old.safetensors"
    save_file(
        {k: (v.astype(np.float32) if v.dtype == np.float16 else v) for k, v in t.items()},
        str(old),
        metadata={"meta": json.dumps(meta)},
    )
    with pytest.raises(ValueError, match="format 'deepquant-slp-dnet-1'.*convert"):
        dnet.load_model(old)
    new = dnet.convert_file(old, tmp_path / "new.safetensors")
    assert ex.file_memory(new)["file_bytes"] == ex.file_memory(p)["file_bytes"]
    H, _, s = ex.test_set(16, seed=4)
    np.testing.assert_array_equal(
        dnet.precode(dnet.load_model(new), H, s, 1.0)[0], dnet.precode(dnet.load_model(p), H, s, 1.0)[0]
    )
    save_file({"x": np.zeros(2, np.float32)}, str(tmp_path / "other.safetensors"), metadata={"meta": "{}"})
    with pytest.raises(ValueError, match="not an SLP-DNet model file"):
        dnet.load_model(tmp_path / "other.safetensors")


def test_output_is_feasible_and_scales_with_gamma():
    net = _small("fp32")
    H, _, s = ex.test_set(200, seed=2)
    u1, fb = dnet.precode(net, H, s, 1.0)
    assert pb.satisfied(H, s, u1, 4, 1.0, rtol=1e-9).all()
    # the tightest constraint is active: no wasted power
    np.testing.assert_allclose(pb.ci_margin(H, s, u1, 4).min(1), 1.0, rtol=1e-9)
    u2, _ = dnet.precode(net, H, s, 7.5)
    np.testing.assert_allclose(u2, 7.5 * u1, rtol=1e-9)
    # the barrier iterate is strictly feasible before the final step: no ZF fallback needed
    assert not fb.any()


def test_unfolded_iterations_beat_zero_forcing_untrained():
    net = _small("fp32")
    H, _, s = ex.test_set(300, seed=3)
    u, _ = dnet.precode(net, H, s, 1.0)
    assert pb.power(u).mean() < pb.power(pb.zf_precoder(H, s, 1.0)).mean()


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_model_reproduces_stored_output(path):
    assert path.exists(), f"{path} missing"
    chk = json.loads((path.parent / (path.name[: -len(".safetensors")] + ".check.json")).read_text())
    net = dnet.load_model(path)
    H, _, s = ex.test_set(chk["n"], 4, 4, 4, chk["seed"])
    u, fb = dnet.precode(net, H, s, float(pb.gamma_of(chk["sinr_db"], chk["noise_var"])))
    ref = np.array(chk["u_real"]) + 1j * np.array(chk["u_imag"])
    np.testing.assert_allclose(u, ref, rtol=1e-6, atol=1e-9)
    assert (path.parent / (path.name[: -len(".safetensors")] + ".md")).exists()


@pytest.mark.parametrize("mode", MODES)
def test_inference_form_matches_the_training_graph(mode):
    """load_model's inference form (folded BN/activation affine maps, conv1 as one matrix product,
    incremental slacks) computes the training graph's function: equal to float round-off except a
    rare 2-bit activation exactly at a rounding boundary."""
    net = dnet.load_model(pc.shipped_model_path(mode, 4, 4, 4, 0.5))
    H, _, s = ex.test_set(2000, seed=5)
    An = torch.from_numpy(dnet.normalise(H, s)[0])
    with torch.no_grad():
        x1 = net.infer(An)
        f, net._fused = net._fused, None
        x0 = net(An)["x"]
        net._fused = f
    rel = ((x1 - x0).abs().max(1).values / x0.abs().max(1).values).numpy()
    assert np.median(rel) < 1e-7  # float32 network: folded weights round differently
    assert np.mean(rel > 1e-6) <= 0.002, (mode, np.sort(rel)[-5:])
    u, _ = dnet.precode(net, H, s, 1.0)
    B = 37  # any batch size, chunked or not
    np.testing.assert_allclose(dnet.precode(net, H[:B], s[:B], 1.0, chunk=8)[0], u[:B], rtol=1e-12, atol=1e-12)


def test_shipped_models_quality_and_memory():
    H, _, s = ex.test_set(300, seed=11)
    from gnuradio.deepquant.slp import solvers as sv

    p_opt = pb.power(sv.slp_qp(H, s, 4, 1.0)).mean()
    for w in MODES:
        pre = pc.SlpPrecoder(4, 4, 4, w, 0.0, 1.0)
        u = pre(H, s)
        assert pb.satisfied(H, s, u, 4, 1.0, rtol=1e-6).all()
        assert pb.power(u).mean() / p_opt < 1.15, w
    rows = {r["weights"]: r for r in ex.memory_table(SHIPPED)}
    assert rows["binary"]["saving_file"] > 13
    assert rows["ternary"]["saving_file"] > 8
    assert rows["sq-ternary"]["saving_file"] > 2.5  # float16 full-precision rows (format 2)
    assert rows["sq-binary"]["saving_file"] > 2.5


def test_training_smoke(tmp_path):
    p = tr.train(
        {
            "weights": "sq-ternary",
            "qr": 0.5,
            "steps": 6,
            "batch": 16,
            "c1": 2,
            "c2": 2,
            "hidden": 4,
            "layers": 2,
            "sq_redraw": 2,
            "out_dir": str(tmp_path),
            "checkpoint_every": 3,
        },
        progress=False,
    )
    net = dnet.load_model(p)
    assert net.cfg.weights == "sq-ternary" and net.cfg.qr == 0.5
    log = json.loads((tmp_path / (p.name[: -len(".safetensors")] + ".log.json")).read_text())
    assert log["loss"] and np.isfinite(log["loss"][-1][1])
    assert (tmp_path / (p.name[: -len(".safetensors")] + ".ckpt.safetensors")).exists()


def test_cli_hook():
    from gnuradio.deepquant.cli import build_parser

    a = build_parser().parse_args(["train", "slp", "--weights", "sq-binary", "--qr", "0.25", "--steps", "10"])
    assert a.weights == "sq-binary" and a.qr == 0.25 and a.steps == 10


def test_bad_config():
    with pytest.raises(ValueError):
        dnet.DNetConfig(weights="int4")
    with pytest.raises(ValueError):
        tr.make_config({"nope": 1})
