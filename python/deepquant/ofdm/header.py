"""The OFDM packet header of ``ofdm_tx`` / ``ofdm_rx``: 16-bit packet number, 8-bit codeword
count, CRC-8, sent 3 times over 2 BPSK symbols of 48 data carriers (replicas 16-32 carriers
apart) and combined by maximum-ratio combining at the receiver.

GNU Radio's ``packet_header_ofdm`` sends its 32 header bits once, uncoded: over EPA fading at
22 dB it lost 6-9 % of the packets (a single faded carrier breaks the CRC) while the LDPC-coded
payload failed in under 1 %. Repetition over frequency gives the header diversity 3.
"""

from __future__ import annotations

import functools

import numpy as np

HEADER_BITS = 32
REPEAT = 3
NUM_MODULO = 1 << 16


def crc8(bits: np.ndarray) -> np.ndarray:
    """CRC-8 (polynomial x^8 + x^2 + x + 1, init 0) of bit rows [..., n] -> [..., 8] (MSB first)."""
    b = np.asarray(bits, dtype=np.uint8)
    if b.ndim == 1:  # one row (every header): the same register loop on Python ints
        r = 0
        for v in b.tolist():
            fb = ((r >> 7) & 1) ^ v
            r = ((r << 1) & 0xFF) ^ (fb * 0x07)
        return np.array([(r >> s) & 1 for s in range(7, -1, -1)], dtype=np.uint8)
    reg = np.zeros(b.shape[:-1], dtype=np.int64)
    for i in range(b.shape[-1]):
        fb = ((reg >> 7) & 1) ^ b[..., i]
        reg = ((reg << 1) & 0xFF) ^ (fb * 0x07)
    return ((reg[..., None] >> np.arange(7, -1, -1)) & 1).astype(np.uint8)


def header_bits(packet_num: int, n_codewords: int) -> np.ndarray:
    """32 header bits: packet number (16, MSB first), codeword count (8), CRC-8 of those 24."""
    v = ((int(packet_num) % NUM_MODULO) << 8) | (int(n_codewords) & 0xFF)
    b = ((v >> np.arange(23, -1, -1)) & 1).astype(np.uint8)
    return np.concatenate([b, crc8(b)])


def header_symbols(packet_num: int, n_codewords: int, n_carriers: int = 48) -> np.ndarray:
    """BPSK symbols (bit 0 -> -1, 1 -> +1) of the header, repeated to fill whole OFDM symbols."""
    return _header_symbols(int(packet_num) % NUM_MODULO, int(n_codewords), int(n_carriers)).copy()


@functools.lru_cache(maxsize=1024)
def _header_symbols(packet_num: int, n_codewords: int, n_carriers: int) -> np.ndarray:
    n_sym = header_ofdm_symbols(n_carriers)
    rep = np.resize(header_bits(packet_num, n_codewords), n_sym * n_carriers)
    return (2.0 * rep - 1.0).astype(np.complex64)


def header_ofdm_symbols(n_carriers: int) -> int:
    return -(-HEADER_BITS * REPEAT // n_carriers)


def decode_header(z: np.ndarray):
    """MRC statistics ``z = Re(conj(h) y)`` of the header carriers (length a whole number of
    OFDM symbols) -> (packet_num, n_codewords) or None when the CRC fails."""
    z = np.asarray(z, dtype=np.float64).reshape(-1)
    acc = np.zeros(HEADER_BITS)
    np.add.at(acc, np.arange(z.size) % HEADER_BITS, z)
    b = (acc > 0).astype(np.uint8)
    if not np.array_equal(crc8(b[:24]), b[24:]):
        return None
    v = int((b[:24].astype(np.int64) << np.arange(23, -1, -1)).sum())
    return v >> 8, v & 0xFF
