/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_DEQUANTIZER_BF_H
#define INCLUDED_DEEPQUANT_DEQUANTIZER_BF_H

#include <gnuradio/deepquant/api.h>
#include <gnuradio/sync_block.h>
#include <cstdint>
#include <vector>

namespace gr {
namespace deepquant {

/*!
 * \brief Dequantizer: uint8 bin index -> reconstruction level.
 *
 * Input: uint8 vectors of length vlen. Output: float vectors, y = levels[index].
 * An index >= len(levels) is invalid: it is clamped to the last level, counted
 * (invalid_count()) and logged. Run time changes: set_levels() or a "set" message
 * {"levels": f32vector}.
 * \ingroup deepquant
 *
 */
class DEEPQUANT_API dequantizer_bf : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<dequantizer_bf> sptr;

    /*!
     * \brief Return a shared_ptr to a new instance of deepquant::dequantizer_bf.
     *
     * To avoid accidental use of raw pointers, deepquant::dequantizer_bf's
     * constructor is in a private implementation
     * class. deepquant::dequantizer_bf::make is the public interface for
     * creating new instances.
     */
    static sptr make(const std::vector<float>& levels, unsigned int vlen = 1);
    virtual void set_levels(const std::vector<float>& levels) = 0;
    virtual std::vector<float> levels() const = 0;
    virtual uint64_t invalid_count() const = 0;
};

} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_DEQUANTIZER_BF_H */
