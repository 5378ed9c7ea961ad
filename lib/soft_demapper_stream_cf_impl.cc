/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "soft_demapper_stream_cf_impl.h"
#include <gnuradio/io_signature.h>
#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace gr {
namespace deepquant {

namespace {
constexpr double LLR_LIMIT = 1e30; // blocks/_common.py LLR_LIMIT
}

soft_demapper_stream_cf::sptr
soft_demapper_stream_cf::make(const qam_demapper& demapper,
                              const std::vector<std::complex<double>>& points,
                              bool maxlog,
                              float llr_clip)
{
    if (points.size() != (std::size_t(1) << demapper.bits_per_symbol()))
        throw std::invalid_argument(
            "soft_demapper_stream_cf: points must hold the 2^K "
            "constellation points of the demapper, in label order");
    if (!(llr_clip >= 0.0f) || !std::isfinite(llr_clip))
        throw std::invalid_argument(
            "soft_demapper_stream_cf: llr_clip must be >= 0 and finite");
    return gnuradio::make_block_sptr<soft_demapper_stream_cf_impl>(
        demapper, points, maxlog, llr_clip);
}

soft_demapper_stream_cf_impl::soft_demapper_stream_cf_impl(
    const qam_demapper& demapper,
    const std::vector<std::complex<double>>& points,
    bool maxlog,
    float llr_clip)
    : gr::sync_interpolator(
          "soft_demapper_stream_cf",
          gr::io_signature::makev(
              3, 3, { sizeof(gr_complex), sizeof(gr_complex), sizeof(float) }),
          gr::io_signature::make(1, 1, sizeof(float)),
          unsigned(demapper.bits_per_symbol())),
      d_dem(demapper),
      d_points(points),
      d_k(demapper.bits_per_symbol()),
      d_maxlog(maxlog),
      d_clip(llr_clip),
      d_metric(points.size())
{
}

bool soft_demapper_stream_cf_impl::demap64(
    std::complex<double> y, std::complex<double> h, double nv, bool maxlog, double* llr)
{
    const int M = int(d_points.size());
    for (int m = 0; m < M; m++)
        d_metric[m] = -std::norm(y - h * d_points[m]) / nv;
    bool fin = true;
    for (int b = 0; b < d_k; b++) {
        const int bit = d_k - 1 - b; // b0 = MSB of the label
        double m1 = -INFINITY, m0 = -INFINITY;
        for (int m = 0; m < M; m++) {
            if ((m >> bit) & 1)
                m1 = std::max(m1, d_metric[m]);
            else
                m0 = std::max(m0, d_metric[m]);
        }
        double l = m1 - m0;
        if (!maxlog) { // log-sum-exp around each subset's maximum
            double s1 = 0.0, s0 = 0.0;
            for (int m = 0; m < M; m++) {
                if ((m >> bit) & 1)
                    s1 += std::exp(d_metric[m] - m1);
                else
                    s0 += std::exp(d_metric[m] - m0);
            }
            l += std::log(s1) - std::log(s0);
        }
        llr[b] = l;
        fin = fin && std::isfinite(l);
    }
    return fin;
}

int soft_demapper_stream_cf_impl::work(int noutput_items,
                                       gr_vector_const_void_star& input_items,
                                       gr_vector_void_star& output_items)
{
    const int n = noutput_items / d_k;
    const auto* y = static_cast<const gr_complex*>(input_items[0]);
    const auto* h = static_cast<const gr_complex*>(input_items[1]);
    const auto* nv = static_cast<const float*>(input_items[2]);
    float* out = static_cast<float*>(output_items[0]);
    // one kernel call straight into the output buffer; invalid symbols -> 0
    const std::size_t bad = d_dem.demap(y, h, nv, std::size_t(n), d_maxlog, out);
    if (bad) {
        const uint64_t total = d_bad.fetch_add(bad) + bad;
        d_events_bad++;
        if ((d_events_bad & (d_events_bad - 1)) == 0)
            d_logger->warn("{:d} symbol(s) with non-finite y/h or invalid noise variance "
                           "demapped to zero LLRs; {:d} so far",
                           bad,
                           total);
    }
    // symbols the float32 kernel overflowed: float64 (max-log where exact is not finite),
    // clipped, zero LLRs where neither is finite
    std::size_t over = 0;
    std::vector<double> l(d_k);
    for (int i = 0; i < n; i++) {
        float* o = out + std::size_t(i) * d_k;
        bool fin = true;
        for (int b = 0; b < d_k; b++)
            fin = fin && std::isfinite(o[b]);
        if (fin)
            continue;
        over++;
        const std::complex<double> yd(y[i]), hd(h[i]);
        const double nd = nv[i];
        bool ok = demap64(yd, hd, nd, d_maxlog, l.data());
        if (!ok && !d_maxlog)
            ok = demap64(yd, hd, nd, true, l.data());
        for (int b = 0; b < d_k; b++)
            o[b] = ok ? float(std::min(LLR_LIMIT, std::max(-LLR_LIMIT, l[b]))) : 0.0f;
    }
    if (over) {
        const uint64_t total = d_overflow.fetch_add(over) + over;
        d_events_over++;
        if ((d_events_over & (d_events_over - 1)) == 0)
            d_logger->warn(
                "{:d} symbol(s) beyond float32 range (|h| or |y| ~ 1e20, sigma^2 ~ "
                "1e-40) demapped in float64 (zero LLRs where that fails too); {:d} "
                "so far",
                over,
                total);
    }
    const float lim =
        d_clip > 0.0f ? std::min(d_clip, float(LLR_LIMIT)) : float(LLR_LIMIT);
    const std::size_t m = std::size_t(n) * d_k;
    for (std::size_t i = 0; i < m; i++)
        out[i] = std::min(lim, std::max(-lim, out[i]));
    return int(m);
}

} // namespace deepquant
} // namespace gr
