"""Shared pytest setup: tests run against the module installed in the venv (./dq setup)."""

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("DQ_VENV", REPO / "venv"))


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def venv_python() -> Path:
    p = VENV / "bin" / "python"
    if not p.exists():  # running from another interpreter: use it
        p = Path(sys.executable)
    return p


def pytest_configure(config):
    # Keep torch from oversubscribing the 2 cores when several tests touch it.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
