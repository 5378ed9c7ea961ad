/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ofdm_header_decoder_impl.h"
#include <gnuradio/io_signature.h>
#include <stdexcept>

namespace gr {
namespace deepquant {

ofdm_header_decoder::sptr
ofdm_header_decoder::make(const ofdm_estimator& estimator,
                          const std::vector<std::complex<float>>& x_sync,
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
                          const std::string& err_key)
{
    const int n = estimator.fft_len();
    if (x_sync.size() != std::size_t(2 * n))
        throw std::invalid_argument(
            "ofdm_header_decoder: x_sync must hold the 2 x fft_len known sync words");
    if (n_hdr < 1 || n_codewords < 1 || payload_symbols < 1 || data_symbols < 1)
        throw std::invalid_argument(
            "ofdm_header_decoder: n_hdr, n_codewords, payload_symbols "
            "and data_symbols must be >= 1");
    if (taps_pre < 0 || taps_post < 0 || taps_pre + taps_post + 1 > n / 2)
        throw std::invalid_argument(
            "ofdm_header_decoder: taps_pre, taps_post must be >= 0 "
            "with taps_pre + taps_post + 1 <= fft_len / 2");
    return gnuradio::make_block_sptr<ofdm_header_decoder_impl>(estimator,
                                                               x_sync,
                                                               n_hdr,
                                                               n_codewords,
                                                               payload_symbols,
                                                               data_symbols,
                                                               taps_pre,
                                                               taps_post,
                                                               frame_key,
                                                               len_key,
                                                               num_key,
                                                               chan_key,
                                                               nv_key,
                                                               err_key);
}

ofdm_header_decoder_impl::ofdm_header_decoder_impl(const ofdm_estimator& estimator,
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
                                                   const std::string& err_key)
    : gr::sync_block(
          "ofdm_header_decoder",
          gr::io_signature::make(1, 1, sizeof(gr_complex) * estimator.fft_len()),
          gr::io_signature::make(0, 0, 0)),
      d_est(estimator),
      d_x_sync(x_sync),
      d_n(estimator.fft_len()),
      d_hdr(n_hdr),
      d_ncw(n_codewords),
      d_taps_pre(taps_pre),
      d_taps_post(taps_post),
      d_port(pmt::intern("header_data")),
      d_k_frame(pmt::intern(frame_key)),
      d_v_frame(pmt::from_long(payload_symbols)),
      d_k_len(pmt::intern(len_key)),
      d_v_len(pmt::from_long(data_symbols)),
      d_k_num(pmt::intern(num_key)),
      d_k_chan(pmt::intern(chan_key)),
      d_k_nv(pmt::intern(nv_key)),
      d_k_err(pmt::intern(err_key)),
      d_h(estimator.fft_len())
{
    message_port_register_out(d_port);
}

void ofdm_header_decoder_impl::packet(const cf* ys)
{
    int num = 0, ncw = 0;
    double nv = 0.0, err = 0.0;
    const int st = d_est.decode_header(ys,
                                       d_hdr,
                                       d_x_sync.data(),
                                       d_taps_pre,
                                       d_taps_post,
                                       &num,
                                       &ncw,
                                       d_h.data(),
                                       &nv,
                                       &err);
    if (st < 0) {
        const uint64_t f = ++d_fit_failed;
        d_events++;
        if ((d_events & (d_events - 1)) == 0)
            d_logger->warn("header fit not positive definite (non-finite or degenerate "
                           "samples): header answered as failed; {:d} so far",
                           f);
    }
    if (st != 1 || ncw != d_ncw) {
        d_failed++;
        message_port_pub(d_port, pmt::PMT_F);
        return;
    }
    d_ok++;
    pmt::pmt_t d = pmt::make_dict();
    d = pmt::dict_add(d, d_k_frame, d_v_frame);
    d = pmt::dict_add(d, d_k_len, d_v_len);
    d = pmt::dict_add(d, d_k_num, pmt::from_long(num));
    d = pmt::dict_add(d, d_k_chan, pmt::init_c32vector(std::size_t(d_n), d_h));
    d = pmt::dict_add(d, d_k_nv, pmt::from_double(nv));
    d = pmt::dict_add(d, d_k_err, pmt::from_double(err));
    message_port_pub(d_port, d);
}

int ofdm_header_decoder_impl::work(int noutput_items,
                                   gr_vector_const_void_star& input_items,
                                   gr_vector_void_star& output_items)
{
    const cf* x = static_cast<const cf*>(input_items[0]);
    const std::size_t N = std::size_t(d_n), per = std::size_t(2 + d_hdr) * N;
    const std::size_t total = std::size_t(noutput_items) * N;
    std::size_t i = 0;
    if (!d_pending.empty()) { // complete the packet begun in an earlier call
        i = std::min(total, per - d_pending.size());
        d_pending.insert(d_pending.end(), x, x + i);
        if (d_pending.size() == per) {
            packet(d_pending.data());
            d_pending.clear();
        }
    }
    while (total - i >= per) { // whole packets straight from the input buffer
        packet(x + i);
        i += per;
    }
    d_pending.insert(d_pending.end(), x + i, x + total);
    return noutput_items;
}

} // namespace deepquant
} // namespace gr
