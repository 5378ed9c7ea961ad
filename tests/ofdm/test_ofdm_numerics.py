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
