"""The C++ ``ofdm_estimator`` against the numeric core it replaces on the receivers' hot paths:
``ofdm.estimation.estimate_channel`` / ``refine_with_known`` / ``linear_phase_fit`` /
``pilot_correlations`` and ``ofdm.header`` (decode_header, header_symbols), to float rounding."""

import numpy as np
import pytest

from gnuradio.deepquant.blocks import _kernels
from gnuradio.deepquant.ofdm import estimation, header
from gnuradio.deepquant.ofdm.layout import OfdmLayout


def _channel(rng, lay, n_taps=9, delay=3):
    taps = np.zeros(lay.fft_len, complex)
    p = np.exp(-np.arange(n_taps) / 3.0)
    taps[delay : delay + n_taps] = (rng.normal(size=n_taps) + 1j * rng.normal(size=n_taps)) * np.sqrt(p / p.sum() / 2)
    return np.fft.fftshift(np.fft.fft(taps)).astype(np.complex64)


def _noise(rng, shape, sigma):
    return (sigma * (rng.normal(size=shape) + 1j * rng.normal(size=shape)) / np.sqrt(2)).astype(np.complex64)


@pytest.mark.parametrize("bps", [2, 6])
def test_estimate_matches_estimate_channel(bps):
    lay = OfdmLayout(bits_per_symbol=bps)
    est = _kernels.ofdm_estimator(lay)
    rng = np.random.default_rng(3)
    for trial in range(6):
        hf = _channel(rng, lay)
        hsym = header.header_symbols(trial * 1000 + 5, lay.n_codewords, len(lay.occupied))
        x = estimation.known_preamble(lay, hsym if trial % 2 else None)
        rot = np.exp(1j * 0.05 * trial * np.arange(x.shape[0]))[:, None]
        y = (hf[None, :] * x * rot + _noise(rng, x.shape, 10 ** (-trial / 4))).astype(np.complex64)
        for taps_pre, taps_post, ref in ((0, 20, 1), (4, 16, None), (0, 15, 0)):
            h_r, nv_r, err_r, ek_r = estimation.estimate_channel(
                y, x, lay, taps_pre, taps_post, ref_row=ref, per_carrier=True
            )
            h, nv, err, ek = est.estimate(y, x, taps_pre, taps_post, -1 if ref is None else ref)
            assert h.dtype == np.complex64
            np.testing.assert_allclose(h, h_r, rtol=2e-6, atol=2e-6 * np.abs(h_r).max())
            assert nv == pytest.approx(nv_r, rel=1e-8)
            assert err == pytest.approx(err_r, rel=1e-8)
            np.testing.assert_allclose(ek, ek_r, rtol=1e-8, atol=1e-14)


def test_estimate_single_row_and_failure():
    lay = OfdmLayout()
    est = _kernels.ofdm_estimator(lay)
    rng = np.random.default_rng(4)
    w2 = lay.sync_words()[1][None, :]
    y = (_channel(rng, lay)[None, :] * w2 + _noise(rng, w2.shape, 0.1)).astype(np.complex64)
    h_r, nv_r, err_r = estimation.estimate_channel(y, w2, lay, 0, 20, ref_row=None)
    h, nv, err, _ = est.estimate(y, w2, 0, 20)
    np.testing.assert_allclose(h, h_r, rtol=2e-6, atol=2e-7)
    assert (nv, err) == pytest.approx((nv_r, err_r), rel=1e-8)
    # nothing known: the fit's matrix is singular -> None (callers take the numeric core)
    assert est.estimate(y, np.zeros_like(w2), 0, 20) is None
    assert est.estimate(np.full_like(y, np.nan), w2, 0, 20) is None
    with pytest.raises(ValueError):
        est.estimate(y[:, :32], w2[:, :32], 0, 20)


@pytest.mark.parametrize("soft", [False, True])
def test_refine_matches_refine_with_known(soft):
    lay = OfdmLayout()
    est = _kernels.ofdm_estimator(lay)
    rng = np.random.default_rng(5 + soft)
    di = lay.data_idx
    t = lay.payload_ofdm_symbols
    from gnuradio.deepquant.phy import mapping

    pts = mapping.constellation(6)
    for trial in range(5):
        hf = _channel(rng, lay)
        xs = pts[rng.integers(0, 64, size=(t, len(di)))]
        x = np.zeros((t, lay.fft_len), np.complex64)
        x[:, di] = xs
        x[:, lay.pilot_idx] = np.asarray(lay.pilot_symbols)
        sigma = 10 ** (-(12 + 3 * trial) / 20)
        y = (hf[None, :] * x * np.exp(1j * (0.02 * np.arange(t) + 0.1))[:, None] + _noise(rng, x.shape, sigma)).astype(
            np.complex64
        )
        h_pre = (hf + _noise(rng, hf.shape, sigma / 3)).astype(np.complex64)
        xk = np.zeros(x.shape, np.complex128)
        xk[:, di] = xs
        xv = None
        if soft:  # some cells uncertain (posterior-mean-like shrunken symbols), some unknown
            xv = np.zeros(x.shape)
            m = rng.random(size=(t, len(di))) < 0.3
            xv[:, di] = np.where(m, rng.random(size=m.shape) * 0.5, 0.0)
            xk[:, di] = np.where(m, xs * 0.7, xs)
            xk[0, di[:5]] = 0
        nv, ev = sigma**2, sigma**2 * 0.3
        for taps_pre, taps_post in ((0, 15), (2, 12)):
            y_r, h_r, err_r, ek_r = estimation.refine_with_known(
                y, h_pre, nv, ev, xk, lay, taps_pre, taps_post, x_var=xv, per_carrier=True
            )
            y_c, h_c, err_c, ek_c = est.refine(y, h_pre, nv, ev, xk, xv, taps_pre, taps_post)
            np.testing.assert_allclose(y_c, y_r, rtol=1e-5, atol=1e-6 * np.abs(y_r).max())
            np.testing.assert_allclose(h_c, h_r, rtol=1e-5, atol=2e-6 * np.abs(h_r).max())
            assert err_c == pytest.approx(err_r, rel=1e-8)
            np.testing.assert_allclose(ek_c, ek_r, rtol=1e-8, atol=1e-16)
    # err_var 0: the prior weight of the reference's else-branch
    y_r, h_r, err_r = estimation.refine_with_known(y, h_pre, nv, 0.0, xk, lay, 0, 15, x_var=xv)
    y_c, h_c, err_c, _ = est.refine(y, h_pre, nv, 0.0, xk, xv, 0, 15)
    np.testing.assert_allclose(h_c, h_r, rtol=1e-5, atol=2e-6 * np.abs(h_r).max())
    assert err_c == pytest.approx(err_r, rel=1e-8)


def test_linear_phase_fit_matches_numeric_core():
    rng = np.random.default_rng(7)
    fit = _kernels.ofdm_estimator(OfdmLayout()).linear_phase_fit
    cases = [rng.normal(size=n) + 1j * rng.normal(size=n) for n in (1, 2, 3, 12, 80)]
    cases += [
        np.exp(1j * (2.5 + 0.4 * np.arange(12))) * (1 + 0.1 * np.arange(12)),  # wraps past +-pi
        np.exp(-1j * (3.0 + 0.7 * np.arange(70))),
        np.array([1.0 + 1j, 0, 0, 0]),  # all weight on one symbol: lstsq's minimum-norm line
        np.array([0, 0, 2.0 - 1j, 0, 0]),
        np.exp(1j * np.pi * np.array([1.0, -1.0, 1.0, 0.5])),  # jumps of exactly 2 pi / -pi at the boundary
        np.zeros(5, complex),
        np.array([1.0, np.nan, 1j]),
    ]
    for c in cases:
        for t0 in (0.0, 4.0):
            ref = estimation.linear_phase_fit(c, t0)
            np.testing.assert_allclose(fit(c, t0), ref, rtol=1e-12, atol=1e-12, equal_nan=True)


def test_track_matches_pilot_tracker_steps():
    lay = OfdmLayout()
    est = _kernels.ofdm_estimator(lay)
    rng = np.random.default_rng(8)
    t = lay.payload_ofdm_symbols
    hf = _channel(rng, lay)
    y = hf[None, :] * np.exp(1j * (0.3 + 0.05 * np.arange(t)))[:, None] + _noise(rng, (t, lay.fft_len), 0.1)
    y = y.astype(np.complex64)
    y[3, 10] = np.nan
    for linear in (True, False):
        c = estimation.pilot_correlations(y, hf, lay)
        phi = estimation.linear_phase_fit(c) if linear else np.angle(c)
        ref = y * np.exp(-1j * phi)[:, None].astype(np.complex64)
        out, ph, bad = est.track(y, hf, linear)
        fin = np.isfinite(ref).all(axis=1)
        ref[~fin] = 0
        assert bad == int((~fin).sum())
        np.testing.assert_allclose(ph, phi, rtol=1e-12, atol=1e-12, equal_nan=True)
        np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)


def test_header_fields_and_symbols_match_header_module():
    cls = type(_kernels.ofdm_estimator(OfdmLayout()))
    rng = np.random.default_rng(9)
    for num, ncw in ((0, 4), (12345, 4), (65535, 255), (70000, 1)):
        s = header.header_symbols(num, ncw, 48).real.astype(float)
        np.testing.assert_array_equal(cls.header_symbols(num, ncw, s.size), s)
        z = s + 0.3 * rng.normal(size=s.size)
        assert cls.header_fields(z) == header.decode_header(z)
        z_bad = z.copy()
        z_bad[:3] = -3 * s[:3]  # first replica of bits 0-2 flipped strongly: the MRC sums flip too
        assert cls.header_fields(z_bad) == header.decode_header(z_bad)


def test_decode_header_matches_header_decoder_steps():
    lay = OfdmLayout()
    est = _kernels.ofdm_estimator(lay)
    rng = np.random.default_rng(10)
    x_sync = estimation.known_preamble(lay)
    di = lay.data_idx
    n_ok = 0
    for trial in range(12):
        hf = _channel(rng, lay)
        xk = estimation.known_preamble(lay, header.header_symbols(trial * 77, lay.n_codewords, len(di)))
        sigma = [0.05, 0.3, 1.5][trial % 3]
        ys = (
            hf[None, :] * xk * np.exp(1j * 0.03 * np.arange(xk.shape[0]))[:, None] + _noise(rng, xk.shape, sigma)
        ).astype(np.complex64)
        st, num, ncw, h, nv, err = est.decode_header(ys, x_sync, 0, 20)
        h0, _, _ = estimation.estimate_channel(ys[:2], x_sync, lay, 0, 20)
        res = header.decode_header(np.real(np.conj(h0[di])[None, :] * ys[2:, di]))
        if res is None:
            assert st == 0
            continue
        n_ok += 1
        assert st == 1 and (num, ncw) == res
        h_r, nv_r, err_r = estimation.estimate_channel(
            ys, estimation.known_preamble(lay, header.header_symbols(num, ncw, len(di))), lay, 0, 20
        )
        np.testing.assert_allclose(h, h_r, rtol=2e-6, atol=2e-6 * np.abs(h_r).max())
        assert (nv, err) == pytest.approx((nv_r, err_r), rel=1e-8)
    assert n_ok >= 6


@pytest.mark.parametrize("nr,nt", [(2, 2), (1, 2), (3, 1)])
def test_refine_mimo_matches_refine_with_symbols(nr, nt):
    from gnuradio.deepquant.blocks.mimo_ofdm_td import make_layout
    from gnuradio.deepquant.ofdm import mimo as ofdm_mimo
    from gnuradio.deepquant.phy import mapping

    lay = make_layout(nt=nt, n_codewords=8)
    est = _kernels.ofdm_estimator(lay)
    t = ofdm_mimo.td_payload_symbols(lay, nt)
    nd, n = len(lay.occupied), lay.fft_len
    rng = np.random.default_rng(20 + nr * 3 + nt)
    pts = mapping.constellation(6)
    for trial in range(3):
        h = np.stack([np.stack([_channel(rng, lay) for _ in range(nt)], axis=-1) for _ in range(nr)], axis=1)
        xs = pts[rng.integers(0, 64, size=(t, nd, nt))]
        sigma = 10 ** (-(15 + 4 * trial) / 20)
        y = np.zeros((nr, t, n), np.complex128)
        y[:, :, lay.data_idx] = np.einsum("krj,tkj->rtk", h[lay.data_idx], xs)
        y[:, :, lay.pilot_idx] = np.einsum("prj,p->rp", h[lay.pilot_idx], np.asarray(lay.pilot_symbols))[:, None, :]
        y = y * np.exp(1j * 0.01 * np.arange(t))[None, :, None] + _noise(rng, y.shape, sigma)
        h_pre = (h + _noise(rng, h.shape, sigma / 2)).astype(np.complex64)
        xv = np.where(rng.random(size=xs.shape) < 0.25, rng.random(size=xs.shape) * 0.6, 0.0)
        xm = np.where(xv > 0, 0.8 * xs, xs)
        ev = np.array([sigma**2 * 0.4, sigma**2 * 0.2, 0.0][:nt])
        for y_in in (y, y.astype(np.complex64)):
            y_r, h_r, e_r = ofdm_mimo.refine_with_symbols(y_in, h_pre, sigma**2, ev, xm, xv, lay, 0, 20)
            y_c, h_c, e_c = est.refine_mimo(y_in, h_pre, sigma**2, ev, xm, xv, 0, 20)
            np.testing.assert_allclose(y_c, y_r, rtol=1e-5, atol=1e-6 * np.abs(y_r).max())
            np.testing.assert_allclose(h_c, h_r, rtol=1e-5, atol=2e-6 * np.abs(h_r).max())
            np.testing.assert_allclose(e_c, e_r, rtol=1e-7, atol=1e-16)


def test_kernel_estimate_channel_wrapper_and_mimo_preamble():
    from gnuradio.deepquant.blocks.mimo_ofdm_td import make_layout
    from gnuradio.deepquant.ofdm import mimo as ofdm_mimo

    lay = make_layout()
    rng = np.random.default_rng(30)
    w2 = lay.sync_words()[1]
    h = np.stack([np.stack([_channel(rng, lay) for _ in range(2)], axis=-1) for _ in range(2)], axis=1)
    y_ltf = np.einsum("krj,k->rjk", h, w2) + _noise(rng, (2, 2, lay.fft_len), 0.1)
    ref = ofdm_mimo.ltf_estimate(y_ltf, lay, 0, 20)
    got = ofdm_mimo.ltf_estimate(y_ltf, lay, 0, 20, estimate=_kernels.estimate_channel)
    np.testing.assert_allclose(got[0], ref[0], rtol=2e-6, atol=2e-6)
    assert got[1:] == pytest.approx(ref[1:], rel=1e-8)
    # the wrapper falls back to the numeric core where the kernel declines (nothing known)
    x0 = np.zeros((1, lay.fft_len), np.complex64)
    assert _kernels.ofdm_estimator(lay).estimate(y_ltf[0, :1], x0, 0, 20) is None
    r_ref = estimation.estimate_channel(y_ltf[0, :1], x0, lay, 0, 20, ref_row=None, per_carrier=True)
    r_got = _kernels.estimate_channel(y_ltf[0, :1], x0, lay, 0, 20, ref_row=None, per_carrier=True)
    for a, b in zip(r_got, r_ref):
        np.testing.assert_array_equal(a, b)
    z = header.header_symbols(321, 8, 96).real
    assert _kernels.decode_header(z) == header.decode_header(z) == (321, 8)


@pytest.mark.parametrize(
    "snr_db,soft,rounds",
    [(12.0, True, 2), (18.0, True, 2), (30.0, True, 2), (12.0, False, 2), (13.0, True, 3), (6.0, False, 2)],
)
def test_feedback_matches_numpy_rounds(snr_db, soft, rounds):
    """ofdm_channel_noise_estimator's re-estimation: the one-call C++ path against its numeric-core
    rounds (C++ demapper and decoder, estimation.decoded_symbols, refine_with_known)."""
    from gnuradio.deepquant.blocks.ofdm_channel_noise_estimator import ofdm_channel_noise_estimator
    from gnuradio.deepquant.phy import ldpc, mapping
    from gnuradio.deepquant.tags import CHAN_EST_KEY

    blk = ofdm_channel_noise_estimator(64, 16, 4, 6, 4, True, CHAN_EST_KEY, True, 50, rounds, soft, 15)
    lay = blk.layout
    rng = np.random.default_rng(int(snr_db * 10) + soft)
    t = lay.payload_ofdm_symbols
    known = 0
    for _trial in range(4):
        bits = ldpc.encode(rng.integers(0, 2, size=(lay.n_codewords, 324)).astype(np.uint8))
        syms = np.asarray(mapping.map_bits(np.asarray(bits).reshape(-1), 6)).reshape(t, len(lay.occupied))
        x = np.zeros((t, lay.fft_len), np.complex64)
        x[:, lay.data_idx] = syms
        x[:, lay.pilot_idx] = np.asarray(lay.pilot_symbols)
        hf = _channel(rng, lay)
        sigma = 10 ** (-snr_db / 20)
        y = (hf[None, :] * x * np.exp(1j * (0.004 * np.arange(t)))[:, None] + _noise(rng, x.shape, sigma)).astype(
            np.complex64
        )
        hs = (hf + _noise(rng, hf.shape, sigma * 0.4)).astype(np.complex64)
        hs[[i for i in range(lay.fft_len) if i not in set(lay.idx(lay.active))]] = 0
        nv, ef = sigma**2, 0.16
        d0 = blk.df_known
        y_c, h_c, ef_c = blk._feedback(y, hs, nv, ef)
        ek_c, known_c = blk._err_k, blk.df_known - d0
        y_r, h_r, ef_r = blk._feedback_numpy(y, hs, nv, ef)
        ek_r, known_r = blk._err_k, blk.df_known - d0 - known_c
        assert known_c == known_r
        known += known_c
        np.testing.assert_allclose(y_c, y_r, rtol=1e-5, atol=1e-5 * np.abs(y_r).max())
        np.testing.assert_allclose(h_c, h_r, rtol=1e-5, atol=1e-5 * np.abs(h_r).max())
        assert ef_c == pytest.approx(ef_r, rel=1e-6)
        if ek_r is None:
            assert ek_c is None
        else:
            np.testing.assert_allclose(ek_c, ek_r, rtol=1e-6, atol=1e-15)
    if snr_db >= 18:
        assert known > 0  # the validated-codeword path ran
    if snr_db <= 13:
        assert known < 4 * lay.n_codewords  # the posterior (soft) path ran


@pytest.mark.parametrize("snr_db", [14.0, 17.0, 30.0])
def test_feedback_mimo_matches_numpy_rounds(snr_db):
    """mimo_ofdm_payload_estimator's re-estimation: the one-call C++ path against its
    numeric-core rounds (C++ LMMSE and decoder, estimation.decoded_symbols, refine_with_symbols)."""
    from gnuradio.deepquant.blocks.mimo_ofdm_td import make_layout, mimo_ofdm_payload_estimator
    from gnuradio.deepquant.ofdm import mimo as ofdm_mimo
    from gnuradio.deepquant.phy import ldpc, mapping

    nr = nt = 2
    lay = make_layout(nt=nt, n_codewords=8)
    blk = mimo_ofdm_payload_estimator(lay, nr, nt, True, True, 50, 2, 0, 20)
    t, nd = ofdm_mimo.td_payload_symbols(lay, nt), len(lay.occupied)
    rng = np.random.default_rng(int(snr_db))
    known = 0
    for _trial in range(3):
        bits = ldpc.encode(rng.integers(0, 2, size=(lay.n_codewords, 324)).astype(np.uint8))
        xs = np.asarray(mapping.map_bits(np.asarray(bits).reshape(-1), 6)).reshape(t, nd, nt)
        h = np.stack([np.stack([_channel(rng, lay) for _ in range(nt)], axis=-1) for _ in range(nr)], axis=1)
        sigma = 10 ** (-snr_db / 20)
        y = np.zeros((nr, t, lay.fft_len), np.complex128)
        y[:, :, lay.data_idx] = np.einsum("krj,tkj->rtk", h[lay.data_idx], xs)
        y[:, :, lay.pilot_idx] = np.einsum("prj,p->rp", h[lay.pilot_idx], np.asarray(lay.pilot_symbols))[:, None]
        ys = (y + _noise(rng, y.shape, sigma)).astype(np.complex64)
        blk._h = (h + _noise(rng, h.shape, sigma * 0.5)).astype(np.complex64)
        blk._noise, blk._err_cols = sigma**2, np.array([0.1, 0.25]) * sigma**2
        blk._nv = blk._noise + nt * 0.2 * sigma**2
        ys = (ys * np.exp(1j * (0.3 + 0.01 * np.arange(t)))[None, :, None]).astype(np.complex64)
        d0 = blk.df_known
        yu_c, hd_c, eff_c = blk._feedback(ys)
        known_c = blk.df_known - d0
        yu_r, hd_r, eff_r = blk._feedback_numpy(ys)
        assert blk.df_known - d0 - known_c == known_c
        known += known_c
        np.testing.assert_allclose(yu_c, yu_r, rtol=1e-5, atol=1e-5 * np.abs(yu_r).max())
        np.testing.assert_allclose(hd_c, hd_r, rtol=1e-5, atol=1e-5 * np.abs(hd_r).max())
        np.testing.assert_allclose(eff_c, eff_r, rtol=1e-6)
    if snr_db >= 17:
        assert known > 0
    if snr_db <= 14:
        assert known < 3 * lay.n_codewords


@pytest.mark.parametrize("refine", [True, False])
def test_decode_header_mimo_matches_numpy_steps(refine):
    """mimo_ofdm_header_decoder: the one-call C++ packet against its numeric-core steps
    (ofdm.mimo_rx.decode_preamble)."""
    from gnuradio.deepquant.blocks.mimo_ofdm_td import make_layout, mimo_ofdm_header_decoder
    from gnuradio.deepquant.ofdm import mimo_rx

    nr = nt = 2
    lay = make_layout(nt=nt, n_codewords=8)
    blk = mimo_ofdm_header_decoder(lay, nr, nt, 0, 20, refine)
    rng = np.random.default_rng(40 + refine)
    w1, w2 = lay.sync_words()
    n_ok = 0
    for trial in range(10):
        h = np.stack([np.stack([_channel(rng, lay) for _ in range(nt)], axis=-1) for _ in range(nr)], axis=1)
        xh = header.header_symbols(trial * 999, 8 if trial % 5 else 7, len(lay.occupied)).reshape(2, -1)
        x = np.zeros((1 + nt + 2, lay.fft_len, nt), np.complex128)  # [symbol, carrier, stream]
        x[0, :, 0] = w1
        for j in range(nt):
            x[1 + j, :, j] = w2
        x[1 + nt :, lay.data_idx, 0] = xh
        x[1 + nt :, lay.pilot_idx, :] = np.asarray(lay.pilot_symbols)[:, None]
        rot = np.exp(1j * 0.02 * np.arange(x.shape[0]))[None, :, None]
        sigma = [0.03, 0.2, 1.2][trial % 3]
        ys = np.einsum("krj,skj->rsk", h, x) * rot + _noise(rng, (nr, x.shape[0], lay.fft_len), sigma)
        ys = ys.astype(np.complex64)
        st, num, ncw, h_c, nv, err, ec, phi = blk._cxx.decode_header_mimo(ys, nt, blk._w2, 0, 20, refine)
        ref = mimo_rx.decode_preamble(ys, lay, nt, 0, 20, refine)
        if ref is None:  # CRC failed, or another codeword count than the layout's
            assert st == 0 or ncw != lay.n_codewords
            continue
        n_ok += 1
        assert st == 1 and (num, ncw) == (ref.packet_num, lay.n_codewords)
        np.testing.assert_allclose(h_c, ref.h, rtol=1e-5, atol=2e-6 * np.abs(ref.h).max())
        assert (nv, err, phi) == pytest.approx((ref.noise_var, ref.err_var, ref.cfo_residual), rel=1e-6, abs=1e-9)
        np.testing.assert_allclose(ec, ref.err_cols, rtol=1e-6)
    assert n_ok >= 5


@pytest.mark.parametrize("feedback", [True, False])
def test_estimator_phase_tracking_equals_tracker_block_in_front(feedback):
    """ofdm_rx's merged chain (estimator with phase_tracking) against the tracker block followed by
    the estimator, in flowgraphs: identical outputs."""
    import pmt
    from gnuradio import blocks, gr

    from gnuradio.deepquant.blocks.ofdm_channel_noise_estimator import ofdm_channel_noise_estimator
    from gnuradio.deepquant.blocks.ofdm_pilot_phase_tracker import ofdm_pilot_phase_tracker
    from gnuradio.deepquant.phy import mapping
    from gnuradio.deepquant.tags import CHAN_EST_KEY, EST_ERR_KEY, NOISE_VAR_KEY

    lay = OfdmLayout()
    rng = np.random.default_rng(50)
    t, n = lay.payload_ofdm_symbols, lay.fft_len
    frames, tags = [], []
    for f in range(5):
        hf = _channel(rng, lay)
        x = np.zeros((t, n), np.complex64)
        x[:, lay.data_idx] = mapping.constellation(6)[rng.integers(0, 64, size=(t, len(lay.data_idx)))]
        x[:, lay.pilot_idx] = np.asarray(lay.pilot_symbols)
        y = hf[None, :] * x * np.exp(1j * (0.2 + 0.03 * np.arange(t)))[:, None] + _noise(rng, x.shape, 0.05)
        if f == 3:
            y[2, 7] = np.nan  # a non-finite sample: the row goes out as 0 in both chains
        frames.append(y.astype(np.complex64))
        for key, val in (
            (CHAN_EST_KEY, pmt.init_c32vector(n, (hf + _noise(rng, hf.shape, 0.02)).tolist())),
            (NOISE_VAR_KEY, pmt.from_double(0.0025)),
            (EST_ERR_KEY, pmt.from_double(0.0004)),
        ):
            tg = gr.tag_t()
            tg.offset, tg.key, tg.value = f * t, pmt.intern(key), val
            tags.append(tg)
    data = np.concatenate(frames).reshape(-1)
    outs = []
    for merged in (False, True):
        tb = gr.top_block()
        src = blocks.vector_source_c(data.tolist(), False, n, tags)
        est = ofdm_channel_noise_estimator(n, 16, 4, 6, 4, True, CHAN_EST_KEY, feedback, 50, phase_tracking=merged)
        snks = [blocks.vector_sink_c(), blocks.vector_sink_c(), blocks.vector_sink_f()]
        if merged:
            tb.connect(src, est)
        else:
            trk = ofdm_pilot_phase_tracker(n, 16, 4, 6, True, CHAN_EST_KEY)
            tb.connect(src, trk, est)
        for i, s in enumerate(snks):
            tb.connect((est, i), s)
        tb.run()
        outs.append([np.array(s.data()) for s in snks])
    for a, b in zip(*outs):
        assert a.size == 5 * t * len(lay.occupied)
        np.testing.assert_array_equal(a, b)
