"""Flowgraph 2 blocks: 2x2 (any Nr x Nt) MIMO-OFDM frames in the frequency domain --
``mimo_ofdm_framer`` (orthogonal pilot symbols + data), ``mimo_ofdm_channel`` (per-subcarrier
MIMO channel, one realisation per frame) and ``mimo_ofdm_ls_estimator`` (pilot LS channel,
smoothed over frequency, noise variance) feeding ``mimo_detector``.

These are the **ideal-sync reference** of flowgraph 2 (``apps.mimo_ofdm.run_fd``,
``scripts/reproduce_mimo_ofdm.py --domain frequency``): frames are aligned resource grids
(perfect timing and frequency), which isolates detection and channel estimation. Flowgraph 2
itself runs in the time domain with real OFDM modulation and shared Schmidl & Cox
synchronisation: :mod:`gnuradio.deepquant.blocks.mimo_ofdm_td` (an index of its blocks).
"""

from __future__ import annotations

import numpy as np
from gnuradio import gr

from ..ofdm import mimo as ofdm_mimo
from ..ofdm.layout import OfdmLayout
from ._common import BadInputCounter, zero_nonfinite


def _layout():
    return OfdmLayout()


class mimo_ofdm_framer(gr.sync_block):
    """Data channel uses -> MIMO-OFDM frames (pilot symbols first).

    Input: vectors of ``n_data_symbols * 48 * nt`` complex: the frame's data channel uses, each
    ``nt`` consecutive values one channel use (x of streams 0..nt-1), symbol-major over REs.
    Output: vectors of ``(nt + n_data_symbols) * 48 * nt``: nt pilot OFDM symbols (in pilot
    symbol j only stream j sends the BPSK pilot on every data carrier), then the data.

    Parameters
    ----------
    nt : int
        Transmit streams.
    n_data_symbols : int
        Data OFDM symbols per frame (48 data carriers each).
    """

    def __init__(self, nt=2, n_data_symbols=9):
        self.lay = _layout()
        self.nt, self.t = int(nt), int(n_data_symbols)
        if self.nt < 1 or self.t < 1:
            raise ValueError(f"mimo_ofdm_framer: nt and n_data_symbols must be >= 1, got {nt}, {n_data_symbols}")
        nd = len(self.lay.occupied)
        self.n_in = self.t * nd * self.nt
        self.n_out = (self.nt + self.t) * nd * self.nt
        gr.sync_block.__init__(
            self, name="mimo_ofdm_framer", in_sig=[(np.complex64, self.n_in)], out_sig=[(np.complex64, self.n_out)]
        )
        self._pil = ofdm_mimo.frame_pilots(self.lay, self.nt).reshape(-1)
        self.bad = BadInputCounter(self.logger, "non-finite data symbols sent as 0")

    def work(self, input_items, output_items):
        n = len(output_items[0])
        out = output_items[0][:n]
        out[:, : self._pil.size] = self._pil
        out[:, self._pil.size :] = zero_nonfinite(input_items[0][:n], self.bad)
        return n


class mimo_ofdm_channel(gr.sync_block):
    """Per-subcarrier MIMO channel on MIMO-OFDM frames: ``y[k,t] = H[k] x[k,t] + n``, one
    channel realisation per frame (block fading), ``n ~ CN(0, sigma^2 I)``.

    Input: frames of ``mimo_ofdm_framer`` (vlen ``(nt + T) * 48 * nt``).
    Output: received frames (vlen ``(nt + T) * 48 * nr``), each ``nr`` consecutive values one
    RE's receive vector.

    Parameters
    ----------
    nr, nt : int
    model : {'epa', 'rayleigh', 'cdla'}
        Independent EPA-like responses per antenna pair (20 Msps, 64-point FFT), i.i.d.
        Rayleigh per carrier, or 3GPP CDL-A (100 ns delay spread).
    snr_db : float
        ``SNR = E||H||_F^2 / sigma^2`` (EQ-Net's definition, :func:`phy.channels.snr_to_noise_var`).
    n_data_symbols : int
    seed : int
    """

    def __init__(self, nr=2, nt=2, model="epa", snr_db=24.0, n_data_symbols=9, seed=0):
        self.lay = _layout()
        self.nr, self.nt, self.t = int(nr), int(nt), int(n_data_symbols)
        if model not in ("epa", "rayleigh", "cdla"):
            raise ValueError(f"mimo_ofdm_channel: model must be 'epa', 'rayleigh' or 'cdla', got {model!r}")
        nd = len(self.lay.occupied)
        self.nsym = self.nt + self.t
        gr.sync_block.__init__(
            self,
            name="mimo_ofdm_channel",
            in_sig=[(np.complex64, self.nsym * nd * self.nt)],
            out_sig=[(np.complex64, self.nsym * nd * self.nr)],
        )
        self.model = model
        self.rng = np.random.default_rng(int(seed))
        import torch

        self._tg = torch.Generator().manual_seed(int(seed))
        self.set_snr_db(snr_db)
        self.last_h = None
        self.bad = BadInputCounter(self.logger, "non-finite transmit samples taken as 0")
        self.overflow = BadInputCounter(self.logger, "received samples beyond complex64 range output as 0")

    def set_snr_db(self, snr_db):
        from ..phy.channels import snr_to_noise_var

        self.noise_var = float(snr_to_noise_var(float(snr_db), self.nr, self.nt))

    def work(self, input_items, output_items):
        n = len(output_items[0])
        nd = len(self.lay.occupied)
        x = zero_nonfinite(input_items[0][:n], self.bad).reshape(n, self.nsym, nd, self.nt)
        h = ofdm_mimo.channels(self.rng, self.lay, self.nr, self.nt, n, self.model, torch_gen=self._tg)
        y = np.einsum("fkrt,fskt->fskr", h, x)
        y += (self.rng.standard_normal(y.shape) + 1j * self.rng.standard_normal(y.shape)) * np.sqrt(self.noise_var / 2)
        output_items[0][:n] = zero_nonfinite(y.reshape(n, -1).astype(np.complex64), self.overflow)
        self.last_h = h[-1]
        return n


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
