"""Every block YAML of the module loads in GNU Radio Companion's block library: known id,
our category, documentation with Inputs/Outputs/Parameters, and a make template that imports
the module; every installed YAML comes from grc/ in the repo."""
import os
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
YMLS = sorted((REPO / "grc").glob("deepquant_*.block.yml"))


@pytest.fixture(scope="module")
def platform():
    from gnuradio import gr
    from gnuradio.grc.core.platform import Platform

    from gnuradio.deepquant import paths

    p = Platform(version=gr.version(),
                 version_parts=(gr.major_version(), gr.api_version(), gr.minor_version()),
                 prefs=gr.prefs())
    os.environ["GRC_BLOCKS_PATH"] = str(paths.grc_blocks_dir())
    p.build_library()
    return p


def test_repo_and_installed_yml_agree():
    from gnuradio.deepquant import paths

    installed = sorted(p.name for p in paths.grc_blocks_dir().glob("deepquant_*.block.yml"))
    assert installed == [p.name for p in YMLS], "run ./dq setup (cmake re-globs grc/*.yml at configure)"


@pytest.mark.parametrize("yml", YMLS, ids=[p.stem for p in YMLS])
def test_block_loads_in_grc(platform, yml):
    data = yaml.safe_load(yml.read_text())
    bid = data["id"]
    assert yml.name == f"{bid}.block.yml"
    assert bid in platform.blocks, f"GRC did not load {bid}"
    assert data["category"].startswith("[Deep Quantization]/")
    doc = data.get("documentation", "")
    for word in ("Inputs", "Outputs"):
        assert word in doc, f"{bid}: documentation lacks '{word}:'"
    if data.get("parameters"):
        assert "Parameters" in doc, f"{bid}: documentation lacks 'Parameters:'"
    assert "from gnuradio import deepquant" in data["templates"]["imports"]
    assert "deepquant." in data["templates"]["make"]


@pytest.mark.parametrize("yml", YMLS, ids=[p.stem for p in YMLS])
def test_no_quoted_enum_comparisons(yml):
    """GRC evaluates a string parameter before templates see it: ``method == "'x'"`` is always
    False (the value is ``x``); compare with ``method == 'x'``."""
    for i, line in enumerate(yml.read_text().splitlines(), 1):
        assert "== \"'" not in line and "!= \"'" not in line, f"{yml.name}:{i}: {line.strip()}"
