"""Versioned frame format of compressed soft bits.

Layout (big-endian, 22-byte header, then the payload)::

    offset size field
    0      2    magic  b"SB"
    2      1    format version (FORMAT_VERSION = 2: payloads range coded with the module's rANS
                coder; version 1 used constriction's range coder and is refused)
    3      1    method code (see codec.METHOD_CODES)
    4      4    model id (CRC32 of the model's weights and tables; 0 for parameter-free methods)
    8      1    table id (method specific: entropy table of uniform-ec, quantizer set of max-MI,
                rows per table segment of the range-coded autoencoder codecs); in range-coded
                frames bit 7 (codec.PAD_FLAG) marks a padded payload: 4-byte big-endian length R,
                the R-byte rANS payload, zero bytes (see codec.Codec.max_rows)
    9      1    bits per symbol K
    10     4    latent count: coded symbols in the frame (rows x streams)
    14     4    payload length in bytes
    18     4    CRC32 (zlib) of bytes 0..17 followed by the payload
    22     ...  payload

:func:`unpack` validates everything before any payload is decoded and raises
:class:`FrameError` (a ``ValueError``) with a message naming the problem: truncated, bad magic,
unsupported version, foreign model/method/modulation, inconsistent lengths, CRC mismatch.
"""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple, Optional

MAGIC = b"SB"
FORMAT_VERSION = 2
_HDR = struct.Struct(">2sBBIBBII")
_CRC = struct.Struct(">I")
HEADER_BYTES = _HDR.size + _CRC.size  # 22
MAX_LATENTS = 1 << 24


class FrameError(ValueError):
    """A compressed soft-bit frame that cannot be decoded (the message says why)."""


class Header(NamedTuple):
    version: int
    method: int
    model_id: int
    table_id: int
    bits_per_symbol: int
    latent_count: int
    payload_len: int


def pack(method: int, model_id: int, table_id: int, bits_per_symbol: int, latent_count: int, payload: bytes) -> bytes:
    """Header + payload -> frame bytes."""
    if not 0 <= latent_count < MAX_LATENTS:
        raise ValueError(f"latent count {latent_count} outside [0, {MAX_LATENTS})")
    head = _HDR.pack(
        MAGIC, FORMAT_VERSION, method, model_id & 0xFFFFFFFF, table_id, bits_per_symbol, latent_count, len(payload)
    )
    crc = zlib.crc32(payload, zlib.crc32(head))
    return head + _CRC.pack(crc) + payload


def unpack(frame, method: Optional[int] = None, model_id: Optional[int] = None, bits_per_symbol: Optional[int] = None):
    """Validate a frame and split it.

    Parameters
    ----------
    frame : bytes-like
    method, model_id, bits_per_symbol : int, optional
        Expected values; a mismatch raises :class:`FrameError` (a foreign frame).

    Returns
    -------
    header : Header
    payload : bytes
    """
    try:
        frame = bytes(frame)
    except Exception as e:  # noqa: BLE001
        raise FrameError(f"frame is not bytes-like: {type(frame).__name__}") from e
    if len(frame) < HEADER_BYTES:
        raise FrameError(f"truncated frame: {len(frame)} bytes, the header alone is {HEADER_BYTES}")
    magic, ver, meth, mid, tid, k, count, plen = _HDR.unpack_from(frame, 0)
    if magic != MAGIC:
        raise FrameError(f"not a soft-bit frame: magic {magic!r}, expected {MAGIC!r}")
    if ver != FORMAT_VERSION:
        hint = " (made by an older gr-deepquant: re-compress the LLRs)" if ver < FORMAT_VERSION else ""
        raise FrameError(f"unsupported soft-bit frame format version {ver} (this decoder reads {FORMAT_VERSION}){hint}")
    if len(frame) - HEADER_BYTES != plen:
        what = "truncated" if len(frame) - HEADER_BYTES < plen else "oversized"
        raise FrameError(
            f"{what} frame: header announces a {plen}-byte payload, {len(frame) - HEADER_BYTES} bytes follow the header"
        )
    (crc,) = _CRC.unpack_from(frame, _HDR.size)
    payload = frame[HEADER_BYTES:]
    if zlib.crc32(payload, zlib.crc32(frame[: _HDR.size])) != crc:
        raise FrameError("corrupted frame: CRC32 mismatch")
    if method is not None and meth != method:
        raise FrameError(f"foreign frame: method code {meth}, this decoder handles {method}")
    if model_id is not None and mid != (model_id & 0xFFFFFFFF):
        raise FrameError(f"foreign frame: made by model id {mid:#010x}, this decoder holds {model_id:#010x}")
    if bits_per_symbol is not None and k != bits_per_symbol:
        raise FrameError(f"foreign frame: {k} bits per symbol, this decoder expects {bits_per_symbol}")
    if count >= MAX_LATENTS:
        raise FrameError(f"latent count {count} too large")
    return Header(ver, meth, mid, tid, k, count, plen), payload
