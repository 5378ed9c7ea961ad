"""Seeded reference payloads shared by a test transmitter and the packet error counter, and the
CRC-32 every payload ends with (so a receiver can tell a good packet without the reference)."""

from __future__ import annotations

import zlib

import numpy as np

#: The OFDM header numbers packets modulo 65536 (16 bits, see :mod:`.header`).
PACKET_NUM_MODULO = 1 << 16
#: bits of the payload CRC (IEEE 802.3 CRC-32, zlib's polynomial and conventions)
CRC_BITS = 32


def crc32_bits(bits: np.ndarray) -> np.ndarray:
    """CRC-32 (``zlib.crc32``) of each row of ``bits`` (uint8 0/1, [..., n]), as 32 bits MSB first.

    The bits are packed MSB first into bytes (``np.packbits``; a last partial byte is zero-padded)."""
    b = np.asarray(bits, dtype=np.uint8)
    rows = b.reshape(-1, b.shape[-1])
    packed = np.packbits(rows & 1, axis=1)
    crc = np.array([zlib.crc32(r.tobytes()) for r in packed], dtype=np.uint32)
    out = ((crc[:, None] >> np.arange(CRC_BITS - 1, -1, -1, dtype=np.uint32)) & 1).astype(np.uint8)
    return out.reshape(b.shape[:-1] + (CRC_BITS,))


def append_crc(bits: np.ndarray) -> np.ndarray:
    """``bits`` [..., n] -> [..., n + 32]: each row followed by its CRC-32."""
    b = np.asarray(bits, dtype=np.uint8)
    return np.concatenate([b, crc32_bits(b)], axis=-1)


def crc_ok(packets: np.ndarray) -> np.ndarray:
    """Bool per row of ``packets`` [..., n]: do the last 32 bits equal the CRC-32 of the rest?"""
    p = np.asarray(packets, dtype=np.uint8) & 1
    if p.shape[-1] <= CRC_BITS:
        raise ValueError(f"a packet with a CRC-32 needs more than {CRC_BITS} bits, got {p.shape[-1]}")
    return np.all(crc32_bits(p[..., :-CRC_BITS]) == p[..., -CRC_BITS:], axis=-1)


def reference_bits(seed: int, period: int, info_bits: int) -> np.ndarray:
    """The ``period`` payloads a test transmitter repeats: uint8 0/1, shape [period, info_bits].

    Each payload is ``info_bits - 32`` seeded random bits followed by their CRC-32
    (:func:`append_crc`), as a MAC frame ends with its FCS: ``packet_crc_check`` acknowledges
    packets from the CRC alone.  Packet number p (as ``ofdm_tx``'s header counts it, from 0)
    carries ``ref[p % period]``; ``period`` must divide 65536 so the mapping survives the
    header's 16-bit wrap-around."""
    if period < 1 or PACKET_NUM_MODULO % period:
        raise ValueError(f"period must be a power of two dividing {PACKET_NUM_MODULO}, got {period}")
    if int(info_bits) <= CRC_BITS:
        raise ValueError(f"info_bits must exceed the {CRC_BITS}-bit CRC, got {info_bits}")
    rnd = np.random.default_rng(int(seed)).integers(0, 2, (int(period), int(info_bits) - CRC_BITS), dtype=np.uint8)
    return append_crc(rnd)


def reference_stream(seed: int, period: int, info_bits: int) -> list:
    """``reference_bits`` flattened to a list (for ``blocks.vector_source_b(..., repeat=True)``)."""
    return reference_bits(seed, period, info_bits).reshape(-1).tolist()
