"""qa: mimo_detector's C++ path (one ``detect_into`` call per work() writing into GNU Radio's
output buffer, the guards in C++) gives bit for bit the LLRs and the counts of the block's generic
numpy path (sanitize, batched kernel call, out[~ok] = 0, float64 recomputation, clipping) for the
same work() calls, on inputs that exercise every guard: invalid channel uses, float32 overflow,
SNRs outside a learned model's range. (Bit for bit per work() call: the kernels' SIMD demapping
treats the tail of a batch in scalar code, so LLRs differ in the last bits with how the scheduler
cuts the stream -- in either path; in a flowgraph the two agree to float rounding.)"""

import numpy as np
import pytest
from gnuradio import blocks, gr

from gnuradio import deepquant as dq


def _inputs(nr, nt, n=4000, seed=7):
    rng = np.random.default_rng(seed)
    h = ((rng.standard_normal((n, nr, nt)) + 1j * rng.standard_normal((n, nr, nt))) / np.sqrt(2)).astype(np.complex64)
    x = np.exp(2j * np.pi * rng.uniform(size=(n, nt)))
    nv = (nt * 10 ** (-rng.uniform(-5, 45, n) / 10)).astype(np.float32)  # in and out of EQ-Net's range
    y = (np.einsum("brt,bt->br", h, x) + np.sqrt(nv[:, None] / 2) * rng.standard_normal((n, nr))).astype(np.complex64)
    y[11, 0] = np.nan
    h[13, 0, nt - 1] = np.inf
    nv[[12, 14, 15]] = [0.0, -1.0, np.inf]
    nv[20:25] = 1e-42  # float32 overflow
    h[30:33] *= np.float32(1e20)
    y[30:33] *= np.float32(1e20)
    return y, h, nv


def _work(blk, y, h, nv, cuts=(1, 8, 1000, 1001)):
    """blk.work() called directly on GNU Radio's buffer layout, in calls of the given sizes."""
    n, nr = y.shape
    out = np.full((n, blk.nt * blk.k), np.nan, np.float32)
    bounds = np.concatenate([[0], np.cumsum(cuts, dtype=np.int64), [n]]).astype(np.int64)
    for a, b in zip(bounds[:-1], bounds[1:]):
        ins = [y[a:b], h[a:b].reshape(b - a, -1), nv[a:b]]
        assert blk.work(ins, [out[a:b]]) == b - a
    return out


def _run(blk, y, h, nv):
    n, nr = y.shape
    tb = gr.top_block()
    snk = blocks.vector_sink_f(blk.nt * blk.k)
    tb.connect(blocks.vector_source_c(y.ravel().tolist(), False, nr), (blk, 0))
    tb.connect(blocks.vector_source_c(h.ravel().tolist(), False, h.shape[1] * h.shape[2]), (blk, 1))
    tb.connect(blocks.vector_source_f(nv.tolist()), (blk, 2))
    tb.connect(blk, snk)
    tb.run()
    return np.asarray(snk.data(), np.float32).reshape(n, blk.nt * blk.k)


_CLASSICAL = [(2, 2, 6, "lmmse"), (3, 2, 2, "lmmse"), (1, 1, 4, "lmmse"), (2, 2, 6, "ep"), (4, 4, 4, "ep")]
_LEARNED = [(2, 2, 6, "eqnet_l"), (2, 2, 6, "eqnet_p"), (4, 4, 4, "eqnet_l"), (4, 4, 4, "eqnet_p")]


@pytest.mark.parametrize(
    "nr,nt,k,method,snr_policy",
    [c + ("lmmse",) for c in _CLASSICAL + _LEARNED] + [c + ("none",) for c in _LEARNED],
)
def test_cpp_path_is_bit_identical_to_the_generic_path(nr, nt, k, method, snr_policy):
    y, h, nv = _inputs(nr, nt)
    fast = dq.mimo_detector(nr, nt, k, method, snr_policy=snr_policy)
    # the C++ path is what the block runs (EQ-Net models without the C++ kernel run in torch)
    cpp = method in ("lmmse", "ep") or fast._learned[method].cpp_kernel is not None
    assert (fast._fast is not None) == cpp
    slow = dq.mimo_detector(nr, nt, k, method, snr_policy=snr_policy)
    slow._fast = None  # the generic path: numpy guards around the kernels' array calls
    a, b = _work(fast, y, h, nv), _work(slow, y, h, nv)
    assert np.isfinite(a).all() and np.abs(a).max() <= np.float32(1e30)
    np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))
    assert (fast.bad_count, fast.overflow_count, fast.out_of_range_count) == (
        slow.bad_count,
        slow.overflow_count,
        slow.out_of_range_count,
    )
    assert fast.bad_count - fast.overflow_count == 5  # the invalid channel uses (rows 11..15)
    if not method.startswith("eqnet") or snr_policy == "lmmse":  # (the networks' LLRs stay finite)
        assert fast.overflow_count > 0
    if method.startswith("eqnet") and snr_policy == "lmmse":
        assert fast.out_of_range_count > 100


@pytest.mark.parametrize(
    "nr,nt,k,method", [(2, 2, 6, "lmmse"), (2, 2, 6, "ep"), (2, 2, 6, "eqnet_l"), (4, 4, 4, "eqnet_l")]
)
def test_cpp_path_in_a_flowgraph(nr, nt, k, method):
    """The same in a flowgraph (the scheduler's buffers, its cuts): the counts, and LLRs to float rounding."""
    y, h, nv = _inputs(nr, nt)
    fast = dq.mimo_detector(nr, nt, k, method)
    slow = dq.mimo_detector(nr, nt, k, method)
    slow._fast = None
    a, b = _run(fast, y, h, nv), _run(slow, y, h, nv)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(a[11:16], 0.0)
    assert (fast.bad_count, fast.overflow_count, fast.out_of_range_count) == (
        slow.bad_count,
        slow.overflow_count,
        slow.out_of_range_count,
    )


def test_buffers_the_cpp_path_refuses_fall_back_to_the_generic_path():
    """A non-contiguous output view (not what GNU Radio hands over, but never a crash): the block
    logs, switches to the generic path for good and still writes the right LLRs."""
    y, h, nv = _inputs(2, 2, n=64)
    blk = dq.mimo_detector(2, 2, 6, "lmmse")
    ref = _work(dq.mimo_detector(2, 2, 6, "lmmse"), y, h, nv, cuts=())
    wide = np.zeros((64, 24), np.float32)
    out = wide[:, ::2]  # strided: detect_into raises before writing anything
    assert blk.work([y, h.reshape(64, 4), nv], [out]) == 64
    assert blk._fast is None
    np.testing.assert_array_equal(out, ref)
