/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_MIMO_OFDM_HEADER_DECODER_VC_H
#define INCLUDED_DEEPQUANT_MIMO_OFDM_HEADER_DECODER_VC_H

#include <gnuradio/deepquant/api.h>
#include <gnuradio/deepquant/ofdm_estimator.h>
#include <gnuradio/sync_block.h>
#include <complex>
#include <cstdint>
#include <string>
#include <vector>

namespace gr {
namespace deepquant {

/*!
 * \brief mimo_ofdm_rx's header decoder (the Python mimo_ofdm_header_decoder) in C++: per
 * packet ofdm_estimator::decode_header_mimo (LS estimate per antenna pair from the
 * training symbols, header MRC over the chains, CRC-8, column alignment against the
 * residual CFO, column 0 refined with the decoded header) and the answer to every chain's
 * header_payload_demux.
 *
 * Inputs: nr streams of fft-shifted symbols, 1 + nt + n_hdr per trigger (Schmidl & Cox
 * word, training symbols, header). Message output "header_data": a dict (frame_len,
 * packet_len, ofdm_packet_num, chan_key: c32vector fft_len x nr x nt, dq_noise_var,
 * dq_est_err_var, dq_est_err_var_cols: f64vector nt) when the CRC holds and the header
 * names n_codewords codewords, else #f. A fit that fails (not positive definite; the
 * Python block takes the numeric core there) is answered #f and counted (fit_failures).
 */
class DEEPQUANT_API mimo_ofdm_header_decoder_vc : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<mimo_ofdm_header_decoder_vc> sptr;

    /*!
     * \param estimator the layout's estimator kernel. \param w2 sync word 2 (fft_len).
     * \param nr, nt receive chains and streams. \param n_hdr header OFDM symbols.
     * \param n_codewords codewords per packet the header must name. \param
     * payload_symbols OFDM symbols per packet (frame_len; packet_len = payload_symbols x
     * n_data). \param taps_pre, taps_post, refine as mimo_ofdm_header_decoder.
     */
    static sptr make(const ofdm_estimator& estimator,
                     const std::vector<std::complex<float>>& w2,
                     int nr,
                     int nt,
                     int n_hdr,
                     int n_codewords,
                     int payload_symbols,
                     int taps_pre = 0,
                     int taps_post = 20,
                     bool refine = true,
                     const std::string& chan_key = "dq_mimo_chan_est");

    virtual uint64_t headers_ok() const = 0;
    virtual uint64_t headers_failed() const = 0;
    //! headers answered #f because a fit failed (included in headers_failed)
    virtual uint64_t fit_failures() const = 0;
    //! residual CFO (rad per symbol) of the latest decoded headers (up to 1000)
    virtual std::vector<double> cfo_residual() const = 0;
};

} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_MIMO_OFDM_HEADER_DECODER_VC_H */
