/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_SC_CORRELATOR_CCF_IMPL_H
#define INCLUDED_DEEPQUANT_SC_CORRELATOR_CCF_IMPL_H

#include <gnuradio/deepquant/sc_correlator_ccf.h>

namespace gr {
namespace deepquant {

class sc_correlator_ccf_impl : public sc_correlator_ccf
{
private:
    const int d_nr, d_half;

public:
    sc_correlator_ccf_impl(int nr, int half);
    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace deepquant
} // namespace gr

#endif
