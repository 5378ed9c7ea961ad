"""Closed-form Gaussian quantizer design against Monte-Carlo and the kernel."""

import numpy as np
import pytest

from gnuradio import deepquant as dq
from gnuradio.deepquant import quantization as qz


@pytest.mark.parametrize("m", [2, 3, 4, 8, 16])
def test_lloyd_max_is_stationary_and_matches_monte_carlo(m):
    t, lv, d = qz.lloyd_max_gaussian(m)
    rng = np.random.default_rng(m)
    x = rng.standard_normal(2_000_000).astype(np.float32)
    q = dq.scalar_quantizer(t.astype(np.float32).tolist(), lv.astype(np.float32).tolist())
    idx = q.quantize(x)
    mc = np.mean((x - lv[idx]) ** 2)
    assert abs(mc - d) < 4e-3 * max(d, 0.01) + 3 * np.std((x - lv[idx]) ** 2) / np.sqrt(x.size)
    # centroid condition checked empirically: each level is the mean of its cell
    for i in range(m):
        cell = x[idx == i]
        assert abs(cell.mean() - lv[i]) < 0.02
    # thresholds are midpoints of the levels
    np.testing.assert_allclose(t, 0.5 * (lv[1:] + lv[:-1]), atol=1e-9)


def test_lloyd_max_known_two_level():
    # M = 2: levels +-sqrt(2/pi), distortion 1 - 2/pi (textbook closed form, derived by hand)
    t, lv, d = qz.lloyd_max_gaussian(2)
    np.testing.assert_allclose(lv, [-np.sqrt(2 / np.pi), np.sqrt(2 / np.pi)], rtol=1e-9)
    assert d == pytest.approx(1 - 2 / np.pi, rel=1e-9)


def test_uniform_distortion_matches_monte_carlo_and_optimum():
    m = 8
    a = qz.optimal_uniform_range(m, 1.0)
    t, lv = qz.uniform_quantizer(-a, a, m)
    d = qz.gaussian_distortion(t, lv)
    x = np.random.default_rng(0).standard_normal(2_000_000)
    mc = np.mean((x - lv[np.searchsorted(t, x, side="right")]) ** 2)
    assert mc == pytest.approx(d, rel=0.01)
    # it is a minimum over the range, and Lloyd-Max beats it
    for f in (0.9, 1.1):
        assert qz.gaussian_distortion(*qz.uniform_quantizer(-a * f, a * f, m)) > d
    assert qz.lloyd_max_gaussian(m)[2] < d


def test_errors():
    with pytest.raises(ValueError):
        qz.gaussian_distortion([0.0], [1.0])
    with pytest.raises(ValueError):
        qz.uniform_quantizer(1.0, 0.0, 4)
