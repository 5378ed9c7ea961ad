"""Learned detectors outside their trained SNR range (issue 18): with the default policy,
EQ-Net-P hands the out-of-range channel uses to LMMSE (counted), so at 0 and 40 dB its BLER and
LLR quality are LMMSE's; without it the network is confidently wrong (the reason for the policy).
Full sweep: bench/snr_policy.py."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))

from snr_policy import simulate  # noqa: E402

N_CW = 48


@pytest.mark.parametrize("snr_db", [0.0, 40.0])
def test_policy_is_not_worse_than_lmmse_outside_the_trained_range(snr_db):
    r = simulate(snr_db, N_CW, seed=3, detectors=(("eqnet_p", "lmmse"), ("eqnet_p", "none"), ("lmmse", "lmmse")))
    pol, raw, lin = r["eqnet_p/lmmse"], r["eqnet_p/none"], r["lmmse"]
    assert pol["out_of_range"] > 0.9 * N_CW * 648 / 12  # nearly every channel use went to LMMSE
    assert pol["bler"] <= lin["bler"] + 1.0 / N_CW
    assert pol["bce_bits"] <= lin["bce_bits"] + 0.01
    # the network alone is confidently wrong there: worse LLRs than LMMSE's
    assert raw["bce_bits"] > lin["bce_bits"] + 0.05


def test_in_range_channel_uses_stay_with_the_network():
    r = simulate(22.0, 8, seed=4, detectors=(("eqnet_p", "lmmse"),))
    assert r["eqnet_p/lmmse"]["out_of_range"] < 0.1 * 8 * 648 / 12
