"""EPA-like block fading for OFDM packets and the frequency-domain genie reference."""

from __future__ import annotations

import numpy as np

from ..phy.channels import EPA_DELAYS_NS, EPA_POWERS_DB


def epa_integer_profile(samp_rate: float):
    """LTE EPA power-delay profile with delays rounded to whole samples at ``samp_rate``
    (taps falling on the same sample merged, powers normalised to sum 1).

    Returns (delays int64 [L], powers float64 [L])."""
    if not samp_rate > 0:
        raise ValueError(f"samp_rate must be positive, got {samp_rate}")
    d = np.rint(np.asarray(EPA_DELAYS_NS) * 1e-9 * samp_rate).astype(np.int64)
    p = 10 ** (np.asarray(EPA_POWERS_DB) / 10)
    ud = np.unique(d)
    up = np.array([p[d == x].sum() for x in ud])
    return ud, up / up.sum()


def draw_taps(rng: np.random.Generator, delays: np.ndarray, powers: np.ndarray, n: int = 1) -> np.ndarray:
    """``n`` independent Rayleigh tap vectors [n, max_delay + 1] (complex128), E sum|g|^2 = 1."""
    g = np.zeros((n, int(delays.max()) + 1), np.complex128)
    w = (rng.standard_normal((n, len(delays))) + 1j * rng.standard_normal((n, len(delays)))) * np.sqrt(powers / 2)
    g[:, delays] = w
    return g


def frequency_response(taps: np.ndarray, carriers: np.ndarray, fft_len: int) -> np.ndarray:
    """H[..., k] = sum_l g[..., l] exp(-j 2 pi k l / fft_len) at subcarriers ``carriers``."""
    lags = np.arange(taps.shape[-1])
    return taps @ np.exp(-2j * np.pi * np.outer(lags, np.asarray(carriers)) / fft_len)
