/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_SC_CORRELATOR_CCF_H
#define INCLUDED_DEEPQUANT_SC_CORRELATOR_CCF_H

#include <gnuradio/deepquant/api.h>
#include <gnuradio/sync_block.h>

namespace gr {
namespace deepquant {

/*!
 * \brief Schmidl & Cox correlation summed over receive chains (sc_sync_combined's
 * correlator, the computation of the Python sc_correlator): for nr complex inputs, output
 * 0 sum_r x_r[d] conj(x_r[d - half]) (complex) and output 1 sum_r |x_r[d]|^2 (float), per
 * sample, computed in float64 (products without contraction, chains added in order) and
 * rounded to float32 once: the result does not depend on the scheduler's chunking.
 */
class DEEPQUANT_API sc_correlator_ccf : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<sc_correlator_ccf> sptr;

    //! \param nr receive chains (>= 1). \param half lag in samples (N/2, >= 1).
    static sptr make(int nr, int half);
};

} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_SC_CORRELATOR_CCF_H */
