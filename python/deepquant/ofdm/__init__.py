"""OFDM link numerics for the module's GNU Radio OFDM receivers (no GNU Radio import).

* :mod:`.layout`     -- the carrier layout, sync words, pilots and frame sizes shared by
  ``ofdm_tx`` / ``ofdm_rx`` (802.11a/g-like: 64-point FFT, 48 data + 4 pilot carriers).
* :mod:`.estimation` -- per-subcarrier channel smoothing, noise-variance estimation and
  pilot-based common-phase tracking (vectorised over symbols).
* :mod:`.channel`    -- EPA-like block-fading taps and the frequency-domain genie reference.
* :mod:`.reference`  -- the seeded reference payloads that transmitter and error counter share.

Conventions: subcarrier index ``k`` in ``[-fft_len/2, fft_len/2)``; vectors are fft-shifted
(index ``k + fft_len/2``), as GNU Radio's ``fft_vcc(shift=True)`` produces them. Per data
subcarrier: ``y = h x + n``, ``n ~ CN(0, sigma^2)``, x unit-energy 38.211 QAM.
"""

from .layout import OfdmLayout  # noqa: F401
