/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_OFDM_CHANNEL_NOISE_ESTIMATOR_VCC_H
#define INCLUDED_DEEPQUANT_OFDM_CHANNEL_NOISE_ESTIMATOR_VCC_H

#include <gnuradio/deepquant/api.h>
#include <gnuradio/deepquant/ldpc_bp_decoder.h>
#include <gnuradio/deepquant/ofdm_estimator.h>
#include <gnuradio/deepquant/qam_demapper.h>
#include <gnuradio/sync_interpolator.h>
#include <complex>
#include <cstdint>
#include <string>
#include <vector>

namespace gr {
namespace deepquant {

/*!
 * \brief The payload path of ofdm_rx's ofdm_channel_noise_estimator (Python block, with
 * chan_tag_key = "dq_chan_est"), in one C++ block: per frame the pilot phase tracking
 * (ofdm_estimator::track), the decoder-aided re-estimation (ofdm_estimator::feedback: all
 * demap / decode / refit rounds) and the (y, h, sigma^2) streams for the soft demapper.
 *
 * Input: fft-shifted payload OFDM symbols (vectors of fft_len), frames started by the
 * \p chan_tag_key tag (fft_len complex64 taps) with the "dq_noise_var" and
 * "dq_est_err_var" tags at the same offset (ofdm_rx's header decoder). Outputs, one item
 * per data carrier of every symbol: 0 y (complex), 1 h (complex), 2 sigma^2 (float); with
 * add_estimation_error sigma^2 + the refined estimate's per-carrier error variance, or
 * sigma^2 (1 + err/sigma^2) when the frame was not refined.
 *
 * Bad input never stops the flowgraph and is counted (bad_count) and logged rate-limited:
 * symbols before the first valid tag, or of a frame whose taps / noise tags are missing
 * or invalid (non-finite taps, sigma^2 <= 0), go out with h = 1, sigma^2 = 1e3; rows with
 * NaN/inf samples and carriers with non-finite outputs go out as y = 0, h = 1,
 * sigma^2 = 1e3. Frames with non-finite samples are not re-estimated (df_skipped); a
 * refit whose normal matrix is not positive definite leaves the frame as estimated from
 * the preamble (df_unrefined; the Python block falls back to the numeric core's
 * pseudo-inverse there).
 */
class DEEPQUANT_API ofdm_channel_noise_estimator_vcc
    : virtual public gr::sync_interpolator
{
public:
    typedef std::shared_ptr<ofdm_channel_noise_estimator_vcc> sptr;

    /*!
     * \param estimator the layout's estimator kernel. \param data_pos the data carriers'
     * positions in the fft-shifted vector, in carrier order (OfdmLayout.data_idx).
     * \param demapper, decoder, points the re-estimation's exact demapper, 648-bit LDPC
     * decoder and constellation (2^K points in label order). \param payload_symbols OFDM
     * symbols per frame (the output multiple). \param decision_feedback re-estimate
     * whole frames from decoded codewords. \param max_iter, feedback_rounds,
     * soft_feedback, taps_post that re-estimation's settings
     * (ofdm_channel_noise_estimator). \param phase_tracking pilot common-phase tracking
     * first (linear fit over whole frames). \param add_estimation_error add the
     * estimate's error variance to sigma^2.
     */
    static sptr make(const ofdm_estimator& estimator,
                     const std::vector<int>& data_pos,
                     const qam_demapper& demapper,
                     const ldpc_bp_decoder& decoder,
                     const std::vector<std::complex<double>>& points,
                     int payload_symbols,
                     bool decision_feedback = true,
                     int max_iter = 50,
                     int feedback_rounds = 2,
                     bool soft_feedback = true,
                     int taps_post = 15,
                     bool phase_tracking = true,
                     bool add_estimation_error = true,
                     const std::string& chan_tag_key = "dq_chan_est");

    //! symbols / carriers output with the neutral values so far
    virtual uint64_t bad_count() const = 0;
    //! frames re-estimated, codewords known (validated) in them, frames skipped
    //! (NaN/inf), frames left unrefined (fit not positive definite)
    virtual uint64_t df_frames() const = 0;
    virtual uint64_t df_known() const = 0;
    virtual uint64_t df_skipped() const = 0;
    virtual uint64_t df_unrefined() const = 0;
    //! the mean sigma^2 output of the latest frames (up to 1000)
    virtual std::vector<double> noise_var_history() const = 0;
    //! the latest frame's tracked common phases (rad)
    virtual std::vector<double> last_phases() const = 0;
};

} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_OFDM_CHANNEL_NOISE_ESTIMATOR_VCC_H */
