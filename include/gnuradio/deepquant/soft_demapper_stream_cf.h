/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_SOFT_DEMAPPER_STREAM_CF_H
#define INCLUDED_DEEPQUANT_SOFT_DEMAPPER_STREAM_CF_H

#include <gnuradio/deepquant/api.h>
#include <gnuradio/deepquant/qam_demapper.h>
#include <gnuradio/sync_interpolator.h>
#include <complex>
#include <cstdint>
#include <vector>

namespace gr {
namespace deepquant {

/*!
 * \brief Soft QAM demapper with channel-gain and noise-variance streams, in C++: the
 * computation of the Python soft_demapper_cf(bits_per_symbol, method, channel_input=True,
 * noise_var_source="stream") without the interpreter (ofdm_rx's demapper).
 *
 * Inputs, one item per symbol: 0 y (complex), 1 h (complex), 2 sigma^2 (float). Output:
 * bits_per_symbol LLRs per symbol, L = ln P(b=1|y)/P(b=0|y), y = h x + n, n ~ CN(0,
 * sigma^2), 38.211 labels (qam_demapper, float32). Symbols with non-finite y or h or a
 * sigma^2 that is not positive and finite give zero LLRs (counted). Symbols whose float32
 * LLRs overflow (|h| ~ 1e20, sigma^2 ~ 1e-40) are demapped again in float64 (exact, or
 * max-log where that is not finite; zero LLRs where neither is) and counted
 * (overflow_count). Every LLR is clipped to |L| <= 1e30 (and to llr_clip when > 0).
 */
class DEEPQUANT_API soft_demapper_stream_cf : virtual public gr::sync_interpolator
{
public:
    typedef std::shared_ptr<soft_demapper_stream_cf> sptr;

    /*!
     * \param demapper the kernel (its bits_per_symbol is the interpolation). \param
     * points the constellation, 2^K points in label order (b0 = MSB), for the float64
     * path. \param maxlog max-log instead of exact LLRs. \param llr_clip |L| clip (0 =
     * none).
     */
    static sptr make(const qam_demapper& demapper,
                     const std::vector<std::complex<double>>& points,
                     bool maxlog = false,
                     float llr_clip = 0.0f);

    //! symbols with invalid input (zero LLRs) plus those demapped in float64
    virtual uint64_t bad_count() const = 0;
    virtual uint64_t overflow_count() const = 0;
};

} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_SOFT_DEMAPPER_STREAM_CF_H */
