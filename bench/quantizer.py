#!/usr/bin/env python3
"""Benchmark of the C++ hard-quantization kernel; see gnuradio.deepquant.apps.bench_quantizer.

Run: venv/bin/python bench/quantizer.py [--n 10000000] [--json out.json]  (or `deepquant bench quantizer`)
"""

import sys

from gnuradio.deepquant.apps.bench_quantizer import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
