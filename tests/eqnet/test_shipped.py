"""Every shipped EQ-Net model loads (without pickle) and reproduces its stored known output."""

import json
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from gnuradio.deepquant import eqnet

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import eqnet_model_cards as cards  # noqa: E402


def _assert_llr_close(a, b):
    """LLRs equal up to float32 rounding of the soft bit s = tanh(L/2) that the torch path takes
    (``softbit_to_llr``) and the C++ kernel skips: an error of 6e-8 in s moves L by about
    6e-8 / (1 - |s|) ~ 3e-8 exp(|L|) (0.03 at |L| = 14, the +-14.5 saturation)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    tol = 2e-3 + 1e-4 * np.abs(b) + 6e-8 * np.exp(np.minimum(np.abs(b), 14.5))
    bad = np.abs(a - b) > tol
    assert not bad.any(), (np.abs(a - b)[bad].max(), a[bad][:5], b[bad][:5])


@pytest.mark.parametrize("key", sorted(eqnet.SHIPPED))
def test_shipped_model_reproduces_known_output(key):
    name = eqnet.SHIPPED[key]
    d = Path(str(resources.files("gnuradio.deepquant") / "models" / "eqnet"))
    check = json.loads((d / f"{name}.check.json").read_text())
    assert (d / f"{name}.md").is_file() and (d / f"{name}.config.json").is_file()
    rt = eqnet.EQNetRuntime.shipped(*key)
    assert rt.meta["model_id"] == check["model_id"]
    assert rt.has_estimator and sorted(rt.codebooks) == [5, 6]
    y, H, nv, llr = cards.check_inputs(rt.nr, rt.nt, rt.k, check["seed"], check["uses"])
    # the C++ kernel, as the blocks use it (its EP-input mode for an f_E on EP's soft bits)
    assert rt.backend == "cpp" and rt.cpp_kernel.ep_input == bool(rt.net.f_e.n_ep)
    _assert_llr_close(rt.detect(y, H, nv), np.array(check["detect_llr"]))
    for b in (5, 6):
        idx = rt.quantize(llr, b)
        assert np.array_equal(idx, np.array(check[f"quantize_b{b}"]))
        np.testing.assert_allclose(rt.dequantize(idx, b), np.array(check[f"dequantize_b{b}"]), atol=2e-3, rtol=1e-4)
    # eager torch and TorchScript give the same LLRs as the C++ kernel the blocks use
    for backend in ("eager", "torchscript"):
        other = eqnet.EQNetRuntime(eqnet.io.shipped_path(*key), backend=backend)
        _assert_llr_close(rt.detect(y, H, nv), other.detect(y, H, nv))


def test_registry_hooks_reach_the_shipped_models():
    """``registry.detect('eqnet_*')`` and the ``evaluate`` compressors ``eqnet-q5/q6`` reach the
    shipped models; ``phy.mimo`` (a lower layer) does not know the learned names itself."""
    from gnuradio.deepquant import evaluate, registry
    from gnuradio.deepquant.phy import mimo

    y, H, nv, llr = cards.check_inputs(2, 2, 6)
    out = registry.detect("eqnet_l", y, H, nv, bits_per_symbol=6)
    np.testing.assert_allclose(out, eqnet.runtime(2, 2, 6, "l").detect(y, H, nv), atol=1e-5)
    assert "eqnet_l" not in mimo.DETECTORS
    with pytest.raises(ValueError, match="registry"):
        mimo.detect("eqnet_l", y, H, nv, bits_per_symbol=6)
    j = registry.detect("eqnet_p_q6", y, H, nv, bits_per_symbol=6)
    assert j.shape == (8, 12)
    for name in ("eqnet-q5", "eqnet-q6"):
        rec = evaluate.get_compressor(name)(llr)
        assert rec.shape == llr.shape and np.mean(np.sign(rec) == np.sign(llr)) > 0.8
    link = evaluate.Link(evaluate.SCENARIOS["2x2-64qam-rayleigh"], seed=0, workers=1)
    r = link.run_batch("eqnet_l", 30.0, 10)
    assert r["codewords"] == 10 and r["block_errors"] == 0
