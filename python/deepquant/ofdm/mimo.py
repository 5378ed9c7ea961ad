"""2x2 MIMO-OFDM frame numerics (flowgraph 2): frame layout with orthogonal pilots, per-subcarrier
channels, least-squares estimation. No GNU Radio import.

Frame (one packet): ``N_PILOT = nt`` pilot OFDM symbols -- in pilot symbol j only stream j
sends (BPSK sequence of sync word 2 on every data carrier), the other streams are silent --
followed by ``n_data_symbols`` OFDM symbols in which every stream sends QAM on every data
carrier. Resource elements are ordered symbol-major (all carriers of symbol 0, then symbol 1...).
Channel uses: y[k, t] = H[k] x[k, t] + n, H[k] (nr x nt) constant over the frame.
"""

from __future__ import annotations

import functools

import numpy as np

from . import channel as ofdm_channel
from .layout import OfdmLayout


def pilot_sequence(layout: OfdmLayout) -> np.ndarray:
    """BPSK pilot per data carrier (sync word 2 on the data carriers), complex64 [n_data]."""
    return layout.sync_words()[1][layout.data_idx].astype(np.complex64)


def frame_pilots(layout: OfdmLayout, nt: int) -> np.ndarray:
    """Pilot REs [nt pilot symbols, n_data carriers, nt streams]."""
    p = pilot_sequence(layout)
    out = np.zeros((nt, p.size, nt), np.complex64)
    for j in range(nt):
        out[j, :, j] = p
    return out


def channels(
    rng: np.random.Generator,
    layout: OfdmLayout,
    nr: int,
    nt: int,
    n: int,
    model: str = "epa",
    samp_rate: float = 20e6,
    torch_gen=None,
) -> np.ndarray:
    """``n`` per-subcarrier MIMO channels [n, n_data, nr, nt] (complex64), E|H_ij|^2 = 1.

    'epa': independent EPA-like impulse responses per antenna pair (delays rounded to samples
    at ``samp_rate``); 'rayleigh': i.i.d. CN(0, 1) per carrier (no frequency correlation);
    'cdla': 3GPP CDL-A (``phy.channels.cdl_a_channel``, 100 ns delay spread, the layout's carrier
    spacing ``samp_rate / fft_len``)."""
    k = np.asarray(layout.occupied)
    if model == "epa":
        d, p = ofdm_channel.epa_integer_profile(samp_rate)
        g = ofdm_channel.draw_taps(rng, d, p, n * nr * nt)
        h = ofdm_channel.frequency_response(g, k, layout.fft_len).reshape(n, nr, nt, k.size)
        return np.transpose(h, (0, 3, 1, 2)).astype(np.complex64)
    if model == "rayleigh":
        s = (n, k.size, nr, nt)
        return ((rng.standard_normal(s) + 1j * rng.standard_normal(s)) / np.sqrt(2)).astype(np.complex64)
    if model == "cdla":
        from ..phy import channels as phy_channels

        h = phy_channels.cdl_a_channel(
            n,
            k.size,
            nr,
            nt,
            delay_spread=100e-9,
            subcarrier_spacing=samp_rate / layout.fft_len,
            subcarriers=[float(v) for v in k],
            generator=torch_gen,
        )
        return np.asarray(h.numpy() if hasattr(h, "numpy") else h, dtype=np.complex64).reshape(n, k.size, nr, nt)
    raise ValueError(f"unknown MIMO-OFDM channel model {model!r}; choose 'epa', 'rayleigh' or 'cdla'")


#: Guard-carrier weight of the CDL-A tap fit (:func:`cdl_a_taps`): the active band is matched
#: closely, the guard carriers loosely (keeps the taps' out-of-band response, and so their
#: energy and length, tame).
CDLA_GUARD_WEIGHT = 0.1
#: Samples of band-limited interpolation kept before the first CDL-A cluster (the taps are
#: shifted this much to be causal) and after the last.
CDLA_PRE_TAPS = 4


def cdl_a_span(samp_rate: float = 20e6, delay_spread: float = 100e-9, pre: int = CDLA_PRE_TAPS) -> int:
    """Length L of the tap vectors of :func:`cdl_a_taps`: ``2 pre + ceil(max delay) + 1``
    (29 samples at 20 Msps, 100 ns; the last CDL-A cluster lies at 9.6586 x delay spread)."""
    from ..phy.channels import load_cdl_a

    if not samp_rate > 0 or not delay_spread >= 0:
        raise ValueError(f"samp_rate must be > 0 and delay_spread >= 0, got {samp_rate}, {delay_spread}")
    dmax = float(load_cdl_a()["delay"].max()) * float(delay_spread) * float(samp_rate)
    return 2 * int(pre) + int(np.ceil(dmax - 1e-9)) + 1


def _tap_fit_matrix(fft_len: int, n_taps: int, pre: int, band: int, guard_weight: float):
    """Weighted least-squares map from the response on bins ``-N/2 .. N/2-1`` to taps on lags
    ``-pre .. n_taps - 1 - pre``: [n_taps, fft_len] complex128."""
    k = np.arange(-(fft_len // 2), fft_len - fft_len // 2)
    lags = np.arange(n_taps) - pre
    f = np.exp(-2j * np.pi * np.outer(k, lags) / fft_len)
    w = np.where(np.abs(k) <= band, 1.0, float(guard_weight))
    return np.linalg.pinv(f * w[:, None]) * w[None, :]


def cdl_a_taps(
    n: int,
    nr: int,
    nt: int,
    fft_len: int = 64,
    samp_rate: float = 20e6,
    delay_spread: float = 100e-9,
    band: int = 26,
    pre: int = CDLA_PRE_TAPS,
    guard_weight: float = CDLA_GUARD_WEIGHT,
    generator=None,
):
    """``n`` 3GPP CDL-A realisations of the full Nr x Nt array as causal time-domain taps.

    Each realisation is drawn by :func:`gnuradio.deepquant.phy.channels.cdl_a_channel` (the
    clusters' spatial correlation included) on all ``fft_len`` bins ``k = -N/2 .. N/2-1`` at
    carrier spacing ``samp_rate / fft_len``; its band-limited impulse response (fractional
    cluster delays) is then fitted by taps on lags ``-pre .. L-1-pre`` with weighted least
    squares: weight 1 on the band ``|k| <= band`` (the active carriers), ``guard_weight`` on the
    guard carriers. The taps are shifted by ``pre`` samples to be causal, so the response an
    OFDM receiver sees on bin k is ``H_cdl[k] exp(-j 2 pi k pre / N)`` (a pure delay: the same
    per-carrier statistics). At 20 Msps, 100 ns, ``pre`` = 4: L = 29 taps, relative error of the
    response on the active band about -47 dB (guard weight 0.1).

    Parameters
    ----------
    n, nr, nt : int
    fft_len : int
    samp_rate, delay_spread : float
        Hz and seconds.
    band : int
        Highest |bin| fitted with full weight (26: the module's 52 active carriers of 64).
    pre : int
    guard_weight : float
    generator : torch.Generator, optional

    Returns
    -------
    taps : ndarray complex128 [n, nr, nt, L]
        ``g[.., r, j, l]``: lag l from transmit antenna j to receive antenna r.
    h : ndarray complex128 [n, fft_len, nr, nt]
        The CDL-A response on bins ``-N/2 .. N/2-1`` (without the ``pre`` delay) the taps
        reproduce.
    """
    from ..phy import channels as phy_channels

    n_taps = cdl_a_span(samp_rate, delay_spread, pre)
    k = np.arange(-(fft_len // 2), fft_len - fft_len // 2)
    h = phy_channels.cdl_a_channel(
        int(n),
        k.size,
        int(nr),
        int(nt),
        delay_spread=float(delay_spread),
        subcarrier_spacing=float(samp_rate) / fft_len,
        subcarriers=[float(v) for v in k],
        generator=generator,
    )
    import torch

    h = h.to(torch.complex128).numpy()
    fit = _tap_fit_matrix(int(fft_len), n_taps, int(pre), int(band), float(guard_weight))
    taps = np.einsum("lk,bkrj->brjl", fit, h)
    return taps, h


def taps_response(taps: np.ndarray, carriers, fft_len: int) -> np.ndarray:
    """Per-carrier response of causal taps [..., L] at the bins ``carriers``: [..., len(carriers)]."""
    return ofdm_channel.frequency_response(np.asarray(taps), np.asarray(carriers), int(fft_len))


def ls_estimate(y_pilot: np.ndarray, layout: OfdmLayout, smooth: bool = True):
    """LS channel from the orthogonal pilot symbols, optionally smoothed over frequency.

    Parameters
    ----------
    y_pilot : ndarray complex [nt, n_data, nr]
        Received pilot REs (pilot symbol j carries only stream j).

    Returns
    -------
    h : ndarray complex64 [n_data, nr, nt]
    noise_var : float
        From the smoothing residual (when ``smooth``), else NaN.
    err_var : float
        Mean error variance of the estimate per entry, in units of sigma^2 (``L/K`` smoothed,
        1 raw).
    """
    from .estimation import _projector

    nt, nd, nr = y_pilot.shape
    p = pilot_sequence(layout)
    h = np.transpose(y_pilot / p[None, :, None], (1, 2, 0))  # [nd, nr, nt]
    if not smooth:
        return h.astype(np.complex64), float("nan"), 1.0
    act = tuple(int(c) for c in layout.occupied)
    proj, dof = _projector(layout.fft_len, act, 3, layout.cp_len - 2)
    flat = h.reshape(nd, -1).T  # [nr*nt, nd]
    sm = flat @ proj.T
    res = flat - sm
    nv = float(np.sum(np.abs(res) ** 2) / (max(dof, 1) * flat.shape[0]))
    return sm.T.reshape(nd, nr, nt).astype(np.complex64), nv, (nd - dof) / nd


# --------------------------------------------------------------------------------------------
# Time-domain MIMO-OFDM (flowgraph 2 with real OFDM modulation and shared Schmidl & Cox sync)
# --------------------------------------------------------------------------------------------
#
# Packet of ``mimo_ofdm_tx`` (every stream sample-aligned, each symbol fft_len + cp_len samples):
#   symbol 0            Schmidl & Cox sync word 1, stream 0 only (timing and CFO)
#   symbols 1 .. nt     long training: in symbol 1 + j only stream j sends sync word 2 (BPSK on
#                       every active carrier) -> time-orthogonal LS estimate of column j of H
#   next n_hdr symbols  BPSK header (packet number, codeword count, CRC-8, :mod:`.header`) on the
#                       data carriers of stream 0 only; pilots on every stream
#   T payload symbols   QAM on the data carriers of every stream; the same pilots on every stream
# then ``fft_len/2`` zero samples.


def td_layout(
    fft_len: int = 64, cp_len: int = 16, n_codewords: int = 8, bits_per_symbol: int = 6, nt: int = 2
) -> OfdmLayout:
    """The layout of a time-domain MIMO-OFDM packet on ``nt`` streams.

    Raises ValueError naming the fix when ``nt < 1`` or the codewords do not fill whole OFDM
    symbols on ``nt`` streams (:func:`td_payload_symbols`)."""
    if int(nt) < 1:
        raise ValueError(f"nt must be >= 1, got {nt}")
    lay = OfdmLayout(int(fft_len), int(cp_len), int(bits_per_symbol), int(n_codewords))
    td_payload_symbols(lay, int(nt))
    return lay


def td_sync_words(layout: OfdmLayout, nt: int) -> list:
    """Per stream, the ``1 + nt`` preamble symbols (fft-shifted) for GNU Radio's
    ``ofdm_carrier_allocator_cvc``: list [nt] of arrays [1 + nt, fft_len] complex64."""
    w1, w2 = layout.sync_words()
    z = np.zeros(layout.fft_len, np.complex64)
    out = []
    for j in range(nt):
        rows = [w1 if j == 0 else z] + [w2 if i == j else z for i in range(nt)]
        out.append(np.stack(rows).astype(np.complex64))
    return out


def td_payload_symbols(layout: OfdmLayout, nt: int) -> int:
    """Payload OFDM symbols per packet: every stream carries ``coded_bits / nt`` bits."""
    per_stream = layout.data_symbols // nt
    if layout.data_symbols % nt or per_stream % len(layout.occupied):
        raise ValueError(
            f"{layout.n_codewords} codeword(s) of 648 bits at {layout.bits_per_symbol} bits/symbol do not "
            f"fill whole OFDM symbols of {len(layout.occupied)} carriers on {nt} streams; change n_codewords "
            f"(a multiple of {nt * len(layout.occupied) * layout.bits_per_symbol // np.gcd(648, nt * len(layout.occupied) * layout.bits_per_symbol)})"
        )
    return per_stream // len(layout.occupied)


def td_samples_per_packet(layout: OfdmLayout, nt: int) -> int:
    """Samples of one ``mimo_ofdm_tx`` packet per stream (guard included)."""
    return (1 + nt + layout.header_symbols + td_payload_symbols(layout, nt)) * (
        layout.fft_len + layout.cp_len
    ) + layout.guard_len


def ltf_estimate(y_ltf: np.ndarray, layout: OfdmLayout, taps_pre: int = 0, taps_post: int = 20, estimate=None):
    """LS channel of every antenna pair from the time-orthogonal long-training symbols, smoothed
    by fitting an impulse response on ``[-taps_pre, taps_post]`` samples
    (:func:`.estimation.estimate_channel`).

    Parameters
    ----------
    y_ltf : ndarray complex [nr, nt, fft_len]
        FFT (fft-shifted) of training symbol j at receive chain r.
    estimate : callable or None
        A function with :func:`.estimation.estimate_channel`'s arguments and results computing the
        same (the blocks pass the kernel library's C++ one, ``blocks._kernels.estimate_channel``);
        None: :func:`.estimation.estimate_channel`.

    Returns
    -------
    h : ndarray complex64 [fft_len, nr, nt]
        Estimate on the active carriers (zeros elsewhere).
    noise_var : float
        sigma^2 per subcarrier from the fit residuals (mean over the antenna pairs).
    err_var : float
        Mean error variance of one entry of the estimate.
    """
    from .estimation import estimate_channel

    estimate_channel = estimate or estimate_channel
    nr, nt, n = y_ltf.shape
    w2 = layout.sync_words()[1][None, :]
    h = np.zeros((n, nr, nt), np.complex64)
    nvs, errs = [], []
    for r in range(nr):
        for j in range(nt):
            hh, nv, err = estimate_channel(y_ltf[r, j][None, :], w2, layout, taps_pre, taps_post, ref_row=None)
            h[:, r, j] = hh
            nvs.append(nv)
            errs.append(err)
    return h, float(np.mean(nvs)), float(np.mean(errs))


def header_mrc(y_hdr: np.ndarray, h: np.ndarray, layout: OfdmLayout) -> np.ndarray:
    """Maximum-ratio combined header statistics ``z[t, k] = Re(sum_r conj(h[k, r, 0]) y[r, t, k])``
    on the data carriers (the header is sent by stream 0): float [n_hdr, n_data]."""
    di = layout.data_idx
    return np.real(np.einsum("rtk,kr->tk", y_hdr[:, :, di], np.conj(h[di, :, 0])))


def residual_cfo_align(h: np.ndarray, y_hdr: np.ndarray, x_hdr: np.ndarray, layout: OfdmLayout):
    """Align the columns of ``h`` to one time reference despite residual CFO.

    Column j was measured in symbol ``1 + j``; a residual CFO rotates every symbol by ``phi``
    more than the one before, so column j carries an extra ``j phi``. The decoded header (sent by
    stream 0 in symbols ``1 + nt + i``) measures ``phi``: its phase relative to column 0 is
    ``(nt + i) phi``. Least-squares slope through the origin, then column j is rotated by
    ``-j phi`` (all columns then refer to symbol 1).

    Parameters
    ----------
    h : ndarray complex [fft_len, nr, nt]
    y_hdr : ndarray complex [nr, n_hdr, fft_len]
    x_hdr : ndarray complex [n_hdr, n_data]
        The header's BPSK symbols (known once its CRC passed).

    Returns
    -------
    (h aligned complex64 [fft_len, nr, nt], phi radians per symbol)
    """
    nt = h.shape[2]
    di = layout.data_idx
    c = np.einsum("rtk,kr,tk->t", y_hdr[:, :, di], np.conj(h[di, :, 0]), np.conj(x_hdr))
    d = nt + np.arange(c.size, dtype=np.float64)
    a = np.angle(c)
    # unwrap along the symbol axis relative to the expected slope from the first symbol
    phi0 = a[0] / d[0]
    a = phi0 * d + np.angle(np.exp(1j * (a - phi0 * d)))
    phi = float(np.sum(d * a) / np.sum(d * d))
    out = h * np.exp(-1j * phi * np.arange(nt))[None, None, :]
    return out.astype(np.complex64), phi


def payload_channel_uses(y_pay: np.ndarray, h: np.ndarray, layout: OfdmLayout, t0: float, tracking: bool = True):
    """Payload symbols -> MIMO channel uses, with pilot common-phase tracking.

    Every stream sends the same pilots, so pilot carrier p of chain r reads
    ``e^{j phi_t} sum_j h[p, r, j] s_p``; the phases of all symbols are fitted by a weighted
    straight line (:func:`.estimation.linear_phase_fit`) and removed.

    Parameters
    ----------
    y_pay : ndarray complex [nr, T, fft_len]
    h : ndarray complex [fft_len, nr, nt] (columns aligned to the reference symbol)
    t0 : float
        Index of the first payload symbol relative to the reference symbol.

    Returns
    -------
    y : ndarray complex64 [T * n_data, nr]
        Symbol-major (all data carriers of payload symbol 0 first), carriers in ``occupied`` order.
    h_uses : ndarray complex64 [n_data, nr, nt]
        Channel per data carrier (the same for every payload symbol).
    phases : ndarray float64 [T]
    """
    from .estimation import linear_phase_fit

    nr, t, _ = y_pay.shape
    pi, di = layout.pilot_idx, layout.data_idx
    s = np.asarray(layout.pilot_symbols, dtype=np.complex128)
    hs = h[pi].sum(axis=2)  # [P, nr]
    c = np.einsum("rtp,pr->t", y_pay[:, :, pi], np.conj(hs * s[:, None]))
    phases = linear_phase_fit(c, t0) if tracking else np.zeros(t)
    y = y_pay[:, :, di] * np.exp(-1j * phases)[None, :, None]
    return (np.transpose(y, (1, 2, 0)).reshape(-1, nr).astype(np.complex64), h[di].astype(np.complex64), phases)


def refine_column0(
    h: np.ndarray,
    y_ltf: np.ndarray,
    y_hdr: np.ndarray,
    x_hdr: np.ndarray,
    layout: OfdmLayout,
    taps_pre: int = 0,
    taps_post: int = 20,
    estimate=None,
):
    """Re-estimate column 0 of ``h`` with the decoded header as extra training.

    Stream 0 sends the header alone on the data carriers, so once its CRC passed, every chain
    has three known symbols of column 0 (training symbol 1 and the two header symbols) instead
    of one: :func:`.estimation.estimate_channel` over all of them (header pilots, sent by every
    stream, are left out; each symbol's residual-CFO phase aligned to the training symbol)
    cuts that column's estimation error about threefold.

    Parameters
    ----------
    h : ndarray complex [fft_len, nr, nt]
    y_ltf : ndarray complex [nr, nt, fft_len]
    y_hdr : ndarray complex [nr, n_hdr, fft_len]
    x_hdr : ndarray complex [n_hdr, n_data]
    estimate : callable or None
        As :func:`ltf_estimate`'s.

    Returns
    -------
    (h complex64 [fft_len, nr, nt] with column 0 replaced, noise_var float, err_var of column 0)
    """
    from .estimation import estimate_channel

    estimate_channel = estimate or estimate_channel
    nr = h.shape[1]
    w2 = layout.sync_words()[1]
    x = np.zeros((1 + x_hdr.shape[0], layout.fft_len), np.complex64)
    x[0] = w2
    x[1:, layout.data_idx] = x_hdr
    out = np.array(h, dtype=np.complex64)
    nvs, errs = [], []
    for r in range(nr):
        y = np.concatenate([y_ltf[r, 0][None, :], y_hdr[r]], axis=0)
        hh, nv, err = estimate_channel(y, x, layout, taps_pre, taps_post, ref_row=0)
        out[:, r, 0] = hh
        nvs.append(nv)
        errs.append(err)
    return out, float(np.mean(nvs)), float(np.mean(errs))


@functools.lru_cache(maxsize=16)
def _refit_basis(fft_len: int, act: tuple, ai: tuple, di: tuple, pi: tuple, taps_pre: int, taps_post: int):
    """Tap basis of the active carriers, its mean leverage L/K, and its data / pilot rows
    (cached: the same for every packet)."""
    from .estimation import _basis, basis_leverage

    f = _basis(fft_len, act, taps_pre, taps_post)  # [K, L]
    lev = basis_leverage(fft_len, act, taps_pre, taps_post)
    pos = {c: i for i, c in enumerate(ai)}
    fd = f[[pos[c] for c in di]]  # [nd, L]
    fp = f[[pos[c] for c in pi]]  # [P, L]
    for a in (f, fd, fp):
        a.setflags(write=False)
    return f, lev, fd, fp


def refine_with_symbols(
    y: np.ndarray,
    h: np.ndarray,
    noise_var: float,
    err_var,
    x_mean: np.ndarray,
    x_var: np.ndarray,
    layout: OfdmLayout,
    taps_pre: int = 0,
    taps_post: int = 20,
):
    """Decoder-aided re-estimation of a MIMO-OFDM packet's channel and common phases.

    The MIMO counterpart of :func:`.estimation.refine_with_known`: payload symbols that became
    known (codewords the LDPC decoder validated: ``x_var = 0``) or soft decisions (posterior
    means ``x_mean`` with variances ``x_var``) act as extra training for every antenna pair.

    1. Common phase per OFDM symbol from every known cell and the pilots (every stream sends
       the same pilots), straight-line fit (:func:`.estimation.linear_phase_fit`), removed.
    2. Per receive chain r, one weighted least-squares fit of the ``Nt`` impulse responses
       ``g_rj`` on ``[-taps_pre, taps_post]`` samples to
       ``y_r[t, k] = sum_j (F g_rj)[k] x_j[t, k] + n`` over all cells (each cell weighted by
       ``1 / (1 + sum_j |h_rj[k]|^2 Var[x_j] / sigma^2)``: a soft symbol's error acts as extra
       noise), with the preamble estimate ``h`` as prior (per column j, one pseudo-observation
       per active carrier worth ``m sigma^2 / err_var_j`` training symbols, ``m = L/K`` the
       leverage of an ``L``-tap fit on ``K`` carriers).
    3. Error covariance of the fit ``sigma^2 (A^H A)^-1``: the per-carrier error variance of
       each entry of the new estimate.

    Parameters
    ----------
    y : ndarray complex [nr, T, fft_len]
        Payload symbols (fft-shifted), common phase already removed (pilot tracking).
    h : ndarray complex [fft_len, nr, nt]
        Preamble estimate (columns aligned).
    noise_var : float
    err_var : float or array [nt]
        Mean error variance of one entry of ``h`` (per column j when an array).
    x_mean, x_var : ndarray [T, n_data, nt]
        Posterior mean (complex) and variance (float) of every stream's data symbol.

    Returns
    -------
    y_new : complex64 [nr, T, fft_len] (phase re-aligned)
    h_new : complex64 [fft_len, nr, nt]
    err_data : float64 [n_data]
        Sum over the ``nt`` columns of the new estimate's error variance per data carrier
        (mean over the chains): ``sigma^2 + err_data[k]`` is the effective noise of a unit-energy
        channel use on carrier k.
    """
    from .estimation import linear_phase_fit

    nr, t, n = y.shape
    nt = h.shape[2]
    nv = max(float(noise_var), 1e-30)
    ev = np.broadcast_to(np.asarray(err_var, dtype=np.float64), (nt,))
    di, pi = layout.data_idx, layout.pilot_idx
    act = tuple(int(k) for k in layout.active)
    ai = layout.idx(act)
    y = np.asarray(y, dtype=np.complex128)
    h = np.asarray(h, dtype=np.complex128)
    xm = np.asarray(x_mean, dtype=np.complex128)
    xv = np.asarray(x_var, dtype=np.float64)
    s = np.asarray(layout.pilot_symbols, dtype=np.complex128)
    # 1. common phase: sum over chains, known cells and pilots of w conj(h x) y
    hx = np.einsum("krj,tkj->rtk", h[di], xm)  # [nr, T, nd]
    a2 = 1.0 / (1.0 + np.einsum("krj,tkj->rtk", np.abs(h[di]) ** 2, xv) / nv)
    c = np.sum(np.conj(hx) * a2 * y[:, :, di], axis=(0, 2))
    hp = h[pi].sum(axis=2)  # [P, nr]
    c = c + np.einsum("rtp,pr->t", y[:, :, pi], np.conj(hp * s[:, None]))
    y = y * np.exp(-1j * linear_phase_fit(c))[None, :, None]
    # 2. per chain: joint fit of the nt impulse responses. The normal equations of the stacked
    # rows [data cells; pilots; prior] are formed directly from per-carrier sums over the
    # symbols (the Gram matrix of T x nd data rows is sum_k conj(fd_k)^T fd_k W_k with
    # W_k = sum_t a^2 conj(x) x^T): O(nd (nt L)^2) instead of O(T nd (nt L)^2).
    f, lev, fd, fp = _refit_basis(
        layout.fft_len,
        act,
        tuple(int(c_) for c_ in ai),
        tuple(int(c_) for c_ in di),
        tuple(int(c_) for c_ in pi),
        int(taps_pre),
        int(taps_post),
    )
    L = f.shape[1]
    ntl = nt * L
    h_new = np.zeros_like(h)
    err = np.zeros((layout.fft_len, nt))
    # pilots: every stream sends s_p on pilot p, so each pilot row is s_p fp[p] repeated over j
    rp = np.tile(s[:, None] * fp, (1, nt))  # [P, nt L]
    gram_p = t * (rp.conj().T @ rp)
    w = np.array([np.sqrt(lev * nv / ev[j]) if ev[j] > 0 else 1e3 for j in range(nt)])
    ff = f.conj().T @ f  # [L, L]
    gram_prior = np.zeros((ntl, ntl), np.complex128)
    for j in range(nt):
        gram_prior[j * L : (j + 1) * L, j * L : (j + 1) * L] = w[j] ** 2 * ff
    yd = y[:, :, di]  # [nr, T, nd]
    wgt = a2[:, :, :, None] * xm[None, :, :, :]  # [nr, T, nd, nt]: a^2 x
    wc = wgt.conj().transpose(0, 2, 3, 1)  # [nr, nd, nt, T]
    wk = wc @ xm.transpose(1, 0, 2)[None]  # [nr, nd, nt, nt]
    vk = (wc @ yd.transpose(0, 2, 1)[..., None])[..., 0]  # [nr, nd, nt]
    fdc = fd.conj()
    # gram_d[r, (j, l), (i, m)] = sum_k conj(fd[k, l]) wk[r, k, j, i] fd[k, m]
    gram_d = (wk.transpose(0, 2, 3, 1)[:, :, :, None, :] * fdc.T) @ fd  # [nr, nt, nt, L, L]
    gram_d = gram_d.transpose(0, 1, 3, 2, 4).reshape(nr, ntl, ntl)
    b_d = (vk.transpose(0, 2, 1) @ fdc).reshape(nr, ntl)
    b_p = np.tile(y[:, :, pi].sum(axis=1) @ (s[:, None] * fp).conj(), (1, nt))  # [nr, nt L]
    # all chains at once: positive definite systems (the prior rows alone have full column rank)
    gram = gram_d + (gram_p + gram_prior)[None]  # [nr, nt L, nt L]
    b = b_d + b_p + ((w**2)[None, :, None] * np.einsum("kl,krj->rjl", f.conj(), h[ai])).reshape(nr, ntl)
    ginv = np.linalg.inv(gram)
    g = (ginv @ b[..., None])[..., 0].reshape(nr, nt, L)
    h_new[ai] = np.einsum("kl,rjl->krj", f, g)
    # per-carrier error variance of every column: diag(F C_jj F^H), C = sigma^2 ginv
    cjj = np.stack([ginv[:, j * L : (j + 1) * L, j * L : (j + 1) * L] for j in range(nt)], axis=1)  # [nr, nt, L, L]
    dk = np.real(np.sum((f @ cjj) * f.conj(), axis=-1))  # [nr, nt, K]
    err[ai] = nv * dk.mean(axis=0).T
    return y.astype(np.complex64), h_new.astype(np.complex64), err[di].sum(axis=1)
