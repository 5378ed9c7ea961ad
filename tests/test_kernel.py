"""The C++ hard-quantization kernel against numpy.searchsorted / numpy.digitize (independent refs)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gnuradio import deepquant as dq

ISAS = (
    ["generic"]
    + (["avx2"] if dq.scalar_quantizer.cpu_has_avx2() else [])
    + (["avx512"] if dq.scalar_quantizer.cpu_has_avx512() else [])
)


def reference(thresholds, x, nan_index):
    """searchsorted(side='right') with the documented NaN rule (NaN -> bin of 0.0)."""
    t = np.asarray(thresholds, dtype=np.float32)
    idx = np.searchsorted(t, x, side="right")
    return np.where(np.isnan(x), nan_index, idx)


def adversarial(thresholds, rng, n=3000):
    t = np.asarray(thresholds, dtype=np.float32)
    parts = [
        rng.standard_normal(n).astype(np.float32) * 3,
        np.array(
            [
                np.inf,
                -np.inf,
                np.nan,
                0.0,
                -0.0,
                1e-45,
                -1e-45,
                1e-40,
                -1e-40,
                np.finfo(np.float32).max,
                -np.finfo(np.float32).max,
            ],
            dtype=np.float32,
        ),
    ]
    if t.size:
        parts += [t, np.nextafter(t, np.float32(-np.inf)), np.nextafter(t, np.float32(np.inf))]
    x = np.concatenate(parts).astype(np.float32)
    rng.shuffle(x)
    return x


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("m", [1, 2, 3, 4, 7, 16, 33, 64, 100, 255, 256])
def test_nonuniform_matches_searchsorted(m, isa):
    rng = np.random.default_rng(m)
    t = np.sort(rng.standard_normal(m - 1).astype(np.float32))
    q = dq.scalar_quantizer(t.tolist())
    q.set_isa(isa)
    x = adversarial(t, rng)
    ref = reference(t, x, q.nan_index)
    np.testing.assert_array_equal(q.quantize(x), ref)
    np.testing.assert_array_equal(q.quantize(x, np.empty(x.shape, np.uint16)), ref)
    # numpy.digitize(right=False) is the same rule, as a second reference
    finite = np.isfinite(x)
    np.testing.assert_array_equal(q.quantize(x)[finite], np.digitize(x[finite], t, right=False))
    np.testing.assert_array_equal(q.quantize_levels(x), q.levels[ref])


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("m", [1, 2, 5, 16, 64, 256, 1000, 65536])
def test_uniform_matches_its_thresholds(m, isa):
    q = dq.scalar_quantizer.make_uniform(-2.5, 3.0, m)
    q.set_isa(isa)
    assert q.is_uniform and q.num_levels == m
    t = q.thresholds
    # reported thresholds are within a few ulps of the nominal cell edges
    nominal = -2.5 + np.arange(1, m) * (5.5 / m)
    np.testing.assert_allclose(t, nominal, rtol=0, atol=1e-5)
    np.testing.assert_allclose(q.levels, -2.5 + (np.arange(m) + 0.5) * 5.5 / m, atol=1e-5)
    rng = np.random.default_rng(1)
    x = adversarial(t[:: max(1, m // 300)], rng)
    ref = reference(t, x, q.nan_index)
    out = q.quantize(x, np.empty(x.shape, np.uint16))
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("isa", ISAS)
def test_large_nonuniform_uint16(isa):
    rng = np.random.default_rng(7)
    t = np.sort(rng.standard_normal(4999).astype(np.float32))
    q = dq.scalar_quantizer(t.tolist())
    q.set_isa(isa)
    x = adversarial(t, rng)
    out = q.quantize(x)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, reference(t, x, q.nan_index))
    with pytest.raises(ValueError):
        q.quantize(x, np.empty(x.shape, np.uint8))


@pytest.mark.parametrize("isa", ISAS)
def test_ties_duplicate_thresholds_and_ends(isa):
    t = [-1.0, 0.0, 0.0, 2.0]  # equal thresholds: the middle bin is empty
    q = dq.scalar_quantizer(t)
    q.set_isa(isa)
    x = np.array([-1.0, 0.0, 2.0, -np.inf, np.inf, -5, 5, 1.0], dtype=np.float32)
    np.testing.assert_array_equal(q.quantize(x), [1, 3, 4, 0, 4, 0, 4, 3])


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("offset", [0, 1, 3])
@pytest.mark.parametrize("n", [0, 1, 7, 15, 16, 17, 31, 33, 1001])
def test_unaligned_and_odd_lengths(isa, offset, n):
    rng = np.random.default_rng(n + offset)
    t = np.sort(rng.standard_normal(15).astype(np.float32))
    q = dq.scalar_quantizer(t.tolist())
    q.set_isa(isa)
    base = rng.standard_normal(n + offset).astype(np.float32)
    x = base[offset:]  # contiguous view, not 32-byte aligned for offset != 0
    np.testing.assert_array_equal(q.quantize(x), np.searchsorted(t, x, side="right"))


def test_nan_rule_and_count():
    q = dq.scalar_quantizer([-1.0, -0.5, 0.5])
    assert q.nan_index == 2  # the bin of 0.0
    x = np.full(50, np.nan, dtype=np.float32)
    x[::2] = 0.7
    out = q.quantize(x)
    assert q.nan_count == 25
    np.testing.assert_array_equal(out[1::2], 2)
    np.testing.assert_array_equal(out[::2], 3)
    q.reset_nan_count()
    assert q.nan_count == 0


def test_multidimensional_out_and_no_copy():
    q = dq.scalar_quantizer([0.0])
    x = np.random.default_rng(0).standard_normal((4, 5, 6)).astype(np.float32)
    out = np.empty(x.shape, np.uint8)
    r = q.quantize(x, out)
    assert r is out and r.shape == x.shape
    np.testing.assert_array_equal(out, (x >= 0).astype(np.uint8))
    lv = q.quantize_levels(x)
    assert lv.shape == x.shape and lv.dtype == np.float32
    with pytest.raises(ValueError):
        q.quantize(x, np.empty(7, np.uint8))
    with pytest.raises(TypeError):
        q.quantize(x, np.empty(x.shape, np.int32))
    # float64 input is converted (one copy), with the same result
    np.testing.assert_array_equal(q.quantize(x.astype(np.float64)), out)


def test_complex_adc_and_dequantize():
    q = dq.scalar_quantizer.make_uniform(-1.0, 1.0, 8)  # a 3-bit ADC
    rng = np.random.default_rng(3)
    z = (rng.standard_normal(1000) + 1j * rng.standard_normal(1000)).astype(np.complex64)
    idx = q.quantize_complex(z)
    assert idx.shape == (1000, 2)
    np.testing.assert_array_equal(idx[:, 0], np.searchsorted(q.thresholds, z.real, side="right"))
    np.testing.assert_array_equal(idx[:, 1], np.searchsorted(q.thresholds, z.imag, side="right"))
    y = q.quantize_complex_levels(z)
    assert y.dtype == np.complex64
    np.testing.assert_array_equal(y.real, q.levels[idx[:, 0]])
    np.testing.assert_array_equal(y.imag, q.levels[idx[:, 1]])
    np.testing.assert_array_equal(q.dequantize(idx[:, 0].copy()), y.real)
    # invalid indices clamp to the last level
    np.testing.assert_array_equal(q.dequantize(np.array([0, 7, 8, 255], np.uint8)), q.levels[[0, 7, 7, 7]])
    np.testing.assert_array_equal(q.dequantize(np.array([8, 60000], np.uint16)), q.levels[[7, 7]])


@pytest.mark.parametrize(
    "bad",
    [
        lambda: dq.scalar_quantizer([1.0, 0.0]),
        lambda: dq.scalar_quantizer([0.0, float("nan")]),
        lambda: dq.scalar_quantizer([0.0, float("inf")]),
        lambda: dq.scalar_quantizer([0.0], [1.0]),
        lambda: dq.scalar_quantizer([0.0], [1.0, 2.0, 3.0]),
        lambda: dq.scalar_quantizer([0.0], [1.0, float("nan")]),
        lambda: dq.scalar_quantizer(list(np.arange(65536.0))),
        lambda: dq.scalar_quantizer.make_uniform(1.0, 1.0, 4),
        lambda: dq.scalar_quantizer.make_uniform(0.0, 1.0, 0),
        lambda: dq.scalar_quantizer.make_uniform(0.0, float("inf"), 4),
    ],
)
def test_bad_construction_raises_clear_error(bad):
    with pytest.raises(ValueError) as e:
        bad()
    assert "scalar_quantizer" in str(e.value)


def test_runtime_change_and_isa_switch():
    q = dq.scalar_quantizer([0.0])
    x = np.linspace(-2, 2, 101, dtype=np.float32)
    q.set_thresholds([-1.0, 1.0], [-2.0, 0.0, 2.0])
    np.testing.assert_array_equal(q.quantize(x), np.searchsorted([-1.0, 1.0], x, side="right"))
    q.set_uniform(-2.0, 2.0, 4)
    assert q.is_uniform
    np.testing.assert_array_equal(q.quantize(x), np.searchsorted(q.thresholds, x, side="right"))
    with pytest.raises(ValueError):
        q.set_isa("sse9")


@settings(max_examples=150, deadline=None)
@given(
    t=hnp.arrays(np.float32, st.integers(0, 300), elements=st.floats(-1e6, 1e6, width=32, allow_subnormal=True)),
    x=hnp.arrays(
        np.float32,
        st.integers(0, 200),
        elements=st.floats(width=32, allow_nan=True, allow_infinity=True, allow_subnormal=True),
    ),
    isa=st.sampled_from(ISAS),
)
def test_property_any_thresholds_any_input(t, x, isa):
    t = np.sort(t)
    q = dq.scalar_quantizer(t.tolist())
    q.set_isa(isa)
    x = np.concatenate([x, t]).astype(np.float32)
    np.testing.assert_array_equal(q.quantize(x, np.empty(x.shape, np.uint16)), reference(t, x, q.nan_index))
