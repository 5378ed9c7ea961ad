"""Clopper-Pearson intervals against closed forms and scipy's binomtest (an independent code path)."""

import numpy as np
import pytest
from scipy.stats import binomtest

from gnuradio.deepquant.stats import clopper_pearson


def test_closed_forms_at_the_edges():
    # k = 0: hi = 1 - (a/2)^(1/n);  k = n: lo = (a/2)^(1/n)
    lo, hi = clopper_pearson(0, 160)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 160), rel=1e-9)
    lo, hi = clopper_pearson(40, 40)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / 40), rel=1e-9)


@pytest.mark.parametrize("k,n", [(1, 160), (3, 480), (17, 480), (80, 160), (159, 160)])
def test_matches_scipy_binomtest_exact(k, n):
    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    lo, hi = clopper_pearson(k, n)
    assert lo == pytest.approx(ref.low, rel=1e-7) and hi == pytest.approx(ref.high, rel=1e-7)
    assert lo < k / n < hi


def test_vectorised_and_bad_input():
    lo, hi = clopper_pearson(np.array([0, 5, 0]), np.array([100, 100, 0]))
    assert lo.shape == (3,) and np.isnan(lo[2]) and np.isnan(hi[2])
    assert hi[0] < hi[1]
    with pytest.raises(ValueError):
        clopper_pearson(5, 3)
