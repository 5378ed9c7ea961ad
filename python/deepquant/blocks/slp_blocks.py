"""Symbol-level precoding (paper 003) in GNU Radio: ``slp_precoder``, ``mu_miso_channel``,
``psk_detector`` and ``symbol_error_counter``. The numeric work lives in ``deepquant.slp``."""

from __future__ import annotations

import numpy as np
from gnuradio import gr

from ._common import BadInputCounter, configure_torch_threads, finite_rows, zero_nonfinite


class slp_precoder(gr.sync_block):
    """Multi-user MISO downlink precoder: K users' PSK symbols + channel -> M antenna samples.

    Inputs: 0 the K users' symbols of one channel use (complex, vlen k, unit-modulus PSK);
    1 the channel (complex, vlen k*m, row-major users x antennas: user i receives
    ``h_i^T u`` with ``h_i = H[i, :]``). Output: u (complex, vlen m).

    Methods: learned SLP-DNet ``fp32`` / ``binary`` / ``ternary`` / ``sq-binary`` / ``sq-ternary``
    (with QR ``qr``), ``optimization`` (exact per-vector QP), ``block`` (block-level SINR-constrained
    power minimisation), ``zf``. CI methods meet the constructive-interference constraint
    ``Re r~_i - |Im r~_i| / tan(pi/psk_order) >= sqrt(Gamma n0)`` for every vector; ``block`` meets
    SINR Gamma. Rows with non-finite input (or a zero symbol) are output as zeros and counted
    (``bad.count``). Channels of rank < k (e.g. H = 0 from an estimator that saw bad pilots) are
    precoded by the exact CI QP for the users with a non-zero channel row (u = 0 where even that is
    infeasible), counted in ``degenerate.count``; outputs are always finite.

    Run-time totals: ``vectors``, ``mean_power()`` (average ||u||^2), ``fallbacks`` (learned methods:
    vectors where the feasibility step used zero forcing).
    """

    def __init__(self, m=4, k=4, psk_order=4, method="fp32", sinr_db=20.0, noise_var=1.0, qr=0.5, model=""):
        from ..slp.precoder import LEARNED, SlpPrecoder

        if method in LEARNED:
            configure_torch_threads()
        self.pre = SlpPrecoder(m, k, psk_order, method, sinr_db, noise_var, qr, model)
        self.m, self.k = self.pre.m, self.pre.k
        gr.sync_block.__init__(
            self,
            name="slp_precoder",
            in_sig=[(np.complex64, self.k), (np.complex64, self.k * self.m)],
            out_sig=[(np.complex64, self.m)],
        )
        self.bad = BadInputCounter(self.logger, "symbol vectors with non-finite symbols or channel (output zeros)")
        self.degenerate = BadInputCounter(
            self.logger,
            "symbol vectors with a rank-deficient channel precoded by "
            "the exact CI QP (zero-channel users left out; u = 0 where "
            "infeasible)",
        )
        # a model file belongs to the method it was given with; other methods use the shipped ones
        self._psk_order, self._qr, self._model, self._model_method = psk_order, qr, model, method
        self.vectors = 0
        self.fallbacks = 0
        self._power_sum = 0.0

    def set_method(self, method):
        """Switch the precoding method at run time (e.g. a GUI chooser); the run-time totals
        (vectors, mean_power(), fallbacks) restart. An unusable method (unknown, no model) is
        logged and ignored: the flowgraph keeps the current one."""
        if method == self.pre.method:
            return
        from ..slp.precoder import LEARNED, SlpPrecoder

        try:
            if method in LEARNED:
                configure_torch_threads()
            pre = SlpPrecoder(
                self.m,
                self.k,
                self._psk_order,
                method,
                self.pre.sinr_db,
                self.pre.noise_var,
                self._qr,
                self._model if method == self._model_method else "",
            )
        except ValueError as e:
            self.logger.error(f"ignoring method {method!r}: {e}")
            return
        self.pre = pre
        self.vectors = self.fallbacks = 0
        self._power_sum = 0.0

    def set_sinr_db(self, sinr_db):
        self.pre.set_sinr_db(sinr_db)

    def set_noise_var(self, noise_var):
        self.pre.set_noise_var(noise_var)

    def mean_power(self) -> float:
        return self._power_sum / self.vectors if self.vectors else float("nan")

    def work(self, input_items, output_items):
        n = len(output_items[0])
        s = input_items[0][:n].reshape(n, self.k)  # a vlen-1 port arrives 1-D
        H = input_items[1][:n].reshape(n, self.k, self.m)
        ok = finite_rows(s, H) & np.all(np.abs(s) > 0, axis=1)
        out = np.zeros((n, self.m), np.complex128)
        if ok.any():
            u, info = self.pre(H[ok], s[ok], return_info=True)
            out[ok] = u
            self.fallbacks += int(info["fallback"].sum())
            self.degenerate.add(int(info["degenerate"].sum()))
        self.bad.add(int((~ok).sum()))
        # finite by construction: a precoder output that overflowed complex64 becomes u = 0, counted
        out64 = out.astype(np.complex64)
        fin = np.isfinite(out64).all(axis=1)
        if not fin.all():
            out64[~fin] = 0
            ok &= fin
            self.bad.add(int((~fin).sum()), "precoder output overflowed complex64")
        output_items[0][:n] = out64.reshape(output_items[0][:n].shape)
        self.vectors += int(ok.sum())
        self._power_sum += float(np.sum(np.abs(out[ok]) ** 2))
        return n


class mu_miso_channel(gr.sync_block):
    """Multi-user MISO downlink channel: ``y_i = h_i^T u + n_i``, one output per user.

    Inputs: 0 u, the M antenna samples (complex, vlen m); 1 the channel (complex, vlen k*m,
    row-major users x antennas, the same stream the precoder gets). Outputs 0..k-1: user i's
    received sample (complex), ``n_i ~ CN(0, noise_var)``. Non-finite inputs are taken as 0
    (``bad.count``), received samples beyond complex64 range are output as 0 (``overflow.count``).
    """

    def __init__(self, m=4, k=4, noise_var=1.0, seed=0):
        self.m, self.k = int(m), int(k)
        if self.m < 1 or self.k < 1:
            raise ValueError(f"mu_miso_channel: m and k must be >= 1, got m={m}, k={k}")
        gr.sync_block.__init__(
            self,
            name="mu_miso_channel",
            in_sig=[(np.complex64, self.m), (np.complex64, self.k * self.m)],
            out_sig=[np.complex64] * self.k,
        )
        self.set_noise_var(noise_var)
        self.rng = np.random.default_rng(seed)
        self.bad = BadInputCounter(self.logger, "non-finite antenna samples or channel entries taken as 0")
        self.overflow = BadInputCounter(self.logger, "received samples beyond complex64 range output as 0")

    def set_noise_var(self, noise_var):
        v = float(noise_var)
        if not (np.isfinite(v) and v >= 0):
            raise ValueError(f"mu_miso_channel: noise_var must be finite and >= 0, got {noise_var}")
        self.noise_var = v

    def work(self, input_items, output_items):
        n = len(output_items[0])
        u = zero_nonfinite(input_items[0][:n].reshape(n, self.m), self.bad)  # vlen 1 arrives 1-D
        H = zero_nonfinite(input_items[1][:n].reshape(n, self.k, self.m), self.bad)
        y = np.einsum("bkm,bm->bk", H, u)
        if self.noise_var > 0:
            w = self.rng.standard_normal((n, self.k, 2))  # item-major: independent of work() chunking
            y = y + np.sqrt(self.noise_var / 2) * (w[..., 0] + 1j * w[..., 1])
        y = zero_nonfinite(y.astype(np.complex64), self.overflow)
        for i in range(self.k):
            output_items[i][:n] = y[:, i]
        return n


class psk_detector(gr.sync_block):
    """Per-user PSK hard decision for CI precoding: the symbol index whose angular sector
    ``[2 pi q / O, 2 pi (q+1) / O)`` holds the received sample (points ``exp(j pi (2q+1)/O)``;
    no channel knowledge needed: the precoder rotates the signal into the constructive region).

    Input: the user's received sample (complex). Output: the index q (byte). A non-finite
    sample is detected as index 0, counted in ``bad.count``.
    """

    def __init__(self, psk_order=4):
        from ..slp.problem import check_psk_order

        self.order = check_psk_order(psk_order)
        gr.sync_block.__init__(self, name="psk_detector", in_sig=[np.complex64], out_sig=[np.uint8])
        self.bad = BadInputCounter(self.logger, "non-finite samples detected as symbol 0")

    def work(self, input_items, output_items):
        y = zero_nonfinite(input_items[0], self.bad)  # a NaN sample is detected as symbol 0, counted
        n = len(y)
        ang = np.mod(np.angle(y), 2 * np.pi)
        output_items[0][:n] = np.minimum((ang * self.order / (2 * np.pi)).astype(np.int64), self.order - 1)
        return n


class symbol_error_counter(gr.sync_block):
    """Symbol error rate between sent and detected symbol indices (bytes).

    Inputs: 0 sent indices, 1 detected indices. Totals ``symbols``, ``errors``, ``ser()``;
    ``report`` logs them when the flowgraph stops.
    """

    def __init__(self, report=False):
        gr.sync_block.__init__(self, name="symbol_error_counter", in_sig=[np.uint8, np.uint8], out_sig=None)
        self.report = bool(report)
        self.symbols = self.errors = 0

    def ser(self) -> float:
        return self.errors / self.symbols if self.symbols else float("nan")

    def work(self, input_items, output_items):
        n = min(len(input_items[0]), len(input_items[1]))
        self.errors += int(np.count_nonzero(input_items[0][:n] != input_items[1][:n]))
        self.symbols += n
        return n

    def stop(self):
        if self.report:
            self.logger.info(f"{self.errors} symbol errors in {self.symbols} symbols, SER {self.ser():.3e}")
        return True
