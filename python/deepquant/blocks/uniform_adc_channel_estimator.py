"""``uniform_adc_channel_estimator``: the task-ignorant baseline of paper 000 -- a uniform b-bit ADC
on every real observation, then the LMMSE estimate from the quantized data (for 1 bit: the
Bussgang LMMSE, BLMMSE) -- with the ports of ``tbq_channel_estimator``."""

from __future__ import annotations

import numpy as np

from .tbq_channel_estimator import _ChannelEstimatorBlock, check_dims


def check_params(nt, nu, tau_p, bits=1, snr=4.0, num_levels=0):
    check_dims("uniform_adc_channel_estimator", nt, nu, tau_p)
    if int(num_levels) == 0 and not 1 <= int(bits) <= 8:
        raise ValueError(f"uniform_adc_channel_estimator: bits must be 1..8, got {bits}")
    if int(num_levels) != 0 and not 2 <= int(num_levels) <= 256:
        raise ValueError(f"uniform_adc_channel_estimator: num_levels must be 0 (use bits) or 2..256, got {num_levels}")
    if not (np.isfinite(snr) and snr > 0):
        raise ValueError(f"uniform_adc_channel_estimator: snr must be positive and finite, got {snr}")


class uniform_adc_channel_estimator(_ChannelEstimatorBlock):
    """Uniform ADCs on all 2*tau_p*nt real observations + LMMSE from the quantized data.

    Parameters
    ----------
    nt, nu, tau_p : int
        BS antennas, users, pilot length.
    bits : int
        ADC resolution (M = 2^bits levels; rate = bits per real observation).  1 bit = BLMMSE.
    snr : float
        Pilot SNR P (linear) the LMMSE matrix and the ADC range are designed for (range: the
        MSE-optimal uniform range of the observations' Gaussian marginal).
    num_levels : int
        0 (default: 2^bits) or any M >= 2 (e.g. 3 levels, rate log2 3).

    Ports: as ``tbq_channel_estimator``.  The ADCs run through the module's C++ kernel.
    """

    def __init__(self, nt=10, nu=4, tau_p=12, bits=1, snr=4.0, num_levels=0):
        check_params(nt, nu, tau_p, bits, snr, num_levels)
        from ..chanest.estimators import UniformADCEstimator

        m = int(num_levels) if int(num_levels) else 2 ** int(bits)
        _ChannelEstimatorBlock.__init__(
            self, "uniform_adc_channel_estimator", UniformADCEstimator(nt, nu, tau_p, m, snr), nt, nu, tau_p
        )
