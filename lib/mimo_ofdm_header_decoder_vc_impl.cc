/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "mimo_ofdm_header_decoder_vc_impl.h"
#include <gnuradio/io_signature.h>
#include <stdexcept>

namespace gr {
namespace deepquant {

namespace {
constexpr std::size_t HISTORY = 1000;
}

mimo_ofdm_header_decoder_vc::sptr
mimo_ofdm_header_decoder_vc::make(const ofdm_estimator& estimator,
                                  const std::vector<std::complex<float>>& w2,
                                  int nr,
                                  int nt,
                                  int n_hdr,
                                  int n_codewords,
                                  int payload_symbols,
                                  int taps_pre,
                                  int taps_post,
                                  bool refine,
                                  const std::string& chan_key)
{
    if (w2.size() != std::size_t(estimator.fft_len()))
        throw std::invalid_argument(
            "mimo_ofdm_header_decoder_vc: w2 must hold fft_len values");
    if (nr < 1 || nt < 1 || n_hdr < 1 || n_codewords < 1 || payload_symbols < 1)
        throw std::invalid_argument(
            "mimo_ofdm_header_decoder_vc: nr, nt, n_hdr, n_codewords "
            "and payload_symbols must be >= 1");
    if (taps_pre < 0 || taps_post < 0)
        throw std::invalid_argument(
            "mimo_ofdm_header_decoder_vc: taps_pre and taps_post must be >= 0");
    return gnuradio::make_block_sptr<mimo_ofdm_header_decoder_vc_impl>(estimator,
                                                                       w2,
                                                                       nr,
                                                                       nt,
                                                                       n_hdr,
                                                                       n_codewords,
                                                                       payload_symbols,
                                                                       taps_pre,
                                                                       taps_post,
                                                                       refine,
                                                                       chan_key);
}

mimo_ofdm_header_decoder_vc_impl::mimo_ofdm_header_decoder_vc_impl(
    const ofdm_estimator& estimator,
    const std::vector<cf>& w2,
    int nr,
    int nt,
    int n_hdr,
    int n_codewords,
    int payload_symbols,
    int taps_pre,
    int taps_post,
    bool refine,
    const std::string& chan_key)
    : gr::sync_block(
          "mimo_ofdm_header_decoder_vc",
          gr::io_signature::make(nr, nr, sizeof(gr_complex) * estimator.fft_len()),
          gr::io_signature::make(0, 0, 0)),
      d_est(estimator),
      d_w2(w2),
      d_n(estimator.fft_len()),
      d_nr(nr),
      d_nt(nt),
      d_hdr(n_hdr),
      d_ncw(n_codewords),
      d_taps_pre(taps_pre),
      d_taps_post(taps_post),
      d_refine(refine),
      d_port(pmt::intern("header_data")),
      d_k_frame(pmt::intern("frame_len")),
      d_v_frame(pmt::from_long(payload_symbols)),
      d_k_len(pmt::intern("packet_len")),
      d_v_len(pmt::from_long(long(payload_symbols) * estimator.n_data())),
      d_k_num(pmt::intern("ofdm_packet_num")),
      d_k_chan(pmt::intern(chan_key)),
      d_k_nv(pmt::intern("dq_noise_var")),
      d_k_err(pmt::intern("dq_est_err_var")),
      d_k_cols(pmt::intern("dq_est_err_var_cols")),
      d_pending(nr),
      d_ys(std::size_t(nr) * (1 + nt + n_hdr) * estimator.fft_len()),
      d_h(std::size_t(estimator.fft_len()) * nr * nt),
      d_err_cols(nt)
{
    message_port_register_out(d_port);
}

std::vector<double> mimo_ofdm_header_decoder_vc_impl::cfo_residual() const
{
    std::lock_guard<std::mutex> lock(d_mtx);
    return std::vector<double>(d_cfo.begin(), d_cfo.end());
}

void mimo_ofdm_header_decoder_vc_impl::packet(const cf* ys)
{
    int num = 0, ncw = 0;
    double nv = 0.0, err = 0.0, phi = 0.0;
    const int st = d_est.decode_header_mimo(ys,
                                            d_nr,
                                            d_nt,
                                            d_hdr,
                                            d_w2.data(),
                                            d_taps_pre,
                                            d_taps_post,
                                            d_refine,
                                            &num,
                                            &ncw,
                                            d_h.data(),
                                            &nv,
                                            &err,
                                            d_err_cols.data(),
                                            &phi);
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
    {
        std::lock_guard<std::mutex> lock(d_mtx);
        d_cfo.push_back(phi);
        if (d_cfo.size() > HISTORY)
            d_cfo.pop_front();
    }
    pmt::pmt_t d = pmt::make_dict();
    d = pmt::dict_add(d, d_k_frame, d_v_frame);
    d = pmt::dict_add(d, d_k_len, d_v_len);
    d = pmt::dict_add(d, d_k_num, pmt::from_long(num));
    d = pmt::dict_add(d, d_k_chan, pmt::init_c32vector(d_h.size(), d_h));
    d = pmt::dict_add(d, d_k_nv, pmt::from_double(nv));
    d = pmt::dict_add(d, d_k_err, pmt::from_double(err));
    d = pmt::dict_add(d, d_k_cols, pmt::init_f64vector(d_err_cols.size(), d_err_cols));
    message_port_pub(d_port, d);
}

int mimo_ofdm_header_decoder_vc_impl::work(int noutput_items,
                                           gr_vector_const_void_star& input_items,
                                           gr_vector_void_star& output_items)
{
    const std::size_t N = std::size_t(d_n), per = std::size_t(1 + d_nt + d_hdr) * N;
    const std::size_t total = std::size_t(noutput_items) * N;
    std::size_t i = 0;
    if (!d_pending[0].empty()) { // complete the packet begun in an earlier call
        i = std::min(total, per - d_pending[0].size());
        for (int r = 0; r < d_nr; r++) {
            const cf* x = static_cast<const cf*>(input_items[r]);
            d_pending[r].insert(d_pending[r].end(), x, x + i);
        }
        if (d_pending[0].size() == per) {
            for (int r = 0; r < d_nr; r++)
                std::copy(
                    d_pending[r].begin(), d_pending[r].end(), d_ys.begin() + r * per);
            packet(d_ys.data());
            for (auto& p : d_pending)
                p.clear();
        }
    }
    while (total - i >= per) {
        for (int r = 0; r < d_nr; r++) {
            const cf* x = static_cast<const cf*>(input_items[r]) + i;
            std::copy(x, x + per, d_ys.begin() + r * per);
        }
        packet(d_ys.data());
        i += per;
    }
    for (int r = 0; r < d_nr; r++) {
        const cf* x = static_cast<const cf*>(input_items[r]);
        d_pending[r].insert(d_pending[r].end(), x + i, x + total);
    }
    return noutput_items;
}

} // namespace deepquant
} // namespace gr
