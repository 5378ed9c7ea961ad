"""Paired experiment helpers: failed-codeword lists and the paired BLER difference."""

import numpy as np

from gnuradio.deepquant import softbit
from gnuradio.deepquant.softbit import experiment as X


def test_paired_difference_matches_the_per_codeword_differences():
    rng = np.random.default_rng(3)
    n = 500
    fa = np.nonzero(rng.random(n) < 0.12)[0]
    fb = np.nonzero(rng.random(n) < 0.07)[0]
    d = np.zeros(n)
    d[fa] += 1
    d[fb] -= 1
    r = X.paired_difference({"failed_codewords": fa.tolist()}, {"failed_codewords": fb.tolist()}, n)
    assert np.isclose(r["difference"], d.mean())
    assert np.isclose(r["std_error"], d.std() / np.sqrt(n))
    assert r["only_a"] == len(set(fa) - set(fb)) and r["only_b"] == len(set(fb) - set(fa))
    same = X.paired_difference({"failed_codewords": [1, 4]}, {"failed_codewords": [4, 1]}, n)
    assert same == {"difference": 0.0, "std_error": 0.0, "only_a": 0, "only_b": 0}


def test_run_point_lists_the_failed_codewords():
    codecs = {"maxmi-2b": softbit.make_codec("maxmi", 8, bits=2), "int8": softbit.make_codec("int8", 8)}
    r = X.run_point(8, 14.0, 12, codecs, np.random.default_rng(0), keep_failed=True, workers=1)
    for name in ("float", "maxmi-2b", "int8"):
        f = r[name]["failed_codewords"]
        assert len(f) == r[name]["block_errors"] and all(0 <= i < 12 for i in f) and f == sorted(set(f))
    assert r["maxmi-2b"]["block_errors"] > 0  # 2 bits per soft bit at 14 dB fails often: the lists are exercised
    plain = X.run_point(8, 14.0, 12, codecs, np.random.default_rng(0), workers=1)
    assert "failed_codewords" not in plain["float"]
    assert [plain[n]["block_errors"] for n in plain] == [r[n]["block_errors"] for n in r]
