/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_QUANTIZER_FF_H
#define INCLUDED_DEEPQUANT_QUANTIZER_FF_H

#include <gnuradio/deepquant/api.h>
#include <gnuradio/sync_block.h>
#include <cstdint>
#include <vector>

namespace gr {
namespace deepquant {

/*!
 * \brief Hard scalar quantizer: float -> reconstruction level.
 *
 * Input/output: float vectors of length vlen. y = levels[index(x)] with the same
 * threshold rules as quantizer_fb (ties to the upper bin, NaN as 0.0 and counted).
 * len(levels) must be len(thresholds) + 1 (at most 65536 levels).
 * Run time changes: set_thresholds(thresholds, levels) or a "set" message
 * {"thresholds": f32vector, "levels": f32vector}.
 * \ingroup deepquant
 *
 */
class DEEPQUANT_API quantizer_ff : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<quantizer_ff> sptr;

    /*!
     * \brief Return a shared_ptr to a new instance of deepquant::quantizer_ff.
     *
     * To avoid accidental use of raw pointers, deepquant::quantizer_ff's
     * constructor is in a private implementation
     * class. deepquant::quantizer_ff::make is the public interface for
     * creating new instances.
     */
    static sptr make(const std::vector<float>& thresholds,
                     const std::vector<float>& levels,
                     unsigned int vlen = 1);
    virtual void set_thresholds(const std::vector<float>& thresholds,
                                const std::vector<float>& levels) = 0;
    virtual std::vector<float> thresholds() const = 0;
    virtual std::vector<float> levels() const = 0;
    virtual uint64_t nan_count() const = 0;
};

} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_QUANTIZER_FF_H */
