"""qa tests of the link-toolkit Python blocks in real flowgraphs: qam_mapper, soft_demapper_cf,
mimo_detector (numbers checked against independent numpy references)."""

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

from gnuradio import deepquant as dq


def qam16_38211(bits):
    """38.211 §5.1.3 16-QAM written out from the standard's formula (independent reference)."""
    b = bits.reshape(-1, 4).astype(float)
    re = (1 - 2 * b[:, 0]) * (2 - (1 - 2 * b[:, 2]))
    im = (1 - 2 * b[:, 1]) * (2 - (1 - 2 * b[:, 3]))
    return (re + 1j * im) / np.sqrt(10)


def brute_llr(y, h, nv, points, k):
    """Exact LLR ln P(b=1)/P(b=0) by enumerating the constellation (float64)."""
    labels = (np.arange(len(points))[:, None] >> np.arange(k - 1, -1, -1)[None, :]) & 1
    d = -(np.abs(y[:, None] - h[:, None] * points[None, :]) ** 2) / nv[:, None]
    out = np.empty((len(y), k))
    for j in range(k):
        one = np.logaddexp.reduce(np.where(labels[:, j] == 1, d, -np.inf), axis=1)
        zero = np.logaddexp.reduce(np.where(labels[:, j] == 0, d, -np.inf), axis=1)
        out[:, j] = one - zero
    return out


def test_qam_mapper_16qam_matches_standard():
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2, 4 * 500).astype(np.uint8)
    tb = gr.top_block()
    src = blocks.vector_source_b(bits.tolist())
    snk = blocks.vector_sink_c()
    mapper = dq.qam_mapper(4)  # keep a reference: a Python block must outlive the run
    tb.connect(src, mapper, snk)
    tb.run()
    np.testing.assert_allclose(np.asarray(snk.data()), qam16_38211(bits), atol=1e-6)


def test_qam_mapper_bad_bytes_counted():
    blk = dq.qam_mapper(2)
    tb = gr.top_block()
    snk = blocks.vector_sink_c()
    tb.connect(blocks.vector_source_b([0, 1, 3, 2]), blk, snk)
    tb.run()
    assert blk.bad_count == 2 and len(snk.data()) == 2


@pytest.mark.parametrize("k", [2, 4, 6])
@pytest.mark.parametrize("method", ["exact", "maxlog"])
def test_soft_demapper_with_channel_and_noise_stream(k, method):
    rng = np.random.default_rng(k)
    n = 600
    bits = rng.integers(0, 2, n * k).astype(np.uint8)
    from gnuradio.deepquant.phy import mapping

    pts = np.asarray(mapping.constellation(k), np.complex128)
    idx = (bits.reshape(n, k) * (1 << np.arange(k - 1, -1, -1))).sum(1)
    h = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)
    nv = rng.uniform(0.05, 0.5, n)
    y = h * pts[idx] + np.sqrt(nv / 2) * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    tb = gr.top_block()
    blk = dq.soft_demapper_cf(k, method, 1.0, channel_input=True, noise_var_source="stream")
    snk = blocks.vector_sink_f()
    tb.connect(blocks.vector_source_c(y.astype(np.complex64).tolist()), (blk, 0))
    tb.connect(blocks.vector_source_c(h.astype(np.complex64).tolist()), (blk, 1))
    tb.connect(blocks.vector_source_f(nv.astype(np.float32).tolist()), (blk, 2))
    tb.connect(blk, snk)
    tb.run()
    out = np.asarray(snk.data()).reshape(n, k)
    if method == "exact":
        ref = brute_llr(y, h, nv, pts, k)
        np.testing.assert_allclose(out, ref, rtol=1e-3, atol=1e-3 * np.abs(ref).max())
    else:
        labels = (np.arange(len(pts))[:, None] >> np.arange(k - 1, -1, -1)[None, :]) & 1
        d = np.abs(y[:, None] - h[:, None] * pts[None, :]) ** 2 / nv[:, None]
        ref = np.stack(
            [
                np.where(labels[:, j] == 0, d, np.inf).min(1) - np.where(labels[:, j] == 1, d, np.inf).min(1)
                for j in range(k)
            ],
            axis=1,
        )
        np.testing.assert_allclose(out, ref, rtol=1e-3, atol=1e-3 * np.abs(ref).max())


@pytest.mark.parametrize("k", [1, 2, 4, 6, 8])
def test_mapper_demapper_loopback_sign_convention(k):
    """Noiseless loopback qam_mapper -> soft_demapper_cf: LLR > 0 exactly where the bit is 1."""
    bits = np.random.default_rng(k).integers(0, 2, k * 300).astype(np.uint8)
    tb = gr.top_block()
    mapper, demapper = dq.qam_mapper(k), dq.soft_demapper_cf(k, "exact", 1e-3)
    snk = blocks.vector_sink_f()
    tb.connect(blocks.vector_source_b(bits.tolist()), mapper, demapper, snk)
    tb.run()
    np.testing.assert_array_equal((np.asarray(snk.data()) > 0).astype(np.uint8), bits)


def test_soft_demapper_noise_var_from_tag_and_bad_input():
    k = 2
    y = np.array([0.7 + 0.7j] * 8, dtype=np.complex64)
    y[5] = np.nan
    tag = gr.tag_t()
    tag.offset = 4
    tag.key = pmt.intern("noise_var")
    tag.value = pmt.from_double(0.1)
    src = blocks.vector_source_c(y.tolist(), False, 1, [tag])
    blk = dq.soft_demapper_cf(k, "exact", 1.0, noise_var_source="tag")
    snk = blocks.vector_sink_f()
    tb = gr.top_block()
    tb.connect(src, blk, snk)
    tb.run()
    out = np.asarray(snk.data()).reshape(-1, k)
    assert blk.bad_count == 1
    np.testing.assert_array_equal(out[5], [0, 0])
    # sigma^2 = 0.1 from symbol 4 on: 10x larger LLR magnitude than with sigma^2 = 1
    np.testing.assert_allclose(out[4], out[0] * 10, rtol=1e-4)
    assert (out[0] < 0).all()  # 0.7+0.7j is the QPSK point of bits 00: LLRs negative


def test_soft_demapper_bad_parameters():
    with pytest.raises(ValueError):
        dq.soft_demapper_cf(3, "exact", 1.0)
    with pytest.raises(ValueError):
        dq.soft_demapper_cf(2, "approx", 1.0)
    with pytest.raises(ValueError):
        dq.soft_demapper_cf(2, "exact", 0.0)


@pytest.mark.parametrize("method", ["exact_ml", "maxlog_ml", "zf_sic", "lmmse", "ep"])
def test_mimo_detector_block_matches_numeric_and_survives_bad_input(method):
    from gnuradio.deepquant.phy import mimo

    rng = np.random.default_rng(5)
    nr, nt, k, n = 2, 2, 4, 300
    h = ((rng.standard_normal((n, nr, nt)) + 1j * rng.standard_normal((n, nr, nt))) / np.sqrt(2)).astype(np.complex64)
    y = (rng.standard_normal((n, nr)) + 1j * rng.standard_normal((n, nr))).astype(np.complex64)
    nv = rng.uniform(0.1, 1.0, n).astype(np.float32)
    y[7, 1] = np.inf
    nv[9] = -1.0
    blk = dq.mimo_detector(nr, nt, k, method)
    tb = gr.top_block()
    snk = blocks.vector_sink_f(nt * k)
    tb.connect(blocks.vector_source_c(y.ravel().tolist(), False, nr), (blk, 0))
    tb.connect(blocks.vector_source_c(h.ravel().tolist(), False, nr * nt), (blk, 1))
    tb.connect(blocks.vector_source_f(nv.tolist()), (blk, 2))
    tb.connect(blk, snk)
    tb.run()
    out = np.asarray(snk.data()).reshape(n, nt * k)
    assert blk.bad_count == 2
    np.testing.assert_array_equal(out[[7, 9]], 0)
    good = np.setdiff1d(np.arange(n), [7, 9])
    ref = np.asarray(mimo.detect(method, y[good], h[good], nv[good], bits_per_symbol=k))
    np.testing.assert_allclose(out[good], ref, rtol=1e-4, atol=1e-4)


def _run_mimo_detector(blk, y, h, nv):
    n, nr = y.shape
    nt = h.shape[2]
    tb = gr.top_block()
    snk = blocks.vector_sink_f(blk.nt * blk.k)
    tb.connect(blocks.vector_source_c(y.ravel().tolist(), False, nr), (blk, 0))
    tb.connect(blocks.vector_source_c(h.ravel().tolist(), False, nr * nt), (blk, 1))
    tb.connect(blocks.vector_source_f(nv.tolist()), (blk, 2))
    tb.connect(blk, snk)
    tb.run()
    return np.asarray(snk.data()).reshape(n, blk.nt * blk.k)


@pytest.mark.parametrize("nr,nt,k", [(2, 2, 6), (4, 4, 4), (3, 2, 2)])
def test_mimo_detector_ep_runs_the_cpp_kernel_with_the_reference_llrs(nr, nt, k):
    """'ep' in a flowgraph: the C++ EP's LLRs, equal to the torch EP's (phy.mimo.ep) to float
    rounding (2e-6 of each channel use's largest |L|) over 0..40 dB; invalid channel uses zero and
    counted; channel uses whose float32 LLRs overflow (sigma^2 = 1e-42) finite, counted as overflow,
    equal to the float64 reference clipped to the block's 1e30."""
    from gnuradio.deepquant.phy import mimo

    rng = np.random.default_rng(21)
    n = 3000
    h = ((rng.standard_normal((n, nr, nt)) + 1j * rng.standard_normal((n, nr, nt))) / np.sqrt(2)).astype(np.complex64)
    x = np.exp(2j * np.pi * rng.uniform(size=(n, nt)))
    nv = (nt * 10 ** (-rng.uniform(0, 40, n) / 10)).astype(np.float32)
    y = (np.einsum("brt,bt->br", h, x) + np.sqrt(nv[:, None] / 2) * rng.standard_normal((n, nr))).astype(np.complex64)
    y[11, 0] = np.nan
    nv[12] = 0.0
    nv[20:25] = 1e-42
    blk = dq.mimo_detector(nr, nt, k, "ep")
    out = _run_mimo_detector(blk, y, h, nv)
    assert blk.bad_count == 2 + 5 and blk.overflow_count == 5
    np.testing.assert_array_equal(out[[11, 12]], 0.0)
    good = np.setdiff1d(np.arange(n), [11, 12] + list(range(20, 25)))
    ref = np.asarray(mimo.ep(y[good], h[good], nv[good], k), np.float64)
    err = np.abs(out[good] - ref) / (1.0 + np.abs(ref).max(axis=1, keepdims=True))
    assert err.max() <= 2e-6, err.max()
    big = np.clip(np.asarray(mimo.ep(y[20:25], h[20:25], nv[20:25], k, dtype="float64")), -1e30, 1e30)
    np.testing.assert_allclose(out[20:25], big, rtol=1e-5, atol=1e-5 * np.abs(big).max())


def test_mimo_detector_auto_is_the_measured_default():
    """method='auto' (the default) resolves per (Nr, Nt, K) from the registry's measured table and
    gives that detector's LLRs in a flowgraph; set_method('auto') resolves the same way."""
    from gnuradio.deepquant import registry
    from gnuradio.deepquant.phy import mimo

    assert dq.mimo_detector(2, 2, 6).method == registry.AUTO_DETECTOR[(2, 2, 6)] == "ep"
    assert dq.mimo_detector(4, 4, 4).method == registry.AUTO_DETECTOR[(4, 4, 4)] == "ep"
    assert registry.auto_detector(1, 1, 4) == "exact_ml" and registry.auto_detector(8, 8, 6) == "lmmse"
    blk = dq.mimo_detector(2, 2, 4, "lmmse")
    blk.set_method("auto")
    assert blk.method == "exact_ml"
    rng = np.random.default_rng(2)
    n = 50
    h = ((rng.standard_normal((n, 2, 2)) + 1j * rng.standard_normal((n, 2, 2))) / np.sqrt(2)).astype(np.complex64)
    y = (rng.standard_normal((n, 2)) + 1j * rng.standard_normal((n, 2))).astype(np.complex64)
    nv = np.full(n, 0.2, np.float32)
    tb = gr.top_block()
    snk = blocks.vector_sink_f(8)
    tb.connect(blocks.vector_source_c(y.ravel().tolist(), False, 2), (blk, 0))
    tb.connect(blocks.vector_source_c(h.ravel().tolist(), False, 4), (blk, 1))
    tb.connect(blocks.vector_source_f(nv.tolist()), (blk, 2))
    tb.connect(blk, snk)
    tb.run()
    ref = np.asarray(mimo.detect("exact_ml", y, h, nv, bits_per_symbol=4))
    np.testing.assert_allclose(np.asarray(snk.data()).reshape(n, 8), ref, rtol=1e-4, atol=1e-4)


def test_mimo_detector_bad_parameters():
    with pytest.raises(ValueError):
        dq.mimo_detector(2, 2, 6, "sphere")
    with pytest.raises(ValueError):
        dq.mimo_detector(0, 2, 6, "lmmse")
