/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_OFDM_CHANNEL_NOISE_ESTIMATOR_VCC_IMPL_H
#define INCLUDED_DEEPQUANT_OFDM_CHANNEL_NOISE_ESTIMATOR_VCC_IMPL_H

#include <gnuradio/deepquant/ofdm_channel_noise_estimator_vcc.h>
#include <pmt/pmt.h>
#include <atomic>
#include <deque>
#include <mutex>

namespace gr {
namespace deepquant {

class ofdm_channel_noise_estimator_vcc_impl : public ofdm_channel_noise_estimator_vcc
{
private:
    using cf = std::complex<float>;
    const ofdm_estimator d_est;
    const std::vector<int> d_data;
    const qam_demapper d_dem;
    const ldpc_bp_decoder d_dec;
    const std::vector<std::complex<double>> d_points;
    const int d_n, d_rows;
    const bool d_df;
    const int d_max_iter, d_rounds;
    const bool d_soft;
    const int d_taps_post;
    const bool d_tracking, d_add_err;
    const pmt::pmt_t d_key, d_nv_key, d_err_key;

    // the current frame: its estimate (fft_len), sigma^2 and error variance / sigma^2
    bool d_frame_ok = false;
    std::vector<cf> d_h;
    double d_nv = 0.0, d_ef = 0.0;

    std::atomic<uint64_t> d_bad_tag{ 0 }, d_bad_out{ 0 };
    std::atomic<uint64_t> d_frames{ 0 }, d_known{ 0 }, d_skipped{ 0 }, d_unrefined{ 0 };
    uint64_t d_events_tag = 0, d_events_out = 0, d_events_fit = 0;
    mutable std::mutex d_mtx; // guards d_history, d_phases
    std::deque<double> d_history;
    std::vector<double> d_phases;

    // work buffers
    std::vector<cf> d_ytrk, d_yref, d_href;
    std::vector<double> d_ek, d_nvk, d_ph;

    void start_frame(const pmt::pmt_t& taps, uint64_t offset);
    bool tag_double(uint64_t offset, const pmt::pmt_t& key, double* v);
    void add_bad(std::atomic<uint64_t>& counter,
                 uint64_t& events,
                 uint64_t n,
                 const char* what);

public:
    ofdm_channel_noise_estimator_vcc_impl(const ofdm_estimator& estimator,
                                          const std::vector<int>& data_pos,
                                          const qam_demapper& demapper,
                                          const ldpc_bp_decoder& decoder,
                                          const std::vector<std::complex<double>>& points,
                                          int payload_symbols,
                                          bool decision_feedback,
                                          int max_iter,
                                          int feedback_rounds,
                                          bool soft_feedback,
                                          int taps_post,
                                          bool phase_tracking,
                                          bool add_estimation_error,
                                          const std::string& chan_tag_key);

    uint64_t bad_count() const override { return d_bad_tag.load() + d_bad_out.load(); }
    uint64_t df_frames() const override { return d_frames.load(); }
    uint64_t df_known() const override { return d_known.load(); }
    uint64_t df_skipped() const override { return d_skipped.load(); }
    uint64_t df_unrefined() const override { return d_unrefined.load(); }
    std::vector<double> noise_var_history() const override;
    std::vector<double> last_phases() const override;

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace deepquant
} // namespace gr

#endif
