/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef INCLUDED_DEEPQUANT_ADC_CC_IMPL_H
#define INCLUDED_DEEPQUANT_ADC_CC_IMPL_H

#include "quantizer_common.h"
#include <gnuradio/deepquant/adc_cc.h>
#include <gnuradio/deepquant/scalar_quantizer.h>
#include <atomic>

namespace gr {
namespace deepquant {

class adc_cc_impl : public adc_cc
{
private:
    scalar_quantizer d_q;
    const unsigned d_vlen;
    std::atomic<uint64_t> d_bad{
        0
    }; // NaN inputs (or invalid indices for the dequantizer)
    detail::nan_reporter d_report;
    unsigned d_bits;
    float d_full_scale;
    float d_gain;
    std::vector<float> d_scaled; // gain * input when gain != 1
    void handle_set(const pmt::pmt_t& msg);

public:
    adc_cc_impl(const scalar_quantizer& q,
                unsigned bits,
                float full_scale,
                unsigned int vlen,
                float gain);
    void set_bits(unsigned int bits) override;
    void set_full_scale(float full_scale) override;
    void set_gain(float gain) override;
    void set_thresholds(const std::vector<float>& thresholds,
                        const std::vector<float>& levels) override;
    unsigned int bits() const override;
    float full_scale() const override;
    float gain() const override;
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
