"""qa tests of the OFDM blocks in real flowgraphs (flowgraph 1: ofdm_tx -> impairments -> ofdm_rx)."""

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

from gnuradio import deepquant as dq
from gnuradio.deepquant.apps import ofdm_flowgraphs as fg
from gnuradio.deepquant.ofdm import estimation, reference
from gnuradio.deepquant.ofdm.layout import OfdmLayout


@pytest.fixture(scope="module")
def tx20():
    return fg.transmit(20)


def test_tx_output_size_power_and_tags():
    lay = OfdmLayout()
    tb = gr.top_block()
    src = blocks.vector_source_b(reference.reference_stream(1, 16, lay.info_bits), True)
    head = blocks.head(gr.sizeof_char, 3 * lay.info_bits)
    tx = dq.ofdm_tx()
    snk = blocks.vector_sink_c()
    tb.connect(src, head, tx, snk)
    tb.run()
    iq = np.asarray(snk.data())
    # (the last packet's trailing guard zeros are not flushed at the end of the stream)
    assert iq.size in (3 * lay.samples_per_packet, 3 * lay.samples_per_packet - lay.guard_len)
    starts = sorted(t.offset for t in snk.tags() if pmt.symbol_to_string(t.key) == "packet_len")
    assert starts == [0, lay.samples_per_packet, 2 * lay.samples_per_packet]
    body = iq[: lay.samples_per_packet - lay.guard_len]
    assert abs(np.mean(np.abs(body) ** 2) / (52 / 64**2) - 1) < 0.1
    assert not iq[lay.samples_per_packet - lay.guard_len : lay.samples_per_packet].any()
    assert iq[lay.samples_per_packet : lay.samples_per_packet + 80].any()


def test_clean_loopback_decodes_every_packet(tx20):
    iq, starts = tx20
    r = fg.receive(iq, starts, 40.0, impairments=False)
    assert r["packets_decoded"] == 20 and r["codeword_errors"] == 0 and r["lost_packets"] == 0


@pytest.mark.parametrize("cfo", [0.2, -0.2])
def test_impaired_loopback_high_snr(tx20, cfo):
    """EPA-like fading, +-0.2 subcarrier CFO, 20 ppm SRO at 32 dB: every packet decoded and the
    sigma^2 estimate within a factor 1.6 of the truth (it includes the estimation error)."""
    iq, starts = tx20
    r = fg.receive(iq, starts, 32.0, cfo, 20.0, "epa_block", seed=5)
    assert r["lost_packets"] == 0
    assert r["codeword_errors"] == 0
    assert 0.8 < r["noise_var_est_mean"] / r["noise_var_true"] < 1.6


def test_loopback_with_learned_llr_storage(tx20):
    iq, starts = tx20
    r = fg.receive(iq, starts, 30.0, 0.1, 10.0, "epa_block", softbit_method="learned", seed=2)
    assert r["codeword_errors"] == 0
    assert 1.0 < r["stored_bits_per_llr"] < 4.0


def test_gnuradio_selective_fading_runs(tx20):
    iq, starts = tx20
    r = fg.receive(iq, starts, 30.0, 0.1, 0.0, "epa_gnuradio", seed=2)
    assert r["packets_decoded"] >= 18


def test_fer_counter_counts_lost_packets():
    lay = OfdmLayout(n_codewords=4)
    ref = reference.reference_bits(1, 16, lay.info_bits)
    data = np.concatenate([ref[0], ref[1], ref[3]])  # packet 2 lost
    data[lay.info_bits + 5] ^= 1  # one bit error in packet 1, codeword 0
    tags = [
        gr.tag_utils.python_to_tag(
            (i * lay.info_bits, pmt.intern("ofdm_packet_num"), pmt.from_long(n), pmt.intern("t"))
        )
        for i, n in enumerate((0, 1, 3))
    ]
    tb = gr.top_block()
    cnt = dq.ofdm_fer_counter(4, 1, 16, False)
    tb.connect(blocks.vector_source_b(data.tolist(), False, 1, tags), cnt)
    tb.run()
    assert cnt.packets == 3 and cnt.lost_packets == 1
    assert cnt.codewords == 16 and cnt.codeword_errors == 5 and cnt.bit_errors == 1


def _frames_with_tags(lay, h, y):
    """Vector source of payload frames [F, T, fft_len] with a dq-style channel tag per frame."""
    f, t, n = y.shape
    tags = []
    for i in range(f):
        tags.append(
            gr.tag_utils.python_to_tag(
                (i * t, pmt.intern("ofdm_sync_chan_taps"), pmt.init_c32vector(n, h[i].tolist()), pmt.intern("t"))
            )
        )
    return blocks.vector_source_c(y.reshape(-1).tolist(), False, n, tags)


def test_phase_tracker_and_estimator_blocks():
    """Synthetic frames y = h x e^{j phi_t} + n with GNU Radio style LS taps (noisy h): the
    tracker removes the drift and the estimator outputs y, h, sigma^2 matching the truth."""
    lay = OfdmLayout()
    rng = np.random.default_rng(3)
    F, T, n = 6, lay.payload_ofdm_symbols, lay.fft_len
    nv = 0.01
    g = (rng.standard_normal((F, 4)) + 1j * rng.standard_normal((F, 4))) * np.sqrt(1 / 8)
    h = np.stack([np.exp(-2j * np.pi * np.outer(np.arange(-32, 32), np.arange(4)) / n) @ gi for gi in g])
    act = np.zeros(n, bool)
    act[lay.idx(lay.active)] = True
    h = h * act
    h_ls = h + act * (rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape)) * np.sqrt(nv / 2)
    x = np.zeros((F, T, n), complex)
    qam = (rng.choice([-3, -1, 1, 3], (F, T, 48)) + 1j * rng.choice([-3, -1, 1, 3], (F, T, 48))) / np.sqrt(10)
    x[:, :, lay.data_idx] = qam
    x[:, :, lay.pilot_idx] = lay.pilot_symbols
    phi = 0.2 * np.arange(T)
    y = h[:, None, :] * x * np.exp(1j * phi)[None, :, None]
    y += (rng.standard_normal(y.shape) + 1j * rng.standard_normal(y.shape)) * np.sqrt(nv / 2)
    tb = gr.top_block()
    src = _frames_with_tags(lay, h_ls.astype(np.complex64), y.astype(np.complex64))
    trk = dq.ofdm_pilot_phase_tracker()
    est = dq.ofdm_channel_noise_estimator()
    sy, sh, sn = blocks.vector_sink_c(), blocks.vector_sink_c(), blocks.vector_sink_f()
    tb.connect(src, trk, est)
    tb.connect((est, 0), sy)
    tb.connect((est, 1), sh)
    tb.connect((est, 2), sn)
    tb.run()
    yo, ho, no = (np.asarray(s.data()) for s in (sy, sh, sn))
    assert yo.size == F * T * 48
    xd = qam.reshape(-1)
    err = np.mean(np.abs(yo - ho * xd) ** 2)
    assert err < 2.0 * nv  # drift removed (0.2 rad/symbol would give ~ |h|^2 phi^2 >> nv)
    assert 0.7 * nv < np.mean(no) < 2.0 * nv
    assert trk.untracked_count == 0 and est.bad_count == 0
    # the smoothed estimate is closer to h than the raw LS taps
    hs = estimation.smooth_channel(h_ls[0], lay)[0]
    ai = lay.idx(lay.active)
    assert np.mean(np.abs(hs[ai] - h[0, ai]) ** 2) < 0.6 * np.mean(np.abs(h_ls[0, ai] - h[0, ai]) ** 2)


def test_rx_rejects_bad_parameters():
    with pytest.raises(ValueError):
        dq.ofdm_rx(softbit_method="zip")
    with pytest.raises(ValueError):
        dq.ofdm_impairments(fading="rician")
    with pytest.raises(ValueError):
        dq.ofdm_impairments(cfo_subcarriers=0.7)


def test_mimo_ofdm_flowgraph_high_snr_and_estimates():
    """Flowgraph 2: 2x2 MIMO-OFDM frames with pilot LS estimation decode at high SNR with both
    classical detectors; the sigma^2 estimate tracks the truth: x (1 + Nt L/K) with the training
    estimate alone, about x 1.1 after the decoder-aided re-estimation."""
    from gnuradio.deepquant.apps import mimo_ofdm

    for method in ("lmmse", "exact_ml"):
        for df, lo, hi in ((False, 1.2, 2.4), (True, 0.95, 1.3)):
            r = mimo_ofdm.run(34.0, method, 4, decision_feedback=df)
            assert r["codewords"] == 32 and r["codeword_errors"] == 0
            assert lo < r["noise_var_est_mean"] / r["noise_var_true"] < hi, (
                df,
                r["noise_var_est_mean"] / r["noise_var_true"],
            )


@pytest.mark.parametrize("method", ["eqnet_l", "eqnet_p"])
def test_mimo_ofdm_flowgraph_with_eqnet(method):
    """Flowgraph 2 with the shipped EQ-Net detectors (LS channel estimates, estimated sigma^2)
    decodes at high SNR."""
    from gnuradio.deepquant.apps import mimo_ofdm

    assert method in mimo_ofdm.DEMO_METHODS
    assert mimo_ofdm.unavailable(method) is None  # the 2x2 64-QAM models ship with the module
    r = mimo_ofdm.run(34.0, method, 4)
    # EQ-Net has an error floor with LS estimates in this (time-domain) flowgraph: measured 0-4
    # failed codewords of 32 at 34 dB over repeated runs of the same seed (the count is not
    # reproducible run to run; cause not isolated); allow one packet's worth (8). A broken
    # detector fails nearly all 32.
    assert r["codewords"] == 32 and r["codeword_errors"] <= 8


def test_mimo_ofdm_flowgraph_with_eqnet_llr_storage():
    """Flowgraph 2 with EQ-Net-quantized LLR storage (eqnet_quantizer -> eqnet_dequantizer between
    the detector and the decoder): 3 bits per LLR at 6 bits per latent, decodes at high SNR."""
    from gnuradio.deepquant.apps import mimo_ofdm

    assert mimo_ofdm.split_method("eqnet_p+q6") == ("eqnet_p", 6)
    r = mimo_ofdm.run(34.0, "exact_ml", 4, storage=6)
    assert r["stored_bits_per_llr"] == 3.0 and r["storage"] == "eqnet-q6"
    assert r["codewords"] == 32 and r["codeword_errors"] == 0


def test_mimo_ofdm_unavailable_names_the_reason():
    from gnuradio.deepquant.apps import mimo_ofdm

    assert mimo_ofdm.unavailable("lmmse") is None
    assert "unknown method" in mimo_ofdm.unavailable("no_such_detector")
    assert "EQ-Net" in mimo_ofdm.unavailable("eqnet_l", 3, 3, 6)


def test_mimo_ofdm_ls_estimator_block_matches_numerics():
    from gnuradio.deepquant.ofdm import mimo
    from gnuradio.deepquant.ofdm.layout import OfdmLayout

    lay = OfdmLayout()
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2, 9 * 48 * 2)) + 1j * rng.standard_normal((2, 9 * 48 * 2))).astype(np.complex64)
    tb = gr.top_block()
    src = blocks.vector_source_c(x.reshape(-1).tolist(), False, 9 * 48 * 2)
    fr = dq.mimo_ofdm_framer(2, 9)
    ch = dq.mimo_ofdm_channel(2, 2, "rayleigh", 60.0, 9, 1)
    est = dq.mimo_ofdm_ls_estimator(2, 2, 9, False, False, 1e-6)
    sy, sh = blocks.vector_sink_c(2), blocks.vector_sink_c(4)
    tb.connect(src, fr, ch, est)
    tb.connect((est, 0), sy)
    tb.connect((est, 1), sh)
    tb.connect((est, 2), blocks.null_sink(gr.sizeof_float))
    tb.run()
    h = np.asarray(sh.data()).reshape(2, 9, 48, 2, 2)
    y = np.asarray(sy.data()).reshape(2, 9, 48, 2)
    xd = x.reshape(2, 9, 48, 2)
    # at 60 dB the raw LS estimate reproduces y = H x
    np.testing.assert_allclose(np.einsum("fskrt,fskt->fskr", h, xd), y, atol=0.05)
    np.testing.assert_allclose(h[1, 0], ch.last_h, atol=0.01)
    assert mimo.frame_pilots(lay, 2).shape == (2, 48, 2)


def test_decision_feedback_refines_the_estimate(tx20):
    """ofdm_rx(decision_feedback=True, the default): every frame is decoded once inside the estimator, the
    validated codewords re-estimate phase and channel, so the reported sigma^2 (noise plus the
    estimate's error) drops towards the true sigma^2 and the packets still decode."""
    iq, starts = tx20
    r0 = fg.receive(iq, starts, 26.0, 0.2, 20.0, "epa_block", seed=3, decision_feedback=False)
    r1 = fg.receive(iq, starts, 26.0, 0.2, 20.0, "epa_block", seed=3, decision_feedback=True)
    assert r1["codeword_errors"] <= r0["codeword_errors"] + 4 and r1["lost_packets"] == 0
    q0 = r0["noise_var_est_mean"] / r0["noise_var_true"]
    q1 = r1["noise_var_est_mean"] / r1["noise_var_true"]
    assert q1 < q0 - 0.03, (q0, q1)


def test_nan_burst_keeps_the_receiver_running():
    """NaN samples inside one packet's payload: the receiver's input guard replaces them by 0
    and counts them (issue 18: they never reach GNU Radio's C++ blocks), the flowgraph keeps
    running and every other packet decodes."""
    lay = OfdmLayout()
    iq, starts = fg.transmit(12, lay)
    iq = iq.copy()
    s = int(starts[5])
    iq[s + 500 : s + 700] = np.nan
    r = fg.receive(iq, starts, 30.0, 0.1, 0.0, "epa_block", seed=1)
    assert r["packets_decoded"] == 12 and r["lost_packets"] == 0
    assert 0 < r["codeword_errors"] <= lay.n_codewords
    assert r["bad_input_samples"] == 200
