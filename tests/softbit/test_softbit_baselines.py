"""Scalar baseline design (softbit.baselines): the Kurkoski-Yagi dynamic program against an
exhaustive search, uniform design, and the shipped EPA per-SNR designs."""

import itertools

import numpy as np
import pytest

from gnuradio.deepquant import softbit
from gnuradio.deepquant.softbit import baselines as B, codec as C


def _brute_force_mi(x, m):
    """Best I(B; Q) over every partition of the sorted distinct samples into m contiguous cells."""
    xs = np.sort(x)
    best = -1.0
    for cuts in itertools.combinations(range(1, len(xs)), m - 1):
        thr = np.array([(xs[c - 1] + xs[c]) / 2 for c in cuts])
        best = max(best, B.mutual_information(xs, thr))
    return best


@pytest.mark.parametrize("m", [2, 3, 4])
def test_dp_is_optimal_on_small_sets(m):
    rng = np.random.default_rng(m)
    for _ in range(3):
        # LLRs of BPSK over AWGN, L = 2y/s^2 with a +-1 symbol
        s2 = 0.8
        x = 2 * (rng.choice([-1.0, 1.0], 14) + rng.normal(0, np.sqrt(s2), 14)) / s2
        thr, lv = B.maxmi_dp(x, m, fine=64, polish=0)
        assert thr.shape == (m - 1,) and np.all(np.diff(thr) > 0)
        assert B.mutual_information(x, thr) == pytest.approx(_brute_force_mi(x, m), abs=1e-12)
        # reproduction LLRs are the logits of the cell posteriors
        idx = np.searchsorted(thr, x, side="right")
        for i in range(m):
            p = np.mean(1 / (1 + np.exp(-x[idx == i])))
            assert lv[i] == pytest.approx(np.log(p / (1 - p)), abs=1e-9)


def test_dp_beats_or_matches_lloyd_and_uniform():
    rng = np.random.default_rng(1)
    s2 = 0.3
    x = 2 * (rng.choice([-1.0, 1.0], 20000) + rng.normal(0, np.sqrt(s2), 20000)) / s2
    for bits in (2, 3):
        thr_dp, _ = B.maxmi_dp(x, 2**bits)
        thr_wm, _ = B.maxmi_quantizer(x, bits)
        thr_u, _, _ = B.uniform_design(x, 2**bits)
        mi = B.mutual_information(x, thr_dp)
        assert mi >= B.mutual_information(x, thr_wm) - 1e-4
        assert mi >= B.mutual_information(x, thr_u) - 1e-6


def test_shipped_scalar_designs():
    """The shipped K=6 file: format 3, EPA designs for every cell count (threshold design, per
    SNR, threshold quantizer with per-SNR tables), tables normalised, thresholds ascending; the
    codec picks the nearest SNR's set."""
    t, meta, _ = C.load_tensors(C.default_model_path("scalar", 6))
    assert meta["format"] == C.SCALAR_FORMAT and meta["channel"] == "epa"
    n_snr = len(meta["snr_db_grid"])
    s = 1 + 2 * n_snr
    for m in meta["cells"]:
        for fam in ("maxmi", "uniform"):
            thr = t[f"{fam}.m{m}.thresholds"]
            assert thr.shape == (s, 6, m - 1) and np.all(np.diff(thr, axis=-1) > 0)
            assert np.allclose(t[f"{fam}.m{m}.tables"].sum(-1), 1.0)
            assert np.array_equal(thr[1 + n_snr :], np.broadcast_to(thr[0], thr[1 + n_snr :].shape))
    i22 = meta["snr_db_grid"].index(22.0)
    c = softbit.make_codec("maxmi-ec", 6, cells=6)
    assert c.code == 0xA5 and c.quantizer_set(22.2) == 1 + n_snr + i22 and c.quantizer_set(None) == 0
    assert softbit.make_codec("maxmi-ec", 6, cells=6, design="snr").quantizer_set(22.2) == 1 + i22
    with pytest.raises(ValueError, match="power of two"):
        softbit.make_codec("maxmi", 6, cells=6)
    with pytest.raises(ValueError, match="no maxmi quantizer with 9 cells"):
        softbit.make_codec("maxmi-ec", 6, cells=9)
    with pytest.raises(ValueError, match="design"):
        softbit.make_codec("maxmi-ec", 6, design="pooled")


def test_threshold_design_table_choice_is_lossless():
    """Without an SNR the threshold design picks, per frame, the index table with the shortest
    code: the decoded LLRs are those of its quantizer whatever the table, and the chosen table
    is never longer than table 0."""
    from gnuradio.deepquant.softbit import data

    rng = np.random.default_rng(2)
    x = np.concatenate([data.epa_frames(6, s, 3, rng)[0] for s in (14.0, 24.0, 34.0)])
    c = softbit.make_codec("maxmi-ec", 6)
    frames = c.encode_frames(x)
    tids = [f[8] for f in frames]
    assert len(set(tids)) > 1
    out = c.decode_frames(frames)
    for f, o in zip(x, out):
        assert np.array_equal(o, c.levels_of(c.indices(f, 0), 0))
    sym = c.indices(x.reshape(-1, 6), 0).reshape(x.shape)
    for i, t in enumerate(tids):
        assert c.coder.ideal_bits(sym[i], t) <= c.coder.ideal_bits(sym[i], 0) + 1e-9
