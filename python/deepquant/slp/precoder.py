"""One precoder front end for every method, callable on numpy arrays (no GNU Radio import).

    pre = SlpPrecoder(m=4, k=4, psk_order=4, method="fp32", sinr_db=20.0, noise_var=0.1)
    u = pre(H, s)          # H [B, K, M] complex, s [B, K] PSK symbols -> u [B, M] complex

Methods
-------
``fp32``, ``binary``, ``ternary``, ``sq-binary``, ``sq-ternary``
    SLP-DNet with that weight precision (dnet.py), followed by the feasibility step (scaling to
    the tightest CI constraint; zero forcing where scaling cannot help). ``qr`` selects the SQ model
    (the shipped ones are QR = 0.5); ``model`` a model file instead of the shipped one.
``optimization``
    The exact per-symbol-vector QP (Clarabel), one solve per vector.
``block``
    Conventional block-level SINR-constrained power-minimising beamformer ``W`` (duality fixed point),
    ``u = W s``; ``W`` is computed once per distinct channel and reused.
``zf``
    Zero forcing scaled so every user receives ``sqrt(Gamma n0) s_i`` (a simple reference).

CI-based methods meet ``Re r~_i - |Im r~_i| / tan(pi/O) >= sqrt(Gamma n0)`` exactly; ``block``
meets SINR_i = Gamma with unit-energy symbols. Both use the same Gamma and n0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import problem as pb

#: relative singular-value threshold below which a channel counts as rank-deficient
_RANK_TOL = 1e-7
_SOLVED = ("Solved", "AlmostSolved")

LEARNED = ("fp32", "binary", "ternary", "sq-binary", "sq-ternary")
METHODS = LEARNED + ("optimization", "block", "zf")


def models_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "models" / "slp"


def shipped_model_path(weights: str, m: int, k: int, psk_order: int, qr: float = 0.5) -> Path:
    q = f"-qr{int(round(100 * qr)):02d}" if weights.startswith("sq-") else ""
    return models_dir() / f"slp-dnet-{weights}{q}-m{m}k{k}-psk{psk_order}.safetensors"


def degenerate_channels(H) -> np.ndarray:
    """[B] bool: channels H [B, K, M] of rank < K (smallest singular value <= 1e-7 x the largest,
    or H = 0), where zero forcing and the block-level beamformer are undefined."""
    H = np.asarray(H)
    if H.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    sv = np.linalg.svd(H, compute_uv=False)
    if H.shape[1] > H.shape[2]:  # more users than antennas: always rank-deficient
        return np.ones(H.shape[0], dtype=bool)
    return ~(sv[:, -1] > _RANK_TOL * sv[:, 0])


class SlpPrecoder:
    """Symbol-level / block-level precoder for the MU-MISO downlink (see module docstring).

    Parameters
    ----------
    m, k : int
        BS antennas and single-antenna users.
    psk_order : int
        PSK order (4 = QPSK, 8 = 8-PSK).
    method : str
        One of :data:`METHODS`.
    sinr_db : float
        Target SINR Gamma per user, dB.
    noise_var : float
        Receiver noise variance n0 (> 0).
    qr : float
        Quantization ratio of the SQ models (selects the shipped file).
    model : str
        Path of a model file for the learned methods ('' = the shipped one).
    """

    def __init__(self, m=4, k=4, psk_order=4, method="fp32", sinr_db=20.0, noise_var=1.0, qr=0.5, model=""):
        self.m, self.k = int(m), int(k)
        if self.m < 1 or self.k < 1:
            raise ValueError(f"m and k must be >= 1, got m={m}, k={k}")
        self.psk_order = pb.check_psk_order(psk_order)
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if method in ("block", "zf") and self.m < self.k:
            raise ValueError(f"method {method!r} needs m >= k (got m={m}, k={k}); use a CI method")
        self.method = method
        self.qr = float(qr)
        self.set_sinr_db(sinr_db)
        self.set_noise_var(noise_var)
        self.net = None
        self.model_path = None
        if method in LEARNED:
            from . import dnet

            path = Path(model) if model else shipped_model_path(method, self.m, self.k, self.psk_order, self.qr)
            if not path.exists():
                raise ValueError(
                    f"no SLP-DNet model for method={method!r}, m={m}, k={k}, psk_order={psk_order}, "
                    f"qr={qr}: {path} does not exist. Train one with `deepquant train slp --weights "
                    f"{method} --m {m} --k {k} --psk-order {psk_order} --qr {qr}` and pass model=PATH."
                )
            self.net = dnet.load_model(path)
            c = self.net.cfg
            if (c.m, c.k, c.psk_order, c.weights) != (self.m, self.k, self.psk_order, method):
                raise ValueError(
                    f"{path} is a {c.weights} model for m={c.m}, k={c.k}, psk_order={c.psk_order}; "
                    f"the precoder was asked for {method}, m={m}, k={k}, psk_order={psk_order}"
                )
            self.model_path = path
        self._block_cache = {}
        self._qp = None

    # -- parameters
    def set_sinr_db(self, sinr_db):
        v = float(sinr_db)
        if not np.isfinite(v):
            raise ValueError(f"sinr_db must be finite, got {sinr_db}")
        self.sinr_db = v
        self._block_cache = {}

    def set_noise_var(self, noise_var):
        v = float(noise_var)
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"noise_var must be finite and > 0, got {noise_var}")
        self.noise_var = v
        self._block_cache = {}

    @property
    def gamma(self) -> float:
        return float(pb.gamma_of(self.sinr_db, self.noise_var))

    # -- precoding
    def __call__(self, H, s, return_info: bool = False):
        """H [B, K, M] complex, s [B, K] complex unit-modulus PSK symbols -> u [B, M] complex128.

        With ``return_info``, also a dict: ``fallback`` [B] bool (learned methods: zero forcing
        used by the feasibility step) and ``degenerate`` [B] bool (rank-deficient channels, or rows
        where the method failed numerically, precoded by :meth:`_feasible_fallback`).
        """
        H = np.asarray(H, dtype=np.complex128)
        s = np.asarray(s, dtype=np.complex128)
        if H.ndim != 3 or H.shape[1:] != (self.k, self.m):
            raise ValueError(f"H must be [B, {self.k}, {self.m}] (users x antennas), got {H.shape}")
        if s.shape != H.shape[:2]:
            raise ValueError(f"s must be [B, {self.k}] matching H, got {s.shape}")
        B = H.shape[0]
        fb = np.zeros(B, dtype=bool)
        u = np.zeros((B, self.m), np.complex128)
        degen = degenerate_channels(H) if self.method != "optimization" else np.zeros(B, dtype=bool)
        ok = ~degen
        if ok.any():
            try:
                u_ok, fb_ok = self._precode(H[ok], s[ok])
            except (np.linalg.LinAlgError, RuntimeError):  # numerically singular beyond the rank test
                u_ok, fb_ok = np.full((int(ok.sum()), self.m), np.nan, np.complex128), np.zeros(int(ok.sum()), bool)
            u[ok], fb[ok] = u_ok, fb_ok
            bad = ok & ~np.isfinite(u).all(axis=1)
            degen |= bad
        if degen.any():
            u[degen] = self._feasible_fallback(H[degen], s[degen])
        return (u, {"fallback": fb, "degenerate": degen}) if return_info else u

    def _precode(self, H, s):
        fb = np.zeros(H.shape[0], dtype=bool)
        if self.method in LEARNED:
            from . import dnet

            return dnet.precode(self.net, H, s, self.gamma)
        if self.method == "optimization":
            return self._optimization(H, s), fb
        if self.method == "zf":
            return pb.zf_precoder(H, s, self.gamma), fb
        return self._block(H, s), fb

    def _feasible_fallback(self, H, s):
        """Rank-deficient channels (where zero forcing, the block-level beamformer and SLP-DNet's
        feasibility step are undefined): users whose channel row is zero cannot be served by any
        precoder and are left out; the others get the exact per-vector CI QP (``optimization``).
        Where that QP is infeasible as well (e.g. two users with the same channel and different
        symbols) the output is u = 0. Always finite."""
        from . import solvers as sv

        out = np.zeros((H.shape[0], self.m), np.complex128)
        rownorm = np.linalg.norm(H, axis=2)  # [B, K]
        scale = rownorm.max(axis=1, keepdims=True)
        active = rownorm > _RANK_TOL * np.where(scale > 0, scale, 1.0)
        active &= scale > 0
        for b in range(H.shape[0]):
            a = active[b]
            if not a.any():
                continue
            G, h = pb.constraint_matrices(H[b : b + 1, a], s[b : b + 1, a], self.psk_order, self.gamma)
            try:
                x, status = sv.SlpQpSolver(self.m, int(a.sum())).solve_one(G[0], h[0])
            except Exception:  # noqa: BLE001 - solver failure: neutral output
                continue
            u = pb.to_complex(x[None])[0]
            if status in _SOLVED and np.isfinite(u).all():
                out[b] = u
        return out

    def _optimization(self, H, s):
        from . import solvers as sv

        if self._qp is None:
            self._qp = sv.SlpQpSolver(self.m, self.k)
        G, h = pb.constraint_matrices(H, s, self.psk_order, self.gamma)
        x = np.empty((H.shape[0], 2 * self.m))
        for b in range(H.shape[0]):
            x[b], status = self._qp.solve_one(G[b], h[b])
            if status not in _SOLVED:  # infeasible: handled by _feasible_fallback
                x[b] = np.nan
        return pb.to_complex(x)

    def _block(self, H, s):
        from . import solvers as sv

        flat = np.ascontiguousarray(H.reshape(H.shape[0], -1))
        keys, inv = np.unique(flat.view(np.float64), axis=0, return_inverse=True)
        inv = np.asarray(inv).ravel()
        W = np.empty((len(keys), self.m, self.k), np.complex128)
        todo = []
        for i, key in enumerate(keys):
            w = self._block_cache.get(key.tobytes())
            if w is None:
                todo.append(i)
            else:
                W[i] = w
        if todo:
            Hn = keys[todo].copy().view(np.complex128).reshape(len(todo), self.k, self.m)
            Wn = sv.block_level(Hn, self.sinr_db, self.noise_var)
            if len(self._block_cache) > 4096:
                self._block_cache = {}
            for j, i in enumerate(todo):
                W[i] = Wn[j]
                self._block_cache[keys[i].tobytes()] = Wn[j]
        return np.einsum("bmk,bk->bm", W[inv], s)
