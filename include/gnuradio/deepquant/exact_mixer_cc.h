/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_EXACT_MIXER_CC_H
#define INCLUDED_DEEPQUANT_EXACT_MIXER_CC_H

#include <gnuradio/deepquant/api.h>
#include <gnuradio/sync_block.h>

namespace gr {
namespace deepquant {

/*!
 * \brief out = in0 * in1 (or in0 / in1, 0 where in1 = 0), complex64, identical whatever
 * the work() chunking. \ingroup deepquant
 *
 * GNU Radio's multiply_cc / divide_cc call VOLK, which picks an aligned or an unaligned
 * kernel from the buffer pointers at every call, and the two round differently (fused
 * multiply-add in one): the same samples chunked differently give products differing in
 * the last bit. Here every product is formed in float64 without contraction (float32 x
 * float32 products are exact in float64), the division with numpy's complex128 algorithm
 * (Smith's), then rounded to complex64: the result of numpy's (a.astype(complex128) op
 * b.astype(complex128)).astype(complex64), sample by sample.
 */
class DEEPQUANT_API exact_mixer_cc : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<exact_mixer_cc> sptr;

    /*!
     * \param divide false: multiply; true: divide (0 where in1 = 0).
     */
    static sptr make(bool divide = false);
    virtual bool divide() const = 0;
};

} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_EXACT_MIXER_CC_H */
