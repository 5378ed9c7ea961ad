"""The link-level evaluator: interpolation of the required SNR, and short real runs of every
scenario through the whole chain (encoder, interleaver, channel, detector, GNU Radio decoder)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from gnuradio.deepquant import evaluate


def test_required_snr_interpolates_log_bler():
    snr = [10.0, 11.0, 12.0]
    bler = [0.5, 0.1, 0.001]
    # between 11 dB (1e-1) and 12 dB (1e-3): log-linear -> 1e-2 at 11.5 dB
    assert evaluate.required_snr(snr, bler, 1e-2) == pytest.approx(11.5)
    assert evaluate.required_snr(snr, [0.5, 0.4, 0.3], 1e-2) is None


def test_noise_var_follows_the_snr_definition():
    sc = evaluate.SCENARIOS["2x2-64qam-rayleigh"]
    assert sc.noise_var(10.0) == pytest.approx(4 / 10)  # E||H||_F^2 / sigma^2 = Nr Nt / sigma^2
    assert evaluate.SCENARIOS["siso-epa-64qam"].noise_var(0.0) == pytest.approx(1.0)


@pytest.mark.parametrize("scenario", sorted(evaluate.SCENARIOS))
def test_every_scenario_runs_end_to_end(scenario):
    link = evaluate.Link(evaluate.SCENARIOS[scenario], seed=1, workers=1)
    det = "lmmse" if evaluate.SCENARIOS[scenario].nr > 1 else "exact_ml"
    hi = link.run_batch(det, 40.0, 8)  # far above the waterfall: every codeword decodes
    assert hi["codewords"] == 8 and hi["block_errors"] == 0
    lo = link.run_batch(det, -5.0, 8)  # far below: every codeword fails
    assert lo["block_errors"] == 8
    assert lo["uncoded_bit_errors"] > 0.3 * lo["uncoded_bits"]


def test_cli_eval_writes_json_png_and_result(tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "gnuradio.deepquant.cli",
            "eval",
            "--scenario",
            "siso-epa-64qam",
            "--detectors",
            "exact_ml",
            "maxlog_ml",
            "--snr-db",
            "8",
            "30",
            "--max-codewords",
            "40",
            "--min-errors",
            "5",
            "--batch",
            "20",
            "--quiet",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads([l for l in r.stdout.splitlines() if l.startswith("RESULT ")][-1][7:])
    assert set(res["required_snr_db_at_bler_1e-2"]) == {"exact_ml", "maxlog_ml"}
    data = json.loads((tmp_path / "siso-epa-64qam.json").read_text())
    assert data["curves"][0]["bler"][0] > 0.5  # 8 dB: 64-QAM over EPA fails
    assert (tmp_path / "siso-epa-64qam.png").stat().st_size > 1000


def test_shipped_reference_curves_are_valid():
    for sc in ("2x2-64qam-rayleigh", "4x4-16qam-rayleigh"):
        curves = evaluate.load_reference(sc)
        assert {c["detector"] for c in curves} == {"exact_ml", "maxlog_ml", "lmmse", "zf_sic"}, sc
        for c in curves:
            assert len(c["snr_db"]) == len(c["bler"]) >= 3
            assert np.all(np.diff(c["snr_db"]) > 0)
            assert 0 <= min(c["bler"]) and max(c["bler"]) <= 1
