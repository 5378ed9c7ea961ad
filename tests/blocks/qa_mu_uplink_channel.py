"""qa test of mu_uplink_channel: data y = H x, pilots follow paper 000's eq. 5 with the same H,
H constant within a coherence block."""

import numpy as np
import pytest
from gnuradio import blocks, gr

from gnuradio import deepquant as dq
from gnuradio.deepquant.chanest.system import ChannelSetup, rowmajor_to_h


def test_pilots_and_data_share_the_channel():
    nt, nu, tau_p, P, coh, n = 4, 2, 3, 4.0, 5, 400
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((n, nu)) + 1j * rng.standard_normal((n, nu))).astype(np.complex64)
    ch = dq.mu_uplink_channel(nt, nu, tau_p, P, coh, 0.0, 1)
    tb = gr.top_block()
    ys, ps, hs = blocks.vector_sink_c(nt), blocks.vector_sink_c(tau_p * nt), blocks.vector_sink_c(nt * nu)
    tb.connect(blocks.vector_source_c(x.ravel().tolist(), False, nu), ch)
    tb.connect((ch, 0), ys)
    tb.connect((ch, 1), ps)
    tb.connect((ch, 2), hs)
    tb.run()
    y = np.asarray(ys.data()).reshape(n, nt)
    pil = np.asarray(ps.data()).reshape(n, tau_p * nt)
    hr = np.asarray(hs.data()).reshape(n, nt * nu)
    np.testing.assert_allclose(y, np.einsum("bij,bj->bi", hr.reshape(n, nt, nu), x), rtol=1e-4, atol=1e-5)
    blk = hr.reshape(n // coh, coh, -1)
    assert np.allclose(blk, blk[:, :1]) and not np.allclose(blk[0, 0], blk[1, 0])
    # pilot residual after removing sqrt(P) (Phi kron I) h is the unit-variance noise
    op = np.sqrt(P) * ChannelSetup(nt, nu, tau_p, P).pilot_operator()
    h = rowmajor_to_h(hr, nt, nu)
    w = pil - h @ op.T
    assert abs(np.var(w[::coh]) - 1.0) < 0.15


def test_bad_parameters():
    with pytest.raises(ValueError):
        dq.mu_uplink_channel(4, 5, 3)  # tau_p < nu
    with pytest.raises(ValueError):
        dq.mu_uplink_channel(4, 2, 3, 4.0, 0)
