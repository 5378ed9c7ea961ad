"""Channel smoothing, noise-variance estimation and pilot phase tracking for OFDM frames.

All functions are vectorised numpy; vectors are fft-shifted (index ``k + fft_len/2``).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .layout import OfdmLayout


def _active_tuple(layout: OfdmLayout) -> tuple:
    """The layout's active carriers as a tuple (cache key of the fit matrices), made once."""
    t = layout._cache.get("active_tuple")
    if t is None:
        t = layout._cache["active_tuple"] = tuple(int(k) for k in layout.active)
    return t


@functools.lru_cache(maxsize=16)
def _projector(fft_len: int, active: tuple, taps_pre: int, taps_post: int):
    """Projection onto channels whose impulse response lies in [-taps_pre, taps_post] samples.

    Returns (P [K, K] complex128, dof = K - L)."""
    k = np.asarray(active, dtype=np.float64)
    lags = np.arange(-taps_pre, taps_post + 1, dtype=np.float64)
    f = np.exp(-2j * np.pi * np.outer(k, lags) / fft_len)  # [K, L]
    p = f @ np.linalg.pinv(f)
    return p, len(active) - len(lags)


def smooth_channel(h_ls: np.ndarray, layout: OfdmLayout, taps_pre: int = 4, taps_post: int | None = None):
    """Least-squares channel estimate -> smoothed estimate and noise variance.

    The LS estimate from a preamble with ``|s| = 1`` is ``h_ls = h + e``, ``e ~ CN(0, sigma^2)``.
    A channel whose impulse response fits in ``[-taps_pre, taps_post]`` samples (the cyclic
    prefix, plus a few samples of early timing) lies in an L-dimensional subspace of the K
    active carriers; projecting onto it removes ``(K - L)/K`` of the noise, and the residual
    measures sigma^2 with ``K - L`` degrees of freedom.

    Parameters
    ----------
    h_ls : ndarray, complex, shape [..., fft_len]
        Fft-shifted LS estimate (only active carriers are read).
    layout : OfdmLayout
    taps_pre, taps_post : int
        Impulse-response support in samples (``taps_post`` defaults to ``cp_len``).

    Returns
    -------
    h : ndarray complex64 [..., fft_len]
        Smoothed estimate on the active carriers (zeros elsewhere).
    noise_var : ndarray float64 [...]
        sigma^2 estimated from the residual (unbiased for white noise).
    est_err_var : ndarray float64 [...]
        Variance of the smoothed estimate's error, ``sigma^2 L / K``.
    """
    taps_post = layout.cp_len if taps_post is None else int(taps_post)
    act = _active_tuple(layout)
    p, dof = _projector(layout.fft_len, act, int(taps_pre), taps_post)
    ai = layout.idx(act)
    x = np.asarray(h_ls)[..., ai].astype(np.complex128)
    sm = x @ p.T
    res = x - sm
    nv = np.sum(np.abs(res) ** 2, axis=-1) / max(dof, 1)
    out = np.zeros(np.shape(h_ls), np.complex64)
    out[..., ai] = sm
    n_l = len(act) - dof
    return out, nv, nv * n_l / len(act)


def common_phase(y: np.ndarray, h: np.ndarray, layout: OfdmLayout) -> np.ndarray:
    """Common phase of each OFDM symbol relative to ``h``, from the pilots.

    ``phi[t] = angle(sum_p conj(h_p s_p) y[t, p])`` (maximum likelihood for a common rotation
    under white noise).

    Parameters
    ----------
    y : ndarray complex [T, fft_len]
        Received symbols (fft-shifted).
    h : ndarray complex [fft_len]
        Channel estimate of the frame.

    Returns
    -------
    ndarray float64 [T]
    """
    pi = layout.pilot_idx
    s = np.asarray(layout.pilot_symbols, dtype=np.complex128)
    ref = np.conj(h[pi] * s)
    return np.angle(y[:, pi] @ ref)


def pilot_correlations(y: np.ndarray, h: np.ndarray, layout: OfdmLayout) -> np.ndarray:
    """``c[t] = sum_p conj(h_p s_p) y[t, p]`` over the pilots (complex [T])."""
    pi = layout.pilot_idx
    s = np.asarray(layout.pilot_symbols, dtype=np.complex128)
    return y[:, pi] @ np.conj(h[pi] * s)


def linear_phase_fit(c: np.ndarray, t0: float = 0.0) -> np.ndarray:
    """Phases of a frame's symbols from their pilot correlations, smoothed by a weighted
    straight-line fit (residual CFO makes the common phase grow linearly over a frame).

    Per-symbol phases from 4 pilots are noisy (variance about sigma^2 / (2 sum|h_p|^2): with
    unit-power pilots, ~0.12 sigma^2 of extra error on every data symbol); the fit over T
    symbols divides that by about T/4.

    Parameters
    ----------
    c : ndarray complex [T]
        Pilot correlations (:func:`pilot_correlations`).
    t0 : float
        Index of the first symbol on the time axis (only shifts the intercept).

    Returns
    -------
    ndarray float64 [T]: fitted phases (radians); the raw phases when T < 3.
    """
    c = np.asarray(c, dtype=np.complex128)
    if c.ndim == 1 and c.size <= 64:
        return _linear_phase_fit_short(c.tolist(), float(t0))
    phi = np.unwrap(np.angle(c))
    if c.size < 3:
        return phi
    t = np.arange(c.size, dtype=np.float64) + t0
    w = np.abs(c) ** 2
    if not np.all(np.isfinite(w)) or w.sum() <= 0:
        return phi
    return _weighted_line(phi, t, w)


def _weighted_line(phi, t, w):
    # weighted least squares in closed form (the 2x2 normal equations, centred on the weighted
    # mean time): the lstsq solution without an SVD per frame
    sw = w.sum()
    tb = (w @ t) / sw
    tc = t - tb
    den = w @ (tc * tc)
    if not den > 0:  # a single symbol carries all the weight: lstsq's minimum-norm line
        a = np.stack([np.ones_like(t), t], axis=1)
        coef = np.linalg.lstsq(a * np.sqrt(w)[:, None], phi * np.sqrt(w), rcond=None)[0]
        return a @ coef
    return (w @ phi) / sw + ((w * tc) @ phi / den) * tc


def _linear_phase_fit_short(c: list, t0: float) -> np.ndarray:
    """:func:`linear_phase_fit` of one frame's few symbols in plain Python (a dozen values: the
    numpy calls' fixed costs would be most of the time). Same steps: angles, ``np.unwrap``'s
    rule (jumps beyond pi folded by 2 pi, +pi kept at the boundary), then the weighted line."""
    n = len(c)
    phi = [math.atan2(v.imag, v.real) for v in c]
    corr = 0.0
    out = [phi[0]] if n else []
    for i in range(1, n):
        dd = phi[i] - phi[i - 1]
        if abs(dd) >= math.pi:
            ddmod = (dd + math.pi) % (2 * math.pi) - math.pi
            if ddmod == -math.pi and dd > 0:
                ddmod = math.pi
            corr += ddmod - dd
        out.append(phi[i] + corr)
    if n < 3:
        return np.array(out, dtype=np.float64)
    w = [v.real * v.real + v.imag * v.imag for v in c]
    sw = math.fsum(w)
    if not (math.isfinite(sw) and sw > 0):
        return np.array(out, dtype=np.float64)
    t = [i + t0 for i in range(n)]
    tb = sum(wi * ti for wi, ti in zip(w, t)) / sw
    tc = [ti - tb for ti in t]
    den = sum(wi * x * x for wi, x in zip(w, tc))
    if not den > 0:
        return _weighted_line(np.array(out), np.array(t), np.array(w))
    mean = sum(wi * p for wi, p in zip(w, out)) / sw
    slope = sum(wi * x * p for wi, x, p in zip(w, tc, out)) / den
    return np.array([mean + slope * x for x in tc], dtype=np.float64)


def pilot_noise(y: np.ndarray, h: np.ndarray, layout: OfdmLayout):
    """Sum of |y_p - h_p s_p|^2 over the pilots of phase-corrected symbols, and its degrees of
    freedom (one common phase fitted per symbol)."""
    pi = layout.pilot_idx
    s = np.asarray(layout.pilot_symbols, dtype=np.complex128)
    r = y[:, pi] - (h[pi] * s)[None, :]
    return float(np.sum(np.abs(r) ** 2)), y.shape[0] * (len(pi) - 0.5)


@functools.lru_cache(maxsize=16)
def _basis(fft_len: int, active: tuple, taps_pre: int, taps_post: int) -> np.ndarray:
    k = np.asarray(active, dtype=np.float64)
    lags = np.arange(-taps_pre, taps_post + 1, dtype=np.float64)
    return np.exp(-2j * np.pi * np.outer(k, lags) / fft_len)  # [K, L]


@functools.lru_cache(maxsize=32)
def basis_leverage(fft_len: int, active: tuple, taps_pre: int, taps_post: int) -> float:
    """Mean leverage ``tr(F (F^H F)^-1 F^H) / K`` of the impulse-response fit on
    ``[-taps_pre, taps_post]`` over the ``K`` active carriers (``L/K`` at full rank): a smoothed
    estimate with error ``err`` per carrier came from ``leverage * sigma^2 / err`` unit-energy
    training symbols per carrier. Cached (the same for every frame)."""
    f = _basis(fft_len, active, taps_pre, taps_post)
    return float(np.real(np.einsum("kl,lm,km->", f, np.linalg.pinv(f.conj().T @ f), f.conj())) / len(active))


@functools.lru_cache(maxsize=64)
def _weighted_fit(fft_len: int, active: tuple, taps_pre: int, taps_post: int, d_bytes: bytes):
    """``F (F^H W F)^-1`` (pseudo-inverse when singular), ``F^H`` and the per-carrier leverages
    ``diag(F (F^H W F)^-1 F^H)`` of the
    impulse-response fit with per-carrier weights ``W = diag(d)`` (``d`` float64 as bytes).
    Memoised: the preamble + header weights are the same for every packet (only the
    soft-decision re-estimation's weights change from frame to frame)."""
    f = _basis(fft_len, active, taps_pre, taps_post)
    d = np.frombuffer(d_bytes, dtype=np.float64)
    a = f.conj().T @ (f * d[:, None])
    try:
        # F^H W F is Hermitian positive definite whenever the weighted carriers span the taps
        # (condition number ~1e3-1e4 here): the inverse equals the pseudo-inverse to rounding
        ainv = np.linalg.inv(a)
    except np.linalg.LinAlgError:
        ainv = np.linalg.pinv(a)
    fa = f @ ainv
    fh = f.conj().T.copy()
    lev_k = np.real(np.sum(fa * f.conj(), axis=1))
    for v in (fa, fh, lev_k):
        v.setflags(write=False)
    return fa, fh, lev_k


def _labels(bits: np.ndarray) -> np.ndarray:
    """Labels of [n, K] bit rows (b0 = MSB), as :func:`gnuradio.deepquant.phy.mapping.bits_to_indices`."""
    k = bits.shape[-1]
    return bits.astype(np.int64) @ (1 << np.arange(k - 1, -1, -1))


def decoded_symbols(llr: np.ndarray, bits_per_symbol: int, max_iter: int = 50, soft: bool = True, decode=None):
    """Decision symbols for decoder-aided estimation, shared by both OFDM receivers.

    ``llr`` [n_codewords, 648] (channel LLRs of one frame/packet, ``L = ln P(1)/P(0)``) are
    decoded by :func:`gnuradio.deepquant.phy.ldpc.bp_decode_torch`, or by ``decode`` when given: a
    function ``(llr [B, 648] float32, max_iter) -> (codewords uint8 [B, 648], iterations [B],
    posteriors float32 [B, 648])`` computing the same (the blocks pass the kernel library's C++
    decoder, ``blocks._kernels.bp_decode``). Codewords whose parity checks
    all hold give their symbols exactly (variance 0); with ``soft`` the others give posterior-mean
    symbols from the decoder's a-posteriori LLRs (:func:`gnuradio.deepquant.phy.mapping.soft_symbols`),
    without it they stay unknown (mean 0, variance 0: left out of the fit).

    Returns (mean complex128 [n_symbols], var float64 [n_symbols], ok bool [n_codewords]), symbols
    in the LLRs' order.
    """
    from ..phy import ldpc, mapping

    k = int(bits_per_symbol)
    llr = np.asarray(llr, np.float32).reshape(-1, ldpc.N)
    if decode is None:
        _, cw, its, post = ldpc.bp_decode_torch(
            llr, int(max_iter), return_codewords=True, return_iterations=True, return_posteriors=True
        )
        cw, its, post = cw.numpy(), its.numpy(), post.numpy()
    else:
        cw, its, post = decode(llr, int(max_iter))
    ok = np.asarray(its) < int(max_iter)  # converged: every parity check holds
    n_sym = ok.size * ldpc.N // k
    mean, var = np.zeros(n_sym, np.complex128), np.zeros(n_sym)
    if soft and not ok.all():  # (validated codewords' symbols are exact: no posterior needed)
        spc = ldpc.N // k
        m_, v_ = mapping.soft_symbols(np.asarray(post).reshape(ok.size, -1)[~ok].reshape(-1, k), k)
        mean.reshape(ok.size, spc)[~ok] = m_.reshape(-1, spc)
        var.reshape(ok.size, spc)[~ok] = v_.reshape(-1, spc)
    sym = mapping.constellation(k)[_labels(np.asarray(cw).reshape(-1, k))]
    okc = np.repeat(ok, ldpc.N // k)
    return np.where(okc, sym, mean), np.where(okc, 0.0, var), ok


def estimate_channel(
    y: np.ndarray,
    x: np.ndarray,
    layout: OfdmLayout,
    taps_pre: int = 6,
    taps_post: int | None = None,
    ref_row: int | None = 1,
    per_carrier: bool = False,
):
    """Channel, noise variance and estimation-error variance from known OFDM symbols.

    Every known symbol (the two sync words and, once its CRC passed, the header) contributes
    ``Y_t[k] = h_k X_t[k] + n``. Per carrier, ``h_ls = sum conj(X) Y / sum |X|^2`` (noise
    ``sigma^2 / D_k``); a weighted least-squares fit of an impulse response on
    ``[-taps_pre, taps_post]`` samples smooths it. sigma^2 is the residual over all known
    observations (``N_obs - L`` degrees of freedom). (Shrinking the fitted taps one by one was
    tried and fails: with guard carriers the tap basis is ill-conditioned, the fitted taps are
    strongly correlated, and per-tap shrinkage distorted the response 2-10x above the noise.)

    Parameters
    ----------
    y, x : ndarray complex [T, fft_len]
        Received and known transmitted symbols (fft-shifted); ``x == 0`` where unknown/unused.
    layout : OfdmLayout
    taps_pre, taps_post : int
        Impulse-response support in samples around the timing point (``taps_post`` defaults
        to ``cp_len``).
    ref_row : int or None
        Before combining, every symbol's common phase (residual CFO) is aligned to this row's
        (default 1, the second sync word: the payload's phase tracker measures against it);
        None: no alignment.

    Returns
    -------
    h : ndarray complex64 [fft_len]
        Estimate on the active carriers (zeros elsewhere).
    noise_var : float
    err_var : float
        Mean variance of the estimate's error per active carrier.
    """
    taps_post = layout.cp_len if taps_post is None else int(taps_post)
    act = _active_tuple(layout)
    ai = layout._const("active_idx", lambda: layout.idx(layout.active))
    f = _basis(layout.fft_len, act, int(taps_pre), taps_post)
    Y = np.asarray(y, dtype=np.complex128)[:, ai]
    X = np.asarray(x, dtype=np.complex128)[:, ai]
    d = np.sum(np.abs(X) ** 2, axis=0)  # [K]
    ok = d > 0
    h_ls = np.where(ok, np.sum(np.conj(X) * Y, axis=0) / np.where(ok, d, 1), 0)
    if Y.shape[0] > 1 and ref_row is not None:
        # residual CFO rotates each symbol by a common phase: align all to symbol ref_row
        phi = np.angle(np.sum(np.conj(h_ls[None, :] * X) * Y, axis=1))
        Y = Y * np.exp(-1j * (phi - phi[ref_row]))[:, None]
        h_ls = np.where(ok, np.sum(np.conj(X) * Y, axis=0) / np.where(ok, d, 1), 0)
    fa, fh, lev_k = _weighted_fit(layout.fft_len, act, int(taps_pre), taps_post, d.tobytes())
    h = fa @ (fh @ (d * h_ls))  # F (F^H W F)^-1 F^H W h_ls
    known = X != 0
    n_obs = int(known.sum())
    r = (Y - h[None, :] * X)[known]
    res = np.sum(r.real * r.real + r.imag * r.imag)
    n_l = f.shape[1]
    nv = float(res / max(n_obs - n_l, 1))
    # mean error variance of the fitted response over the active carriers:
    # (sigma^2 / K) tr(F (F^H W F)^-1 F^H)
    ek = nv * lev_k
    err = float(ek.mean())
    out = np.zeros(layout.fft_len, np.complex64)
    out[ai] = h
    if per_carrier:
        err_k = np.zeros(layout.fft_len)
        err_k[ai] = ek
        return out, nv, err, err_k
    return out, nv, err


def known_preamble(layout: OfdmLayout, header_syms=None) -> np.ndarray:
    """Known transmitted symbols [2 (+ header), fft_len]: the sync words, and the header
    symbols with their pilots when ``header_syms`` ([n_hdr, n_data] BPSK) is given."""
    w1, w2 = layout.sync_words()
    rows = [w1, w2]
    if header_syms is not None:
        for hs in np.asarray(header_syms).reshape(-1, len(layout.occupied)):
            r = np.zeros(layout.fft_len, np.complex64)
            r[layout.data_idx] = hs
            r[layout.pilot_idx] = np.asarray(layout.pilot_symbols)
            rows.append(r)
    return np.stack(rows).astype(np.complex64)


def refine_with_known(
    y: np.ndarray,
    h: np.ndarray,
    noise_var: float,
    err_var: float,
    x_known: np.ndarray,
    layout: OfdmLayout,
    taps_pre: int = 0,
    taps_post: int | None = None,
    x_var: np.ndarray | None = None,
    per_carrier: bool = False,
):
    """Re-estimates a frame's common phases and channel from payload symbols that became known
    (re-encoded codewords the LDPC decoder validated, or soft decisions from its posteriors)
    plus the pilots.

    1. Common phase per OFDM symbol, ``angle(sum w conj(h x) y)`` over every known symbol (up to
       52 carriers instead of the 4 pilots), smoothed by :func:`linear_phase_fit`, removed from
       ``y``.
    2. Channel: the preamble estimate ``h`` enters as a prior -- one pseudo-observation per
       active carrier weighted as the unit-energy training symbols it was made from
       (``m sigma^2 / err_var`` with ``m = L/K`` the mean leverage of the ``L``-tap fit over
       ``K`` carriers: a smoothed estimate with error ``err_var`` came from
       ``m sigma^2 / err_var`` symbols per carrier) -- together with the known symbols, then the
       weighted least-squares impulse-response fit of :func:`estimate_channel` on
       ``[-taps_pre, taps_post]`` samples.

    Soft symbols: with ``x_var`` (the posterior variance of each ``x_known``, 0 where exactly
    known) ``x_known`` holds posterior means ``E[x]``; ``y = h E[x] + (h e + n)`` is unbiased
    (the MMSE error ``e`` is uncorrelated with ``E[x]``) with noise ``sigma^2 + |h|^2 Var[x]``,
    so every cell is weighted by ``1 / (1 + |h|^2 Var[x] / sigma^2)``.

    Parameters
    ----------
    y : ndarray complex [T, fft_len]
        Payload symbols (fft-shifted), phase-tracked against ``h`` from the pilots.
    h : ndarray complex [fft_len]
        The preamble estimate.
    noise_var, err_var : float
        sigma^2 and the mean error variance of ``h`` per carrier.
    x_known : ndarray complex [T, fft_len]
        Known (or posterior-mean) transmitted data symbols, 0 where unknown (pilots are added
        here).
    x_var : ndarray float [T, fft_len] or None
        Posterior variances of ``x_known`` (None: all exactly known).

    per_carrier : bool
        Also return the new estimate's error variance per carrier.

    Returns
    -------
    (y_new complex64 [T, fft_len], h_new complex64 [fft_len], err_var_new float
    [, err_k float64 [fft_len]])
    """
    taps_post = layout.cp_len if taps_post is None else int(taps_post)
    y = np.asarray(y, dtype=np.complex128)
    h = np.asarray(h, dtype=np.complex128)
    x = np.array(x_known, dtype=np.complex128)
    x[:, layout.pilot_idx] = np.asarray(layout.pilot_symbols, dtype=np.complex128)[None, :]
    if x_var is None:
        a = np.ones(y.shape)
    else:
        v = np.array(x_var, dtype=np.float64)
        v[:, layout.pilot_idx] = 0.0
        a = 1.0 / np.sqrt(1.0 + np.abs(h)[None, :] ** 2 * v / max(float(noise_var), 1e-30))
    c = np.sum(np.conj(h[None, :] * x) * a * a * y, axis=1)
    y = y * np.exp(-1j * linear_phase_fit(c))[:, None]
    act = _active_tuple(layout)
    lev = basis_leverage(layout.fft_len, act, int(taps_pre), taps_post)
    w = float(lev * noise_var / err_var) if err_var > 0 else 1e6
    prior = np.zeros(layout.fft_len, np.complex128)
    prior[layout.idx(act)] = np.sqrt(w)
    h_new, nv_fit, err_fit, ek_fit = estimate_channel(
        np.vstack([y * a, (prior * h)[None, :]]),
        np.vstack([x * a, prior[None, :]]),
        layout,
        taps_pre,
        taps_post,
        ref_row=None,
        per_carrier=True,
    )
    # estimate_channel scales its error variance with its own residual sigma^2; use sigma^2
    scale = noise_var / nv_fit if nv_fit > 0 else 0.0
    err_new = float(err_fit * scale) if nv_fit > 0 else float(err_var)
    if per_carrier:
        return y.astype(np.complex64), h_new, err_new, ek_fit * scale
    return y.astype(np.complex64), h_new, err_new
