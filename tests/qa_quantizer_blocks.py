"""qa tests of the C++ quantizer blocks in real flowgraphs (vector lengths, run-time changes,
messages, NaN input, bad parameters)."""

import time

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

from gnuradio import deepquant as dq


def run_chain(src_data, blk, in_type="f", out_type="f", vlen=1):
    tb = gr.top_block()
    src = getattr(blocks, f"vector_source_{in_type}")(list(src_data), False, vlen)
    snk = getattr(blocks, f"vector_sink_{out_type}")(vlen)
    tb.connect(src, blk, snk)
    tb.run()
    return np.asarray(snk.data())


def post(blk, msg):
    blk.to_basic_block()._post(pmt.intern("set"), msg)


def run_with_messages(blk, src_data, msgs, in_type, out_type, rate=1e5):
    """Run src -> throttle -> blk -> sink and post ``msgs`` to the 'set' port while it runs."""
    tb = gr.top_block()
    src = getattr(blocks, f"vector_source_{in_type}")(list(src_data), False)
    size = {"f": gr.sizeof_float, "c": gr.sizeof_gr_complex}[in_type]
    snk = getattr(blocks, f"vector_sink_{out_type}")()
    tb.connect(src, blocks.throttle(size, rate), blk, snk)
    tb.start()
    for m in msgs:
        time.sleep(0.05)
        post(blk, m)
    tb.wait()
    return np.asarray(snk.data())


def fdict(**kv):
    d = pmt.make_dict()
    for k, v in kv.items():
        val = pmt.init_f32vector(len(v), list(map(float, v))) if isinstance(v, list) else pmt.to_pmt(v)
        d = pmt.dict_add(d, pmt.intern(k), val)
    return d


@pytest.mark.parametrize("vlen", [1, 3, 8])
def test_quantizer_fb_vlen(vlen):
    t = [-1.0, -0.25, 0.5, 2.0]
    x = np.random.default_rng(vlen).standard_normal(vlen * 500).astype(np.float32)
    x[:4] = t  # exact ties
    out = run_chain(x, dq.quantizer_fb(t, vlen), "f", "b", vlen)
    np.testing.assert_array_equal(out, np.searchsorted(t, x, side="right"))


def test_quantizer_ff_and_index_path_agree():
    rng = np.random.default_rng(1)
    t = np.sort(rng.standard_normal(15)).tolist()
    lv = np.sort(rng.standard_normal(16)).tolist()
    x = rng.standard_normal(4000).astype(np.float32)
    y = run_chain(x, dq.quantizer_ff(t, lv, 4), "f", "f", 4)
    np.testing.assert_allclose(y, np.float32(lv)[np.searchsorted(np.float32(t), x, side="right")])
    tb = gr.top_block()
    src = blocks.vector_source_f(x.tolist())
    snk = blocks.vector_sink_f()
    tb.connect(src, dq.quantizer_fb(t, 1), dq.dequantizer_bf(lv, 1), snk)
    tb.run()
    np.testing.assert_array_equal(np.asarray(snk.data(), np.float32), y.astype(np.float32))


def test_runtime_threshold_change_callback_and_message():
    blk = dq.quantizer_fb([0.0], 1)
    x = np.linspace(-3, 3, 61).astype(np.float32)
    np.testing.assert_array_equal(run_chain(x, blk, "f", "b"), (x >= 0).astype(np.uint8))
    blk.set_thresholds([-1.0, 1.0])
    assert list(blk.thresholds()) == [-1.0, 1.0]
    np.testing.assert_array_equal(run_chain(x, blk, "f", "b"), np.searchsorted([-1.0, 1.0], x, side="right"))
    # messages on the 'set' port while the flowgraph runs: malformed ones are logged and
    # ignored (the flowgraph keeps running), the valid one takes effect
    x2 = np.tile(x, 2000)  # 1.2 s at 1e5 items/s: the messages (0.2 s) arrive well before the end
    out = run_with_messages(
        blk,
        x2,
        [
            pmt.intern("garbage"),
            fdict(thresholds=[1.0, 0.0]),  # unsorted
            fdict(levels=[1.0]),  # wrong key
            fdict(thresholds=[-2.0, 0.0, 2.0]),
        ],
        "f",
        "b",
    )
    assert len(out) == len(x2)
    assert list(blk.thresholds()) == [-2.0, 0.0, 2.0]
    tail = x2[-len(x) :]
    np.testing.assert_array_equal(out[-len(x) :], np.searchsorted([-2.0, 0.0, 2.0], tail, side="right"))


def test_nan_samples_do_not_stop_the_flowgraph():
    blk = dq.quantizer_fb([-1.0, 1.0], 1)
    x = np.array([0.5, np.nan, 2.0, np.nan, -3.0] * 100, dtype=np.float32)
    out = run_chain(x, blk, "f", "b")
    np.testing.assert_array_equal(out[:5], [1, 1, 2, 1, 0])
    assert blk.nan_count() == 200


def test_dequantizer_counts_invalid_indices():
    blk = dq.dequantizer_bf([-1.0, 1.0], 2)
    idx = np.array([0, 1, 1, 0, 5, 1], dtype=np.uint8)
    tb = gr.top_block()
    src = blocks.vector_source_b(idx.tolist(), False, 2)
    snk = blocks.vector_sink_f(2)
    tb.connect(src, blk, snk)
    tb.run()
    np.testing.assert_array_equal(snk.data(), [-1, 1, 1, -1, 1, 1])
    assert blk.invalid_count() == 1
    blk.set_levels([0.0, 2.0, 4.0])
    assert list(blk.levels()) == [0.0, 2.0, 4.0]


@pytest.mark.parametrize("bits", [1, 3, 8])
def test_adc_uniform(bits):
    rng = np.random.default_rng(bits)
    z = ((rng.standard_normal(3000) + 1j * rng.standard_normal(3000)) * 0.7).astype(np.complex64)
    blk = dq.adc_cc(bits, 1.5, 1, gain=2.0)
    y = run_chain(z, blk, "c", "c")
    q = dq.scalar_quantizer.make_uniform(-1.5, 1.5, 2**bits)
    ref = q.quantize_complex_levels((z * np.float32(2.0)).astype(np.complex64))
    np.testing.assert_array_equal(y, ref)
    assert len(np.unique(y.real)) <= 2**bits
    assert np.abs(y.real).max() <= 1.5


def test_adc_runtime_changes_and_nonuniform():
    z = (np.linspace(-2, 2, 401) * (1 + 1j)).astype(np.complex64)
    blk = dq.adc_cc(2, 1.0)
    blk.set_bits(4)
    blk.set_full_scale(2.0)
    blk.set_gain(0.5)
    assert (blk.bits(), blk.full_scale(), blk.gain()) == (4, 2.0, 0.5)
    y = run_chain(z, blk, "c", "c")
    ref = dq.scalar_quantizer.make_uniform(-2.0, 2.0, 16).quantize_complex_levels(z * np.float32(0.5))
    np.testing.assert_array_equal(y, ref)
    t, lv = [-0.98, 0.0, 0.98], [-1.51, -0.45, 0.45, 1.51]
    nb1 = dq.adc_cc.make_nonuniform(t, lv, 1)
    y1 = run_chain(z, nb1, "c", "c")
    idx = np.searchsorted(np.float32(t), z.real, side="right")
    np.testing.assert_allclose(y1.real, np.float32(lv)[idx])
    # 'set' messages: a bad one is ignored, then the ADC switches to 1 bit, full scale 1
    out = run_with_messages(blk, np.tile(z, 200), [fdict(bits=40), fdict(bits=1, full_scale=1.0)], "c", "c")
    assert (blk.bits(), blk.full_scale()) == (1, 1.0)
    assert len(out) == len(z) * 200
    assert set(np.unique(out[-len(z) :].real)) <= {-0.5, 0.5}


@pytest.mark.parametrize(
    "make",
    [
        lambda: dq.quantizer_fb([1.0, 0.0], 1),
        lambda: dq.quantizer_fb([0.0], 0),
        lambda: dq.quantizer_fb(list(np.arange(300.0)), 1),
        lambda: dq.quantizer_ff([0.0], [1.0], 1),
        lambda: dq.quantizer_ff([0.0, float("nan")], [1.0, 2.0, 3.0], 1),
        lambda: dq.dequantizer_bf([], 1),
        lambda: dq.adc_cc(0, 1.0),
        lambda: dq.adc_cc(17, 1.0),
        lambda: dq.adc_cc(3, 0.0),
        lambda: dq.adc_cc(3, -1.0),
        lambda: dq.adc_cc.make_nonuniform([0.0], [0.0], 1),
    ],
)
def test_bad_parameters_raise_at_construction(make):
    with pytest.raises(ValueError):
        make()


# ---- issue 18: parameters that used to give unclear errors or a silently broken block --------
@pytest.mark.parametrize(
    "make",
    [
        lambda: dq.quantizer_fb([0.0], 2**30),
        lambda: dq.quantizer_ff([0.0], [-1.0, 1.0], 2**30),
        lambda: dq.dequantizer_bf([-1.0, 1.0], 2**30),
        lambda: dq.adc_cc(3, 1.0, 2**30, 1.0),
    ],
)
def test_huge_vlen_is_a_clear_value_error(make):
    with pytest.raises(ValueError, match="vlen must be in 1..1048576"):
        make()


def test_uniform_range_too_narrow_for_float32_scale_is_refused():
    with pytest.raises(ValueError, match="too narrow"):
        dq.scalar_quantizer.make_uniform(0.0, 1e-37, 256)
    q = dq.scalar_quantizer.make_uniform(0.0, 1e-35, 256)  # still representable: works
    x = np.array([-1.0, 1e-35 * 128.5 / 256, 1.0], np.float32)
    assert list(q.quantize(x)) == [0, 128, 255]
    assert list(q.quantize(x)) == list(np.searchsorted(np.asarray(q.thresholds, np.float32), x, side="right"))


def test_adc_set_levels_without_thresholds_is_ignored():
    import pmt

    adc = dq.adc_cc(3, 1.0, 1, 1.0)
    before = adc.levels()
    msg = pmt.dict_add(pmt.make_dict(), pmt.intern("levels"), pmt.init_f32vector(1, [1.0]))
    adc.to_basic_block()._post(pmt.intern("set"), msg)
    tb = gr.top_block()
    src = blocks.vector_source_c([0.3 + 0.1j] * 64)
    snk = blocks.vector_sink_c()
    tb.connect(src, adc, snk)
    tb.run()
    assert adc.levels() == before  # not a constant (1-level) ADC
    assert len(set(np.round(snk.data(), 4))) == 1 and snk.data()[0] == pytest.approx(0.375 + 0.125j)


def test_bit_interleaver_zero_frame_len_message():
    with pytest.raises(ValueError, match="frame_len must be >= 1"):
        dq.bit_interleaver(0)
