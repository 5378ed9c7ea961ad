"""Bit interleaver: exact inverse, seed determinism, and that it spreads adjacent codeword bits
over different channel uses (compared with what a uniformly random permutation gives)."""

import numpy as np
import pytest
import torch

torch.set_num_threads(1)

from gnuradio.deepquant.phy.interleaver import BitInterleaver, s_random_permutation  # noqa: E402

N = 648


def test_inverse_numpy_and_torch():
    il = BitInterleaver(N, seed=3)
    assert sorted(il.perm.tolist()) == list(range(N))
    x = np.random.default_rng(0).integers(0, 2, size=(4, 5, N)).astype(np.uint8)
    y = il.interleave(x)
    assert y.shape == x.shape and y.dtype == np.uint8
    np.testing.assert_array_equal(il.deinterleave(y), x)
    np.testing.assert_array_equal(il.interleave(il.deinterleave(x)), x)
    np.testing.assert_array_equal(y[..., 10], x[..., il.perm[10]])  # documented convention
    llr = torch.randn(7, N, dtype=torch.float64, requires_grad=True)
    back = il.deinterleave(il(llr))
    torch.testing.assert_close(back, llr)
    back.sum().backward()  # gradients pass through
    torch.testing.assert_close(llr.grad, torch.ones_like(llr))
    assert not np.array_equal(y, x)
    with pytest.raises(ValueError):
        il.interleave(np.zeros(N - 1))


def test_seed_determinism():
    a, b, c = BitInterleaver(N, 11), BitInterleaver(N, 11), BitInterleaver(N, 12)
    np.testing.assert_array_equal(a.perm, b.perm)
    assert not np.array_equal(a.perm, c.perm)
    # reproducible outside the module: numpy's Generator permutation for that seed
    np.testing.assert_array_equal(a.perm, np.random.default_rng(11).permutation(N))
    s1 = BitInterleaver(N, 5, spread=12)
    s2 = BitInterleaver(N, 5, spread=12)
    np.testing.assert_array_equal(s1.perm, s2.perm)


def test_random_interleaver_spreads_adjacent_bits():
    """For a uniformly random permutation, two given bits share one of the N/Q channel uses of
    Q bits with probability (Q-1)/(N-1) and sit E|U-V| = (N+1)/3 positions apart."""
    Q = 6  # one 64-QAM symbol per channel use
    same, dist = [], []
    for seed in range(20):
        il = BitInterleaver(N, seed)
        use = il.channel_use_of_bit(Q)
        same.append(np.mean(use[1:] == use[:-1]))
        dist.append(np.mean(np.abs(np.diff(il.inverse))))
    assert np.mean(same) < 3 * (Q - 1) / (N - 1)  # 0.8 % expected; 83 % without interleaving
    assert np.mean(dist) == pytest.approx((N + 1) / 3, rel=0.05)
    # a whole 64-QAM symbol's worth of consecutive codeword bits lands on ~6 different uses
    il = BitInterleaver(N, 0)
    use = il.channel_use_of_bit(Q)
    distinct = [len(set(use[k : k + Q])) for k in range(0, N, Q)]
    assert np.mean(distinct) > 5.5


def test_s_random_guarantees_spread():
    S = 12  # e.g. 2 streams x 64-QAM = 12 bits per channel use
    p = s_random_permutation(N, S, seed=1)
    assert sorted(p.tolist()) == list(range(N))
    for d in range(1, S + 1):
        assert (np.abs(p[d:] - p[:-d]) > S).all()
    il = BitInterleaver(N, seed=1, spread=S)
    inv = il.inverse  # the property is symmetric: also holds for the inverse
    for d in range(1, S + 1):
        assert (np.abs(inv[d:] - inv[:-d]) > S).all()
    use = il.channel_use_of_bit(S)
    assert (use[1:] != use[:-1]).all()  # adjacent codeword bits never share a channel use
    with pytest.raises(RuntimeError):
        s_random_permutation(20, 15, seed=0, max_restarts=3)
