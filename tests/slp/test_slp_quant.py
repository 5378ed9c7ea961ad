"""Quantizers of paper 003 against their definitions; bit packing round trips; Algorithm 1."""

import numpy as np
import pytest
import torch

from gnuradio.deepquant.slp import quant as qz


def test_bwn_twn_definitions():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((5, 37))
    c, b = qz.bwn_np(W)
    assert set(np.unique(c)) <= {-1, 1}
    np.testing.assert_allclose(b, np.abs(W).mean(1), rtol=1e-6)
    # BWN's beta minimises ||W - beta sign(W)||^2 (eq. 15)
    for r in range(5):
        betas = np.linspace(0.5 * b[r], 1.5 * b[r], 101)
        errs = [np.sum((W[r] - x * np.sign(W[r])) ** 2) for x in betas]
        assert abs(betas[int(np.argmin(errs))] - b[r]) <= betas[1] - betas[0]
    c, b = qz.twn_np(W)
    for r in range(5):
        d = 0.7 * np.abs(W[r]).mean()
        np.testing.assert_array_equal(c[r], np.where(W[r] > d, 1, np.where(W[r] < -d, -1, 0)))
        np.testing.assert_allclose(b[r], np.abs(W[r])[np.abs(W[r]) > d].mean(), rtol=1e-6)


@pytest.mark.parametrize("kind", ["binary", "ternary"])
def test_torch_quantizer_matches_numpy_and_passes_gradients(kind):
    rng = np.random.default_rng(1)
    W = rng.standard_normal((6, 3, 3, 3))
    c, b = (qz.bwn_np if kind == "binary" else qz.twn_np)(W.reshape(6, -1))
    t = torch.tensor(W, requires_grad=True)
    Q = qz.quantize_rows_torch(t, kind)
    np.testing.assert_allclose(Q.detach().numpy().reshape(6, -1), c * b[:, None], rtol=1e-6)
    Q.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), 1.0)  # straight-through


@pytest.mark.parametrize("kind", ["binary", "ternary"])
@pytest.mark.parametrize("qr", [0.0, 0.5, 1.0])
def test_encode_decode_round_trip(kind, qr):
    rng = np.random.default_rng(2)
    W = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    mask = qz.circular_lottery(qz.quant_error(W.reshape(16, -1), kind), qr, rng)
    assert mask.sum() == round(qr * 16)
    parts = qz.encode_weight(W, kind, mask)
    D = qz.decode_weight(parts, kind, W.shape)
    c, b = (qz.bwn_np if kind == "binary" else qz.twn_np)(W.reshape(16, -1)[mask])
    np.testing.assert_array_equal(D.reshape(16, -1)[mask], (c * b[:, None]).astype(np.float32))
    # full-precision rows: float16 storage (default), exact float32 on request
    np.testing.assert_array_equal(
        D.reshape(16, -1)[~mask], W.reshape(16, -1)[~mask].astype(np.float16).astype(np.float32)
    )
    if "fp" in parts:
        assert parts["fp"].dtype == np.float16
    D32 = qz.decode_weight(qz.encode_weight(W, kind, mask, np.float32), kind, W.shape)
    np.testing.assert_array_equal(D32.reshape(16, -1)[~mask], W.reshape(16, -1)[~mask])
    bits = 1 if kind == "binary" else 2
    if mask.any():
        assert parts["bits"].nbytes == -(-int(mask.sum()) * 72 * bits // 8)


def test_packing_is_dense():
    codes = np.array([1, -1, 0, 1, 0, -1, -1], np.int8)
    p = qz.pack_ternary(codes)
    assert p.nbytes == 2
    np.testing.assert_array_equal(qz.unpack_ternary(p, 7), codes)
    b = np.array([1, -1, -1, 1, 1, 1, -1, 1, -1], np.int8)
    assert qz.pack_binary(b).nbytes == 2
    np.testing.assert_array_equal(qz.unpack_binary(qz.pack_binary(b), 9), b)


def test_circular_lottery_prefers_small_errors():
    rng = np.random.default_rng(3)
    e = np.array([0.01, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.02])
    hits = np.zeros(10)
    for _ in range(300):
        hits += qz.circular_lottery(e, 0.2, rng)
    assert hits[0] > 250 and hits[9] > 250 and hits[1:9].sum() < 100
    # selection without replacement: each draw removes its row
    assert qz.circular_lottery(e, 1.0, rng).all()


def test_activation_quantizer_levels():
    x = torch.linspace(-3, 3, 101, requires_grad=True)
    q = qz.act_quant(x, 2, -1.5, 1.5)
    assert sorted(set(np.round(q.detach().numpy(), 6))) == [-1.5, -0.5, 0.5, 1.5]
    q.sum().backward()
    g = x.grad.numpy()
    assert np.all(g[np.abs(x.detach().numpy()) < 1.5] == 1) and np.all(g[np.abs(x.detach().numpy()) > 1.5] == 0)
