"""The symbol-level precoding (SLP) problem of paper 003: MU-MISO downlink, M-PSK, constructive
interference (CI) with relaxed phase. Pure numpy, no GNU Radio import.

Conventions (the module's public ones)
--------------------------------------
* ``H``: complex ``[B, K, M]``; user ``i`` receives ``y_i = h_i^T u + n_i`` with ``h_i = H[b, i, :]``
  (no conjugate), ``u`` complex ``[B, M]`` the antenna samples, ``n_i ~ CN(0, n0)``.
* ``s``: complex ``[B, K]`` unit-modulus PSK symbols ``exp(j (2 pi q / order + pi / order))`` (QPSK:
  ``(+-1 +-j)/sqrt(2)``, Gray order is irrelevant here).
* Target SINR ``Gamma`` (linear) and noise variance ``n0``; ``gamma = sqrt(Gamma n0)``.
* CI constraint with relaxed phase, ``theta = pi / order``: with ``r~_i = h_i^T u * conj(s_i)``,
  ``|Im r~_i| <= (Re r~_i - gamma) tan(theta)``, i.e. the CI margin
  ``c_i(u) = Re r~_i - |Im r~_i| / tan(theta) >= gamma``.

Real form used by the solvers and the network: ``x = [Re u; Im u]`` (2M), constraints ``G x <= h``
with ``G = [Q - tP; -Q - tP]`` (2K x 2M), ``P = [Re A, -Im A]``, ``Q = [Im A, Re A]``,
``A = diag(conj s) H``, ``t = tan(theta)`` and ``h = -gamma t 1``. The objective is ``||x||^2``
(the transmit power ``||u||^2``).
"""

from __future__ import annotations

import numpy as np

DEFAULT_M = 4
DEFAULT_K = 4


def check_psk_order(order) -> int:
    o = int(order)
    if o != order or o < 2 or (o & (o - 1)):
        raise ValueError(f"psk_order must be a power of two >= 2 (2, 4, 8, ...), got {order!r}")
    return o


def psk_constellation(order: int) -> np.ndarray:
    """Unit-modulus PSK points ``exp(j pi (2q + 1) / order)``, q = 0..order-1 (complex128)."""
    o = check_psk_order(order)
    return np.exp(1j * np.pi * (2 * np.arange(o) + 1) / o)


def tan_theta(order: int) -> float:
    """tan(pi / order): the half-width of the constructive region (BPSK: infinite, use 1e6)."""
    o = check_psk_order(order)
    return 1e6 if o == 2 else float(np.tan(np.pi / o))


def rayleigh(rng: np.random.Generator, b: int, k: int, m: int) -> np.ndarray:
    """i.i.d. CN(0, 1) channels ``[B, K, M]``."""
    return (rng.standard_normal((b, k, m)) + 1j * rng.standard_normal((b, k, m))) / np.sqrt(2.0)


def random_symbols(rng: np.random.Generator, b: int, k: int, order: int):
    """(indices [B, K], symbols [B, K]) of uniform PSK symbols."""
    idx = rng.integers(0, check_psk_order(order), size=(b, k))
    return idx, psk_constellation(order)[idx]


def gamma_of(sinr_db, noise_var) -> np.ndarray:
    """sqrt(Gamma n0) from Gamma in dB (scalar or [B])."""
    return np.sqrt(10.0 ** (np.asarray(sinr_db, dtype=float) / 10.0) * np.asarray(noise_var, dtype=float))


def rotated(H: np.ndarray, s: np.ndarray) -> np.ndarray:
    """A = diag(conj(s)/|s|) H, [B, K, M]: row i is user i's channel rotated by its symbol's phase."""
    s = np.asarray(s)
    return np.asarray(H) * (np.conj(s) / np.abs(s))[..., None]


def to_real(u: np.ndarray) -> np.ndarray:
    u = np.asarray(u)
    return np.concatenate([u.real, u.imag], axis=-1)


def to_complex(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    m = x.shape[-1] // 2
    return x[..., :m] + 1j * x[..., m:]


def constraint_matrices(H, s, order: int, gamma):
    """Real-form constraints ``G x <= h``: G ``[B, 2K, 2M]``, h ``[B, 2K]`` (see module docstring)."""
    A = rotated(H, s)
    t = tan_theta(order)
    P = np.concatenate([A.real, -A.imag], axis=-1)
    Q = np.concatenate([A.imag, A.real], axis=-1)
    G = np.concatenate([Q - t * P, -Q - t * P], axis=-2)
    g = np.broadcast_to(np.asarray(gamma, dtype=float), G.shape[:-2])
    h = np.repeat((-g * t)[..., None], G.shape[-2], axis=-1)
    return G, h


def ci_margin(H, s, u, order: int) -> np.ndarray:
    """CI margins ``c_i(u) = Re r~_i - |Im r~_i| / tan(theta)``, [B, K] (>= gamma means satisfied)."""
    r = np.einsum("...km,...m->...k", rotated(H, s), u)
    return r.real - np.abs(r.imag) / tan_theta(order)


def satisfied(H, s, u, order: int, gamma, rtol: float = 1e-4) -> np.ndarray:
    """[B] bool: every user's CI constraint holds to a relative tolerance."""
    c = ci_margin(H, s, u, order)
    g = np.broadcast_to(np.asarray(gamma, dtype=float), c.shape[:-1])
    return np.all(c >= (g * (1.0 - rtol))[..., None], axis=-1)


def power(u) -> np.ndarray:
    """Transmit power ||u||^2, [B]."""
    u = np.asarray(u)
    if np.iscomplexobj(u):
        return np.sum(u.real**2 + u.imag**2, axis=-1)
    return np.sum(u * u, axis=-1)


def zf_precoder(H, s, gamma) -> np.ndarray:
    """Zero-forcing u = gamma H^+ s: every user receives exactly gamma s_i (feasible when rank H = K)."""
    g = np.asarray(gamma, dtype=float)
    u = np.einsum("...mk,...k->...m", np.linalg.pinv(H), s)
    return u * (g[..., None] if g.ndim else g)


def scale_to_feasible(H, s, u, order: int, gamma):
    """The final feasibility step: scale ``u`` so that its tightest CI constraint is active.

    ``c_i`` is positively homogeneous in ``u``, so ``alpha = gamma / min_i c_i(u)`` makes every
    constraint hold with the tightest one active (and shrinks ``u`` when it has slack). Where
    ``min_i c_i(u) <= 0`` no scaling helps: those rows get the zero-forcing precoder instead.

    Returns (u_feasible [B, M], fallback [B] bool). Cost per vector: the K received samples
    (4KM real MACs), K margins, a min and one scaling of M complex values.
    """
    g = np.broadcast_to(np.asarray(gamma, dtype=float), np.shape(u)[:-1])
    c = ci_margin(H, s, u, order).min(axis=-1)
    bad = ~(c > 1e-12 * np.sqrt(power(u)) + 1e-300) | ~np.isfinite(c)
    alpha = np.where(bad, 0.0, g / np.where(bad, 1.0, c))
    out = np.asarray(u) * alpha[..., None]
    if np.any(bad):
        out[bad] = zf_precoder(np.asarray(H)[bad], np.asarray(s)[bad], g[bad])
    return out, bad
