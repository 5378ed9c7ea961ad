"""qa tests of mimo_channel in a flowgraph: y = H x + n with the H it outputs, statistics,
coherence, CSI error, CDL-A frames."""

import numpy as np
import pytest
from gnuradio import blocks, gr

from gnuradio import deepquant as dq


def run(ch, x, nt, nr):
    tb = gr.top_block()
    src = blocks.vector_source_c(x.ravel().tolist(), False, nt)
    ys, hs = blocks.vector_sink_c(nr), blocks.vector_sink_c(nr * nt)
    tb.connect(src, ch)
    tb.connect((ch, 0), ys)
    tb.connect((ch, 1), hs)
    tb.run()
    n = len(x)
    return np.asarray(ys.data()).reshape(n, nr), np.asarray(hs.data()).reshape(n, nr, nt)


@pytest.mark.parametrize("model", ["rayleigh", "cdla"])
def test_noiseless_output_is_h_times_x(model):
    rng = np.random.default_rng(0)
    nr, nt, n = 2, 3, 500
    x = (rng.standard_normal((n, nt)) + 1j * rng.standard_normal((n, nt))).astype(np.complex64)
    ch = dq.mimo_channel(nr, nt, model, 0.0, n_subcarriers=48, seed=3)
    y, h = run(ch, x, nt, nr)
    np.testing.assert_allclose(y, np.einsum("bij,bj->bi", h, x), rtol=1e-4, atol=1e-5)
    if model == "rayleigh":  # unit-power entries (CDL-A statistics are tested in tests/phy)
        assert abs(np.mean(np.abs(h) ** 2) - 1.0) < 0.25
    if model == "cdla":  # one realisation per 48-subcarrier frame: frames differ
        assert not np.allclose(h[0], h[48])


def test_rayleigh_statistics_noise_and_coherence():
    nr, nt, n = 2, 2, 20000
    x = np.zeros((n, nt), np.complex64)
    ch = dq.mimo_channel(nr, nt, "rayleigh", 0.3, coherence=10, seed=5)
    y, h = run(ch, x, nt, nr)
    assert abs(np.var(y) - 0.3) < 0.02  # pure noise, CN(0, 0.3)
    assert abs(np.mean(np.abs(h) ** 2) - 1.0) < 0.05
    blocks_ = h.reshape(n // 10, 10, nr, nt)
    assert np.allclose(blocks_, blocks_[:, :1])  # constant within a coherence block
    assert not np.allclose(blocks_[0, 0], blocks_[1, 0])


def test_csi_error_output():
    nr, nt, n = 2, 2, 20000
    x = np.ones((n, nt), np.complex64)
    ch = dq.mimo_channel(nr, nt, "rayleigh", 0.0, csi_error_var=0.1, seed=2)
    y, h_hat = run(ch, x, nt, nr)
    # y = H x exactly, so H x - H_hat x = -E x: variance nt * 0.1 per receive antenna
    err = y - np.einsum("bij,bj->bi", h_hat, x)
    assert abs(np.var(err) - nt * 0.1) < 0.02


def test_bad_parameters():
    with pytest.raises(ValueError):
        dq.mimo_channel(2, 2, "awgn")
    with pytest.raises(ValueError):
        dq.mimo_channel(2, 2, "rayleigh", -1.0)
