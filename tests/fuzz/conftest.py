"""The fuzz helpers (harness, block specs, runner) are plain modules next to the tests."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("OMP_NUM_THREADS", "1")
