"""packet_crc_check in a real flowgraph: acks exactly the packets whose CRC-32 holds."""

import zlib

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

from gnuradio import deepquant
from gnuradio.deepquant.ofdm import reference


def _tagged(packets, nums):
    plen = packets.shape[1]
    tags = [
        gr.tag_utils.python_to_tag((i * plen, pmt.intern("ofdm_packet_num"), pmt.from_long(n), pmt.intern("t")))
        for i, n in enumerate(nums)
    ]
    return blocks.vector_source_b(packets.reshape(-1).tolist(), False, 1, tags)


def test_crc_bits_match_zlib():
    rng = np.random.default_rng(0)
    b = rng.integers(0, 2, (3, 1264), dtype=np.uint8)
    crc = reference.crc32_bits(b)
    for row, c in zip(b, crc):
        want = zlib.crc32(np.packbits(row).tobytes())
        assert int("".join(map(str, c)), 2) == want
    assert reference.crc_ok(reference.append_crc(b)).all()


def test_reference_payloads_end_with_their_crc():
    r = reference.reference_bits(1, 16, 1296)
    assert r.shape == (16, 1296) and reference.crc_ok(r).all()


def test_acks_only_good_packets():
    ref = reference.reference_bits(3, 8, 648)
    pk = ref.copy()
    pk[2, 100] ^= 1  # payload bit error
    pk[5, -1] ^= 1  # CRC bit error
    nums = [40, 41, 42, 43, 44, 45, 46, 47]
    tb = gr.top_block()
    src = _tagged(pk, nums)
    chk = deepquant.packet_crc_check(648, 4)
    acks = blocks.message_debug()
    crcs = blocks.message_debug()
    tb.connect(src, chk)
    tb.msg_connect(chk, "ack", acks, "store")
    tb.msg_connect(chk, "crc", crcs, "store")
    tb.run()
    assert (chk.packets, chk.crc_ok, chk.crc_failed) == (8, 6, 2)
    got = [
        pmt.to_long(pmt.dict_ref(acks.get_message(i), pmt.intern("ofdm_packet_num"), pmt.PMT_NIL))
        for i in range(acks.num_messages())
    ]
    hids = [
        pmt.to_long(pmt.dict_ref(acks.get_message(i), pmt.intern("harq_id"), pmt.PMT_NIL))
        for i in range(acks.num_messages())
    ]
    assert got == [40, 41, 43, 44, 46, 47] and hids == [n % 4 for n in got]
    flags = [pmt.to_bool(pmt.cdr(crcs.get_message(i))) for i in range(crcs.num_messages())]
    assert flags == [True, True, False, True, True, False, True, True]


def test_bad_parameters():
    with pytest.raises(ValueError, match="exceed"):
        deepquant.packet_crc_check(32)
    with pytest.raises(ValueError, match="harq_period"):
        deepquant.packet_crc_check(648, -1)
