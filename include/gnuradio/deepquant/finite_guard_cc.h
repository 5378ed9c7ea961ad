/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_FINITE_GUARD_CC_H
#define INCLUDED_DEEPQUANT_FINITE_GUARD_CC_H

#include <gnuradio/deepquant/api.h>
#include <gnuradio/sync_block.h>
#include <cstdint>
#include <string>

namespace gr {
namespace deepquant {

/*!
 * \brief The entry guard of the module's receivers and channel models: complex samples
 * that are NaN/inf or whose magnitude exceeds 1e18 (their power would overflow float32)
 * become 0, counted, and logged at the 1st, 2nd, 4th, 8th ... call that saw them.
 * \ingroup deepquant
 *
 * Input/output: complex vectors of vlen; every other sample is copied unchanged.
 */
class DEEPQUANT_API finite_guard_cc : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<finite_guard_cc> sptr;

    /*!
     * \param vlen vector length (>= 1). \param what the samples' name in the log message.
     */
    static sptr make(unsigned int vlen = 1, const std::string& what = "input samples");
    //! samples replaced by 0 so far
    virtual uint64_t bad_count() const = 0;
};

} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_FINITE_GUARD_CC_H */
