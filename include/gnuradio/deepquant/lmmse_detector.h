/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_LMMSE_DETECTOR_H
#define INCLUDED_DEEPQUANT_LMMSE_DETECTOR_H

#include <gnuradio/deepquant/api.h>
#include <gnuradio/deepquant/qam_demapper.h>
#include <complex>
#include <cstddef>
#include <vector>

namespace gr {
namespace deepquant {

/*!
 * \brief Soft MIMO LMMSE detection: LMMSE equalisation and exact (or max-log) per-stream
 * demapping of 38.211 QAM, the kernel behind mimo_detector's 'lmmse' and the MIMO
 * receiver's decoder-aided re-estimation. \ingroup deepquant
 *
 * The computation of gnuradio.deepquant.phy.mimo.lmmse, step for step, in float64 per
 * channel use y = H x + n, n ~ CN(0, sigma^2 I): A = H^H H + sigma^2 I (Cholesky), P =
 * A^-1, x_hat = P H^H y, err_k = clamp(sigma^2 P_kk, 0, 1), mu_k = 1 - err_k; stream k is
 * demapped from the statistics u = x_hat_k / err_k, g = mu_k / err_k
 * (qam_demapper::demap_statistics). LLR L = ln P(b=1)/P(b=0), stream-major (all K bits of
 * stream 0, then stream 1, ...). Inputs must be finite with sigma^2 > 0 (callers sanitise
 * first). const after construction.
 */
class DEEPQUANT_API lmmse_detector
{
public:
    /*!
     * \param nr, nt receive antennas (>= 1) and transmitted streams (1..16).
     * \param levels, scale, n_dims, dir_re, dir_im the constellation, as qam_demapper.
     */
    lmmse_detector(int nr,
                   int nt,
                   const std::vector<int>& levels,
                   double scale,
                   int n_dims,
                   double dir_re = 1.0,
                   double dir_im = 0.0);

    int nr() const { return d_nr; }
    int nt() const { return d_nt; }
    int bits_per_symbol() const { return d_demapper.bits_per_symbol(); }

    /*!
     * \param y n x nr received vectors. \param h n x nr x nt channels (row-major).
     * \param noise_var n noise variances. \param maxlog max-log demapping.
     * \param llr n x (nt * bits_per_symbol()) LLRs out.
     */
    void detect(const std::complex<float>* y,
                const std::complex<float>* h,
                const float* noise_var,
                std::size_t n,
                bool maxlog,
                float* llr) const;

    //! the demapper's instruction set: "auto", "avx2" or "generic".
    void set_isa(const std::string& isa) { d_demapper.set_isa(isa); }
    std::string isa() const { return d_demapper.isa(); }

private:
    int d_nr, d_nt;
    qam_demapper d_demapper;
};

} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_LMMSE_DETECTOR_H */
