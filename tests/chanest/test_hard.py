"""Eq. (3)/(4): the hard quantizer extracted from the soft one, its threshold sign, and its equality
with the limit of the soft quantizer as c grows; the passing-gradient ADC; kernel agreement."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gnuradio import deepquant as dq
from gnuradio.deepquant.chanest import hard
from gnuradio.deepquant.chanest.models import PassingGradientADC, SoftToHardADC


def test_threshold_sign_single_tanh():
    # tanh(c x - b) steps up at x = +b/c (not -b/c)
    t, lv = hard.soft_to_hard([1.0], [2.0], [4.0])
    assert t.tolist() == [0.5]
    assert lv.tolist() == [-1.0, 1.0]
    x = np.array([0.4, 0.6])
    assert np.sign(hard.soft_quantizer(x, [1.0], [2.0], [4.0])).tolist() == [-1.0, 1.0]


def test_eq4_levels_by_hand():
    a, b, c = np.array([0.5, 1.0, 0.25]), np.array([-5.0, 0.0, 10.0]), np.array([5.0, 5.0, 5.0])
    t, lv = hard.soft_to_hard(a, b, c)
    np.testing.assert_allclose(t, [-1.0, 0.0, 2.0])
    centres = [-0.5, 1.0]
    np.testing.assert_allclose(lv[1:-1], [np.sum(a * np.tanh(c * x - b)) for x in centres])
    assert lv[0] == -1.75 and lv[-1] == 1.75
    # unsorted input order gives the same quantizer
    p = [2, 0, 1]
    t2, lv2 = hard.soft_to_hard(a[p], b[p], c[p])
    np.testing.assert_allclose(t2, t)
    np.testing.assert_allclose(lv2, lv)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 9), st.integers(0, 2**31 - 1))
def test_hard_is_limit_of_soft_as_c_grows(m, seed):
    """Scale c and b together (thresholds b/c fixed): the soft quantizer converges to the hard one
    of eq. (4) built at that c, away from the thresholds."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(m - 1)
    t = np.sort(rng.uniform(-2, 2, m - 1))
    gaps = np.diff(t)
    if gaps.size and gaps.min() < 0.05:
        t = np.linspace(-2, 2, m - 1) + 0.01 * rng.standard_normal(m - 1)
    x = rng.uniform(-3, 3, 400)
    x = x[np.min(np.abs(x[:, None] - t[None, :]), axis=1) > 0.02]
    for c in (1e3, 1e5):
        cc = np.full(m - 1, c)
        thr, lev = hard.soft_to_hard(a, cc * t, cc)
        np.testing.assert_allclose(thr, t, atol=1e-12)
        soft = hard.soft_quantizer(x, a, cc * t, cc)
        np.testing.assert_allclose(hard.apply_hard(x, thr, lev), soft, atol=1e-6)
    # and the limit itself is the sum of signs
    np.testing.assert_allclose(
        hard.apply_hard(x, *hard.soft_to_hard(a, 1e5 * t, np.full(m - 1, 1e5))),
        np.sign(x[:, None] - t[None, :]) @ a,
        atol=1e-6,
    )


def test_invalid_c():
    with pytest.raises(ValueError):
        hard.soft_to_hard([1.0], [0.0], [0.0])


def test_torch_soft_adc_matches_numpy_and_anneal_keeps_thresholds():
    g = torch.Generator().manual_seed(0)
    adc = SoftToHardADC(6, c=5.0, init="normal", generator=g)
    z = torch.linspace(-3, 3, 101)
    p = adc.params_numpy()
    np.testing.assert_allclose(
        adc(z).detach().numpy(), hard.soft_quantizer(z.numpy(), p["a"], p["b"], p["c"]), atol=1e-5
    )
    t0, _ = adc.hard()
    adc.scale_c(7.0)
    t1, _ = adc.hard()
    np.testing.assert_allclose(t0, t1, atol=1e-6)
    assert float(adc.c[0]) == pytest.approx(35.0)
    # 'spread' init: Gaussian quantile thresholds, increasing levels
    t, lv = SoftToHardADC(4, init="spread").hard()
    np.testing.assert_allclose(t, [-0.6745, 0.0, 0.6745], atol=1e-4)
    assert np.all(np.diff(lv) > 0)


def test_passing_gradient_adc_forward_is_kernel_and_gradient_is_identity():
    for m in (2, 3, 8):
        adc = PassingGradientADC(m, 3.0)
        z = torch.linspace(-4, 4, 997, requires_grad=True)
        y = adc(z)
        k = dq.scalar_quantizer.make_uniform(-3.0, 3.0, m)
        np.testing.assert_allclose(y.detach().numpy(), k.quantize_levels(z.detach().numpy()), atol=1e-6)
        y.sum().backward()
        np.testing.assert_array_equal(z.grad.numpy(), np.ones(997))
        thr, lev = adc.hard()
        np.testing.assert_allclose(hard.apply_hard(z.detach().numpy(), thr, lev), y.detach().numpy(), atol=1e-6)


def test_kernel_equals_reference_hard_quantizer():
    rng = np.random.default_rng(3)
    a, b, c = rng.standard_normal(7), rng.standard_normal(7), np.full(7, 5.0)
    thr, lev = hard.soft_to_hard(a, b, c)
    x = rng.standard_normal(10000).astype(np.float32)
    q = dq.scalar_quantizer(thr.astype(np.float32).tolist(), lev.astype(np.float32).tolist())
    ref = hard.apply_hard(x, thr.astype(np.float32), lev.astype(np.float32))
    np.testing.assert_allclose(q.quantize_levels(x), ref, atol=1e-6)
