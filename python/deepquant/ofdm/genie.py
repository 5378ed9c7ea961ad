"""Frequency-domain genie reference for the OFDM loopback: the same payloads, code, mapping,
EPA-like block fading, per-subcarrier SNR, soft-bit storage and GNU Radio LDPC decoder as the
flowgraph, with perfect synchronisation, the true channel and the true noise variance."""

from __future__ import annotations

import numpy as np

from ..phy import ldpc, mapping
from . import channel, reference
from .layout import OfdmLayout


def genie_fer(
    layout: OfdmLayout,
    snr_db: float,
    n_packets: int,
    samp_rate: float = 20e6,
    seed: int = 0,
    softbit_method: str = "none",
    softbit_bits: int = 0,
    ref_seed: int = 1,
    period: int = 16,
    max_iter: int = 50,
) -> dict:
    """Codeword error rate with genie CSI over ``n_packets`` packets (each its own EPA draw).

    Returns dict with ``codewords``, ``codeword_errors``, ``fer``, ``bit_errors``."""
    rng = np.random.default_rng(seed)
    ref = reference.reference_bits(ref_seed, period, layout.info_bits)
    delays, powers = channel.epa_integer_profile(samp_rate)
    nd, t = len(layout.occupied), layout.payload_ofdm_symbols
    k = layout.bits_per_symbol
    nv = 10 ** (-snr_db / 10)
    pk = np.arange(n_packets) % period
    info = ref[pk].reshape(-1, ldpc.K)  # [P*ncw, 324]
    cw = np.asarray(ldpc.encode(info), dtype=np.uint8)  # [P*ncw, 648]
    bits = cw.reshape(n_packets, layout.data_symbols, k)
    pts = mapping.constellation(k)
    x = pts[bits @ (1 << np.arange(k - 1, -1, -1))]  # [P, S]
    g = channel.draw_taps(rng, delays, powers, n_packets)
    h = channel.frequency_response(g, np.asarray(layout.occupied), layout.fft_len)  # [P, nd]
    h = np.repeat(h[:, None, :], t, axis=1).reshape(n_packets, -1)  # carrier order per symbol
    noise = (rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape)) * np.sqrt(nv / 2)
    y = h * x + noise
    llr = np.asarray(
        mapping.demap_exact(y.astype(np.complex64), h.astype(np.complex64), np.float32(nv), k), dtype=np.float32
    ).reshape(-1, ldpc.N)
    if softbit_method != "none":
        from ..softbit import make_codec

        opts = (
            {"bits": int(softbit_bits)}
            if softbit_bits and softbit_method in ("uniform", "uniform-ec", "maxmi", "maxmi-ec")
            else {}
        )
        codec = make_codec(softbit_method, k, "", **opts)
        llr = codec.roundtrip(llr.reshape(-1, ldpc.N // k, k)).reshape(-1, ldpc.N)
    dec = np.asarray(ldpc.decode_batch(llr, max_iter=max_iter, workers=1), dtype=np.uint8)
    err = dec.reshape(-1, ldpc.K) != info
    cwe = int(err.any(axis=1).sum())
    return {
        "codewords": int(info.shape[0]),
        "codeword_errors": cwe,
        "fer": cwe / info.shape[0],
        "bit_errors": int(err.sum()),
        "nd": nd,
    }
