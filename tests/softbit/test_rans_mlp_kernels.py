"""The C++ kernels of the soft-bit codecs: the rANS coder (gnuradio.deepquant.rans_coder) against
constriction's range coder and the ideal code length, and the encoder network
(gnuradio.deepquant.mlp_f32) against a float64 numpy forward pass."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from gnuradio import deepquant as dq
from gnuradio.deepquant.softbit import codec, entropy


def _probs(rng, n_models, m, conc=0.3):
    p = rng.dirichlet(np.full(m, conc), size=n_models)
    return np.maximum(p, 1e-12)


def test_frequencies_sum_to_total_and_are_positive():
    rng = np.random.default_rng(0)
    p = _probs(rng, 5, 64, 0.05)
    p[0] = 0.0
    p[0, 3] = 1.0  # a degenerate row: every other symbol must stay codable
    rc = dq.rans_coder(p, 15)
    f = np.array([[rc.freq(k, s) for s in range(64)] for k in range(5)])
    assert np.all(f >= 1) and np.all(f.sum(1) == 2**15)
    # close to the probabilities (largest-remainder rounding on top of the floor of 1)
    assert np.abs(f / 2**15 - p / p.sum(1, keepdims=True)).max() < 64 / 2**15


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 400), st.integers(1, 4), st.sampled_from([2, 16, 64, 256]), st.booleans(), st.integers(0, 2**31))
def test_rans_lossless_any_layout(n, streams, m, chain, seed):
    rng = np.random.default_rng(seed)
    per = 1 + (streams - 1) * (m if chain else 1)
    tables = 2
    rc = dq.rans_coder(_probs(rng, tables * per, m), 15)
    off = np.array([0] + [1 + (s - 1) * (m if chain else 1) for s in range(1, streams)], np.uint32)
    cond = np.array([0] + [int(chain)] * (streams - 1), np.uint8)
    sym = rng.integers(0, m, (3, n, streams)).astype(np.uint8)
    bases = np.array([0, per, 0], np.uint32)
    pay = rc.encode_frames(sym, bases, off, cond)
    for i in range(3):
        assert np.array_equal(rc.decode(pay[i], n, int(bases[i]), off, cond), sym[i])
    out, err = rc.decode_frames(pay, np.full(3, n), bases, off, cond)
    assert err == [None] * 3 and np.array_equal(out.reshape(3, n, streams), sym)


def test_rans_size_matches_constriction_and_ideal():
    """Same tables, same symbols: the rANS payload is within 5 bytes of constriction's range
    coder and within 4 bytes + 0.1 % of the ideal code length under the float tables."""
    rng = np.random.default_rng(5)
    p = rng.dirichlet(np.full(64, 0.5), size=(1, 3))
    sym = np.stack([rng.choice(64, 2000, p=p[0, s]) for s in range(3)], 1)
    ideal = -sum(np.log2(p[0, s][sym[:, s]]).sum() for s in range(3)) / 8
    ours = len(entropy.RansCoder(p).encode(sym, 0))
    ref = len(entropy.RangeCoder(p).encode(sym, 0))
    assert abs(ours - ref) <= 5
    assert ours <= ideal * 1.001 + 4


def test_rans_rejects_corrupt_truncated_and_extended_payloads():
    rng = np.random.default_rng(7)
    p = _probs(rng, 3, 64, 1.0)
    c = entropy.RansCoder(p[None])
    sym = rng.integers(0, 64, (200, 3)).astype(np.uint8)
    pay = c.encode(sym, 0)
    for bad in (pay[:-1], pay[:3], b"", pay + b"\x00", b"\x00" * len(pay)):
        with pytest.raises(ValueError):
            c.decode(bad, 0, 200)
    # bit flips: either detected, or (rarely) a different valid stream; never a crash
    detected = 0
    for i in range(len(pay)):
        b = bytearray(pay)
        b[i] ^= 1 << (i % 8)
        try:
            c.decode(bytes(b), 0, 200)
        except ValueError:
            detected += 1
    assert detected >= 0.8 * len(pay)
    out, err = c.decode_frames([pay, pay[:-2], pay], [0, 0, 0], [200, 200, 200])
    assert err[0] is None and err[2] is None and "truncated" in err[1]


def test_rans_rejects_bad_construction_and_symbols():
    with pytest.raises(ValueError):
        dq.rans_coder(np.ones((2, 300)))  # alphabet > 256
    with pytest.raises(ValueError):
        dq.rans_coder(np.full((2, 4), np.nan))
    with pytest.raises(ValueError):
        dq.rans_coder(np.zeros((1, 4)))
    rc = dq.rans_coder(np.ones((1, 4)))
    with pytest.raises(ValueError):
        rc.encode_frames(
            np.full((1, 3, 1), 4, np.uint8), np.zeros(1, np.uint32), np.zeros(1, np.uint32), np.zeros(1, np.uint8)
        )
    with pytest.raises(ValueError):  # model index out of range
        rc.encode_frames(
            np.zeros((1, 3, 1), np.uint8), np.ones(1, np.uint32), np.zeros(1, np.uint32), np.zeros(1, np.uint8)
        )


def test_choose_bases_picks_the_cheapest_table():
    rng = np.random.default_rng(11)
    p = rng.dirichlet(np.full(16, 0.4), size=(4, 2))
    c = entropy.RansCoder(p)
    frames = np.stack([np.stack([rng.choice(16, 300, p=p[t, s]) for s in range(2)], 1) for t in (2, 0, 3)])
    chosen = c.choose_tables(frames)
    for f, t in zip(frames, chosen):
        costs = [c.ideal_bits(f, u) for u in range(4)]
        assert costs[t] == min(costs)
    assert list(chosen) == [2, 0, 3]
    # the batched path (>= 16 frames) agrees with the per-frame one
    many = np.concatenate([frames] * 7)
    assert list(c.choose_tables(many)) == [2, 0, 3] * 7


@pytest.mark.parametrize("isa", ["avx2", "generic"])
def test_mlp_matches_numpy_float64(isa):
    cdc = codec.make_codec("learned", 6)
    layers = cdc.enc_layers
    m = dq.mlp_f32([w.T.copy() for w, _ in layers], [b for _, b in layers], True)
    try:
        m.set_isa(isa)
    except RuntimeError:
        pytest.skip("no AVX2/FMA on this CPU")
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((1001, 6)) * np.array([0.1, 1, 4, 10, 30, 80])).astype(np.float32)
    x[0] = 0.0
    ref = codec._run_mlp(
        [(w.astype(np.float64), b.astype(np.float64)) for w, b in layers], np.tanh(x.astype(np.float64) / 2)
    )
    y = m.forward(x)
    assert y.shape == (1001, 3) and y.dtype == np.float32
    assert np.abs(y - ref).max() < 1e-5  # float32 accumulation vs float64
    assert m.isa() == isa


def test_mlp_wide_layers_and_shapes():
    rng = np.random.default_rng(3)
    dims = [5, 70, 9, 2]  # 70 > 64: portable path
    ws = [rng.standard_normal((dims[i + 1], dims[i])).astype(np.float32) * 0.3 for i in range(3)]
    bs = [rng.standard_normal(dims[i + 1]).astype(np.float32) * 0.1 for i in range(3)]
    m = dq.mlp_f32(ws, bs, False)
    x = rng.standard_normal((7, 5)).astype(np.float32)
    h = x.astype(np.float64)
    for i in range(3):
        h = h @ ws[i].T.astype(np.float64) + bs[i]
        h = np.maximum(h, 0) if i < 2 else np.tanh(h)
    assert np.abs(m.forward(x) - h).max() < 1e-5
    with pytest.raises(ValueError):
        m.forward(np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError):
        dq.mlp_f32([ws[0], ws[0]], bs[:2], False)  # 70 outputs feed a 5-input layer


def test_learned_codec_cpp_encoder_agrees_with_reference():
    """The C++ encoder's latent indices equal the numpy path's except at quantizer boundaries."""
    cdc = codec.make_codec("learned", 6)
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((5000, 6)) * 6).astype(np.float32)
    a = cdc.latents(x)
    b = cdc.kernel.quantize(np.ascontiguousarray(cdc.latents_reference(x), dtype=np.float32))
    assert (a != b).mean() < 1e-3 and np.abs(a.astype(int) - b.astype(int)).max() <= 1


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 250), st.integers(1, 40), st.integers(1, 6), st.integers(0, 2**31))
def test_segmented_lossless(n, seg_rows, n_tables, seed):
    rng = np.random.default_rng(seed)
    marg = rng.dirichlet(np.full(64, 0.3), size=n_tables)
    c1 = rng.dirichlet(np.full(64, 0.3), size=(n_tables, 64))
    c2 = rng.dirichlet(np.full(64, 0.3), size=(n_tables, 64))
    c = entropy.RansChainCoder(marg, c1, c2)
    sym = rng.integers(0, 64, (2, n, 3)).astype(np.uint8)
    ids = c.choose_segments(sym, seg_rows)
    assert ids.shape == (2, -(-n // seg_rows)) and (ids < n_tables).all()
    pay = c.encode_segmented(sym, seg_rows)
    out, err = c.decode_segmented(pay, [n, n], seg_rows)
    assert err == [None, None] and np.array_equal(out.reshape(sym.shape), sym)
    # explicit ids are honoured (any valid choice decodes)
    forced = rng.integers(0, n_tables, ids.shape).astype(np.uint8)
    out2, err2 = c.decode_segmented(c.encode_segmented(sym, seg_rows, forced), [n, n], seg_rows)
    assert err2 == [None, None] and np.array_equal(out2.reshape(sym.shape), sym)


def test_segmented_rejects_bad_payloads_and_small_alphabets():
    rng = np.random.default_rng(8)
    c = entropy.RansChainCoder(
        rng.dirichlet(np.ones(64), 3), rng.dirichlet(np.ones(64), (3, 64)), rng.dirichlet(np.ones(64), (3, 64))
    )
    sym = rng.integers(0, 64, (1, 108, 3)).astype(np.uint8)
    pay = c.encode_segmented(sym)[0]
    _, err = c.decode_segmented([pay[:-1], pay + b"\x01", b"\xff" * 8, pay], [108] * 4)
    assert all(e is not None for e in err[:3]) and err[3] is None
    small = entropy.RansCoder(np.full((9, 2, 8), 1 / 8))  # 9 tables, alphabet 8: ids not codable
    with pytest.raises(ValueError, match="alphabet"):
        small.encode_segmented(np.zeros((1, 10, 2), np.uint8))


def test_segmented_tables_save_bits_on_wideband_frames():
    """EPA frames (108 subcarriers over 10 MHz): one table per 18 rows (ids included) codes the
    learned codec's latents in fewer bits than one table per frame."""
    from gnuradio.deepquant.softbit import data

    cdc = codec.make_codec("learned", 6)
    llr, _ = data.epa_frames(6, 18.0, 40, np.random.default_rng(9))
    sym = cdc.latents(llr.reshape(-1, 6)).reshape(40, 108, 3)
    seg = sum(len(p) for p in cdc.coder.encode_segmented(sym))
    whole = sum(len(p) for p in cdc.coder.encode_frames(sym, cdc.coder.choose_tables(sym)))
    assert seg < 0.98 * whole
