"""Unit tests (no flowgraph) of the time-domain MIMO-OFDM numerics behind the blocks:
``ofdm.mimo_channel.MimoMultipathChannel`` (mimo_ofdm_impairments), ``ofdm.mimo_rx``
(mimo_ofdm_header_decoder, mimo_ofdm_payload_estimator) and ``ofdm.mimo.td_layout``.

The references are written out here: the channel against a direct convolution sum, the receiver
steps on packets built from their definition in the frequency domain (y = H x + n per carrier)."""

import numpy as np
import pytest

from gnuradio.deepquant.ofdm import header, mimo, mimo_rx
from gnuradio.deepquant.ofdm.layout import OfdmLayout
from gnuradio.deepquant.ofdm.mimo_channel import MimoMultipathChannel
from gnuradio.deepquant.phy import ldpc, mapping

NR = NT = 2


def test_td_layout():
    lay = mimo.td_layout(n_codewords=8, nt=2)
    assert isinstance(lay, OfdmLayout) and mimo.td_payload_symbols(lay, 2) == 9
    with pytest.raises(ValueError, match="n_codewords"):
        mimo.td_layout(n_codewords=4, nt=2)  # 4 codewords do not fill whole symbols on 2 streams
    with pytest.raises(ValueError, match="nt must be"):
        mimo.td_layout(nt=0)


# ---- channel -------------------------------------------------------------------------------
def _reference_channel(x, taps_per_sample):
    """y[:, n] = sum_l G(n)[:, :, l] x[:, n - l] with the taps in force at sample n."""
    nt, n = x.shape
    y = np.zeros((taps_per_sample[0].shape[0], n), np.complex128)
    for i in range(n):
        g = taps_per_sample[i]
        for l in range(g.shape[2]):
            if i - l >= 0:
                y[:, i] += g[:, :, l] @ x[:, i - l]
    return y


def test_channel_is_a_block_fading_convolution_across_calls():
    """EPA taps, a new draw at each packet start, filter memory across packet starts and call
    boundaries: the output equals the convolution sum with the taps in force at each sample."""
    rng = np.random.default_rng(3)
    n = 400
    x = (rng.standard_normal((NT, n)) + 1j * rng.standard_normal((NT, n))).astype(np.complex64)
    ch = MimoMultipathChannel(NR, NT, snr_db=300.0, model="epa", seed=7)  # noise ~1e-15
    assert ch.ntaps == 9 and len(ch.taps_history) == 1
    starts = [150, 320]
    y = np.concatenate([ch.apply(x[:, :100], []), ch.apply(x[:, 100:250], [50]), ch.apply(x[:, 250:], [70])], axis=1)
    g0, g1, g2 = ch.taps_history
    per_sample = [g0 if i < starts[0] else g1 if i < starts[1] else g2 for i in range(n)]
    np.testing.assert_allclose(y, _reference_channel(x, per_sample), atol=1e-6)
    assert all(g.shape == (NR, NT, 9) for g in ch.taps_history)


def test_channel_same_seed_same_output_whatever_the_chunks():
    x = np.ones((NT, 600), np.complex64)
    a = MimoMultipathChannel(NR, NT, 10.0, 0.1, "epa", seed=1)
    b = MimoMultipathChannel(NR, NT, 10.0, 0.1, "epa", seed=1)
    ya = a.apply(x, [0, 300])
    yb = np.concatenate([b.apply(x[:, :123], [0]), b.apply(x[:, 123:], [300 - 123])], axis=1)
    np.testing.assert_allclose(ya, yb, rtol=1e-6, atol=1e-9)


def test_channel_cfo_and_noise_variance():
    """'none': identity per pair, rotated by exp(j 2 pi cfo n / fft_len); noise per sample
    sigma^2 / fft_len with sigma^2 = nr nt / SNR (EQ-Net's SNR)."""
    n = 20000
    ch = MimoMultipathChannel(NR, NT, snr_db=10.0, cfo_subcarriers=0.25, model="none", seed=2)
    x = np.zeros((NT, n), np.complex64)
    x[0] = 1
    y = np.concatenate([ch.apply(x[:, :7000]), ch.apply(x[:, 7000:])], axis=1)
    assert ch.noise_var == pytest.approx(NR * NT / 10.0)
    assert np.var(y[1]) / (ch.noise_var / 64) == pytest.approx(1.0, abs=0.05)
    rot = np.exp(2j * np.pi * 0.25 / 64 * np.arange(n))
    resid = y[0] - rot
    assert np.var(resid) / (ch.noise_var / 64) == pytest.approx(1.0, abs=0.05)  # only noise is left


@pytest.mark.parametrize(
    "kw", [dict(model="cdl"), dict(cfo_subcarriers=0.6), dict(nr=0), dict(samp_rate=0), dict(delay_spread=-1e-9)]
)
def test_channel_rejects_bad_parameters(kw):
    with pytest.raises(ValueError):
        MimoMultipathChannel(**kw)


# ---- receiver steps ------------------------------------------------------------------------
def _channel(rng, lay, n_taps=4):
    """Frequency response [fft_len, nr, nt] of short random impulse responses (fft-shifted
    carriers), zero outside the active carriers."""
    g = (rng.standard_normal((NR, NT, n_taps)) + 1j * rng.standard_normal((NR, NT, n_taps))) / np.sqrt(2 * n_taps)
    k = np.arange(lay.fft_len) - lay.fft_len // 2
    h = np.einsum("rjl,kl->krj", g, np.exp(-2j * np.pi * np.outer(k, np.arange(n_taps)) / lay.fft_len))
    out = np.zeros_like(h)
    ai = lay.idx(lay.active)
    out[ai] = h[ai]
    return out


def _noise(rng, shape, nv):
    return np.sqrt(nv / 2) * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))


def _preamble(rng, lay, h, nv, packet_num, n_codewords=None, phi=0.0):
    """Received symbols [nr, 1 + nt + n_hdr, fft_len] of the packet layout of ``mimo_ofdm_tx``:
    symbol 0 Schmidl & Cox word from stream 0, symbol 1 + j word 2 from stream j alone, header
    BPSK from stream 0 on the data carriers, pilots from every stream; each symbol s rotated
    by ``s phi`` (residual CFO relative to training symbol 1)."""
    w1, w2 = lay.sync_words()
    n_hdr = lay.header_symbols
    x = np.zeros((1 + NT + n_hdr, lay.fft_len, NT), np.complex128)  # [symbol, carrier, stream]
    x[0, :, 0] = w1
    for j in range(NT):
        x[1 + j, :, j] = w2
    xh = header.header_symbols(
        packet_num, lay.n_codewords if n_codewords is None else n_codewords, len(lay.occupied)
    ).reshape(n_hdr, -1)
    x[1 + NT :, lay.data_idx, 0] = xh
    x[1 + NT :, lay.pilot_idx, :] = np.asarray(lay.pilot_symbols)[None, :, None]
    y = np.einsum("krj,skj->rsk", h, x)
    y *= np.exp(1j * phi * (np.arange(y.shape[1]) - 1))[None, :, None]
    return y + _noise(rng, y.shape, nv)


def test_decode_preamble_recovers_channel_noise_and_packet_number():
    rng = np.random.default_rng(0)
    lay = mimo.td_layout(n_codewords=8, nt=NT)
    h = _channel(rng, lay)
    nv = 1e-3
    phi = 0.01
    p = mimo_rx.decode_preamble(_preamble(rng, lay, h, nv, 1234, phi=phi), lay, NT)
    assert p is not None and p.packet_num == 1234
    ai = lay.idx(lay.active)
    assert p.h.shape == (lay.fft_len, NR, NT) and p.h.dtype == np.complex64
    # columns aligned to training symbol 1 despite the residual CFO
    err = np.mean(np.abs(p.h[ai] - h[ai]) ** 2)
    assert err < 3 * p.err_var and p.err_var < nv
    assert p.noise_var == pytest.approx(nv, rel=0.3)
    assert p.cfo_residual == pytest.approx(phi, abs=2e-3)
    assert p.err_cols.shape == (NT,) and p.err_cols[0] < p.err_cols[1]  # column 0 refined by the header
    # unrefined: the same channel, column 0 from one training symbol only
    p0 = mimo_rx.decode_preamble(_preamble(rng, lay, h, nv, 5), lay, NT, refine=False)
    assert p0.packet_num == 5 and p0.err_cols[0] == p0.err_cols[1]


def test_decode_preamble_rejects_a_foreign_header():
    rng = np.random.default_rng(1)
    lay = mimo.td_layout(n_codewords=8, nt=NT)
    h = _channel(rng, lay)
    assert mimo_rx.decode_preamble(_preamble(rng, lay, h, 1e-3, 7, n_codewords=4), lay, NT) is None
    noise_only = _noise(rng, (NR, 1 + NT + lay.header_symbols, lay.fft_len), 1.0)
    assert mimo_rx.decode_preamble(noise_only, lay, NT) is None  # CRC fails (or, 1 in 256: wrong count)
    with pytest.raises(ValueError):
        mimo_rx.decode_preamble(noise_only[:, :3], lay, NT)


def _payload(rng, lay, h, nv):
    """Payload symbols [nr, T, fft_len] of 8 random codewords as ``mimo_ofdm_tx`` sends them
    (channel use = NT consecutive symbols, stream j takes symbol j; each stream fills the data
    carriers symbol-major), plus the transmitted symbols [T, n_data, nt]."""
    k = lay.bits_per_symbol
    t = mimo.td_payload_symbols(lay, NT)
    nd = len(lay.occupied)
    cw = ldpc.encode(rng.integers(0, 2, (lay.n_codewords, ldpc.K), dtype=np.uint8))
    s = mapping.map_bits(cw.reshape(-1), k).astype(np.complex128)
    x = s.reshape(t, nd, NT)
    xf = np.zeros((t, lay.fft_len, NT), np.complex128)
    xf[:, lay.data_idx] = x
    xf[:, lay.pilot_idx, :] = np.asarray(lay.pilot_symbols)[None, :, None]
    y = np.einsum("krj,tkj->rtk", h, xf)
    return y + _noise(rng, y.shape, nv), x


def test_decoder_aided_reestimate_refines_the_preamble_estimate():
    """A 2x2 64-QAM packet at SNR 24 dB: every codeword validates, and the channel re-fitted
    from the decoded payload is several times closer to the truth than the preamble's estimate;
    the reported noise (sigma^2 plus the refined estimate's error) approaches sigma^2 and the
    returned channel uses satisfy y = H x + n with that noise."""
    rng = np.random.default_rng(4)
    lay = mimo.td_layout(n_codewords=8, nt=NT)
    h = _channel(rng, lay)
    nv = NR * NT / 10**2.4
    p = mimo_rx.decode_preamble(_preamble(rng, lay, h, nv, 3), lay, NT)
    ys, x = _payload(rng, lay, h, nv)
    t0 = float(NT + lay.header_symbols)
    _, _, phases = mimo.payload_channel_uses(ys, p.h, lay, t0)
    noise_eff = p.noise_var + NT * p.err_var
    calls = []

    def detect(y, hh, noise, k):
        calls.append((y.shape, hh.shape, np.shape(noise), k))
        from gnuradio.deepquant.phy import mimo as phy_mimo

        return phy_mimo.lmmse(y, hh, noise, k)

    y, h_d, eff, ok = mimo_rx.decoder_aided_reestimate(
        ys, phases, p.h, p.noise_var, p.err_cols, noise_eff, lay, detect=detect
    )
    t, nd = x.shape[:2]
    assert calls[0] == ((t * nd, NR), (t * nd, NR, NT), (t * nd,), 6)
    assert ok.shape == (8,) and ok.all() and len(calls) == 1  # all validated after one round
    di = lay.data_idx
    mse_pre = np.mean(np.abs(p.h[di] - h[di]) ** 2)
    mse_new = np.mean(np.abs(h_d - h[di]) ** 2)
    assert mse_new < mse_pre / 3, (mse_pre, mse_new)
    assert eff.shape == (nd,) and np.all(eff > p.noise_var) and eff.mean() < noise_eff
    resid = y.reshape(t, nd, NR) - np.einsum("krj,tkj->tkr", h_d, x)
    assert np.mean(np.abs(resid) ** 2) == pytest.approx(nv, rel=0.25)
    with pytest.raises(ValueError):
        mimo_rx.decoder_aided_reestimate(ys, phases, p.h, p.noise_var, p.err_cols, noise_eff, lay, rounds=0)
