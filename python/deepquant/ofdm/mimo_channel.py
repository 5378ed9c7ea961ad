"""Time-domain MIMO multipath channel of the MIMO-OFDM loopbacks: block fading per packet,
one carrier offset for all chains, white noise. No GNU Radio import (the block
``mimo_ofdm_impairments`` adapts it to streams and packet tags).

``y_r[n] = e^{j 2 pi f n} sum_j (g_rj * x_j)[n] + w_r[n]``: an independent tap vector ``g_rj``
per antenna pair, drawn anew at every packet start; one carrier offset ``f`` (a shared
oscillator); ``w_r ~ CN(0, sigma^2 / fft_len)``, so that a data subcarrier after an unnormalised
receive FFT has noise variance ``sigma^2`` with ``SNR = E||H||_F^2 / sigma^2``.
"""

from __future__ import annotations

import numpy as np

from . import channel as ofdm_channel
from . import mimo as ofdm_mimo
from .layout import OfdmLayout

#: Channel models: 'epa' (LTE EPA delays rounded to samples, Rayleigh taps), 'flat' (one Rayleigh
#: tap per pair), 'none' (identity for r == j), 'cdla' (3GPP CDL-A of the whole array).
MODELS = ("epa", "flat", "none", "cdla")

#: Tap tensors kept in ``taps_history`` (the newest).
HISTORY = 1000


class MimoMultipathChannel:
    """Nr x Nt time-domain multipath channel with carrier offset and noise, state kept across
    calls (filter memory, oscillator phase, generators).

    Parameters
    ----------
    nr, nt : int
        Receive and transmit antennas (>= 1).
    snr_db : float
        ``E||H||_F^2 / sigma^2`` per subcarrier (:func:`gnuradio.deepquant.phy.channels.snr_to_noise_var`).
    cfo_subcarriers : float
        Carrier frequency offset in subcarrier spacings (``|cfo| < 0.5``).
    model : {'epa', 'flat', 'none', 'cdla'}
        'epa': LTE EPA power-delay profile with delays rounded to samples at ``samp_rate``, Rayleigh
        taps, ``E sum|g|^2 = 1``; 'flat': one Rayleigh tap per pair; 'none': identity for r == j,
        0 otherwise; 'cdla': 3GPP CDL-A of the whole array (spatially correlated, ``delay_spread``)
        as band-limited taps (:func:`gnuradio.deepquant.ofdm.mimo.cdl_a_taps`).
    samp_rate : float
        Samples per second (> 0).
    fft_len : int
        FFT length of the OFDM receiver (sets the noise per sample and the CFO unit).
    seed : int
        Channel draws come from ``seed``, noise from ``[seed, 1]``: separate generators, the
        noise drawn sample-major, so both sequences are the same whatever chunks the caller
        hands :meth:`apply`.
    delay_spread : float
        rms delay spread of 'cdla' in seconds, in [0, 2e-6].

    Attributes
    ----------
    taps : ndarray complex64 [nr, nt, ntaps]
        The current packet's taps.
    taps_history : list of ndarray
        The last :data:`HISTORY` tap tensors (the genie's view).
    noise_var : float
        sigma^2 per subcarrier.
    """

    def __init__(
        self,
        nr=2,
        nt=2,
        snr_db=26.0,
        cfo_subcarriers=0.0,
        model="epa",
        samp_rate=20e6,
        fft_len=64,
        seed=0,
        delay_spread=100e-9,
    ):
        self.nr, self.nt = int(nr), int(nt)
        if self.nr < 1 or self.nt < 1:
            raise ValueError(f"nr and nt must be >= 1, got {nr}, {nt}")
        if model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {model!r}")
        if not samp_rate > 0 or int(fft_len) < 2:
            raise ValueError("samp_rate must be > 0 and fft_len >= 2")
        if not 0 <= float(delay_spread) <= 2e-6:
            raise ValueError(f"delay_spread must be in [0, 2e-6] s (CDL-A rms delay spread), got {delay_spread}")
        self.model = model
        self.fft_len = int(fft_len)
        self.samp_rate = float(samp_rate)
        self.delay_spread = float(delay_spread)
        if model == "epa":
            self.delays, self.powers = ofdm_channel.epa_integer_profile(float(samp_rate))
        else:
            self.delays, self.powers = np.array([0]), np.array([1.0])
        self.ntaps = int(self.delays.max()) + 1
        if model == "cdla":
            import torch

            self._torch_gen = torch.Generator().manual_seed(int(seed))
            self.ntaps = ofdm_mimo.cdl_a_span(self.samp_rate, self.delay_spread)
            self._band = min(max(abs(k) for k in OfdmLayout().active), self.fft_len // 2 - 1)
        self.rng = np.random.default_rng(int(seed))
        self.noise_rng = np.random.default_rng([int(seed), 1])
        self._hist = np.zeros((self.nt, self.ntaps - 1), np.complex64)
        self._phase = 0.0
        self.taps_history = []
        self.set_snr_db(snr_db)
        self.set_cfo_subcarriers(cfo_subcarriers)
        self.taps = self.draw()

    def set_snr_db(self, snr_db):
        from ..phy.channels import snr_to_noise_var

        self.snr_db = float(snr_db)
        self.noise_var = float(snr_to_noise_var(self.snr_db, self.nr, self.nt))
        self._sigma_t = np.sqrt(self.noise_var / self.fft_len / 2)

    def set_cfo_subcarriers(self, cfo):
        if abs(float(cfo)) >= 0.5:
            raise ValueError(
                f"|cfo_subcarriers| must be < 0.5 (the receiver corrects fractional offsets only), got {cfo}"
            )
        self.cfo = float(cfo)
        self._w = 2 * np.pi * self.cfo / self.fft_len

    def draw(self) -> np.ndarray:
        """A new independent tap tensor complex64 [nr, nt, ntaps], appended to ``taps_history``
        (not made current: :meth:`apply` does that at a packet start)."""
        if self.model == "none":
            g = np.zeros((self.nr, self.nt, 1), np.complex64)
            for i in range(min(self.nr, self.nt)):
                g[i, i, 0] = 1
        elif self.model == "cdla":
            taps, _ = ofdm_mimo.cdl_a_taps(
                1,
                self.nr,
                self.nt,
                self.fft_len,
                self.samp_rate,
                self.delay_spread,
                band=self._band,
                generator=self._torch_gen,
            )
            g = taps[0].astype(np.complex64)
        else:
            g = ofdm_channel.draw_taps(self.rng, self.delays, self.powers, self.nr * self.nt)
            g = g.reshape(self.nr, self.nt, -1).astype(np.complex64)
        self.taps_history.append(g)
        if len(self.taps_history) > HISTORY:
            del self.taps_history[:-HISTORY]
        return g

    def _filter(self, seg):
        """seg [nt, m] -> [nr, m] with the current taps and the filter memory."""
        m = seg.shape[1]
        xx = np.concatenate([self._hist, seg], axis=1)  # [nt, L-1+m]
        y = np.zeros((self.nr, m), np.complex128)
        for l in range(self.ntaps):
            if np.any(self.taps[:, :, l]):
                y += self.taps[:, :, l] @ xx[:, self.ntaps - 1 - l : self.ntaps - 1 - l + m]
        if self.ntaps > 1:
            self._hist = xx[:, xx.shape[1] - (self.ntaps - 1) :]
        return y

    def apply(self, x: np.ndarray, starts=()) -> np.ndarray:
        """The next ``n`` samples through the channel.

        Parameters
        ----------
        x : ndarray complex64 [nt, n]
            Transmit samples (finite).
        starts : iterable of int
            Positions in ``[0, n)`` where a packet starts: new taps are drawn there (block
            fading); the filter memory carries across, as in a real channel.

        Returns
        -------
        ndarray complex128 [nr, n]
        """
        n = x.shape[1]
        cuts = sorted({int(c) for c in starts if 0 <= int(c) < n})
        y = np.zeros((self.nr, n), np.complex128)
        pos = 0
        for c in cuts + [n]:
            if c > pos:
                y[:, pos:c] = self._filter(x[:, pos:c])
            if c < n:
                self.taps = self.draw()
            pos = c
        rot = np.exp(1j * (self._phase + self._w * np.arange(n)))
        self._phase = float(np.mod(self._phase + self._w * n, 2 * np.pi))
        y *= rot[None, :]
        w = self.noise_rng.standard_normal((n, self.nr, 2))
        y += (w[:, :, 0] + 1j * w[:, :, 1]).T * self._sigma_t
        return y
