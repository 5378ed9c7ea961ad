"""The C++ ``ofdm_channel_noise_estimator_vcc`` (``ofdm_rx``'s payload path) against the Python
``ofdm_channel_noise_estimator`` it replaces there (``chan_tag_key='dq_chan_est'``), in
flowgraphs on the same tagged frames: identical y, h and sigma^2 streams, the same counters."""

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

from gnuradio.deepquant.blocks.ofdm_channel_noise_estimator import ofdm_channel_noise_estimator
from gnuradio.deepquant.blocks.ofdm_rx import payload_estimator
from gnuradio.deepquant.ofdm.layout import OfdmLayout
from gnuradio.deepquant.phy import ldpc, mapping
from gnuradio.deepquant.tags import CHAN_EST_KEY, EST_ERR_KEY, NOISE_VAR_KEY


def _channel(rng, lay, n_taps=9, delay=3):
    taps = np.zeros(lay.fft_len, complex)
    p = np.exp(-np.arange(n_taps) / 3.0)
    taps[delay : delay + n_taps] = (rng.normal(size=n_taps) + 1j * rng.normal(size=n_taps)) * np.sqrt(p / p.sum() / 2)
    return np.fft.fftshift(np.fft.fft(taps)).astype(np.complex64)


def _noise(rng, shape, sigma):
    return (sigma * (rng.normal(size=shape) + 1j * rng.normal(size=shape)) / np.sqrt(2)).astype(np.complex64)


def _tag(offset, key, value):
    t = gr.tag_t()
    t.offset, t.key, t.value = offset, pmt.intern(key), value
    return t


def _frames(lay, seed, sigmas, bad_taps=(), nan_frame=None, lead=True):
    """Payload frames of random LDPC codewords on 64-QAM through random 9-tap channels with a common phase
    drift, each tagged as ofdm_rx's header decoder tags it (noisy estimate, sigma^2, error
    variance). ``lead``: one untagged frame first (output neutral, counted). Frames in
    ``bad_taps`` carry an estimate of the wrong length (neutral until the next frame)."""
    rng = np.random.default_rng(seed)
    t, n = lay.payload_ofdm_symbols, lay.fft_len
    frames, tags = [], []
    if lead:
        frames.append(_noise(rng, (t, n), 1.0))
    for f, sigma in enumerate(sigmas):
        off = len(frames) * t
        hf = _channel(rng, lay)
        x = np.zeros((t, n), np.complex64)
        bits = ldpc.encode(rng.integers(0, 2, size=(lay.n_codewords, 324)).astype(np.uint8))
        x[:, lay.data_idx] = np.asarray(mapping.map_bits(np.asarray(bits).reshape(-1), 6)).reshape(t, -1)
        x[:, lay.pilot_idx] = np.asarray(lay.pilot_symbols)
        drift = np.exp(1j * (rng.uniform(-1, 1) + 0.03 * np.arange(t)))[:, None]
        y = hf[None, :] * x * drift + _noise(rng, x.shape, sigma)
        if f == nan_frame:
            y[2, 7] = np.nan  # a non-finite sample: row out as 0, frame not re-estimated
        frames.append(y.astype(np.complex64))
        est = hf + _noise(rng, hf.shape, sigma / 3)
        taps = est[:-1] if f in bad_taps else est
        tags += [
            _tag(off, CHAN_EST_KEY, pmt.init_c32vector(len(taps), taps.tolist())),
            _tag(off, NOISE_VAR_KEY, pmt.from_double(float(sigma**2))),
            _tag(off, EST_ERR_KEY, pmt.from_double(float(sigma**2 / 9))),
        ]
    return np.concatenate(frames).reshape(-1), tags


def _run(lay, data, tags, make):
    tb = gr.top_block()
    src = blocks.vector_source_c(data.tolist(), False, lay.fft_len, tags)
    est = make()
    snks = [blocks.vector_sink_c(), blocks.vector_sink_c(), blocks.vector_sink_f()]
    tb.connect(src, est)
    for i, s in enumerate(snks):
        tb.connect((est, i), s)
    tb.run()
    return est, [np.array(s.data()) for s in snks], snks[0].tags()


@pytest.mark.parametrize("feedback", [True, False])
@pytest.mark.parametrize("tracking", [True, False])
def test_cxx_estimator_equals_python_block(feedback, tracking):
    lay = OfdmLayout()
    # low SNR frames (codewords that fail, soft posteriors), high SNR (all validate), a NaN
    # sample, an estimate of the wrong length
    sigmas = [0.25, 0.05, 0.12, 0.05, 0.3, 0.08, 0.15]
    data, tags = _frames(lay, 7, sigmas, bad_taps=(4,), nan_frame=2)
    n, t = lay.fft_len, lay.payload_ofdm_symbols
    py_est, py_out, py_tags = _run(
        lay,
        data,
        tags,
        lambda: ofdm_channel_noise_estimator(
            n, lay.cp_len, 4, 6, 4, True, CHAN_EST_KEY, feedback, 50, phase_tracking=tracking
        ),
    )
    cx_est, cx_out, cx_tags = _run(lay, data, tags, lambda: payload_estimator(lay, feedback, 50, tracking))
    for a, b in zip(py_out, cx_out):
        assert a.size == (len(sigmas) + 1) * t * len(lay.occupied)
        np.testing.assert_array_equal(b, a)
    assert cx_est.bad_count() == py_est.bad_count > 0
    assert (cx_est.df_frames(), cx_est.df_known(), cx_est.df_skipped()) == (
        py_est.df_frames,
        py_est.df_known,
        py_est.df_skipped,
    )
    if feedback:  # tracking outputs the NaN row as 0: that frame is then re-estimated too
        skipped = 0 if tracking else 1
        assert cx_est.df_skipped() == skipped and cx_est.df_frames() == len(sigmas) - 1 - skipped
        assert 0 < cx_est.df_known() < 4 * cx_est.df_frames()
    assert cx_est.df_unrefined() == 0
    np.testing.assert_allclose(cx_est.noise_var_history(), py_est.noise_var_history, rtol=1e-12)
    # the input's tags reach the first output item of their frame, as from the Python block
    assert sorted((tg.offset, pmt.symbol_to_string(tg.key)) for tg in cx_tags) == sorted(
        (tg.offset, pmt.symbol_to_string(tg.key)) for tg in py_tags
    )


def test_missing_noise_tags_give_neutral_output_and_count():
    """Without the header decoder's sigma^2 / error tags the frame is not estimated (the Python
    block would smooth raw LS taps there): h = 1, sigma^2 = 1e3, counted; the next good frame
    is estimated again."""
    lay = OfdmLayout()
    data, tags = _frames(lay, 3, [0.05, 0.05], lead=False)
    t, nd = lay.payload_ofdm_symbols, len(lay.occupied)
    tags = [tg for tg in tags if not (tg.offset == 0 and pmt.symbol_to_string(tg.key) == NOISE_VAR_KEY)]
    est, (y, h, v), _ = _run(lay, data, tags, lambda: payload_estimator(lay))
    m = t * nd
    assert est.bad_count() == t
    np.testing.assert_array_equal(h[:m], 1.0)
    np.testing.assert_array_equal(v[:m], 1e3)
    assert np.all(v[m:] < 0.1) and np.all(h[m:] != 1.0) and est.df_frames() == 1
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(h)) and np.all(v > 0)


def test_bad_parameters_raise_value_error():
    lay = OfdmLayout()
    with pytest.raises(ValueError, match="max_iter"):
        payload_estimator(lay, True, 0)
    with pytest.raises(ValueError, match="feedback_rounds"):
        payload_estimator(lay, True, 50, True, 0)
    from gnuradio.deepquant import deepquant_python as dq
    from gnuradio.deepquant.blocks import _kernels

    with pytest.raises(ValueError, match="data_pos"):
        dq.ofdm_channel_noise_estimator_vcc(
            _kernels.ofdm_estimator(lay),
            [0, 1],
            _kernels.qam_demapper(6),
            _kernels.ldpc_decoder(),
            [complex(p) for p in mapping.constellation(6)],
            lay.payload_ofdm_symbols,
        )
    with pytest.raises(ValueError, match="whole codewords"):
        dq.ofdm_channel_noise_estimator_vcc(
            _kernels.ofdm_estimator(lay),
            [int(i) for i in lay.data_idx],
            _kernels.qam_demapper(6),
            _kernels.ldpc_decoder(),
            [complex(p) for p in mapping.constellation(6)],
            lay.payload_ofdm_symbols - 1,
        )


def _header_packets(lay, seed):
    """Header-demux outputs (sync word 1, sync word 2, header symbols) through random channels:
    good headers, one naming another codeword count, one with a flipped header symbol
    (CRC fails), one with a NaN sample."""
    from gnuradio.deepquant.ofdm import estimation, header

    rng = np.random.default_rng(seed)
    nd = len(lay.occupied)
    packets = []
    for p in range(9):
        ncw = lay.n_codewords if p != 3 else lay.n_codewords + 1
        hs = header.header_symbols(100 + p, ncw, nd).reshape(-1, nd)
        x = estimation.known_preamble(lay, hs)
        if p == 5:
            x[2:, lay.data_idx] *= -1  # every header bit flipped: the CRC fails
        hf = _channel(rng, lay)
        y = hf[None, :] * x + _noise(rng, x.shape, 0.05 + 0.03 * p)
        if p == 7:
            y[0, 9] = np.nan
        packets.append(y.astype(np.complex64))
    return packets


def _header_messages(lay, data, make):
    tb = gr.top_block()
    src = blocks.vector_source_c(data.tolist(), False, lay.fft_len)
    dec = make()
    dbg = blocks.message_debug()
    tb.connect(src, dec)
    tb.msg_connect(dec, "header_data", dbg, "store")
    tb.run()
    return dec, [dbg.get_message(i) for i in range(dbg.num_messages())]


def test_cxx_header_decoder_equals_python_block():
    from gnuradio.deepquant.blocks.ofdm_rx import cxx_header_decoder, header_decoder
    from gnuradio.deepquant.tags import FRAME_KEY, LEN_KEY, PACKET_NUM_KEY

    lay = OfdmLayout()
    packets = _header_packets(lay, 11)
    # a trailing partial packet is held, not answered
    data = np.concatenate(packets + [packets[0][:2]]).reshape(-1)
    py_dec, py_msgs = _header_messages(lay, data, lambda: header_decoder(lay))
    cx_dec, cx_msgs = _header_messages(lay, data, lambda: cxx_header_decoder(lay))
    assert len(cx_msgs) == len(py_msgs) == len(packets)
    for a, b in zip(py_msgs, cx_msgs):
        assert pmt.is_dict(a) == pmt.is_dict(b)
        if not pmt.is_dict(a):
            assert pmt.equal(a, pmt.PMT_F) and pmt.equal(b, pmt.PMT_F)
            continue
        for key in (FRAME_KEY, LEN_KEY, PACKET_NUM_KEY):
            k = pmt.intern(key)
            assert pmt.to_long(pmt.dict_ref(b, k, pmt.PMT_NIL)) == pmt.to_long(pmt.dict_ref(a, k, pmt.PMT_NIL))
        for key in (NOISE_VAR_KEY, EST_ERR_KEY):
            k = pmt.intern(key)
            assert pmt.to_double(pmt.dict_ref(b, k, pmt.PMT_NIL)) == pmt.to_double(pmt.dict_ref(a, k, pmt.PMT_NIL))
        k = pmt.intern(CHAN_EST_KEY)
        np.testing.assert_array_equal(
            pmt.c32vector_elements(pmt.dict_ref(b, k, pmt.PMT_NIL)),
            pmt.c32vector_elements(pmt.dict_ref(a, k, pmt.PMT_NIL)),
        )
    assert cx_dec.headers_ok() == py_dec.headers_ok == len(packets) - 3
    assert cx_dec.headers_failed() == py_dec.headers_failed == 3


@pytest.mark.parametrize("method", ["exact", "maxlog"])
@pytest.mark.parametrize("k", [2, 6])
def test_cxx_demapper_equals_python_block(method, k):
    """ofdm_rx's C++ demapper against soft_demapper_cf with h and sigma^2 streams: the same LLRs
    (float rounding) for ordinary symbols, zero LLRs for invalid ones, the float64 path for symbols beyond float32
    range (to float rounding), the same counters."""
    from gnuradio.deepquant.blocks.ofdm_rx import cxx_demapper
    from gnuradio.deepquant.blocks.soft_demapper_cf import soft_demapper_cf

    rng = np.random.default_rng(k)
    n = 3000
    x = mapping.constellation(k)[rng.integers(0, 2**k, n)]
    h = (rng.normal(size=n) + 1j * rng.normal(size=n)).astype(np.complex64)
    nv = (10 ** rng.uniform(-4.5, 0.5, n)).astype(np.float32)
    y = (h * x + _noise(rng, n, 1.0) * np.sqrt(nv)).astype(np.complex64)
    y[10], h[11], nv[12], nv[13], nv[14] = np.nan, np.inf, 0.0, -1.0, np.inf  # invalid: zero LLRs
    nv[20:30] = 1e-38  # float32 overflow of the LLRs: the float64 path
    h[30:35] *= 1e20
    y[30:35] *= 1e20
    nv[40:45] = 1e-3
    outs, blks = [], []
    for make in (
        lambda: soft_demapper_cf(k, method, 1.0, True, "stream"),
        lambda: cxx_demapper(k, method),
    ):
        tb = gr.top_block()
        srcs = [
            blocks.vector_source_c(y.tolist()),
            blocks.vector_source_c(h.tolist()),
            blocks.vector_source_f(nv.tolist()),
        ]
        blk = make()
        snk = blocks.vector_sink_f()
        for i, s in enumerate(srcs):
            tb.connect(s, (blk, i))
        tb.connect(blk, snk)
        tb.run()
        outs.append(np.array(snk.data()).reshape(n, k))
        blks.append(blk)
    a, b = outs
    special = np.zeros(n, bool)
    special[20:35] = True
    # the kernel's SIMD and scalar tails round differently, and the scheduler chunks the two
    # flowgraphs differently: float rounding
    np.testing.assert_allclose(b[~special], a[~special], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(b[special], a[special], rtol=2e-5, atol=1e-3)
    assert np.all(b[10:15] == 0) and np.all(np.isfinite(b)) and np.abs(b).max() <= np.float32(1e30)
    assert np.abs(b[20:35]).max() > 1e20  # the float64 path's LLRs, not zeros
    assert blks[1].bad_count() == blks[0].bad_count and blks[1].overflow_count() == blks[0].overflow_count > 0
