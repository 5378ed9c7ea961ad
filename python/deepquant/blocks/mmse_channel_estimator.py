"""``mmse_channel_estimator``: the unquantized MMSE channel estimate (eq. 6 of paper 000), with the
ports of ``tbq_channel_estimator`` -- the reference every quantized estimator is compared to."""

from __future__ import annotations

import numpy as np

from .tbq_channel_estimator import _ChannelEstimatorBlock, check_dims


def check_params(nt, nu, tau_p, snr=4.0):
    check_dims("mmse_channel_estimator", nt, nu, tau_p)
    if not (np.isfinite(snr) and snr > 0):
        raise ValueError(f"mmse_channel_estimator: snr must be positive and finite, got {snr}")


class mmse_channel_estimator(_ChannelEstimatorBlock):
    """MMSE channel estimate from the unquantized pilot block: ``h = sqrt(P)/(1 + P tau_p) (Phi^H kron I) y``.

    Parameters
    ----------
    nt, nu, tau_p : int
        BS antennas, users, pilot length.
    snr : float
        Pilot SNR P (linear) the estimator assumes.

    Ports: as ``tbq_channel_estimator`` (pilot block tau_p*nt complex in, H nt*nu row-major out).
    No ADC: ``adc_bits_per_block()`` is None.
    """

    def __init__(self, nt=10, nu=4, tau_p=12, snr=4.0):
        check_params(nt, nu, tau_p, snr)
        from ..chanest.estimators import MMSEEstimator

        _ChannelEstimatorBlock.__init__(
            self, "mmse_channel_estimator", MMSEEstimator(nt, nu, tau_p, snr), nt, nu, tau_p
        )
