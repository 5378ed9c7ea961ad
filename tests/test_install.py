"""The installed module works from a fresh process with only the venv (no PYTHONPATH, no
LD_LIBRARY_PATH, no repo on the path), and the command line answers."""

import json
import os
import subprocess
from pathlib import Path


def _clean_env(venv_python: Path):
    venv = venv_python.parent.parent
    return {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "VIRTUAL_ENV": str(venv),
        "LANG": "C.UTF-8",
    }


def test_import_from_fresh_process(venv_python, tmp_path):
    code = (
        "from gnuradio import deepquant as dq; import numpy as np; "
        "q = dq.scalar_quantizer([0.0]); "
        "assert q.quantize(np.array([-1, 1], np.float32)).tolist() == [0, 1]; "
        "b = dq.quantizer_fb([0.0], 1); print(dq.__file__)"
    )
    r = subprocess.run(
        [str(venv_python), "-c", code],
        env=_clean_env(venv_python),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "site-packages/gnuradio/deepquant" in r.stdout


def test_cli_version_help_info(venv_python, tmp_path):
    exe = venv_python.parent / "deepquant"
    env = _clean_env(venv_python)
    r = subprocess.run([str(exe), "--version"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "gr-deepquant" in r.stdout
    r = subprocess.run([str(exe), "--help"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    for sub in ("demo", "info", "bench"):
        assert sub in r.stdout
    r = subprocess.run([str(exe), "info", "--json"], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["gnuradio"].startswith("3.10")
    assert info["numpy"].startswith("1.")
    assert "deepquant_quantizer_fb.block.yml" in info["grc_blocks_installed"]
    r = subprocess.run([str(exe), "info"], env=env, capture_output=True, text=True, timeout=120)
    assert "GRC blocks" in r.stdout


def test_demo_small_run(venv_python):
    exe = venv_python.parent / "deepquant"
    r = subprocess.run(
        [str(exe), "demo", "quantizer", "--bits", "2", "--samples", "200000"],
        env=_clean_env(venv_python),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    line = [x for x in r.stdout.splitlines() if x.startswith("RESULT ")][-1]
    res = json.loads(line[len("RESULT ") :])
    assert res["all_index_paths_equal"]
    assert res["max_sqnr_gap_db"] < 0.15
