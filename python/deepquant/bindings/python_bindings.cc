/*
 * Copyright 2020 Free Software Foundation, Inc.
 *
 * This file is part of GNU Radio
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 */

#include <pybind11/pybind11.h>

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

namespace py = pybind11;

// Headers for binding functions
/**************************************/
// The following comment block is used for
// gr_modtool to insert function prototypes
// Please do not delete
/**************************************/
// BINDING_FUNCTION_PROTOTYPES(
    void bind_scalar_quantizer(py::module& m);
    void bind_quantizer_fb(py::module& m);
    void bind_quantizer_ff(py::module& m);
    void bind_dequantizer_bf(py::module& m);
    void bind_adc_cc(py::module& m);
    void bind_rans_coder(py::module& m);
    void bind_mlp_f32(py::module& m);
    void bind_pdu_utils(py::module& m);
    void bind_ldpc_bp_decoder(py::module& m);
    void bind_qam_demapper(py::module& m);
    void bind_lmmse_detector(py::module& m);
    void bind_ofdm_estimator(py::module& m);
    void bind_exact_mixer_cc(py::module& m);
    void bind_finite_guard_cc(py::module& m);
    void bind_ofdm_channel_noise_estimator_vcc(py::module& m);
    void bind_ofdm_header_decoder(py::module& m);
    void bind_soft_demapper_stream_cf(py::module& m);
    void bind_mimo_ofdm_payload_estimator_vcc(py::module& m);
    void bind_mimo_ofdm_header_decoder_vc(py::module& m);
    void bind_llr_to_gr_order_ff(py::module& m);
    void bind_sc_correlator_ccf(py::module& m);
    void bind_eqnet_detector(py::module& m);
    void bind_ep_detector(py::module& m);
// ) END BINDING_FUNCTION_PROTOTYPES


// We need this hack because import_array() returns NULL
// for newer Python versions.
// This function is also necessary because it ensures access to the C API
// and removes a warning.
void* init_numpy()
{
    import_array();
    return NULL;
}

PYBIND11_MODULE(deepquant_python, m)
{
    // Initialize the numpy C API
    // (otherwise we will see segmentation faults)
    init_numpy();

    // Allow access to base block methods
    py::module::import("gnuradio.gr");

    /**************************************/
    // The following comment block is used for
    // gr_modtool to insert binding function calls
    // Please do not delete
    /**************************************/
    // BINDING_FUNCTION_CALLS(
    bind_scalar_quantizer(m);
    bind_quantizer_fb(m);
    bind_quantizer_ff(m);
    bind_dequantizer_bf(m);
    bind_adc_cc(m);
    bind_rans_coder(m);
    bind_mlp_f32(m);
    bind_pdu_utils(m);
    bind_ldpc_bp_decoder(m);
    bind_qam_demapper(m);
    bind_lmmse_detector(m);
    bind_ofdm_estimator(m);
    bind_exact_mixer_cc(m);
    bind_finite_guard_cc(m);
    bind_ofdm_channel_noise_estimator_vcc(m);
    bind_ofdm_header_decoder(m);
    bind_soft_demapper_stream_cf(m);
    bind_mimo_ofdm_payload_estimator_vcc(m);
    bind_mimo_ofdm_header_decoder_vc(m);
    bind_llr_to_gr_order_ff(m);
    bind_sc_correlator_ccf(m);
    bind_eqnet_detector(m);
    bind_ep_detector(m);
    // ) END BINDING_FUNCTION_CALLS
}