/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef INCLUDED_DEEPQUANT_QUANTIZER_FB_IMPL_H
#define INCLUDED_DEEPQUANT_QUANTIZER_FB_IMPL_H

#include "quantizer_common.h"
#include <gnuradio/deepquant/quantizer_fb.h>
#include <gnuradio/deepquant/scalar_quantizer.h>
#include <atomic>

namespace gr {
namespace deepquant {

class quantizer_fb_impl : public quantizer_fb
{
private:
    scalar_quantizer d_q;
    const unsigned d_vlen;
    std::atomic<uint64_t> d_bad{
        0
    }; // NaN inputs (or invalid indices for the dequantizer)
    detail::nan_reporter d_report;

    void handle_set(const pmt::pmt_t& msg);

public:
    quantizer_fb_impl(const std::vector<float>& thresholds, unsigned int vlen);
    void set_thresholds(const std::vector<float>& thresholds) override;
    std::vector<float> thresholds() const override;
    uint64_t nan_count() const override { return d_bad.load(); }
    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace deepquant
} // namespace gr
#endif
