"""Flowgraph 2 blocks: 2x2 (any Nr x Nt) MIMO-OFDM frames in the frequency domain --
``mimo_ofdm_framer`` (orthogonal pilot symbols + data), ``mimo_ofdm_channel`` (per-subcarrier
MIMO channel, one realisation per frame) and ``mimo_ofdm_ls_estimator`` (pilot LS channel,
smoothed over frequency, noise variance) feeding ``mimo_detector``; each block lives in its own
module, and this one re-exports them under the import path they had when they shared a file.

These are the **ideal-sync reference** of flowgraph 2 (``apps.mimo_ofdm.run_fd``,
``scripts/reproduce_mimo_ofdm.py --domain frequency``): frames are aligned resource grids
(perfect timing and frequency), which isolates detection and channel estimation. Flowgraph 2
itself runs in the time domain with real OFDM modulation and shared Schmidl & Cox
synchronisation: :mod:`gnuradio.deepquant.blocks.mimo_ofdm_td` (an index of its blocks).
"""

from __future__ import annotations

from .mimo_ofdm_channel import mimo_ofdm_channel
from .mimo_ofdm_framer import mimo_ofdm_framer
from .mimo_ofdm_ls_estimator import mimo_ofdm_ls_estimator

__all__ = ["mimo_ofdm_channel", "mimo_ofdm_framer", "mimo_ofdm_ls_estimator"]
