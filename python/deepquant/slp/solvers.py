"""Baselines of paper 003: optimisation-based SLP (the exact per-symbol-vector QP) and
conventional block-level SINR-constrained power minimisation. Pure numpy/scipy + Clarabel.

* :func:`slp_qp` — ``min ||x||^2 s.t. G x <= h`` (problem.py's real form) per symbol vector with
  the Clarabel interior-point solver (the reference for power and constraint satisfaction).
* :func:`slp_dual_pg` — the same QP solved through its dual ``max_{lam>=0} -1/4 ||G^T lam||^2 - h^T lam``
  by accelerated projected gradient (batched numpy), ``x = -G^T lam / 2`` (paper eq. 10). An
  independent second method, used to check the solver and as the network's iteration.
* :func:`block_level` — SINR-constrained power-minimising linear beamforming
  ``min sum ||w_k||^2 s.t. SINR_k >= Gamma`` by the uplink-downlink duality fixed point
  (Schubert-Boche / Bjornson et al. [40]); :func:`block_level_socp` solves the same problem as an
  SOCP with Clarabel (Wiesel-Eldar-Shamai form) for checking. Transmitted ``u = W s``.
"""

from __future__ import annotations

import numpy as np

from . import problem as pb


# ------------------------------------------------------------------------------------------
# optimisation-based SLP
def _clarabel():
    try:
        import clarabel
    except ImportError as e:  # pragma: no cover - pinned in requirements.txt
        raise ImportError(
            "the optimisation-based SLP needs the Clarabel solver: pip install clarabel==0.11.1 "
            "(pinned in requirements.txt; ./dq setup installs it)"
        ) from e
    return clarabel


def _settings(clarabel, tol=1e-9):
    st = clarabel.DefaultSettings()
    st.verbose = False
    st.tol_gap_abs = tol
    st.tol_gap_rel = tol
    st.tol_feas = tol
    return st


class SlpQpSolver:
    """Reusable Clarabel QP for one problem size: ``min x^T x s.t. G x <= h``, x in R^{2M}."""

    def __init__(self, m: int, k: int, tol: float = 1e-9):
        import scipy.sparse as sp

        self.clarabel = _clarabel()
        self.m, self.k = int(m), int(k)
        self.P = sp.csc_matrix(2.0 * np.eye(2 * self.m))
        self.q = np.zeros(2 * self.m)
        self.cones = [self.clarabel.NonnegativeConeT(2 * self.k)]
        self.settings = _settings(self.clarabel, tol)
        self._sp = sp

    def solve_one(self, G: np.ndarray, h: np.ndarray):
        """(x [2M], status str)."""
        A = self._sp.csc_matrix(np.asarray(G, dtype=float))
        sol = self.clarabel.DefaultSolver(
            self.P, self.q, A, np.asarray(h, dtype=float), self.cones, self.settings
        ).solve()
        return np.asarray(sol.x), str(sol.status)


def slp_qp(H, s, order: int, gamma, tol: float = 1e-9, return_status: bool = False):
    """Exact optimisation-based SLP, one Clarabel QP per symbol vector.

    Parameters: H [B, K, M] complex, s [B, K] PSK symbols, order (PSK order), gamma sqrt(Gamma n0)
    (scalar or [B]). Returns u [B, M] complex128 (and the solver status per row).
    """
    H = np.asarray(H)
    B, K, M = H.shape
    G, h = pb.constraint_matrices(H, s, order, gamma)
    solver = SlpQpSolver(M, K, tol)
    x = np.empty((B, 2 * M))
    status = []
    for b in range(B):
        x[b], st = solver.solve_one(G[b], h[b])
        status.append(st)
    u = pb.to_complex(x)
    return (u, status) if return_status else u


def slp_dual_pg(H, s, order: int, gamma, iters: int = 20000, lam0=None, tol: float = 1e-12):
    """The SLP QP through its dual by FISTA (projected, batched). Returns (u [B, M], lam [B, 2K])."""
    G, h = pb.constraint_matrices(H, s, order, gamma)
    GG = np.einsum("bij,bkj->bik", G, G)
    L = 0.5 * np.linalg.eigvalsh(GG)[:, -1]  # Lipschitz constant of the dual gradient
    lam = np.zeros(h.shape) if lam0 is None else np.array(lam0, dtype=float)
    y, tk = lam.copy(), 1.0
    for _ in range(int(iters)):
        grad = 0.5 * np.einsum("bij,bj->bi", GG, y) + h  # gradient of 1/4 l^T GG l + h^T l
        new = np.maximum(y - grad / L[:, None], 0.0)
        tn = 0.5 * (1 + np.sqrt(1 + 4 * tk * tk))
        y = new + ((tk - 1) / tn) * (new - lam)
        if np.max(np.abs(new - lam)) < tol * (1 + np.max(np.abs(new))):
            lam = new
            break
        lam, tk = new, tn
    x = -0.5 * np.einsum("bij,bi->bj", G, lam)
    return pb.to_complex(x), lam


def dual_value(G, h, lam) -> np.ndarray:
    """Lagrangian (eq. 9 without the regulariser) at the stationary x(lam) = -G^T lam / 2, i.e. the
    dual function: a lower bound on the optimal power for any lam >= 0. [B]."""
    x = -0.5 * np.einsum("bij,bi->bj", G, lam)
    return np.sum(x * x, -1) + np.sum(lam * (np.einsum("bij,bj->bi", G, x) - h), -1)


# ------------------------------------------------------------------------------------------
# conventional block-level precoding
def _herm(a):
    return np.conj(np.swapaxes(a, -1, -2))


def block_level(H, sinr_db, noise_var, iters: int = 500, tol: float = 1e-10):
    """SINR-constrained power-minimising beamformer ``W`` [B, M, K] (column k serves user k).

    User k receives ``h_k^T W s + n``; with ``b_k = conj(h_k)`` this is the standard
    ``b_k^H w_j`` model. Uplink-downlink duality: the uplink powers solve the fixed point
    ``q_k = 1 / ((1 + 1/Gamma) b_k^H (n0 I + sum_i q_i b_i b_i^H)^{-1} b_k)``, the
    directions are ``w_k ~ (n0 I + sum_i q_i b_i b_i^H)^{-1} b_k`` and the downlink powers follow
    from the K linear SINR equalities. Needs M >= K (otherwise infeasible for generic channels).
    Rows that do not converge or come out infeasible are returned as NaN.
    """
    H = np.asarray(H, dtype=complex)
    B, K, M = H.shape
    gam = np.broadcast_to(10.0 ** (np.asarray(sinr_db, dtype=float) / 10.0), (B,))
    n0 = float(noise_var)
    Bc = np.conj(H)  # b_k = Bc[:, k, :]
    q = np.full((B, K), n0 / K)
    eye = np.eye(M)
    for _ in range(int(iters)):
        S = n0 * eye + np.einsum("bk,bkm,bkn->bmn", q, Bc, np.conj(Bc))
        X = np.linalg.solve(S, np.swapaxes(Bc, 1, 2))  # [B, M, K]: S^{-1} b_k
        d = np.real(np.einsum("bkm,bmk->bk", np.conj(Bc), X))  # b_k^H S^{-1} b_k
        qn = 1.0 / ((1 + 1 / gam[:, None]) * d)
        done = np.max(np.abs(qn - q) / np.maximum(qn, 1e-300)) < tol
        q = qn
        if done:
            break
    S = n0 * eye + np.einsum("bk,bkm,bkn->bmn", q, Bc, np.conj(Bc))
    Wd = np.linalg.solve(S, np.swapaxes(Bc, 1, 2))
    Wd = Wd / np.linalg.norm(Wd, axis=1, keepdims=True)
    # downlink powers: p_k |b_k^H w_k|^2 / Gamma - sum_{j != k} p_j |b_k^H w_j|^2 = n0
    Gm = np.abs(np.einsum("bkm,bmj->bkj", H, Wd)) ** 2  # |h_k^T w_j|^2
    D = np.eye(K)[None] * (Gm / gam[:, None, None]) - (1 - np.eye(K))[None] * Gm
    p = np.linalg.solve(D, np.full((B, K), n0))
    bad = ~np.all(p > 0, axis=1) | ~np.all(np.isfinite(p), axis=1)
    W = Wd * np.sqrt(np.maximum(p, 0))[:, None, :]
    W[bad] = np.nan
    return W


def block_sinr(H, W, noise_var) -> np.ndarray:
    """Per-user SINR [B, K] (linear) of linear precoder W [B, M, K] with unit-energy symbols."""
    Gm = np.abs(np.einsum("bkm,bmj->bkj", np.asarray(H), W)) ** 2
    sig = np.einsum("bkk->bk", Gm)
    return sig / (Gm.sum(-1) - sig + float(noise_var))


def block_level_socp(H, sinr_db, noise_var, tol: float = 1e-9):
    """The same block-level problem as an SOCP, solved with Clarabel (reference; slow)."""
    import scipy.sparse as sp

    clarabel = _clarabel()
    H = np.asarray(H, dtype=complex)
    B, K, M = H.shape
    gam = np.broadcast_to(10.0 ** (np.asarray(sinr_db, dtype=float) / 10.0), (B,))
    sig = np.sqrt(float(noise_var))
    nv = 2 * M * K  # x = [Re W (M x K row-major), Im W]
    out = np.full((B, M, K), np.nan + 0j)
    for b in range(B):
        rows, rhs, cones = [], [], []

        # h_k^T w_j = sum_m h_km (wr_mj + j wi_mj): real part coefficients / imaginary part coefficients
        def coef(k, j):
            re = np.zeros(nv)
            im = np.zeros(nv)
            for m in range(M):
                ir, ii = m * K + j, M * K + m * K + j
                re[ir], re[ii] = H[b, k, m].real, -H[b, k, m].imag
                im[ir], im[ii] = H[b, k, m].imag, H[b, k, m].real
            return re, im

        for k in range(K):  # Im(h_k^T w_k) = 0
            rows.append(coef(k, k)[1])
            rhs.append(0.0)
        cones.append(clarabel.ZeroConeT(K))
        for k in range(K):
            c = np.sqrt(1 + 1 / gam[b])
            re, _ = coef(k, k)
            rows.append(-c * re)
            rhs.append(0.0)
            for j in range(K):
                r_, i_ = coef(k, j)
                rows += [-r_, -i_]
                rhs += [0.0, 0.0]
            rows.append(np.zeros(nv))
            rhs.append(sig)
            cones.append(clarabel.SecondOrderConeT(2 * K + 2))
        A = sp.csc_matrix(np.array(rows))
        sol = clarabel.DefaultSolver(
            sp.csc_matrix(2.0 * np.eye(nv)), np.zeros(nv), A, np.array(rhs), cones, _settings(clarabel, tol)
        ).solve()
        if "Solved" in str(sol.status):
            x = np.asarray(sol.x)
            out[b] = (x[: M * K] + 1j * x[M * K :]).reshape(M, K)
    return out
