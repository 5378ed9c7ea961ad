/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef INCLUDED_DEEPQUANT_FINITE_GUARD_CC_IMPL_H
#define INCLUDED_DEEPQUANT_FINITE_GUARD_CC_IMPL_H

#include <gnuradio/deepquant/finite_guard_cc.h>
#include <atomic>

namespace gr {
namespace deepquant {

class finite_guard_cc_impl : public finite_guard_cc
{
private:
    const unsigned d_vlen;
    const std::string d_what;
    std::atomic<uint64_t> d_bad{ 0 };
    uint64_t d_events = 0;

public:
    finite_guard_cc_impl(unsigned int vlen, const std::string& what);
    uint64_t bad_count() const override { return d_bad.load(); }
    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace deepquant
} // namespace gr
#endif
