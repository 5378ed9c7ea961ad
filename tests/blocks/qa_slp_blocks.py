"""qa tests of the SLP blocks in real flowgraphs: slp_precoder == the numpy precoder, CI
constraints met, mu_miso_channel, psk_detector and symbol_error_counter in a loopback."""

import numpy as np
import pytest
from gnuradio import blocks, gr

from gnuradio import deepquant as dq
from gnuradio.deepquant.slp import problem as pb
from gnuradio.deepquant.slp.precoder import SlpPrecoder, shipped_model_path

M = K = 4


def _data(n, seed=0, order=4):
    rng = np.random.default_rng(seed)
    H = pb.rayleigh(rng, n, K, M).astype(np.complex64)
    idx, s = pb.random_symbols(rng, n, K, order)
    return H, idx, s.astype(np.complex64)


def _run_precoder(pre_block, H, s):
    tb = gr.top_block()
    src_s = blocks.vector_source_c(s.ravel().tolist(), False, K)
    src_h = blocks.vector_source_c(H.ravel().tolist(), False, K * M)
    snk = blocks.vector_sink_c(M)
    tb.connect(src_s, (pre_block, 0))
    tb.connect(src_h, (pre_block, 1))
    tb.connect(pre_block, snk)
    tb.run()
    return np.asarray(snk.data()).reshape(-1, M)


METHODS = ["zf", "optimization", "block"] + [
    m for m in ("fp32", "sq-ternary") if shipped_model_path(m, 4, 4, 4).exists()
]


@pytest.mark.parametrize("method", METHODS)
def test_block_equals_numpy_precoder_and_meets_constraints(method):
    H, _, s = _data(300 if method != "optimization" else 120)
    blk = dq.slp_precoder(M, K, 4, method, 15.0, 0.2)
    u = _run_precoder(blk, H, s)
    ref = SlpPrecoder(M, K, 4, method, 15.0, 0.2)(H.astype(complex), s.astype(complex))
    np.testing.assert_allclose(u, ref, rtol=2e-4, atol=2e-4 * np.abs(ref).max())
    g = float(pb.gamma_of(15.0, 0.2))
    if method == "block":
        from gnuradio.deepquant.slp import solvers as sv

        W = sv.block_level(H.astype(complex), 15.0, 0.2)
        np.testing.assert_allclose(sv.block_sinr(H, W, 0.2), 10**1.5, rtol=1e-4)
    else:
        assert pb.satisfied(H, s, u, 4, g, rtol=1e-3).all()
    assert abs(blk.mean_power() - np.mean(np.sum(np.abs(u) ** 2, 1))) < 1e-3 * blk.mean_power()


def test_sinr_callback_rescales_power():
    H, _, s = _data(50, seed=1)
    blk = dq.slp_precoder(M, K, 4, "optimization", 10.0, 1.0)
    u1 = _run_precoder(blk, H, s)
    blk2 = dq.slp_precoder(M, K, 4, "optimization", 0.0, 1.0)
    blk2.set_sinr_db(20.0)
    blk2.set_noise_var(0.1)
    u2 = _run_precoder(blk2, H, s)
    np.testing.assert_allclose(u2, u1, rtol=1e-3, atol=1e-4)  # Gamma n0 unchanged


def test_method_callback_switches_precoder():
    """set_method (the GRC callback behind a QT chooser) switches to another method's output,
    keeps SINR/n0, restarts the totals and ignores unusable methods."""
    H, _, s = _data(40, seed=5)
    blk = dq.slp_precoder(M, K, 4, "zf", 0.0, 1.0)
    blk.set_sinr_db(10.0)
    _run_precoder(blk, H, s)
    blk.set_method("fp32")
    assert blk.pre.method == "fp32" and blk.pre.sinr_db == 10.0 and blk.vectors == 0
    u = _run_precoder(blk, H, s)
    ref = dq.slp_precoder(M, K, 4, "fp32", 10.0, 1.0)
    np.testing.assert_allclose(u, _run_precoder(ref, H, s), rtol=1e-4, atol=1e-5)
    assert blk.vectors == 40 and np.isfinite(blk.mean_power())
    blk.set_method("no_such_method")
    assert blk.pre.method == "fp32"


def test_loopback_ser():
    n = 3000
    H, idx, s = _data(n, seed=2)
    for noise_var, expect_zero in ((1e-6, True), (1.0, False)):
        tb = gr.top_block()
        pre = dq.slp_precoder(M, K, 4, "zf", 10.0, 1.0)
        ch = dq.mu_miso_channel(M, K, noise_var, 3)
        src_h = blocks.vector_source_c(H.ravel().tolist(), False, K * M)
        tb.connect(blocks.vector_source_c(s.ravel().tolist(), False, K), (pre, 0))
        tb.connect(src_h, (pre, 1))
        tb.connect(pre, (ch, 0))
        tb.connect(src_h, (ch, 1))
        keep = []
        for i in range(K):
            det = dq.psk_detector(4)
            cnt = dq.symbol_error_counter()
            ref = blocks.vector_source_b(idx[:, i].astype(np.uint8).tolist(), False)
            tb.connect((ch, i), det, (cnt, 1))
            tb.connect(ref, (cnt, 0))
            keep += [det, cnt, ref]
        tb.run()
        sers = [c.ser() for c in keep[1::3]]
        if expect_zero:
            assert sers == [0.0] * K
        else:
            # ZF gives y_i = gamma s_i + n: QPSK SER = 2Q(a) - Q(a)^2 with a = gamma sin(pi/4) / sqrt(n0/2)
            from scipy.stats import norm

            a = np.sqrt(10.0) * np.sin(np.pi / 4) / np.sqrt(0.5)
            q = norm.sf(a)
            assert abs(np.mean(sers) - (2 * q - q * q)) < 4 * np.sqrt((2 * q) / (n * K)) + 1e-4


def test_mu_miso_channel_noiseless_is_h_transpose_u():
    rng = np.random.default_rng(4)
    n = 100
    H = pb.rayleigh(rng, n, K, M).astype(np.complex64)
    u = (rng.standard_normal((n, M)) + 1j * rng.standard_normal((n, M))).astype(np.complex64)
    tb = gr.top_block()
    ch = dq.mu_miso_channel(M, K, 0.0)
    tb.connect(blocks.vector_source_c(u.ravel().tolist(), False, M), (ch, 0))
    tb.connect(blocks.vector_source_c(H.ravel().tolist(), False, K * M), (ch, 1))
    sinks = [blocks.vector_sink_c() for _ in range(K)]
    for i in range(K):
        tb.connect((ch, i), sinks[i])
    tb.run()
    y = np.stack([np.asarray(sk.data()) for sk in sinks], 1)
    np.testing.assert_allclose(y, np.einsum("bkm,bm->bk", H, u), rtol=1e-4, atol=1e-5)


def test_nan_rows_output_zeros_and_are_counted():
    H, _, s = _data(20, seed=5)
    H[3, 0, 0] = np.nan
    blk = dq.slp_precoder(M, K, 4, "zf", 10.0, 1.0)
    u = _run_precoder(blk, H, s)
    assert np.all(u[3] == 0) and np.all(np.isfinite(u))
    assert blk.bad.count == 1 and blk.vectors == 19


def test_bad_parameters():
    with pytest.raises(ValueError):
        dq.slp_precoder(4, 4, 6, "zf", 10.0, 1.0)
    with pytest.raises(ValueError):
        dq.slp_precoder(4, 4, 4, "nope", 10.0, 1.0)
    with pytest.raises(ValueError):
        dq.slp_precoder(4, 4, 4, "zf", 10.0, 0.0)
    with pytest.raises(ValueError, match="deepquant train slp"):
        dq.slp_precoder(3, 2, 4, "fp32", 10.0, 1.0)
    with pytest.raises(ValueError):
        dq.slp_precoder(2, 4, 4, "block", 10.0, 1.0)
    with pytest.raises(ValueError):
        dq.mu_miso_channel(4, 4, -1.0)
