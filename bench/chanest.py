#!/usr/bin/env python3
"""Benchmark of the channel-estimator blocks (estimates/s of tbq_channel_estimator vs the MMSE
baseline, same run); see gnuradio.deepquant.apps.bench_chanest.

Run: venv/bin/python bench/chanest.py [--rate 1.0] [--items 200000] [--json out.json]
"""

import sys

from gnuradio.deepquant.apps.bench_chanest import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
