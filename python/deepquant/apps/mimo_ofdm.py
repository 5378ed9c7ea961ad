"""Flowgraph 2 headless: 2x2 MIMO-OFDM with ``mimo_detector`` (exact ML, LMMSE, EQ-Net-L/-P
switchable), optional EQ-Net-quantized LLR storage, GNU Radio's LDPC decoder and FER counting.

:func:`run` (used by ``deepquant demo``, ``scripts/reproduce_mimo_ofdm.py``, the tests and
``examples/mimo_ofdm_loopback.grc``) is the time-domain receiver: ``mimo_ofdm_tx`` (real OFDM
modulation per stream: GNU Radio carrier allocator, IFFT, cyclic prefix) -> ``mimo_ofdm_impairments``
(multipath per antenna pair, CFO, noise) -> ``mimo_ofdm_rx`` (two receive chains sharing one
Schmidl & Cox timing/CFO estimate, LS channel per antenna pair from time-orthogonal training
symbols, header, pilot phase tracking, decoder-aided re-estimation) -> detector -> decoder -> ``ofdm_fer_counter``.

:func:`run_fd` is the frequency-domain reference (aligned resource grids, ideal timing and
frequency, the same code, mapping and detectors): it isolates detection and channel estimation
from synchronisation, e.g. to check how much the real sync costs."""

from __future__ import annotations

import time

import numpy as np

from ..tags import LEN_KEY

SAMP_RATE = 20e6  # the OFDM numerology the frames stand for (64-point FFT, 16-sample CP)


def build_fd(
    snr_db: float,
    method: str = "lmmse",
    n_frames: int = 40,
    model: str = "epa",
    nr: int = 2,
    nt: int = 2,
    seed: int = 0,
    t_data: int = 9,
    storage: int = 0,
):
    """The frequency-domain reference flowgraph: returns (top_block, dict of its blocks by name).

    ``storage`` = 5 or 6: the detector's LLRs are stored EQ-Net-quantized (``eqnet_quantizer`` ->
    ``eqnet_dequantizer``, 3 Nt latents of that many bits per channel use: 2.5 or 3 bits per LLR
    for 2x2 64-QAM) before decoding; 0 = float LLRs."""
    from gnuradio import blocks, gr

    from ..blocks.frame_error_counter import frame_error_counter
    from ..blocks.ldpc_blocks import ldpc_decoder_fb, ldpc_encoder_bb
    from ..blocks.mimo_detector import mimo_detector
    from ..blocks.mimo_ofdm import mimo_ofdm_channel, mimo_ofdm_framer, mimo_ofdm_ls_estimator
    from ..blocks.qam_mapper import qam_mapper

    k = 6
    uses = t_data * 48
    bits_per_frame = uses * nt * k // 2  # info bits (rate 1/2)
    if (uses * nt * k) % 648:
        raise ValueError("frame does not hold whole codewords")
    rng = np.random.default_rng(seed + 7)
    info = rng.integers(0, 2, bits_per_frame * n_frames).astype(np.uint8)
    tb = gr.top_block("mimo_ofdm")
    src = blocks.vector_source_b(info.tolist(), False)
    enc, mapper = ldpc_encoder_bb(), qam_mapper(k)
    s2v = blocks.stream_to_vector(gr.sizeof_gr_complex, uses * nt)
    framer = mimo_ofdm_framer(nt, t_data)
    chan = mimo_ofdm_channel(nr, nt, model, snr_db, t_data, seed)
    # i.i.d. Rayleigh per carrier has no frequency correlation to smooth over: raw LS and the
    # true sigma^2 there
    smooth = model != "rayleigh"
    est = mimo_ofdm_ls_estimator(nr, nt, t_data, smooth, smooth, chan.noise_var)
    det = mimo_detector(nr, nt, k, method)
    v2s = blocks.vector_to_stream(gr.sizeof_float, nt * k)
    dec = ldpc_decoder_fb(50)
    cnt = frame_error_counter(324, 0, False)
    tb.connect(src, enc, mapper, s2v, framer, chan, est)
    tb.connect((est, 0), (det, 0))
    tb.connect((est, 1), (det, 1))
    tb.connect((est, 2), (det, 2))
    blks = {}
    if storage:
        from ..blocks.eqnet_blocks import eqnet_dequantizer, eqnet_quantizer

        blks["quantizer"] = eqnet_quantizer(nt, k, int(storage), nr=nr)
        blks["dequantizer"] = eqnet_dequantizer(nt, k, int(storage), nr=nr)
        tb.connect(det, blks["quantizer"], blks["dequantizer"], v2s, dec, (cnt, 1))
    else:
        tb.connect(det, v2s, dec, (cnt, 1))
    tb.connect(src, (cnt, 0))
    blks.update(
        {
            "source": src,
            "encoder": enc,
            "mapper": mapper,
            "s2v": s2v,
            "framer": framer,
            "channel": chan,
            "estimator": est,
            "detector": det,
            "v2s": v2s,
            "decoder": dec,
            "counter": cnt,
        }
    )
    return tb, blks


def run_fd(
    snr_db: float,
    method: str = "lmmse",
    n_frames: int = 40,
    model: str = "epa",
    nr: int = 2,
    nt: int = 2,
    seed: int = 0,
    t_data: int = 9,
    storage: int = 0,
) -> dict:
    """Frequency-domain reference point (ideal sync): FER of 8-codeword frames (2 streams x 9
    OFDM symbols x 48 carriers x 64-QAM)."""
    tb, b = build_fd(snr_db, method, n_frames, model, nr, nt, seed, t_data, storage)
    chan, est, cnt = b["channel"], b["estimator"], b["counter"]
    t0 = time.perf_counter()
    tb.run()
    dt = time.perf_counter() - t0
    samples = n_frames * (nt + t_data) * 80  # time-domain samples these frames stand for
    tv = chan.noise_var
    return {
        "snr_db": float(snr_db),
        "method": method,
        "model": model,
        "frames": n_frames,
        "codewords": cnt.frames,
        "codeword_errors": cnt.frame_errors,
        "fer": cnt.fer(),
        "samples_per_s": samples / dt,
        "samp_rate": SAMP_RATE,
        "storage": f"eqnet-q{storage}" if storage else "float",
        "stored_bits_per_llr": b["quantizer"].stored_bits_per_llr() if storage else 32.0,
        "noise_var_true": tv,
        "noise_var_est_mean": float(np.mean(est.noise_var_history)) if est.noise_var_history else None,
        "wall_s": dt,
        "domain": "frequency",
    }


# --- time domain (the flowgraph 2 of the demo) --------------------------------------------------
REF_SEED = 3
REF_PERIOD = 16
N_CODEWORDS = 8


def transmit(
    n_frames: int,
    nt: int = 2,
    n_codewords: int = N_CODEWORDS,
    ref_seed: int = REF_SEED,
    period: int = REF_PERIOD,
    cp_len: int = 16,
):
    """Run ``mimo_ofdm_tx`` on ``n_frames`` reference payloads; returns (IQ complex64 [nt, S],
    packet starts)."""
    from gnuradio import blocks, gr

    from ..blocks.mimo_ofdm_tx import mimo_ofdm_tx
    from ..ofdm import reference

    tx = mimo_ofdm_tx(nt, n_codewords, cp_len=int(cp_len))
    lay = tx.layout
    tb = gr.top_block("mimo_ofdm_tx_run")
    src = blocks.vector_source_b(reference.reference_stream(ref_seed, period, lay.info_bits), True)
    head = blocks.head(gr.sizeof_char, n_frames * lay.info_bits)
    snks = [blocks.vector_sink_c() for _ in range(nt)]
    tb.connect(src, head, tx)
    for j in range(nt):
        tb.connect((tx, j), snks[j])
    tb.run()
    spp = tx.samples_per_packet()
    iq = np.zeros((nt, n_frames * spp), np.complex64)
    for j in range(nt):
        d = np.asarray(snks[j].data(), dtype=np.complex64)[: n_frames * spp]
        iq[j, : d.size] = d
    return iq, np.arange(n_frames) * spp


_TX_CACHE = {}


def build(
    snr_db: float,
    method: str = "lmmse",
    n_frames: int = 40,
    model: str = "epa",
    nr: int = 2,
    nt: int = 2,
    seed: int = 0,
    storage: int = 0,
    cfo_subcarriers: float = 0.1,
    iq=None,
    starts=None,
    cp_len: int = 16,
    sro_ppm: float = 0.0,
    delay_spread: float = 100e-9,
    taps_post: int = -1,
    timing_advance: int = -1,
    sync_threshold: float = 0.7,
    decision_feedback: bool = True,
    combined_sync: bool = True,
):
    """The time-domain flowgraph (``examples/mimo_ofdm_loopback.grc``): returns (top_block, blocks).

    ``iq``/``starts`` (from :func:`transmit`, made with the same ``cp_len``) are played through
    ``mimo_ofdm_impairments`` (``model`` 'epa', 'flat', 'none' or 'cdla' with ``delay_spread``;
    ``sro_ppm``) -> ``mimo_ofdm_rx`` (``cp_len``, ``taps_post``) -> ``mimo_detector`` ->
    [``eqnet_quantizer`` -> ``eqnet_dequantizer`` when ``storage`` = 5 or 6 bits per latent] ->
    ``ldpc_decoder_fb`` -> ``ofdm_fer_counter``. CDL-A at 100 ns needs ``cp_len=32``.
    ``decision_feedback``: the receiver's decoder-aided re-estimation (``mimo_ofdm_rx``)."""
    import pmt
    from gnuradio import blocks, gr

    from ..blocks.ldpc_blocks import ldpc_decoder_fb
    from ..blocks.mimo_detector import mimo_detector
    from ..blocks.mimo_ofdm_impairments import mimo_ofdm_impairments
    from ..blocks.mimo_ofdm_rx import mimo_ofdm_rx
    from ..blocks.ofdm_fer_counter import ofdm_fer_counter

    k = 6
    if iq is None:
        key = (n_frames, nt, int(cp_len))
        if key not in _TX_CACHE:
            _TX_CACHE.clear()
            _TX_CACHE[key] = transmit(n_frames, nt, cp_len=int(cp_len))
        iq, starts = _TX_CACHE[key]
    spp = int(starts[1] - starts[0]) if len(starts) > 1 else iq.shape[1]
    lead = spp
    tail = 3 * spp
    tb = gr.top_block("mimo_ofdm_td")
    srcs = []
    for j in range(nt):
        sig = np.concatenate([np.zeros(lead, np.complex64), iq[j], np.zeros(tail, np.complex64)])
        tags = (
            [
                gr.tag_utils.python_to_tag((int(s) + lead, pmt.intern(LEN_KEY), pmt.from_long(spp), pmt.intern("tx")))
                for s in starts
            ]
            if j == 0
            else []
        )
        srcs.append(blocks.vector_source_c(sig.tolist(), False, 1, tags))
    chan = mimo_ofdm_impairments(
        nr, nt, snr_db, cfo_subcarriers, model, SAMP_RATE, 64, seed, delay_spread=delay_spread, sro_ppm=sro_ppm
    )
    rx = mimo_ofdm_rx(
        nr,
        nt,
        N_CODEWORDS,
        k,
        cp_len=int(cp_len),
        taps_post=int(taps_post),
        timing_advance=int(timing_advance),
        sync_threshold=float(sync_threshold),
        decision_feedback=bool(decision_feedback),
        combined_sync=bool(combined_sync),
    )
    det = mimo_detector(nr, nt, k, method)
    v2s = blocks.vector_to_stream(gr.sizeof_float, nt * k)
    dec = ldpc_decoder_fb(50)
    cnt = ofdm_fer_counter(N_CODEWORDS, REF_SEED, REF_PERIOD, False)
    for j in range(nt):
        tb.connect(srcs[j], (chan, j))
    for r in range(nr):
        tb.connect((chan, r), (rx, r))
    for i in range(3):
        tb.connect((rx, i), (det, i))
    blks = {}
    if storage:
        from ..blocks.eqnet_blocks import eqnet_dequantizer, eqnet_quantizer

        blks["quantizer"] = eqnet_quantizer(nt, k, int(storage), nr=nr)
        blks["dequantizer"] = eqnet_dequantizer(nt, k, int(storage), nr=nr)
        tb.connect(det, blks["quantizer"], blks["dequantizer"], v2s, dec, cnt)
    else:
        tb.connect(det, v2s, dec, cnt)
    blks.update(
        {
            "sources": srcs,
            "channel": chan,
            "rx": rx,
            "detector": det,
            "v2s": v2s,
            "decoder": dec,
            "counter": cnt,
            "n_samples": int(iq.shape[1] + lead + tail),
        }
    )
    return tb, blks


def run(
    snr_db: float,
    method: str = "lmmse",
    n_frames: int = 40,
    model: str = "epa",
    nr: int = 2,
    nt: int = 2,
    seed: int = 0,
    storage: int = 0,
    cfo_subcarriers: float = 0.1,
    cp_len: int = 16,
    sro_ppm: float = 0.0,
    delay_spread: float = 100e-9,
    taps_post: int = -1,
    timing_advance: int = -1,
    sync_threshold: float = 0.7,
    decision_feedback: bool = True,
    combined_sync: bool = True,
) -> dict:
    """One point of the time-domain flowgraph 2: FER of 8-codeword packets (2 streams x 9 payload
    OFDM symbols x 48 carriers x 64-QAM), lost packets (missed sync or failed header) counted as
    8 codeword errors each. Every detector at one ``seed`` sees the same bits, channels and noise.
    ``cp_len``, ``sro_ppm``, ``delay_spread`` (for ``model='cdla'``), ``taps_post``,
    ``timing_advance``, ``sync_threshold``, ``decision_feedback``, ``combined_sync`` (packet
    detection from every receive chain, ``mimo_ofdm_rx``): see :func:`build`."""
    tb, b = build(
        snr_db,
        method,
        n_frames,
        model,
        nr,
        nt,
        seed,
        storage,
        cfo_subcarriers,
        cp_len=cp_len,
        sro_ppm=sro_ppm,
        delay_spread=delay_spread,
        taps_post=taps_post,
        timing_advance=timing_advance,
        sync_threshold=sync_threshold,
        decision_feedback=decision_feedback,
        combined_sync=combined_sync,
    )
    chan, rx, cnt = b["channel"], b["rx"], b["counter"]
    t0 = time.perf_counter()
    tb.run()
    dt = time.perf_counter() - t0
    missing = max(0, n_frames - cnt.packets - cnt.lost_packets)
    cw = n_frames * N_CODEWORDS
    errs = cnt.codeword_errors + missing * N_CODEWORDS
    nv = rx.noise_var_estimates()
    return {
        "snr_db": float(snr_db),
        "method": method,
        "model": model,
        "frames": n_frames,
        "codewords": cw,
        "codeword_errors": int(errs),
        "fer": errs / cw,
        "lost_packets": int(cnt.lost_packets + missing),
        "headers_ok": int(rx.header_dec.headers_ok()),
        "headers_failed": int(rx.header_dec.headers_failed()),
        "cfo_subcarriers": float(cfo_subcarriers),
        "cp_len": int(cp_len),
        "sro_ppm": float(sro_ppm),
        "delay_spread_s": float(delay_spread) if model == "cdla" else None,
        "samples_per_s": b["n_samples"] / dt,
        "samp_rate": SAMP_RATE,
        "storage": f"eqnet-q{storage}" if storage else "float",
        "stored_bits_per_llr": b["quantizer"].stored_bits_per_llr() if storage else 32.0,
        "decision_feedback": bool(decision_feedback),
        "noise_var_true": chan.noise_var,
        "noise_var_est_mean": float(np.mean(nv)) if nv.size else None,
        "wall_s": dt,
        "domain": "time",
    }


#: the detectors flowgraph 2 compares by default: classical baselines and EQ-Net (paper 002);
#: "<method>+q<b>" stores that detector's LLRs EQ-Net-quantized at b bits per latent
DEMO_METHODS = ("lmmse", "exact_ml", "eqnet_l", "eqnet_p", "eqnet_p+q6")


def split_method(name: str):
    """'eqnet_p+q6' -> ('eqnet_p', 6); 'lmmse' -> ('lmmse', 0)."""
    base, _, q = name.partition("+q")
    return base, int(q) if q else 0


def unavailable(method: str, nr: int = 2, nt: int = 2, k: int = 6):
    """None if ``mimo_detector`` can run ``method`` for (nr, nt, K), else the reason (e.g. no
    shipped EQ-Net model for that configuration)."""
    from ..blocks.mimo_detector import LEARNED, check_params, load_learned

    try:
        check_params(nr, nt, k, method)
        if method in LEARNED:
            load_learned(nr, nt, k, method)
    except (ValueError, OSError) as e:
        return str(e)
    return None


def run_demo(snr_db=(22.0, 25.0, 28.0), methods=DEMO_METHODS, n_frames=60, model="epa", progress=print):
    """Each SNR and detector (the same frames, channels and noise for every detector at one SNR);
    detectors that cannot run here (no shipped model) are skipped with a message."""
    rows = []
    skip = {}
    for m in methods:
        why = unavailable(split_method(m)[0])
        if why:
            skip[m] = why
            progress(f"  flowgraph 2  skipping {m}: {why}")
    for i, s in enumerate(snr_db):
        for m in methods:
            if m in skip:
                continue
            base, storage = split_method(m)
            r = run(s, base, n_frames, model, seed=i, storage=storage)
            r["method"] = m
            rows.append(r)
            progress(
                f"  flowgraph 2  {s:5.1f} dB  {m:>10}: FER {r['fer']:.4f}  ({r['codeword_errors']}/{r['codewords']} codewords, "
                f"{r['lost_packets']} packets lost)"
            )
    return rows
