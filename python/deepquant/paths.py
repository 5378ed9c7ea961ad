"""Where the installed module keeps its files (found with importlib.resources, never gr.prefix)."""

import importlib.resources
import os
import sys
from pathlib import Path


def package_dir() -> Path:
    """Directory of the installed ``gnuradio.deepquant`` package."""
    return Path(str(importlib.resources.files("gnuradio.deepquant")))


def data_file(*parts: str) -> Path:
    """Path of a data file shipped inside the package (``gnuradio/deepquant/data/...``)."""
    p = importlib.resources.files("gnuradio.deepquant").joinpath("data", *parts)
    return Path(str(p))


def install_prefix() -> Path:
    """Install prefix of the module (the venv for ``./dq`` installs): where ``share/`` and
    ``lib/`` live. Derived from the package location ``<prefix>/lib/python3.X/site-packages``."""
    pkg = package_dir()
    for parent in pkg.parents:
        if parent.name.startswith("python3"):
            return parent.parent.parent
    return Path(sys.prefix)


def grc_blocks_dir() -> Path:
    """Directory holding the module's ``*.block.yml`` files."""
    return install_prefix() / "share" / "gnuradio" / "grc" / "blocks"


def cache_dir() -> Path:
    """Per-user cache for generated data (``$DEEPQUANT_CACHE`` or ``~/.cache/gr-deepquant``)."""
    d = Path(os.environ.get("DEEPQUANT_CACHE", Path.home() / ".cache" / "gr-deepquant"))
    d.mkdir(parents=True, exist_ok=True)
    return d
