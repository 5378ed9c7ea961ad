"""Exact ML / exact demapping stay finite and accurate at extreme SNR in float32 (issue 18:
exact_ml gave NaN LLRs at sigma^2 <= 5e-9 for 2x2 64-QAM -- the best PAM level was found in
float32 and, near a decision boundary, could be the neighbour of the true best, so a level offset
came out positive and exp() overflowed)."""

import numpy as np
import pytest

from gnuradio.deepquant.phy import mapping, mimo


def _link(nv, b=256, seed=1):
    rng = np.random.default_rng(seed)
    h = ((rng.standard_normal((b, 2, 2)) + 1j * rng.standard_normal((b, 2, 2))) / np.sqrt(2)).astype(np.complex64)
    x = np.asarray(mapping.map_bits(rng.integers(0, 2, (b * 2, 6)), 6)).reshape(b, 2).astype(np.complex64)
    w = (rng.standard_normal((b, 2)) + 1j * rng.standard_normal((b, 2))).astype(np.complex64)
    y = (np.einsum("bij,bj->bi", h, x) + np.sqrt(nv / 2) * w).astype(np.complex64)
    return y, h


@pytest.mark.parametrize("nv", [1e-8, 5e-9, 1e-12, 1e-20, 1e-30])
def test_exact_ml_float32_finite_and_accurate_at_tiny_noise(nv):
    y, h = _link(nv)
    l32 = mimo.exact_ml(y, h, np.full(len(y), nv, np.float32), 6)
    l64 = mimo.exact_ml(y, h, np.full(len(y), nv), 6, dtype="float64")
    assert np.isfinite(l32).all() and np.isfinite(l64).all()
    assert np.max(np.abs(l32 - l64) / np.maximum(1.0, np.abs(l64))) < 1e-5


@pytest.mark.parametrize("nv", [1e-12, 1e-30])
def test_exact_demapper_float32_finite_at_tiny_noise(nv):
    y, h = _link(nv)
    l32 = np.asarray(mapping.demap_exact(y[:, 0], h[:, 0, 0], np.full(len(y), nv, np.float32), 6))
    l64 = np.asarray(mapping.demap_exact(y[:, 0], h[:, 0, 0], np.full(len(y), nv), 6, dtype="float64"))
    assert np.isfinite(l32).all()
    # the demapper forms its statistics in float32: ~1e-4 relative at such SNR, and no NaN
    assert np.max(np.abs(l32 - l64) / np.maximum(1.0, np.abs(l64))) < 1e-3
