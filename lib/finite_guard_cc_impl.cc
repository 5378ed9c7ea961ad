/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "finite_guard_cc_impl.h"
#include <gnuradio/io_signature.h>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace gr {
namespace deepquant {

namespace {
constexpr double MAX_ABS = 1e18; // |x| above which |x|^2 overflows float32
}

finite_guard_cc::sptr finite_guard_cc::make(unsigned int vlen, const std::string& what)
{
    if (vlen < 1)
        throw std::invalid_argument("finite_guard_cc: vlen must be >= 1");
    return gnuradio::make_block_sptr<finite_guard_cc_impl>(vlen, what);
}

finite_guard_cc_impl::finite_guard_cc_impl(unsigned int vlen, const std::string& what)
    : gr::sync_block("finite_guard_cc",
                     gr::io_signature::make(1, 1, sizeof(gr_complex) * vlen),
                     gr::io_signature::make(1, 1, sizeof(gr_complex) * vlen)),
      d_vlen(vlen),
      d_what(what)
{
}

int finite_guard_cc_impl::work(int noutput_items,
                               gr_vector_const_void_star& input_items,
                               gr_vector_void_star& output_items)
{
    const gr_complex* in = static_cast<const gr_complex*>(input_items[0]);
    gr_complex* out = static_cast<gr_complex*>(output_items[0]);
    const std::size_t n = std::size_t(noutput_items) * d_vlen;
    std::size_t bad = 0;
    for (std::size_t i = 0; i < n; i++) {
        // |x| as numpy's complex64 abs (float32 hypot); NaN compares false
        const double a = double(std::hypot(in[i].real(), in[i].imag()));
        if (a <= MAX_ABS) {
            out[i] = in[i];
        } else {
            out[i] = gr_complex(0.0f, 0.0f);
            bad++;
        }
    }
    if (bad) {
        const uint64_t total = d_bad.fetch_add(bad) + bad;
        d_events++;
        if ((d_events & (d_events - 1)) == 0)
            d_logger->warn("{:d} non-finite or out-of-range (|x| > 1e18) {:s} replaced "
                           "by 0; {:d} so far",
                           bad,
                           d_what,
                           total);
    }
    return noutput_items;
}

} // namespace deepquant
} // namespace gr
