"""`deepquant demo` (OFDM flowgraphs) and `deepquant demo --help`."""

import json
import subprocess


def test_demo_help_explains_flowgraphs(venv_python):
    exe = venv_python.parent / "deepquant"
    r = subprocess.run([str(exe), "demo", "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0
    for word in (
        "Flowgraph 1",
        "Flowgraph 2",
        "deepquant grc",
        "ofdm_siso_loopback",
        "mimo_ofdm_loopback",
        "quantizer",
        "EQ-Net-P",
        "--mimo-methods",
        "HARQ",
        "--no-harq",
        "Schmidl & Cox",
    ):
        assert word in r.stdout


def test_demo_small_run(venv_python, tmp_path):
    exe = venv_python.parent / "deepquant"
    r = subprocess.run(
        [
            str(exe),
            "demo",
            "--snr-db",
            "30",
            "--methods",
            "none",
            "uniform",
            "--packets",
            "8",
            "--mimo-packets",
            "3",
            "--mimo-methods",
            "lmmse",
            "eqnet_l",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    line = [x for x in r.stdout.splitlines() if x.startswith("RESULT ")][-1]
    res = json.loads(line[len("RESULT ") :])
    assert res["siso_none"]["fer"]["30"] == 0.0
    assert res["siso_uniform"]["stored_bits_per_llr"] < 8
    assert "mimo_lmmse" in res and "mimo_eqnet_l" in res
    assert res["siso_harq"]["fer_after_harq"] == 0.0 and res["siso_harq"]["packets"] == 16
    assert (tmp_path / "demo_fer.png").exists() and (tmp_path / "demo.json").exists()
