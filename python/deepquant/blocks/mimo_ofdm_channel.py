"""Flowgraph 2, frequency-domain reference: ``mimo_ofdm_channel`` -- per-subcarrier MIMO channel,
one realisation per frame, and white noise (see :mod:`.mimo_ofdm`).
"""

from __future__ import annotations

import numpy as np
from gnuradio import gr

from ..ofdm import mimo as ofdm_mimo
from ..ofdm.layout import OfdmLayout
from ._common import BadInputCounter, zero_nonfinite


def _layout():
    return OfdmLayout()


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
