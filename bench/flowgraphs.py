#!/usr/bin/env python3
"""Throughput of the receive flowgraphs, the LDPC decoder's ceiling, GNU Radio's own OFDM receiver
as the anchor, and where the time goes (GNU Radio performance counters) -- in one run, as ratios.

Every measurement runs in its own child process started with ``GR_CONF_PERFCOUNTERS_ON=True``
(GNU Radio reads it once at start-up). Each child first prepares its input untimed (transmitter
and channel impairments, played into memory like a recording), then times only the receive
flowgraph fed from memory (``vector_source``), and reads every block's ``pc_work_time_total()``
(walking into hierarchical blocks) for each block's share of the summed work time. It also
reports the process CPU time, so that ``samples_per_cpu_s`` stays comparable when other jobs
share the machine (wall-clock rates then drop, ratios of runs made close together much less).

Measurements (samples are complex baseband samples at the 20 Msps numerology; MIMO: per antenna):
  siso_rx_no_decoder        ofdm_rx (decoder-aided re-estimation on, exact demapper, float LLRs)
                            with its LDPC decoder replaced by a sink (``decoder_threads=0``)
  siso_rx_no_decoder_nofb   the same without re-estimation
  siso_chain / _t2          the whole chain with GNU Radio's decoder (1 / 2 decoder threads)
                            -> ofdm_fer_counter (FER reported)
  siso_decoder_ceiling / _t2  ldpc_decoder_fb alone (1 / 2 threads) on the LLRs the receiver
                            produced at the same SNR, as samples/s (codewords/s x samples per
                            codeword of the receive run)
  gr_ofdm_rx                GNU Radio's digital.ofdm_rx (64-point FFT, 16-sample CP, QPSK
                            payload, no LDPC), the anchor for what a GNU Radio OFDM chain costs
  mimo_{lmmse,eqnet_l}_rx_no_decoder   2x2 time-domain receiver (mimo_ofdm_rx, re-estimation
                            on) -> mimo_detector -> sink
  mimo_lmmse_chain          ... -> ldpc_decoder_fb -> ofdm_fer_counter
  mimo_decoder_ceiling      ldpc_decoder_fb alone on the MIMO receiver's LLRs
SNR: the demo's highest operating points (SISO 26 dB EPA, CFO 0.15, 10 ppm; MIMO 28 dB EPA).

Every measurement runs ``--repeat`` times (default 3), the rounds one after the other; samples/s
are medians, and each ratio is the median over the rounds of the ratio within a round.

Run:  venv/bin/python bench/flowgraphs.py [--packets 300] [--repeat 3] [--only NAME ...] [--out out/bench_flowgraphs]
Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SISO_SNR_DB = 26.0
MIMO_SNR_DB = 28.0

# name -> (kind, options)
MEASUREMENTS = {
    "gr_ofdm_rx": ("gr_ofdm", {}),
    "siso_rx_no_decoder": ("siso", {"threads": 0, "feedback": True, "save_llr": True}),
    "siso_rx_no_decoder_nofb": ("siso", {"threads": 0, "feedback": False}),
    "siso_chain": ("siso", {"threads": 1, "feedback": True}),
    "siso_chain_t2": ("siso", {"threads": 2, "feedback": True}),
    "siso_decoder_ceiling": ("ceiling", {"threads": 1, "llr": "siso_rx_no_decoder"}),
    "siso_decoder_ceiling_t2": ("ceiling", {"threads": 2, "llr": "siso_rx_no_decoder"}),
    "mimo_lmmse_rx_no_decoder": ("mimo", {"method": "lmmse", "decoder": False, "save_llr": True}),
    "mimo_eqnet_l_rx_no_decoder": ("mimo", {"method": "eqnet_l", "decoder": False}),
    "mimo_lmmse_chain": ("mimo", {"method": "lmmse", "decoder": True}),
    "mimo_decoder_ceiling": ("ceiling", {"threads": 1, "llr": "mimo_lmmse_rx_no_decoder"}),
    "mimo_decoder_ceiling_t2": ("ceiling", {"threads": 2, "llr": "mimo_lmmse_rx_no_decoder"}),
}


def _collect(objs):
    """(name, block) for every GNU Radio block reachable from the given objects' attributes."""
    from gnuradio import gr

    out, seen = [], set()

    def visit(name, o, depth):
        if id(o) in seen or depth > 4:
            return
        seen.add(id(o))
        if isinstance(o, gr.hier_block2):
            for k, v in vars(o).items():
                if isinstance(v, list):
                    for i, x in enumerate(v):
                        if hasattr(x, "pc_work_time_total") or isinstance(x, gr.hier_block2):
                            visit(f"{name}.{k}{i}", x, depth + 1)
                elif hasattr(v, "pc_work_time_total") or isinstance(v, gr.hier_block2):
                    visit(f"{name}.{k}", v, depth + 1)
            return
        if hasattr(o, "pc_work_time_total"):
            out.append((name, o))

    for n, o in objs:
        visit(n, o, 0)
    return out


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _run(tb):
    c0, t0 = _cpu_s(), time.perf_counter()
    tb.run()
    return time.perf_counter() - t0, _cpu_s() - c0


def _siso(opts, packets, out_dir):
    from gnuradio import blocks, gr

    from gnuradio.deepquant.apps import ofdm_flowgraphs as fg
    from gnuradio.deepquant.blocks.ofdm_fer_counter import ofdm_fer_counter
    from gnuradio.deepquant.blocks.ofdm_impairments import ofdm_impairments
    from gnuradio.deepquant.blocks.ofdm_rx import ofdm_rx
    from gnuradio.deepquant.ofdm.layout import OfdmLayout

    lay = OfdmLayout()
    iq, starts = fg.transmit(packets)
    spp = lay.samples_per_packet
    sig = np.concatenate([np.zeros(spp, np.complex64), iq, np.zeros(3 * spp, np.complex64)])
    # channel (untimed): the recording the receiver plays back
    tb0 = gr.top_block()
    src0 = blocks.vector_source_c(sig.tolist(), False)
    ch = ofdm_impairments(fg.SAMP_RATE, SISO_SNR_DB, 0.15, 10.0, "epa_block", 50.0, 64, 1)
    snk0 = blocks.vector_sink_c()
    tb0.connect(src0, ch, snk0)
    tb0.run()
    rx_in = np.asarray(snk0.data(), np.complex64)
    tb = gr.top_block()
    src = blocks.vector_source_c(rx_in.tolist(), False)
    rx = ofdm_rx(decision_feedback=opts["feedback"], decoder_threads=opts["threads"])
    tb.connect(src, rx)
    tb.connect((rx, 1), blocks.null_sink(gr.sizeof_gr_complex))
    tb.connect((rx, 2), blocks.null_sink(gr.sizeof_gr_complex))
    cnt = llr_snk = None
    if opts["threads"]:
        cnt = ofdm_fer_counter(lay.n_codewords, fg.REF_SEED, fg.REF_PERIOD, False)
        tb.connect((rx, 0), cnt)
    else:
        llr_snk = blocks.vector_sink_f() if opts.get("save_llr") else blocks.null_sink(gr.sizeof_float)
        tb.connect((rx, 0), llr_snk)
    wall, cpu = _run(tb)
    res = {
        "samples": int(rx_in.size),
        "wall_s": wall,
        "cpu_s": cpu,
        "codewords": packets * lay.n_codewords,
        "objs": [("rx", rx), ("source", src)],
    }
    if cnt is not None:
        missing = max(0, packets - cnt.packets - cnt.lost_packets)
        res["fer"] = (cnt.codeword_errors + missing * lay.n_codewords) / (packets * lay.n_codewords)
        res["objs"].append(("fer_counter", cnt))
    if opts.get("save_llr"):
        llr = np.asarray(llr_snk.data(), np.float32)
        np.save(out_dir / "siso_llr.npy", llr)
        res["llr_file"] = str(out_dir / "siso_llr.npy")
        res["samples_per_codeword"] = rx_in.size / (packets * lay.n_codewords)
    return res


def _mimo(opts, packets, out_dir):
    from gnuradio import blocks, gr

    from gnuradio.deepquant.apps import mimo_ofdm as mo
    from gnuradio.deepquant.blocks.ldpc_blocks import ldpc_decoder_fb
    from gnuradio.deepquant.blocks.mimo_detector import mimo_detector
    from gnuradio.deepquant.blocks.mimo_ofdm_impairments import mimo_ofdm_impairments
    from gnuradio.deepquant.blocks.mimo_ofdm_rx import mimo_ofdm_rx
    from gnuradio.deepquant.blocks.ofdm_fer_counter import ofdm_fer_counter

    nr = nt = 2
    k = 6
    n_frames = max(8, packets // 4)
    why = mo.unavailable(opts["method"])
    if why:
        return {"skipped": why}
    iq, starts = mo.transmit(n_frames, nt)
    spp = int(starts[1] - starts[0])
    tb0 = gr.top_block()
    chan = mimo_ofdm_impairments(nr, nt, MIMO_SNR_DB, 0.1, "epa", mo.SAMP_RATE, 64, 0)
    snks = [blocks.vector_sink_c() for _ in range(nr)]
    for j in range(nt):
        sig = np.concatenate([np.zeros(spp, np.complex64), iq[j], np.zeros(3 * spp, np.complex64)])
        tb0.connect(blocks.vector_source_c(sig.tolist(), False), (chan, j))
    for r in range(nr):
        tb0.connect((chan, r), snks[r])
    tb0.run()
    rx_in = [np.asarray(s.data(), np.complex64) for s in snks]
    tb = gr.top_block()
    srcs = [blocks.vector_source_c(x.tolist(), False) for x in rx_in]
    rx = mimo_ofdm_rx(nr, nt, mo.N_CODEWORDS, k, decision_feedback=True)
    det = mimo_detector(nr, nt, k, opts["method"])
    v2s = blocks.vector_to_stream(gr.sizeof_float, nt * k)
    for r in range(nr):
        tb.connect(srcs[r], (rx, r))
    for i in range(3):
        tb.connect((rx, i), (det, i))
    tb.connect(det, v2s)
    objs = [("rx", rx), ("detector", det), ("v2s", v2s)]
    cnt = llr_snk = None
    if opts["decoder"]:
        dec = ldpc_decoder_fb(50)
        cnt = ofdm_fer_counter(mo.N_CODEWORDS, mo.REF_SEED, mo.REF_PERIOD, False)
        tb.connect(v2s, dec, cnt)
        objs += [("decoder", dec), ("counter", cnt)]
    else:
        llr_snk = blocks.vector_sink_f() if opts.get("save_llr") else blocks.null_sink(gr.sizeof_float)
        tb.connect(v2s, llr_snk)
    wall, cpu = _run(tb)
    res = {
        "samples": int(rx_in[0].size),
        "wall_s": wall,
        "cpu_s": cpu,
        "codewords": n_frames * mo.N_CODEWORDS,
        "objs": objs,
    }
    if cnt is not None:
        missing = max(0, n_frames - cnt.packets - cnt.lost_packets)
        res["fer"] = (cnt.codeword_errors + missing * mo.N_CODEWORDS) / (n_frames * mo.N_CODEWORDS)
    if opts.get("save_llr"):
        np.save(out_dir / "mimo_llr.npy", np.asarray(llr_snk.data(), np.float32))
        res["samples_per_codeword"] = rx_in[0].size / (n_frames * mo.N_CODEWORDS)
    return res


def _ceiling(opts, out_dir, src_result):
    from gnuradio import blocks, gr

    from gnuradio.deepquant.blocks.ldpc_blocks import ldpc_decoder_fb

    fname = "siso_llr.npy" if opts["llr"].startswith("siso") else "mimo_llr.npy"
    llr = np.load(out_dir / fname)
    n_cw = llr.size // 648
    llr = llr[: n_cw * 648]
    reps = max(1, 3000 // max(n_cw, 1))  # at least ~3000 codewords: the decoder alone is fast
    llr = np.tile(llr, reps)
    tb = gr.top_block()
    src = blocks.vector_source_f(llr.tolist(), False)
    dec = ldpc_decoder_fb(50, opts["threads"])
    tb.connect(src, dec, blocks.null_sink(gr.sizeof_char))
    wall, cpu = _run(tb)
    spc = src_result["samples_per_codeword"]
    cw = n_cw * reps
    return {
        "samples": int(round(cw * spc)),
        "wall_s": wall,
        "cpu_s": cpu,
        "codewords": cw,
        "codewords_per_s": cw / wall,
        "objs": [("decoder", dec), ("source", src)],
    }


def _gr_ofdm(packets):
    from gnuradio import blocks, channels, digital, gr

    payload = 108  # bytes per packet: ~10 QPSK OFDM symbols of 48 carriers, like the module's 9
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, packets * payload).astype(np.uint8)
    tb0 = gr.top_block()
    src0 = blocks.vector_source_b(data.tolist(), False)
    s2t = blocks.stream_to_tagged_stream(gr.sizeof_char, 1, payload, "packet_len")
    tx = digital.ofdm_tx(
        fft_len=64, cp_len=16, packet_length_tag_key="packet_len", bps_header=1, bps_payload=2, rolloff=0
    )
    gap = blocks.vector_sink_c()
    tb0.connect(src0, s2t, tx, gap)
    tb0.run()
    iq = np.asarray(gap.data(), np.complex64)
    iq = iq / np.sqrt(np.mean(np.abs(iq) ** 2))
    tb1 = gr.top_block()
    src1 = blocks.vector_source_c(
        np.concatenate([np.zeros(500, np.complex64), iq, np.zeros(2000, np.complex64)]).tolist(), False
    )
    ch = channels.channel_model(noise_voltage=10 ** (-SISO_SNR_DB / 20), frequency_offset=0.15 / 64, taps=[1.0])
    snk1 = blocks.vector_sink_c()
    tb1.connect(src1, ch, snk1)
    tb1.run()
    rx_in = np.asarray(snk1.data(), np.complex64)
    tb = gr.top_block()
    src = blocks.vector_source_c(rx_in.tolist(), False)
    rx = digital.ofdm_rx(
        fft_len=64,
        cp_len=16,
        frame_length_tag_key="frame_length",
        packet_length_tag_key="packet_len",
        bps_header=1,
        bps_payload=2,
    )
    snk = blocks.vector_sink_b()
    tb.connect(src, rx, snk)
    wall, cpu = _run(tb)
    return {
        "samples": int(rx_in.size),
        "wall_s": wall,
        "cpu_s": cpu,
        "packets_decoded": len(snk.data()) // payload,
        "packets_sent": packets,
        "objs": [("rx", rx), ("source", src)],
    }


def child(name: str, packets: int, out_dir: Path, src_result: dict | None) -> dict:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    kind, opts = MEASUREMENTS[name]
    if kind == "siso":
        r = _siso(opts, packets, out_dir)
    elif kind == "mimo":
        r = _mimo(opts, packets, out_dir)
    elif kind == "ceiling":
        r = _ceiling(opts, out_dir, src_result)
    else:
        r = _gr_ofdm(packets)
    if "skipped" in r:
        return {"name": name, **r}
    times = {}
    for n, b in _collect(r.pop("objs")):
        try:
            times[n] = float(b.pc_work_time_total())
        except Exception:  # noqa: BLE001
            pass
    r.update(
        {
            "name": name,
            "work_ns": times,
            "samples_per_s": r["samples"] / r["wall_s"],
            "samples_per_cpu_s": r["samples"] / r["cpu_s"] if r["cpu_s"] > 0 else None,
        }
    )
    return r


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--packets", type=int, default=300, help="SISO packets (MIMO: a quarter as many frames)")
    p.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="rounds of all measurements (interleaved); medians and per-round ratios are reported",
    )
    p.add_argument("--only", nargs="+", choices=list(MEASUREMENTS), help="a subset of the measurements")
    p.add_argument("--out", default="out/bench_flowgraphs")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--src-result", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.child:
        src = json.loads(a.src_result) if a.src_result else None
        print("CHILD " + json.dumps(child(a.child, a.packets, out, src)))
        return 0
    env = dict(os.environ, GR_CONF_PERFCOUNTERS_ON="True")
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("DEEPQUANT_TORCH_THREADS", "1")
    names = a.only or list(MEASUREMENTS)
    for n in list(names):  # a ceiling needs the LLRs of its receiver run
        kind, opts = MEASUREMENTS[n]
        if kind == "ceiling" and opts["llr"] not in names:
            names.insert(names.index(n), opts["llr"])
    rounds = []  # every measurement once per round, rounds one after the other (interleaved)
    for rnd_i in range(a.repeat):
        res = {}
        for name in names:
            kind, opts = MEASUREMENTS[name]
            cmd = [sys.executable, __file__, "--child", name, "--packets", str(a.packets), "--out", str(out)]
            if kind == "ceiling":
                cmd += ["--src-result", json.dumps({"samples_per_codeword": res[opts["llr"]]["samples_per_codeword"]})]
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
            line = [x for x in r.stdout.splitlines() if x.startswith("CHILD ")]
            if r.returncode != 0 or not line:
                print(f"{name}: child failed\n{r.stderr[-3000:]}", file=sys.stderr)
                return 1
            res[name] = json.loads(line[-1][6:])
            print(f"round {rnd_i + 1}/{a.repeat} {name}: {res[name].get('samples_per_s', 0):.3g} samples/s", flush=True)
        rounds.append(res)
    # per measurement: the run with the median samples/s (its block shares and FER with it)
    res = {}
    for name in names:
        runs = [rd[name] for rd in rounds]
        if "skipped" in runs[0]:
            res[name] = runs[0]
            continue
        runs.sort(key=lambda d: d["samples_per_s"])
        res[name] = dict(runs[len(runs) // 2])
        res[name]["samples_per_s_runs"] = [round(d["samples_per_s"]) for d in runs]
        res[name]["samples_per_cpu_s"] = float(np.median([d["samples_per_cpu_s"] for d in runs]))
        if "codewords_per_s" in runs[0]:
            res[name]["codewords_per_s"] = float(np.median([d["codewords_per_s"] for d in runs]))
    for name in names:
        d = res[name]
        if "skipped" in d:
            print(f"{name:>28}: skipped ({d['skipped']})")
            continue
        tot = sum(d["work_ns"].values()) or 1.0
        shares = sorted(((k, v / tot) for k, v in d["work_ns"].items() if v > 0), key=lambda kv: -kv[1])
        d["share"] = dict(shares)
        d["bottleneck"] = shares[0][0] if shares else None
        extra = f", FER {d['fer']:.4f}" if "fer" in d else ""
        extra += f", {d['codewords_per_s']:.0f} codewords/s" if "codewords_per_s" in d else ""
        extra += f", {d['packets_decoded']}/{d['packets_sent']} packets" if "packets_decoded" in d else ""
        print(
            f"{name:>28}: {d['samples_per_s']:.3g} samples/s ({d['samples_per_s'] / 1e6:.3f} Msps real time; "
            f"runs {d['samples_per_s_runs']}), {d['samples_per_cpu_s']:.3g} samples per CPU-s{extra}"
        )
        for k, v in shares[:5]:
            print(f"{'':>30}{k:<44} {100 * v:5.1f} %")
    (out / "flowgraphs.json").write_text(json.dumps(res, indent=2))

    def sps(n):
        d = res.get(n)
        return d["samples_per_s"] if d and "samples_per_s" in d else None

    def round_ratio(num, den):
        """Median over the rounds of num/den measured in the same round (close in time: the
        machine's load moves both)."""
        vals = []
        for rd in rounds:
            n_ = [rd[x]["samples_per_s"] for x in num if x in rd and "samples_per_s" in rd[x]]
            d_ = [rd[x]["samples_per_s"] for x in den if x in rd and "samples_per_s" in rd[x]]
            if n_ and d_:
                vals.append(max(n_) / max(d_))
        return round(float(np.median(vals)), 3) if vals else None

    def rnd(v):
        return round(v) if v else None

    best_siso_chain = max(filter(None, [sps("siso_chain"), sps("siso_chain_t2")]), default=None)
    siso_ceiling = max(filter(None, [sps("siso_decoder_ceiling"), sps("siso_decoder_ceiling_t2")]), default=None)
    mimo_ceiling = max(filter(None, [sps("mimo_decoder_ceiling"), sps("mimo_decoder_ceiling_t2")]), default=None)
    summary = {
        "siso_rx_no_decoder_samples_per_s": rnd(sps("siso_rx_no_decoder")),
        "siso_rx_no_decoder_no_feedback_samples_per_s": rnd(sps("siso_rx_no_decoder_nofb")),
        "mimo_lmmse_rx_no_decoder_samples_per_s": rnd(sps("mimo_lmmse_rx_no_decoder")),
        "mimo_eqnet_l_rx_no_decoder_samples_per_s": rnd(sps("mimo_eqnet_l_rx_no_decoder")),
        "siso_chain_samples_per_s": rnd(best_siso_chain),
        "siso_chain_1_thread_samples_per_s": rnd(sps("siso_chain")),
        "siso_chain_2_threads_samples_per_s": rnd(sps("siso_chain_t2")),
        "siso_decoder_ceiling_samples_per_s": rnd(siso_ceiling),
        "siso_chain_vs_decoder_ceiling_ratio": round_ratio(
            ["siso_chain", "siso_chain_t2"], ["siso_decoder_ceiling", "siso_decoder_ceiling_t2"]
        ),
        "mimo_chain_samples_per_s": rnd(sps("mimo_lmmse_chain")),
        "mimo_decoder_ceiling_samples_per_s": rnd(mimo_ceiling),
        "mimo_chain_vs_decoder_ceiling_ratio": round_ratio(
            ["mimo_lmmse_chain"], ["mimo_decoder_ceiling", "mimo_decoder_ceiling_t2"]
        ),
        "gr_ofdm_rx_samples_per_s": rnd(sps("gr_ofdm_rx")),
        "siso_vs_gr_ofdm_rx_ratio": round_ratio(["siso_rx_no_decoder"], ["gr_ofdm_rx"]),
        "siso_rx_no_decoder_samples_per_cpu_s": rnd(res.get("siso_rx_no_decoder", {}).get("samples_per_cpu_s")),
        "gr_ofdm_rx_samples_per_cpu_s": rnd(res.get("gr_ofdm_rx", {}).get("samples_per_cpu_s")),
        "mimo_lmmse_rx_no_decoder_samples_per_cpu_s": rnd(
            res.get("mimo_lmmse_rx_no_decoder", {}).get("samples_per_cpu_s")
        ),
        "siso_decoder_codewords_per_s": {
            f"{t}_threads": round(res[n]["codewords_per_s"])
            for t, n in ((1, "siso_decoder_ceiling"), (2, "siso_decoder_ceiling_t2"))
            if n in res
        },
        "siso_chain_fer": res.get("siso_chain", {}).get("fer"),
        "mimo_lmmse_chain_fer": res.get("mimo_lmmse_chain", {}).get("fer"),
        "bottlenecks": {n: d.get("bottleneck") for n, d in res.items() if "bottleneck" in d},
        "siso_snr_db": SISO_SNR_DB,
        "mimo_snr_db": MIMO_SNR_DB,
        "packets": a.packets,
        "repeat": a.repeat,
    }
    print("RESULT " + json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
