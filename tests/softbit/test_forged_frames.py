"""Decompression amplification (issue 18): a forged latent count is rejected before decoding,
and the bound never rejects a valid frame (also the most compressible ones)."""

import struct
import zlib

import numpy as np
import pytest

from gnuradio.deepquant.softbit import frame as fr
from gnuradio.deepquant.softbit import make_codec

METHODS = ("learned", "deepllr", "deepllr-ec", "uniform-ec", "maxmi-ec", "uniform", "maxmi", "int8")


def _forge(frame: bytes, latent_count: int) -> bytes:
    head = bytearray(frame[:18])
    struct.pack_into(">I", head, 10, latent_count)
    payload = frame[fr.HEADER_BYTES :]
    return bytes(head) + struct.pack(">I", zlib.crc32(payload, zlib.crc32(bytes(head)))) + payload


@pytest.fixture(scope="module", params=METHODS)
def codec(request):
    return make_codec(request.param, 6)


def test_forged_latent_count_rejected_before_decoding(codec):
    llr = np.random.default_rng(0).normal(0, 4, (1, 108, 6)).astype(np.float32)
    valid = codec.encode_frames(llr)[0]
    count = ((fr.MAX_LATENTS - 1) // codec.streams) * codec.streams
    forged = _forge(valid, count)
    out, err = codec.decode_many([forged] * 4)
    assert all(o is None for o in out)
    assert all("impossible" in e for e in err), err[0]


@pytest.mark.parametrize("kind", ["zeros", "saturated", "noise"])
def test_bound_accepts_every_valid_frame(codec, kind):
    rng = np.random.default_rng(1)
    n = 216
    if kind == "zeros":
        llr = np.zeros((1, n, 6), np.float32)
    elif kind == "saturated":
        llr = np.where(rng.random((1, n, 6)) < 0.5, -40.0, 40.0).astype(np.float32)
    else:
        llr = rng.normal(0, 8, (1, n, 6)).astype(np.float32)
    f = codec.encode_frames(llr)[0]
    assert n <= codec.max_rows(len(f) - fr.HEADER_BYTES)
    out, err = codec.decode_many([f])
    assert err[0] is None and out[0].shape == (n, 6)


def _reference(codec, llr):
    """Decoded LLRs computed without the frame/range coder: the codec's own quantizer and
    reconstruction applied to the symbols (independent of the payload and its padding)."""
    x = llr.reshape(-1, codec.bits_per_symbol)
    if codec.method in ("learned", "deepllr", "deepllr-ec"):
        return codec.reconstruct(codec.latents(x))
    if codec.method == "int8":
        return np.clip(np.rint(x * 4), -127, 127) / 4
    return codec.levels_of(codec.indices(x, 0), 0)


@pytest.mark.parametrize("n", [1, 108, 1000, 20000])
def test_all_negative_frames_decode(codec, n):
    """Every LLR saturated negative (the all-zero codeword at high SNR) maps the range-coded
    scalar codecs to symbol 0 everywhere, which the rANS coder codes in a 4-byte payload for any
    row count: the encoder pads it so that the length bound holds, and it decodes exactly."""
    llr = np.full((1, n, 6), -40.0, np.float32)
    f = codec.encode_frames(llr)[0]
    hdr, payload = fr.unpack(f)
    assert n <= codec.max_rows(len(payload))
    out, err = codec.decode_many([f])
    assert err[0] is None, err[0]
    np.testing.assert_array_equal(out[0], _reference(codec, llr))
    if codec.method in ("uniform-ec", "maxmi-ec") and n >= 108:
        assert hdr.table_id & 0x80  # padded


def test_padding_only_where_needed(codec):
    llr = np.random.default_rng(3).normal(0, 4, (4, 108, 6)).astype(np.float32)
    for f in codec.encode_frames(llr):
        assert not fr.unpack(f)[0].table_id & 0x80


def test_malformed_padding_rejected(codec):
    if not getattr(codec, "entropy_coded", False):
        pytest.skip("fixed-rate codec")
    f = codec.encode_frames(np.full((1, 2000, 6), -40.0, np.float32))[0]
    hdr, payload = fr.unpack(f)
    if not hdr.table_id & 0x80:
        pytest.skip("this codec does not code all-negative rows in a short payload")
    bad = struct.pack(">I", len(payload)) + payload[4:]  # announces more bytes than it holds
    head = bytearray(f[:18])
    forged = bytes(head) + struct.pack(">I", zlib.crc32(bad, zlib.crc32(bytes(head)))) + bad
    out, err = codec.decode_many([forged])
    assert out[0] is None and "padded payload" in err[0]


def test_all_negative_frames_in_a_container(codec):
    llr = np.full((3, 1000, 6), -40.0, np.float32)
    buf = codec.encode_container(llr)
    out, err = codec.decode_container(buf)
    assert err == [None] * 3
    for o in out:
        np.testing.assert_array_equal(o, _reference(codec, llr[:1]))


def test_forgery_at_the_largest_count_is_refused_early(codec):
    """The largest latent count the length check accepts, on many valid payloads: the rANS
    decoder must refuse it from its state (before the last symbol), not after decoding every row."""
    if not getattr(codec, "entropy_coded", False):
        pytest.skip("fixed-rate codec: the length check is exact")
    llr = np.random.default_rng(4).normal(0, 4, (40, 108, 6)).astype(np.float32)
    reasons = []
    for f in codec.encode_frames(llr):
        top = codec.max_rows(len(f) - fr.HEADER_BYTES) * codec.streams
        out, err = codec.decode_many([_forge(f, top)])
        reasons.append(err[0])
    assert all(r is not None for r in reasons)
    late = [r for r in reasons if "initial state" in r]
    assert len(late) <= 2, late
