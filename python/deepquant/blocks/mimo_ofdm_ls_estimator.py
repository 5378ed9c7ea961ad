"""Flowgraph 2, frequency-domain reference: ``mimo_ofdm_ls_estimator`` -- pilot LS channel estimate
smoothed over frequency and the noise variance, per data channel use, for ``mimo_detector``
(see :mod:`.mimo_ofdm`).
"""

from __future__ import annotations

import numpy as np
from gnuradio import gr

from ..ofdm import mimo as ofdm_mimo
from ..ofdm.layout import OfdmLayout
from ._common import BadInputCounter


def _layout():
    return OfdmLayout()


class mimo_ofdm_ls_estimator(gr.interp_block):
    """Pilot-based least-squares channel estimation for MIMO-OFDM frames -> ``mimo_detector``.

    Input: received frames (vlen ``(nt + T) * 48 * nr``).
    Outputs, one item per data channel use (``T * 48`` per frame, symbol-major):
      0 y (complex, vlen nr); 1 H estimate (complex, vlen nr*nt, row-major); 2 sigma^2 (float).

    Per frame: ``H_ls[k][:, j] = y_pilot_j[k] / p_k``; with ``smooth`` every entry is projected
    onto channels with an impulse response of at most ``cp_len`` samples (less noise), and
    sigma^2 is measured from the projection residual; the output sigma^2 includes the estimate's
    error (``sigma^2 (1 + nt * err)``), or is the parameter ``noise_var`` when not estimated.
    A frame with non-finite samples (or an estimate beyond float32 range) is output as y = 0,
    H = 0, sigma^2 = 1 -- zero LLRs downstream -- and counted in ``bad.count``.

    Parameters
    ----------
    nr, nt : int
    n_data_symbols : int
    smooth : bool
        Smoothing assumes a channel impulse response within the cyclic prefix (EPA, CDL-A);
        switch it off for i.i.d. Rayleigh per carrier.
    estimate_noise : bool
        Estimate sigma^2 (needs ``smooth``), else use ``noise_var``.
    noise_var : float
    """

    def __init__(self, nr=2, nt=2, n_data_symbols=9, smooth=True, estimate_noise=True, noise_var=0.01):
        self.lay = _layout()
        self.nr, self.nt, self.t = int(nr), int(nt), int(n_data_symbols)
        nd = len(self.lay.occupied)
        self.nd = nd
        self.nsym = self.nt + self.t
        gr.interp_block.__init__(
            self,
            name="mimo_ofdm_ls_estimator",
            in_sig=[(np.complex64, self.nsym * nd * self.nr)],
            out_sig=[(np.complex64, self.nr), (np.complex64, self.nr * self.nt), np.float32],
            interp=self.t * nd,
        )
        self.smooth = bool(smooth)
        self.estimate_noise = bool(estimate_noise) and self.smooth
        self.noise_var = float(noise_var)
        self.noise_var_history = []
        self.bad = BadInputCounter(self.logger, "frames output as y = 0, H = 0, sigma^2 = 1 (zero LLRs downstream)")

    def set_noise_var(self, v):
        self.noise_var = float(v)

    def _neutral(self, output_items, sl, why):
        output_items[0][sl] = 0
        output_items[1][sl] = 0
        output_items[2][sl] = np.float32(1.0)
        self.bad.add(1, why)

    def work(self, input_items, output_items):
        m = self.t * self.nd
        f = len(output_items[0]) // m
        y = input_items[0][:f].reshape(f, self.nsym, self.nd, self.nr)
        for i in range(f):
            sl = slice(i * m, (i + 1) * m)
            if not np.isfinite(y[i]).all():  # neutral frame: y = 0, H = 0, sigma^2 = 1 (zero LLRs)
                self._neutral(output_items, sl, "non-finite samples")
                continue
            with np.errstate(all="ignore"):
                h, nv, err = ofdm_mimo.ls_estimate(y[i, : self.nt], self.lay, self.smooth)
                if not self.estimate_noise:
                    nv = self.noise_var
                nv_out = nv * (1.0 + self.nt * err)
            h_out = np.asarray(h, np.complex64)
            if not (np.isfinite(h_out).all() and np.isfinite(np.float32(nv_out)) and nv_out > 0):
                self._neutral(output_items, sl, "estimate beyond float32 range")
                continue
            self.noise_var_history.append(nv_out)
            output_items[0][sl] = y[i, self.nt :].reshape(m, self.nr)
            output_items[1][sl] = np.broadcast_to(
                h_out.reshape(1, self.nd, -1), (self.t, self.nd, self.nr * self.nt)
            ).reshape(m, -1)
            output_items[2][sl] = np.float32(nv_out)
        if len(self.noise_var_history) > 1000:
            del self.noise_var_history[:-1000]
        return f * m
