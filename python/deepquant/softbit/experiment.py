"""Paired link-level experiments for the soft-bit codecs on EPA OFDM (test channels never seen
in training): every method compresses the *same* LLRs (same messages, channels and noise), so
differences between methods are not blurred by independent Monte-Carlo noise.

Chain per codeword: 324 random bits -> 802.11n (648, 324) LDPC -> 38.211 QAM on 648/K
consecutive 15 kHz subcarriers of one EPA realisation -> AWGN (SNR = 1/sigma^2) -> exact
demapper -> codec (encode -> frame bytes -> decode) -> LLRs clipped to +-DECODER_CLIP -> GNU
Radio BP decoder (50 iterations).

Why the clip: GNU Radio 3.10.5's ``ldpc_decoder`` works with likelihood ratios ``exp(L)`` in
float and shows an error floor that grows with the LLR magnitude.  Measured on AWGN 64-QAM at
14 dB (3000 codewords): BLER 0 / 7e-4 / 1.7e-3 / 2.7e-3 / 9e-2 with inputs clipped at 6 / 10 / 14
/ 18 / 50 (``phy.ldpc.LLR_CLIP``), while at 11-12 dB (waterfall) clipping at 6-10 costs nothing.
All methods, the float reference included, are clipped the same way.

Exact zero LLRs: the same decoder fails on them.  Measured (EPA 64-QAM, 20 dB, 300 codewords):
int8 LLRs (1.7 % exact zeros after rounding) 224 block errors, the same LLRs with zeros replaced
by +1e-3: as float (11).  Every method's decoder input gets ``L == 0 -> +1e-3``.
"""

from __future__ import annotations

import time
from typing import Dict

import numpy as np

from . import data, entropy
from .codec import AutoencoderCodec, ScalarCodec
from .frame import HEADER_BYTES

DECODER_CLIP = 8.0
ZERO_LLR = 1e-3  # exact zeros are replaced by this before decoding (see the module docstring)


def symbols_of(codec, llr_rows: np.ndarray, snr_db):
    """The coded symbols of a codec for LLR rows (n, K) (None for int8) and the alphabet size."""
    if isinstance(codec, AutoencoderCodec):
        return codec.latents(llr_rows), 64
    if isinstance(codec, ScalarCodec) and codec.method != "int8":
        qset = codec.quantizer_set(snr_db) if codec.method.startswith("maxmi") else 0
        return codec.indices(llr_rows, qset), 2**codec.bits
    return None, None


def run_point(
    k: int,
    snr_db: float,
    n_cw: int,
    codecs: Dict[str, object],
    rng: np.random.Generator,
    oracle_snr: bool = True,
    workers: int = 2,
    max_iter: int = 50,
    layout: str = "spread",
    container_frames: int = 16,
    keep_failed: bool = False,
) -> dict:
    """One SNR point for all codecs on shared LLRs.

    Returns a dict ``{"float": {...}, name: {...}}`` with per-method ``block_errors``, ``bler``
    and, for codecs, ``payload_bits_per_softbit`` (mean over frames, header excluded),
    ``frame_bits_per_softbit`` (header included), ``entropy_bits_per_softbit`` (empirical
    entropy of the coded symbols over all frames of the point: per-stream marginals for scalar
    quantizers — the rate of an ideal memoryless coder of their indices — and the chain
    factorisation ``H(z0) + H(z1|z0) + H(z2|z1)`` for the autoencoders whose model uses the
    chain coder), ``container_bits_per_softbit`` (everything a :mod:`.container` buffer of
    ``container_frames`` consecutive frames stores, header, records and CRC32 trailer included,
    no per-record CRC), and ``encode_s``/``decode_s`` (wall time).  With ``keep_failed`` every
    entry (float too) also lists ``failed_codewords``, the indices of its block errors, for paired
    comparisons between methods (see :func:`paired_difference`).
    """
    from ..phy import ldpc

    llr, info = data.epa_frames(k, snr_db, n_cw, rng, layout)
    nbits = llr.shape[1] * k
    res = {}

    def failed_of(l):
        l2 = np.clip(l.reshape(n_cw, -1)[:, : data.N_CODE], -DECODER_CLIP, DECODER_CLIP)
        l2[l2 == 0] = ZERO_LLR
        dec = ldpc.decode_batch(l2, max_iter=max_iter, workers=workers)
        return np.nonzero((np.asarray(dec) != info).any(axis=1))[0]

    def entry(failed):
        d = {"block_errors": int(failed.size), "bler": failed.size / n_cw}
        if keep_failed:
            d["failed_codewords"] = failed.tolist()
        return d

    res["float"] = entry(failed_of(llr))
    for name, codec in codecs.items():
        s = snr_db if oracle_snr else None
        t0 = time.perf_counter()
        frames = codec.encode_frames(llr, snr_db=s)
        t1 = time.perf_counter()
        rec = np.stack(codec.decode_frames(frames))
        t2 = time.perf_counter()
        failed = failed_of(rec)
        sizes = np.array([len(f) for f in frames], dtype=np.float64)
        cont = sum(
            len(codec.encode_container(llr[i : i + container_frames], snr_db=s))
            for i in range(0, n_cw, container_frames)
        )
        sym, m = symbols_of(codec, llr.reshape(-1, k), s)
        if sym is None:
            ent = None
        elif isinstance(getattr(codec, "coder", None), (entropy.ChainCoder, entropy.RansChainCoder)):
            ent = entropy.chain_entropy_bits(sym, m) / k
        else:
            ent = entropy.entropy_bits(sym, m) / k
        res[name] = {
            **entry(failed),
            "payload_bits_per_softbit": float(np.mean(sizes - HEADER_BYTES) * 8 / nbits),
            "frame_bits_per_softbit": float(np.mean(sizes) * 8 / nbits),
            "container_bits_per_softbit": float(cont * 8 / (n_cw * nbits)),
            "entropy_bits_per_softbit": ent,
            "encode_s": t1 - t0,
            "decode_s": t2 - t1,
        }
    return res


def paired_difference(a: dict, b: dict, n_cw: int) -> dict:
    """BLER of method ``a`` minus BLER of ``b`` on the same codewords (entries of :func:`run_point`
    with ``keep_failed``), with its paired standard error.

    Only the discordant codewords carry information: ``n_a`` failed under ``a`` only, ``n_b``
    under ``b`` only; difference ``(n_a - n_b) / n``, standard error
    ``sqrt(n_a + n_b - (n_a - n_b)^2 / n) / n`` (the per-codeword differences are -1, 0 or +1)."""
    fa, fb = set(a["failed_codewords"]), set(b["failed_codewords"])
    na, nb = len(fa - fb), len(fb - fa)
    var = max(na + nb - (na - nb) ** 2 / n_cw, 0.0)
    return {
        "difference": (na - nb) / n_cw,
        "std_error": float(np.sqrt(var)) / n_cw,
        "only_a": na,
        "only_b": nb,
    }
