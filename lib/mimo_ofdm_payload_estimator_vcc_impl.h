/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_MIMO_OFDM_PAYLOAD_ESTIMATOR_VCC_IMPL_H
#define INCLUDED_DEEPQUANT_MIMO_OFDM_PAYLOAD_ESTIMATOR_VCC_IMPL_H

#include <gnuradio/deepquant/mimo_ofdm_payload_estimator_vcc.h>
#include <pmt/pmt.h>
#include <atomic>
#include <deque>
#include <mutex>

namespace gr {
namespace deepquant {

class mimo_ofdm_payload_estimator_vcc_impl : public mimo_ofdm_payload_estimator_vcc
{
private:
    using cf = std::complex<float>;
    using cd = std::complex<double>;
    const ofdm_estimator d_est;
    const std::vector<int> d_data, d_pilots;
    const std::vector<cd> d_pilot_sym;
    const lmmse_detector d_det;
    const ldpc_bp_decoder d_dec;
    const std::vector<cd> d_points;
    const int d_n, d_nr, d_nt, d_rows;
    const double d_t0;
    const bool d_tracking, d_df;
    const int d_max_iter, d_rounds, d_taps_pre, d_taps_post;
    const pmt::pmt_t d_k_chan, d_k_nv, d_k_err, d_k_cols, d_k_num;

    // the current estimate: fft_len x nr x nt, sigma^2, column errors, sigma^2 + nt err
    bool d_have = false;
    std::vector<cf> d_h;
    double d_noise = 1.0, d_nv = 1.0;
    std::vector<double> d_err_cols;

    std::atomic<uint64_t> d_untagged{ 0 }, d_bad_tags{ 0 }, d_packets{ 0 }, d_known{ 0 },
        d_skipped{ 0 }, d_unrefined{ 0 };
    uint64_t d_events_tag = 0, d_events_fit = 0;
    mutable std::mutex d_mtx;
    std::deque<double> d_history;

    // work buffers
    std::vector<cf> d_ys, d_yu, d_hd;
    std::vector<double> d_eff;

    // payload_channel_uses: tracking (or none) and the channel uses of d_ys
    void channel_uses();

public:
    mimo_ofdm_payload_estimator_vcc_impl(const ofdm_estimator& estimator,
                                         const std::vector<int>& data_pos,
                                         const std::vector<int>& pilot_pos,
                                         const std::vector<cd>& pilot_symbols,
                                         const lmmse_detector& detector,
                                         const ldpc_bp_decoder& decoder,
                                         const std::vector<cd>& points,
                                         int payload_symbols,
                                         double t0,
                                         bool phase_tracking,
                                         bool decision_feedback,
                                         int max_iter,
                                         int feedback_rounds,
                                         int taps_pre,
                                         int taps_post,
                                         const std::string& chan_key);

    uint64_t untagged() const override { return d_untagged.load(); }
    uint64_t bad_tags() const override { return d_bad_tags.load(); }
    uint64_t df_packets() const override { return d_packets.load(); }
    uint64_t df_known() const override { return d_known.load(); }
    uint64_t df_skipped() const override { return d_skipped.load(); }
    uint64_t df_unrefined() const override { return d_unrefined.load(); }
    std::vector<double> noise_var_history() const override;

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace deepquant
} // namespace gr

#endif
