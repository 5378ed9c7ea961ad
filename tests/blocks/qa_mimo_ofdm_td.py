"""qa tests of the time-domain MIMO-OFDM blocks (flowgraph 2) in real flowgraphs:
mimo_ofdm_tx -> mimo_ofdm_impairments -> mimo_ofdm_rx -> mimo_detector -> LDPC -> FER counter."""

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

from gnuradio import deepquant as dq
from gnuradio.deepquant.apps import mimo_ofdm
from gnuradio.deepquant.ofdm import mimo as ofdm_mimo
from gnuradio.deepquant.ofdm import reference
from gnuradio.deepquant.ofdm.layout import OfdmLayout
from gnuradio.deepquant.phy import ldpc, mapping


@pytest.fixture(scope="module")
def tx6():
    return mimo_ofdm.transmit(6)


def test_tx_packet_structure(tx6):
    """Two sample-aligned streams; symbol 0 (Schmidl & Cox) and training symbol 1 come from
    stream 0 only, training symbol 2 from stream 1 only; packet length as documented."""
    iq, starts = tx6
    lay = OfdmLayout(n_codewords=8)
    spp = ofdm_mimo.td_samples_per_packet(lay, 2)
    assert spp == (1 + 2 + 2 + 9) * 80 + 32 and iq.shape == (2, 6 * spp)
    s = 80
    p = iq[:, spp : 2 * spp]  # second packet
    e = [[np.mean(np.abs(p[j, i * s : (i + 1) * s]) ** 2) for i in range(4)] for j in range(2)]
    assert e[0][0] > 0 and e[0][1] > 0 and e[0][2] == 0
    assert e[1][0] == 0 and e[1][1] == 0 and e[1][2] > 0
    # payload power per stream: 52 active unit-energy carriers / fft_len^2
    pay = p[:, 5 * s : 14 * s]
    assert np.allclose(np.mean(np.abs(pay) ** 2, axis=1) / (52 / 64**2), 1, atol=0.15)
    assert not p[:, spp - lay.guard_len :].any()


def test_impairments_noise_cfo_and_taps():
    """model 'none': output = input rotated by the CFO; noise variance sigma^2 / fft_len per
    sample with sigma^2 from the EQ-Net SNR definition; 'epa' draws a new tap set per tag."""
    n = 20000
    x = np.ones(n, np.complex64)
    tb = gr.top_block()
    ch = dq.mimo_ofdm_impairments(2, 2, 10.0, 0.25, "none", 20e6, 64, 1)
    src0, src1 = blocks.vector_source_c(x.tolist()), blocks.vector_source_c(np.zeros(n, np.complex64).tolist())
    s0, s1 = blocks.vector_sink_c(), blocks.vector_sink_c()
    tb.connect(src0, (ch, 0))
    tb.connect(src1, (ch, 1))
    tb.connect((ch, 0), s0)
    tb.connect((ch, 1), s1)
    tb.run()
    y0, y1 = np.asarray(s0.data()), np.asarray(s1.data())
    nv = 2 * 2 / 10.0  # snr_to_noise_var(10 dB, 2, 2)
    assert abs(np.var(y1) / (nv / 64) - 1) < 0.05
    ph = np.angle(np.sum(y0[1:] * np.conj(y0[:-1])))
    assert abs(ph - 2 * np.pi * 0.25 / 64) < 1e-3
    with pytest.raises(ValueError):
        dq.mimo_ofdm_impairments(model="cdl")
    with pytest.raises(ValueError):
        dq.mimo_ofdm_impairments(cfo_subcarriers=0.6)


def test_rx_channel_uses_match_transmitted_symbols(tx6):
    """At 40 dB the receiver's outputs satisfy y = H_est x with the transmitted QAM symbols, the
    packet-number tags count 0.., and sigma^2 is close to the truth (x (1 + Nt L/K))."""
    iq, starts = tx6
    tb, b = mimo_ofdm.build(40.0, "lmmse", 6, "epa", seed=4, iq=iq, starts=starts, cfo_subcarriers=-0.15)
    rx = b["rx"]
    sy, sh, sn = blocks.vector_sink_c(2), blocks.vector_sink_c(4), blocks.vector_sink_f()
    tb.connect((rx, 0), sy)
    tb.connect((rx, 1), sh)
    tb.connect((rx, 2), sn)
    tb.run()
    lay = OfdmLayout(n_codewords=8)
    m = 9 * 48
    y = np.asarray(sy.data()).reshape(-1, m, 2)
    h = np.asarray(sh.data()).reshape(-1, m, 2, 2)
    nv = np.asarray(sn.data())
    assert y.shape[0] == 6 and rx.header_dec.headers_ok() == 6
    nums = [pmt.to_long(t.value) for t in sy.tags() if pmt.symbol_to_string(t.key) == "ofdm_packet_num"]
    assert nums == list(range(6))
    ref = reference.reference_bits(mimo_ofdm.REF_SEED, mimo_ofdm.REF_PERIOD, lay.info_bits)
    for p in range(6):
        cw = np.asarray(ldpc.encode(ref[p].reshape(-1, ldpc.K)), dtype=np.uint8).reshape(-1, 6)
        x = mapping.constellation(6)[cw @ (1 << np.arange(5, -1, -1))].reshape(m, 2)
        err = y[p] - np.einsum("urt,ut->ur", h[p], x)
        assert np.mean(np.abs(err) ** 2) < 0.01  # vs unit-power symbols; noise 4e-4
    assert 0.5 < np.mean(nv) / (b["channel"].noise_var * 1.8) < 2.0


@pytest.mark.parametrize("method,cfo", [("exact_ml", 0.2), ("lmmse", -0.2), ("eqnet_p", 0.1)])
def test_flowgraph_decodes_at_high_snr(method, cfo):
    r = mimo_ofdm.run(34.0, method, 5, seed=2, cfo_subcarriers=cfo)
    assert r["codewords"] == 40 and r["lost_packets"] == 0
    assert r["codeword_errors"] <= (1 if method.startswith("eqnet") else 0)


def test_flowgraph_with_eqnet_llr_storage():
    r = mimo_ofdm.run(34.0, "exact_ml", 4, seed=1, storage=6)
    assert r["stored_bits_per_llr"] == 3.0 and r["codeword_errors"] == 0


def test_rx_rejects_bad_parameters():
    with pytest.raises(ValueError):
        dq.mimo_ofdm_rx(timing_advance=16)
    with pytest.raises(ValueError):
        dq.mimo_ofdm_tx(2, n_codewords=4)  # 4 codewords do not fill whole symbols on 2 streams
    with pytest.raises(ValueError):
        dq.mimo_ofdm_rx(sync_threshold=1.5)


def test_ltf_estimate_and_alignment_numerics():
    """ltf_estimate recovers a known 2x2 response; residual_cfo_align removes the extra rotation
    of column 1 that a residual CFO causes."""
    lay = OfdmLayout(n_codewords=8)
    rng = np.random.default_rng(0)
    g = (rng.standard_normal((2, 2, 4)) + 1j * rng.standard_normal((2, 2, 4))) / np.sqrt(8)
    k = np.arange(-32, 32)
    hf = np.einsum("rjl,kl->krj", g, np.exp(-2j * np.pi * np.outer(k, np.arange(4)) / 64))
    act = np.zeros(64, bool)
    act[lay.idx(lay.active)] = True
    w2 = lay.sync_words()[1]
    phi = 0.05
    y = np.zeros((2, 2, 64), complex)
    for j in range(2):
        y[:, j] = (hf[:, :, j] * w2[:, None]).T * np.exp(1j * phi * j)
    h, nv, _ = ofdm_mimo.ltf_estimate(y, lay, 0, 20)
    assert nv < 1e-8
    x_hdr = np.sign(rng.standard_normal((2, 48))).astype(np.complex64)
    yh = np.zeros((2, 2, 64), complex)
    for t in range(2):
        yh[:, t, lay.data_idx] = (hf[lay.data_idx, :, 0] * x_hdr[t][:, None]).T * np.exp(1j * phi * (2 + t))
    ha, phi_est = ofdm_mimo.residual_cfo_align(h, yh, x_hdr, lay)
    assert abs(phi_est - phi) < 1e-6
    np.testing.assert_allclose(ha[act], hf[act], atol=1e-4)


def test_refine_column0_uses_header_as_training():
    """With noise, column 0 re-estimated from training symbol + decoded header is closer to the
    truth than the training symbol alone (about 3x less error), column 1 is untouched."""
    lay = OfdmLayout(n_codewords=8)
    rng = np.random.default_rng(5)
    k = np.arange(-32, 32)
    act = lay.idx(lay.active)
    w2 = lay.sync_words()[1]
    e_ltf, e_ref = [], []
    for _trial in range(20):
        g = (rng.standard_normal((2, 2, 6)) + 1j * rng.standard_normal((2, 2, 6))) / np.sqrt(12)
        hf = np.einsum("rjl,kl->krj", g, np.exp(-2j * np.pi * np.outer(k, np.arange(6)) / 64))
        nz = lambda *s: (rng.standard_normal(s) + 1j * rng.standard_normal(s)) * np.sqrt(0.01 / 2)  # noqa: E731
        y = np.stack([(hf[:, :, j] * w2[:, None]).T for j in range(2)], axis=1) + nz(2, 2, 64)
        x_hdr = np.sign(rng.standard_normal((2, 48))).astype(np.complex64)
        yh = np.zeros((2, 2, 64), complex)
        for t in range(2):
            yh[:, t, lay.data_idx] = (hf[lay.data_idx, :, 0] * x_hdr[t][:, None]).T
        yh += nz(2, 2, 64)
        h, nv, _ = ofdm_mimo.ltf_estimate(y, lay, 0, 20)
        hr, nv_r, _ = ofdm_mimo.refine_column0(h, y, yh, x_hdr, lay)
        e_ltf.append(np.mean(np.abs(h[act, :, 0] - hf[act, :, 0]) ** 2))
        e_ref.append(np.mean(np.abs(hr[act, :, 0] - hf[act, :, 0]) ** 2))
        np.testing.assert_array_equal(hr[:, :, 1], h[:, :, 1])
        assert 0.5 < nv_r / 0.01 < 1.6
    assert np.mean(e_ref) < 0.5 * np.mean(e_ltf)


def test_4x4_chain_decodes():
    """The blocks are not 2x2-only: 4 streams, 16 codewords per packet (9 payload symbols), four
    receive chains sharing one Schmidl & Cox estimate, LMMSE, 40 dB: every decoded packet clean
    (the last packet is not flushed at the end of a finite stream)."""
    nt = nr = 4
    ncw = 16
    tx = dq.mimo_ofdm_tx(nt, ncw)
    lay = tx.layout
    tb = gr.top_block()
    src = blocks.vector_source_b(reference.reference_stream(3, 16, lay.info_bits), True)
    head = blocks.head(gr.sizeof_char, 6 * lay.info_bits)
    ch = dq.mimo_ofdm_impairments(nr, nt, 40.0, 0.1, "epa", 20e6, 64, 1)
    rx = dq.mimo_ofdm_rx(nr, nt, ncw, 6)
    det = dq.mimo_detector(nr, nt, 6, "lmmse")
    v2s = blocks.vector_to_stream(gr.sizeof_float, nt * 6)
    dec = dq.ldpc_decoder_fb(50)
    cnt = dq.ofdm_fer_counter(ncw, 3, 16, False)
    tb.connect(src, head, tx)
    for j in range(nt):
        tb.connect((tx, j), (ch, j))
    for r in range(nr):
        tb.connect((ch, r), (rx, r))
    for i in range(3):
        tb.connect((rx, i), (det, i))
    tb.connect(det, v2s, dec, cnt)
    tb.run()
    assert cnt.packets >= 5 and cnt.codeword_errors == 0 and cnt.lost_packets == 0


# --- CDL-A, long cyclic prefix, sampling-rate offset ------------------------------------------------


def test_impairments_cdla_taps_per_packet_and_sro():
    """'cdla' draws one 2x2 tap tensor (29 taps at 100 ns, 20 Msps) per packet_len tag; the
    sampling-rate offset resamples every chain (1000 ppm: 20 fewer samples of 20000)."""
    n, spp = 20000, 2000
    tags = [
        gr.tag_utils.python_to_tag((i * spp, pmt.intern("packet_len"), pmt.from_long(spp), pmt.intern("t")))
        for i in range(n // spp)
    ]
    x = np.exp(2j * np.pi * 0.01 * np.arange(n)).astype(np.complex64)
    tb = gr.top_block()
    ch = dq.mimo_ofdm_impairments(2, 2, 40.0, 0.0, "cdla", 20e6, 64, 1, sro_ppm=1000.0)
    srcs = [blocks.vector_source_c(x.tolist(), False, 1, tags), blocks.vector_source_c(x.tolist())]
    snks = [blocks.vector_sink_c(), blocks.vector_sink_c()]
    for j in range(2):
        tb.connect(srcs[j], (ch, j))
        tb.connect((ch, j), snks[j])
    tb.run()
    assert ch.model == "cdla" and ch.ntaps == 29 and len(ch.resamplers) == 2
    assert len(ch.taps_history) == 1 + n // spp  # one at start-up, then one per tag
    assert all(g.shape == (2, 2, 29) for g in ch.taps_history)
    for s in snks:
        assert abs(len(s.data()) - n / 1.001) <= 12  # the interpolator keeps a few samples at the end
    with pytest.raises(ValueError):
        dq.mimo_ofdm_impairments(model="cdla", delay_spread=-1e-9)
    with pytest.raises(ValueError):
        dq.mimo_ofdm_impairments(sro_ppm=5000)
    assert not dq.mimo_ofdm_impairments().resamplers  # no resampler without an offset


def test_sc_trigger_holdoff():
    """Triggers within the hold-off after an accepted one are dropped, the CFO of the accepted
    trigger is held until the next accepted one (across work calls)."""
    from gnuradio.deepquant.blocks.sc_trigger_holdoff import sc_trigger_holdoff

    n = 1000
    trig = np.zeros(n, np.int8)
    trig[[10, 50, 300, 350, 420]] = 1
    f = np.zeros(n, np.float32)
    for i, v in [(10, 0.1), (50, 0.9), (300, 0.2), (350, 0.8), (420, 0.3)]:
        f[i:] = v
    tb = gr.top_block()
    blk = sc_trigger_holdoff(100)
    sf, st = blocks.vector_source_f(f.tolist()), blocks.vector_source_b(trig.view(np.uint8).tolist())
    of, ot = blocks.vector_sink_f(), blocks.vector_sink_b()
    tb.connect(sf, (blk, 0))
    tb.connect(st, (blk, 1))
    tb.connect((blk, 0), of)
    tb.connect((blk, 1), ot)
    tb.run()
    assert list(np.flatnonzero(ot.data())) == [10, 300, 420] and blk.suppressed == 2
    out = np.asarray(of.data())
    assert np.allclose(out[10:300], 0.1) and np.allclose(out[300:420], 0.2) and np.allclose(out[420:], 0.3)


def test_rx_window_follows_cp_len():
    """Defaults for the 16-sample prefix are the measured ones (advance 5, fit [0, 20], GNU
    Radio's triggers as they come); a 32-sample prefix gets advance 11, fit [0, 24] and the
    trigger hold-off."""
    rx16, rx32 = dq.mimo_ofdm_rx(), dq.mimo_ofdm_rx(cp_len=32)
    assert (rx16.timing_advance, rx16.taps_post, rx16.holdoff) == (5, 20, None)
    assert (rx32.timing_advance, rx32.taps_post) == (11, 24) and rx32.holdoff is not None
    assert dq.mimo_ofdm_rx(cp_len=32, trigger_holdoff=0).holdoff is None
    with pytest.raises(ValueError):
        dq.mimo_ofdm_rx(taps_post=60)
    with pytest.raises(ValueError):
        dq.mimo_ofdm_rx(trigger_holdoff=2)


@pytest.mark.parametrize("method", ["exact_ml", "lmmse"])
def test_flowgraph_cdla_cp32_sro_decodes_at_high_snr(method):
    """CDL-A (100 ns: 19.3 samples of delay) with a 32-sample prefix, CFO and a 20 ppm
    sampling-rate offset: every packet found and decoded at 35 dB."""
    r = mimo_ofdm.run(35.0, method, 6, "cdla", seed=2, cfo_subcarriers=0.15, cp_len=32, sro_ppm=20.0)
    assert r["cp_len"] == 32 and r["sro_ppm"] == 20.0 and r["delay_spread_s"] == 100e-9
    assert r["codewords"] == 48 and r["lost_packets"] == 0 and r["codeword_errors"] == 0


def test_same_seed_same_channels_and_noise():
    """The impairments draw channels and noise from separate generators, noise sample-major, so
    a run is the same whatever chunks the scheduler hands the blocks: two runs at one seed give
    the same errors (paired comparisons of detectors rely on it)."""
    a = mimo_ofdm.run(22.0, "lmmse", 12, seed=4, decision_feedback=False)
    b = mimo_ofdm.run(22.0, "lmmse", 12, seed=4, decision_feedback=False)
    assert a["codeword_errors"] == b["codeword_errors"] > 0
    assert a["noise_var_est_mean"] == pytest.approx(b["noise_var_est_mean"], rel=1e-6)


def test_decision_feedback_refines_the_estimate():
    """mimo_ofdm_rx(decision_feedback=True, the default): each packet is detected and decoded
    inside the payload estimator and its symbols re-fit every antenna pair's channel: the
    reported sigma^2 (noise plus the estimate's error) drops from ~1.5x towards the true sigma^2
    and, on the same packets, channels and noise, fewer codewords fail."""
    r0 = mimo_ofdm.run(23.0, "exact_ml", 24, seed=5, decision_feedback=False)
    r1 = mimo_ofdm.run(23.0, "exact_ml", 24, seed=5, decision_feedback=True)
    q0 = r0["noise_var_est_mean"] / r0["noise_var_true"]
    q1 = r1["noise_var_est_mean"] / r1["noise_var_true"]
    assert q0 > 1.3 and q1 < 1.25, (q0, q1)
    assert r0["codeword_errors"] > 0 and r1["codeword_errors"] < r0["codeword_errors"], (
        r0["codeword_errors"],
        r1["codeword_errors"],
    )


def test_nan_burst_keeps_the_mimo_receiver_running():
    """NaN samples inside one packet's payload on both chains: the first block of the module they
    meet (here the channel model; in a real receiver ``mimo_ofdm_rx``'s input guard) replaces them
    by 0 and counts them (issue 18), the flowgraph keeps running and the other packets decode."""
    iq, st = mimo_ofdm.transmit(8)
    iq = iq.copy()
    s = int(st[3])
    iq[:, s + 600 : s + 800] = np.nan
    tb, b = mimo_ofdm.build(32.0, "exact_ml", 8, iq=iq, starts=st, seed=1)
    tb.run()
    c = b["counter"]
    assert c.packets == 8 and c.lost_packets == 0
    assert 0 < c.codeword_errors <= 8
    # replaced by 0 at the channel model's input (the receiver's guards then see only zeros)
    assert b["channel"].core.bad.count == 400 and sum(g.bad_count() for g in b["rx"].guards) == 0
