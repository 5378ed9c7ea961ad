"""``deepquant demo``: the module's main job, run headless -- complete GNU Radio receivers.

Flowgraph 1 (SISO OFDM with real synchronisation, ``examples/ofdm_siso_loopback.grc``):
payload bits -> 802.11n LDPC (648, 324) -> 64-QAM -> GNU Radio OFDM (64-point FFT, 48 data +
4 pilot carriers, 16-sample CP, Schmidl & Cox preamble, repeated CRC header) at 20 Msps ->
EPA-like fading, CFO, sampling-rate offset, noise -> GNU Radio's Schmidl & Cox sync,
header/payload demux and FFT -> the module's channel/noise estimation, pilot phase tracking,
exact soft demapper -> LLR storage (float, learned soft-bit codec, uniform scalar) -> GNU Radio's
LDPC decoder -> codeword error counter.

Flowgraph 2 (2x2 MIMO-OFDM, ``examples/mimo_ofdm_loopback.grc``): two streams of real OFDM
(GNU Radio carrier allocator, IFFT, cyclic prefix) through EPA-like multipath per antenna pair,
CFO and noise in the time domain; two receive chains sharing one Schmidl & Cox timing/CFO
estimate, LS channel estimation per antenna pair from time-orthogonal training symbols refined
with the decoder's help (validated codewords and soft decisions), ``mimo_detector``: see :mod:`gnuradio.deepquant.apps.mimo_ofdm`.

Prints a table (FER per method and SNR, stored bits per soft bit, samples/s through the
receive flowgraph vs the 20 Msps real-time rate), writes PNG plots and JSON, and ends with a
``RESULT {json}`` line. ``deepquant demo quantizer`` runs the earlier quantizer loopback.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

DEFAULT_SNR_DB = (18.0, 22.0, 26.0)
DEFAULT_METHODS = ("none", "learned", "uniform")
METHOD_LABELS = {
    "none": "float LLRs (32 bit)",
    "learned": "learned soft-bit codec",
    "uniform": "uniform scalar",
    "uniform-ec": "uniform + entropy coding",
    "maxmi": "max-MI scalar",
    "int8": "int8",
    "deepllr": "deep LLR quantization",
}

MIMO_LABELS = {
    "lmmse": "LMMSE",
    "exact_ml": "exact ML",
    "maxlog_ml": "max-log ML",
    "zf_sic": "ZF-SIC",
    "ep": "EP",
    "eqnet_l": "EQ-Net-L (learned)",
    "eqnet_p": "EQ-Net-P (learned)",
    "eqnet_p+q6": "EQ-Net-P + EQ-Net storage",
}


def run_siso(
    snr_db=DEFAULT_SNR_DB, methods=DEFAULT_METHODS, packets=120, cfo=0.15, sro_ppm=10.0, seed=1, progress=print
):
    """Flowgraph 1 at each SNR and LLR storage method; returns a list of result dicts."""
    from . import ofdm_flowgraphs as fg

    iq, starts = fg.transmit(packets)
    rows = []
    for i, s in enumerate(snr_db):
        for m in methods:
            r = fg.receive(iq, starts, float(s), cfo, sro_ppm, "epa_block", m, seed=seed * 100 + i)
            r["flowgraph"] = "siso_ofdm"
            rows.append(r)
            progress(
                f"  flowgraph 1  {s:5.1f} dB  {m:>10}: FER {r['fer']:.4f}  "
                f"({r['codeword_errors']}/{r['codewords']} codewords, {r['lost_packets']} packets lost)"
            )
    return rows


def run_harq(snr_db, packets=120, cfo=0.15, sro_ppm=10.0, seed=1, method="learned", progress=print):
    """Flowgraph 1 in HARQ retransmission mode at one SNR: P packets (a multiple of 16 near
    ``packets / 2``) each sent twice, packet P + n retransmitting packet n; failed packets are
    kept compressed (``method``) in ``harq_buffer`` and chase-combined with their retransmission."""
    from . import ofdm_flowgraphs as fg

    p = 16 * max(1, -(-int(packets) // 32))
    iq, starts = fg.transmit(2 * p)
    r = fg.receive(
        iq, starts, float(snr_db), cfo, sro_ppm, "epa_block", seed=seed * 100 + 99, harq_period=p, harq_method=method
    )
    r["flowgraph"] = "siso_ofdm_harq"
    h = r["harq"]
    progress(
        f"  flowgraph 1  {snr_db:5.1f} dB  HARQ ({method}): FER first transmission {h['fer_first_tx']:.4f} -> "
        f"after one retransmission {h['fer_after_harq']:.4f} ({h['retransmissions_needed']}/{p} packets "
        f"retransmitted, {h['stored_bits_per_llr']:.2f} bits/LLR stored)"
    )
    return r


def _ci(r):
    """95% Clopper-Pearson interval of a row's codeword error rate."""
    from ..stats import clopper_pearson

    return clopper_pearson(r["codeword_errors"], r["codewords"])


def _fer_cell(r) -> str:
    lo, hi = _ci(r)
    return f"{r['fer']:.3f} [{lo:.3f},{hi:.3f}]"


def _curve(ax, pts, style, label, dx=0.0):
    """FER with its 95% interval as error bars; a point with no error seen is drawn at its upper
    bound as a down-pointing triangle (the true FER lies below it). ``dx`` (dB) shifts the curve
    sideways so that methods with equal counts stay visible."""
    x = np.array([r["snr_db"] for r in pts], float) + dx
    fer = np.array([r["fer"] for r in pts], float)
    lo, hi = np.array([_ci(r) for r in pts], float).T
    seen = fer > 0
    line = ax.semilogy(x[seen], fer[seen], style, label=label)[0]
    ax.errorbar(
        x[seen],
        fer[seen],
        yerr=[fer[seen] - np.maximum(lo[seen], 1e-4), hi[seen] - fer[seen]],
        fmt="none",
        ecolor=line.get_color(),
        capsize=3,
        alpha=0.8,
    )
    if (~seen).any():
        ax.semilogy(x[~seen], hi[~seen], "v", color=line.get_color(), markersize=8, markerfacecolor="none")
        ax.vlines(x[~seen], 1e-4, hi[~seen], colors=line.get_color(), linestyles=":", alpha=0.6)
    ok = np.isfinite(x) & seen
    if ok.sum() > 1:  # join seen points and upper bounds in SNR order, like a curve
        order = np.argsort(x)
        ax.semilogy(x[order], np.where(seen, fer, hi)[order], "-", color=line.get_color(), alpha=0.35)


def _lost_notes(ax, rows):
    """Write under each SNR how many packets were lost (missed sync or header): a lost packet
    counts as errors for all its codewords and for every method alike."""
    lost = {}
    for r in rows:
        lost[r["snr_db"]] = max(lost.get(r["snr_db"], 0), int(r.get("lost_packets", 0)))
    for snr, n in lost.items():
        if n:
            ax.annotate(f"{n} packet{'s' if n > 1 else ''} lost", (snr, 1.5e-4), ha="center", fontsize=7, color="0.3")


def _plot(rows, mimo_rows, out: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = 2 if mimo_rows else 1
    fig, axes = plt.subplots(1, n, figsize=(6.4 * n, 4.8), squeeze=False)
    ax = axes[0][0]
    ms = sorted({r["softbit_method"] for r in rows})
    for i, m in enumerate(ms):
        pts = [r for r in rows if r["softbit_method"] == m]
        bits = np.nanmean([r["stored_bits_per_llr"] for r in pts])
        cw = pts[0]["codewords"]
        _curve(
            ax,
            pts,
            "os^DP"[i % 5],
            f"{METHOD_LABELS.get(m, m)} ({bits:.2f} bits/LLR, {cw} codewords/point)",
            dx=0.12 * (i - (len(ms) - 1) / 2),
        )
    _lost_notes(ax, rows)
    ax.set_title("Flowgraph 1: SISO OFDM, 64-QAM, EPA, CFO 0.15, real sync", fontsize=10)
    ax.set_xlabel("SNR per subcarrier (dB)")
    ax.set_ylabel("codeword error rate, 95% Clopper-Pearson interval\n(\u25bd = no error seen: upper bound)")
    ax.set_ylim(1e-4, 1.5)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    if mimo_rows:
        ax = axes[0][1]
        ms = sorted({r["method"] for r in mimo_rows})
        for i, m in enumerate(ms):
            pts = [r for r in mimo_rows if r["method"] == m]
            _curve(
                ax,
                pts,
                "soD^P"[i % 5],
                f"{MIMO_LABELS.get(m, m)} ({pts[0]['codewords']} codewords/point)",
                dx=0.1 * (i - (len(ms) - 1) / 2),
            )
        _lost_notes(ax, mimo_rows)
        ax.set_title("Flowgraph 2: 2x2 MIMO-OFDM, 64-QAM, EPA, CFO 0.1, real sync", fontsize=10)
        ax.set_xlabel("SNR (dB)")
        ax.set_ylim(1e-4, 1.5)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.text(
        0.5,
        0.005,
        "Intervals treat codewords as independent; codewords of one packet share its channel "
        "and a lost packet counts for all of them, so the real uncertainty is larger.",
        ha="center",
        fontsize=7,
        color="0.35",
    )
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(out / "demo_fer.png", dpi=110)
    plt.close(fig)


def run(
    snr_db=DEFAULT_SNR_DB,
    methods=DEFAULT_METHODS,
    packets=200,
    mimo=True,
    mimo_methods=None,
    mimo_snr_db=(22.0, 25.0, 28.0),
    mimo_packets=100,
    out="out/demo",
    harq=True,
) -> dict:
    """Run the demo; prints the table and the RESULT line, writes JSON and PNG under ``out``."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from . import ofdm_flowgraphs as fg

    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    print(
        f"Flowgraph 1: SISO OFDM receiver with Schmidl & Cox sync ({packets} packets = {packets * 4} LDPC "
        f"codewords per point, {fg.SAMP_RATE / 1e6:g} Msps, CFO 0.15 subcarrier, SRO 10 ppm, EPA-like fading)"
    )
    rows = run_siso(snr_db, methods, packets)
    harq_row = run_harq(min(snr_db), packets) if harq else None
    mimo_rows = []
    if mimo:
        from . import mimo_ofdm

        mimo_methods = tuple(mimo_methods or mimo_ofdm.DEMO_METHODS)
        print(
            f"Flowgraph 2: 2x2 MIMO-OFDM in the time domain, EPA-like per antenna pair, CFO 0.1 subcarrier, "
            f"shared Schmidl & Cox sync, LS training ({mimo_packets} packets = {mimo_packets * 8} codewords per point)"
        )
        mimo_rows = mimo_ofdm.run_demo(mimo_snr_db, mimo_methods, mimo_packets)
    print()
    print("FER per codeword with its 95% Clopper-Pearson interval [lo,hi]:")
    print(
        f"{'flowgraph':<12} {'method':<26} "
        + " ".join(f"{'FER@%gdB' % s:>19}" for s in snr_db)
        + f" {'bits/LLR':>9} {'samples/s':>10} {'x real time':>11}"
    )
    summary = {}
    for m in methods:
        pts = [r for r in rows if r["softbit_method"] == m]
        sps = float(np.median([r["samples_per_s"] for r in pts]))
        bits = float(np.nanmean([r["stored_bits_per_llr"] for r in pts]))
        print(
            f"{'1 SISO OFDM':<12} {METHOD_LABELS.get(m, m):<26} "
            + " ".join(f"{_fer_cell(r):>19}" for r in pts)
            + f" {bits:>9.2f} {sps:>10.3g} {sps / fg.SAMP_RATE:>11.4f}"
        )
        summary[f"siso_{m}"] = {
            "fer": {f"{r['snr_db']:g}": r["fer"] for r in pts},
            "fer_ci95": {f"{r['snr_db']:g}": [round(v, 5) for v in _ci(r)] for r in pts},
            "codewords_per_point": pts[0]["codewords"],
            "stored_bits_per_llr": bits,
            "samples_per_s": sps,
        }
    if harq_row:
        h = harq_row["harq"]
        print(
            f"{'1 + HARQ':<12} {'chase combining, learned':<26} FER {h['fer_first_tx']:.4f} (first transmission) -> "
            f"{h['fer_after_harq']:.4f} (after one retransmission) at {harq_row['snr_db']:g} dB; "
            f"{h['retransmissions_needed']}/{h['packets']} packets retransmitted; HARQ buffer "
            f"{h['stored_bits_per_llr']:.2f} bits/LLR ({h['float_bytes_per_packet']} B per packet as float), "
            f"peak {h['peak_bytes_stored']} B"
        )
        summary["siso_harq"] = {
            "snr_db": harq_row["snr_db"],
            **{
                k: h[k]
                for k in (
                    "fer_first_tx",
                    "fer_after_harq",
                    "retransmissions_needed",
                    "packets",
                    "stored_bits_per_llr",
                    "peak_bytes_stored",
                )
            },
        }
    if mimo_rows:
        msnr = sorted({r["snr_db"] for r in mimo_rows})
        for m in mimo_methods:
            pts = [r for r in mimo_rows if r["method"] == m]
            if not pts:
                continue
            sps = float(np.median([r["samples_per_s"] for r in pts]))
            print(
                f"{'2 MIMO 2x2':<12} {MIMO_LABELS.get(m, m):<26} "
                + " ".join(f"{_fer_cell(r):>19}" for r in pts)
                + f" {pts[0].get('stored_bits_per_llr', 32.0):>9.2f} {sps:>10.3g} {sps / pts[0]['samp_rate']:>11.4f}"
                + f"   (SNRs {', '.join('%g' % s for s in msnr)} dB)"
            )
            summary[f"mimo_{m}"] = {
                "fer": {f"{r['snr_db']:g}": r["fer"] for r in pts},
                "fer_ci95": {f"{r['snr_db']:g}": [round(v, 5) for v in _ci(r)] for r in pts},
                "codewords_per_point": pts[0]["codewords"],
                "samples_per_s": sps,
            }
    print(
        f"(samples/s: receive flowgraph incl. impairments, one process, torch 1 thread; real time = "
        f"{fg.SAMP_RATE / 1e6:g} Msps; float LLRs are stored as 32-bit floats)"
    )
    if mimo_rows:
        lost = {}
        for r in mimo_rows:
            lost.setdefault(r["snr_db"], r["lost_packets"])
        print(
            "(FER includes lost packets -- missed Schmidl & Cox triggers, failed headers -- as all their codewords; "
            "flowgraph 2 lost "
            + ", ".join(f"{n} at {s:g} dB" for s, n in sorted(lost.items()))
            + f" of {mimo_rows[0]['frames']} packets, the same for every detector)"
        )
    _plot(rows, mimo_rows, outp)
    result = {"siso": rows, "siso_harq": harq_row, "mimo": mimo_rows, "wall_s": time.time() - t0}
    (outp / "demo.json").write_text(json.dumps(result, indent=2))
    print(f"wrote {outp / 'demo.json'} and {outp / 'demo_fer.png'}  ({time.time() - t0:.0f} s)")
    summary["wall_s"] = round(time.time() - t0, 1)
    summary["samp_rate_hz"] = fg.SAMP_RATE
    print("RESULT " + json.dumps(summary))
    return result


HELP = """\
The main demo: complete GNU Radio receivers built from the module's blocks, run headless.

Flowgraph 1 -- SISO OFDM with real synchronisation (examples/ofdm_siso_loopback.grc; GUI
variant examples/ofdm_siso_loopback_qt.grc):
  reference payload bits -> OFDM Transmitter [802.11n LDPC (648,324), 64-QAM, GNU Radio
  carrier allocator / IFFT / cyclic prefix, Schmidl & Cox preamble, CRC header] -> OFDM Channel
  Impairments [EPA-like fading, CFO 0.15 subcarrier, SRO 10 ppm, noise] -> OFDM Receiver
  [GNU Radio ofdm_sync_sc_cfb + header_payload_demux + FFT; the module's channel/noise
  estimator, pilot phase tracker, exact soft demapper, soft-bit compressor/decompressor,
  GNU Radio LDPC decoder] -> OFDM FER Counter.
  Table: codeword error rate per LLR storage method (float / learned codec / uniform scalar)
  and SNR, stored bits per soft bit, and receive-flowgraph samples/s vs 20 Msps real time.
  HARQ row (at the lowest --snr-db; --no-harq skips it): retransmission mode -- every packet is
  sent again P packets later, ofdm_rx keeps failed packets' LLRs compressed in harq_buffer
  (learned codec) and chase-combines them with the retransmission; FER of the first
  transmission and after one retransmission, stored bits per LLR, peak buffer bytes.

Flowgraph 2 -- 2x2 MIMO-OFDM in the time domain (examples/mimo_ofdm_loopback.grc; GUI variant
  examples/mimo_ofdm_loopback_qt.grc): reference bits -> MIMO-OFDM Transmitter [802.11n LDPC,
  64-QAM, two streams of GNU Radio OFDM (carrier allocator / IFFT / cyclic prefix), Schmidl & Cox
  word, time-orthogonal training symbols per antenna, CRC header] -> MIMO-OFDM Channel
  Impairments [EPA-like taps per antenna pair, CFO 0.1 subcarrier, noise] -> MIMO-OFDM Receiver
  [two receive chains sharing one GNU Radio Schmidl & Cox timing/CFO estimate, header/payload
  demux and FFT per chain, LS channel per antenna pair smoothed over frequency, sigma^2, pilot
  phase tracking, decoder-aided re-estimation of the channel] -> MIMO Detector (method switchable in GRC: EQ-Net-P and EQ-Net-L with the
  shipped 2x2 64-QAM models, exact ML, max-log ML, LMMSE, ZF-SIC) -> [EQ-Net-quantized LLR
  storage] -> GNU Radio LDPC decoder -> OFDM FER Counter. Table: FER per detector
  (--mimo-methods, default lmmse exact_ml eqnet_l eqnet_p eqnet_p+q6) at 22/25/28 dB.
  FER vs SNR with more packets: scripts/reproduce_mimo_ofdm.py (--domain frequency: the
  ideal-sync frequency-domain reference).

Flowgraph 3 -- MU-MISO downlink with symbol-level precoding (not part of this demo's table;
  examples/slp_downlink.grc headless, examples/slp_downlink_qt.grc with per-user constellations,
  running SER, average transmit power and a precoding-method chooser): random QPSK for 4 users ->
  SLP Precoder (learned SLP-DNet with fp32 / binary / ternary / SQ weights, optimisation SLP,
  block-level, zero forcing) -> MU-MISO channel -> per-user PSK detection. Numbers:
  scripts/reproduce_slp.py.

Open a flowgraph in GNU Radio Companion (with the module's blocks on the path):
  deepquant grc examples/ofdm_siso_loopback_qt.grc
Compile and run the headless one:
  deepquant grc --compile -o /tmp examples/ofdm_siso_loopback.grc && venv/bin/python /tmp/ofdm_siso_loopback.py

`deepquant demo quantizer` runs the low-resolution ADC loopback (examples/quantizer_loopback.grc).
"""
