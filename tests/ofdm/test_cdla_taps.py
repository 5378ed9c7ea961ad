"""Unit tests of the CDL-A time-domain taps of flowgraph 2 (gnuradio.deepquant.ofdm.mimo.cdl_a_taps):
the per-subcarrier response an OFDM receiver sees must be the toolkit's CDL-A response
(phy.channels.cdl_a_channel), with its power and spatial correlation."""

import numpy as np
import pytest
import torch

from gnuradio.deepquant.ofdm import mimo as ofdm_mimo
from gnuradio.deepquant.ofdm.layout import OfdmLayout
from gnuradio.deepquant.phy import channels as phy_channels

N = 64
ACT = OfdmLayout().active  # the 52 active carriers, -26..26 without DC


def _response(taps):
    """Response of causal taps [..., L] on the active carriers, the ``pre`` delay removed:
    [..., 52] -> moved to [b, k, r, j]."""
    h = ofdm_mimo.taps_response(taps, ACT, N) * np.exp(2j * np.pi * ACT * ofdm_mimo.CDLA_PRE_TAPS / N)
    return np.moveaxis(h, -1, 1)


def test_span_and_causality():
    # 9.6586 x 100 ns x 20 Msps = 19.3 samples -> 20, plus 4 before and 4 after, plus lag 0
    assert ofdm_mimo.cdl_a_span(20e6, 100e-9) == 29
    assert ofdm_mimo.cdl_a_span(20e6, 30e-9) == 2 * 4 + 6 + 1
    taps, h = ofdm_mimo.cdl_a_taps(3, 2, 2, generator=torch.Generator().manual_seed(0))
    assert taps.shape == (3, 2, 2, 29) and h.shape == (3, 64, 2, 2)
    with pytest.raises(ValueError):
        ofdm_mimo.cdl_a_span(20e6, -1e-9)


def test_taps_reproduce_each_realisation():
    """On the active carriers the taps' DFT is the drawn CDL-A response (times the 4-sample
    delay) to about -47 dB; the fitted response is cdl_a_channel's own (same generator seed)."""
    taps, h = ofdm_mimo.cdl_a_taps(200, 2, 2, generator=torch.Generator().manual_seed(1))
    ref = phy_channels.cdl_a_channel(
        200,
        N,
        2,
        2,
        delay_spread=100e-9,
        subcarrier_spacing=20e6 / N,
        subcarriers=[float(k) for k in range(-32, 32)],
        generator=torch.Generator().manual_seed(1),
    ).numpy()
    np.testing.assert_allclose(h, ref, atol=1e-5)
    got = _response(taps)
    want = h[:, ACT + 32]
    rel = np.mean(np.abs(got - want) ** 2) / np.mean(np.abs(want) ** 2)
    assert 10 * np.log10(rel) < -40
    # the guard carriers are only loosely tied: total tap energy stays close to 1
    assert 0.85 < np.mean(np.sum(np.abs(taps) ** 2, axis=-1)) < 1.1


def test_statistics_match_cdl_a():
    """Over many packets: E|H_rj[k]|^2 = 1 per antenna pair and subcarrier, and the receive- and
    transmit-side spatial correlations equal those of an independent cdl_a_channel batch."""
    b = 3000
    taps, _ = ofdm_mimo.cdl_a_taps(b, 2, 2, generator=torch.Generator().manual_seed(2))
    got = _response(taps)  # [b, 52, 2, 2]
    ref = phy_channels.cdl_a_channel(
        b,
        len(ACT),
        2,
        2,
        delay_spread=100e-9,
        subcarrier_spacing=20e6 / N,
        subcarriers=[float(k) for k in ACT],
        generator=torch.Generator().manual_seed(3),
    ).numpy()
    p = np.mean(np.abs(got) ** 2, axis=0)  # [52, 2, 2]
    assert np.all(np.abs(p - 1) < 0.15), p.min()
    assert abs(np.mean(p) - 1) < 0.04

    def corr(h):
        rx = np.mean(h[..., 0, :] * np.conj(h[..., 1, :]))  # between receive antennas
        tx = np.mean(h[..., :, 0] * np.conj(h[..., :, 1]))  # between transmit antennas
        fr = np.mean(h[:, :-1] * np.conj(h[:, 1:]))  # neighbouring subcarriers
        return np.array([rx, tx, fr])

    c_got, c_ref = corr(got), corr(ref)
    assert abs(c_ref[1]) > 0.3  # CDL-A's narrow departure spread: correlated transmit antennas
    np.testing.assert_allclose(c_got, c_ref, atol=0.06)
