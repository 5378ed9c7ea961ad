"""The formatting tools of ./dq fmt / scripts/format.sh: the binding header-hash re-sync
(scripts/sync_binding_hashes.py) against GNU Radio's rule (MD5 of the header file), and the
formatter configuration the check relies on."""

import hashlib
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("sync_binding_hashes", REPO / "scripts" / "sync_binding_hashes.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_binding_hashes_match_their_headers():
    """What CMake's GR_PYBIND_MAKE_OOT checks at configure time, checked without configuring."""
    mod = _script()
    assert mod.stale_bindings() == []
    ccs = sorted(mod.BINDINGS.glob("*_python.cc"))
    assert len(ccs) >= 10  # the scanner found the bindings


def test_sync_rewrites_a_stale_hash_only(tmp_path):
    mod = _script()
    b, h = tmp_path / "bindings", tmp_path / "headers"
    b.mkdir()
    h.mkdir()
    for name in ("rans_coder", "mlp_f32"):
        shutil.copy(mod.BINDINGS / f"{name}_python.cc", b)
        shutil.copy(mod.HEADERS / f"{name}.h", h)
    assert mod.sync(b, h, check=True) == []
    hdr = h / "rans_coder.h"
    hdr.write_text(hdr.read_text() + "\n// a layout-only change\n")
    before = (b / "rans_coder_python.cc").read_text()
    msgs = mod.sync(b, h, check=True)
    assert len(msgs) == 1 and "rans_coder.h" in msgs[0]
    assert (b / "rans_coder_python.cc").read_text() == before  # --check changes nothing
    mod.sync(b, h)
    after = (b / "rans_coder_python.cc").read_text()
    md5 = hashlib.md5(hdr.read_bytes()).hexdigest()
    assert f"BINDTOOL_HEADER_FILE_HASH({md5})" in after
    # only the hash changed, and the line kept its width
    diff = [(x, y) for x, y in zip(before.splitlines(), after.splitlines()) if x != y]
    assert len(diff) == 1 and len(diff[0][0]) == len(diff[0][1])
    assert mod.stale_bindings(b, h) == []


def test_ruff_format_is_configured_like_the_lint():
    """The formatter reads ruff.toml: a 110-column call stays on one line (the lint's 120, not
    ruff's default 88), quotes become double, a 135-column one is wrapped."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff not installed")
    args = ", ".join(f"argument_{i}" for i in range(8))
    short = f"x = f('three', {args})\n"
    long = f"y = f('three', {args}, argument_9, argument_10)\n"
    assert 100 < len(short) < 120 < len(long)
    r = subprocess.run(
        [ruff, "format", "--stdin-filename", "python/deepquant/example.py", "-"],
        input=short + long,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == short.strip().replace("'three'", '"three"')
    assert len(lines) > 2 and all(len(x) <= 120 for x in lines)
