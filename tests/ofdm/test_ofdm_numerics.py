"""Unit tests of gnuradio.deepquant.ofdm (no flowgraph): layout, header, estimation, genie."""

import numpy as np
import pytest

from gnuradio.deepquant.ofdm import channel, estimation, genie, header, reference
from gnuradio.deepquant.ofdm.layout import OfdmLayout


def test_default_layout_sizes():
    lay = OfdmLayout()
    assert len(lay.occupied) == 48 and len(lay.pilots) == 4
    assert lay.data_symbols == 432 and lay.payload_ofdm_symbols == 9
    assert lay.header_symbols == 2
    assert lay.samples_per_packet == (2 + 2 + 9) * 80 + 32
    w1, w2 = lay.sync_words()
    assert np.allclose(np.abs(w2[lay.idx(lay.active)]), 1)
    # Schmidl & Cox word: only odd carriers (two halves in time equal up to the sign, which
    # GNU Radio's ofdm_sync_sc_cfb expects with use_even_carriers=False)
    nz = np.flatnonzero(w1) - lay.fft_len // 2
    assert np.all(nz % 2 == 1)
    t = np.fft.ifft(np.fft.ifftshift(w1))
    np.testing.assert_allclose(t[:32], -t[32:], atol=1e-6)


@pytest.mark.parametrize("kw", [dict(n_codewords=3), dict(fft_len=60), dict(cp_len=0), dict(bits_per_symbol=3)])
def test_layout_rejects_bad_parameters(kw):
    with pytest.raises(ValueError):
        OfdmLayout(**kw)


def test_noise_voltage_gives_per_subcarrier_snr():
    lay = OfdmLayout()
    v = lay.noise_voltage(20.0)
    # unnormalised FFT of white noise of variance v^2: per-bin variance fft_len v^2 = 10^-2
    assert abs(lay.fft_len * v**2 - 1e-2) < 1e-12


def test_header_roundtrip_and_crc():
    for num in (0, 1, 4095, 65535):
        s = header.header_symbols(num, 4)
        assert s.size == 96
        assert header.decode_header(np.real(s)) == (num, 4)
    z = np.real(header.header_symbols(77, 4)).copy()
    z[:32] = -z[:32]  # one replica of every bit flipped: the other two outvote it
    assert header.decode_header(z) == (77, 4)
    bits = header.header_bits(5, 4)
    bad = bits.copy()
    bad[3] ^= 1
    assert header.decode_header(2.0 * bad - 1.0) is None


def test_estimate_channel_recovers_multipath_and_noise():
    lay = OfdmLayout()
    rng = np.random.default_rng(0)
    g = np.zeros(8, complex)
    g[[0, 2, 5]] = [1.0, 0.5j, -0.3]
    h = channel.frequency_response(g, np.arange(-32, 32), 64)
    x = estimation.known_preamble(lay, header.header_symbols(3, 4))
    nv = 0.01
    errs, nvs = [], []
    for _ in range(50):
        y = h[None, :] * x + (rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape)) * np.sqrt(nv / 2)
        y *= np.exp(1j * 0.05 * np.arange(4))[:, None]  # residual CFO: phase drift
        he, nve, erre = estimation.estimate_channel(y, x, lay, 3, 14)
        ai = lay.idx(lay.active)
        errs.append(np.mean(np.abs(he[ai] * np.exp(-1j * 0.05) - h[ai]) ** 2))
        nvs.append(nve)
    assert abs(np.mean(nvs) / nv - 1) < 0.1
    # measured error variance close to the predicted one (L / sum D)
    assert np.mean(errs) < 2 * erre and np.mean(errs) < 0.2 * nv


def test_linear_phase_fit_beats_per_symbol_phase():
    rng = np.random.default_rng(1)
    t = np.arange(9)
    true = 0.1 + 0.03 * t
    c = 4 * np.exp(1j * true) + (rng.standard_normal((2000, 9)) + 1j * rng.standard_normal((2000, 9))) * 0.7
    raw = np.angle(c) - true
    fit = np.array([estimation.linear_phase_fit(ci) for ci in c]) - true
    assert np.mean(fit**2) < 0.5 * np.mean(raw**2)


def test_epa_profile_and_taps():
    d, p = channel.epa_integer_profile(20e6)
    assert d[0] == 0 and d.max() == 8 and abs(p.sum() - 1) < 1e-12
    g = channel.draw_taps(np.random.default_rng(0), d, p, 20000)
    np.testing.assert_allclose(np.mean(np.abs(g) ** 2, axis=0)[d], p, rtol=0.05)


def test_reference_bits():
    r = reference.reference_bits(1, 16, 1296)
    assert r.shape == (16, 1296) and set(np.unique(r)) <= {0, 1}
    np.testing.assert_array_equal(r, reference.reference_bits(1, 16, 1296))
    with pytest.raises(ValueError):
        reference.reference_bits(1, 12, 1296)


def test_genie_fer_decreases_with_snr():
    lay = OfdmLayout()
    lo = genie.genie_fer(lay, 14.0, 40, seed=0)
    hi = genie.genie_fer(lay, 30.0, 40, seed=0)
    assert lo["codewords"] == 160
    assert hi["fer"] == 0.0 and lo["fer"] > 0.2


def test_refine_with_known_shrinks_channel_and_phase_error():
    """Known payload symbols (validated codewords) + pilots: the channel error drops below the
    preamble's and the residual phase drift is removed."""
    from gnuradio.deepquant.phy import mapping

    lay = OfdmLayout()
    rng = np.random.default_rng(3)
    g = np.zeros(9, complex)
    g[[0, 1, 4, 8]] = [0.8, 0.5j, -0.3, 0.1]
    h = channel.frequency_response(g, np.arange(-32, 32), 64)
    ai, di, pi = lay.idx(lay.active), lay.data_idx, lay.pilot_idx
    t = lay.payload_ofdm_symbols
    pts = np.asarray(mapping.constellation(lay.bits_per_symbol))
    nv, err = 10 ** (-1.8), 0.1 * 10 ** (-1.8)
    before, after, phase_res, errs = [], [], [], []
    for _ in range(30):
        x = np.zeros((t, 64), complex)
        x[:, di] = pts[rng.integers(0, pts.size, (t, di.size))]
        x[:, pi] = np.asarray(lay.pilot_symbols)[None, :]
        drift = 0.02 * np.arange(t)  # residual phase the pilot tracker left
        n = (rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape)) * np.sqrt(nv / 2)
        y = (h[None, :] * x + n) * np.exp(1j * drift)[:, None]
        h0 = h.copy()
        h0[ai] += (rng.standard_normal(ai.size) + 1j * rng.standard_normal(ai.size)) * np.sqrt(err / 2)
        known = np.where(rng.random((t, 1)) < 0.5, x, 0)  # about half the symbols validated
        known[:, pi] = 0
        y2, h1, e1 = estimation.refine_with_known(y, h0, nv, err, known, lay, 0, 20)
        before.append(np.mean(np.abs(h0[ai] - h[ai]) ** 2))
        after.append(np.mean(np.abs(h1[ai] - h[ai]) ** 2))
        errs.append(e1)
        # what is left of the drift: phase of y2 against the truth, per symbol
        ph = np.angle(np.sum(np.conj(h[di] * x[:, di]) * y2[:, di], axis=1))
        phase_res.append(np.std(ph))
    assert np.mean(after) < 0.6 * np.mean(before)
    assert np.mean(errs) < err and 0.5 < np.mean(after) / np.mean(errs) < 2.0  # predicted error variance honest
    assert np.mean(phase_res) < 0.02


def test_refine_with_known_soft_symbols_weighting():
    """Soft symbols: sure posteriors (var 0) act as known symbols; uninformative ones (mean 0,
    var 1) add nothing, so the estimate stays the preamble's (up to the pilots)."""
    from gnuradio.deepquant.phy import mapping

    lay = OfdmLayout()
    rng = np.random.default_rng(5)
    g = np.zeros(9, complex)
    g[[0, 2, 5]] = [0.9, 0.4j, -0.2]
    h = channel.frequency_response(g, np.arange(-32, 32), 64)
    ai, di, pi = lay.idx(lay.active), lay.data_idx, lay.pilot_idx
    t = lay.payload_ofdm_symbols
    pts = np.asarray(mapping.constellation(lay.bits_per_symbol))
    nv = 10 ** (-1.6)
    known_err, blind_err, prior_err = [], [], []
    for _ in range(20):
        x = np.zeros((t, 64), complex)
        x[:, di] = pts[rng.integers(0, pts.size, (t, di.size))]
        x[:, pi] = np.asarray(lay.pilot_symbols)[None, :]
        n = (rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape)) * np.sqrt(nv / 2)
        y = h[None, :] * x + n
        # the preamble estimate: one training symbol, smoothed by the same 16-tap fit
        w2 = lay.sync_words()[1]
        n_tr = (rng.standard_normal(64) + 1j * rng.standard_normal(64)) * np.sqrt(nv / 2)
        h0, _, err = estimation.estimate_channel((h * w2 + n_tr)[None, :], w2[None, :], lay, 0, 15, ref_row=None)
        xk = x.copy()
        xk[:, pi] = 0
        _, h_known, _ = estimation.refine_with_known(y, h0, nv, err, xk, lay, 0, 15, x_var=np.zeros((t, 64)))
        _, h_blind, _ = estimation.refine_with_known(
            y, h0, nv, err, np.zeros_like(xk), lay, 0, 15, x_var=np.ones((t, 64))
        )
        known_err.append(np.mean(np.abs(h_known[ai] - h[ai]) ** 2))
        blind_err.append(np.mean(np.abs(h_blind[ai] - h[ai]) ** 2))
        prior_err.append(np.mean(np.abs(h0[ai] - h[ai]) ** 2))
    # 9 known symbols next to a preamble worth one: about a tenth of its error
    assert np.mean(known_err) < 0.2 * np.mean(prior_err)
    # nothing known but the pilots: the preamble's error stays about where it was
    assert 0.6 * np.mean(prior_err) < np.mean(blind_err) < 1.2 * np.mean(prior_err)


def test_soft_symbols_match_brute_force():
    """Posterior mean/variance from bit LLRs against an explicit sum over the constellation."""
    from gnuradio.deepquant.phy import mapping

    rng = np.random.default_rng(0)
    for k in (2, 4, 6):
        pts = np.asarray(mapping.constellation(k))
        lab = np.asarray(mapping.bit_labels(k))
        llr = rng.normal(0, 3, (50, k))
        llr[0] = 40.0  # saturated: exactly the all-ones point
        mean, var = mapping.soft_symbols(llr, k)
        for i in range(llr.shape[0]):
            p1 = 1 / (1 + np.exp(-np.clip(llr[i], -30, 30)))
            p = np.prod(np.where(lab == 1, p1[None, :], 1 - p1[None, :]), axis=1)
            p /= p.sum()
            m = np.sum(p * pts)
            assert abs(mean[i] - m) < 1e-9
            assert abs(var[i] - (np.sum(p * np.abs(pts) ** 2) - abs(m) ** 2)) < 1e-9
        assert abs(mean[0] - pts[-1]) < 1e-9 and var[0] < 1e-9
    m0, v0 = mapping.soft_symbols(np.zeros((3, 6)), 6)  # no information: mean 0, variance 1
    assert np.allclose(m0, 0, atol=1e-12) and np.allclose(v0, 1.0)
    with pytest.raises(ValueError, match="6 LLRs"):
        mapping.soft_symbols(np.zeros((2, 4)), 6)


def test_mimo_refine_with_symbols_known_payload():
    """2x2 MIMO-OFDM: with the payload known the refit of every antenna pair beats the
    preamble estimate many times over, the predicted per-carrier error is honest, the residual
    phase drift is removed; without information (soft symbols of variance 1) the prior stays."""
    from gnuradio.deepquant.ofdm import mimo as ofdm_mimo
    from gnuradio.deepquant.phy import mapping

    lay = OfdmLayout()
    rng = np.random.default_rng(11)
    nr = nt = 2
    di, pi = lay.data_idx, lay.pilot_idx
    t = lay.payload_ofdm_symbols
    pts = np.asarray(mapping.constellation(lay.bits_per_symbol))
    nv = 10 ** (-2.4)
    e_pre, e_known, e_blind, pred, phase_res = [], [], [], [], []
    for _ in range(10):
        g = np.zeros((nr, nt, 9), complex)
        g[..., [0, 2, 6]] = (rng.standard_normal((nr, nt, 3)) + 1j * rng.standard_normal((nr, nt, 3))) * np.sqrt(
            np.array([0.6, 0.3, 0.1]) / 2
        )
        h = np.transpose(channel.frequency_response(g, np.arange(-32, 32), 64), (2, 0, 1))  # [64, nr, nt]
        x = pts[rng.integers(0, pts.size, (t, di.size, nt))]
        ygrid = np.zeros((nr, t, 64), complex)
        ygrid[:, :, di] = np.einsum("krj,tkj->rtk", h[di], x)
        s = np.asarray(lay.pilot_symbols)
        ygrid[:, :, pi] = np.einsum("prj,p->rp", h[pi], s)[:, None, :]
        ygrid += (rng.standard_normal(ygrid.shape) + 1j * rng.standard_normal(ygrid.shape)) * np.sqrt(nv / 2)
        ygrid *= np.exp(1j * 0.03 * np.arange(t))[None, :, None]
        # preamble: one training symbol per stream (time-orthogonal), 16-tap fit per antenna pair
        w2 = lay.sync_words()[1]
        y_ltf = h.transpose(1, 2, 0) * w2[None, None, :]
        y_ltf = y_ltf + (rng.standard_normal(y_ltf.shape) + 1j * rng.standard_normal(y_ltf.shape)) * np.sqrt(nv / 2)
        h0, _, e0 = ofdm_mimo.ltf_estimate(y_ltf, lay, 0, 15)
        err_cols = np.array([e0, e0])
        y2, h1, err_d = ofdm_mimo.refine_with_symbols(ygrid, h0, nv, err_cols, x, np.zeros(x.shape), lay, 0, 15)
        _, hb, _ = ofdm_mimo.refine_with_symbols(
            ygrid, h0, nv, err_cols, np.zeros_like(x), np.ones(x.shape), lay, 0, 15
        )
        e_pre.append(np.mean(np.abs(h0[di] - h[di]) ** 2))
        e_known.append(np.mean(np.abs(h1[di] - h[di]) ** 2))
        e_blind.append(np.mean(np.abs(hb[di] - h[di]) ** 2))
        pred.append(np.mean(err_d) / nt)
        ph = np.angle(np.einsum("rtk,krj,tkj->t", y2[:, :, di], np.conj(h[di]), np.conj(x)))
        phase_res.append(np.std(ph))
    assert np.mean(e_known) < 0.2 * np.mean(e_pre)
    assert 0.5 < np.mean(e_known) / np.mean(pred) < 2.0
    assert np.mean(phase_res) < 0.02
    assert np.mean(e_blind) > 3 * np.mean(e_known)
