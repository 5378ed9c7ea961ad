/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_LLR_TO_GR_ORDER_FF_IMPL_H
#define INCLUDED_DEEPQUANT_LLR_TO_GR_ORDER_FF_IMPL_H

#include <gnuradio/deepquant/llr_to_gr_order_ff.h>
#include <atomic>

namespace gr {
namespace deepquant {

class llr_to_gr_order_ff_impl : public llr_to_gr_order_ff
{
private:
    const int d_n, d_k;
    const float d_clip, d_zero;
    std::atomic<uint64_t> d_bad{ 0 };
    uint64_t d_events = 0;

public:
    llr_to_gr_order_ff_impl(int n, int k, float clip, float zero);
    uint64_t bad_count() const override { return d_bad.load(); }
    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace deepquant
} // namespace gr

#endif
