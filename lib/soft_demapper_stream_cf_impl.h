/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_SOFT_DEMAPPER_STREAM_CF_IMPL_H
#define INCLUDED_DEEPQUANT_SOFT_DEMAPPER_STREAM_CF_IMPL_H

#include <gnuradio/deepquant/soft_demapper_stream_cf.h>
#include <atomic>

namespace gr {
namespace deepquant {

class soft_demapper_stream_cf_impl : public soft_demapper_stream_cf
{
private:
    const qam_demapper d_dem;
    const std::vector<std::complex<double>> d_points;
    const int d_k;
    const bool d_maxlog;
    const float d_clip;
    std::atomic<uint64_t> d_bad{ 0 }, d_overflow{ 0 };
    uint64_t d_events_bad = 0, d_events_over = 0;
    std::vector<double> d_metric;

    // float64 LLRs of one symbol (exact or max-log); false when not finite
    bool demap64(std::complex<double> y,
                 std::complex<double> h,
                 double nv,
                 bool maxlog,
                 double* llr);

public:
    soft_demapper_stream_cf_impl(const qam_demapper& demapper,
                                 const std::vector<std::complex<double>>& points,
                                 bool maxlog,
                                 float llr_clip);

    uint64_t bad_count() const override { return d_bad.load() + d_overflow.load(); }
    uint64_t overflow_count() const override { return d_overflow.load(); }

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace deepquant
} // namespace gr

#endif
