/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_MIMO_OFDM_PAYLOAD_ESTIMATOR_VCC_H
#define INCLUDED_DEEPQUANT_MIMO_OFDM_PAYLOAD_ESTIMATOR_VCC_H

#include <gnuradio/block.h>
#include <gnuradio/deepquant/api.h>
#include <gnuradio/deepquant/ldpc_bp_decoder.h>
#include <gnuradio/deepquant/lmmse_detector.h>
#include <gnuradio/deepquant/ofdm_estimator.h>
#include <gnuradio/sync_interpolator.h>
#include <complex>
#include <cstdint>
#include <string>
#include <vector>

namespace gr {
namespace deepquant {

/*!
 * \brief mimo_ofdm_rx's payload estimator (the Python mimo_ofdm_payload_estimator) in
 * C++: per packet the pilot common-phase tracking and, with decision feedback, the
 * decoder-aided re-estimation (ofdm_estimator::feedback_mimo: LMMSE, LDPC decoding,
 * refit, all rounds), then the channel uses for mimo_detector.
 *
 * Inputs: nr streams of fft-shifted payload symbols (payload_symbols T per packet), the
 * first symbol of each packet on input 0 tagged with the channel estimate (chan_key,
 * c32vector fft_len x nr x nt), "dq_noise_var", "dq_est_err_var", optionally
 * "dq_est_err_var_cols" (f64vector nt) and "ofdm_packet_num". Outputs, one item per data
 * channel use (T x n_data per packet, symbol-major): 0 y (vlen nr), 1 H (vlen nr x nt,
 * row-major), 2 sigma^2 (float: sigma^2 + nt err from the preamble, or sigma^2 + the
 * refined estimate's error per carrier). The packet number goes out as a tag on output 0.
 *
 * Bad input never stops the flowgraph: packets before the first valid estimate go out as
 * y = 0, H = 0, sigma^2 = 1 (counted: untagged / bad_tags); packets with NaN/inf samples
 * are not re-estimated (df_skipped; mimo_detector flags their channel uses); a refit
 * whose normal matrix is not positive definite leaves the packet tracked but unrefined
 * (df_unrefined; the Python block takes the numeric core's pseudo-inverse there).
 */
class DEEPQUANT_API mimo_ofdm_payload_estimator_vcc : virtual public gr::sync_interpolator
{
public:
    typedef std::shared_ptr<mimo_ofdm_payload_estimator_vcc> sptr;

    /*!
     * \param estimator the layout's estimator kernel. \param data_pos, pilot_pos the data
     * and pilot carriers' positions in the fft-shifted vector (OfdmLayout.data_idx,
     * pilot_idx). \param pilot_symbols one per pilot. \param detector, decoder, points
     * the re-estimation's LMMSE detector (nr x nt), 648-bit LDPC decoder and
     * constellation. \param payload_symbols T. \param t0 index of the first payload
     * symbol on the phase fit's time axis. \param phase_tracking, decision_feedback,
     * max_iter, feedback_rounds, taps_pre, taps_post as mimo_ofdm_payload_estimator.
     */
    static sptr make(const ofdm_estimator& estimator,
                     const std::vector<int>& data_pos,
                     const std::vector<int>& pilot_pos,
                     const std::vector<std::complex<double>>& pilot_symbols,
                     const lmmse_detector& detector,
                     const ldpc_bp_decoder& decoder,
                     const std::vector<std::complex<double>>& points,
                     int payload_symbols,
                     double t0,
                     bool phase_tracking = true,
                     bool decision_feedback = true,
                     int max_iter = 50,
                     int feedback_rounds = 2,
                     int taps_pre = 0,
                     int taps_post = 20,
                     const std::string& chan_key = "dq_mimo_chan_est");

    //! packets without a channel-estimate tag; estimate tags that were not valid
    virtual uint64_t untagged() const = 0;
    virtual uint64_t bad_tags() const = 0;
    //! packets re-estimated, codewords validated in them, packets skipped (NaN/inf),
    //! packets left unrefined (fit not positive definite)
    virtual uint64_t df_packets() const = 0;
    virtual uint64_t df_known() const = 0;
    virtual uint64_t df_skipped() const = 0;
    virtual uint64_t df_unrefined() const = 0;
    //! the mean sigma^2 output of the latest packets (up to 1000)
    virtual std::vector<double> noise_var_history() const = 0;
};

} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_MIMO_OFDM_PAYLOAD_ESTIMATOR_VCC_H */
