"""The C++ EQ-Net kernel (``gnuradio.deepquant.eqnet_detector``, EQNetRuntime's 'cpp' backend)
against an independent reference: the torch networks of :mod:`gnuradio.deepquant.eqnet.models`
evaluated in float64 on the same (float32) features."""

import numpy as np
import pytest
import torch

from gnuradio import deepquant as dq
from gnuradio.deepquant import eqnet
from gnuradio.deepquant.eqnet import io as eqio
from gnuradio.deepquant.eqnet import kernel, models

#: the clamp of models.softbit_to_llr, in LLR units: 2 atanh(float32(1 - 1e-6))
CLAMP = kernel.LLR_CLAMP


def _isas():
    out = ["generic"]
    if dq.eqnet_detector.cpu_has_avx2():
        out.append("avx2")
    if dq.eqnet_detector.cpu_has_avx512():
        out.append("avx512")
    return out


def _random_net(nr, nt, k, seed, **arch):
    """An EQNet with every weight and bias drawn at random (biases too: at initialisation many are
    0), the decoder's output layer shifted and scaled so that each LLR has mean ~0 and a standard
    deviation of ~6 (mostly inside the +-14.5 clamp)."""
    torch.manual_seed(seed)
    net = models.EQNet(nr, nt, k, **arch)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.startswith(("f_e", "g.")) or (name.startswith("f_q") and net.f_e.n_ep):
                fan_in = p.shape[-2] if name.startswith("g.weights") else (p.shape[-1] if p.dim() > 1 else 16)
                # (EP-input f_E: f_Q's layers too, which add tanh(f_Q(EP soft bits)) to f_E's output)
                gain = 0.5 if ".blocks." in name else 1.2  # residual layers: keep x + relu(W x) from exploding
                p.copy_(torch.randn_like(p) * (gain / np.sqrt(fan_in)))
        y, H, nv = _data(500, nr, nt, seed=seed + 100)
        h = net.g.half_llr(net.f_e(torch.from_numpy(y), torch.from_numpy(H), torch.from_numpy(nv)))
        scale = 3.0 / h.std(0).clamp_min(1e-3)  # per output: centred, standard deviation 3
        net.g.biases[-1].sub_(h.mean(0).reshape(-1, 1, 1)).mul_(scale.reshape(-1, 1, 1))
        net.g.weights[-1].mul_(scale.reshape(-1, 1, 1))
    return net.eval()


def _data(n, nr, nt, seed=1, snr_db=20.0):
    rng = np.random.default_rng(seed)
    H = ((rng.standard_normal((n, nr, nt)) + 1j * rng.standard_normal((n, nr, nt))) / np.sqrt(2)).astype(np.complex64)
    x = ((rng.integers(-3, 4, (n, nt)) + 1j * rng.integers(-3, 4, (n, nt))) / 3).astype(np.complex64)
    nv = (nr * nt / 10 ** (rng.uniform(snr_db - 8, snr_db + 8, n) / 10)).astype(np.float32)
    y = np.einsum("bij,bj->bi", H, x) + np.sqrt(nv / 2)[:, None] * (
        rng.standard_normal((n, nr)) + 1j * rng.standard_normal((n, nr))
    )
    return y.astype(np.complex64), H, nv


def _reference(net, y, H, nv):
    """float64 f_E core + g on EstimationEncoder.features, then the LLR clamp."""
    return kernel.reference_llr(net, y, H, nv)


CASES = [
    (
        "2x2 EQ-Net-L shape, stats",
        2,
        2,
        6,
        dict(est_width=32, est_blocks=1, est_input_width=16, est_stats=True, dec_branch_width=24),
    ),
    (
        "2x2 EQ-Net-P shape, latent 8",
        2,
        2,
        6,
        dict(est_width=40, est_blocks=3, est_input_width=8, est_stats=True, dec_branch_width=12, latent_dim=8),
    ),
    (
        "1x1 QPSK, stats",
        1,
        1,
        2,
        dict(est_width=16, est_blocks=1, est_input_width=8, est_stats=True, dec_branch_width=8, dec_hidden_layers=2),
    ),
    (
        "3x2 16-QAM, no stats",
        3,
        2,
        4,
        dict(
            est_width=20, est_blocks=2, est_layers_per_block=3, est_input_width=12, est_stats=False, dec_branch_width=10
        ),
    ),
    (
        "4x4 16-QAM, stats",
        4,
        4,
        4,
        dict(est_width=24, est_blocks=1, est_input_width=8, est_stats=True, dec_branch_width=8),
    ),
]


@pytest.mark.parametrize("name,nr,nt,k,arch", CASES, ids=[c[0] for c in CASES])
def test_kernel_matches_float64_reference(name, nr, nt, k, arch):
    net = _random_net(nr, nt, k, seed=nr * 10 + nt, **arch)
    y, H, nv = _data(300, nr, nt)
    ref = _reference(net, y, H, nv)
    assert np.abs(ref).max() > 2 and (np.abs(ref) < CLAMP).mean() > 0.5  # a non-trivial, mostly unclamped range
    k_ = kernel.build(net)
    for isa in _isas():
        k_.set_isa(isa)
        out = k_.detect(y, H, nv)
        assert out.shape == (300, nt * k) and out.dtype == np.float32
        # float32 accumulation through ~10-20 layers: measured max 1.5e-4 on the shipped models
        np.testing.assert_allclose(out, ref, atol=2e-4 * (1 + np.abs(ref).max()), rtol=1e-4, err_msg=isa)
        # tiles of 16 / 32 channel uses with padded lanes: every batch size gives the same rows
        # (each lane computes its channel use alone, in the same order of operations)
        for n in (0, 1, 15, 16, 17, 32, 33, 47):
            assert np.array_equal(k_.detect(y[:n], H[:n], nv[:n]), out[:n]), (isa, n)


def test_kernel_isa_and_macs():
    net = _random_net(2, 2, 6, seed=0, est_width=32, est_input_width=16, est_stats=True, dec_branch_width=24)
    k_ = kernel.build(net)
    det = dq.eqnet_detector
    assert k_.isa() == ("avx512" if det.cpu_has_avx512() else ("avx2" if det.cpu_has_avx2() else "generic"))
    # in_y 4, in_h 8, in_s 2, in_x 8 (-> 16 each), fuse 64 -> 32, 6 residual 32 x 32, out 32 -> 6,
    # 12 branches of 6 -> 24 (x5 24 -> 24) -> 1
    assert k_.macs_per_channel_use == 16 * 22 + 64 * 32 + 6 * 32 * 32 + 32 * 6 + 12 * (6 * 24 + 5 * 24 * 24 + 24)
    with pytest.raises(ValueError, match="isa must be"):
        k_.set_isa("sse9")
    with pytest.raises(ValueError, match="isa must be"):
        kernel.build(net, "sse9")
    if dq.eqnet_detector.cpu_has_avx512():
        assert dq.eqnet_detector.peak_flops("avx512", 0.01) > 1e9
    with pytest.raises(ValueError, match="isa must be"):
        dq.eqnet_detector.peak_flops("generic")
    if not dq.eqnet_detector.cpu_has_avx512_bf16():
        with pytest.raises(RuntimeError, match="AVX-512-BF16"):
            k_.set_isa("avx512_bf16")


@pytest.mark.skipif(not dq.eqnet_detector.cpu_has_avx512_bf16(), reason="CPU without AVX-512-BF16")
def test_kernel_bf16_is_close_but_not_exact():
    net = _random_net(2, 2, 6, seed=3, est_width=32, est_input_width=16, est_stats=True, dec_branch_width=24)
    y, H, nv = _data(400, 2, 2)
    ref = _reference(net, y, H, nv)
    k_ = kernel.build(net, "avx512_bf16")
    d = np.abs(k_.detect(y, H, nv) - ref)
    # bfloat16 keeps 8 significant bits: errors of ~1 % of the LLR scale, far above float32's
    assert 1e-4 < d.mean() < 0.05 * np.abs(ref).mean()


def test_kernel_rejects_inconsistent_weights():
    net = _random_net(2, 2, 6, seed=0, est_width=32, est_input_width=16, est_stats=True, dec_branch_width=24)
    k_ = kernel.build(net)
    fe = net.f_e
    ws = [fe.in_y.weight.detach().numpy()]
    with pytest.raises(ValueError, match="expected .* layers"):
        dq.eqnet_detector(2, 2, 6, True, ws, [fe.in_y.bias.detach().numpy()], [16, 4], 6, 7)
    y, H, nv = _data(4, 2, 2)
    with pytest.raises(ValueError, match="y must be"):
        k_.detect(y[:, :1], H, nv)
    with pytest.raises(ValueError, match="noise_var"):
        k_.detect(y, H, nv[:3])
    with pytest.raises(ValueError, match="no estimation encoder"):
        kernel.build(models.EQNet(2, 2, 6, with_estimator=False))


def test_runtime_backends_agree(tmp_path):
    """EQNetRuntime: 'cpp' (default) vs the torch backends on a model file; bad backend named."""
    net = _random_net(2, 2, 6, seed=5, est_width=32, est_input_width=16, est_stats=True, dec_branch_width=24)
    arch = dict(est_width=32, est_input_width=16, est_stats=True, dec_branch_width=24)
    rng = np.random.default_rng(0)
    cbs = {b: np.sort(rng.uniform(-1, 1, (6, 2**b)), axis=1).astype(np.float32) for b in (5, 6)}
    path = eqio.save(tmp_path / "m.safetensors", net, cbs, {"nr": 2, "nt": 2, "k": 6, "variant": "l", "arch": arch})
    y, H, nv = _data(100, 2, 2)
    rt = eqnet.EQNetRuntime(path)
    assert rt.backend == "cpp"
    ref = _reference(net, y, H, nv)
    np.testing.assert_allclose(rt.detect(y, H, nv), ref, atol=2e-4 * (1 + np.abs(ref).max()), rtol=1e-4)
    # a scalar noise variance is broadcast, as with the torch backends
    assert np.array_equal(rt.detect(y, H, nv[0]), rt.detect(y, H, np.full(100, nv[0], np.float32)))
    # the torch backends compute the same network (up to their float32 tanh/atanh near |L| = 14.5)
    for backend in ("eager", "torchscript"):
        other = eqnet.EQNetRuntime(path, backend=backend).detect(y, H, nv)
        ok = np.abs(ref) < 10
        np.testing.assert_allclose(other[ok], ref[ok], atol=2e-3, rtol=1e-4, err_msg=backend)
    with pytest.raises(ValueError, match="backend must be one of"):
        eqnet.EQNetRuntime(path, backend="onnx")


EP_CASES = [
    (
        "2x2 64-QAM, EP input",
        2,
        2,
        6,
        dict(est_width=32, est_blocks=1, est_input_width=16, est_stats="lmmse+ep", dec_branch_width=16),
    ),
    (
        "4x4 16-QAM, EP input, latent 24",
        4,
        4,
        4,
        dict(
            est_width=24,
            est_blocks=1,
            est_input_width=8,
            est_stats="lmmse+ep",
            dec_branch_width=8,
            latent_dim=24,
            enc_hidden_layers=3,
        ),
    ),
]


@pytest.mark.parametrize("name,nr,nt,k,arch", EP_CASES, ids=[c[0] for c in EP_CASES])
def test_kernel_ep_input_matches_references(name, nr, nt, k, arch):
    """EP-input mode (est_stats 'lmmse+ep'): the C++ EP's soft bits, in_x over the statistics and
    them, f_Q's tanh output added to f_E's; against the float64 reference and the eager torch path."""
    net = _random_net(nr, nt, k, seed=nr * 10 + nt + 7, **arch)
    y, H, nv = _data(300, nr, nt, seed=4)
    ref = _reference(net, y, H, nv)
    assert np.abs(ref).max() > 2 and (np.abs(ref) < CLAMP).mean() > 0.5
    k_ = kernel.build(net)
    assert k_.ep_input
    # the f_Q term is far from negligible on these inputs
    with torch.no_grad():
        z_fq = net.f_q(models.ep_softbits(torch.from_numpy(y), torch.from_numpy(H), torch.from_numpy(nv), k))
    assert float(z_fq.abs().mean()) > 0.05
    fq_macs = sum(lin.in_features * lin.out_features for lin in net.f_q.mlp.net if isinstance(lin, torch.nn.Linear))
    n_ep = nt * k
    fe = net.f_e
    assert fe.in_x.in_features == 3 * nt + nt * (nt - 1) + n_ep
    for isa in _isas():
        k_.set_isa(isa)
        out = k_.detect(y, H, nv)
        assert out.shape == (300, nt * k) and out.dtype == np.float32
        np.testing.assert_allclose(out, ref, atol=2e-4 * (1 + np.abs(ref).max()), rtol=1e-4, err_msg=isa)
        # EP runs in chunks and the network in tiles: every batch size gives the same rows
        for n in (0, 1, 15, 17, 33, 255, 256, 257):
            assert np.array_equal(k_.detect(y[:n], H[:n], nv[:n]), out[:n]), (isa, n)
    # f_Q's multiply-accumulates are counted with f_E's and g's
    fe_macs = sum(m.in_features * m.out_features for m in net.f_e.modules() if isinstance(m, torch.nn.Linear))
    g_macs = sum(w.shape[0] * w.shape[1] * w.shape[2] for w in net.g.weights)
    assert k_.macs_per_channel_use == fe_macs + fq_macs + g_macs
    with torch.no_grad():
        z = net.f_e(torch.from_numpy(y), torch.from_numpy(H), torch.from_numpy(nv))
        llr_eager = models.softbit_to_llr(net.g(z)).numpy()
    ok = np.abs(ref) < 10  # the eager path's float32 tanh/atanh saturates near |L| = 14.5
    np.testing.assert_allclose(k_.detect(y, H, nv)[ok], llr_eager[ok], atol=2e-3, rtol=1e-4)


def test_kernel_ep_input_rejects_inconsistent_parts():
    from gnuradio.deepquant.phy import mimo

    net = _random_net(2, 2, 6, seed=1, est_width=16, est_input_width=8, est_stats="lmmse+ep", dec_branch_width=8)
    fe = net.f_e
    lins = [fe.in_y, fe.in_h, fe.in_s, fe.in_x, fe.fuse] + [lin for b in fe.blocks for lin in b.layers] + [fe.out]
    ws = [lin.weight.detach().numpy() for lin in lins] + [w.detach().numpy() for w in net.g.weights]
    bs = [lin.bias.detach().numpy() for lin in lins] + [b.detach().numpy().reshape(-1) for b in net.g.biases]
    dims = []
    for lin in lins:
        dims += [lin.out_features, lin.in_features]
    for w in net.g.weights:
        dims += [w.shape[2], w.shape[1]]
    qlin = [m for m in net.f_q.mlp.net if isinstance(m, torch.nn.Linear)]
    qw = [lin.weight.detach().numpy() for lin in qlin]
    qb = [lin.bias.detach().numpy() for lin in qlin]
    qd = []
    for lin in qlin:
        qd += [lin.out_features, lin.in_features]
    nres, ndec = len(lins) - 6, len(net.g.weights)
    ep = mimo.ep_kernel(2, 2, 6)
    ok = dq.eqnet_detector(2, 2, 6, True, ws, bs, dims, nres, ndec, ep=ep, fq_weights=qw, fq_biases=qb, fq_dims=qd)
    assert ok.ep_input
    with pytest.raises(ValueError, match="in_x must be"):  # the EP input's width without EP
        dq.eqnet_detector(2, 2, 6, True, ws, bs, dims, nres, ndec)
    with pytest.raises(ValueError, match="without an ep_detector"):
        dq.eqnet_detector(2, 2, 6, True, ws, bs, dims, nres, ndec, fq_weights=qw, fq_biases=qb, fq_dims=qd)
    with pytest.raises(ValueError, match="nr, nt and K"):
        dq.eqnet_detector(
            2, 2, 6, True, ws, bs, dims, nres, ndec, ep=mimo.ep_kernel(2, 2, 4), fq_weights=qw, fq_biases=qb, fq_dims=qd
        )
    with pytest.raises(ValueError, match="f_Q needs at least one layer"):
        dq.eqnet_detector(2, 2, 6, True, ws, bs, dims, nres, ndec, ep=ep)
    with pytest.raises(ValueError, match="f_Q layer 0"):
        dq.eqnet_detector(
            2, 2, 6, True, ws, bs, dims, nres, ndec, ep=ep, fq_weights=qw[1:], fq_biases=qb[1:], fq_dims=qd[2:]
        )
    with pytest.raises(ValueError, match="the last gives the"):
        dq.eqnet_detector(
            2, 2, 6, True, ws, bs, dims, nres, ndec, ep=ep, fq_weights=qw[:-1], fq_biases=qb[:-1], fq_dims=qd[:-2]
        )
    with pytest.raises(ValueError, match="statistics input"):
        dq.eqnet_detector(2, 2, 6, False, ws, bs, dims, nres, ndec, ep=ep, fq_weights=qw, fq_biases=qb, fq_dims=qd)
