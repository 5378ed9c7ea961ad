"""``deepquant info``: versions, install locations, shipped models and GRC configuration."""

import os
import platform
from pathlib import Path

from . import paths


def collect() -> dict:
    """Gather the facts ``deepquant info`` prints, as a JSON-serialisable dict."""
    import numpy
    from gnuradio import gr

    from . import deepquant_python
    from ._version import __version__

    try:
        import torch

        torch_version = torch.__version__
        cuda = torch.cuda.is_available()
    except ImportError as e:  # reported, not hidden: the learned blocks need torch
        torch_version = f"NOT IMPORTABLE ({e})"
        cuda = False
    blocks_dir = paths.grc_blocks_dir()
    grc_env = os.environ.get("GRC_BLOCKS_PATH", "")
    conf = Path.home() / ".gnuradio" / "config.conf"
    conf_has = conf.exists() and str(blocks_dir) in conf.read_text(errors="replace")
    models_dir = paths.package_dir() / "models"
    models = (
        sorted(str(p.relative_to(models_dir)) for p in models_dir.rglob("*.safetensors")) if models_dir.is_dir() else []
    )
    from .deepquant_python import scalar_quantizer

    return {
        "deepquant": __version__,
        "gnuradio": gr.version(),
        "torch": torch_version,
        "torch_cuda": cuda,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "module_path": str(paths.package_dir()),
        "bindings": str(Path(deepquant_python.__file__)),
        "kernel_isa": scalar_quantizer([0.0]).isa,
        "grc_blocks_dir": str(blocks_dir),
        "grc_blocks_installed": sorted(p.name for p in blocks_dir.glob("deepquant_*.block.yml")),
        "grc_finds_blocks": bool(
            str(blocks_dir) in grc_env.split(os.pathsep) or conf_has or str(blocks_dir).startswith("/usr/")
        ),
        "shipped_models": models,
    }


def render(info: dict) -> str:
    lines = [
        f"gr-deepquant {info['deepquant']}",
        f"  GNU Radio     {info['gnuradio']}",
        f"  torch         {info['torch']} (CUDA: {'yes' if info['torch_cuda'] else 'no'})",
        f"  numpy         {info['numpy']}",
        f"  python        {info['python']}",
        f"  module path   {info['module_path']}",
        f"  kernel ISA    {info['kernel_isa']}",
        f"  GRC blocks    {info['grc_blocks_dir']} ({len(info['grc_blocks_installed'])} blocks)",
    ]
    if info["grc_finds_blocks"]:
        lines.append("                GNU Radio Companion finds them (GRC_BLOCKS_PATH or config.conf)")
    else:
        lines.append(
            "                GNU Radio Companion does not look there yet: run `deepquant grc`"
            " (sets GRC_BLOCKS_PATH and starts GRC with this venv's python), or add"
        )
        lines.append(f"                [grc] local_blocks_path = {info['grc_blocks_dir']} to ~/.gnuradio/config.conf")
    if info["shipped_models"]:
        lines.append("  shipped models:")
        lines += [f"    {m}" for m in info["shipped_models"]]
    else:
        lines.append("  shipped models: none yet")
    return "\n".join(lines)
