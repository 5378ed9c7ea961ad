"""Packet detection from every receive chain (issue 18): ``sc_sync_combined`` is GNU Radio's
Schmidl & Cox synchroniser with the correlations and energies summed over the chains."""

import numpy as np
from gnuradio import blocks, digital, gr

from gnuradio.deepquant.apps import mimo_ofdm
from gnuradio.deepquant.blocks.sc_sync_combined import sc_sync_combined


def _run(sync, streams):
    tb = gr.top_block()
    for r, x in enumerate(streams):
        tb.connect(blocks.vector_source_c(x.tolist()), (sync, r))
    s0, s1 = blocks.vector_sink_f(), blocks.vector_sink_b()
    tb.connect((sync, 0), s0)
    tb.connect((sync, 1), s1)
    tb.run()
    return np.array(s0.data()), np.array(s1.data())


def _packets(n, seed=0):
    iq, starts = mimo_ofdm.transmit(n, 2)
    rng = np.random.default_rng(seed)
    lead = np.zeros((2, 300), np.complex64)
    x = np.concatenate([lead, iq], axis=1)
    w = 0.02 * (rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape))
    return (x + w).astype(np.complex64), starts + 300


def test_one_chain_equals_gnu_radio():
    x, _ = _packets(6)
    a = _run(digital.ofdm_sync_sc_cfb(64, 16, False, 0.7), [x[0]])
    b = _run(sc_sync_combined(1, 64, 16, 0.7), [x[0]])
    ta, tb_ = np.flatnonzero(a[1]), np.flatnonzero(b[1])
    assert ta.size == 6 and np.array_equal(ta, tb_)
    np.testing.assert_allclose(b[0][ta + 1], a[0][ta + 1], atol=1e-6)


def test_a_preamble_faded_on_chain_0_is_found_from_chain_1():
    x, starts = _packets(6, seed=1)
    rng = np.random.default_rng(2)
    faded = (0.02 * (rng.standard_normal(x.shape[1]) + 1j * rng.standard_normal(x.shape[1]))).astype(np.complex64)
    gr_only = _run(digital.ofdm_sync_sc_cfb(64, 16, False, 0.7), [faded])  # chain 0: noise only
    both = _run(sc_sync_combined(2, 64, 16, 0.7), [faded, x[0]])  # chain 1 hears the preamble
    assert np.flatnonzero(gr_only[1]).size == 0
    trig = np.flatnonzero(both[1])
    assert trig.size == 6
    assert np.all(np.abs(trig - (starts + 32 + 16)) < 24)  # inside each preamble's plateau


def test_cxx_correlator_equals_numpy_block_bit_for_bit():
    """The C++ correlator inside sc_sync_combined against the numpy sc_correlator: identical
    outputs (float64 inside, one rounding), whatever the scheduler's chunking."""
    import pytest

    from gnuradio.deepquant import deepquant_python as dq
    from gnuradio.deepquant.blocks.sc_sync_combined import sc_correlator

    rng = np.random.default_rng(4)
    x = (rng.standard_normal((3, 5000)) + 1j * rng.standard_normal((3, 5000))) * 10.0 ** rng.uniform(-3, 3, (3, 5000))
    x = x.astype(np.complex64)
    outs = []
    for make, chunk in (
        (lambda: sc_correlator(3, 32), 0),
        (lambda: dq.sc_correlator_ccf(3, 32), 0),
        (lambda: dq.sc_correlator_ccf(3, 32), 333),
    ):
        tb = gr.top_block()
        c = make()
        for r in range(3):
            tb.connect(blocks.vector_source_c(x[r].tolist()), (c, r))
        s0, s1 = blocks.vector_sink_c(), blocks.vector_sink_f()
        tb.connect((c, 0), s0)
        tb.connect((c, 1), s1)
        tb.run(chunk) if chunk else tb.run()
        outs.append((np.array(s0.data()), np.array(s1.data())))
    for p, e in outs[1:]:
        np.testing.assert_array_equal(p, outs[0][0])
        np.testing.assert_array_equal(e, outs[0][1])
    with pytest.raises(ValueError):
        dq.sc_correlator_ccf(0, 32)
