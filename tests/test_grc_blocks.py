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

    p = Platform(
        version=gr.version(), version_parts=(gr.major_version(), gr.api_version(), gr.minor_version()), prefs=gr.prefs()
    )
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


# Choice parameters that stay editable drop-downs (dtype int/bool/string with options) instead of
# dtype enum, because the examples and users drive them from a variable (a QT chooser switching the
# detector at run time, one `method`/`k` variable shared by a compressor and its decompressor, a
# command-line `parameter`); GRC would silently replace a variable in an enum with the default.
# Numbers and booleans are typed so that asserts and hide expressions compare evaluated numbers.
VARIABLE_STRING_CHOICES = {
    ("deepquant_mimo_detector", "method"),
    ("deepquant_slp_precoder", "method"),
    ("deepquant_softbit_compressor", "method"),
    ("deepquant_softbit_decompressor", "method"),
    ("deepquant_ofdm_rx", "softbit_method"),
}


def _choice_params(yml):
    data = yaml.safe_load(yml.read_text())
    return data["id"], [p for p in data.get("parameters", []) if "options" in p]


@pytest.mark.parametrize("yml", YMLS, ids=[p.stem for p in YMLS])
def test_choices_are_enums_with_labels(yml):
    bid, params = _choice_params(yml)
    for p in params:
        assert len(p.get("option_labels", [])) == len(p["options"]), f"{bid}.{p['id']}: one label per option"
        if p["dtype"] in ("int", "bool"):
            continue
        if (bid, p["id"]) in VARIABLE_STRING_CHOICES:
            assert p["dtype"] == "string"
            continue
        assert p["dtype"] == "enum", f"{bid}.{p['id']}: a choice of strings must be dtype: enum"
        assert all("'" not in str(o) and '"' not in str(o) for o in p["options"]), (
            f"{bid}.{p['id']}: enum options are plain words (templates quote them: '${{x}}')"
        )
        assert str(p["default"]) in [str(o) for o in p["options"]]


def _block_with(platform, bid, pid, value):
    fg = platform.make_flow_graph()
    blk = fg.new_block(bid)
    blk.params[pid].set_value(value)
    fg.rewrite()
    fg.validate()
    hides = {k: prm.hide for k, prm in blk.params.items()}  # evaluated now, errors recorded now
    errors = [
        f"{k}: {m}"
        for k, prm in blk.params.items()
        for m in prm.get_error_messages()
        if "Failed to eval" in m or "allowed values" in m or "Can not cast" in m
    ]
    return blk, hides, errors


@pytest.mark.parametrize("yml", YMLS, ids=[p.stem for p in YMLS])
def test_every_option_loads_and_hide_evaluates(platform, yml):
    """Each block with each option of each choice: GRC evaluates every 'hide' expression
    (to none/part/all) without an error, and the make line renders."""
    bid, params = _choice_params(yml)
    for p in params:
        for value in p["options"]:
            blk, hides, errors = _block_with(platform, bid, p["id"], str(value))
            assert errors == [], f"{bid} with {p['id']}={value}: {errors}"
            assert set(hides.values()) <= {"none", "part", "all"}
            make = blk.templates.render("make")
            assert make.startswith("deepquant."), make
            if p["dtype"] == "enum":
                assert f"'{value}'" in make, f"{bid}: enum value {value} not passed quoted: {make}"


@pytest.mark.parametrize("bid", ["deepquant_softbit_compressor", "deepquant_softbit_decompressor"])
def test_scalar_bits_shown_exactly_for_scalar_methods(platform, bid):
    """'Scalar bits' is settable for the uniform / max-MI methods and hidden for the others
    (it once was hidden for every method: the hide expression compared with quoted strings)."""
    for method in ("'maxmi'", "'maxmi-ec'", "'uniform'", "'uniform-ec'"):
        _, hides, errors = _block_with(platform, bid, "method", method)
        assert errors == [] and hides["bits"] == "none", (method, hides["bits"], errors)
    for method in ("'learned'", "'deepllr'", "'int8'"):
        _, hides, errors = _block_with(platform, bid, "method", method)
        assert errors == [] and hides["bits"] == "all", (method, hides["bits"], errors)


@pytest.mark.parametrize("yml", YMLS, ids=[p.stem for p in YMLS])
def test_no_quoted_enum_comparisons(yml):
    """GRC evaluates a string parameter before templates see it: ``method == "'x'"`` is always
    False (the value is ``x``); compare with ``method == 'x'``."""
    for i, line in enumerate(yml.read_text().splitlines(), 1):
        assert "== \"'" not in line and "!= \"'" not in line, f"{yml.name}:{i}: {line.strip()}"
