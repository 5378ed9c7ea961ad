"""Flowgraph 2 in the time domain: 2x2 (any Nr x Nt) MIMO-OFDM with real OFDM modulation and
synchronisation. Each block lives in its own module; this one re-exports them under the import
path they had when they shared a file (``from gnuradio.deepquant.blocks.mimo_ofdm_td import ...``).

* :mod:`.mimo_ofdm_tx`            info bits -> LDPC -> QAM -> Nt streams of GNU Radio OFDM
  packets (packet layout: :mod:`gnuradio.deepquant.ofdm.mimo`).
* :mod:`.mimo_ofdm_impairments`   multipath per antenna pair (EPA-like, or 3GPP CDL-A of the
  whole array; one independent draw per packet), CFO, white noise and a sampling-rate offset, in
  the time domain; its sample-synchronous part is :mod:`.mimo_ofdm_fading_core` around
  :class:`gnuradio.deepquant.ofdm.mimo_channel.MimoMultipathChannel`.
* :mod:`.mimo_ofdm_rx`            Nr receive chains sharing one Schmidl & Cox timing and CFO
  estimate -> y, H, sigma^2 per data channel use for ``mimo_detector``, built from
  :mod:`.mimo_ofdm_header_decoder`, :mod:`.mimo_ofdm_payload_estimator` and
  :mod:`.sc_trigger_holdoff` (per-packet numerics: :mod:`gnuradio.deepquant.ofdm.mimo_rx`).

Conventions: y = H x + n per data subcarrier, H (Nr x Nt, row-major), unit-energy 38.211 QAM per
stream, ``n ~ CN(0, sigma^2 I)``; SNR = E||H||_F^2 / sigma^2 (EQ-Net's definition).
"""

from __future__ import annotations

from ..ofdm.mimo import td_layout as make_layout
from ..ofdm.mimo_channel import MODELS
from .mimo_ofdm_fading_core import mimo_ofdm_fading_core
from .mimo_ofdm_header_decoder import mimo_ofdm_header_decoder
from .mimo_ofdm_impairments import mimo_ofdm_impairments
from .mimo_ofdm_payload_estimator import mimo_ofdm_payload_estimator
from .mimo_ofdm_rx import mimo_ofdm_rx
from .mimo_ofdm_tx import mimo_ofdm_tx
from .sc_trigger_holdoff import sc_trigger_holdoff

__all__ = [
    "MODELS",
    "make_layout",
    "mimo_ofdm_tx",
    "mimo_ofdm_fading_core",
    "mimo_ofdm_impairments",
    "mimo_ofdm_header_decoder",
    "mimo_ofdm_payload_estimator",
    "sc_trigger_holdoff",
    "mimo_ofdm_rx",
]
