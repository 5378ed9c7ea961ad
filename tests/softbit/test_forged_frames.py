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
    payload = frame[fr.HEADER_BYTES:]
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
