/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_ADC_CC_H
#define INCLUDED_DEEPQUANT_ADC_CC_H

#include <gnuradio/deepquant/api.h>
#include <gnuradio/sync_block.h>
#include <cstdint>
#include <vector>

namespace gr {
namespace deepquant {

/*!
 * \brief Low-resolution complex ADC: I and Q quantized independently.
 *
 * Uniform (make): 2^bits levels evenly spread over [-full_scale, full_scale]
 * (mid-rise: +-full_scale (1 - 2^-bits) are the outer levels), applied to gain*x.
 * Non-uniform (make_nonuniform): the given thresholds/levels on both I and Q.
 * Input/output: complex vectors of length vlen; output samples are the
 * reconstruction levels. Clipping is silent (it is what an ADC does); NaN samples
 * are quantized as 0 and counted. Run time changes: set_bits(), set_full_scale(),
 * set_gain(), set_thresholds(), or a "set" message with any of the keys
 * "bits", "full_scale", "gain", "thresholds"/"levels".
 * \ingroup deepquant
 *
 */
class DEEPQUANT_API adc_cc : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<adc_cc> sptr;

    /*!
     * \brief Return a shared_ptr to a new instance of deepquant::adc_cc.
     *
     * To avoid accidental use of raw pointers, deepquant::adc_cc's
     * constructor is in a private implementation
     * class. deepquant::adc_cc::make is the public interface for
     * creating new instances.
     */
    static sptr
    make(unsigned int bits, float full_scale, unsigned int vlen = 1, float gain = 1.0f);
    static sptr make_nonuniform(const std::vector<float>& thresholds,
                                const std::vector<float>& levels,
                                unsigned int vlen = 1,
                                float gain = 1.0f);
    virtual void set_bits(unsigned int bits) = 0;
    virtual void set_full_scale(float full_scale) = 0;
    virtual void set_gain(float gain) = 0;
    virtual void set_thresholds(const std::vector<float>& thresholds,
                                const std::vector<float>& levels) = 0;
    virtual unsigned int bits() const = 0;
    virtual float full_scale() const = 0;
    virtual float gain() const = 0;
    virtual std::vector<float> thresholds() const = 0;
    virtual std::vector<float> levels() const = 0;
    virtual uint64_t nan_count() const = 0;
};

} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_ADC_CC_H */
