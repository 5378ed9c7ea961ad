"""``mu_uplink_channel``: multi-user MIMO uplink with a pilot phase and a data phase per
coherence block (paper 000's pilot model), for channel-estimation loopbacks."""

from __future__ import annotations

import numpy as np
from gnuradio import gr

from ._common import BadInputCounter, zero_nonfinite


class mu_uplink_channel(gr.sync_block):
    """Multi-user MIMO uplink: n_u single-antenna users, n_t BS antennas, block fading.

    Per coherence block a channel ``h ~ CN(0, I)`` is drawn; the users send their orthogonal
    DFT pilots, ``y_p = sqrt(P) (Phi kron I_nt) h + w`` (paper 000, eq. 5, unit noise), then
    ``coherence`` data channel uses ``y = H x + n``, ``n ~ CN(0, data_noise_var I)``, with the
    same H (n_t x n_u).

    Input: x, the users' data symbols of one channel use (complex, vlen n_u).
    Outputs: 0 y (complex, vlen n_t); 1 the pilot block of the current coherence block
    (complex, vlen tau_p*n_t, ``y_p[t*n_t + a]``; repeated for each of its data channel uses, so
    every stream runs at the data rate); 2 the true H (complex, vlen n_t*n_u, row-major) for
    genie-CSI comparisons.

    Parameters
    ----------
    nt, nu, tau_p : int
        BS antennas, users, pilot length (tau_p >= nu).
    pilot_snr : float
        P (linear) of the pilot phase.
    coherence : int
        Data channel uses per coherence block.
    data_noise_var : float
        sigma^2 of the data phase.
    seed : int
        Seed of the channel and noise draws.
    """

    def __init__(self, nt=10, nu=4, tau_p=12, pilot_snr=4.0, coherence=50, data_noise_var=0.1, seed=0):
        from ..chanest.system import ChannelSetup, h_to_rowmajor

        if int(coherence) < 1:
            raise ValueError(f"mu_uplink_channel: coherence must be >= 1, got {coherence}")
        if not (np.isfinite(data_noise_var) and data_noise_var >= 0):
            raise ValueError(f"mu_uplink_channel: data_noise_var must be finite and >= 0, got {data_noise_var}")
        self.setup = ChannelSetup(int(nt), int(nu), int(tau_p), float(pilot_snr))  # validates
        self.nt, self.nu, self.tau_p = int(nt), int(nu), int(tau_p)
        gr.sync_block.__init__(
            self,
            name="mu_uplink_channel",
            in_sig=[(np.complex64, self.nu)],
            out_sig=[(np.complex64, self.nt), (np.complex64, self.tau_p * self.nt), (np.complex64, self.nt * self.nu)],
        )
        self.coherence = int(coherence)
        self.bad = BadInputCounter(self.logger, "non-finite user symbols taken as 0")
        self.overflow = BadInputCounter(self.logger, "received samples beyond complex64 range output as 0")
        self.data_noise_var = float(data_noise_var)
        self.rng = np.random.default_rng(seed)
        self._op = np.sqrt(self.setup.snr) * self.setup.pilot_operator()
        self._to_rowmajor = h_to_rowmajor
        self._count = 0
        self._cur = None  # (H rowmajor [nt*nu], pilots [tau_p*nt]) of the current block

    def _cn(self, *shape):
        return (self.rng.standard_normal(shape) + 1j * self.rng.standard_normal(shape)) / np.sqrt(2)

    def _new_blocks(self, count):
        h = self._cn(count, self.nu * self.nt)  # h[u*nt + a]
        pil = h @ self._op.T + self._cn(count, self.tau_p * self.nt)
        hr = self._to_rowmajor(h, self.nt, self.nu).reshape(count, self.nt * self.nu)
        return hr.astype(np.complex64), pil.astype(np.complex64)

    def work(self, input_items, output_items):
        n = len(output_items[0])
        pos = self._count + np.arange(n)
        blk = pos // self.coherence
        first, last = int(blk[0]), int(blk[-1])
        have_first = self._cur is not None and self._cur[2] == first
        hr_new, pil_new = self._new_blocks(last - first + (0 if have_first else 1))
        if have_first:
            hr_all = np.concatenate([self._cur[0][None], hr_new])
            pil_all = np.concatenate([self._cur[1][None], pil_new])
        else:
            hr_all, pil_all = hr_new, pil_new
        idx = blk - first
        hr = hr_all[idx]
        x = zero_nonfinite(input_items[0][:n].reshape(n, self.nu), self.bad)  # vlen 1 arrives 1-D
        y = np.einsum("bij,bj->bi", hr.reshape(n, self.nt, self.nu), x)
        if self.data_noise_var > 0:
            y = y + np.sqrt(self.data_noise_var) * self._cn(n, self.nt)
        output_items[0][:n] = zero_nonfinite(y.astype(np.complex64), self.overflow).reshape(output_items[0][:n].shape)
        output_items[1][:n] = pil_all[idx].reshape(output_items[1][:n].shape)
        output_items[2][:n] = hr.reshape(output_items[2][:n].shape)
        self._cur = (hr_all[-1], pil_all[-1], last)
        self._count += n
        return n
