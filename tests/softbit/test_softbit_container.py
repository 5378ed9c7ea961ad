"""The soft-bit buffer container (softbit.container): round trips against the per-frame format,
overhead, per-record CRCs, appending, version policy, and fuzzing (corrupt input is rejected
cleanly, decoding work bounded by the bytes given)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from gnuradio.deepquant import softbit
from gnuradio.deepquant.softbit import FrameError, container as CT, data

K = 6


@pytest.fixture(scope="module")
def llrs():
    rng = np.random.default_rng(5)
    return np.concatenate([data.epa_frames(K, s, 4, rng)[0] for s in (14.0, 22.0, 30.0)])  # (12, 108, 6)


@pytest.fixture(scope="module")
def codecs():
    return {m: softbit.make_codec(m, K) for m in ("learned", "maxmi-ec", "uniform", "int8", "deepllr")}


def test_varint_reference():
    for v, b in (
        (0, b"\x00"),
        (1, b"\x01"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (300, b"\xac\x02"),
        (16383, b"\xff\x7f"),
        (16384, b"\x80\x80\x01"),
    ):
        assert CT.varint(v) == b
        assert CT._read_varint(b, 0, len(b), "x") == (v, len(b))
    with pytest.raises(FrameError, match="non-canonical"):
        CT._read_varint(b"\x80\x00", 0, 2, "x")
    with pytest.raises(FrameError, match="longer"):
        CT._read_varint(b"\x80\x80\x80\x01", 0, 4, "x")


@pytest.mark.parametrize("method", ["learned", "maxmi-ec", "uniform", "int8", "deepllr"])
@pytest.mark.parametrize("crc", ["none", "crc16", "crc32"])
def test_container_decodes_like_frames(codecs, llrs, method, crc):
    c = codecs[method]
    buf = c.encode_container(llrs, snr_db=22.0, record_crc=crc)
    out, err = c.decode_container(buf)
    ref = c.decode_frames(c.encode_frames(llrs, snr_db=22.0))
    assert err == [None] * len(llrs)
    for a, b in zip(out, ref):
        assert np.array_equal(a, b)
    # exact size: header + trailer + varint + payload (+ CRC) per record
    pay = [len(p) for _, _, p in c.encode_records(llrs, snr_db=22.0)]
    assert len(buf) == sum(pay) + CT.overhead_bytes(len(pay), pay, crc, rows=108)


def test_overhead_goal_648_softbit_frames(codecs, llrs):
    """Header 16 bytes per buffer, 1-2 bytes per frame: <= 2 % of the payload from 16 frames per
    buffer on (a 648-soft-bit frame of maxmi-ec / learned is 100-200 bytes)."""
    for m in ("learned", "maxmi-ec"):
        c = codecs[m]
        x = np.concatenate([llrs] * 2)[:16]
        buf = c.encode_container(x, snr_db=22.0)
        pay = sum(len(p) for _, _, p in c.encode_records(x, snr_db=22.0))
        assert (len(buf) - pay) / pay <= 0.02
        assert len(buf) < sum(len(f) for f in c.encode_frames(x, snr_db=22.0))


def test_variable_rows_and_tables(codecs, llrs):
    c = codecs["maxmi-ec"]
    parts = [llrs[0], llrs[1][:50], llrs[2][:7]]
    buf = c.encode_container(parts, snr_db=20.0)
    assert buf[9] & CT.FLAG_ROWS_PER_RECORD
    out, err = c.decode_container(buf)
    assert err == [None] * 3 and [o.shape[0] for o in out] == [108, 50, 7]
    for o, p in zip(out, parts):
        assert np.array_equal(o, c.decode(c.encode(p, snr_db=20.0)))
    # records of different quantizer sets (table per record)
    recs = c.encode_records(llrs[:2], snr_db=14.0) + c.encode_records(llrs[2:4], snr_db=30.0)
    buf = CT.pack(c.code, c.model_id, K, c.streams, recs)
    assert buf[9] & CT.FLAG_TABLE_PER_RECORD
    out, err = c.decode_container(buf)
    assert err == [None] * 4
    assert np.array_equal(out[3], c.decode(c.encode(llrs[3], snr_db=30.0)))


def test_append_is_incremental(codecs, llrs):
    c = codecs["learned"]
    buf = c.encode_container(llrs[:3], record_crc="crc16")
    buf2 = CT.append(buf, c.encode_records(llrs[3:5]), c.streams)
    assert buf2 == c.encode_container(llrs[:5], record_crc="crc16")
    with pytest.raises(ValueError, match="rows"):
        CT.append(buf, c.encode_records(llrs[3:4, :50]), c.streams)


def test_per_record_crc_salvages_intact_records(codecs, llrs):
    c = codecs["learned"]
    buf = bytearray(c.encode_container(llrs[:4], record_crc="crc32"))
    hdr = CT.unpack_header(bytes(buf))
    # corrupt one payload byte of the second record
    pos = hdr.size
    plen, p2 = CT._read_varint(bytes(buf), pos, len(buf), "x")
    second = p2 + plen + 4
    buf[second + 3] ^= 0x55
    out, err = c.decode_container(bytes(buf))
    assert err[1] is not None and "CRC" in err[1]
    assert [e is None for e in err] == [True, False, True, True]
    ref = c.decode_frames(c.encode_frames(llrs[:4]))
    assert np.array_equal(out[0], ref[0]) and np.array_equal(out[3], ref[3])
    # without per-record CRCs the same damage rejects the buffer
    buf = bytearray(c.encode_container(llrs[:4]))
    buf[30] ^= 0x55
    with pytest.raises(CT.ContainerError, match="CRC32"):
        c.decode_container(bytes(buf))


def test_version_and_foreign_refused(codecs, llrs):
    c = codecs["learned"]
    buf = bytearray(c.encode_container(llrs[:2]))
    v2 = bytearray(buf)
    v2[2] = 2
    with pytest.raises(CT.ContainerError, match="version 2"):
        c.decode_container(bytes(v2))
    with pytest.raises(CT.ContainerError, match="method"):
        codecs["deepllr"].decode_container(bytes(buf))
    with pytest.raises(CT.ContainerError, match="single soft-bit frame"):
        c.decode_container(c.encode(llrs[0]))
    # the old per-frame format stays readable next to containers
    out, err = c.decode_any([c.encode(llrs[0]), bytes(buf), b"junk"])
    assert err[:3] == [None] * 3 and err[3] is not None
    assert np.array_equal(out[0], out[1])


def test_bounded_work_rule(codecs):
    c = codecs["learned"]
    # a forged header announcing 65536 rows per record, 4-byte payloads: refused per record
    # before any decoding
    recs = [(18, CT.MAX_ROWS, b"\x00\x00\x00\x01")] * 3
    with pytest.raises(FrameError, match="per byte"):
        CT.pack(c.code, c.model_id, K, c.streams, recs)
    head = CT._FIXED.pack(CT.MAGIC, 1, c.code, c.model_id, K, 0, 18) + CT.varint(CT.MAX_ROWS)
    body = head + b"".join(b"\x04\x00\x00\x00\x01" for _ in range(3))
    buf = body + CT._CRC32.pack(__import__("zlib").crc32(body))
    out, err = c.decode_container(buf)
    assert out == [None] * 3 and all("per byte" in e for e in err)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from(["learned", "maxmi-ec", "int8"]),
    st.sampled_from(["none", "crc16", "crc32"]),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=4),
    st.integers(0, 5),
)
def test_fuzz_mutated_containers(codecs, llrs, method, crc, flips, cut):
    """Flipped bytes / truncation: a ContainerError, or per-record errors with only intact
    records decoded (as the clean container decodes them); never an exception of another kind."""
    c = codecs[method]
    clean = c.encode_container(llrs[:3], snr_db=22.0, record_crc=crc)
    ref, _ = c.decode_container(clean)
    buf = bytearray(clean)
    for pos, x in flips:
        buf[pos % len(buf)] ^= x
    if cut:
        buf = buf[: len(buf) - cut]
    try:
        out, err = c.decode_container(bytes(buf))
    except FrameError:
        return
    assert len(out) <= 3 + len(buf)
    for o, e in zip(out, err):
        assert (o is None) != (e is None)
        if o is not None:
            assert np.all(np.isfinite(o))
    if crc == "none":
        # no per-record CRC: only an unmodified buffer (or a CRC32 collision) gets here
        assert bytes(buf) == clean


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_fuzz_random_bytes_with_valid_crc(codecs, blob):
    """Garbage with a valid header and trailer CRC: never more symbols decoded than the rule
    allows, always a clean result."""
    import zlib

    c = codecs["learned"]
    body = CT._FIXED.pack(CT.MAGIC, 1, c.code, c.model_id, K, blob[0] & 0x0F if blob else 0, 18) + blob[1:]
    buf = body + CT._CRC32.pack(zlib.crc32(body))
    try:
        out, err = c.decode_container(buf)
    except FrameError:
        return
    decoded = sum(o.shape[0] for o in out if o is not None)
    assert decoded * c.streams <= CT.MAX_SYMBOLS_PER_BYTE * len(buf)
    assert all(np.all(np.isfinite(o)) for o in out if o is not None)


def test_empty_container_roundtrip(codecs):
    c = codecs["learned"]
    buf = c.encode_container(np.zeros((0, 108, K), np.float32))
    assert len(buf) == 16 and c.decode_container(buf) == ([], [])


def test_harq_buffer_stores_records_and_serializes():
    """The HARQ buffer stores container records (no per-entry header): its byte count is the
    payload plus a few bytes per entry, and serialize() is a container that decodes to what the
    buffer returns for each packet."""
    from gnuradio import deepquant

    rng = np.random.default_rng(6)
    x = data.epa_frames(K, 20.0, 3, rng)[0]
    buf = deepquant.harq_buffer(K, "learned")
    for pid in range(3):
        assert buf.put(pid, x[pid].reshape(-1), 1)
    pay = sum(len(p) for _, _, p in buf.codec.encode_records(x))
    assert pay < buf.bytes_stored() <= pay + 3 * 5 + 16
    out, err = buf.codec.decode_container(buf.serialize())
    assert err == [None] * 3
    for pid in range(3):
        llr, ntx = buf.lookup(pid)
        assert ntx == 1 and np.array_equal(llr, out[pid].reshape(-1))
        assert np.array_equal(llr, buf.codec.decode(buf.codec.encode(x[pid])).reshape(-1))
    assert len(buf.serialize()) == buf.bytes_stored()
