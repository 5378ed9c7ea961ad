/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "llr_to_gr_order_ff_impl.h"
#include <gnuradio/io_signature.h>
#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace gr {
namespace deepquant {

llr_to_gr_order_ff::sptr llr_to_gr_order_ff::make(int n, int k, float clip, float zero)
{
    if (n < 2 || k < 1 || k >= n)
        throw std::invalid_argument("llr_to_gr_order_ff: need 0 < k < n");
    if (!(clip > 0.0f) || !std::isfinite(clip) || !(zero > 0.0f) || !(zero <= clip))
        throw std::invalid_argument(
            "llr_to_gr_order_ff: need clip > 0 (finite) and 0 < zero <= clip");
    return gnuradio::make_block_sptr<llr_to_gr_order_ff_impl>(n, k, clip, zero);
}

llr_to_gr_order_ff_impl::llr_to_gr_order_ff_impl(int n, int k, float clip, float zero)
    : gr::sync_block("llr_to_gr_order",
                     gr::io_signature::make(1, 1, sizeof(float)),
                     gr::io_signature::make(1, 1, sizeof(float))),
      d_n(n),
      d_k(k),
      d_clip(clip),
      d_zero(zero)
{
    set_output_multiple(n);
}

int llr_to_gr_order_ff_impl::work(int noutput_items,
                                  gr_vector_const_void_star& input_items,
                                  gr_vector_void_star& output_items)
{
    const float* in = static_cast<const float*>(input_items[0]);
    float* out = static_cast<float*>(output_items[0]);
    const int frames = noutput_items / d_n;
    const int p = d_n - d_k;
    std::size_t bad = 0;
    for (int f = 0; f < frames; f++) {
        const float* x = in + std::size_t(f) * d_n;
        float* o = out + std::size_t(f) * d_n;
        // [info | parity] -> [parity | info]
        for (int j = 0; j < d_n; j++) {
            float v = x[j < p ? d_k + j : j - p];
            if (!std::isfinite(v)) {
                bad++;
                if (std::isnan(v))
                    v = 0.0f;
            }
            v = std::min(d_clip, std::max(-d_clip, v));
            o[j] = v == 0.0f ? d_zero : v;
        }
    }
    if (bad) {
        const uint64_t total = d_bad.fetch_add(bad) + bad;
        d_events++;
        if ((d_events & (d_events - 1)) == 0)
            d_logger->warn("{:d} non-finite LLRs decoded as erasures (NaN) or clipped "
                           "(+-inf); {:d} so far",
                           bad,
                           total);
    }
    return frames * d_n;
}

} // namespace deepquant
} // namespace gr
