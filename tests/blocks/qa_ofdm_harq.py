"""qa tests of HARQ in flowgraph 1 (ofdm_rx retransmission mode) and of llr_to_pdu_f."""
import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr, pdu

from gnuradio import deepquant as dq
from gnuradio.deepquant.apps import ofdm_flowgraphs as fg


def _tagged(x, starts, key="ofdm_packet_num", first=0):
    tags = [gr.tag_utils.python_to_tag((int(s), pmt.intern(key), pmt.from_long(first + i), pmt.intern("t")))
            for i, s in enumerate(starts)]
    return blocks.vector_source_f(np.asarray(x, np.float32).tolist(), False, 1, tags)


def test_llr_to_pdu_and_harq_buffer_chase_combine():
    """Packets 0..3 with harq_period 2: packet 2 is combined with packet 0 (sum of LLRs), packet
    3 with packet 1; an ack for harq_id 1 (a bare dict) releases that entry before packet 3, so
    packet 3 comes out alone. A packet cut short by the next tag is dropped."""
    n = 12
    rng = np.random.default_rng(0)
    llr = rng.standard_normal((4, n)).astype(np.float32)
    x = np.concatenate([llr[0], llr[1][:5], llr[1], llr[2], llr[3]])  # a short packet before packet 1
    starts = [0, n, n + 5, 2 * n + 5, 3 * n + 5]
    nums = [0, 1, 1, 2, 3]
    tags = [gr.tag_utils.python_to_tag((s, pmt.intern("ofdm_packet_num"), pmt.from_long(k), pmt.intern("t")))
            for s, k in zip(starts, nums)]
    src = blocks.vector_source_f(x.tolist(), False, 1, tags)
    fr = dq.llr_to_pdu_f(n, "ofdm_packet_num", 2)
    hb = dq.harq_buffer(6, "int8", "", 1 << 20, "evict_oldest", "harq_id")
    dbg = blocks.message_debug()
    tb = gr.top_block()
    tb.connect(src, fr)
    tb.msg_connect(fr, "pdus", dbg, "store")
    tb.run()
    assert fr.packets == 4 and fr.dropped == 1
    msgs = [dbg.get_message(i) for i in range(dbg.num_messages())]
    ids = [pmt.to_long(pmt.dict_ref(pmt.car(m), pmt.intern("harq_id"), pmt.PMT_NIL)) for m in msgs]
    assert ids == [0, 1, 0, 1]
    # chase combining through the block's message handlers, in order
    outs = []
    for i, m in enumerate(msgs):
        if i == 3:
            hb._on_ack(pmt.dict_add(pmt.make_dict(), pmt.intern("harq_id"), pmt.from_long(1)))
        meta, vec = pmt.car(m), pmt.cdr(m)
        out, ntx, _ = hb.combine(pmt.to_long(pmt.dict_ref(meta, pmt.intern("harq_id"), pmt.PMT_NIL)),
                                 np.asarray(pmt.f32vector_elements(vec)))
        outs.append((out, ntx))
    assert outs[2][1] == 2 and np.allclose(outs[2][0], llr[0] + llr[2], atol=0.2)  # int8 storage
    assert outs[3][1] == 1 and np.allclose(outs[3][0], llr[3])
    assert hb.peak_bytes > 0 and hb.frames_stored == 4 and hb.stored_bits_per_llr() > 0


def test_pdu_round_trip_keeps_packet_tag():
    """llr_to_pdu_f -> harq_buffer -> pdu_to_tagged_stream keeps the LLRs and the packet tag."""
    n = 648
    x = np.linspace(-5, 5, 2 * n).astype(np.float32)
    tb = gr.top_block()
    src = _tagged(x, [0, n], first=7)
    fr = dq.llr_to_pdu_f(n, "ofdm_packet_num", 0)
    hb = dq.harq_buffer(6, "int8", "", 1 << 20, "evict_oldest", "harq_id")
    p2s = pdu.pdu_to_tagged_stream(gr.types.float_t, "len")
    snk = blocks.vector_sink_f()
    tb.connect(src, fr)
    tb.msg_connect(fr, "pdus", hb, "llr_in")
    tb.msg_connect(hb, "llr_out", p2s, "pdus")
    tb.connect(p2s, snk)
    tb.start()
    import time

    for _ in range(100):
        if len(snk.data()) >= 2 * n:
            break
        time.sleep(0.05)
    tb.stop()
    tb.wait()
    assert np.allclose(snk.data(), x)
    nums = sorted(pmt.to_long(t.value) for t in snk.tags() if pmt.symbol_to_string(t.key) == "ofdm_packet_num")
    assert nums == [7, 8]


def test_llr_to_pdu_rejects_bad_parameters():
    with pytest.raises(ValueError):
        dq.llr_to_pdu_f(0)
    with pytest.raises(ValueError):
        dq.llr_to_pdu_f(2592, "ofdm_packet_num", -1)
    with pytest.raises(ValueError):
        dq.ofdm_rx(harq_period=-2)


def test_flowgraph1_harq_retransmission_lowers_fer():
    """Flowgraph 1 in retransmission mode at 17 dB (EPA, CFO 0.15, SRO 10 ppm): 32 packets, each
    sent twice; chase combining with the compressed first transmission fixes most failures, the
    learned codec stores under 4 bits per LLR, and the acks release the decoded packets."""
    iq, starts = fg.transmit(64)
    r = fg.receive(iq, starts, 17.0, 0.15, 10.0, "epa_block", seed=3, harq_period=32, harq_method="learned")
    h = r["harq"]
    assert h["retransmissions_needed"] >= 2
    assert h["fer_after_harq"] <= 0.5 * h["fer_first_tx"]
    assert 1.0 < h["stored_bits_per_llr"] < 4.0
    assert h["entries_at_end"] <= h["retransmissions_needed"]
    with pytest.raises(ValueError):
        fg.receive(iq, starts, 17.0, harq_period=16)  # 64 packets are not 2 x 16
