/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_EP_DETECTOR_H
#define INCLUDED_DEEPQUANT_EP_DETECTOR_H

#include <gnuradio/deepquant/api.h>
#include <complex>
#include <cstddef>
#include <string>
#include <vector>

namespace gr {
namespace deepquant {

/*!
 * \brief Soft MIMO detection by expectation propagation (Cespedes, Olmos,
 * Sanchez-Fernandez & Perez-Cruz, "Expectation Propagation Detection for High-Order
 * High-Dimensional MIMO Systems"): the kernel behind mimo_detector's 'ep'.
 * \ingroup deepquant
 *
 * The computation of gnuradio.deepquant.phy.mimo.ep, step for step, in float64 per
 * channel use y = H x + n, n ~ CN(0, sigma^2 I), on the real-valued model (unknowns: the
 * PAM amplitudes of the n_dims real dimensions of every stream): Gram matrix G0 =
 * Re(conj(e_d) e_d' (H^H H)_tt'), statistic z = Re(conj(e_d) (H^H y)_t), s = sigma^2 / 2,
 * sites lam = 1 / E[a^2], gam = 0; per round A = G0 + s diag(lam) (Cholesky; where A is
 * not numerically positive definite the first of the relative diagonal loadings 1e-12,
 * 1e-9, 1e-6, 1e-3 of max |A_ii| that factorises), P = A^-1, mu = P (z + s gam), 1/h^2 =
 * max(1 / (s P_ii) - lam, 0), t/h^2 = mu_i / (s P_ii) - gam_i; then (except after the
 * last round) the moments m, v of the cavity times the uniform PAM prior, v floored at
 * eps, and the site update lam = 1/v - 1/h^2, gam = m/v - t/h^2, damped by beta and
 * skipped where lam would not be positive. iterations rounds of updates, iterations + 1
 * factorisations. Each stream's bits are demapped exactly from the final cavities, per
 * real dimension the metric 2 a T - g a^2 with T = (t/h^2) / 2, g = (1/h^2) / 2, with the
 * level offsets and log-sum-exp of qam_demapper (level metrics in float32). Channel uses
 * whose statistics are not finite in float64 (or where no loading factorises) get zero
 * LLRs, as the reference's "no information". LLR L = ln P(b=1)/P(b=0), stream-major (all
 * K bits of stream 0, then stream 1, ...). The torch reference applies one loading to
 * all channel uses of a batch that need one; here each gets the smallest that works for
 * it.
 *
 * With AVX2/FMA (set_isa "auto" or "avx2"): where 2 Nt (Nt for BPSK) is 2, 4 or 8, four
 * channel uses run in the lanes of one vector with the scalar path's operations (a
 * channel use that needs the loading is redone alone), so every channel use gets the
 * same LLRs wherever it sits in a batch; the moment matching uses a polynomial exp of
 * doubles (a few ulp) and the demapping runs 8 real dimensions per vector. "generic":
 * portable loops (std::exp, the weights of neighbouring levels by their geometric
 * ratio); both agree to float rounding.
 *
 * Outputs are finite by construction: channel uses with non-finite y or H, or sigma^2 not
 * positive and finite, get zero LLRs (status 1); channel uses whose float32 LLRs overflow
 * (|H| ~ 1e20, sigma^2 ~ 1e-40) are demapped in float64 and saturated at +-FLT_MAX
 * (status 2). const after construction.
 */
class DEEPQUANT_API ep_detector
{
public:
    /*!
     * \param nr, nt receive antennas (>= 1) and transmitted streams (1..16).
     * \param levels, scale, n_dims, dir_re, dir_im the constellation, as qam_demapper.
     * \param iterations site-update rounds (>= 0; 0 gives LMMSE's LLRs for QAM).
     * \param beta damping in (0, 1]. \param eps variance floor in (0, 1).
     */
    ep_detector(int nr,
                int nt,
                const std::vector<int>& levels,
                double scale,
                int n_dims,
                double dir_re = 1.0,
                double dir_im = 0.0,
                int iterations = 2,
                double beta = 0.5,
                double eps = 1e-2);

    int nr() const { return d_nr; }
    int nt() const { return d_nt; }
    int bits_per_symbol() const { return d_k; }
    int iterations() const { return d_iter; }
    double beta() const { return d_beta; }
    double eps() const { return d_eps; }

    /*!
     * \param y n x nr received vectors. \param h n x nr x nt channels (row-major).
     * \param noise_var n noise variances. \param llr n x (nt * bits_per_symbol()) LLRs
     * out. \param status nullptr, or n bytes out: 0 detected, 1 invalid input (zero
     * LLRs), 2 float32 overflow (float64 demapping, saturated at +-FLT_MAX). \return the
     * number of channel uses with invalid input.
     */
    std::size_t detect(const std::complex<float>* y,
                       const std::complex<float>* h,
                       const float* noise_var,
                       std::size_t n,
                       float* llr,
                       unsigned char* status = nullptr) const;

    //! instruction set of the moment matching and demapping: "auto", "avx2" or "generic".
    void set_isa(const std::string& isa);
    std::string isa() const;

private:
    int d_nr, d_nt, d_k, d_dims, d_bpd, d_a, d_iter;
    double d_scale, d_beta, d_eps, d_lam0, d_step;
    double d_ee[2][2][2];          // Re, Im of conj(e_d) e_d'
    double d_dir[2][2];            // Re, Im of e_d
    std::vector<double> d_alpha;   // scale * level, label order
    std::vector<double> d_sorted;  // the same, ascending
    std::vector<double> d_sorted2; // squares of d_sorted
    std::vector<float> d_alpha_f;  // float32 d_alpha
    bool d_avx2_ok, d_use_avx2;

    template <int NF>
    bool run_one(const std::complex<float>* y,
                 const std::complex<float>* h,
                 double nv,
                 double* t,
                 double* g) const;
    void
    demap_generic(const double* t, const double* g, std::size_t nq, float* llr) const;
    void demap_avx2(const double* t, const double* g, std::size_t nq, float* llr) const;
    void demap_f64(const double* t, const double* g, std::size_t nq, float* llr) const;
};

} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_EP_DETECTOR_H */
