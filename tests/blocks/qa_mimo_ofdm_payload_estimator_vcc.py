"""The C++ ``mimo_ofdm_payload_estimator_vcc`` (``mimo_ofdm_rx``'s payload estimator) against the
Python ``mimo_ofdm_payload_estimator`` it replaces there, in flowgraphs on the same tagged
packets: the same channel uses, channels, noise variances, packet-number tags and counters."""

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

from gnuradio.deepquant.blocks.mimo_ofdm_payload_estimator import mimo_ofdm_payload_estimator
from gnuradio.deepquant.blocks.mimo_ofdm_rx import payload_estimator
from gnuradio.deepquant.blocks.mimo_ofdm_td import make_layout
from gnuradio.deepquant.ofdm import mimo as ofdm_mimo
from gnuradio.deepquant.phy import ldpc, mapping
from gnuradio.deepquant.tags import ERR_COLS_KEY, EST_ERR_KEY, MIMO_CHAN_KEY, NOISE_VAR_KEY, PACKET_NUM_KEY


def _channel(rng, lay, n_taps=9, delay=3):
    taps = np.zeros(lay.fft_len, complex)
    p = np.exp(-np.arange(n_taps) / 3.0)
    taps[delay : delay + n_taps] = (rng.normal(size=n_taps) + 1j * rng.normal(size=n_taps)) * np.sqrt(p / p.sum() / 2)
    return np.fft.fftshift(np.fft.fft(taps))


def _noise(rng, shape, sigma):
    return sigma * (rng.normal(size=shape) + 1j * rng.normal(size=shape)) / np.sqrt(2)


def _tag(offset, key, value):
    t = gr.tag_t()
    t.offset, t.key, t.value = offset, pmt.intern(key), value
    return t


def _packets(lay, nr, nt, seed):
    """nr streams of payload symbols: an untagged packet first (no estimate yet), LDPC codewords
    through random 2x2 channels at several SNRs with a common phase drift, one packet with a NaN
    sample, one without tags (the previous estimate carries on)."""
    rng = np.random.default_rng(seed)
    t, nd = ofdm_mimo.td_payload_symbols(lay, nt), len(lay.occupied)
    streams = [[] for _ in range(nr)]
    tags = []
    snrs = [None, 14.0, 30.0, 20.0, 25.0, 16.0, 30.0]
    for p, snr in enumerate(snrs):
        bits = ldpc.encode(rng.integers(0, 2, size=(lay.n_codewords, 324)).astype(np.uint8))
        xs = np.asarray(mapping.map_bits(np.asarray(bits).reshape(-1), lay.bits_per_symbol)).reshape(t, nd, nt)
        h = np.stack([np.stack([_channel(rng, lay) for _ in range(nt)], axis=-1) for _ in range(nr)], axis=1)
        sigma = 10 ** (-(snr or 20.0) / 20)
        y = np.zeros((nr, t, lay.fft_len), np.complex128)
        y[:, :, lay.data_idx] = np.einsum("krj,tkj->rtk", h[lay.data_idx], xs)
        y[:, :, lay.pilot_idx] = np.einsum("prj,p->rp", h[lay.pilot_idx], np.asarray(lay.pilot_symbols))[:, None]
        y = (y + _noise(rng, y.shape, sigma)) * np.exp(1j * (rng.uniform(-1, 1) + 0.01 * np.arange(t)))[None, :, None]
        y = y.astype(np.complex64)
        if p == 3:
            y[1, 2, lay.data_idx[5]] = np.nan
        for r in range(nr):
            streams[r].append(y[r])
        if snr is None or p == 5:
            continue
        he = (h + _noise(rng, h.shape, sigma * 0.5)).astype(np.complex64)
        tags += [
            _tag(p * t, MIMO_CHAN_KEY, pmt.init_c32vector(he.size, he.reshape(-1).tolist())),
            _tag(p * t, NOISE_VAR_KEY, pmt.from_double(sigma**2)),
            _tag(p * t, EST_ERR_KEY, pmt.from_double(0.2 * sigma**2)),
            _tag(p * t, PACKET_NUM_KEY, pmt.from_long(40 + p)),
        ]
        if p % 2:
            tags.append(_tag(p * t, ERR_COLS_KEY, pmt.init_f64vector(nt, [0.1 * sigma**2, 0.3 * sigma**2])))
    return [np.concatenate(s).reshape(-1) for s in streams], tags, len(snrs)


def _run(lay, nr, nt, data, tags, make):
    tb = gr.top_block()
    srcs = [blocks.vector_source_c(d.tolist(), False, lay.fft_len, tags if r == 0 else []) for r, d in enumerate(data)]
    est = make()
    snks = [blocks.vector_sink_c(nr), blocks.vector_sink_c(nr * nt), blocks.vector_sink_f()]
    for r, s in enumerate(srcs):
        tb.connect(s, (est, r))
    for i, s in enumerate(snks):
        tb.connect((est, i), s)
    tb.run()
    out = [np.array(s.data()) for s in snks]
    tg = sorted((t.offset, pmt.symbol_to_string(t.key), pmt.to_long(t.value)) for t in snks[0].tags())
    return est, out, tg


@pytest.mark.parametrize("feedback", [True, False])
@pytest.mark.parametrize("tracking", [True, False])
def test_cxx_payload_estimator_equals_python_block(feedback, tracking):
    nr = nt = 2
    lay = make_layout(nt=nt, n_codewords=8)
    data, tags, n_packets = _packets(lay, nr, nt, 5)
    args = (lay, nr, nt, tracking, feedback, 50, 2, 0, 20)
    py, py_out, py_tags = _run(lay, nr, nt, data, tags, lambda: mimo_ofdm_payload_estimator(*args))
    cx, cx_out, cx_tags = _run(lay, nr, nt, data, tags, lambda: payload_estimator(*args))
    m = ofdm_mimo.td_payload_symbols(lay, nt) * len(lay.occupied)
    for a, b in zip(py_out, cx_out):
        assert a.size == b.size and a.size % (n_packets * m) == 0
        fin = np.isfinite(a)
        np.testing.assert_array_equal(np.isfinite(b), fin)
        np.testing.assert_allclose(b[fin], a[fin], rtol=1e-5, atol=1e-6 * np.abs(a[fin]).max())
    assert cx_tags == py_tags and len(cx_tags) == n_packets - 2
    assert cx.untagged() == py.untagged == 2 and cx.bad_tags() == 0
    assert (cx.df_packets(), cx.df_known(), cx.df_skipped()) == (py.df_packets, py.df_known, py.df_skipped)
    if feedback:
        assert cx.df_skipped() == 1 and cx.df_packets() == n_packets - 2 and cx.df_known() > 0
    assert cx.df_unrefined() == 0
    np.testing.assert_allclose(cx.noise_var_history(), py.noise_var_history, rtol=1e-12)


def test_bad_parameters_and_tags():
    nr = nt = 2
    lay = make_layout(nt=nt, n_codewords=8)
    with pytest.raises(ValueError, match="max_iter"):
        payload_estimator(lay, nr, nt, True, True, 0)
    data, tags, n_packets = _packets(lay, nr, nt, 9)
    # an estimate of the wrong size: ignored and counted, the flowgraph runs on
    bad = [
        _tag(t.offset, MIMO_CHAN_KEY, pmt.init_c32vector(3, [1, 2, 3]))
        if pmt.symbol_to_string(t.key) == MIMO_CHAN_KEY and t.offset == 2 * (len(data[0]) // lay.fft_len // n_packets)
        else t
        for t in tags
    ]
    cx, (y, h, v), _ = _run(lay, nr, nt, data, bad, lambda: payload_estimator(lay, nr, nt, True, True))
    assert cx.bad_tags() == 1 and np.all(v > 0)


def test_cxx_header_decoder_equals_python_block():
    """mimo_ofdm_rx's C++ header decoder against mimo_ofdm_header_decoder on the same preambles:
    the same answers (fields, estimates, error variances), counters and residual CFOs."""
    from gnuradio.deepquant.blocks.mimo_ofdm_header_decoder import mimo_ofdm_header_decoder
    from gnuradio.deepquant.blocks.mimo_ofdm_rx import header_decoder
    from gnuradio.deepquant.ofdm import header

    nr = nt = 2
    lay = make_layout(nt=nt, n_codewords=8)
    rng = np.random.default_rng(8)
    w1, w2 = lay.sync_words()
    streams = [[] for _ in range(nr)]
    for trial in range(12):
        h = np.stack([np.stack([_channel(rng, lay) for _ in range(nt)], axis=-1) for _ in range(nr)], axis=1)
        xh = header.header_symbols(trial * 999, 8 if trial % 5 else 7, len(lay.occupied)).reshape(2, -1)
        x = np.zeros((1 + nt + 2, lay.fft_len, nt), np.complex128)  # [symbol, carrier, stream]
        x[0, :, 0] = w1
        for j in range(nt):
            x[1 + j, :, j] = w2
        x[1 + nt :, lay.data_idx, 0] = xh
        x[1 + nt :, lay.pilot_idx, :] = np.asarray(lay.pilot_symbols)[:, None]
        rot = np.exp(1j * 0.02 * np.arange(x.shape[0]))[None, :, None]
        sigma = [0.03, 0.2, 1.2][trial % 3]
        ys = np.einsum("krj,skj->rsk", h, x) * rot + _noise(rng, (nr, x.shape[0], lay.fft_len), sigma)
        if trial == 4:
            ys[1, 0, 3] = np.nan
        for r in range(nr):
            streams[r].append(ys[r].astype(np.complex64))
    for r in range(nr):  # a partial packet at the end: held, not answered
        streams[r].append(streams[r][0][:3])
    data = [np.concatenate(s).reshape(-1) for s in streams]
    res = []
    for make in (
        lambda: mimo_ofdm_header_decoder(lay, nr, nt, 0, 20, True),
        lambda: header_decoder(lay, nr, nt, 0, 20, True),
    ):
        tb = gr.top_block()
        srcs = [blocks.vector_source_c(d.tolist(), False, lay.fft_len) for d in data]
        dec = make()
        dbg = blocks.message_debug()
        for r, s in enumerate(srcs):
            tb.connect(s, (dec, r))
        tb.msg_connect(dec, "header_data", dbg, "store")
        tb.run()
        res.append((dec, [dbg.get_message(i) for i in range(dbg.num_messages())]))
    (py, py_msgs), (cx, cx_msgs) = res
    assert len(cx_msgs) == len(py_msgs) == 12
    n_ok = 0
    for a, b in zip(py_msgs, cx_msgs):
        assert pmt.is_dict(a) == pmt.is_dict(b)
        if not pmt.is_dict(a):
            continue
        n_ok += 1
        for key in ("frame_len", "packet_len", PACKET_NUM_KEY):
            k = pmt.intern(key)
            assert pmt.to_long(pmt.dict_ref(b, k, pmt.PMT_NIL)) == pmt.to_long(pmt.dict_ref(a, k, pmt.PMT_NIL))
        for key in (NOISE_VAR_KEY, EST_ERR_KEY):
            k = pmt.intern(key)
            assert pmt.to_double(pmt.dict_ref(b, k, pmt.PMT_NIL)) == pmt.to_double(pmt.dict_ref(a, k, pmt.PMT_NIL))
        for key, get in ((MIMO_CHAN_KEY, pmt.c32vector_elements), (ERR_COLS_KEY, pmt.f64vector_elements)):
            k = pmt.intern(key)
            np.testing.assert_array_equal(get(pmt.dict_ref(b, k, pmt.PMT_NIL)), get(pmt.dict_ref(a, k, pmt.PMT_NIL)))
    assert n_ok >= 5
    assert (cx.headers_ok(), cx.headers_failed()) == (py.headers_ok, py.headers_failed)
    np.testing.assert_array_equal(cx.cfo_residual(), py.cfo_residual)
