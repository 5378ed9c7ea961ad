"""Seeded reference payloads shared by a test transmitter and the packet error counter."""
from __future__ import annotations

import numpy as np

#: The OFDM header numbers packets modulo 65536 (16 bits, see :mod:`.header`).
PACKET_NUM_MODULO = 1 << 16


def reference_bits(seed: int, period: int, info_bits: int) -> np.ndarray:
    """The ``period`` payloads a test transmitter repeats: uint8 0/1, shape [period, info_bits].

    Packet number p (as ``ofdm_tx``'s header counts it, from 0) carries ``ref[p % period]``;
    ``period`` must divide 65536 so the mapping survives the header's 16-bit wrap-around."""
    if period < 1 or PACKET_NUM_MODULO % period:
        raise ValueError(f"period must be a power of two dividing {PACKET_NUM_MODULO}, got {period}")
    return np.random.default_rng(int(seed)).integers(0, 2, (int(period), int(info_bits)), dtype=np.uint8)


def reference_stream(seed: int, period: int, info_bits: int) -> list:
    """``reference_bits`` flattened to a list (for ``blocks.vector_source_b(..., repeat=True)``)."""
    return reference_bits(seed, period, info_bits).reshape(-1).tolist()
