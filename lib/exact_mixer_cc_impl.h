/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef INCLUDED_DEEPQUANT_EXACT_MIXER_CC_IMPL_H
#define INCLUDED_DEEPQUANT_EXACT_MIXER_CC_IMPL_H

#include <gnuradio/deepquant/exact_mixer_cc.h>

namespace gr {
namespace deepquant {

class exact_mixer_cc_impl : public exact_mixer_cc
{
private:
    const bool d_divide;

public:
    explicit exact_mixer_cc_impl(bool divide);
    bool divide() const override { return d_divide; }
    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace deepquant
} // namespace gr
#endif
