#
# Copyright 2026 gr-deepquant authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""gr-deepquant: learned, quantization-aware receiver and transmitter processing for GNU Radio.

Conventions used everywhere in the module:

* LLR ``L = ln P(b=1|y) / P(b=0|y)`` (positive means bit 1).
* QAM bit labelling of 3GPP TS 38.211 §5.1, unit average symbol energy.
* MIMO channel use ``y = H x + n``: y (Nr,), H (Nr, Nt) row-major when flattened, x (Nt,),
  ``n ~ CN(0, sigma^2 I)``; LLRs stream-major (all K bits of stream 0, then stream 1, ...).

Layers: the numeric core (``phy``, ``ofdm``, ``chanest``, ``softbit``, ``eqnet``, ``slp``;
numpy/torch) imports neither GNU Radio's runtime nor the blocks, so ``import
gnuradio.deepquant.phy`` works without loading ``gnuradio.gr``; :mod:`.registry` names the
detectors and compressors above it; the blocks (``blocks/``) adapt streams, tags and PDUs to it.

The C++ blocks and kernels (``quantizer_ff``, ``scalar_quantizer``, ``rans_coder``, ...) come from
the compiled bindings and the Python blocks from ``blocks/``; both are imported on first use of
their name, so importing the package (or a numeric sub-package) loads neither GNU Radio's
runtime nor torch. An error importing the compiled bindings is a real installation problem and
surfaces at that first use.
"""

import importlib

from ._version import __version__  # noqa: F401

# Names of the compiled bindings (deepquant_python), imported on first use.
_BINDINGS = (
    "adc_cc",
    "dequantizer_bf",
    "eqnet_detector",
    "ep_detector",
    "exact_mixer_cc",
    "finite_guard_cc",
    "ldpc_bp_decoder",
    "llr_to_gr_order_ff",
    "lmmse_detector",
    "mimo_ofdm_header_decoder_vc",
    "mimo_ofdm_payload_estimator_vcc",
    "mlp_f32",
    "ofdm_channel_noise_estimator_vcc",
    "ofdm_estimator",
    "ofdm_header_decoder",
    "publish_frames",
    "qam_demapper",
    "quantizer_fb",
    "quantizer_ff",
    "rans_coder",
    "rans_error",
    "sc_correlator_ccf",
    "scalar_quantizer",
    "soft_demapper_stream_cf",
    "u8vector_to_bytes",
)

# Python blocks, imported lazily (name -> module inside the package).
_LAZY_BLOCKS = {
    "qam_mapper": "blocks.qam_mapper",
    "soft_demapper_cf": "blocks.soft_demapper_cf",
    "mimo_detector": "blocks.mimo_detector",
    "ldpc_encoder_bb": "blocks.ldpc_blocks",
    "ldpc_decoder_fb": "blocks.ldpc_blocks",
    "bit_interleaver": "blocks.ldpc_blocks",
    "frame_error_counter": "blocks.frame_error_counter",
    "mimo_channel": "blocks.mimo_channel",
    "mu_uplink_channel": "blocks.mu_uplink_channel",
    "tbq_channel_estimator": "blocks.tbq_channel_estimator",
    "mmse_channel_estimator": "blocks.mmse_channel_estimator",
    "uniform_adc_channel_estimator": "blocks.uniform_adc_channel_estimator",
    "softbit_compressor": "blocks.softbit_blocks",
    "softbit_decompressor": "blocks.softbit_blocks",
    "harq_buffer": "blocks.harq_buffer",
    "eqnet_quantizer": "blocks.eqnet_blocks",
    "eqnet_dequantizer": "blocks.eqnet_blocks",
    "slp_precoder": "blocks.slp_blocks",
    "mu_miso_channel": "blocks.slp_blocks",
    "psk_detector": "blocks.slp_blocks",
    "symbol_error_counter": "blocks.slp_blocks",
    "ofdm_tx": "blocks.ofdm_tx",
    "ofdm_rx": "blocks.ofdm_rx",
    "ofdm_pilot_phase_tracker": "blocks.ofdm_pilot_phase_tracker",
    "ofdm_channel_noise_estimator": "blocks.ofdm_channel_noise_estimator",
    "ofdm_impairments": "blocks.ofdm_impairments",
    "block_fading_cc": "blocks.ofdm_impairments",
    "ofdm_fer_counter": "blocks.ofdm_fer_counter",
    "packet_crc_check": "blocks.packet_crc_check",
    "mimo_ofdm_framer": "blocks.mimo_ofdm_framer",
    "mimo_ofdm_channel": "blocks.mimo_ofdm_channel",
    "mimo_ofdm_ls_estimator": "blocks.mimo_ofdm_ls_estimator",
    # time-domain MIMO-OFDM (flowgraph 2, branch ofdm2)
    "mimo_ofdm_tx": "blocks.mimo_ofdm_tx",
    "mimo_ofdm_impairments": "blocks.mimo_ofdm_impairments",
    "mimo_ofdm_rx": "blocks.mimo_ofdm_rx",
    # HARQ in flowgraph 1 (branch ofdm2)
    "harq_combiner_ff": "blocks.harq_combiner_ff",
}


def __getattr__(name):
    if name in _BINDINGS:
        from . import deepquant_python

        obj = getattr(deepquant_python, name)
        globals()[name] = obj
        return obj
    if name in _LAZY_BLOCKS:
        mod = importlib.import_module("." + _LAZY_BLOCKS[name], __name__)
        obj = getattr(mod, name)
        globals()[name] = obj
        return obj
    raise AttributeError(f"module 'gnuradio.deepquant' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_BINDINGS) + list(_LAZY_BLOCKS))
