/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef INCLUDED_DEEPQUANT_QUANTIZER_FF_IMPL_H
#define INCLUDED_DEEPQUANT_QUANTIZER_FF_IMPL_H

#include "quantizer_common.h"
#include <gnuradio/deepquant/quantizer_ff.h>
#include <gnuradio/deepquant/scalar_quantizer.h>
#include <atomic>

namespace gr {
namespace deepquant {

class quantizer_ff_impl : public quantizer_ff
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
    quantizer_ff_impl(const std::vector<float>& thresholds,
                      const std::vector<float>& levels,
                      unsigned int vlen);
    void set_thresholds(const std::vector<float>& thresholds,
                        const std::vector<float>& levels) override;
    std::vector<float> thresholds() const override;
    std::vector<float> levels() const override;
    uint64_t nan_count() const override { return d_bad.load(); }
    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace deepquant
} // namespace gr
#endif
