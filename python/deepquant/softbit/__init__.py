"""Entropy-aware soft-bit (LLR) compression for HARQ buffers and relays (paper 001: Arvinte &
Tamir, "Wideband and entropy-aware deep soft bit quantization"), with the baselines.

Public API
----------
``make_codec(method, bits_per_symbol, model='', **options) -> Codec`` with
``codec.encode(llrs[frame_len, K]) -> bytes`` and ``codec.decode(bytes) -> llrs`` (float32);
methods ``learned``, ``deepllr``, ``deepllr-ec``, ``maxmi``, ``maxmi-ec``, ``uniform``,
``uniform-ec``, ``int8`` (see :mod:`.codec`).  Frames: :mod:`.frame` (``FrameError``).
Buffers of many frames with one header (HARQ buffers, relays): ``codec.encode_container`` /
``codec.decode_container``, format in :mod:`.container`.  Scalar baseline design (max-MI by
dynamic programming, uniform): :mod:`.baselines`, ``codec.fit_scalar``.
Training: :mod:`.train` (``deepquant train softbit --config FILE``).  Models and losses:
:mod:`.core`.  Experiments: :mod:`.experiment`.

:func:`compressors` lists the link-level compressors ``softbit-<method>-<K>`` (e.g.
``softbit-learned-6``): ``f(llr[B, n]) -> llr_hat``, every row of ``n`` LLRs one frame;
:mod:`gnuradio.deepquant.registry` offers them by name. Importing this package registers nothing.
"""

from __future__ import annotations

import numpy as np

from .codec import METHODS, Codec, make_codec  # noqa: F401
from .frame import FrameError  # noqa: F401

_CODEC_CACHE = {}


def compressor(method: str, bits_per_symbol: int, **options):
    """A link-level compressor ``f(llr[B, n]) -> llr_hat[B, n]`` (float32): encode -> bytes ->
    decode.  Each row of ``n`` LLRs (multiple of K) is one frame, except when ``n == K`` (one
    channel use per row, as ``evaluate.Link`` passes them): then consecutive groups of
    ``ceil(648 / K)`` rows (one LDPC codeword) form a frame when B is a multiple of it."""
    key = (method, bits_per_symbol, tuple(sorted(options.items())))

    def f(llr):
        c = _CODEC_CACHE.get(key)
        if c is None:
            c = _CODEC_CACHE[key] = make_codec(method, bits_per_symbol, **options)
        x = np.asarray(llr, dtype=np.float32)
        b = x.shape[0]
        if x.ndim == 2 and x.shape[1] == bits_per_symbol:
            per = -(-648 // bits_per_symbol)
            b = b // per if b % per == 0 else 1
        return c.roundtrip(x.reshape(b, -1, bits_per_symbol)).reshape(x.shape)

    return f


def compressors() -> dict:
    """The link-level compressors ``softbit-<method>-<K>`` (K = 6, 8) by name, for
    :mod:`gnuradio.deepquant.registry`."""
    return {f"softbit-{m}-{k}": compressor(m, k) for k in (6, 8) for m in METHODS}
