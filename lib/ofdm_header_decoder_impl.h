/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_OFDM_HEADER_DECODER_IMPL_H
#define INCLUDED_DEEPQUANT_OFDM_HEADER_DECODER_IMPL_H

#include <gnuradio/deepquant/ofdm_header_decoder.h>
#include <pmt/pmt.h>
#include <atomic>

namespace gr {
namespace deepquant {

class ofdm_header_decoder_impl : public ofdm_header_decoder
{
private:
    using cf = std::complex<float>;
    const ofdm_estimator d_est;
    const std::vector<cf> d_x_sync;
    const int d_n, d_hdr, d_ncw, d_taps_pre, d_taps_post;
    const pmt::pmt_t d_port, d_k_frame, d_v_frame, d_k_len, d_v_len, d_k_num, d_k_chan,
        d_k_nv, d_k_err;
    std::vector<cf> d_pending, d_h; // a packet begun in an earlier call; the estimate
    std::atomic<uint64_t> d_ok{ 0 }, d_failed{ 0 }, d_fit_failed{ 0 };
    uint64_t d_events = 0;

    void packet(const cf* ys);

public:
    ofdm_header_decoder_impl(const ofdm_estimator& estimator,
                             const std::vector<cf>& x_sync,
                             int n_hdr,
                             int n_codewords,
                             int payload_symbols,
                             int data_symbols,
                             int taps_pre,
                             int taps_post,
                             const std::string& frame_key,
                             const std::string& len_key,
                             const std::string& num_key,
                             const std::string& chan_key,
                             const std::string& nv_key,
                             const std::string& err_key);

    uint64_t headers_ok() const override { return d_ok.load(); }
    uint64_t headers_failed() const override { return d_failed.load(); }
    uint64_t fit_failures() const override { return d_fit_failed.load(); }

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace deepquant
} // namespace gr

#endif
