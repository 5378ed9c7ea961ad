"""qa tests of the LDPC / interleaver / error-counter blocks in real flowgraphs."""

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

from gnuradio import deepquant as dq
from gnuradio.deepquant.phy import ldpc


def test_encoder_block_produces_codewords():
    rng = np.random.default_rng(0)
    info = rng.integers(0, 2, (5, 324)).astype(np.uint8)
    enc = dq.ldpc_encoder_bb()
    snk = blocks.vector_sink_b()
    tb = gr.top_block()
    tb.connect(blocks.vector_source_b(info.ravel().tolist()), enc, snk)
    tb.run()
    cw = np.asarray(snk.data(), np.uint8).reshape(5, 648)
    np.testing.assert_array_equal(cw[:, :324], info)  # systematic
    h = ldpc.parity_check_matrix()
    assert not ((np.asarray(h, np.int64) @ cw.T.astype(np.int64)) % 2).any()


@pytest.mark.parametrize("snr_db,max_fer", [(6.0, 0.02)])
def test_bpsk_awgn_loopback_through_gnuradio_decoder(snr_db, max_fer):
    """info -> encoder -> interleaver -> BPSK -> AWGN -> exact demapper -> de-interleaver ->
    GNU Radio LDPC decoder -> frame error counter."""
    rng = np.random.default_rng(1)
    nf = 40
    info = rng.integers(0, 2, nf * 324).astype(np.uint8)
    nv = 10 ** (-snr_db / 10)
    tb = gr.top_block()
    src = blocks.vector_source_b(info.tolist())
    enc = dq.ldpc_encoder_bb()
    il = dq.bit_interleaver(648, 7, False, "byte")
    mapper = dq.qam_mapper(1)
    noise = blocks.vector_source_c(
        (np.sqrt(nv / 2) * (rng.standard_normal(nf * 648) + 1j * rng.standard_normal(nf * 648)))
        .astype(np.complex64)
        .tolist()
    )
    add = blocks.add_cc()
    demap = dq.soft_demapper_cf(1, "exact", nv)
    dil = dq.bit_interleaver(648, 7, True, "float")
    dec = dq.ldpc_decoder_fb(50)
    cnt = dq.frame_error_counter(324, 0, False)
    tb.connect(src, enc, il, mapper, (add, 0))
    tb.connect(noise, (add, 1))
    tb.connect(add, demap, dil, dec, (cnt, 1))
    tb.connect(src, (cnt, 0))
    tb.run()
    assert cnt.frames == nf
    assert cnt.fer() <= max_fer
    # without noise every frame decodes; flipping the LLR sign makes every frame fail
    tb2 = gr.top_block()
    src2 = blocks.vector_source_b(info[: 324 * 4].tolist())
    enc2, map2, dem2, neg, dec2 = (
        dq.ldpc_encoder_bb(),
        dq.qam_mapper(1),
        dq.soft_demapper_cf(1, "exact", 0.5),
        blocks.multiply_const_ff(-1.0),
        dq.ldpc_decoder_fb(20),
    )
    cnt2 = dq.frame_error_counter(324, 0, False)
    tb2.connect(src2, enc2, map2, dem2, neg, dec2, (cnt2, 1))
    tb2.connect(src2, (cnt2, 0))
    tb2.run()
    assert cnt2.frames == 4 and cnt2.frame_errors == 4


def test_interleaver_roundtrip_and_spread():
    x = np.arange(648 * 3, dtype=np.float32)
    tb = gr.top_block()
    il = dq.bit_interleaver(648, 99, False, "float")
    dil = dq.bit_interleaver(648, 99, True, "float")
    mid, out = blocks.vector_sink_f(), blocks.vector_sink_f()
    tb.connect(blocks.vector_source_f(x.tolist()), il, dil, out)
    tb.connect(il, mid)
    tb.run()
    np.testing.assert_array_equal(out.data(), x)
    m = np.asarray(mid.data()).reshape(3, 648)
    assert not np.array_equal(m[0], x[:648])
    np.testing.assert_array_equal(np.sort(m[1]), x[648:1296])  # permutes within a frame


def test_frame_error_counter_counts_frames_across_buffers():
    ref = np.zeros(10 * 324, np.uint8)
    dec = ref.copy()
    dec[5] = 1  # frame 0
    dec[324 * 3 + 100 : 324 * 3 + 110] = 1  # frame 3
    cnt = dq.frame_error_counter(324, 0, False)
    tb = gr.top_block()
    tb.connect(blocks.vector_source_b(ref.tolist()), (cnt, 0))
    tb.connect(blocks.vector_source_b(dec.tolist()), (cnt, 1))
    dbg = blocks.message_debug()
    tb.msg_connect((cnt, "fer"), (dbg, "store"))
    tb.run()
    assert dbg.num_messages() >= 1
    assert abs(pmt.to_double(pmt.cdr(dbg.get_message(dbg.num_messages() - 1))) - 0.2) < 1e-12
    assert (cnt.frames, cnt.frame_errors, cnt.bit_errors) == (10, 2, 11)
    skip = dq.frame_error_counter(324, 1, False)
    tb = gr.top_block()
    tb.connect(blocks.vector_source_b(ref.tolist()), (skip, 0))
    tb.connect(blocks.vector_source_b(dec.tolist()), (skip, 1))
    tb.run()
    assert (skip.frames, skip.frame_errors) == (9, 1)


def test_bad_parameters():
    with pytest.raises(ValueError):
        dq.ldpc_decoder_fb(0)
    with pytest.raises(ValueError):
        dq.frame_error_counter(0)
    with pytest.raises(ValueError):
        dq.bit_interleaver(648, 1, False, "complex")


def test_cxx_reorder_equals_python_block():
    """ldpc_decoder_fb's C++ reordering block against the Python ``_llr_to_gr`` (prepare_gr_llr +
    to_gr_order): identical outputs (NaN, +-inf, zeros, huge and ordinary LLRs), the same count."""
    from gnuradio.deepquant.blocks.ldpc_blocks import _llr_to_gr

    rng = np.random.default_rng(3)
    x = (rng.normal(size=7 * ldpc.N) * 8).astype(np.float32)
    x[[5, 700, 1400]] = np.nan
    x[[6, 701]] = np.inf
    x[[7, 900]] = -np.inf
    x[[8, 1000, 2000]] = 0.0
    x[9] = -0.0
    x[[10, 11]] = [1e30, -3e38]
    outs, blks = [], []
    for make in (_llr_to_gr, lambda: dq.llr_to_gr_order_ff(ldpc.N, ldpc.K, ldpc.GR_LLR_CLIP, ldpc.GR_ZERO_LLR)):
        tb = gr.top_block()
        src = blocks.vector_source_f(x.tolist())
        blk = make()
        snk = blocks.vector_sink_f()
        tb.connect(src, blk, snk)
        tb.run()
        outs.append(np.array(snk.data(), np.float32))
        blks.append(blk)
    np.testing.assert_array_equal(outs[1], outs[0])
    np.testing.assert_array_equal(
        outs[1], ldpc.to_gr_order(ldpc.prepare_gr_llr(x.reshape(-1, ldpc.N).copy())).reshape(-1)
    )
    assert blks[1].bad_count() == blks[0].bad.count == 7
    with pytest.raises(ValueError):
        dq.llr_to_gr_order_ff(648, 648)
