/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_QAM_DEMAPPER_H
#define INCLUDED_DEEPQUANT_QAM_DEMAPPER_H

#include <gnuradio/deepquant/api.h>
#include <complex>
#include <cstddef>
#include <string>
#include <vector>

namespace gr {
namespace deepquant {

/*!
 * \brief Exact (log-MAP) and max-log soft demapper of 3GPP TS 38.211 QAM with a
 * per-symbol channel gain and noise variance: the kernel behind soft_demapper_cf.
 * \ingroup deepquant
 *
 * The same computation as gnuradio.deepquant.phy.mapping.demap_exact / demap_maxlog, step
 * for step (outputs agree to float rounding): u = conj(h) y / sigma^2 and g = |h|^2 /
 * sigma^2 in float32; per real dimension the statistic t (float64), the nearest level a*,
 * w = t - g a* (float64), the per-level metrics f_l = (a_l - a*)(2w - g (a_l - a*)) <= 0
 * (float32), and per bit L = lse_{bit=1} f - lse_{bit=0} f (log-sum-exp with the maximum
 * subtracted, exp() arguments floored at -87; max-log: max). LLR L = ln P(b=1)/P(b=0),
 * bits b0..b(K-1) of each symbol in 38.211 order.
 *
 * QAM (two dimensions) runs 8 symbols at a time with AVX2/FMA when the CPU has it (exp
 * and log from vectorised polynomials, relative error ~1e-7); BPSK, CPUs without AVX2, or
 * set_isa("generic") use a portable loop with std::exp / std::log.
 * demap() gives invalid symbols zero LLRs and counts them; demap_statistics() needs
 * finite inputs. const after construction.
 */
class DEEPQUANT_API qam_demapper
{
public:
    /*!
     * \param levels odd-integer PAM levels of one dimension in label order
     * (2^bits_per_dim). \param scale amplitude of level 1 (unit average symbol energy).
     * \param n_dims 2 (QAM: real part = dimension 0, imaginary = 1) or 1 (BPSK along
     * dir). \param dir_re, dir_im unit direction of the single dimension when n_dims
     * == 1.
     */
    qam_demapper(const std::vector<int>& levels,
                 double scale,
                 int n_dims,
                 double dir_re = 1.0,
                 double dir_im = 0.0);

    int bits_per_symbol() const { return d_k; }

    /*!
     * \param y n received symbols. \param h n channel gains, or nullptr (h = 1).
     * \param noise_var n noise variances (> 0). \param maxlog max-log instead of exact.
     * \param llr n * bits_per_symbol() LLRs out.
     * \return the number of invalid symbols (non-finite y or h, sigma^2 not positive and
     * finite): their LLRs are 0 ("no information").
     */
    std::size_t demap(const std::complex<float>* y,
                      const std::complex<float>* h,
                      const float* noise_var,
                      std::size_t n,
                      bool maxlog,
                      float* llr) const;

    /*!
     * The same LLRs from the sufficient statistics of the metric 2 Re(conj(x) u) - g
     * |x|^2 (for y = h x + n: u = conj(h) y / sigma^2, g = |h|^2 / sigma^2; for an LMMSE
     * stream: u = x_hat / (1 - mu), g = mu / (1 - mu)), u in float64 as the reference's
     * llr_from_statistics takes it. \param u n statistics. \param g n gains (>= 0).
     */
    void demap_statistics(const std::complex<double>* u,
                          const float* g,
                          std::size_t n,
                          bool maxlog,
                          float* llr) const;

    //! "auto" (default), "avx2" or "generic"; throws if the requested one is unavailable.
    void set_isa(const std::string& isa);
    std::string isa() const;

private:
    int d_k, d_dims, d_bpd, d_a;
    double d_scale, d_dir_re, d_dir_im;
    std::vector<float> d_alpha; // scale * level, label order
    bool d_avx2_ok, d_use_avx2;

    // per-dimension statistics t (n x 2, float64) and gains g -> LLRs
    void
    core(const double* t, const float* g, std::size_t n, bool maxlog, float* llr) const;
    void core_generic(
        const double* t, const float* g, std::size_t n, bool maxlog, float* llr) const;
    std::size_t core_avx2(
        const double* t, const float* g, std::size_t n, bool maxlog, float* llr) const;
};

} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_QAM_DEMAPPER_H */
