"""The kernel library's C++ soft demapper and LDPC decoder against the numeric core's torch
references (independent implementations of the same formulas), both SIMD and portable paths."""

import numpy as np
import pytest

from gnuradio.deepquant.blocks import _kernels
from gnuradio.deepquant.ofdm import estimation
from gnuradio.deepquant.phy import ldpc, mapping


def _isas(obj):
    return ["generic"] + (["avx2"] if obj.isa() == "avx2" else [])


def _channel_symbols(k, n, rng):
    x = mapping.constellation(k)[rng.integers(0, 2**k, n)]
    h = ((rng.normal(size=n) + 1j * rng.normal(size=n)) / np.sqrt(2)).astype(np.complex64)
    nv = (10 ** (-rng.uniform(-5, 45, n) / 10)).astype(np.float32)  # -5 .. 45 dB
    y = (h * x + np.sqrt(nv / 2) * (rng.normal(size=n) + 1j * rng.normal(size=n))).astype(np.complex64)
    return y, h, nv


@pytest.mark.parametrize("k", [1, 2, 4, 6, 8])
@pytest.mark.parametrize("maxlog", [False, True])
def test_demapper_matches_numeric_reference(k, maxlog):
    rng = np.random.default_rng(k)
    y, h, nv = _channel_symbols(k, 4001, rng)  # not a multiple of 8: SIMD body + scalar tail
    ref = (mapping.demap_maxlog if maxlog else mapping.demap_exact)(y, h, nv, k)
    dm = _kernels.qam_demapper(k)
    try:
        for isa in _isas(dm):
            dm.set_isa(isa)
            out = dm.demap(y, h, nv, maxlog)
            assert out.dtype == np.float32 and out.shape == ref.shape
            np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max(), err_msg=isa)
    finally:
        dm.set_isa("auto")


def test_demapper_without_channel_and_scalar_noise():
    rng = np.random.default_rng(3)
    y, _, _ = _channel_symbols(6, 1000, rng)
    ref = mapping.demap_exact(y, None, 0.05, 6)
    np.testing.assert_allclose(_kernels.demap(y, None, 0.05, 6), ref, rtol=1e-4, atol=1e-4)


def test_demapper_rejects_bad_shapes():
    dm = _kernels.qam_demapper(6)
    with pytest.raises(ValueError):
        dm.demap(np.zeros(4, np.complex64), None, np.ones(3, np.float32), False)
    with pytest.raises(ValueError):
        dm.set_isa("sse9")


def _noisy_codewords(snr_db, b, rng):
    cw = np.asarray(ldpc.encode(rng.integers(0, 2, (b, ldpc.K))))
    s2 = 10 ** (-snr_db / 10)
    x = 1 - 2.0 * cw + rng.normal(0, np.sqrt(s2), cw.shape)
    return cw, (-2 * x / s2).astype(np.float32)  # L = ln P(1)/P(0)


@pytest.mark.parametrize("snr_db", [1.0, 2.0, 4.0])
def test_ldpc_decoder_matches_torch_reference(snr_db):
    rng = np.random.default_rng(int(snr_db * 10))
    _, llr = _noisy_codewords(snr_db, 60, rng)
    llr[0, :5] = np.nan  # NaN reads as 0 in both
    _, cw_t, it_t, post_t = ldpc.bp_decode_torch(
        llr, 30, return_codewords=True, return_iterations=True, return_posteriors=True
    )
    cw_t, it_t, post_t = cw_t.numpy(), it_t.numpy(), post_t.numpy()
    dec = _kernels.ldpc_decoder()
    try:
        for isa in _isas(dec):
            dec.set_isa(isa)
            cw, it, post = dec.decode(llr, 30, True)
            conv = (it < 30) & (it_t < 30)
            # same iterations, and the same codeword wherever both converged
            assert np.mean(it == it_t) >= 0.95, isa
            assert np.array_equal(cw[conv], cw_t[conv]), isa
            # posteriors agree to float rounding (amplified near |tanh| = 1 by atanh's conditioning)
            same = (it == it_t) & conv  # (non-converged frames drift apart over 30 iterations)
            np.testing.assert_allclose(post[same], post_t[same], rtol=0.1, atol=0.05, err_msg=isa)
            assert conv.sum() > 0
    finally:
        dec.set_isa("auto")


def test_ldpc_decoder_decodes_and_rejects_bad_input():
    rng = np.random.default_rng(5)
    cw, llr = _noisy_codewords(4.0, 20, rng)
    out, it, _ = _kernels.bp_decode(llr, 50)
    assert np.array_equal(out, cw) and (it < 50).all()
    dec = _kernels.ldpc_decoder()
    with pytest.raises(ValueError):
        dec.decode(np.zeros((2, 647), np.float32), 10, True)
    with pytest.raises(ValueError):
        dec.decode(np.zeros((2, 648), np.float32), 0, True)


def test_decoded_symbols_same_with_cpp_decoder():
    rng = np.random.default_rng(9)
    _, llr = _noisy_codewords(1.8, 8, rng)
    m0, v0, ok0 = estimation.decoded_symbols(llr, 6, 50)
    m1, v1, ok1 = estimation.decoded_symbols(llr, 6, 50, decode=_kernels.bp_decode)
    assert np.array_equal(ok0, ok1)
    np.testing.assert_allclose(m1, m0, atol=2e-3)
    np.testing.assert_allclose(v1, v0, atol=2e-3)


@pytest.mark.parametrize("nr,nt,k", [(2, 2, 6), (4, 4, 4), (1, 2, 2), (3, 2, 8), (2, 1, 1), (10, 10, 4)])
def test_lmmse_detector_matches_numeric_reference(nr, nt, k):
    from gnuradio.deepquant.phy import mimo

    rng = np.random.default_rng(nr * 10 + nt)
    n = 1001
    h = ((rng.normal(size=(n, nr, nt)) + 1j * rng.normal(size=(n, nr, nt))) / np.sqrt(2)).astype(np.complex64)
    x = mapping.constellation(k)[rng.integers(0, 2**k, (n, nt))]
    nv = (10 ** (-rng.uniform(0, 40, n) / 10)).astype(np.float32)
    noise = np.sqrt(nv / 2)[:, None] * (rng.normal(size=(n, nr)) + 1j * rng.normal(size=(n, nr)))
    y = (np.einsum("brt,bt->br", h, x) + noise).astype(np.complex64)
    ref = mimo.lmmse(y, h, nv, k)
    det = _kernels.lmmse_detector(nr, nt, k)
    try:
        for isa in _isas(det):
            det.set_isa(isa)
            out = det.detect(y, h, nv, False)
            assert out.shape == ref.shape == (n, nt * k)
            np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max(), err_msg=isa)
    finally:
        det.set_isa("auto")


def test_demap_statistics_matches_reference():
    import torch

    rng = np.random.default_rng(11)
    u = (rng.normal(size=500) + 1j * rng.normal(size=500)) * 30
    g = rng.uniform(0.1, 40, 500).astype(np.float32)
    ref = mapping.llr_from_statistics(torch.from_numpy(u), torch.from_numpy(g), 6, False).numpy().reshape(-1)
    out = _kernels.qam_demapper(6).demap_statistics(u, g, False)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


def test_demap_into_zeroes_and_counts_invalid_symbols():
    rng = np.random.default_rng(12)
    y, h, nv = _channel_symbols(6, 40, rng)
    y[3] = np.nan
    h[7] = np.inf
    nv[11] = 0.0
    nv[12] = np.nan
    out = np.full(40 * 6, 7.0, np.float32)
    dm = _kernels.qam_demapper(6)
    for isa in _isas(dm):
        dm.set_isa(isa)
        assert dm.demap_into(y, h, nv, False, out) == 4
        bad = np.zeros(40, bool)
        bad[[3, 7, 11, 12]] = True
        assert np.all(out.reshape(40, 6)[bad] == 0.0)
        good = ~bad
        ref = mapping.demap_exact(y[good], h[good], nv[good], 6)
        np.testing.assert_allclose(out.reshape(40, 6)[good].reshape(-1), ref, rtol=1e-5, atol=1e-4)
    dm.set_isa("auto")
    with pytest.raises(ValueError):
        dm.demap_into(y, h, nv, False, np.zeros(5, np.float32))


def test_lmmse_beyond_the_kernel_falls_back_to_the_reference():
    from gnuradio.deepquant.phy import mimo

    rng = np.random.default_rng(13)
    n, nr, nt = 50, 20, 17
    h = (rng.normal(size=(n, nr, nt)) + 1j * rng.normal(size=(n, nr, nt))).astype(np.complex64)
    y = (rng.normal(size=(n, nr)) + 1j * rng.normal(size=(n, nr))).astype(np.complex64)
    nv = np.full(n, 0.1, np.float32)
    np.testing.assert_allclose(_kernels.lmmse(y, h, nv, 2), mimo.lmmse(y, h, nv, 2), rtol=1e-6, atol=1e-6)


def test_hard_codeword_is_what_one_decoder_iteration_returns():
    """``hard_codeword`` (the re-estimation's shortcut) against the decoder itself, both ISA
    paths: wherever the channel hard decisions satisfy every parity check (and no LLR is 0/NaN),
    decode() returns exactly those bits after one iteration; elsewhere it is not claimed. Tiny
    LLRs (|L| ~ 1e-30 .. 1e-3: vanishing tanh products) and huge ones (beyond the clip) included."""
    rng = np.random.default_rng(12)
    dec = _kernels.ldpc_decoder()
    frames = []
    for snr_db in (3.0, 5.0, 8.0, 12.0):
        _, llr = _noisy_codewords(snr_db, 60, rng)
        frames.append(llr)
    _, llr = _noisy_codewords(12.0, 40, rng)
    small = rng.random(llr.shape) < 0.05
    llr[small] = np.sign(llr[small]) * 10.0 ** rng.uniform(-30, -3, small.sum())
    llr[:5, 3] *= 1e6
    frames.append(llr)
    llr = np.concatenate(frames).astype(np.float32)
    llr[0, 7] = 0.0  # a zero LLR: never claimed
    llr[1, 9] = np.nan
    claimed = []
    for row in llr:
        ok, bits = dec.hard_codeword(row)
        np.testing.assert_array_equal(bits, (np.nan_to_num(row) > 0).astype(np.uint8))
        claimed.append(ok)
    claimed = np.array(claimed)
    assert not claimed[0] and not claimed[1] and 50 < claimed.sum() < len(llr)
    try:
        for isa in _isas(dec):
            dec.set_isa(isa)
            cw, it, _ = dec.decode(llr[claimed], 50, True)
            assert (it == 1).all(), isa
            np.testing.assert_array_equal(cw, (llr[claimed] > 0).astype(np.uint8), err_msg=isa)
    finally:
        dec.set_isa("auto")
