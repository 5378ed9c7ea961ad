#
# Copyright 2026 gr-deepquant authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Channel models for link-level simulation and training data, in torch.

Conventions (shared by the whole module)
----------------------------------------
* MIMO channel use ``y = H x + n``: ``y`` (Nr,), ``H`` (Nr, Nt) (row = receive antenna,
  column = transmit antenna; row-major when flattened), ``x`` (Nt,), ``n ~ CN(0, sigma^2 I)``.
  Batched tensors put the batch (and subcarrier) axes first: ``H[..., Nr, Nt]``.
* Complex normal ``CN(0, v)``: real and imaginary parts independent ``N(0, v/2)``.
* SNR (EQ-Net): ``SNR = E||H||_F^2 / sigma^2`` for unit-energy symbols (``E|x_t|^2 = 1``);
  see :func:`snr_to_noise_var`.
* All channel generators are normalised to unit average power per antenna pair,
  ``E|h_ij|^2 = 1`` (per subcarrier for the OFDM models).
* OFDM subcarrier ``m`` is at baseband frequency ``m * subcarrier_spacing`` (Hz) relative to
  the carrier.  By default the ``F`` generated subcarriers are centred on DC in ascending
  frequency order, ``m = -(F // 2), ..., F - 1 - F // 2`` (index ``F // 2`` is DC, the layout
  of ``numpy.fft.fftshift``); any other set, e.g. FFT order or only the used subcarriers of a
  standard, can be passed explicitly (``subcarriers=``).  Phases are referenced to the carrier,
  so ``H`` at DC is the sum of the tap gains.
* Randomness comes only from the ``torch.Generator`` argument (``None``: torch's global
  generator).  Numbers are drawn on the generator's device and moved to ``device``, so a seeded
  CPU generator gives the same channels on every device.

Why these are written here
--------------------------
GNU Radio's ``channels.selective_fading_model`` / ``dynamic_channel_model`` simulate fading in a
stream but never expose the instantaneous channel, which genie-CSI receivers and training data
need, and GNU Radio 3.10 has no MIMO or 3GPP CDL channel.  scipy/numpy have none either.
"""

from __future__ import annotations

import csv
import importlib.resources
import io
import math
import re
from typing import Optional, Sequence, Union

import numpy as np
import torch

__all__ = [
    "complex_normal",
    "rayleigh_mimo",
    "snr_to_noise_var",
    "apply_channel",
    "csi_error_var",
    "imperfect_csi",
    "subcarrier_indices",
    "EPA_DELAYS_NS",
    "EPA_POWERS_DB",
    "pdp_channel",
    "epa_channel",
    "CDL_RAY_OFFSETS",
    "load_cdl_a",
    "cdl_a_channel",
]

Tensor = torch.Tensor
Number = Union[float, int]


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def _gen_device(generator: Optional[torch.Generator]):
    return generator.device if generator is not None else torch.device("cpu")


def _real_dtype(dtype: torch.dtype) -> torch.dtype:
    if dtype == torch.complex64:
        return torch.float32
    if dtype == torch.complex128:
        return torch.float64
    raise ValueError(f"dtype must be torch.complex64 or torch.complex128, got {dtype}")


def complex_normal(
    shape: Sequence[int],
    variance: Union[Number, Tensor] = 1.0,
    generator: Optional[torch.Generator] = None,
    dtype: torch.dtype = torch.complex64,
    device=None,
) -> Tensor:
    """Draw i.i.d. circularly-symmetric complex Gaussian samples ``CN(0, variance)``.

    Parameters
    ----------
    shape : sequence of int
        Output shape.
    variance : float or torch.Tensor
        ``E|z|^2`` (real and imaginary parts each get ``variance / 2``); a tensor must
        broadcast to ``shape``.
    generator : torch.Generator, optional
        Source of randomness (numbers are drawn on its device).
    dtype : torch.dtype
        ``torch.complex64`` or ``torch.complex128``.
    device : torch.device or str, optional
        Output device (default: the generator's device, else CPU).

    Returns
    -------
    torch.Tensor
        Complex, shape ``shape``.
    """
    _real_dtype(dtype)
    gdev = _gen_device(generator)
    z = torch.randn(tuple(shape), dtype=dtype, generator=generator, device=gdev)
    z = z.to(device if device is not None else gdev)
    if isinstance(variance, Tensor):
        return z * torch.sqrt(variance.to(device=z.device, dtype=_real_dtype(dtype)))
    if variance != 1.0:
        z = z * math.sqrt(float(variance))
    return z


def _rand(shape, generator, dtype=torch.float64):
    return torch.rand(tuple(shape), generator=generator, dtype=dtype, device=_gen_device(generator))


# ----------------------------------------------------------------------------------------------
# flat MIMO
# ----------------------------------------------------------------------------------------------
def rayleigh_mimo(
    batch: int,
    n_rx: int,
    n_tx: int,
    generator: Optional[torch.Generator] = None,
    dtype: torch.dtype = torch.complex64,
    device=None,
) -> Tensor:
    """I.i.d. Rayleigh-fading flat MIMO channels.

    Parameters
    ----------
    batch : int
        Number of independent channel matrices B.
    n_rx, n_tx : int
        Receive (Nr) and transmit (Nt) antennas.
    generator : torch.Generator, optional
    dtype : torch.dtype
        ``torch.complex64`` or ``torch.complex128``.
    device : optional
        Output device.

    Returns
    -------
    torch.Tensor
        ``H``, complex, shape ``(B, Nr, Nt)``, entries i.i.d. ``CN(0, 1)``, so
        ``E||H||_F^2 = Nr * Nt``.
    """
    return complex_normal((batch, n_rx, n_tx), 1.0, generator, dtype, device)


def snr_to_noise_var(
    snr_db: Union[Number, Tensor, np.ndarray],
    n_rx: int,
    n_tx: int,
    channel_power: float = 1.0,
    symbol_energy: float = 1.0,
):
    """Noise variance for an SNR defined as in EQ-Net, ``SNR = E||H||_F^2 Es / sigma^2``.

    With ``E|h_ij|^2 = channel_power`` (1 for :func:`rayleigh_mimo` and every generator here)
    and symbols of average energy ``Es = symbol_energy`` (1 for the module's unit-energy
    constellations) on each transmit antenna,
    ``sigma^2 = Nr * Nt * channel_power * Es / 10^(snr_db / 10)``.  The SNR per receive
    antenna is then ``Nt * channel_power * Es / sigma^2 = SNR / Nr`` and the SNR per
    transmitted stream after ideal combining is ``SNR / Nt``.

    Parameters
    ----------
    snr_db : float, numpy.ndarray or torch.Tensor
        SNR in dB.
    n_rx, n_tx : int
        Nr and Nt.
    channel_power : float
        ``E|h_ij|^2``.
    symbol_energy : float
        ``E|x_t|^2`` per transmit antenna.

    Returns
    -------
    float, numpy.ndarray or torch.Tensor
        ``sigma^2 = E|n_r|^2`` (total complex noise variance per receive antenna), same type
        and shape as ``snr_db``.
    """
    num = n_rx * n_tx * channel_power * symbol_energy
    if isinstance(snr_db, Tensor):
        return num * torch.pow(10.0, -snr_db / 10.0)
    if isinstance(snr_db, np.ndarray):
        return num * np.power(10.0, -snr_db / 10.0)
    return num * 10.0 ** (-float(snr_db) / 10.0)


def apply_channel(
    x: Tensor, H: Tensor, noise_var: Union[Number, Tensor], generator: Optional[torch.Generator] = None
) -> Tensor:
    """Pass symbols through a MIMO channel and add noise: ``y = H x + n``.

    Parameters
    ----------
    x : torch.Tensor
        Complex transmit vectors, shape ``(..., Nt)``.
    H : torch.Tensor
        Complex channels, shape ``(..., Nr, Nt)``; leading axes broadcast against ``x``'s
        (e.g. ``H`` ``(B, F, Nr, Nt)`` per subcarrier with ``x`` ``(B, F, Nt)``, or one ``H``
        ``(B, 1, Nr, Nt)`` for ``T`` channel uses ``x`` ``(B, T, Nt)``).
    noise_var : float or torch.Tensor
        ``sigma^2``, the complex noise variance per receive antenna, ``n ~ CN(0, sigma^2 I)``.
        A tensor must broadcast to the leading (batch) shape of ``y`` (one variance per channel
        use), e.g. shape ``(B, 1)`` for per-batch SNRs with ``y`` ``(B, T, Nr)``.  ``0`` gives
        the noiseless ``H x``.
    generator : torch.Generator, optional

    Returns
    -------
    torch.Tensor
        ``y``, complex, shape ``(..., Nr)`` (broadcast leading shape), dtype of ``H @ x``.
    """
    y = (H @ x.unsqueeze(-1)).squeeze(-1)
    if isinstance(noise_var, Tensor):
        nv = noise_var.to(device=y.device, dtype=_real_dtype(y.dtype)).unsqueeze(-1)
        n = complex_normal(y.shape, 1.0, generator, y.dtype, y.device)
        return y + n * torch.sqrt(nv)
    if noise_var == 0:
        return y
    if noise_var < 0:
        raise ValueError("noise_var must be >= 0")
    return y + complex_normal(y.shape, float(noise_var), generator, y.dtype, y.device)


# ----------------------------------------------------------------------------------------------
# imperfect CSI
# ----------------------------------------------------------------------------------------------
def csi_error_var(csi_snr_db: Union[Number, Tensor], channel_power: float = 1.0):
    """Channel-estimation error variance for a CSI SNR ``E|h|^2 / sigma_e^2`` in dB.

    Returns
    -------
    float or torch.Tensor
        ``sigma_e^2 = channel_power * 10^(-csi_snr_db / 10)``.
    """
    if isinstance(csi_snr_db, Tensor):
        return channel_power * torch.pow(10.0, -csi_snr_db / 10.0)
    return channel_power * 10.0 ** (-float(csi_snr_db) / 10.0)


def imperfect_csi(
    H: Tensor,
    error_var: Union[Number, Tensor, None] = None,
    csi_snr_db: Union[Number, Tensor, None] = None,
    generator: Optional[torch.Generator] = None,
    channel_power: float = 1.0,
) -> Tensor:
    """Imperfect channel knowledge ``H_hat = H + E``, ``E`` i.i.d. ``CN(0, sigma_e^2)``
    independent of ``H`` (the usual additive-error model; it is not an LMMSE estimate, whose
    error would be orthogonal to ``H_hat`` instead).

    Give exactly one of ``error_var`` and ``csi_snr_db``.

    Parameters
    ----------
    H : torch.Tensor
        True channels, complex, any shape (e.g. ``(B, Nr, Nt)`` or ``(B, F, Nr, Nt)``).
    error_var : float or torch.Tensor, optional
        ``sigma_e^2 = E|e_ij|^2``; a tensor broadcasts against ``H``.
    csi_snr_db : float or torch.Tensor, optional
        CSI SNR ``channel_power / sigma_e^2`` in dB (:func:`csi_error_var`).
    generator : torch.Generator, optional
    channel_power : float
        ``E|h_ij|^2`` used with ``csi_snr_db`` (1 for the generators of this module).

    Returns
    -------
    torch.Tensor
        ``H_hat``, same shape, dtype and device as ``H``.
    """
    if (error_var is None) == (csi_snr_db is None):
        raise ValueError("give exactly one of error_var and csi_snr_db")
    if error_var is None:
        error_var = csi_error_var(csi_snr_db, channel_power)
    if not isinstance(error_var, Tensor) and error_var < 0:
        raise ValueError("error_var must be >= 0")
    return H + complex_normal(H.shape, error_var, generator, H.dtype, H.device)


# ----------------------------------------------------------------------------------------------
# OFDM: tapped-delay-line profiles
# ----------------------------------------------------------------------------------------------
#: LTE EPA excess tap delays in ns (3GPP TS 36.104 Annex B.2, Table B.2-1).
EPA_DELAYS_NS = (0.0, 30.0, 70.0, 90.0, 110.0, 190.0, 410.0)
#: LTE EPA relative tap powers in dB (3GPP TS 36.104 Annex B.2, Table B.2-1).
EPA_POWERS_DB = (0.0, -1.0, -2.0, -3.0, -8.0, -17.2, -20.8)


def subcarrier_indices(n_subcarriers: int) -> np.ndarray:
    """Default subcarrier indices: centred on DC, ascending frequency.

    Returns
    -------
    numpy.ndarray
        ``int64``, shape ``(F,)``: ``arange(F) - F // 2`` (e.g. F = 4: -2, -1, 0, 1).
    """
    return np.arange(n_subcarriers, dtype=np.int64) - n_subcarriers // 2


def _delay_steering(delays_s, n_subcarriers, subcarrier_spacing, subcarriers, dtype, device):
    """exp(-j 2 pi m df tau_l), shape (F, L), computed in float64 then cast."""
    m = subcarrier_indices(n_subcarriers) if subcarriers is None else np.asarray(subcarriers, np.float64)
    if m.ndim != 1:
        raise ValueError("subcarriers must be 1-D")
    f = m.astype(np.float64) * float(subcarrier_spacing)
    ph = -2.0 * np.pi * np.outer(f, np.asarray(delays_s, np.float64))
    return torch.from_numpy(np.exp(1j * ph)).to(dtype=dtype, device=device)


def pdp_channel(
    delays_s: Sequence[float],
    powers_db: Sequence[float],
    batch: int,
    n_subcarriers: int,
    subcarrier_spacing: float = 15e3,
    n_rx: Optional[int] = None,
    n_tx: Optional[int] = None,
    subcarriers: Optional[Sequence[float]] = None,
    generator: Optional[torch.Generator] = None,
    dtype: torch.dtype = torch.complex64,
    device=None,
) -> Tensor:
    """Per-subcarrier responses of a Rayleigh tapped-delay-line channel (block fading).

    ``H[m] = sum_l g_l exp(-j 2 pi m df tau_l)`` with independent taps
    ``g_l ~ CN(0, p_l)``, ``p_l = 10^(P_l/10) / sum_k 10^(P_k/10)`` (total power 1, so
    ``E|H[m]|^2 = 1``) and frequency correlation
    ``E[H[m] H*[m+k]] = sum_l p_l exp(+j 2 pi k df tau_l)``.  Delays are exact (not rounded to
    a sample grid).  In the MIMO variant every antenna pair has its own independent taps (no
    spatial correlation).  Static over the block (no Doppler).

    Parameters
    ----------
    delays_s : sequence of float
        Tap delays ``tau_l`` in seconds, length L.
    powers_db : sequence of float
        Relative tap powers ``P_l`` in dB, length L.
    batch : int
        Number of independent realisations B.
    n_subcarriers : int
        F.
    subcarrier_spacing : float
        ``df`` in Hz.
    n_rx, n_tx : int, optional
        Give both for MIMO output; leave both ``None`` for a single link.
    subcarriers : sequence of float, optional
        Subcarrier indices ``m`` (length F) instead of the default centred set
        (:func:`subcarrier_indices`).
    generator : torch.Generator, optional
    dtype : torch.dtype
        ``torch.complex64`` or ``torch.complex128``.
    device : optional

    Returns
    -------
    torch.Tensor
        Complex, shape ``(B, F)`` for a single link or ``(B, F, Nr, Nt)`` for MIMO.
    """
    delays = np.asarray(delays_s, np.float64)
    pw = 10.0 ** (np.asarray(powers_db, np.float64) / 10.0)
    if delays.shape != pw.shape or delays.ndim != 1:
        raise ValueError("delays_s and powers_db must be 1-D and of equal length")
    if (n_rx is None) != (n_tx is None):
        raise ValueError("give both n_rx and n_tx, or neither")
    if subcarriers is not None and len(subcarriers) != n_subcarriers:
        raise ValueError("len(subcarriers) must equal n_subcarriers")
    pw = pw / pw.sum()
    n_l = len(pw)
    out_dev = device if device is not None else _gen_device(generator)
    ant = () if n_rx is None else (n_rx, n_tx)
    var = torch.from_numpy(pw).reshape((n_l,) + (1,) * len(ant))
    taps = complex_normal((batch, n_l) + ant, var, generator, dtype, out_dev)  # (B, L, ...)
    steer = _delay_steering(delays, n_subcarriers, subcarrier_spacing, subcarriers, dtype, out_dev)  # (F, L)
    if ant:
        return torch.einsum("fl,blrt->bfrt", steer, taps)
    return taps @ steer.T


def epa_channel(
    batch: int,
    n_subcarriers: int,
    subcarrier_spacing: float = 15e3,
    n_rx: Optional[int] = None,
    n_tx: Optional[int] = None,
    subcarriers: Optional[Sequence[float]] = None,
    generator: Optional[torch.Generator] = None,
    dtype: torch.dtype = torch.complex64,
    device=None,
) -> Tensor:
    """LTE EPA (TS 36.104 Annex B.2) per-subcarrier responses: :func:`pdp_channel` with
    :data:`EPA_DELAYS_NS` / :data:`EPA_POWERS_DB` (rms delay spread 43 ns).

    Returns
    -------
    torch.Tensor
        Complex, shape ``(B, F)``, or ``(B, F, Nr, Nt)`` with ``n_rx``/``n_tx``; 15 kHz
        spacing and DC-centred subcarriers by default.
    """
    return pdp_channel(
        np.asarray(EPA_DELAYS_NS) * 1e-9,
        EPA_POWERS_DB,
        batch,
        n_subcarriers,
        subcarrier_spacing,
        n_rx,
        n_tx,
        subcarriers,
        generator,
        dtype,
        device,
    )


# ----------------------------------------------------------------------------------------------
# 3GPP CDL-A
# ----------------------------------------------------------------------------------------------
#: Ray offset angles alpha_m of TR 38.901 Table 7.5-3 (rays m = 1..20), unit: multiples of the
#: cluster-wise rms angular spread c_{ASA}, c_{ASD}, c_{ZSA}, c_{ZSD} (degrees).
CDL_RAY_OFFSETS = np.array(
    [s * a for a in (0.0447, 0.1413, 0.2492, 0.3715, 0.5129, 0.6797, 0.8844, 1.1481, 1.5195, 2.1551) for s in (1, -1)]
)

_CDL_A_FILE = "cdl_a_38901.csv"


def load_cdl_a() -> dict:
    """TR 38.901 Table 7.7.1-1 (CDL-A) from the package data file ``data/cdl_a_38901.csv``.

    Returns
    -------
    dict
        ``"delay"`` (normalised delays, multiply by the delay spread), ``"power_db"``,
        ``"aod"``, ``"aoa"``, ``"zod"``, ``"zoa"`` (degrees): ``float64`` arrays of shape
        ``(23,)``; ``"c_asd"``, ``"c_asa"``, ``"c_zsd"``, ``"c_zsa"`` (degrees) and
        ``"xpr_db"``: floats.
    """
    text = (importlib.resources.files("gnuradio.deepquant") / "data" / _CDL_A_FILE).read_text()
    spreads = {}
    for key, val in re.findall(r"(c_ASD|c_ASA|c_ZSD|c_ZSA|XPR)\s*=\s*([-0-9.]+)", text):
        spreads[key] = float(val)
    if len(spreads) != 5:
        raise ValueError(f"{_CDL_A_FILE}: cluster-wise spreads missing from the header")
    rows = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    table = list(csv.DictReader(io.StringIO("\n".join(rows))))
    col = lambda name: np.array([float(r[name]) for r in table])  # noqa: E731
    return {
        "delay": col("normalized_delay"),
        "power_db": col("power_db"),
        "aod": col("aod_deg"),
        "aoa": col("aoa_deg"),
        "zod": col("zod_deg"),
        "zoa": col("zoa_deg"),
        "c_asd": spreads["c_ASD"],
        "c_asa": spreads["c_ASA"],
        "c_zsd": spreads["c_ZSD"],
        "c_zsa": spreads["c_ZSA"],
        "xpr_db": spreads["XPR"],
    }


def _wrap_zenith(theta_deg: np.ndarray) -> np.ndarray:
    """TR 38.901 §7.5 step 7: zenith angles in [180, 360] deg become 360 - theta."""
    t = np.mod(theta_deg, 360.0)
    return np.where(t > 180.0, 360.0 - t, t)


def cdl_a_channel(
    batch: int,
    n_subcarriers: int,
    n_rx: int = 1,
    n_tx: int = 1,
    delay_spread: float = 316e-9,
    subcarrier_spacing: float = 15e3,
    rx_spacing: float = 0.5,
    tx_spacing: float = 0.5,
    subcarriers: Optional[Sequence[float]] = None,
    generator: Optional[torch.Generator] = None,
    dtype: torch.dtype = torch.complex64,
    device=None,
) -> Tensor:
    """3GPP CDL-A per-subcarrier MIMO channel responses (TR 38.901 §7.7.1, Table 7.7.1-1).

    Procedure of §7.7.1 with zero Doppler, for each realisation independently:

    1. Ray angles ``phi_{n,m} = phi_n + c * alpha_m`` for AoA/AoD/ZoA/ZoD with the cluster
       angles of Table 7.7.1-1, the cluster-wise spreads ``c_ASA = 11``, ``c_ASD = 5``,
       ``c_ZSA = c_ZSD = 3`` degrees and the 20 offsets ``alpha_m`` of Table 7.5-3
       (:data:`CDL_RAY_OFFSETS`); zenith angles above 180 deg are mirrored (``360 - theta``).
    2. Random coupling within each cluster: AoD, ZoA and ZoD ray orders are independent
       uniformly random permutations relative to the AoA order.
    3. Independent initial phases ``Phi_{n,m} ~ U(-pi, pi)``.
    4. Coefficients (7.5-22, single vertical polarisation, isotropic elements)::

           H[f, u, s] = sum_n sqrt(P_n / 20) sum_m exp(j Phi_{n,m})
                        * exp(j 2 pi u d_rx sin(ZoA_{n,m}) sin(AoA_{n,m}))
                        * exp(j 2 pi s d_tx sin(ZoD_{n,m}) sin(AoD_{n,m}))
                        * exp(-j 2 pi f_m tau_n)

       with ``P_n`` the table powers normalised to sum 1 (so ``E|h_us|^2 = 1`` on every
       subcarrier), ``tau_n = delay_spread * normalised delay`` and ``f_m = m * df``.

    Antennas are uniform linear arrays along the y axis of the 38.901 coordinate system
    (element ``u`` at ``y = u * d * lambda``, broadside towards the x axis, no array rotation),
    at both ends.  Elements are isotropic and vertically polarised (``F_theta = 1``,
    ``F_phi = 0``), so only the theta-theta polarisation term survives and the cross-
    polarisation ratio (XPR = 10 dB) does not enter; the directional element pattern of
    Table 7.3-1 is not applied.  The array response uses the carrier wavelength for all
    subcarriers (narrowband array assumption).  Channels are static (no Doppler): one
    realisation per batch element.

    Parameters
    ----------
    batch : int
        Independent realisations B.
    n_subcarriers : int
        F.
    n_rx, n_tx : int
        Receive and transmit antennas Nr, Nt.
    delay_spread : float
        rms delay spread DS in seconds scaling the normalised delays (default 316 ns, the
        EQ-Net test setting at 6 GHz).
    subcarrier_spacing : float
        ``df`` in Hz.
    rx_spacing, tx_spacing : float
        Element spacing in wavelengths (default half a wavelength).
    subcarriers : sequence of float, optional
        Subcarrier indices ``m`` (default centred on DC, :func:`subcarrier_indices`).
    generator : torch.Generator, optional
    dtype : torch.dtype
        ``torch.complex64`` or ``torch.complex128``.
    device : optional

    Returns
    -------
    torch.Tensor
        Complex, shape ``(B, F, Nr, Nt)``.
    """
    if subcarriers is not None and len(subcarriers) != n_subcarriers:
        raise ValueError("len(subcarriers) must equal n_subcarriers")
    p = load_cdl_a()
    n_c, n_m = len(p["delay"]), len(CDL_RAY_OFFSETS)
    alpha = CDL_RAY_OFFSETS[None, :]
    aoa = p["aoa"][:, None] + p["c_asa"] * alpha  # (23, 20) degrees
    aod = p["aod"][:, None] + p["c_asd"] * alpha
    zoa = _wrap_zenith(p["zoa"][:, None] + p["c_zsa"] * alpha)
    zod = _wrap_zenith(p["zod"][:, None] + p["c_zsd"] * alpha)
    pw = 10.0 ** (p["power_db"] / 10.0)
    pw = pw / pw.sum()

    gdev = _gen_device(generator)
    out_dev = device if device is not None else gdev
    f64 = torch.float64

    def t(a):
        return torch.as_tensor(np.deg2rad(a), dtype=f64, device=gdev)

    # random coupling: independent permutations of the AoD, ZoA, ZoD rays of every cluster
    perms = torch.argsort(_rand((3, batch, n_c, n_m), generator), dim=-1)
    expand = lambda a: t(a).expand(batch, n_c, n_m)  # noqa: E731
    aoa_b = expand(aoa)
    aod_b = torch.gather(expand(aod), 2, perms[0])
    zoa_b = torch.gather(expand(zoa), 2, perms[1])
    zod_b = torch.gather(expand(zod), 2, perms[2])
    phase = (2.0 * _rand((batch, n_c, n_m), generator) - 1.0) * math.pi

    u = torch.arange(n_rx, dtype=f64, device=gdev)
    s = torch.arange(n_tx, dtype=f64, device=gdev)
    # (B, 23, 20, Nr) and (B, 23, 20, Nt)
    a_rx = torch.polar(
        torch.ones((), dtype=f64, device=gdev),
        2 * math.pi * rx_spacing * (torch.sin(zoa_b) * torch.sin(aoa_b))[..., None] * u,
    )
    a_tx = torch.polar(
        torch.ones((), dtype=f64, device=gdev),
        2 * math.pi * tx_spacing * (torch.sin(zod_b) * torch.sin(aod_b))[..., None] * s,
    )
    amp = torch.as_tensor(np.sqrt(pw / n_m), dtype=f64, device=gdev)[None, :, None]
    w = torch.polar(amp.expand_as(phase), phase)  # (B, 23, 20)
    cluster = torch.einsum("bnm,bnmu,bnms->bnus", w, a_rx, a_tx)  # (B, 23, Nr, Nt)
    cluster = cluster.to(device=out_dev, dtype=dtype)
    steer = _delay_steering(
        p["delay"] * delay_spread, n_subcarriers, subcarrier_spacing, subcarriers, dtype, out_dev
    )  # (F, 23)
    return torch.einsum("fn,bnus->bfus", steer, cluster)
