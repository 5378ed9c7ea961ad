"""The multi-user MIMO pilot model of paper 000 (Shohat et al., "Deep quantization for MIMO channel
estimation"), eq. (5), and its real-valued stacking.  numpy only (no torch, no GNU Radio).

Model and conventions
---------------------
* ``n_t`` BS antennas, ``n_u`` single-antenna users, ``tau_p`` pilot symbols, pilot SNR ``P``
  (linear, per user per pilot symbol; noise power 1).
* Pilots: ``Phi`` (tau_p x n_u) = the first n_u columns of the *unnormalised* tau_p-point DFT
  matrix, ``Phi[t, u] = exp(-2j pi t u / tau_p)``, so ``Phi^H Phi = tau_p I``.
* Channel vector ``h`` (n_u*n_t,) with ``h[u*n_t + a]`` the gain from user u to antenna a,
  i.i.d. CN(0, 1).  Noise ``w`` (tau_p*n_t,) i.i.d. CN(0, 1).
* Received pilot block ``y = sqrt(P) (Phi kron I_nt) h + w``, ``y[t*n_t + a]`` = antenna a at pilot
  time t -- i.e. the tau_p consecutive n_t-antenna snapshots concatenated, which is what a
  GNU Radio ``stream_to_vector(n_t * tau_p)`` after an n_t-antenna channel block produces.
* Real stacking: ``x = [Re y; Im y]`` (n = 2 tau_p n_t), ``s = [Re h; Im h]`` (k = 2 n_u n_t); every
  entry of s has variance 1/2.  Average MSE ``eta = E||s - s_hat||^2 / k``.
* The toolkit's MIMO blocks want H (n_t x n_u) row-major: ``H_flat[a*n_u + u] = h[u*n_t + a]``;
  :func:`h_to_rowmajor` / :func:`rowmajor_to_h` convert.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "ChannelSetup",
    "pilot_matrix",
    "complex_to_real",
    "real_to_complex",
    "h_to_rowmajor",
    "rowmajor_to_h",
]


def pilot_matrix(tau_p: int, n_u: int) -> np.ndarray:
    """First ``n_u`` columns of the unnormalised ``tau_p``-point DFT matrix.

    Returns
    -------
    ndarray, complex128, shape (tau_p, n_u)
        ``Phi[t, u] = exp(-2j pi t u / tau_p)``; ``Phi^H Phi = tau_p I_{n_u}``.
    """
    if n_u > tau_p:
        raise ValueError(f"need tau_p >= n_u for orthogonal pilots, got tau_p={tau_p}, n_u={n_u}")
    t = np.arange(tau_p)[:, None]
    u = np.arange(n_u)[None, :]
    return np.exp(-2j * np.pi * t * u / tau_p)


def complex_to_real(z: np.ndarray) -> np.ndarray:
    """``[..., m]`` complex -> ``[..., 2m]`` real ``[Re z, Im z]`` (float64 unless z is complex64)."""
    z = np.asarray(z)
    dt = np.float32 if z.dtype == np.complex64 else np.float64
    return np.concatenate([z.real, z.imag], axis=-1).astype(dt, copy=False)


def real_to_complex(r: np.ndarray) -> np.ndarray:
    """``[..., 2m]`` real ``[Re, Im]`` -> ``[..., m]`` complex (complex64 for float32 input)."""
    r = np.asarray(r)
    m = r.shape[-1] // 2
    out = r[..., :m] + 1j * r[..., m:]
    return out.astype(np.complex64 if r.dtype == np.float32 else np.complex128, copy=False)


def h_to_rowmajor(h: np.ndarray, n_t: int, n_u: int) -> np.ndarray:
    """Channel vectors ``[..., n_u*n_t]`` (user-major, eq. 5) -> H ``[..., n_t*n_u]`` row-major."""
    h = np.asarray(h)
    lead = h.shape[:-1]
    return np.swapaxes(h.reshape(lead + (n_u, n_t)), -1, -2).reshape(lead + (n_t * n_u,))


def rowmajor_to_h(hr: np.ndarray, n_t: int, n_u: int) -> np.ndarray:
    """Inverse of :func:`h_to_rowmajor`."""
    hr = np.asarray(hr)
    lead = hr.shape[:-1]
    return np.swapaxes(hr.reshape(lead + (n_t, n_u)), -1, -2).reshape(lead + (n_u * n_t,))


@dataclass(frozen=True)
class ChannelSetup:
    """Dimensions and pilot SNR of the channel-estimation problem (the paper's defaults).

    Attributes
    ----------
    n_t, n_u, tau_p : int
        BS antennas, users, pilot length (tau_p >= n_u).
    snr : float
        Pilot SNR P (linear).
    """

    n_t: int = 10
    n_u: int = 4
    tau_p: int = 12
    snr: float = 4.0

    def __post_init__(self):
        if min(self.n_t, self.n_u, self.tau_p) < 1:
            raise ValueError(f"n_t, n_u, tau_p must be >= 1, got {self}")
        if self.tau_p < self.n_u:
            raise ValueError(f"need tau_p >= n_u (orthogonal pilots), got tau_p={self.tau_p}, n_u={self.n_u}")
        if not (np.isfinite(self.snr) and self.snr > 0):
            raise ValueError(f"snr must be positive and finite, got {self.snr}")

    # ---- sizes ---------------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of real observations ``2 tau_p n_t``."""
        return 2 * self.tau_p * self.n_t

    @property
    def k(self) -> int:
        """Number of real unknowns ``2 n_u n_t``."""
        return 2 * self.n_u * self.n_t

    @property
    def rho(self) -> float:
        """``tau_p / n_u`` (= n/k)."""
        return self.tau_p / self.n_u

    def with_snr(self, snr: float) -> "ChannelSetup":
        return ChannelSetup(self.n_t, self.n_u, self.tau_p, float(snr))

    def as_dict(self) -> dict:
        return asdict(self)

    # ---- linear model ------------------------------------------------------------------------
    @property
    def phi(self) -> np.ndarray:
        """Pilot matrix (tau_p, n_u), complex128."""
        return pilot_matrix(self.tau_p, self.n_u)

    def pilot_operator(self) -> np.ndarray:
        """``Phi kron I_nt`` (tau_p n_t, n_u n_t), complex128."""
        return np.kron(self.phi, np.eye(self.n_t))

    def real_operator(self) -> np.ndarray:
        """Real form ``A_r`` (n, k) of ``Phi kron I``: ``x = sqrt(P) A_r s + w_r``."""
        a = self.pilot_operator()
        return np.block([[a.real, -a.imag], [a.imag, a.real]])

    def covariances(self, snr: float | None = None):
        """Second-order statistics of the real model at SNR ``snr`` (default: ``self.snr``).

        Returns
        -------
        sigma_x : ndarray (n, n)
            ``E[x x^T] = (P A_r A_r^T + I) / 2``.
        sigma_sx : ndarray (k, n)
            ``E[s x^T] = sqrt(P) A_r^T / 2``.
        sigma_s : ndarray (k, k)
            ``I / 2``.
        """
        p = self.snr if snr is None else float(snr)
        ar = self.real_operator()
        sigma_x = 0.5 * (p * ar @ ar.T + np.eye(self.n))
        sigma_sx = 0.5 * np.sqrt(p) * ar.T
        return sigma_x, sigma_sx, 0.5 * np.eye(self.k)

    def mmse_matrix(self, snr: float | None = None) -> np.ndarray:
        """The MMSE (= LMMSE, jointly Gaussian) estimator ``Gamma`` (k, n): ``s_tilde = Gamma x``.

        Closed form of eq. (6), ``sqrt(P)/(1 + P tau_p) * real(Phi^H kron I)``, equal to
        ``Sigma_sx Sigma_x^{-1}`` (checked in the tests).
        """
        p = self.snr if snr is None else float(snr)
        return np.sqrt(p) / (1.0 + p * self.tau_p) * self.real_operator().T

    # ---- sampling ----------------------------------------------------------------------------
    def sample(self, num: int, rng: np.random.Generator, snr=None, dtype=np.float32):
        """Draw ``num`` independent pilot blocks in real form.

        Parameters
        ----------
        num : int
        rng : numpy.random.Generator
        snr : None, float or ndarray (num,)
            Pilot SNR per sample (None: ``self.snr``).  An array gives each sample its own P
            (the SNR-uncertainty training set).
        dtype : numpy dtype of the outputs.

        Returns
        -------
        s : ndarray (num, k)
            ``[Re h; Im h]``.
        x : ndarray (num, n)
            ``[Re y; Im y]``.
        """
        y, h = self.sample_complex(num, rng, snr=snr)
        return complex_to_real(h).astype(dtype), complex_to_real(y).astype(dtype)

    def sample_complex(self, num: int, rng: np.random.Generator, snr=None):
        """Complex pilot blocks: ``y`` (num, tau_p n_t) complex128 and ``h`` (num, n_u n_t)."""
        p = self.snr if snr is None else snr
        p = np.broadcast_to(np.asarray(p, dtype=np.float64), (num,))
        sq = np.sqrt(0.5)
        h = sq * (
            rng.standard_normal((num, self.n_u * self.n_t)) + 1j * rng.standard_normal((num, self.n_u * self.n_t))
        )
        w = sq * (
            rng.standard_normal((num, self.tau_p * self.n_t)) + 1j * rng.standard_normal((num, self.tau_p * self.n_t))
        )
        # (Phi kron I) h  ==  (Phi @ H_u) flattened, with H_u = h.reshape(n_u, n_t)
        hy = np.einsum("tu,bua->bta", self.phi, h.reshape(num, self.n_u, self.n_t))
        y = np.sqrt(p)[:, None] * hy.reshape(num, self.tau_p * self.n_t) + w
        return y, h
