"""Flowgraph 2 headless: 2x2 MIMO-OFDM (frequency-domain frames, simplified sync) with pilot LS
channel estimation and ``mimo_detector`` (exact ML, LMMSE, ... switchable), GNU Radio's LDPC
decoder and a frame error counter. Same flowgraph: ``examples/mimo_ofdm_loopback.grc``."""
from __future__ import annotations

import time

import numpy as np

SAMP_RATE = 20e6  # the OFDM numerology the frames stand for (64-point FFT, 16-sample CP)


def build(snr_db: float, method: str = "lmmse", n_frames: int = 40, model: str = "epa", nr: int = 2, nt: int = 2,
          seed: int = 0, t_data: int = 9, storage: int = 0):
    """The flowgraph: returns (top_block, dict of its blocks by name).

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
    blks.update({"source": src, "encoder": enc, "mapper": mapper, "s2v": s2v, "framer": framer, "channel": chan,
                 "estimator": est, "detector": det, "v2s": v2s, "decoder": dec, "counter": cnt})
    return tb, blks


def run(snr_db: float, method: str = "lmmse", n_frames: int = 40, model: str = "epa", nr: int = 2, nt: int = 2,
        seed: int = 0, t_data: int = 9, storage: int = 0) -> dict:
    """One point: FER of 8-codeword frames (2 streams x 9 OFDM symbols x 48 carriers x 64-QAM)."""
    tb, b = build(snr_db, method, n_frames, model, nr, nt, seed, t_data, storage)
    chan, est, cnt = b["channel"], b["estimator"], b["counter"]
    t0 = time.perf_counter()
    tb.run()
    dt = time.perf_counter() - t0
    samples = n_frames * (nt + t_data) * 80  # time-domain samples these frames stand for
    tv = chan.noise_var
    return {"snr_db": float(snr_db), "method": method, "model": model, "frames": n_frames, "codewords": cnt.frames,
            "codeword_errors": cnt.frame_errors, "fer": cnt.fer(), "samples_per_s": samples / dt, "samp_rate": SAMP_RATE,
            "storage": f"eqnet-q{storage}" if storage else "float",
            "stored_bits_per_llr": b["quantizer"].stored_bits_per_llr() if storage else 32.0,
            "noise_var_true": tv, "noise_var_est_mean": float(np.mean(est.noise_var_history)) if est.noise_var_history else None,
            "wall_s": dt}


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


def run_demo(snr_db=(20.0, 24.0, 28.0), methods=DEMO_METHODS, n_frames=60, model="epa", progress=print):
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
            progress(f"  flowgraph 2  {s:5.1f} dB  {m:>10}: FER {r['fer']:.4f}  ({r['codeword_errors']}/{r['codewords']} codewords)")
    return rows
