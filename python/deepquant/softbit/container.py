"""Buffer container for compressed soft-bit frames (HARQ soft buffers, relays): one header per
buffer or packet, then one compact record per frame.

The per-frame format of :mod:`.frame` spends a 22-byte header on every frame (0.27 bits per soft
bit on a 648-soft-bit frame, 15-18 % of a range-coded payload).  Here the fields every frame of a
buffer shares (method, model id, K, rows per frame, table id) are written once, and a record
carries only its payload length as a varint (1 byte up to 127 payload bytes, 2 up to 16383),
plus, when the writer asks for it, a per-record CRC.

Layout (container version 1; big-endian fixed fields, varints LEB128: 7 bits per byte, low
group first, high bit = more)::

    offset size   field
    0      2      magic b"SC"
    2      1      container version (CONTAINER_VERSION)
    3      1      method code (codec.METHOD codes, as in the frame header)
    4      4      model id (CRC32 of the model file's tensors; 0 for int8)
    8      1      bits per symbol K
    9      1      flags: bits 0-1 record CRC (0 none, 1 CRC-16/CCITT, 2 CRC-32),
                  bit 2 table id per record, bit 3 row count per record; other bits 0
    10     1      table id of every record (when bit 2 is clear; else 0)
    11     1-3    varint rows per record (when bit 3 is clear; else 0)
    ...           records, each:
                    [varint rows]      (bit 3)
                    [1 byte table id]  (bit 2)
                    varint payload length
                    payload
                    [CRC]              (2 or 4 bytes: CRC of the header bytes, then of the record
                                        bytes before it, so that a record that checks also
                                        vouches for the header it is read with)
    end-4  4      CRC32 (zlib) of every byte before it

Reading: the header is validated first (magic, version, method, model, K, flags), then records
are parsed until the trailer; a whole-buffer CRC mismatch rejects the buffer unless the records
carry their own CRCs, in which case the records that check are still returned and the others
are reported (a relay can forward what survived).  Appending a record to a buffer costs
O(record): the trailer is the CRC32 of the bytes before it, updated incrementally
(:func:`append`).

Bounded work: the reader never does more than a constant times the bytes it was given.  Every
record costs at least one byte, so records <= bytes; a record's symbol count (rows x streams)
may not exceed ``MAX_SYMBOLS_PER_BYTE`` times its payload length (the writer refuses to write
such a record; the codecs' records never come near it: a range-coded payload that would hold
more rows than ``Codec.max_rows`` allows, at most 23 symbols per byte for the shipped K = 6
models, is padded by the encoder), and rows are capped at ``MAX_ROWS``.  Varints are at most 3 bytes.

Version policy: a reader refuses any other container version with a message naming both
versions; frames of the per-frame format (:mod:`.frame`, magic b"SB") stay readable through
``Codec.decode`` / ``Codec.decode_any``.
"""

from __future__ import annotations

import binascii
import struct
import zlib
from typing import List, NamedTuple, Optional, Tuple

from .frame import FrameError

MAGIC = b"SC"
CONTAINER_VERSION = 1
_FIXED = struct.Struct(">2sBBIBBB")  # magic, version, method, model id, K, flags, table id
_CRC32 = struct.Struct(">I")
_CRC16 = struct.Struct(">H")
RECORD_CRCS = {"none": 0, "crc16": 1, "crc32": 2}
_CRC_BYTES = (0, 2, 4)
FLAG_CRC_MASK = 0x03
FLAG_TABLE_PER_RECORD = 0x04
FLAG_ROWS_PER_RECORD = 0x08
_KNOWN_FLAGS = FLAG_CRC_MASK | FLAG_TABLE_PER_RECORD | FLAG_ROWS_PER_RECORD
MAX_ROWS = 1 << 16
MAX_SYMBOLS_PER_BYTE = 256
MAX_VARINT_BYTES = 3  # values < 2^21


class ContainerError(FrameError):
    """A soft-bit container that cannot be used as a whole (the message says why)."""


class Header(NamedTuple):
    version: int
    method: int
    model_id: int
    bits_per_symbol: int
    flags: int
    table_id: int
    rows: int
    size: int  # header bytes


def varint(v: int) -> bytes:
    """Unsigned LEB128 of ``0 <= v < 2^21``."""
    v = int(v)
    if not 0 <= v < 1 << (7 * MAX_VARINT_BYTES):
        raise ValueError(f"varint value {v} outside [0, 2^{7 * MAX_VARINT_BYTES})")
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _read_varint(buf: bytes, pos: int, end: int, what: str) -> Tuple[int, int]:
    v = 0
    for i in range(MAX_VARINT_BYTES):
        if pos + i >= end:
            raise FrameError(f"truncated {what} (varint runs past the end)")
        b = buf[pos + i]
        v |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            if i and b == 0:
                raise FrameError(f"non-canonical varint in {what}")
            return v, pos + i + 1
    raise FrameError(f"{what}: varint longer than {MAX_VARINT_BYTES} bytes")


def _crc(kind: int, data: bytes, seed: int) -> int:
    return binascii.crc_hqx(data, seed) if kind == 1 else zlib.crc32(data, seed)


def check_record(rows: int, streams: int, payload_len: int) -> None:
    """The bounded-work rule for one record (raises ``ValueError``/``FrameError``)."""
    if not 1 <= rows <= MAX_ROWS:
        raise FrameError(f"record of {rows} rows outside [1, {MAX_ROWS}]")
    if rows * streams > MAX_SYMBOLS_PER_BYTE * max(payload_len, 1):
        raise FrameError(
            f"record announces {rows * streams} symbols in {payload_len} payload bytes "
            f"(more than {MAX_SYMBOLS_PER_BYTE} per byte)"
        )


def record_bytes(record, per_record: bool = False, record_crc: str = "none") -> int:
    """Bytes one record ``(table_id, rows, payload)`` takes in a container (with its row count
    and table id when ``per_record``)."""
    t, n, p = record
    extra = (len(varint(n)) + 1) if per_record else 0
    return extra + len(varint(len(p))) + len(p) + _CRC_BYTES[RECORD_CRCS[record_crc]]


def pack(
    method: int,
    model_id: int,
    bits_per_symbol: int,
    streams: int,
    records,
    record_crc: str = "none",
    per_record: bool = False,
) -> bytes:
    """Records ``[(table_id, rows, payload), ...]`` -> container bytes.

    Parameters
    ----------
    method, model_id, bits_per_symbol : int
        The codec's identity (``Codec.code``, ``Codec.model_id``, K).
    streams : int
        Coded symbols per row (for the bounded-work rule).
    records : sequence of (int, int, bytes)
        As returned by ``Codec.encode_records``; the table id and row count go into the header
        when every record shares them (unless ``per_record``).
    record_crc : {"none", "crc16", "crc32"}
    per_record : bool
        Always write row count and table id in every record (so that records can be appended
        whatever their rows and table, as a HARQ buffer does).
    """
    if record_crc not in RECORD_CRCS:
        raise ValueError(f"record_crc must be one of {sorted(RECORD_CRCS)}, got {record_crc!r}")
    kind = RECORD_CRCS[record_crc]
    records = list(records)
    tids = {int(r[0]) for r in records}
    rows = {int(r[1]) for r in records}
    flags = kind
    if len(tids) != 1 or per_record:
        flags |= FLAG_TABLE_PER_RECORD
    if len(rows) != 1 or per_record:
        flags |= FLAG_ROWS_PER_RECORD
    tid0 = next(iter(tids)) if len(tids) == 1 and not per_record else 0
    rows0 = next(iter(rows)) if len(rows) == 1 and not per_record else 0
    if not 0 <= tid0 < 256 or any(not 0 <= t < 256 for t in tids):
        raise ValueError("table ids must be in 0..255")
    head = _FIXED.pack(
        MAGIC, CONTAINER_VERSION, int(method), int(model_id) & 0xFFFFFFFF, int(bits_per_symbol), flags, tid0
    ) + varint(rows0)
    parts = [head]
    seed = _crc(kind, head, 0) if kind else 0
    for t, n, p in records:
        check_record(int(n), int(streams), len(p))
        parts.append(_record(t, n, p, flags, seed))
    body = b"".join(parts)
    return body + _CRC32.pack(zlib.crc32(body))


def _record(t, n, p, flags: int, seed: int) -> bytes:
    """One record as ``flags`` lays it out: [rows varint] [table id] payload-length varint, payload,
    [CRC-16 / CRC-32 of the record, seeded with the header's]."""
    rec = bytearray()
    if flags & FLAG_ROWS_PER_RECORD:
        rec += varint(n)
    if flags & FLAG_TABLE_PER_RECORD:
        rec.append(int(t))
    rec += varint(len(p))
    rec += p
    kind = flags & FLAG_CRC_MASK
    if kind == 1:
        rec += _CRC16.pack(_crc(1, bytes(rec), seed))
    elif kind == 2:
        rec += _CRC32.pack(_crc(2, bytes(rec), seed))
    return bytes(rec)


def append(buf: bytes, records, streams: int) -> bytes:
    """Append records to a container written by :func:`pack` (same table id and rows as its
    header, unless its flags carry them per record); O(new bytes) apart from the copy."""
    hdr = unpack_header(buf)
    kind = hdr.flags & FLAG_CRC_MASK
    body = bytes(buf[:-4])
    (crc,) = _CRC32.unpack_from(buf, len(buf) - 4)
    if zlib.crc32(body) != crc:
        raise ContainerError("cannot append to a container whose CRC32 does not match")
    seed = _crc(kind, bytes(buf[: hdr.size]), 0) if kind else 0
    parts = []
    for t, n, p in records:
        check_record(int(n), int(streams), len(p))
        if not hdr.flags & FLAG_ROWS_PER_RECORD and n != hdr.rows:
            raise ValueError(f"record of {n} rows in a container of {hdr.rows}-row records")
        if not hdr.flags & FLAG_TABLE_PER_RECORD and t != hdr.table_id:
            raise ValueError(f"record with table id {t} in a container of table id {hdr.table_id}")
        parts.append(_record(t, n, p, hdr.flags, seed))
    new = b"".join(parts)
    return body + new + _CRC32.pack(zlib.crc32(new, crc))


def unpack_header(buf) -> Header:
    """Validate and parse the header (no CRC check: see :func:`unpack`)."""
    try:
        buf = bytes(buf)
    except Exception as e:  # noqa: BLE001
        raise ContainerError(f"container is not bytes-like: {type(buf).__name__}") from e
    if len(buf) < _FIXED.size + 1 + 4:
        raise ContainerError(
            f"truncated container: {len(buf)} bytes, header and trailer alone need {_FIXED.size + 1 + 4}"
        )
    magic, ver, meth, mid, k, flags, tid = _FIXED.unpack_from(buf, 0)
    if magic != MAGIC:
        hint = " (a single soft-bit frame: decode it with Codec.decode)" if magic == b"SB" else ""
        raise ContainerError(f"not a soft-bit container: magic {magic!r}, expected {MAGIC!r}{hint}")
    if ver != CONTAINER_VERSION:
        raise ContainerError(
            f"unsupported soft-bit container version {ver} (this reader reads version "
            f"{CONTAINER_VERSION}; re-compress the LLRs with this gr-deepquant)"
        )
    if flags & ~_KNOWN_FLAGS or (flags & FLAG_CRC_MASK) == 3:
        raise ContainerError(f"container flags {flags:#04x} unknown to this reader")
    try:
        rows, pos = _read_varint(buf, _FIXED.size, len(buf) - 4, "header row count")
    except FrameError as e:
        raise ContainerError(str(e)) from None
    if flags & FLAG_ROWS_PER_RECORD:
        if rows != 0:
            raise ContainerError("header row count must be 0 when rows are per record")
    elif not 1 <= rows <= MAX_ROWS:
        raise ContainerError(f"header row count {rows} outside [1, {MAX_ROWS}]")
    return Header(ver, meth, mid, k, flags, tid, rows, pos)


def unpack(
    buf,
    method: Optional[int] = None,
    model_id: Optional[int] = None,
    bits_per_symbol: Optional[int] = None,
    streams: int = 1,
):
    """Validate a container and split it into records.

    Returns
    -------
    header : Header
    records : list
        One ``((table_id, rows, payload), None)`` per record that parsed (and passed its CRC
        when there is one), ``(None, reason)`` per record that did not.  Work and memory are
        linear in ``len(buf)`` (see the module docstring).

    Raises
    ------
    ContainerError
        Header problems, foreign buffers, and a whole-buffer CRC mismatch when records carry no
        CRC of their own.
    """
    hdr = unpack_header(buf)
    buf = bytes(buf)
    if method is not None and hdr.method != method:
        raise ContainerError(f"foreign container: method code {hdr.method:#04x}, this decoder handles {method:#04x}")
    if model_id is not None and hdr.model_id != (model_id & 0xFFFFFFFF):
        raise ContainerError(
            f"foreign container: made by model id {hdr.model_id:#010x}, this decoder holds "
            f"{model_id & 0xFFFFFFFF:#010x}"
        )
    if bits_per_symbol is not None and hdr.bits_per_symbol != bits_per_symbol:
        raise ContainerError(
            f"foreign container: {hdr.bits_per_symbol} bits per symbol, this decoder expects {bits_per_symbol}"
        )
    end = len(buf) - 4
    (crc,) = _CRC32.unpack_from(buf, end)
    whole_ok = zlib.crc32(buf[:end]) == crc
    kind = hdr.flags & FLAG_CRC_MASK
    if not whole_ok and not kind:
        raise ContainerError("corrupted or truncated container: CRC32 mismatch")
    cb = _CRC_BYTES[kind]
    seed = _crc(kind, buf[: hdr.size], 0) if kind else 0
    recs: List = []
    pos = hdr.size
    while pos < end:
        start = pos
        try:
            if hdr.flags & FLAG_ROWS_PER_RECORD:
                rows, pos = _read_varint(buf, pos, end, "record row count")
            else:
                rows = hdr.rows
            if hdr.flags & FLAG_TABLE_PER_RECORD:
                if pos >= end:
                    raise FrameError("truncated record (table id)")
                tid = buf[pos]
                pos += 1
            else:
                tid = hdr.table_id
            plen, pos = _read_varint(buf, pos, end, "record length")
            if pos + plen + cb > end:
                raise FrameError(f"truncated record: {plen}-byte payload announced, {end - pos - cb} bytes left")
        except FrameError as e:
            # the rest of the buffer cannot be framed any more
            recs.append((None, f"record {len(recs)}: {e}"))
            break
        payload = buf[pos : pos + plen]
        pos += plen
        if cb:
            got = int.from_bytes(buf[pos : pos + cb], "big")
            pos += cb
            if _crc(kind, buf[start : pos - cb], seed) != got:
                recs.append((None, f"record {len(recs)}: CRC mismatch"))
                continue
        try:
            check_record(rows, streams, plen)
        except FrameError as e:
            recs.append((None, f"record {len(recs)}: {e}"))
            continue
        recs.append(((tid, rows, payload), None))
    if not whole_ok:
        # records with their own CRC: keep the ones that check, say why the buffer is suspect
        recs = [r if r[0] is not None else (None, r[1] + " (container CRC32 mismatch)") for r in recs]
        if not any(r[0] is not None for r in recs):
            raise ContainerError("corrupted container: CRC32 mismatch and no record passes its own CRC")
    return hdr, recs


def overhead_bytes(n_records: int, payload_lens, record_crc: str = "none", rows: int = 108) -> int:
    """Bytes a container adds to ``n_records`` payloads of the given lengths (header, varints,
    per-record CRCs, trailer), for equal rows and table ids."""
    lens = list(payload_lens)
    return (
        _FIXED.size
        + len(varint(rows))
        + 4
        + sum(len(varint(n)) for n in lens)
        + len(lens) * _CRC_BYTES[RECORD_CRCS[record_crc]]
    )
