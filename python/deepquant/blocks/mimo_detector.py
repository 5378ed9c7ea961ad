"""``mimo_detector``: soft MIMO detection y, H, sigma^2 -> LLRs, with a switchable method."""

from __future__ import annotations

import numpy as np
from gnuradio import gr

from . import _kernels
from ._common import BadInputCounter, configure_torch_threads, finite_llrs, robust_rows, sanitize_channel_uses

#: learned methods (EQ-Net, paper 002) behind the same ports as the classical detectors
LEARNED = ("eqnet_l", "eqnet_p")
#: what the learned methods do with channel uses outside their trained SNR range: 'lmmse' (detect
#: them with LMMSE, counted) or 'none' (use the network anyway)
SNR_POLICIES = ("lmmse", "none")


def available_methods():
    """Names accepted by ``method``: 'auto', the classical detectors and EQ-Net-L / EQ-Net-P."""
    from ..phy import mimo

    return tuple(sorted(set(k for k in mimo.DETECTORS if not k.startswith("eqnet")) | set(LEARNED) | {"auto"}))


def resolve_method(nr, nt, bits_per_symbol, method):
    """'auto' -> the measured default for (Nr, Nt, K) (:func:`gnuradio.deepquant.registry.auto_detector`);
    any other name unchanged."""
    if method != "auto":
        return method
    from ..registry import auto_detector

    return auto_detector(nr, nt, bits_per_symbol)


def check_params(nr, nt, bits_per_symbol, method):
    if int(nr) < 1 or int(nt) < 1:
        raise ValueError(f"mimo_detector: nr and nt must be >= 1, got nr={nr}, nt={nt}")
    if int(bits_per_symbol) not in (1, 2, 4, 6, 8):
        raise ValueError(f"mimo_detector: bits_per_symbol must be 1, 2, 4, 6 or 8, got {bits_per_symbol}")
    methods = available_methods()
    if method not in methods:
        raise ValueError(f"mimo_detector: unknown method {method!r}; choose one of {methods}")
    problem = method_problem(int(nr), int(nt), int(bits_per_symbol), method)
    if problem:
        raise ValueError(f"mimo_detector: {problem}")


def method_problem(nr, nt, k, method) -> str:
    """Why ``method`` cannot run for (nr, nt, K) ('' when it can): ZF-SIC needs nr >= nt; exact and
    max-log ML must fit one channel use in ``phy.mimo.MEMORY_LIMIT_BYTES``."""
    if method == "zf_sic" and nr < nt:
        return (
            f"zf_sic needs nr >= nt (an upper-triangular R per stream), got nr={nr}, nt={nt}; "
            "use lmmse, exact_ml or maxlog_ml"
        )
    if method in ("exact_ml", "maxlog_ml") and nt > 1:
        import torch

        from ..phy import mimo

        try:
            mimo._ml_chunk_size((1 << k) ** (nt - 1), k, torch.float32, method == "maxlog_ml", 1)
        except ValueError as e:
            return f"{method} for nt={nt}, K={k}: {e}"
    return ""


def load_learned(nr, nt, k, method, model=""):
    """The EQ-Net runtime for ``method`` ('eqnet_l'/'eqnet_p'): ``model`` (a file) or the shipped
    model for (nr, nt, K).  Raises ValueError (ModelFileError) naming the mismatch and the fix."""
    from .. import eqnet

    variant = method.split("_")[1]
    if model:
        return eqnet.EQNetRuntime(model, expect=(nr, nt, k), need_estimator=True, variant=variant)
    return eqnet.EQNetRuntime.shipped(nr, nt, k, variant, need_estimator=True)


def _detect_float64(mimo, method, y, h, nv, k):
    """``method`` in float64; where exact ML still overflows (sigma^2 ~ 1e-30, |H| ~ 1e20: its
    log-sum-exp terms reach ~1e30) max-log ML, its high-SNR limit (the two differ by at most
    ln(hypotheses), negligible against such LLRs), which has no exponentials."""
    r = np.asarray(mimo.detect(method, y, h, nv, bits_per_symbol=k, dtype="float64"))
    bad = ~np.isfinite(r).all(axis=1)
    if method == "exact_ml" and bad.any():
        r[bad] = np.asarray(mimo.detect("maxlog_ml", y[bad], h[bad], nv[bad], bits_per_symbol=k, dtype="float64"))
    return r


class mimo_detector(gr.sync_block):
    """Soft MIMO detector: per channel use, y (Nr), H (Nr x Nt, row-major) and sigma^2 -> Nt*K LLRs.

    Model: ``y = H x + n``, ``n ~ CN(0, sigma^2 I)``; LLR ``L = ln P(b=1|y)/P(b=0|y)``, stream-major
    (all K bits of stream 0, then stream 1, ...).

    Parameters
    ----------
    nr, nt : int
        Receive and transmit antennas.
    bits_per_symbol : int
        K: 1, 2, 4, 6 or 8.
    method : str
        'auto' (default): the most accurate method that streams >= 1e5 channel uses/s through this
        block on one thread, as measured for (Nr, Nt, K) (``registry.AUTO_DETECTOR``: EP, in
        C++, for 2x2 64-QAM and 4x4 16-QAM); 'eqnet_p', 'eqnet_l' (EQ-Net, Arvinte, Tewfik &
        Vishwanath: learned estimation encoder + decoder),
        'exact_ml', 'maxlog_ml', 'zf_sic', 'lmmse' or 'ep' (expectation propagation, Céspedes et al.).
    model : str
        EQ-Net model file for the learned methods; empty = the shipped model for (nr, nt, K)
        (shipped: EQ-Net-L and -P for 2x2 64-QAM and 4x4 16-QAM). A model for another
        configuration raises ValueError at construction.
    snr_policy : {'lmmse', 'none'}
        Learned methods outside their trained SNR range give confidently wrong LLRs (EQ-Net-P
        trained at 15.5-30.5 dB: |L| ~10x the exact LLRs with near-random signs at 0 dB). With
        'lmmse' (default), channel uses whose SNR ``||H||_F^2 / sigma^2`` lies outside the range
        the model saw in training (``EQNetRuntime.channel_snr_range_db``) are detected by LMMSE
        and counted (``out_of_range_count``); 'none' uses the network everywhere.

    Inputs: 0 y (complex, vlen nr), 1 H (complex, vlen nr*nt), 2 sigma^2 (float).
    Output: LLRs (float, vlen nt*K).

    Channel uses with non-finite y or H, or a sigma^2 that is not positive and finite, produce
    zero LLRs, are counted in ``bad_count`` and logged (rate-limited); the flowgraph keeps running.
    Outputs are finite by construction: channel uses whose float32 LLRs overflow (|H| ~ 1e20,
    sigma^2 ~ 1e-40) are recomputed in float64 (learned methods: zero LLRs), every LLR is clipped
    to |L| <= 1e30, and such channel uses are counted (``overflow_count``, in ``bad_count``).
    Configurations a method cannot run (zf_sic with nr < nt, exact/max-log ML over the memory
    budget) raise ValueError at construction; ``set_method`` logs and ignores them.
    Everything GNU Radio hands to work() is detected in one batched call: for 'lmmse' the kernel
    library's C++ ``lmmse_detector`` (the LLRs of :func:`gnuradio.deepquant.phy.mimo.lmmse` to
    float rounding), for 'ep' its C++ ``ep_detector`` (:func:`gnuradio.deepquant.phy.mimo.ep_cpp`:
    the LLRs of :func:`gnuradio.deepquant.phy.mimo.ep` to float rounding; more than 16 streams:
    the torch reference), for 'eqnet_l' / 'eqnet_p' its C++ ``eqnet_detector`` (EQNetRuntime's default
    backend: the LLRs of the torch networks to float rounding), torch for the others. With these
    C++ detectors (up to 16 streams; EQ-Net models with the C++ backend) work() is one
    ``detect_into`` call on GNU Radio's buffers that writes the LLRs into the output buffer and
    does the input checks, zero LLRs, SNR-range fallback and clipping in C++
    (``bindings/mimo_guard.h``), returning the counts; only channel uses whose float32 LLRs are not
    finite come back to Python for the float64 recomputation (LMMSE; the others saturate or zero
    them in C++). The LLRs and counts are those of the generic numpy path for the same work() call
    bit for bit (``tests/blocks/qa_mimo_detector_fast_path.py``).
    """

    def __init__(self, nr=2, nt=2, bits_per_symbol=6, method="auto", model="", snr_policy="lmmse"):
        check_params(nr, nt, bits_per_symbol, method)
        if snr_policy not in SNR_POLICIES:
            raise ValueError(f"mimo_detector: snr_policy must be one of {SNR_POLICIES}, got {snr_policy!r}")
        self.snr_policy = snr_policy
        self.nr, self.nt, self.k = int(nr), int(nt), int(bits_per_symbol)
        gr.sync_block.__init__(
            self,
            name="mimo_detector",
            in_sig=[(np.complex64, self.nr), (np.complex64, self.nr * self.nt), np.float32],
            out_sig=[(np.float32, self.nt * self.k)],
        )
        configure_torch_threads()
        from ..phy import mimo

        self._mimo = mimo
        self.model = str(model or "")
        self._learned = {}
        self.method = None
        self._fast = None
        self._status = np.empty(0, np.uint8)  # per channel use status of the C++ path, reused
        self._set(method, raise_errors=True)
        self._bad = BadInputCounter(
            self.logger, "channel use(s) with non-finite y/H or invalid noise variance detected as zero LLRs"
        )
        self._out_of_range = BadInputCounter(
            self.logger, "channel use(s) outside the learned model's trained SNR range detected by LMMSE"
        )
        self._overflow = BadInputCounter(
            self.logger,
            "channel use(s) beyond float32 range (e.g. |H| ~ 1e20 or "
            "sigma^2 ~ 1e-40) recomputed in float64 (zero LLRs where "
            "that fails too)",
        )

    @property
    def bad_count(self) -> int:
        """Channel uses with invalid input (zero LLRs) plus those beyond float32 range."""
        return self._bad.count + self._overflow.count

    @property
    def overflow_count(self) -> int:
        return self._overflow.count

    @property
    def out_of_range_count(self) -> int:
        """Channel uses a learned method handed to LMMSE (outside its trained SNR range)."""
        return self._out_of_range.count

    def _set(self, method, raise_errors):
        if method in available_methods():
            method = resolve_method(self.nr, self.nt, self.k, method)
        if method not in available_methods():
            msg = f"unknown method {method!r}; choose one of {available_methods()}"
            if raise_errors:
                raise ValueError(f"mimo_detector: {msg}")
            self.logger.error(f"ignoring {msg}")
            return
        problem = method_problem(self.nr, self.nt, self.k, method)
        if problem:
            if raise_errors:
                raise ValueError(f"mimo_detector: {problem}")
            self.logger.error(f"ignoring method {method!r}: {problem}")
            return
        if method in LEARNED and method not in self._learned:
            try:
                self._learned[method] = load_learned(self.nr, self.nt, self.k, method, self.model)
                # the trained SNR range (scipy, ~0.2 s on first use) now, not in the first work() call
                self._learned[method].channel_snr_range_db()
            except ValueError as e:
                if raise_errors:
                    raise ValueError(f"mimo_detector: {e}") from None
                self.logger.error(f"ignoring method {method!r}: {e}")
                return
        self.method = method
        self._fast = self._fast_path(method)

    def set_method(self, method):
        self._set(method, raise_errors=False)

    def _fast_path(self, method):
        """``detect_into(y, h, nv, out, status) -> (invalid, overflow, out_of_range, nonfinite)``
        of the C++ kernel that runs ``method`` with the block's guards (bindings/mimo_guard.h), or
        None where ``method`` runs elsewhere (torch, more streams than the kernels take, an EQ-Net
        runtime without the C++ backend)."""
        nr, nt, k = self.nr, self.nt, self.k
        if method == "lmmse" and nt <= _kernels.MAX_LMMSE_STREAMS:
            det = _kernels.lmmse_detector(nr, nt, k)
            return lambda y, h, nv, out, st: det.detect_into(y, h, nv, out, st, False)
        if method == "ep" and nt <= self._mimo.EP_CPP_MAX_STREAMS:
            return self._mimo.ep_kernel(nr, nt, k).detect_into
        if method in LEARNED and nt <= _kernels.MAX_LMMSE_STREAMS:
            rt = self._learned[method]
            kern = rt.cpp_kernel
            if kern is None:
                return None
            rng = rt.channel_snr_range_db() if self.snr_policy == "lmmse" else None
            if rng is None:
                return lambda y, h, nv, out, st: kern.detect_into(y, h, nv, out, st, None, 0.0, 0.0)
            lm, lo, hi = _kernels.lmmse_detector(nr, nt, k), float(rng[0]), float(rng[1])
            return lambda y, h, nv, out, st: kern.detect_into(y, h, nv, out, st, lm, lo, hi)
        return None

    def _work_fast(self, fast, input_items, out, n):
        """One kernel call on GNU Radio's buffers; Python only adds the counts (and recomputes in
        float64 the rare channel uses whose float32 LLRs are not finite, status 4)."""
        if self._status.size < n:
            self._status = np.empty(max(n, 2 * self._status.size), np.uint8)
        st = self._status
        invalid, overflow, out_of_range, nonfinite = fast(
            input_items[0][:n], input_items[1][:n], input_items[2][:n], out, st
        )
        if invalid:
            self._bad.add(invalid)
        if out_of_range:
            self._out_of_range.add(out_of_range)
        if overflow:
            self._overflow.add(overflow)
        if nonfinite:
            rows = np.flatnonzero(st[:n] == 4)
            llr = out.reshape(n, self.nt * self.k)
            y = input_items[0][:n].reshape(n, self.nr)[rows]
            h = input_items[1][:n].reshape(n, self.nr, self.nt)[rows]
            nv = input_items[2][:n][rows]
            sub = llr[rows]
            finite_llrs(
                sub, lambda r: _detect_float64(self._mimo, self.method, y[r], h[r], nv[r], self.k), self._overflow
            )
            llr[rows] = sub
        return n

    def work(self, input_items, output_items):
        n = len(output_items[0])
        fast = self._fast
        if fast is not None:
            try:
                return self._work_fast(fast, input_items, output_items[0], n)
            except ValueError as e:  # buffers detect_into does not take as they are (checked before any write)
                self.logger.warn(f"C++ detection path refused the buffers ({e}); using the generic path")
                self._fast = None
        y = input_items[0][:n].reshape(n, self.nr)  # a vlen-1 port arrives 1-D
        h = input_items[1][:n].reshape(n, self.nr, self.nt)
        nv = input_items[2][:n]
        ok, y, h, nv = sanitize_channel_uses(y, h, nv)
        self._bad.add(int((~ok).sum()))
        method = self.method
        if method in LEARNED:
            rt = self._learned[method]
            # out-of-range policy: channel uses outside the model's trained SNR range -> LMMSE
            inr = rt.in_trained_range(h, nv) if self.snr_policy == "lmmse" else np.ones(n, dtype=bool)
            self._out_of_range.add(int((~inr & ok).sum()))

            def run(rows):
                sel = inr[rows]
                res = np.empty((sel.size, self.nt * self.k), np.float32)
                if sel.any():
                    res[sel] = rt.detect(y[rows][sel], h[rows][sel], nv[rows][sel])
                if not sel.all():
                    res[~sel] = _kernels.lmmse(y[rows][~sel], h[rows][~sel], nv[rows][~sel], self.k)
                return res

            recompute = None
        elif method == "lmmse":  # the kernel library's C++ LMMSE (same LLRs as phy.mimo.lmmse)

            def run(rows):
                return _kernels.lmmse(y[rows], h[rows], nv[rows], self.k)

            def recompute(rows):
                return _detect_float64(self._mimo, method, y[rows], h[rows], nv[rows], self.k)
        elif method == "ep":  # the kernel library's C++ EP (phy.mimo.ep's LLRs to float rounding)

            def run(rows):
                llr, n_overflow = _kernels.ep(y[rows], h[rows], nv[rows], self.k)
                self._overflow.add(n_overflow)  # saturated by the kernel, so finite_llrs does not see them
                return llr

            def recompute(rows):
                return _detect_float64(self._mimo, method, y[rows], h[rows], nv[rows], self.k)
        else:

            def run(rows):
                return self._mimo.detect(method, y[rows], h[rows], nv[rows], bits_per_symbol=self.k)

            def recompute(rows):
                return _detect_float64(self._mimo, method, y[rows], h[rows], nv[rows], self.k)

        out = output_items[0][:n].reshape(n, self.nt * self.k)
        try:
            out[:] = np.asarray(run(slice(None)), dtype=np.float32)
        except Exception:  # noqa: BLE001 - a degenerate channel use broke the batch: isolate it
            done, failed = robust_rows(run, n)
            for rows, llr in done:
                out[rows] = np.asarray(llr, dtype=np.float32)
            out[failed] = np.nan  # recomputed in float64 below, or zero LLRs
        out[~ok] = 0.0
        finite_llrs(out, recompute, self._overflow)
        return n
