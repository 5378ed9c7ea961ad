"""Headless OFDM flowgraphs (flowgraph 1: SISO OFDM with real synchronisation) used by
``deepquant demo``, ``scripts/reproduce_ofdm.py``, ``bench/flowgraphs.py`` and the tests.

Transmit and receive run as two flowgraphs, like a recording and its playback: the transmitter
writes the packets' IQ (as it would to a file or an SDR sink); the receiver flowgraph plays it
through the impairments into ``ofdm_rx`` and counts codeword errors with ``ofdm_fer_counter``.
"""

from __future__ import annotations

import time

import numpy as np

from ..ofdm import reference
from ..ofdm.layout import OfdmLayout
from ..tags import LEN_KEY

REF_SEED = 1
REF_PERIOD = 16
SAMP_RATE = 20e6


def transmit(n_packets: int, layout: OfdmLayout | None = None, ref_seed: int = REF_SEED, period: int = REF_PERIOD):
    """Run ``ofdm_tx`` on ``n_packets`` reference payloads; returns (IQ complex64, packet starts)."""
    from gnuradio import blocks, gr

    from ..blocks.ofdm_tx import ofdm_tx

    lay = layout or OfdmLayout()
    tb = gr.top_block("ofdm_tx_run")
    src = blocks.vector_source_b(reference.reference_stream(ref_seed, period, lay.info_bits), True)
    head = blocks.head(gr.sizeof_char, n_packets * lay.info_bits)
    tx = ofdm_tx(lay.fft_len, lay.cp_len, lay.n_codewords, lay.bits_per_symbol)
    snk = blocks.vector_sink_c()
    tb.connect(src, head, tx, snk)
    tb.run()
    iq = np.asarray(snk.data(), dtype=np.complex64)
    starts = np.arange(n_packets) * lay.samples_per_packet
    return iq, starts


def receive(
    iq,
    starts,
    snr_db: float,
    cfo_subcarriers: float = 0.0,
    sro_ppm: float = 0.0,
    fading: str = "epa_block",
    softbit_method: str = "none",
    softbit_bits: int = 0,
    layout: OfdmLayout | None = None,
    seed: int = 0,
    samp_rate: float = SAMP_RATE,
    ref_seed: int = REF_SEED,
    period: int = REF_PERIOD,
    doppler_hz: float = 50.0,
    impairments: bool = True,
    sync_threshold: float = 0.7,
    timing_advance: int = 5,
    harq_period: int = 0,
    harq_method: str = "learned",
    harq_bits: int = 0,
    decision_feedback: bool = True,
) -> dict:
    """Play IQ through ``ofdm_impairments`` -> ``ofdm_rx`` -> ``ofdm_fer_counter``.

    Returns a dict: codewords sent/decoded, codeword errors (lost packets included), ``fer``,
    ``lost_packets``, ``stored_bits_per_llr``, mean estimated and true sigma^2, the receive
    flowgraph's wall time and ``samples_per_s``.

    ``harq_period`` = P > 0 (retransmission mode): the IQ must hold 2P packets, packet P + n the
    retransmission of packet n (:func:`transmit` with ``2 P`` packets and P a multiple of the
    reference period sends exactly that). ``ofdm_rx`` chase-combines every packet with its stored
    earlier transmission in ``harq_buffer``; ``packet_crc_check``'s decision on the earlier
    transmission (its CRC-32 holds: the reference payloads end with one) releases the entry, applied
    in stream order (``harq_wait_decisions``): two runs at one seed give identical results. The result then also holds
    ``harq``: first-transmission FER, FER after one retransmission (a packet fails when its
    first transmission and the combined retransmission both fail), retransmissions needed, the
    buffer's peak bytes and stored bits per LLR."""
    import pmt
    from gnuradio import blocks, gr

    from ..blocks.ofdm_fer_counter import ofdm_fer_counter
    from ..blocks.ofdm_impairments import ofdm_impairments
    from ..blocks.ofdm_rx import ofdm_rx
    from ..blocks.packet_crc_check import packet_crc_check

    lay = layout or OfdmLayout()
    n_packets = len(starts)
    pad = np.zeros(3 * lay.samples_per_packet, np.complex64)
    sig = np.concatenate([pad[: lay.samples_per_packet], iq, pad])
    tags = [
        gr.tag_utils.python_to_tag(
            (
                int(s) + lay.samples_per_packet,
                pmt.intern(LEN_KEY),
                pmt.from_long(lay.samples_per_packet),
                pmt.intern("tx"),
            )
        )
        for s in starts
    ]
    tb = gr.top_block("ofdm_rx_run")
    src = blocks.vector_source_c(sig.tolist(), False, 1, tags)
    if harq_period and (n_packets != 2 * harq_period or harq_period % period):
        raise ValueError(
            f"HARQ mode needs 2 * harq_period packets with harq_period a multiple of the reference period "
            f"{period}; got {n_packets} packets, harq_period {harq_period}"
        )
    rx = ofdm_rx(
        lay.fft_len,
        lay.cp_len,
        lay.n_codewords,
        lay.bits_per_symbol,
        softbit_method,
        softbit_bits,
        sync_threshold=sync_threshold,
        timing_advance=timing_advance,
        harq_period=harq_period,
        harq_method=harq_method,
        harq_bits=harq_bits,
        decision_feedback=decision_feedback,
        harq_wait_decisions=bool(harq_period),
    )
    cnt = ofdm_fer_counter(lay.n_codewords, ref_seed, period, False, harq_period)
    crc = None
    if harq_period:
        # acks from the payload's CRC-32, as a real receiver gets them (not from the reference)
        crc = packet_crc_check(lay.info_bits, harq_period)
        tb.connect((rx, 0), crc)
        # every packet's decision (ack or nack): the combiner applies them in stream order, so the
        # results do not depend on thread timing (issue 18)
        tb_msg = (crc, "decision", rx, "decision")
    if impairments:
        ch = ofdm_impairments(samp_rate, snr_db, cfo_subcarriers, sro_ppm, fading, doppler_hz, lay.fft_len, seed)
        tb.connect(src, ch, rx)
    else:
        ch = None
        tb.connect(src, rx)
    tb.connect((rx, 0), cnt)
    if harq_period:
        tb.msg_connect(*tb_msg)
    tb.connect((rx, 1), blocks.null_sink(gr.sizeof_gr_complex))
    tb.connect((rx, 2), blocks.null_sink(gr.sizeof_gr_complex))
    t0 = time.perf_counter()
    tb.run()
    dt = time.perf_counter() - t0
    decoded_cw = cnt.codewords
    missing = max(0, n_packets - cnt.packets - cnt.lost_packets)  # lost at the end of the stream
    cw = n_packets * lay.n_codewords
    errs = cnt.codeword_errors + missing * lay.n_codewords
    nv_est = rx.noise_var_estimates()
    harq = harq_summary(cnt.errors_by_num, rx.harq, harq_period, lay, harq_method) if harq_period else None
    return {
        "harq": harq,
        "snr_db": float(snr_db),
        "cfo_subcarriers": float(cfo_subcarriers),
        "sro_ppm": float(sro_ppm),
        "fading": fading,
        "softbit_method": softbit_method,
        "packets_sent": int(n_packets),
        "packets_decoded": int(cnt.packets),
        "lost_packets": int(cnt.lost_packets + missing),
        "codewords": int(cw),
        "codewords_decoded": int(decoded_cw),
        "codeword_errors": int(errs),
        "fer": errs / cw if cw else float("nan"),
        "headers_ok": int(rx.header_dec.headers_ok()),
        "headers_failed": int(rx.header_dec.headers_failed()),
        "stored_bits_per_llr": float(rx.stored_bits_per_llr()),
        # NaN/inf (or |x| > 1e18) samples replaced by 0 at the impairments' and receiver's input
        "bad_input_samples": int(rx.guard.bad_count() + (ch.guard.bad_count() if ch is not None else 0)),
        "noise_var_true": float(10 ** (-snr_db / 10)),
        "noise_var_est_mean": float(nv_est.mean()) if nv_est.size else float("nan"),
        "rx_wall_s": dt,
        "samples": int(sig.size),
        "samples_per_s": sig.size / dt,
    }


def harq_summary(errors_by_num: dict, buf, harq_period: int, layout: OfdmLayout, method: str = "") -> dict:
    """HARQ statistics of a retransmission-mode run (packet ``P + n`` retransmits packet ``n``).

    A packet never decoded (lost) counts as failed. First-transmission FER counts codewords of
    packets 0..P-1; after HARQ a packet's codewords are those of the first transmission if it
    decoded without error, else those of the combined retransmission."""
    p, ncw = int(harq_period), layout.n_codewords
    first = [errors_by_num.get(n, ncw) for n in range(p)]
    after = [0 if first[n] == 0 else errors_by_num.get(p + n, ncw) for n in range(p)]
    retx = sum(1 for e in first if e)
    return {
        "packets": p,
        "fer_first_tx": sum(first) / (p * ncw),
        "fer_after_harq": sum(after) / (p * ncw),
        "retransmissions_needed": retx,
        "retransmission_rate": retx / p,
        "harq_method": method,
        "peak_bytes_stored": int(buf.peak_bytes),
        "bytes_stored_at_end": int(buf.bytes_stored()),
        "entries_at_end": int(buf.entries()),
        "frames_stored": int(buf.frames_stored),
        "acks": int(buf.acks),
        "stored_bits_per_llr": float(buf.stored_bits_per_llr()),
        "float_bytes_per_packet": 4 * layout.coded_bits,
    }
