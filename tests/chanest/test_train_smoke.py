"""A short training run of each method, save/load round trip, and the CLI command."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from gnuradio.deepquant.chanest import TBQEstimator
from gnuradio.deepquant.chanest.system import ChannelSetup
from gnuradio.deepquant.chanest.train import TrainConfig, make_dataset, save_model, train

SMALL = dict(n_t=2, n_u=2, tau_p=3, num_train=8192, num_test=2048, epochs=12, batch_size=128)


@pytest.mark.parametrize("method", ["soft_to_hard", "passing_gradient"])
def test_short_training_learns_and_roundtrips(method, tmp_path):
    cfg = TrainConfig(method=method, num_levels=4, **SMALL)
    seen = []
    res = train(cfg, progress=seen.append)
    assert [r["epoch"] for r in seen] == list(range(1, 13))
    m = res.metrics
    assert np.isfinite(m["test_mse"]) and m["test_mse"] < 0.5  # 0.5 = estimating h = 0
    if method == "soft_to_hard":
        assert seen[-1]["c"] == pytest.approx(100.0, rel=1e-4)  # annealed to c_final
        assert m["test_mse"] < 1.1 * m["scalar_adc_limit"]
    wpath, cpath = save_model(res, tmp_path)
    card = json.loads(cpath.read_text())
    assert card["metrics"]["test_mse"] == pytest.approx(m["test_mse"])
    est = TBQEstimator.load(wpath)
    s_te, x_te = make_dataset(ChannelSetup(2, 2, 3, 4.0), 2048, cfg.seed + 1_000_003)
    assert est.mse_real(x_te, s_te) == pytest.approx(m["test_mse"], rel=1e-5)


def test_snr_uncertainty_dataset():
    s, x = make_dataset(ChannelSetup(2, 1, 2), 20000, 0, "snr_uncertainty", (1.0, 10.0))
    # E[x^2] per real entry = (E[P] n_u + 1) / 2 = (5.5 + 1) / 2
    assert np.mean(x.astype(np.float64) ** 2) == pytest.approx(3.25, rel=0.03)


def test_config_validation():
    with pytest.raises(ValueError):
        TrainConfig(method="x")
    with pytest.raises(ValueError):
        TrainConfig(num_levels=1)
    with pytest.raises(ValueError):
        TrainConfig(c_init=10, c_final=5)
    assert TrainConfig(num_levels=8).rate == pytest.approx(1.0)


def test_cli_train_chanest(venv_python, tmp_path):
    exe = Path(venv_python).parent / "deepquant"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run(
        [
            str(exe),
            "train",
            "chanest",
            "--levels",
            "3",
            "--nt",
            "2",
            "--nu",
            "2",
            "--tau-p",
            "3",
            "--epochs",
            "2",
            "--train-samples",
            "2048",
            "--test-samples",
            "1024",
            "--quiet",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    res = json.loads([ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")][-1][7:])
    assert res["models"][0]["levels"] == 3
    assert Path(res["models"][0]["weights"]).is_file()
    r = subprocess.run([str(exe), "train", "chanest", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "--rate" in r.stdout
