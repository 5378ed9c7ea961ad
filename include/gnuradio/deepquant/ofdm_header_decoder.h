/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_OFDM_HEADER_DECODER_H
#define INCLUDED_DEEPQUANT_OFDM_HEADER_DECODER_H

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
 * \brief ofdm_rx's header decoder (the Python header_decoder of blocks/ofdm_rx.py) as a
 * C++ block: per packet ofdm_estimator::decode_header (channel from the two sync words,
 * MRC of the header replicas, CRC-8, channel / sigma^2 / error variance re-estimated with
 * the header known) and the answer to header_payload_demux.
 *
 * Input: the 2 + n_hdr OFDM symbols header_payload_demux outputs per trigger, after
 * fft_vcc (fft-shifted vectors of fft_len: sync word 1, sync word 2, the header symbols).
 * Message output "header_data": a dict (frame_key: payload OFDM symbols, len_key: data
 * symbols, num_key: the packet number, chan_key: the estimate (c32vector of fft_len),
 * nv_key: sigma^2, err_key: the estimate's error variance) when the CRC holds and the
 * header names n_codewords codewords, else #f (the demux resumes its search). A fit that
 * fails (not positive definite; the Python block takes the numeric core's pseudo-inverse
 * there) is answered #f and counted (fit_failures).
 */
class DEEPQUANT_API ofdm_header_decoder : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<ofdm_header_decoder> sptr;

    /*!
     * \param estimator the layout's estimator kernel. \param x_sync the 2 x fft_len known
     * sync words (estimation.known_preamble). \param n_hdr header OFDM symbols.
     * \param n_codewords codewords per packet the header must name. \param
     * payload_symbols, data_symbols the answer's frame length (OFDM symbols) and packet
     * length (data symbols). \param taps_pre, taps_post the impulse-response support of
     * the fits.
     */
    static sptr make(const ofdm_estimator& estimator,
                     const std::vector<std::complex<float>>& x_sync,
                     int n_hdr,
                     int n_codewords,
                     int payload_symbols,
                     int data_symbols,
                     int taps_pre = 0,
                     int taps_post = 20,
                     const std::string& frame_key = "frame_len",
                     const std::string& len_key = "packet_len",
                     const std::string& num_key = "ofdm_packet_num",
                     const std::string& chan_key = "dq_chan_est",
                     const std::string& nv_key = "dq_noise_var",
                     const std::string& err_key = "dq_est_err_var");

    virtual uint64_t headers_ok() const = 0;
    virtual uint64_t headers_failed() const = 0;
    //! headers answered #f because a fit failed (included in headers_failed)
    virtual uint64_t fit_failures() const = 0;
};

} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_OFDM_HEADER_DECODER_H */
