#!/usr/bin/env python3
"""Where the receivers' Python time goes: CPU time per packet of each Python block's work() and
of the numeric functions they call, measured in a running flowgraph.

GNU Radio's performance counters (``bench/flowgraphs.py``) time each block's work() by the wall
clock, which for Python blocks includes waiting for the interpreter lock while another Python
block runs. Here every wrapped call is timed with ``time.thread_time()`` (CPU time of the
calling thread), so the figures add up to the Python CPU time per packet -- the time that the
interpreter lock serialises (one Python block runs at a time), i.e. the receivers' ceiling
in packets/s, whatever the core count.

The receivers' C++ blocks (``ofdm_rx``'s header decoder, payload estimator and demapper,
``mimo_ofdm_rx``'s header decoder and payload estimator) run without the interpreter; their time
per packet is GNU Radio's performance counter (wall clock inside work()), listed as "C++ block".

Flowgraphs: SISO ``ofdm_rx`` (26 dB, EPA, CFO 0.15, 10 ppm, re-estimation on) and the 2x2
MIMO receiver (28 dB EPA, LMMSE, re-estimation on), with GNU Radio's decoder.

Run:  venv/bin/python bench/rx_profile.py [--packets 300]
Ends with one line ``RESULT {json}`` (microseconds of CPU per packet).
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import os
import sys
import threading
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# GNU Radio's performance counters: the receivers' C++ blocks have no Python to time
os.environ.setdefault("GR_CONF_PERFCOUNTERS_ON", "True")


def _instrument(targets):
    acc = collections.defaultdict(lambda: [0.0, 0])
    lock = threading.Lock()
    for obj, name, label in targets:
        f = getattr(obj, name)

        def make(f, label):
            @functools.wraps(f)
            def g(*a, **k):
                t0 = time.thread_time()
                try:
                    return f(*a, **k)
                finally:
                    dt = time.thread_time() - t0
                    with lock:
                        acc[label][0] += dt
                        acc[label][1] += 1

            return g

        setattr(obj, name, make(f, label))
    return acc


def _track(module, names, made):
    """Wrap the receivers' factories of C++ blocks (``module.<name>``) to keep every block made."""
    for name in names:
        f = getattr(module, name)

        def make(f, name):
            @functools.wraps(f)
            def g(*a, **k):
                b = f(*a, **k)
                made.append((name, b))
                return b

            return g

        setattr(module, name, make(f, name))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--packets", type=int, default=300)
    p.add_argument("--chain", choices=["siso", "mimo"], default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.chain is None:  # each chain in its own process (instrumentation patches classes)
        import subprocess

        out = {}
        for chain in ("siso", "mimo"):
            r = subprocess.run(
                [sys.executable, __file__, "--chain", chain, "--packets", str(a.packets)],
                capture_output=True,
                text=True,
                timeout=1800,
            )
            print(r.stdout.rstrip())
            if r.returncode:
                print(r.stderr[-3000:], file=sys.stderr)
                return 1
            out[chain] = json.loads([x for x in r.stdout.splitlines() if x.startswith("CHAIN ")][-1][6:])
        print("RESULT " + json.dumps(out))
        return 0
    import torch

    torch.set_num_threads(1)
    from gnuradio.deepquant import deepquant_python as dq
    from gnuradio.deepquant.blocks import _kernels
    from gnuradio.deepquant.ofdm import estimation, header
    from gnuradio.deepquant.ofdm import mimo as ofdm_mimo
    from gnuradio.deepquant.phy import mapping

    if a.chain == "siso":
        from gnuradio.deepquant.apps import ofdm_flowgraphs as fg
        from gnuradio.deepquant.blocks import ofdm_channel_noise_estimator as est
        from gnuradio.deepquant.blocks import ofdm_pilot_phase_tracker as trk
        from gnuradio.deepquant.blocks import ofdm_rx as rxm
        from gnuradio.deepquant.blocks import soft_demapper_cf as sd

        blocks_ = [
            (rxm.header_decoder, "work", "block header_decoder"),
            (est.ofdm_channel_noise_estimator, "work", "block ofdm_channel_noise_estimator"),
            (trk.ofdm_pilot_phase_tracker, "work", "block ofdm_pilot_phase_tracker"),
            (sd.soft_demapper_cf, "work", "block soft_demapper_cf"),
        ]
        funcs = [
            (est.ofdm_channel_noise_estimator, "_feedback", "  estimator: decoder-aided re-estimation"),
            (estimation, "estimate_channel", "  estimation.estimate_channel"),
            (estimation, "refine_with_known", "  estimation.refine_with_known"),
            (estimation, "decoded_symbols", "  estimation.decoded_symbols"),
            (_kernels, "bp_decode", "  C++ ldpc_bp_decoder"),
            (_kernels, "demap", "  C++ qam_demapper (re-estimation)"),
            (estimation, "linear_phase_fit", "  estimation.linear_phase_fit"),
            (header, "decode_header", "  header.decode_header"),
            (mapping, "soft_symbols", "  mapping.soft_symbols"),
            (dq.ofdm_estimator, "decode_header", "  C++ ofdm_estimator.decode_header"),
            (dq.ofdm_estimator, "feedback", "  C++ ofdm_estimator.feedback (re-estimation)"),
            (dq.ofdm_estimator, "track", "  C++ ofdm_estimator.track"),
        ]
        acc = _instrument(blocks_ + funcs)
        made = []
        _track(rxm, ("cxx_header_decoder", "payload_estimator", "cxx_demapper"), made)
        n = a.packets
        iq, starts = fg.transmit(n)
        r = fg.receive(iq, starts, 26.0, 0.15, 10.0)
        info = {"fer": r["fer"]}
    else:
        from gnuradio.deepquant.apps import mimo_ofdm as mo
        from gnuradio.deepquant.blocks import mimo_detector as md
        from gnuradio.deepquant.blocks import mimo_ofdm_header_decoder as hdr
        from gnuradio.deepquant.blocks import mimo_ofdm_payload_estimator as pay
        from gnuradio.deepquant.blocks import sc_trigger_holdoff as hold

        blocks_ = [
            (hdr.mimo_ofdm_header_decoder, "work", "block mimo_ofdm_header_decoder"),
            (pay.mimo_ofdm_payload_estimator, "work", "block mimo_ofdm_payload_estimator"),
            (md.mimo_detector, "work", "block mimo_detector"),
            (hold.sc_trigger_holdoff, "work", "block sc_trigger_holdoff"),
        ]
        funcs = [
            (pay.mimo_ofdm_payload_estimator, "_feedback", "  payload: decoder-aided re-estimation"),
            (ofdm_mimo, "refine_with_symbols", "  ofdm.mimo.refine_with_symbols"),
            (estimation, "decoded_symbols", "  estimation.decoded_symbols"),
            (_kernels, "bp_decode", "  C++ ldpc_bp_decoder"),
            (_kernels, "lmmse", "  C++ lmmse_detector"),
            (dq.lmmse_detector, "detect_into", "  C++ lmmse_detector.detect_into (mimo_detector)"),
            (estimation, "estimate_channel", "  estimation.estimate_channel"),
            (ofdm_mimo, "payload_channel_uses", "  ofdm.mimo.payload_channel_uses"),
            (dq.ofdm_estimator, "feedback_mimo", "  C++ ofdm_estimator.feedback_mimo (re-estimation)"),
            (dq.ofdm_estimator, "decode_header_mimo", "  C++ ofdm_estimator.decode_header_mimo"),
            (mapping, "soft_symbols", "  mapping.soft_symbols"),
        ]
        acc = _instrument(blocks_ + funcs)
        from gnuradio.deepquant.blocks import mimo_ofdm_rx as mrx

        made = []
        _track(mrx, ("header_decoder", "payload_estimator"), made)
        n = max(8, a.packets // 4)
        tb, b = mo.build(28.0, "lmmse", n, "epa")
        tb.run()
        info = {"fer": b["counter"].fer()}
    per_packet = {k: v[0] / n * 1e6 for k, v in acc.items()}
    for _factory, blk in made:  # C++ blocks: GNU Radio's work time (wall clock inside work())
        if hasattr(blk, "pc_work_time_total"):
            label = f"C++ block {blk.name()} (work time)"
            per_packet[label] = per_packet.get(label, 0.0) + float(blk.pc_work_time_total()) / n / 1e3
    total_blocks = sum(v for k, v in per_packet.items() if k.startswith("block"))
    ceiling = f"~{1e6 / total_blocks:.0f} packets/s under one interpreter lock" if total_blocks else "no Python block"
    print(
        f"{a.chain}: {n} packets, FER {info['fer']:.4f}; Python CPU per packet in the blocks' work(): "
        f"{total_blocks:.0f} us (ceiling {ceiling})"
    )
    for k, v in sorted(per_packet.items(), key=lambda kv: (not kv[0].startswith("block"), -kv[1])):
        print(f"  {k:<48} {v:8.1f} us/packet")
    print(
        "CHAIN "
        + json.dumps(
            {
                "packets": n,
                "fer": info["fer"],
                "python_cpu_us_per_packet": round(total_blocks, 1),
                "us_per_packet": {k.strip(): round(v, 1) for k, v in per_packet.items()},
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
