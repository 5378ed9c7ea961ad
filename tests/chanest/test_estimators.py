"""numpy-callable estimators: layouts, kernel inference, baselines vs their closed forms, and
validation of every shipped model (files, checksum, metadata, shapes, a known MSE)."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from gnuradio.deepquant.chanest import bounds as B
from gnuradio.deepquant.chanest import estimators as E
from gnuradio.deepquant.chanest import hard
from gnuradio.deepquant.chanest.system import ChannelSetup, complex_to_real, h_to_rowmajor

S = ChannelSetup()
PAPER_LEVELS = (2, 3, 4, 6, 8, 12, 18)
FAMILIES = [(m, t) for m in ("soft_to_hard", "passing_gradient") for t in ("optimal", "snr_uncertainty")]


@pytest.fixture(scope="module")
def test_data():
    y, h = S.sample_complex(4096, np.random.default_rng(77))
    return y, h


def test_mmse_estimator_layout_and_mse(test_data):
    y, h = test_data
    est = E.MMSEEstimator(10, 4, 12, 4.0)
    H = est(y)
    assert H.dtype == np.complex64 and H.shape == (4096, 40)
    np.testing.assert_allclose(H, h_to_rowmajor(est(y, layout="paper"), 10, 4))
    # single block in, single estimate out
    np.testing.assert_allclose(est(y[0]), H[0], atol=1e-5)
    mse = np.mean(np.abs(est(y, layout="paper") - h) ** 2) / 2  # per real entry
    assert mse == pytest.approx(B.mmse(S), rel=0.05)
    assert est.adc_bits_per_block is None and est.rate is None
    with pytest.raises(ValueError):
        est(np.zeros((2, 7), np.complex64))


def test_uniform_adc_estimator_matches_prediction(test_data):
    y, h = test_data
    for m in (2, 4):
        est = E.UniformADCEstimator(10, 4, 12, m, 4.0)
        mse = est.mse_real(complex_to_real(y).astype(np.float32), complex_to_real(h))
        assert mse == pytest.approx(est.predicted_mse, rel=0.04)
        assert est.rate == pytest.approx(np.log2(m))
    assert E.UniformADCEstimator(10, 4, 12, 2).predicted_mse == pytest.approx(B.blmmse(S), rel=1e-6)


def test_hardware_limited_estimator(test_data):
    y, h = test_data
    est = E.make_estimator(10, 4, 12, 1.0, method="hardware_limited", snr=4.0)
    assert est.num_levels == 8 and est.adc_bits_per_block == 240 and est.rate == 1.0
    mse = est.mse_real(complex_to_real(y).astype(np.float32), complex_to_real(h))
    # real (undithered) uniform ADCs: same ballpark as the dithered-model prediction
    assert 0.7 * B.eta_sc(S, 8) < mse < 1.3 * B.eta_sc(S, 8)


def test_tbq_estimator_from_tensors_uses_kernel_rule():
    rng = np.random.default_rng(0)
    s = ChannelSetup(n_t=2, n_u=1, tau_p=2)
    thr, lev = hard.soft_to_hard(rng.standard_normal(4), rng.standard_normal(4), np.full(4, 5.0))
    tensors = {
        "combiner.weight": rng.standard_normal((s.k, s.n)).astype(np.float32),
        "combiner.bias": np.zeros(s.k, np.float32),
        "adc.thresholds": thr.astype(np.float32),
        "adc.levels": lev.astype(np.float32),
        "digital.0.weight": rng.standard_normal((8, s.k)).astype(np.float32),
        "digital.0.bias": np.zeros(8, np.float32),
        "digital.1.weight": rng.standard_normal((s.k, 8)).astype(np.float32),
        "digital.1.bias": np.ones(s.k, np.float32),
    }
    est = E.TBQEstimator(tensors, {"n_t": 2, "n_u": 1, "tau_p": 2, "snr": 4.0})
    x = rng.standard_normal((100, s.n)).astype(np.float32)
    z = x @ tensors["combiner.weight"].T
    q = hard.apply_hard(z, tensors["adc.thresholds"], tensors["adc.levels"])
    ref = np.maximum(q @ tensors["digital.0.weight"].T, 0) @ tensors["digital.1.weight"].T + 1
    np.testing.assert_allclose(est.estimate_real(x), ref, rtol=1e-4, atol=1e-4)
    assert est.num_levels == 5 and est.adc_bits_per_block == pytest.approx(s.k * np.log2(5))


def _cards():
    return E.list_shipped_models()


def test_shipped_grid_is_complete():
    have = {(c["model"]["method"], c["model"]["training"], c["model"]["num_levels"]) for c in _cards()}
    for m, t in FAMILIES:
        for lv in PAPER_LEVELS:
            assert (m, t, lv) in have, f"missing shipped model {m}/{t} M={lv}"


@pytest.mark.parametrize("card", _cards(), ids=lambda c: Path(c["path"]).stem)
def test_shipped_model_valid(card, test_data):
    from safetensors import safe_open

    path = Path(card["path"])
    assert path.stat().st_size < 200_000
    assert hashlib.sha256(path.read_bytes()).hexdigest() == card["sha256"]
    with safe_open(str(path), framework="numpy") as f:
        meta = json.loads(f.metadata()["deepquant"])
    assert meta == card["model"]
    for key in ("training_config", "data", "metrics", "reproduce"):
        assert key in card
    assert card["reproduce"].startswith("deepquant train chanest")
    est = E.TBQEstimator.load(path)
    m = card["model"]["num_levels"]
    assert est.w_t.shape == (240, 80) and est.thresholds.shape == (m - 1,) and est.levels.shape == (m,)
    assert np.all(np.diff(est.thresholds) >= 0)
    assert est.rate == pytest.approx(np.log2(m) / 3)
    y, h = test_data
    mse = est.mse_real(complex_to_real(y).astype(np.float32), complex_to_real(h))
    assert mse == pytest.approx(card["metrics"]["test_mse"], rel=0.06)


def test_make_estimator_selection_and_errors():
    est = E.make_estimator(10, 4, 12, 0.67)
    assert est.num_levels == 4 and est.method == "soft_to_hard"
    est = E.make_estimator(10, 4, 12, 1 / 3, method="passing_gradient", training="snr_uncertainty")
    assert est.num_levels == 2 and est.training == "snr_uncertainty"
    with pytest.raises(ValueError, match="shipped rates"):
        E.make_estimator(10, 4, 12, 3.0)
    with pytest.raises(ValueError, match="no shipped"):
        E.make_estimator(8, 4, 12, 1.0)
    with pytest.raises(ValueError):
        E.make_estimator(10, 4, 12, 1.0, method="nope")
    with pytest.raises(ValueError, match="model.safetensors does not exist"):
        E.make_estimator(10, 4, 12, 1.0, model="/nonexistent/model.safetensors")
