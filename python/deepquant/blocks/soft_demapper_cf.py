"""``soft_demapper_cf``: exact / max-log QAM soft demapper with per-symbol channel gain and noise
variance -- the working replacement for GNU Radio's soft decoder (which uses |y-p|, ignores the
noise power and has no channel gain)."""
from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr

from . import _kernels
from ._common import BadInputCounter

NOISE_VAR_SOURCES = ("param", "stream", "tag")
METHODS = ("exact", "maxlog")


def check_params(bits_per_symbol, method, noise_var, noise_var_source="param"):
    """Validate the constructor's arguments (shared with the GRC template); raises ValueError."""
    if int(bits_per_symbol) not in (1, 2, 4, 6, 8):
        raise ValueError(f"soft_demapper_cf: bits_per_symbol must be 1, 2, 4, 6 or 8 "
                         f"(BPSK..256-QAM), got {bits_per_symbol}")
    if method not in METHODS:
        raise ValueError(f"soft_demapper_cf: method must be one of {METHODS}, got {method!r}")
    if noise_var_source not in NOISE_VAR_SOURCES:
        raise ValueError(f"soft_demapper_cf: noise_var_source must be one of {NOISE_VAR_SOURCES}, "
                         f"got {noise_var_source!r}")
    if not (np.isfinite(noise_var) and noise_var > 0):
        raise ValueError(f"soft_demapper_cf: noise_var must be a positive finite number, got {noise_var}")


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
    """

    def __init__(self, bits_per_symbol=6, method="exact", noise_var=1.0, channel_input=False,
                 noise_var_source="param", noise_var_tag="noise_var", llr_clip=0.0):
        check_params(bits_per_symbol, method, noise_var, noise_var_source)
        self.k = int(bits_per_symbol)
        in_sig = [np.complex64]
        if channel_input:
            in_sig.append(np.complex64)
        if noise_var_source == "stream":
            in_sig.append(np.float32)
        gr.interp_block.__init__(self, name="soft_demapper_cf", in_sig=in_sig, out_sig=[np.float32],
                                 interp=self.k)
        self.method = method
        self.noise_var = float(noise_var)
        self.channel_input = bool(channel_input)
        self.noise_var_source = noise_var_source
        self.noise_var_tag = pmt.intern(noise_var_tag)
        self.llr_clip = float(llr_clip)
        self._bad = BadInputCounter(self.logger, "symbol(s) with non-finite y/h or invalid noise "
                                                 "variance demapped to zero LLRs")
        self._demapper = _kernels.qam_demapper(self.k)

    @property
    def bad_count(self) -> int:
        return self._bad.count

    def set_noise_var(self, noise_var):
        if not (np.isfinite(noise_var) and noise_var > 0):
            self.logger.error(f"ignoring noise_var={noise_var}: must be positive and finite")
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
            except Exception:  # a non-numeric tag value
                self.logger.error(f"ignoring '{pmt.symbol_to_string(self.noise_var_tag)}' tag with "
                                  f"non-numeric value {tag.value}")
                continue
            nv[tag.offset - start:] = v
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
        if self.llr_clip > 0:
            np.clip(out, -self.llr_clip, self.llr_clip, out=out)
        return n * self.k
