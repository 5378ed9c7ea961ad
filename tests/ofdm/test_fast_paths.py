"""The OFDM estimation fast paths against the straightforward formulas they replace (closed-form
phase fit vs lstsq, memoised fit matrices vs pinv + einsum, soft symbols only where needed)."""
import numpy as np

from gnuradio.deepquant.ofdm import estimation, header
from gnuradio.deepquant.ofdm.layout import OfdmLayout
from gnuradio.deepquant.phy import mapping


def test_linear_phase_fit_equals_weighted_lstsq():
    rng = np.random.default_rng(0)
    for t_len in (3, 9, 30):
        c = (rng.normal(size=t_len) + 1j * rng.normal(size=t_len)) * np.exp(1j * 0.3 * np.arange(t_len))
        phi = np.unwrap(np.angle(c))
        t = np.arange(t_len, dtype=float) + 2.0
        w = np.abs(c) ** 2
        a = np.stack([np.ones_like(t), t], axis=1)
        ref = a @ np.linalg.lstsq(a * np.sqrt(w)[:, None], phi * np.sqrt(w), rcond=None)[0]
        np.testing.assert_allclose(estimation.linear_phase_fit(c, 2.0), ref, rtol=1e-10, atol=1e-10)
    # all weight on one symbol: falls back to lstsq's minimum-norm line
    c = np.array([1.0 + 1j, 0, 0])
    assert np.all(np.isfinite(estimation.linear_phase_fit(c)))


def _reference_estimate(y, x, lay, taps_pre, taps_post):
    act = tuple(int(k) for k in lay.active)
    ai = lay.idx(act)
    k = np.asarray(act, float)
    f = np.exp(-2j * np.pi * np.outer(k, np.arange(-taps_pre, taps_post + 1)) / lay.fft_len)
    Y, X = y[:, ai].astype(complex), x[:, ai].astype(complex)
    d = np.sum(np.abs(X) ** 2, axis=0)
    h_ls = np.sum(np.conj(X) * Y, axis=0) / d
    ainv = np.linalg.pinv(f.conj().T @ (f * d[:, None]))
    h = f @ (ainv @ (f.conj().T @ (d * h_ls)))
    known = np.abs(X) > 0
    res = np.sum(np.abs(Y - h[None, :] * X)[known] ** 2)
    nv = res / (known.sum() - f.shape[1])
    err = nv * np.real(np.einsum("kl,lm,km->k", f, ainv, f.conj())).mean()
    return h, nv, err


def test_estimate_channel_matches_pinv_einsum_reference():
    lay = OfdmLayout()
    rng = np.random.default_rng(1)
    hsym = header.header_symbols(7, lay.n_codewords, len(lay.occupied))
    x = estimation.known_preamble(lay, hsym)
    taps = (rng.normal(size=6) + 1j * rng.normal(size=6)) / 3
    hf = np.fft.fftshift(np.fft.fft(taps, lay.fft_len))
    for trial in range(3):  # the memoised matrices are reused from the second packet on
        y = hf[None, :] * x + 0.05 * (rng.normal(size=x.shape) + 1j * rng.normal(size=x.shape))
        h, nv, err = estimation.estimate_channel(y, x, lay, 0, 20, ref_row=None)
        h_r, nv_r, err_r = _reference_estimate(y, x, lay, 0, 20)
        np.testing.assert_allclose(h[lay.idx(lay.active)], h_r, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose([nv, err], [nv_r, err_r], rtol=1e-8)


def test_header_symbols_cached_copy_is_independent():
    a = header.header_symbols(5, 4)
    a[:] = 0
    assert np.abs(header.header_symbols(5, 4)).min() == 1.0


def test_decoded_symbols_soft_only_where_needed():
    from gnuradio.deepquant.phy import ldpc

    rng = np.random.default_rng(2)
    cw = np.asarray(ldpc.encode(rng.integers(0, 2, (4, ldpc.K))))
    llr = (4.0 * (2.0 * cw - 1) + rng.normal(0, 2.0, cw.shape)).astype(np.float32)
    llr[1] = rng.normal(0, 1.0, ldpc.N)  # this one cannot converge
    mean, var, ok = estimation.decoded_symbols(llr, 6, 20)
    assert not ok[1] and ok.sum() >= 2
    _, cwt, _, post = ldpc.bp_decode_torch(llr, 20, return_codewords=True, return_iterations=True,
                                           return_posteriors=True)
    m_all, v_all = mapping.soft_symbols(post.numpy().reshape(-1, 6), 6)
    sym = np.asarray(mapping.map_bits(cwt.numpy().reshape(-1, 6), 6)).reshape(-1)
    okc = np.repeat(ok, 108)
    np.testing.assert_allclose(mean, np.where(okc, sym, m_all), atol=1e-6)
    np.testing.assert_allclose(var, np.where(okc, 0.0, v_all), atol=1e-12)
