/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_QUANTIZER_FB_H
#define INCLUDED_DEEPQUANT_QUANTIZER_FB_H

#include <gnuradio/deepquant/api.h>
#include <gnuradio/sync_block.h>
#include <cstdint>
#include <vector>

namespace gr {
namespace deepquant {

/*!
 * \brief Hard scalar quantizer: float -> uint8 bin index.
 *
 * Input: float vectors of length vlen. Output: uint8 vectors of length vlen with
 * index = number of thresholds <= x (numpy.searchsorted(thresholds, x, side='right')):
 * a sample equal to a threshold goes to the upper bin, -inf to bin 0, +inf to bin M-1,
 * NaN as 0.0 (counted, see nan_count()). At most 255 thresholds (256 levels).
 *
 * Thresholds can be changed while running with set_thresholds() or a message on the
 * "set" port: a dict {"thresholds": f32vector}. A bad message is logged and ignored.
 * \ingroup deepquant
 *
 */
class DEEPQUANT_API quantizer_fb : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<quantizer_fb> sptr;

    /*!
     * \brief Return a shared_ptr to a new instance of deepquant::quantizer_fb.
     *
     * To avoid accidental use of raw pointers, deepquant::quantizer_fb's
     * constructor is in a private implementation
     * class. deepquant::quantizer_fb::make is the public interface for
     * creating new instances.
     */
    static sptr make(const std::vector<float>& thresholds, unsigned int vlen = 1);
    virtual void set_thresholds(const std::vector<float>& thresholds) = 0;
    virtual std::vector<float> thresholds() const = 0;
    virtual uint64_t nan_count() const = 0;
};

} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_QUANTIZER_FB_H */
