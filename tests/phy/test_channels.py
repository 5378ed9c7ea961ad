"""Channel models checked against the standards' statistics, computed here from the standard
values (TS 36.104 Table B.2-1, TR 38.901 Tables 7.7.1-1 and 7.5-3) without calling the channel
code for the reference values.

Sign used throughout: with ``H[m] = sum_l g_l exp(-j 2 pi m df tau_l)`` and independent taps of
power p_l, ``E[H[m+k] H*[m]] = sum_l p_l exp(-j 2 pi k df tau_l)``.
"""

import csv
import importlib.resources
import io

import numpy as np
import pytest
import scipy.stats
import torch

torch.set_num_threads(1)

from gnuradio.deepquant.phy import channels as ch  # noqa: E402

# ---- standard values, transcribed independently of the module -------------------------------
EPA_NS = np.array([0, 30, 70, 90, 110, 190, 410], float)  # TS 36.104 Table B.2-1
EPA_DB = np.array([0.0, -1.0, -2.0, -3.0, -8.0, -17.2, -20.8])
ALPHA = np.array(
    [0.0447, 0.1413, 0.2492, 0.3715, 0.5129, 0.6797, 0.8844, 1.1481, 1.5195, 2.1551]
)  # TR 38.901 Table 7.5-3, rays come in +/- pairs
ALPHA = np.concatenate([ALPHA, -ALPHA])


def gen(seed):
    return torch.Generator().manual_seed(seed)


def read_cdl_csv():
    """Parse the packaged CDL-A table with the csv module (independent of channels.py)."""
    text = (importlib.resources.files("gnuradio.deepquant") / "data" / "cdl_a_38901.csv").read_text()
    rows = [r for r in text.splitlines() if r and not r.startswith("#")]
    t = list(csv.DictReader(io.StringIO("\n".join(rows))))
    return {k: np.array([float(r[k]) for r in t]) for k in t[0]}


@pytest.fixture(scope="module")
def cdl():
    return read_cdl_csv()


def norm_powers(db):
    p = 10 ** (np.asarray(db) / 10)
    return p / p.sum()


def freq_corr(h, k):
    """Empirical E[H[m+k] H*[m]] over realisations and m; h (B, F, ...)."""
    return complex((h[:, k:] * h[:, : h.shape[1] - k].conj()).mean())


# ---------------------------------------------------------------- i.i.d. Rayleigh
def test_rayleigh_statistics():
    H = ch.rayleigh_mimo(20000, 2, 2, gen(0))
    assert H.shape == (20000, 2, 2) and H.dtype == torch.complex64
    h = H.reshape(-1, 4).to(torch.complex128).numpy()
    assert np.abs(h.mean(0)).max() < 0.02
    np.testing.assert_allclose((np.abs(h) ** 2).mean(0), 1.0, atol=0.03)
    np.testing.assert_allclose(h.real.var(0), 0.5, atol=0.015)
    np.testing.assert_allclose(h.imag.var(0), 0.5, atol=0.015)
    assert np.abs((h**2).mean(0)).max() < 0.02  # circular: E[h^2] = 0
    c = (h.conj().T @ h) / len(h)  # entries mutually uncorrelated
    assert np.abs(c - np.diag(np.diag(c))).max() < 0.03
    # |h|^2 of CN(0,1) is Exp(1) (Rayleigh amplitude)
    assert scipy.stats.kstest(np.abs(h[:, 0]) ** 2, "expon").pvalue > 1e-3
    # independent across entries also in magnitude
    r = np.corrcoef(np.abs(h[:, 0]) ** 2, np.abs(h[:, 3]) ** 2)[0, 1]
    assert abs(r) < 0.03


def test_rayleigh_seeding_and_dtype():
    a = ch.rayleigh_mimo(3, 4, 2, gen(7))
    b = ch.rayleigh_mimo(3, 4, 2, gen(7))
    c = ch.rayleigh_mimo(3, 4, 2, gen(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert ch.rayleigh_mimo(2, 2, 2, gen(0), dtype=torch.complex128).dtype == torch.complex128
    with pytest.raises(ValueError):
        ch.rayleigh_mimo(2, 2, 2, gen(0), dtype=torch.float32)


def test_snr_definition_matches_eqnet():
    """SNR = E||H||_F^2 / sigma^2 with unit-energy symbols."""
    nr, nt, snr_db = 4, 2, 10.0
    s2 = ch.snr_to_noise_var(snr_db, nr, nt)
    assert s2 == pytest.approx(nr * nt / 10.0)
    H = ch.rayleigh_mimo(20000, nr, nt, gen(1))
    fro = float((H.abs() ** 2).sum((-2, -1)).mean())
    assert fro / s2 == pytest.approx(10.0, rel=0.02)
    # per receive antenna the SNR is SNR / Nr: E||Hx||^2 / E||n||^2
    x = torch.exp(1j * np.pi / 2 * torch.randint(0, 4, (20000, nt), generator=gen(2)))
    x = x.to(torch.complex64)
    y = ch.apply_channel(x, H, s2, gen(3))
    sig = (ch.apply_channel(x, H, 0.0).abs() ** 2).sum(-1).mean()
    noise = ((y - ch.apply_channel(x, H, 0.0)).abs() ** 2).sum(-1).mean()
    assert float(sig / noise) == pytest.approx(10.0 / nr, rel=0.03)
    # array types
    np.testing.assert_allclose(ch.snr_to_noise_var(np.array([0.0, 10.0]), 2, 2), [4.0, 0.4])
    torch.testing.assert_close(ch.snr_to_noise_var(torch.tensor([20.0]), 1, 1), torch.tensor([0.01]))


def test_apply_channel_noise_statistics():
    B, nr, nt = 40000, 3, 2
    H = ch.rayleigh_mimo(B, nr, nt, gen(4))
    x = (torch.randn(B, nt, generator=gen(5)) + 0j).to(torch.complex64)
    y0 = ch.apply_channel(x, H, 0)
    torch.testing.assert_close(y0, torch.einsum("brt,bt->br", H, x))  # y = H x, row = rx
    n = (ch.apply_channel(x, H, 0.3, gen(6)) - y0).to(torch.complex128).numpy()
    assert n.shape == (B, nr)
    np.testing.assert_allclose((np.abs(n) ** 2).mean(0), 0.3, rtol=0.03)
    assert np.abs((n**2).mean(0)).max() < 0.01  # circular
    assert np.abs((n[:, 0] * n[:, 1].conj()).mean()) < 0.01  # white across antennas
    assert np.abs((n[:, 0] * x[:, 0].numpy()).mean()) < 0.01  # independent of the signal
    # one variance per batch element (tensor)
    nv = torch.where(torch.arange(B) < B // 2, 0.1, 1.0)
    n = ch.apply_channel(x, H, nv, gen(7)) - y0
    assert float((n[: B // 2].abs() ** 2).mean()) == pytest.approx(0.1, rel=0.03)
    assert float((n[B // 2 :].abs() ** 2).mean()) == pytest.approx(1.0, rel=0.03)
    # broadcasting: one H for T channel uses
    xt = torch.randn(5, 7, nt, dtype=torch.complex64, generator=gen(8))
    assert ch.apply_channel(xt, H[:5, None], 0.1, gen(9)).shape == (5, 7, nr)


def test_imperfect_csi_error_variance():
    H = ch.rayleigh_mimo(30000, 2, 2, gen(10))
    Hh = ch.imperfect_csi(H, error_var=0.05, generator=gen(11))
    e = (Hh - H).to(torch.complex128).numpy().reshape(-1)
    assert np.mean(np.abs(e) ** 2) == pytest.approx(0.05, rel=0.03)
    assert abs(np.mean(e**2)) < 0.05 * 0.03  # circular
    assert abs(np.mean(e * H.to(torch.complex128).numpy().reshape(-1).conj())) < 0.005
    Hh = ch.imperfect_csi(H, csi_snr_db=10.0, generator=gen(12))
    assert float(((Hh - H).abs() ** 2).mean()) == pytest.approx(0.1, rel=0.03)
    assert torch.equal(ch.imperfect_csi(H, error_var=0.0), H)
    # per-element variance tensor
    ev = torch.tensor([0.01, 1.0]).reshape(1, 2, 1)
    d = (ch.imperfect_csi(H, error_var=ev, generator=gen(13)) - H).abs() ** 2
    assert float(d[:, 0].mean()) == pytest.approx(0.01, rel=0.05)
    assert float(d[:, 1].mean()) == pytest.approx(1.0, rel=0.05)
    with pytest.raises(ValueError):
        ch.imperfect_csi(H, error_var=0.1, csi_snr_db=10.0)
    with pytest.raises(ValueError):
        ch.imperfect_csi(H)


# ---------------------------------------------------------------- EPA / PDP
def test_epa_frequency_correlation_matches_profile():
    p = norm_powers(EPA_DB)
    tau = EPA_NS * 1e-9
    for df, F, B in [(15e3, 64, 4000), (240e3, 64, 4000)]:
        H = ch.epa_channel(B, F, subcarrier_spacing=df, generator=gen(20))
        assert H.shape == (B, F) and H.dtype == torch.complex64
        h = H.to(torch.complex128).numpy()
        assert np.mean(np.abs(h) ** 2) == pytest.approx(1.0, abs=0.05)
        for k in (1, 4, 16, 40):
            ref = np.sum(p * np.exp(-2j * np.pi * k * df * tau))
            assert abs(freq_corr(h, k) - ref) < 0.06, (df, k, freq_corr(h, k), ref)
    # at 240 kHz spacing the 43 ns profile decorrelates visibly: the check above is not vacuous
    assert abs(np.sum(p * np.exp(-2j * np.pi * 40 * 240e3 * tau))) < 0.6


def test_epa_tap_powers_by_least_squares():
    """Fit the 7 EPA taps to each response: the model is exact and the tap powers match."""
    F, df, B = 512, 120e3, 1500
    H = ch.epa_channel(B, F, subcarrier_spacing=df, generator=gen(21), dtype=torch.complex128)
    m = np.arange(F) - F // 2  # documented default: centred on DC, ascending
    A = np.exp(-2j * np.pi * np.outer(m * df, EPA_NS * 1e-9))
    g, *_ = np.linalg.lstsq(A, H.numpy().T, rcond=None)  # (7, B)
    resid = np.abs(A @ g - H.numpy().T).max()
    assert resid < 1e-8
    pw = np.mean(np.abs(g) ** 2, axis=1)
    np.testing.assert_allclose(pw, norm_powers(EPA_DB), rtol=0.15)
    # taps are mutually uncorrelated
    c = (g @ g.conj().T) / B
    off = c - np.diag(np.diag(c))
    assert np.abs(off).max() < 0.05


def test_epa_mimo_pairs_independent():
    B, F = 4000, 32
    H = ch.epa_channel(B, F, n_rx=2, n_tx=3, generator=gen(22))
    assert H.shape == (B, F, 2, 3)
    h = H.to(torch.complex128).numpy()
    np.testing.assert_allclose((np.abs(h) ** 2).mean((0, 1)), 1.0, atol=0.06)
    flat = h.reshape(B, F, 6)
    for a, b in [(0, 1), (0, 5), (2, 3)]:
        assert abs((flat[:, :, a] * flat[:, :, b].conj()).mean()) < 0.03
    ref = np.sum(norm_powers(EPA_DB) * np.exp(-2j * np.pi * 8 * 15e3 * EPA_NS * 1e-9))
    for a in range(6):
        assert abs(freq_corr(flat[:, :, a], 8) - ref) < 0.06


def test_subcarrier_index_convention():
    F = 16
    np.testing.assert_array_equal(ch.subcarrier_indices(F), np.arange(F) - 8)
    h = ch.epa_channel(3, F, generator=gen(30), dtype=torch.complex128)
    h2 = ch.epa_channel(3, F, subcarriers=np.arange(F) - 8, generator=gen(30), dtype=torch.complex128)
    torch.testing.assert_close(h, h2)
    # one chosen subcarrier m is column m + F//2 of the default layout
    h3 = ch.epa_channel(3, 2, subcarriers=[-3, 5], generator=gen(30), dtype=torch.complex128)
    torch.testing.assert_close(h3, h[:, [5, 13]])
    # a single-tap profile is flat; a single delayed tap rotates by -2 pi m df tau
    one = ch.pdp_channel([1e-6], [0.0], 2, F, 15e3, generator=gen(31), dtype=torch.complex128)
    ratio = (one / one[:, 8:9]).numpy()
    expect = np.exp(-2j * np.pi * (np.arange(F) - 8) * 15e3 * 1e-6)
    np.testing.assert_allclose(ratio, np.broadcast_to(expect, (2, F)), atol=1e-12)


# ---------------------------------------------------------------- CDL-A
def test_cdl_a_table_is_the_standard(cdl):
    assert len(cdl["cluster"]) == 23
    np.testing.assert_allclose(
        [cdl[k][0] for k in ("normalized_delay", "power_db", "aod_deg", "aoa_deg", "zod_deg", "zoa_deg")],
        [0.0, -13.4, -178.1, 51.3, 50.2, 125.4],
    )
    np.testing.assert_allclose(
        [cdl[k][22] for k in ("normalized_delay", "power_db", "aod_deg", "aoa_deg", "zod_deg", "zoa_deg")],
        [9.6586, -29.7, -56.2, 55.2, 144.9, 156.1],
    )
    assert cdl["power_db"].max() == 0.0 and cdl["power_db"].argmax() == 1
    t = ch.load_cdl_a()
    assert (t["c_asd"], t["c_asa"], t["c_zsd"], t["c_zsa"], t["xpr_db"]) == (5, 11, 3, 3, 10)
    np.testing.assert_array_equal(t["delay"], cdl["normalized_delay"])
    np.testing.assert_array_equal(np.sort(np.abs(ch.CDL_RAY_OFFSETS)), np.sort(np.abs(ALPHA)))


def test_cdl_a_power_and_power_delay_profile(cdl):
    """Per-cluster powers from the responses (least squares at the table's delays) match
    Table 7.7.1-1 (normalised), E|h|^2 = 1, and the frequency correlation follows the PDP."""
    ds = 316e-9
    F, df, B = 1024, 240e3, 1500  # 245 MHz span resolves the closest clusters (5.6 ns apart)
    H = ch.cdl_a_channel(B, F, 1, 1, delay_spread=ds, subcarrier_spacing=df, generator=gen(40), dtype=torch.complex128)
    assert H.shape == (B, F, 1, 1)
    h = H[..., 0, 0].numpy()
    assert np.mean(np.abs(h) ** 2) == pytest.approx(1.0, abs=0.04)
    tau = cdl["normalized_delay"] * ds
    m = np.arange(F) - F // 2
    A = np.exp(-2j * np.pi * np.outer(m * df, tau))
    assert np.linalg.cond(A) < 10
    g, *_ = np.linalg.lstsq(A, h.T, rcond=None)  # (23, B)
    assert np.abs(A @ g - h.T).max() < 1e-8  # exactly the table's 23 delays
    pw = np.mean(np.abs(g) ** 2, axis=1)
    ref = norm_powers(cdl["power_db"])
    np.testing.assert_allclose(pw, ref, rtol=0.2)
    np.testing.assert_allclose(10 * np.log10(pw / pw.max()), cdl["power_db"], atol=0.8)
    # frequency correlation E[H[m+k] H*[m]] = sum_n P_n exp(-j 2 pi k df tau_n)
    H2 = ch.cdl_a_channel(3000, 16, 1, 1, generator=gen(41))[..., 0, 0].to(torch.complex128)
    for k in (1, 5, 15):
        r = np.sum(ref * np.exp(-2j * np.pi * k * 15e3 * cdl["normalized_delay"] * 316e-9))
        assert abs(freq_corr(H2.numpy(), k) - r) < 0.05


def _ula_correlation(cdl, angle, c_angle, zenith, c_zenith, d):
    """E[h_{u+1} h_u^*] for a ULA along y: sum_n P_n mean_{m,m'} exp(j 2 pi d sin(theta_{n,m'})
    sin(phi_{n,m})), the mean over m' being the expectation over the random ray coupling."""
    p = norm_powers(cdl["power_db"])
    phi = np.deg2rad(cdl[angle][:, None] + c_angle * ALPHA)  # (23, 20)
    th = np.deg2rad(cdl[zenith][:, None] + c_zenith * ALPHA)
    assert (th > 0).all() and (th < np.pi).all()  # no zenith wrapping needed for CDL-A
    ph = 2 * np.pi * d * np.sin(th)[:, None, :] * np.sin(phi)[:, :, None]  # (23, m, m')
    return complex(np.sum(p * np.exp(1j * ph).mean(axis=(1, 2))))


def test_cdl_a_spatial_correlation(cdl):
    B, F = 2000, 8
    H = ch.cdl_a_channel(B, F, n_rx=4, n_tx=2, generator=gen(42)).to(torch.complex128).numpy()
    assert H.shape == (B, F, 4, 2)
    np.testing.assert_allclose((np.abs(H) ** 2).mean((0, 1)), 1.0, atol=0.08)
    rx = complex((H[:, :, 1:, :] * H[:, :, :-1, :].conj()).mean())
    tx = complex((H[:, :, :, 1:] * H[:, :, :, :-1].conj()).mean())
    ref_rx = _ula_correlation(cdl, "aoa_deg", 11.0, "zoa_deg", 3.0, 0.5)
    ref_tx = _ula_correlation(cdl, "aod_deg", 5.0, "zod_deg", 3.0, 0.5)
    assert abs(ref_rx) > 0.3 and abs(ref_tx) > 0.3  # strongly non-trivial at lambda/2
    assert abs(rx - ref_rx) < 0.05, (rx, ref_rx)
    assert abs(tx - ref_tx) < 0.05, (tx, ref_tx)
    # two wavelengths apart: the reference changes and the channel follows
    H = ch.cdl_a_channel(B, F, n_rx=2, n_tx=1, rx_spacing=2.0, generator=gen(43))
    H = H.to(torch.complex128).numpy()
    rx2 = complex((H[:, :, 1, 0] * H[:, :, 0, 0].conj()).mean())
    ref2 = _ula_correlation(cdl, "aoa_deg", 11.0, "zoa_deg", 3.0, 2.0)
    assert abs(rx2 - ref2) < 0.05, (rx2, ref2)


def test_cdl_a_seeding():
    a = ch.cdl_a_channel(2, 4, 2, 2, generator=gen(50))
    b = ch.cdl_a_channel(2, 4, 2, 2, generator=gen(50))
    c = ch.cdl_a_channel(2, 4, 2, 2, generator=gen(51))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.dtype == torch.complex64
