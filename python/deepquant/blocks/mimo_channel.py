"""``mimo_channel``: y = H x + n per channel use, with the channel (or a noisy estimate) as a
second output for genie / imperfect CSI."""

from __future__ import annotations

import numpy as np
from gnuradio import gr

from ._common import BadInputCounter, zero_nonfinite

MODELS = ("rayleigh", "cdla")


class mimo_channel(gr.sync_block):
    """MIMO channel: x (Nt) -> y = H x + n (Nr), and H (Nr*Nt, row-major) for the receiver.

    Parameters
    ----------
    nr, nt : int
        Receive and transmit antennas.
    model : {'rayleigh', 'cdla'}
        'rayleigh': i.i.d. CN(0, 1) entries, a new H every ``coherence`` channel uses.
        'cdla': 3GPP TR 38.901 CDL-A per-subcarrier responses (uniform linear arrays,
        ``delay_spread_ns``, 15 kHz spacing); consecutive channel uses sit on consecutive
        subcarriers of a frame of ``n_subcarriers``; a new realisation every frame.
    noise_var : float
        sigma^2 of n ~ CN(0, sigma^2 I) (E||H||_F^2 = Nr Nt, so SNR = Nr Nt / sigma^2).
    csi_error_var : float
        sigma_e^2 of the CSI error: the H output is H + E, E ~ CN(0, sigma_e^2) (0 = genie CSI).
    coherence : int
        Channel uses per Rayleigh realisation (1 = fast fading).
    n_subcarriers : int
        Subcarriers per CDL-A frame.
    delay_spread_ns : float
        CDL-A delay spread.
    seed : int
        Seed of the channel and noise draws (reproducible runs).
    """

    def __init__(
        self,
        nr=2,
        nt=2,
        model="rayleigh",
        noise_var=0.1,
        csi_error_var=0.0,
        coherence=1,
        n_subcarriers=64,
        delay_spread_ns=316.0,
        seed=0,
    ):
        if int(nr) < 1 or int(nt) < 1:
            raise ValueError(f"mimo_channel: nr and nt must be >= 1, got {nr}, {nt}")
        if model not in MODELS:
            raise ValueError(f"mimo_channel: model must be one of {MODELS}, got {model!r}")
        if not (np.isfinite(noise_var) and noise_var >= 0):
            raise ValueError(f"mimo_channel: noise_var must be finite and >= 0, got {noise_var}")
        if not (np.isfinite(csi_error_var) and csi_error_var >= 0):
            raise ValueError(f"mimo_channel: csi_error_var must be finite and >= 0, got {csi_error_var}")
        if int(coherence) < 1 or int(n_subcarriers) < 1:
            raise ValueError("mimo_channel: coherence and n_subcarriers must be >= 1")
        self.nr, self.nt = int(nr), int(nt)
        gr.sync_block.__init__(
            self,
            name="mimo_channel",
            in_sig=[(np.complex64, self.nt)],
            out_sig=[(np.complex64, self.nr), (np.complex64, self.nr * self.nt)],
        )
        self.model = model
        self.bad = BadInputCounter(self.logger, "non-finite transmit samples taken as 0")
        self.overflow = BadInputCounter(self.logger, "received samples beyond complex64 range output as 0")
        self.noise_var = float(noise_var)
        self.csi_error_var = float(csi_error_var)
        self.period = int(coherence) if model == "rayleigh" else int(n_subcarriers)
        self.delay_spread_ns = float(delay_spread_ns)
        self.rng = np.random.default_rng(seed)
        # noise and CSI error from their own generators, drawn item-major: the same sequence
        # whatever chunks the scheduler hands work() (runs at one seed are repeatable)
        self._noise_rng = np.random.default_rng([int(seed), 1])
        self._csi_rng = np.random.default_rng([int(seed), 2])
        import torch

        self._torch_gen = torch.Generator().manual_seed(int(seed))
        self._cur = None  # current realisation [period, nr, nt]
        self._cur_index = -1
        self._count = 0

    def set_noise_var(self, noise_var):
        if not (np.isfinite(noise_var) and noise_var >= 0):
            self.logger.error(f"ignoring noise_var={noise_var}: must be finite and >= 0")
            return
        self.noise_var = float(noise_var)

    def set_csi_error_var(self, v):
        if not (np.isfinite(v) and v >= 0):
            self.logger.error(f"ignoring csi_error_var={v}: must be finite and >= 0")
            return
        self.csi_error_var = float(v)

    def _draw(self, count):
        """``count`` realisations, each [period, nr, nt] complex64."""
        from ..phy import channels

        if self.model == "rayleigh":
            h = channels.rayleigh_mimo(count, self.nr, self.nt, generator=self._torch_gen).numpy()
            return np.repeat(h[:, None], self.period, axis=1).astype(np.complex64)
        h = channels.cdl_a_channel(
            count, self.period, self.nr, self.nt, delay_spread=self.delay_spread_ns * 1e-9, generator=self._torch_gen
        ).numpy()
        return h.astype(np.complex64)

    def work(self, input_items, output_items):
        n = len(output_items[0])
        pos = self._count + np.arange(n)
        real_idx = pos // self.period
        first, last = int(real_idx[0]), int(real_idx[-1])
        new = self._draw(last - first + (0 if first == self._cur_index else 1))
        if first == self._cur_index:
            reals = np.concatenate([self._cur[None], new]) if len(new) else self._cur[None]
        else:
            reals = new
        h = reals[real_idx - first, pos % self.period]  # [n, nr, nt]
        self._cur, self._cur_index = reals[-1], last
        self._count += n
        x = zero_nonfinite(input_items[0][:n].reshape(n, self.nt), self.bad)  # vlen 1 arrives 1-D
        y = np.einsum("bij,bj->bi", h, x)
        if self.noise_var > 0:
            y = y + np.sqrt(self.noise_var / 2) * _cn_sample_major(self._noise_rng, y.shape)
        output_items[0][:n] = zero_nonfinite(y.astype(np.complex64), self.overflow).reshape(output_items[0][:n].shape)
        hout = h
        if self.csi_error_var > 0:
            hout = h + np.sqrt(self.csi_error_var / 2) * _cn_sample_major(self._csi_rng, h.shape)
        output_items[1][:n] = hout.astype(np.complex64).reshape(output_items[1][:n].shape)
        return n


def _cn_sample_major(rng, shape):
    """Unit-variance complex Gaussian of ``shape`` (axis 0 = items) with real and imaginary parts
    drawn together per item, so consecutive calls give the same values however the items are
    split between them."""
    w = rng.standard_normal(tuple(shape) + (2,))
    return w[..., 0] + 1j * w[..., 1]
