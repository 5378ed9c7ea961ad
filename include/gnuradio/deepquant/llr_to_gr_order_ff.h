/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_LLR_TO_GR_ORDER_FF_H
#define INCLUDED_DEEPQUANT_LLR_TO_GR_ORDER_FF_H

#include <gnuradio/deepquant/api.h>
#include <gnuradio/sync_block.h>
#include <cstdint>

namespace gr {
namespace deepquant {

/*!
 * \brief The LLRs of one systematic LDPC codeword, standard order [info (k) | parity (n -
 * k)], moved into GNU Radio's decoder column order [parity | info] and made safe for its
 * probability-domain decoder (phy.ldpc.prepare_gr_llr): NaN -> 0, |L| clipped to \p clip,
 * then exact zeros (erasures) -> \p zero. Frames of n LLRs, aligned with the stream
 * start. Non-finite inputs (NaN -> erasure, +-inf -> +-clip) are counted (bad_count) and
 * logged rate-limited. ldpc_decoder_fb's reordering block.
 */
class DEEPQUANT_API llr_to_gr_order_ff : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<llr_to_gr_order_ff> sptr;

    /*!
     * \param n codeword length. \param k information bits (0 < k < n). \param clip |L|
     * limit
     * (> 0). \param zero the value of erasures (0 < zero <= clip).
     */
    static sptr make(int n = 648, int k = 324, float clip = 10.0f, float zero = 1e-3f);

    //! non-finite input LLRs so far
    virtual uint64_t bad_count() const = 0;
};

} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_LLR_TO_GR_ORDER_FF_H */
