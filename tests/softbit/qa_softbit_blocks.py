"""QA of the soft-bit blocks in real GNU Radio flowgraphs."""

import time

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

from gnuradio import deepquant
from gnuradio.deepquant import softbit
from gnuradio.deepquant.softbit import data

K = 6


def _llrs(n_frames, seed=0):
    return data.epa_frames(K, 18.0, n_frames, np.random.default_rng(seed))[0]  # (F, 108, 6)


def _run_until(tb, cond, timeout=10.0):
    tb.start()
    t0 = time.time()
    while not cond() and time.time() - t0 < timeout:
        time.sleep(0.02)
    tb.stop()
    tb.wait()


@pytest.mark.parametrize("method", ["learned", "maxmi-ec", "int8"])
def test_compress_decompress_flowgraph(method):
    x = _llrs(5)
    tb = gr.top_block()
    src = blocks.vector_source_f(x.reshape(-1).tolist(), False)
    comp = deepquant.softbit_compressor(K, method, 108, len_tag_key="")
    dec = deepquant.softbit_decompressor(K, method)
    snk = blocks.vector_sink_f()
    dbg = blocks.message_debug()
    tb.connect(src, comp)
    tb.msg_connect(comp, "pdus", dec, "pdus")
    tb.msg_connect(comp, "pdus", dbg, "store")
    tb.connect(dec, snk)
    _run_until(tb, lambda: len(snk.data()) >= x.size)
    out = np.array(snk.data(), np.float32)
    codec = softbit.make_codec(method, K)
    ref = np.concatenate([codec.decode(codec.encode(f)).reshape(-1) for f in x])
    assert out.size == x.size and np.array_equal(out, ref)
    assert comp.frames_out == 5 and dbg.num_messages() == 5
    tags = [t for t in snk.tags() if pmt.symbol_to_string(t.key) == "packet_len"]
    assert [t.offset for t in tags] == [i * 648 for i in range(5)]
    assert all(pmt.to_long(t.value) == 648 for t in tags)


def test_packet_len_tags_frame_the_stream_and_meta_is_forwarded():
    x = _llrs(3).reshape(-1)
    lengths = [648, 324, 972]  # channel-use multiples of K
    tags = []
    off = 0
    for i, n in enumerate(lengths):
        tags.append(gr.tag_utils.python_to_tag((off, pmt.intern("packet_len"), pmt.from_long(n), pmt.PMT_NIL)))
        tags.append(gr.tag_utils.python_to_tag((off, pmt.intern("packet_id"), pmt.from_long(100 + i), pmt.PMT_NIL)))
        off += n
    tb = gr.top_block()
    src = blocks.vector_source_f(x[:off].tolist(), False, 1, tags)
    comp = deepquant.softbit_compressor(K, "learned", 108)
    dbg = blocks.message_debug()
    tb.connect(src, comp)
    tb.msg_connect(comp, "pdus", dbg, "store")
    _run_until(tb, lambda: dbg.num_messages() >= 3)
    assert dbg.num_messages() == 3
    metas = [pmt.car(dbg.get_message(i)) for i in range(3)]
    assert [pmt.to_long(pmt.dict_ref(m, pmt.intern("llr_count"), pmt.PMT_NIL)) for m in metas] == lengths
    assert [pmt.to_long(pmt.dict_ref(m, pmt.intern("packet_id"), pmt.PMT_NIL)) for m in metas] == [100, 101, 102]


def test_decompressor_survives_bad_pdus():
    codec = softbit.make_codec("learned", K)
    good = codec.encode(_llrs(1)[0])
    bad = [b"", b"junk", good[:-3], bytes([good[0] ^ 1]) + good[1:], softbit.make_codec("int8", K).encode(_llrs(1)[0])]
    tb = gr.top_block()
    strobe_msgs = bad + [good]
    dec = deepquant.softbit_decompressor(K, "learned")
    snk = blocks.vector_sink_f()
    tb.connect(dec, snk)
    tb.start()
    for m in strobe_msgs:
        dec._post(pmt.intern("pdus"), pmt.cons(pmt.make_dict(), pmt.init_u8vector(len(m), list(m))))
    t0 = time.time()
    while len(snk.data()) < 648 and time.time() - t0 < 10:
        time.sleep(0.02)
    tb.stop()
    tb.wait()
    assert dec.bad_frames == len(bad) and dec.frames_in == 1
    assert np.array_equal(np.array(snk.data(), np.float32), codec.decode(good).reshape(-1))


def test_decompressor_batch_keeps_order_tags_and_drops_only_bad_frames():
    """PDUs queued before the flowgraph starts are decoded in one batch: good frames come out in
    order with their meta as tags, bad ones (corrupt, foreign, not bytes) are dropped and counted."""
    codec = softbit.make_codec("learned", K)
    x = _llrs(4, seed=3)
    good = codec.encode_frames(x)
    corrupt = bytearray(good[1])
    corrupt[40] ^= 0x55
    msgs = [(0, good[0]), (None, b"junk"), (1, good[1]), (None, bytes(corrupt)), (2, good[2]), (3, good[3])]
    tb = gr.top_block()
    dec = deepquant.softbit_decompressor(K, "learned")
    snk = blocks.vector_sink_f()
    tb.connect(dec, snk)
    port = pmt.intern("pdus")
    for pid, m in msgs:
        meta = pmt.dict_add(pmt.make_dict(), pmt.intern("packet_id"), pmt.from_long(-1 if pid is None else pid))
        dec._post(port, pmt.cons(meta, pmt.init_u8vector(len(m), list(m))))
    dec._post(port, pmt.cons(pmt.make_dict(), pmt.init_f32vector(3, [0.0, 1.0, 2.0])))
    dec._post(port, pmt.intern("not a pdu"))
    _run_until(tb, lambda: len(snk.data()) >= 4 * 648)
    out = np.array(snk.data(), np.float32)
    expect = np.concatenate([codec.decode(good[i]).reshape(-1) for i in range(4)])
    assert np.array_equal(out, expect)
    assert dec.frames_in == 4 and dec.bad_frames == 4
    ids = [(t.offset, pmt.to_long(t.value)) for t in snk.tags() if pmt.symbol_to_string(t.key) == "packet_id"]
    assert ids == [(i * 648, i) for i in range(4)]


def _f32_pdu(pid, llr):
    meta = pmt.dict_add(pmt.make_dict(), pmt.intern("packet_id"), pmt.from_long(pid))
    return pmt.cons(meta, pmt.init_f32vector(llr.size, llr.astype(np.float32).tolist()))


def test_harq_buffer_chase_combining_in_flowgraph():
    x1, x2 = _llrs(1, 1)[0].reshape(-1), _llrs(1, 2)[0].reshape(-1)
    hb = deepquant.harq_buffer(K, "learned", max_bytes=100000)
    dbg = blocks.message_debug()
    tb = gr.top_block()
    tb.msg_connect(hb, "llr_out", dbg, "store")
    tb.start()
    hb._post(pmt.intern("llr_in"), _f32_pdu(7, x1))
    hb._post(pmt.intern("llr_in"), _f32_pdu(7, x2))
    t0 = time.time()
    while dbg.num_messages() < 2 and time.time() - t0 < 10:
        time.sleep(0.02)
    stored_after = hb.bytes_stored()
    hb._post(pmt.intern("ack"), pmt.from_long(7))
    t0 = time.time()
    while hb.entries() and time.time() - t0 < 5:
        time.sleep(0.02)
    tb.stop()
    tb.wait()
    codec = softbit.make_codec("learned", K)
    first = np.array(pmt.f32vector_elements(pmt.cdr(dbg.get_message(0))))
    second = np.array(pmt.f32vector_elements(pmt.cdr(dbg.get_message(1))))
    assert np.array_equal(first, x1.astype(np.float32))  # nothing stored yet: passes through
    ref = x2 + codec.decode(codec.encode(x1.reshape(-1, K))).reshape(-1)
    assert np.allclose(second, ref, atol=1e-5)
    m2 = pmt.car(dbg.get_message(1))
    assert pmt.to_long(pmt.dict_ref(m2, pmt.intern("harq_combined"), pmt.PMT_NIL)) == 2
    assert stored_after > 0 and hb.entries() == 0 and hb.bytes_stored() == 0


def test_harq_buffer_bounded_policies():
    x = _llrs(6, 3)
    hb = deepquant.harq_buffer(K, "int8", max_bytes=3 * (648 + 22))
    for i in range(5):
        hb.combine(i, x[i])
    assert hb.entries() == 3 and hb.evictions == 2 and list(hb.store) == [2, 3, 4]
    assert hb.bytes_stored() <= hb.max_bytes
    hd = deepquant.harq_buffer(K, "int8", max_bytes=2 * (648 + 22), policy="drop_new")
    for i in range(4):
        _, _, stored = hd.combine(i, x[i])
    assert list(hd.store) == [0, 1] and hd.refused == 2 and not stored


@pytest.mark.parametrize("method,crc", [("learned", "none"), ("maxmi-ec", "crc16"), ("int8", "crc32")])
def test_container_pdus_flowgraph(method, crc):
    """pdu_format='container': fewer PDUs, the same LLRs and per-frame length tags downstream,
    fewer bytes than one frame per PDU."""
    x = _llrs(30, seed=3)
    tb = gr.top_block()
    src = blocks.vector_source_f(x.reshape(-1).tolist(), False)
    comp = deepquant.softbit_compressor(K, method, 108, len_tag_key="", pdu_format="container", record_crc=crc)
    dec = deepquant.softbit_decompressor(K, method)
    snk = blocks.vector_sink_f()
    dbg = blocks.message_debug()
    tb.connect(src, comp)
    tb.msg_connect(comp, "pdus", dec, "pdus")
    tb.msg_connect(comp, "pdus", dbg, "store")
    tb.connect(dec, snk)
    _run_until(tb, lambda: len(snk.data()) >= x.size)
    out = np.array(snk.data(), np.float32)
    codec = softbit.make_codec(method, K)
    ref = np.concatenate([codec.decode(codec.encode(f)).reshape(-1) for f in x])
    assert out.size == x.size and np.array_equal(out, ref)
    assert comp.frames_out == 30 and 1 <= dbg.num_messages() < 30 and dec.frames_in == 30
    tags = [t for t in snk.tags() if pmt.symbol_to_string(t.key) == "packet_len"]
    assert [t.offset for t in tags] == [i * 648 for i in range(30)]
    frames = sum(
        pmt.to_long(pmt.dict_ref(pmt.car(dbg.get_message(i)), pmt.intern("frames"), pmt.PMT_NIL))
        for i in range(dbg.num_messages())
    )
    assert frames == 30
    assert comp.bytes_out < sum(len(f) for f in codec.encode_frames(x))


def test_container_with_a_damaged_record_keeps_the_rest():
    codec = softbit.make_codec("learned", K)
    x = _llrs(4, seed=4)
    buf = bytearray(codec.encode_container(x, record_crc="crc16"))
    buf[40] ^= 0xFF  # inside the first record's payload
    dec = deepquant.softbit_decompressor(K, "learned")
    snk = blocks.vector_sink_f()
    tb = gr.top_block()
    tb.connect(dec, snk)
    for b in (bytes(buf), codec.encode_container(x[:1])[:-5], b"\x00" * 30):
        dec._post(pmt.intern("pdus"), pmt.cons(pmt.make_dict(), pmt.init_u8vector(len(b), list(b))))
    _run_until(tb, lambda: len(snk.data()) >= 3 * 648)
    out = np.array(snk.data(), np.float32)
    ref = np.concatenate([codec.decode(codec.encode(f)).reshape(-1) for f in x[1:]])
    assert np.array_equal(out, ref)
    assert dec.frames_in == 3 and dec.bad_frames == 3
