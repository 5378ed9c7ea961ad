/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_MIMO_OFDM_HEADER_DECODER_VC_IMPL_H
#define INCLUDED_DEEPQUANT_MIMO_OFDM_HEADER_DECODER_VC_IMPL_H

#include <gnuradio/deepquant/mimo_ofdm_header_decoder_vc.h>
#include <pmt/pmt.h>
#include <atomic>
#include <deque>
#include <mutex>

namespace gr {
namespace deepquant {

class mimo_ofdm_header_decoder_vc_impl : public mimo_ofdm_header_decoder_vc
{
private:
    using cf = std::complex<float>;
    const ofdm_estimator d_est;
    const std::vector<cf> d_w2;
    const int d_n, d_nr, d_nt, d_hdr, d_ncw, d_taps_pre, d_taps_post;
    const bool d_refine;
    const pmt::pmt_t d_port, d_k_frame, d_v_frame, d_k_len, d_v_len, d_k_num, d_k_chan,
        d_k_nv, d_k_err, d_k_cols;
    std::vector<std::vector<cf>>
        d_pending; // per chain: symbols of a packet begun earlier
    std::vector<cf> d_ys, d_h;
    std::vector<double> d_err_cols;
    std::atomic<uint64_t> d_ok{ 0 }, d_failed{ 0 }, d_fit_failed{ 0 };
    uint64_t d_events = 0;
    mutable std::mutex d_mtx;
    std::deque<double> d_cfo;

    void packet(const cf* ys);

public:
    mimo_ofdm_header_decoder_vc_impl(const ofdm_estimator& estimator,
                                     const std::vector<cf>& w2,
                                     int nr,
                                     int nt,
                                     int n_hdr,
                                     int n_codewords,
                                     int payload_symbols,
                                     int taps_pre,
                                     int taps_post,
                                     bool refine,
                                     const std::string& chan_key);

    uint64_t headers_ok() const override { return d_ok.load(); }
    uint64_t headers_failed() const override { return d_failed.load(); }
    uint64_t fit_failures() const override { return d_fit_failed.load(); }
    std::vector<double> cfo_residual() const override;

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace deepquant
} // namespace gr

#endif
