"""``soft_demapper_cf``: exact / max-log QAM soft demapper with per-symbol channel gain and noise
variance -- the working replacement for GNU Radio's soft decoder (which uses |y-p|, ignores the
noise power and has no channel gain)."""

from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr

from . import _kernels
from ._common import BadInputCounter, configure_torch_threads, finite_llrs

NOISE_VAR_SOURCES = ("param", "stream", "tag")
METHODS = ("exact", "maxlog")
#: smallest sigma^2 accepted as a parameter (float32's smallest normal is 1.2e-38)
MIN_NOISE_VAR = 1e-30


def check_params(bits_per_symbol, method, noise_var, noise_var_source="param"):
    """Validate the constructor's arguments (shared with the GRC template); raises ValueError."""
    if int(bits_per_symbol) not in (1, 2, 4, 6, 8):
        raise ValueError(
            f"soft_demapper_cf: bits_per_symbol must be 1, 2, 4, 6 or 8 (BPSK..256-QAM), got {bits_per_symbol}"
        )
    if method not in METHODS:
        raise ValueError(f"soft_demapper_cf: method must be one of {METHODS}, got {method!r}")
    if noise_var_source not in NOISE_VAR_SOURCES:
        raise ValueError(
            f"soft_demapper_cf: noise_var_source must be one of {NOISE_VAR_SOURCES}, got {noise_var_source!r}"
        )
    if not (np.isfinite(noise_var) and noise_var >= MIN_NOISE_VAR):
        raise ValueError(
            f"soft_demapper_cf: noise_var must be a finite number >= {MIN_NOISE_VAR:g} (positive, and "
            f"representable in float32 with headroom), got {noise_var}"
        )


class soft_demapper_cf(gr.interp_block):
    """Soft QAM demapper: complex symbols -> K LLRs each, L = ln P(b=1|y)/P(b=0|y).

    Model per symbol: ``y = h x + n``, ``n ~ CN(0, noise_var)``, x from the 38.211 constellation
    with unit average energy. Computed by the kernel library's C++ ``qam_demapper`` (AVX2 with a
    portable fallback): the same LLRs as :func:`gnuradio.deepquant.phy.mapping.demap_exact` /
    ``demap_maxlog`` to float rounding.

    Parameters
    ----------
    bits_per_symbol : int
        1 (BPSK), 2 (QPSK), 4, 6 or 8 (16/64/256-QAM).
    method : {'exact', 'maxlog'}
        Exact log-sum-exp LLRs or the max-log approximation.
    noise_var : float
        sigma^2 (complex noise variance) when ``noise_var_source == 'param'``, and the initial
        value for ``'tag'``.
    channel_input : bool
        Add a second complex input with the per-symbol channel gain h (else h = 1).
    noise_var_source : {'param', 'stream', 'tag'}
        Where sigma^2 comes from: the parameter, an extra float input (one value per symbol), or
        stream tags with key ``noise_var_tag`` on input 0 (the value applies from the tagged
        symbol on).
    llr_clip : float
        |L| is clipped to this value (0 = no clipping).

    Symbols with non-finite y or h, or a sigma^2 that is not positive and finite, produce zero
    LLRs ("no information"); they are counted in ``bad_count`` and logged (rate-limited).
    Outputs are finite by construction: symbols whose float32 LLRs overflow (|h| ~ 1e20,
    sigma^2 ~ 1e-40 from a stream or tag) are demapped again in float64, every LLR is clipped to
    |L| <= 1e30, and such symbols are counted (``overflow_count``, in ``bad_count``). The
    ``noise_var`` parameter must be >= 1e-30.
    """

    def __init__(
        self,
        bits_per_symbol=6,
        method="exact",
        noise_var=1.0,
        channel_input=False,
        noise_var_source="param",
        noise_var_tag="noise_var",
        llr_clip=0.0,
    ):
        check_params(bits_per_symbol, method, noise_var, noise_var_source)
        self.k = int(bits_per_symbol)
        in_sig = [np.complex64]
        if channel_input:
            in_sig.append(np.complex64)
        if noise_var_source == "stream":
            in_sig.append(np.float32)
        gr.interp_block.__init__(self, name="soft_demapper_cf", in_sig=in_sig, out_sig=[np.float32], interp=self.k)
        self.method = method
        self.noise_var = float(noise_var)
        self.channel_input = bool(channel_input)
        self.noise_var_source = noise_var_source
        self.noise_var_tag = pmt.intern(noise_var_tag)
        self.llr_clip = float(llr_clip)
        self._bad = BadInputCounter(
            self.logger, "symbol(s) with non-finite y/h or invalid noise variance demapped to zero LLRs"
        )
        self._demapper = _kernels.qam_demapper(self.k)
        self._overflow = BadInputCounter(
            self.logger,
            "symbol(s) beyond float32 range (|h| or |y| ~ 1e20, "
            "sigma^2 ~ 1e-40) demapped in float64 (zero LLRs where "
            "that fails too)",
        )
        self.bad_tags = 0
        self._bad_tags = BadInputCounter(self.logger, f"'{noise_var_tag}' tag(s) with a non-numeric value ignored")
        configure_torch_threads()
        from ..phy import mapping

        self._mapping = mapping

    @property
    def bad_count(self) -> int:
        """Symbols with invalid input (zero LLRs) plus those beyond float32 range."""
        return self._bad.count + self._overflow.count

    @property
    def overflow_count(self) -> int:
        return self._overflow.count

    def set_noise_var(self, noise_var):
        if not (np.isfinite(noise_var) and noise_var >= MIN_NOISE_VAR):
            self.logger.error(f"ignoring noise_var={noise_var}: must be finite and >= {MIN_NOISE_VAR:g}")
            return
        self.noise_var = float(noise_var)

    def set_method(self, method):
        if method not in METHODS:
            self.logger.error(f"ignoring method={method!r}: must be one of {METHODS}")
            return
        self.method = method

    def _noise_from_tags(self, n):
        nv = np.full(n, self.noise_var, dtype=np.float32)
        start = self.nitems_read(0)
        for tag in sorted(self.get_tags_in_window(0, 0, n, self.noise_var_tag), key=lambda t: t.offset):
            try:
                v = float(pmt.to_double(tag.value))
            except Exception:  # a non-numeric tag value: ignored, counted
                self.bad_tags += 1
                self._bad_tags.add(1, pmt.write_string(tag.value)[:40])
                continue
            nv[tag.offset - start :] = v
            self.noise_var = v  # persists into the next call
        return nv

    def work(self, input_items, output_items):
        n = len(output_items[0]) // self.k
        if n == 0:
            return 0
        y = input_items[0][:n]
        port = 1
        h = None
        if self.channel_input:
            h = input_items[port][:n]
            port += 1
        if self.noise_var_source == "stream":
            nv = input_items[port][:n]
        elif self.noise_var_source == "tag":
            nv = self._noise_from_tags(n)
        else:
            nv = np.full(n, self.noise_var, dtype=np.float32)
        out = output_items[0][: n * self.k]
        # one C++ call: LLRs straight into the output buffer, invalid symbols -> 0 and counted
        bad = self._demapper.demap_into(y, h, nv, self.method == "maxlog", out)
        if bad:
            self._bad.add(int(bad))
        fn = self._mapping.demap_exact if self.method == "exact" else self._mapping.demap_maxlog

        def recompute(rows):  # float64; max-log (the high-SNR limit, no exponentials) where exact overflows
            hr = None if h is None else h[rows]
            r = np.asarray(fn(y[rows], hr, nv[rows], self.k, dtype="float64")).reshape(len(rows), self.k)
            bad = ~np.isfinite(r).all(axis=1)
            if bad.any():
                r[bad] = np.asarray(
                    self._mapping.demap_maxlog(
                        y[rows][bad], None if hr is None else hr[bad], nv[rows][bad], self.k, dtype="float64"
                    )
                ).reshape(-1, self.k)
            return r

        # rows the float32 kernel overflowed (|h| or |y| ~ 1e20, sigma^2 ~ 1e-40): float64, clipped, counted
        finite_llrs(out.reshape(n, self.k), recompute, self._overflow)
        if self.llr_clip > 0:
            np.clip(out, -self.llr_clip, self.llr_clip, out=out)
        return n * self.k
