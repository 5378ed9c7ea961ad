"""Every examples/*.grc compiles with grcc; the headless (no_gui) ones also run to completion."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "examples").glob("*.grc"))


def _env():
    from gnuradio.deepquant import paths

    env = dict(os.environ)
    env["GRC_BLOCKS_PATH"] = str(paths.grc_blocks_dir())
    return env


@pytest.mark.parametrize("grc", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_compiles_and_headless_runs(grc, tmp_path):
    r = subprocess.run(
        [sys.executable, "/usr/bin/grcc", "-o", str(tmp_path), str(grc)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    fg = yaml.safe_load(grc.read_text())
    fid = fg["options"]["parameters"]["id"]
    generated = tmp_path / f"{fid}.py"
    assert generated.exists()
    if fg["options"]["parameters"].get("generate_options") == "no_gui":
        r = subprocess.run(
            [sys.executable, str(generated)], env=_env(), capture_output=True, text=True, timeout=300, cwd=tmp_path
        )
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


def test_there_are_examples():
    assert EXAMPLES, "examples/ has no .grc flowgraph"
