"""Codec API tests (all methods) and hypothesis fuzzing of the frame decoder."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from gnuradio.deepquant import softbit
from gnuradio.deepquant.softbit import FrameError, codec as C, data

K = 6
AVAILABLE = [
    m
    for m in softbit.METHODS
    if m == "int8"
    or C.default_model_path(
        "learned" if m == "learned" else "deepllr" if m.startswith("deepllr") else "scalar", K
    ).exists()
]


@pytest.fixture(scope="module")
def llrs():
    rng = np.random.default_rng(0)
    frames = [data.epa_frames(K, s, 4, rng)[0] for s in (12.0, 20.0, 28.0)]
    return np.concatenate(frames)  # (12, 108, 6)


@pytest.fixture(scope="module")
def codecs():
    return {m: softbit.make_codec(m, K) for m in AVAILABLE}


def test_all_methods_available():
    assert set(AVAILABLE) == set(softbit.METHODS)


@pytest.mark.parametrize("method", softbit.METHODS)
def test_roundtrip_shapes_and_determinism(method, codecs, llrs):
    c = codecs[method]
    fb = c.encode(llrs[0])
    out = c.decode(fb)
    assert out.shape == (108, K) and out.dtype == np.float32 and np.all(np.isfinite(out))
    assert c.encode(llrs[0]) == fb
    assert np.array_equal(c.decode(fb), out)
    # signs mostly preserved (reliable bits must not flip)
    strong = np.abs(llrs[0]) > 4
    assert np.mean(np.sign(out[strong]) == np.sign(llrs[0][strong])) > 0.99
    many = c.encode_frames(llrs)
    assert len(many) == len(llrs) and many[0] == fb


def test_fixed_rate_sizes(codecs, llrs):
    n = 108 * K
    hb = softbit.frame.HEADER_BYTES
    assert len(codecs["int8"].encode(llrs[0])) == hb + n
    assert len(codecs["uniform"].encode(llrs[0])) == hb + (n * 4 + 7) // 8
    assert len(codecs["maxmi"].encode(llrs[0])) == hb + (n * 3 + 7) // 8
    assert len(codecs["deepllr"].encode(llrs[0])) == hb + (108 * 18 + 7) // 8


def test_int8_reference(codecs):
    x = np.array([[0.1, -0.2, 3.3, -40.0, 0.0, 31.6]], np.float32)
    out = codecs["int8"].decode(codecs["int8"].encode(x))
    ref = np.clip(np.round(x * 4), -127, 127) / 4
    assert np.array_equal(out, ref.astype(np.float32))


def test_uniform_matches_independent_reference(codecs, llrs):
    """Uniform cells on [-c, c] per bit position and SNR set; reproduction = the stored level."""
    c = codecs["uniform"]
    tensors, _, _ = C.load_tensors(C.default_model_path("scalar", K))
    clip, lev = tensors["uniform.m16.clip"], tensors["uniform.m16.levels"]
    for snr, qset in ((None, 0), (22.0, c.quantizer_set(22.0))):
        out = c.decode(c.encode(llrs[0], snr_db=snr))
        for j in range(K):
            cl = clip[qset, j]
            step = 2 * cl / 16
            idx = np.clip(np.floor((llrs[0][:, j] + cl) / step), 0, 15).astype(int)
            assert np.allclose(out[:, j], lev[qset, j][idx], atol=1e-4)


def test_maxmi_matches_searchsorted_reference(codecs, llrs):
    c = codecs["maxmi"]
    tensors, _, _ = C.load_tensors(C.default_model_path("scalar", K))
    thr, lev = tensors["maxmi.m8.thresholds"], tensors["maxmi.m8.levels"]
    for snr, qset in ((None, 0), (20.0, c.quantizer_set(20.0))):
        out = c.decode(c.encode(llrs[5], snr_db=snr))
        for j in range(K):
            ref = lev[qset, j][np.searchsorted(thr[qset, j], llrs[5][:, j], side="right")]
            assert np.allclose(out[:, j], ref, atol=1e-5)


def test_old_scalar_model_format_refused(tmp_path):
    tensors, meta, _ = C.load_tensors(C.default_model_path("scalar", K))
    meta = dict(meta, format=1)
    p = C.save_tensors(tmp_path / "old.safetensors", {k: v for k, v in tensors.items() if ".m8." in k}, meta)
    with pytest.raises(ValueError, match="format 1.*fit_scalar"):
        softbit.make_codec("maxmi", K, str(p))


def test_entropy_coded_is_lossless_wrt_fixed_rate(codecs, llrs):
    for a, b in (("uniform", "uniform-ec"), ("maxmi", "maxmi-ec"), ("deepllr", "deepllr-ec")):
        for f in llrs:
            assert np.array_equal(codecs[a].decode(codecs[a].encode(f)), codecs[b].decode(codecs[b].encode(f)))


def test_learned_latents_lossless_through_coder(codecs, llrs):
    c = codecs["learned"]
    for f in llrs:
        sym = c.latents(f)
        assert np.array_equal(c.decode(c.encode(f)), c.reconstruct(sym))


def test_foreign_frames_rejected(codecs, llrs):
    fb = codecs["learned"].encode(llrs[0])
    with pytest.raises(FrameError, match="method"):
        codecs["deepllr-ec"].decode(fb)
    k8 = softbit.make_codec("int8", 8)
    with pytest.raises(FrameError, match="method|bits per symbol"):
        k8.decode(fb)


def test_bad_input_shapes(codecs):
    with pytest.raises(ValueError):
        codecs["learned"].encode(np.zeros((10, 5), np.float32))
    with pytest.raises(ValueError, match="unknown soft-bit method"):
        softbit.make_codec("zip", 6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(codecs, blob):
    for m in ("learned", "maxmi-ec", "int8"):
        with pytest.raises(FrameError):
            codecs[m].decode(blob)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from(["learned", "deepllr", "maxmi-ec", "uniform-ec", "int8"]),
    st.integers(0, 11),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=4),
    st.integers(0, 3),
)
def test_fuzz_mutated_frames(codecs, llrs, method, fi, flips, cut):
    c = codecs[method]
    fb = bytearray(c.encode(llrs[fi]))
    for pos, x in flips:
        fb[pos % len(fb)] ^= x
    if cut:
        fb = fb[: len(fb) - cut]
    assume(bytes(fb) != c.encode(llrs[fi]))
    with pytest.raises(FrameError):
        c.decode(bytes(fb))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from(["learned", "maxmi-ec", "uniform-ec", "deepllr"]),
    st.binary(max_size=64),
    st.integers(0, 255),
    st.integers(0, 4000),
)
def test_fuzz_valid_crc_garbage_payload(codecs, method, payload, table, count):
    """A forged frame with a correct CRC but garbage payload/fields: FrameError or a finite array."""
    c = codecs[method]
    f = softbit.frame.pack(c.code, c.model_id, table, K, count, payload)
    try:
        out = c.decode(f)
    except FrameError:
        return
    assert out.shape == (count // c.streams, K) and np.all(np.isfinite(out))


def test_decode_many_isolates_a_forged_frame(codecs, llrs):
    """A frame with a valid CRC but a garbage range-coded payload, batched with good frames: the
    good ones decode exactly, the forged one is reported, nothing raises."""
    c = codecs["learned"]
    good = c.encode_frames(llrs[:3])
    forged = softbit.frame.pack(c.code, c.model_id, 18, K, 108 * 3, bytes(range(7, 250)))
    out, errors = c.decode_many([good[0], forged, good[1], good[2]])
    assert errors[0] is None and errors[2] is None and errors[3] is None and errors[1] is not None
    for i, j in ((0, 0), (2, 1), (3, 2)):
        assert np.array_equal(out[i], c.decode(good[j]))
