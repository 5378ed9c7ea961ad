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
    # phases wrapping past +-pi, and the numpy path (long frames) against the short one
    for c in (
        np.exp(1j * (2.5 + 0.4 * np.arange(12))) * (1 + 0.1 * np.arange(12)),
        np.exp(-1j * (3.0 + 0.7 * np.arange(70))),
    ):
        t = np.arange(c.size, dtype=float)
        w = np.abs(c) ** 2
        a = np.stack([np.ones_like(t), t], axis=1)
        phi = np.unwrap(np.angle(c))
        ref = a @ np.linalg.lstsq(a * np.sqrt(w)[:, None], phi * np.sqrt(w), rcond=None)[0]
        np.testing.assert_allclose(estimation.linear_phase_fit(c), ref, rtol=1e-10, atol=1e-10)
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
    for _trial in range(3):  # the memoised matrices are reused from the second packet on
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
    _, cwt, _, post = ldpc.bp_decode_torch(
        llr, 20, return_codewords=True, return_iterations=True, return_posteriors=True
    )
    m_all, v_all = mapping.soft_symbols(post.numpy().reshape(-1, 6), 6)
    sym = np.asarray(mapping.map_bits(cwt.numpy().reshape(-1, 6), 6)).reshape(-1)
    okc = np.repeat(ok, 108)
    np.testing.assert_allclose(mean, np.where(okc, sym, m_all), atol=1e-6)
    np.testing.assert_allclose(var, np.where(okc, 0.0, v_all), atol=1e-12)


def _reference_refine_with_symbols(y, h, noise_var, err_var, xm, xv, lay, taps_pre, taps_post):
    """The straightforward stacked least squares (one row per cell) the fast path replaces."""
    from gnuradio.deepquant.ofdm.mimo import _refit_basis

    nr, t, _ = y.shape
    nt = h.shape[2]
    nv = float(noise_var)
    ev = np.broadcast_to(np.asarray(err_var, float), (nt,))
    di, pi = lay.data_idx, lay.pilot_idx
    act = tuple(int(k) for k in lay.active)
    ai = lay.idx(act)
    s = np.asarray(lay.pilot_symbols, complex)
    hx = np.einsum("krj,tkj->rtk", h[di], xm)
    a2 = 1.0 / (1.0 + np.einsum("krj,tkj->rtk", np.abs(h[di]) ** 2, xv) / nv)
    c = np.sum(np.conj(hx) * a2 * y[:, :, di], axis=(0, 2))
    c = c + np.einsum("rtp,pr->t", y[:, :, pi], np.conj(h[pi].sum(axis=2) * s[:, None]))
    y = y * np.exp(-1j * estimation.linear_phase_fit(c))[None, :, None]
    f, lev, fd, fp = _refit_basis(
        lay.fft_len,
        act,
        tuple(int(c_) for c_ in ai),
        tuple(int(c_) for c_ in di),
        tuple(int(c_) for c_ in pi),
        taps_pre,
        taps_post,
    )
    L = f.shape[1]
    h_new = np.zeros_like(h)
    err = np.zeros((lay.fft_len, nt))
    for r in range(nr):
        a = np.sqrt(a2[r])
        rows_d = (a[:, :, None, None] * xm[:, :, :, None] * fd[None, :, None, :]).reshape(t * len(di), nt * L)
        rows_p = np.tile(
            np.broadcast_to(s[:, None, None] * fp[:, None, :], (len(pi), nt, L)).reshape(len(pi), nt * L), (t, 1)
        )
        blocks_, obs_pr = [], []
        for j in range(nt):
            w = np.sqrt(lev * nv / ev[j]) if ev[j] > 0 else 1e3
            blk = np.zeros((len(ai), nt * L), complex)
            blk[:, j * L : (j + 1) * L] = w * f
            blocks_.append(blk)
            obs_pr.append(w * h[ai, r, j])
        A = np.vstack([rows_d, rows_p] + blocks_)
        b = np.concatenate([(a * y[r][:, di]).reshape(-1), y[r][:, pi].reshape(-1)] + obs_pr)
        ginv = np.linalg.inv(A.conj().T @ A)
        g = ginv @ (A.conj().T @ b)
        for j in range(nt):
            h_new[ai, r, j] = f @ g[j * L : (j + 1) * L]
            cj = ginv[j * L : (j + 1) * L, j * L : (j + 1) * L]
            err[ai, j] += nv * np.real(np.einsum("kl,lm,km->k", f, cj, f.conj())) / nr
    return y, h_new, err[di].sum(axis=1)


def test_mimo_refine_with_symbols_matches_stacked_least_squares():
    from gnuradio.deepquant.ofdm import mimo as ofdm_mimo

    lay = OfdmLayout(n_codewords=8)
    rng = np.random.default_rng(4)
    nr = nt = 2
    t, nd = 9, len(lay.occupied)
    taps = (rng.normal(size=(6, nr, nt)) + 1j * rng.normal(size=(6, nr, nt))) / 3
    h = np.fft.fftshift(np.fft.fft(taps, lay.fft_len, axis=0), axes=0)
    h[[i for i in range(lay.fft_len) if i not in set(lay.idx(lay.active))]] = 0
    xm = mapping.constellation(6)[rng.integers(0, 64, (t, nd, nt))]
    xv = np.where(rng.random((t, nd, nt)) < 0.3, rng.uniform(0, 0.5, (t, nd, nt)), 0.0)
    xfull = np.zeros((t, lay.fft_len, nt), complex)
    xfull[:, lay.data_idx] = xm
    xfull[:, lay.pilot_idx] = np.asarray(lay.pilot_symbols)[None, :, None]
    y = np.einsum("krj,tkj->rtk", h, xfull) + 0.03 * (
        rng.normal(size=(nr, t, lay.fft_len)) + 1j * rng.normal(size=(nr, t, lay.fft_len))
    )
    h_pre = h + 0.02 * (rng.normal(size=h.shape) + 1j * rng.normal(size=h.shape))
    out = ofdm_mimo.refine_with_symbols(y, h_pre, 2e-3, [4e-4, 5e-4], xm, xv, lay, 0, 20)
    ref = _reference_refine_with_symbols(y, h_pre, 2e-3, [4e-4, 5e-4], xm, xv, lay, 0, 20)
    np.testing.assert_allclose(out[0], ref[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[1], ref[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[2], ref[2], rtol=1e-8)
