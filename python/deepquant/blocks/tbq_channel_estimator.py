"""``tbq_channel_estimator``: task-based quantized MIMO channel estimation (paper 000) as a GNU Radio
block -- received pilot block in, channel matrix estimate out.

The numeric work lives in :mod:`gnuradio.deepquant.chanest.estimators` (numpy + the C++ ADC
kernel); this file only adapts streams to it.  The baselines with the same ports are
``mmse_channel_estimator`` and ``uniform_adc_channel_estimator``.
"""

from __future__ import annotations

import numpy as np
from gnuradio import gr

from ._common import BadInputCounter

TBQ_METHODS = ("soft_to_hard", "passing_gradient", "hardware_limited")
TRAININGS = ("optimal", "snr_uncertainty")


def check_dims(name, nt, nu, tau_p):
    """Validate the MIMO dimensions (shared by the three estimator blocks); raises ValueError."""
    if int(nt) < 1 or int(nu) < 1 or int(tau_p) < 1:
        raise ValueError(f"{name}: nt, nu and tau_p must be >= 1, got nt={nt}, nu={nu}, tau_p={tau_p}")
    if int(tau_p) < int(nu):
        raise ValueError(f"{name}: orthogonal pilots need tau_p >= nu, got tau_p={tau_p}, nu={nu}")


def check_params(nt, nu, tau_p, rate, method="soft_to_hard", training="optimal", snr=4.0):
    """Validate ``tbq_channel_estimator``'s arguments (also used by the GRC template's asserts)."""
    check_dims("tbq_channel_estimator", nt, nu, tau_p)
    if not (np.isfinite(rate) and rate > 0):
        raise ValueError(f"tbq_channel_estimator: rate must be positive (bits per real observation), got {rate}")
    if method not in TBQ_METHODS:
        raise ValueError(f"tbq_channel_estimator: method must be one of {TBQ_METHODS}, got {method!r}")
    if training not in TRAININGS:
        raise ValueError(f"tbq_channel_estimator: training must be one of {TRAININGS}, got {training!r}")
    if not (np.isfinite(snr) and snr > 0):
        raise ValueError(f"tbq_channel_estimator: snr must be positive and finite, got {snr}")


class _ChannelEstimatorBlock(gr.sync_block):
    """Common ports and work() of the channel-estimator blocks.

    Input 0: received pilot block, complex64 vector of ``tau_p * nt`` (``y[t*nt + a]``: antenna a
    at pilot time t, i.e. tau_p consecutive nt-antenna snapshots).
    Output 0: channel estimate, complex64 vector of ``nt * nu``, H (nt x nu) row-major
    (``H[a*nu + u]``: user u -> antenna a), as the toolkit's ``mimo_detector`` expects.

    Pilot blocks with a non-finite sample give an all-zero estimate (the prior mean), are counted
    in ``bad_count`` and logged (rate-limited).
    """

    def __init__(self, name, estimator, nt, nu, tau_p):
        self.nt, self.nu, self.tau_p = int(nt), int(nu), int(tau_p)
        gr.sync_block.__init__(
            self, name=name, in_sig=[(np.complex64, self.tau_p * self.nt)], out_sig=[(np.complex64, self.nt * self.nu)]
        )
        self._est = estimator
        self._blocks = 0
        self._bad = BadInputCounter(self.logger, "pilot block(s) with non-finite samples estimated as H = 0")
        bits = self.adc_bits_per_block()
        self.logger.info(
            f"{name}: nt={self.nt} nu={self.nu} tau_p={self.tau_p}, "
            + (
                "no ADC (unquantized)"
                if bits is None
                else f"{bits:g} ADC bits per pilot block ({self.rate():.4f} bits/real observation)"
            )
        )

    # ---- reporting --------------------------------------------------------------------------------
    @property
    def estimator(self):
        """The numpy estimator behind the block (callable on pilot blocks)."""
        return self._est

    def adc_bits_per_block(self):
        """ADC bits spent on one pilot block (None for the unquantized MMSE baseline)."""
        return self._est.adc_bits_per_block

    def rate(self):
        """ADC bits per real observation, ``adc_bits_per_block / (2 tau_p nt)`` (None: unquantized)."""
        return self._est.rate

    def adc_bits_spent(self) -> float:
        """Total ADC bits spent on the pilot blocks processed so far (0 when unquantized)."""
        b = self.adc_bits_per_block()
        return 0.0 if b is None else float(b) * self._blocks

    def blocks_processed(self) -> int:
        return self._blocks

    @property
    def bad_count(self) -> int:
        return self._bad.count

    def __call__(self, y, layout: str = "rowmajor"):
        """The block's estimator on numpy arrays: pilot blocks (B, tau_p*nt) -> H (B, nt*nu)."""
        return self._est(y, layout=layout)

    estimate = __call__

    # ---- streaming --------------------------------------------------------------------------------
    def work(self, input_items, output_items):
        y = input_items[0]
        n = len(y)
        if n == 0:
            return 0
        ok = np.isfinite(y.real).all(axis=1) & np.isfinite(y.imag).all(axis=1)
        out = output_items[0]
        if ok.all():
            out[:n] = self._est(y)
        else:
            self._bad.add(int((~ok).sum()))
            out[:n] = 0
            if ok.any():
                out[:n][ok] = self._est(y[ok])
        self._blocks += n
        return n


class tbq_channel_estimator(_ChannelEstimatorBlock):
    """Task-based quantized channel estimator: learned analog combiner -> p identical scalar ADCs
    (through the module's C++ kernel) -> digital estimator.

    Parameters
    ----------
    nt, nu, tau_p : int
        BS antennas, users, pilot length (pilots: first nu columns of the tau_p-point DFT matrix,
        per-user pilot SNR P, noise power 1).
    rate : float
        ADC bits per real observation, ``p log2(M) / (2 tau_p nt)``.  Learned methods: picks the
        shipped model of that rate (within 0.03); 'hardware_limited': the M nearest to it.
    method : {'soft_to_hard', 'passing_gradient', 'hardware_limited'}
        Learned (soft-to-hard eq. 3/4, or passing gradient) or the model-based design of
        Shlezinger-Eldar-Rodrigues with uniform ADCs (uses ``snr``).
    model : str
        Path of a model trained with ``deepquant train chanest`` ('' = the shipped one).
    training : {'optimal', 'snr_uncertainty'}
        Shipped model family: trained at P = 4, or with P ~ U[1, 10].
    snr : float
        Design pilot SNR P (linear) of 'hardware_limited'; learned models ignore it.
    """

    def __init__(self, nt=10, nu=4, tau_p=12, rate=1.0, method="soft_to_hard", model="", training="optimal", snr=4.0):
        check_params(nt, nu, tau_p, rate, method, training, snr)
        from ..chanest.estimators import make_estimator

        est = make_estimator(nt, nu, tau_p, rate, method=method, model=model or "", training=training, snr=snr)
        self.method = method
        self.model_path = str(getattr(est, "path", "") or "")
        _ChannelEstimatorBlock.__init__(self, "tbq_channel_estimator", est, nt, nu, tau_p)
        if est.rate is not None and abs(est.rate - float(rate)) > 0.03:
            self.logger.warn(f"requested rate {rate} but the estimator spends {est.rate:.4f} bits/observation")
