"""Short training smoke test: a few steps of the learned and deepllr recipes, model file loads
into a codec that round-trips frames."""

import json

import numpy as np

from gnuradio.deepquant import softbit
from gnuradio.deepquant.softbit import train


def test_train_smoke(tmp_path):
    for kind in ("learned", "deepllr"):
        cfg = {
            "bits_per_symbol": 6,
            "kind": kind,
            "alpha": 0.01,
            "steps": 60,
            "batch": 512,
            "codewords_per_snr": 4,
            "calib_codewords_per_snr": 4,
            "chain_calib_codewords_per_snr": 4,
            "snr_db": [10, 30, 10],
            "out_dir": str(tmp_path),
            "checkpoint_every": 50,
            "name": f"t-{kind}",
        }
        path = train.train(cfg, progress=False)
        assert path.exists() and (tmp_path / "checkpoint_50.pt").exists()
        assert json.loads((tmp_path / f"t-{kind}.json").read_text())["model_id"].startswith("0x")
        c = softbit.make_codec("learned" if kind == "learned" else "deepllr-ec", 6, model=str(path))
        meta = c.meta
        assert type(c.coder).__name__ == "RansChainCoder"
        assert meta["config"]["kind"] == kind and len(meta["log"]) >= 1
        assert np.isfinite(meta["log"][-1]["distortion"])
        x = np.random.default_rng(0).normal(0, 5, (108, 6)).astype(np.float32)
        assert c.decode(c.encode(x)).shape == (108, 6)


def test_cli_config_roundtrip(tmp_path):
    cfgp = tmp_path / "c.json"
    cfgp.write_text(
        json.dumps(
            {
                "bits_per_symbol": 6,
                "steps": 5,
                "batch": 256,
                "codewords_per_snr": 2,
                "calib_codewords_per_snr": 2,
                "chain_calib_codewords_per_snr": 2,
                "snr_db": [20, 20, 1],
                "out_dir": str(tmp_path),
                "name": "cli",
            }
        )
    )
    assert train.main(str(cfgp), progress=False) == 0
    assert (tmp_path / "cli.safetensors").exists()
