/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "isa_select.h"
#include "simd_math.h"
#include <gnuradio/deepquant/ep_detector.h>
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <stdexcept>

namespace gr {
namespace deepquant {

namespace {
constexpr int MAX_NT = 16;         // streams (the matrices live on the stack)
constexpr int MAX_N = 2 * MAX_NT;  // real dimensions
constexpr int MAX_LEVELS = 16;     // 256-QAM: 16 levels per dimension
constexpr std::size_t CHUNK = 256; // channel uses per demapping pass
constexpr double LOADINGS[] = { 1e-12, 1e-9, 1e-6, 1e-3 };
constexpr float EXP_FLOOR_F = -87.0f;
constexpr double EXP_FLOOR_D = -708.0;
// cavity-times-prior weights below this (relative to the largest, 1) change no sum
constexpr double TINY_WEIGHT = 1e-200;

// Cholesky a = l l^T of an n x n symmetric matrix (row-major, row stride S, lower
// triangle read); dinv = 1 / diag(l). false where a pivot is not positive (or NaN), as
// LAPACK's potrf. NF: n when fixed at compile time (0: n_rt).
template <int NF>
inline bool cholesky(const double* a, int n_rt, double* l, double* dinv)
{
    constexpr int S = NF > 0 ? NF : MAX_N;
    const int n = NF > 0 ? NF : n_rt;
    for (int j = 0; j < n; j++) {
        double d = a[j * S + j];
        for (int c = 0; c < j; c++)
            d -= l[j * S + c] * l[j * S + c];
        if (!(d > 0.0))
            return false;
        const double ljj = std::sqrt(d);
        l[j * S + j] = ljj;
        dinv[j] = 1.0 / ljj;
        for (int i = j + 1; i < n; i++) {
            double s = a[i * S + j];
            for (int c = 0; c < j; c++)
                s -= l[i * S + c] * l[j * S + c];
            l[i * S + j] = s * dinv[j];
        }
    }
    return true;
}

//! exp(x) of 4 doubles for x in [-708, 0] (x = n ln2 + r, |r| <= ln2 / 2, Taylor
//! polynomial of degree 13: relative error a few ulp).
__attribute__((target("avx2,fma"), always_inline)) inline __m256d exp256d(__m256d x)
{
    const __m256d nd =
        _mm256_round_pd(_mm256_mul_pd(x, _mm256_set1_pd(1.4426950408889634)),
                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256d r = _mm256_fnmadd_pd(nd, _mm256_set1_pd(0.693145751953125), x);
    r = _mm256_fnmadd_pd(nd, _mm256_set1_pd(1.42860682030941723212e-6), r);
    static const double inv_fact[14] = { 1.0,
                                         1.0,
                                         1.0 / 2,
                                         1.0 / 6,
                                         1.0 / 24,
                                         1.0 / 120,
                                         1.0 / 720,
                                         1.0 / 5040,
                                         1.0 / 40320,
                                         1.0 / 362880,
                                         1.0 / 3628800,
                                         1.0 / 39916800,
                                         1.0 / 479001600,
                                         1.0 / 6227020800.0 };
    __m256d y = _mm256_set1_pd(inv_fact[13]);
    for (int k = 12; k >= 0; k--)
        y = _mm256_fmadd_pd(y, r, _mm256_set1_pd(inv_fact[k]));
    const __m256d magic = _mm256_set1_pd(6755399441055744.0); // 2^52 + 2^51
    __m256i ni = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(nd, magic)),
                                  _mm256_castpd_si256(magic));
    ni = _mm256_slli_epi64(_mm256_add_epi64(ni, _mm256_set1_epi64x(1023)), 52);
    return _mm256_mul_pd(y, _mm256_castsi256_pd(ni));
}

// EP's moment matching and damped site update of 4 independent real dimensions (one per
// lane): the scalar loop of run_one with the weights exp(f_j - max f) from exp256d. P, Q:
// the cavity's p and prec; L, G: the sites lam, gam, updated in place.
__attribute__((target("avx2,fma"), always_inline)) inline void moment4(__m256d P,
                                                                       __m256d Q,
                                                                       const double* lv,
                                                                       const double* lv2,
                                                                       int na,
                                                                       double eps,
                                                                       double beta,
                                                                       __m256d& L,
                                                                       __m256d& G)
{
    const __m256d half = _mm256_set1_pd(0.5), one = _mm256_set1_pd(1.0),
                  vb = _mm256_set1_pd(beta), vb1 = _mm256_set1_pd(1.0 - beta),
                  floor_ = _mm256_set1_pd(-708.0), inf = _mm256_set1_pd(INFINITY),
                  ninf = _mm256_set1_pd(-INFINITY), veps = _mm256_set1_pd(eps),
                  zero = _mm256_setzero_pd();
    const __m256d hq = _mm256_mul_pd(half, Q);
    __m256d f[MAX_LEVELS];
    __m256d fmax = ninf, nan = zero;
    for (int j = 0; j < na; j++) {
        f[j] = _mm256_sub_pd(_mm256_mul_pd(P, _mm256_set1_pd(lv[j])),
                             _mm256_mul_pd(hq, _mm256_set1_pd(lv2[j])));
        nan = _mm256_or_pd(nan, _mm256_cmp_pd(f[j], f[j], _CMP_UNORD_Q));
        fmax = _mm256_max_pd(fmax, f[j]);
    }
    // NaN or non-finite maximum: no update (the reference's moments are NaN there)
    const __m256d bad = _mm256_or_pd(nan,
                                     _mm256_or_pd(_mm256_cmp_pd(fmax, inf, _CMP_EQ_OQ),
                                                  _mm256_cmp_pd(fmax, ninf, _CMP_EQ_OQ)));
    __m256d e[MAX_LEVELS];
    __m256d tot = zero, sm = zero;
    for (int j = 0; j < na; j++) {
        e[j] = exp256d(_mm256_max_pd(_mm256_sub_pd(f[j], fmax), floor_));
        tot = _mm256_add_pd(tot, e[j]);
        sm = _mm256_add_pd(sm, _mm256_mul_pd(e[j], _mm256_set1_pd(lv[j])));
    }
    const __m256d m = _mm256_div_pd(sm, tot);
    __m256d sv = zero;
    for (int j = 0; j < na; j++) {
        const __m256d dl = _mm256_sub_pd(_mm256_set1_pd(lv[j]), m);
        sv = _mm256_add_pd(sv, _mm256_mul_pd(_mm256_mul_pd(e[j], dl), dl));
    }
    const __m256d var = _mm256_max_pd(_mm256_div_pd(sv, tot), veps);
    const __m256d lam_new = _mm256_sub_pd(_mm256_div_pd(one, var), Q);
    const __m256d gam_new = _mm256_sub_pd(_mm256_div_pd(m, var), P);
    const __m256d upd = _mm256_andnot_pd(bad, _mm256_cmp_pd(lam_new, zero, _CMP_GT_OQ));
    const __m256d L1 = _mm256_add_pd(_mm256_mul_pd(vb, lam_new), _mm256_mul_pd(vb1, L));
    const __m256d G1 = _mm256_add_pd(_mm256_mul_pd(vb, gam_new), _mm256_mul_pd(vb1, G));
    L = _mm256_blendv_pd(L, L1, upd);
    G = _mm256_blendv_pd(G, G1, upd);
}

// moment4 over the n real dimensions of one channel use, 4 at a time.
__attribute__((target("avx2,fma"))) void moments_avx2(const double* p,
                                                      const double* prec,
                                                      int n,
                                                      const double* lv,
                                                      const double* lv2,
                                                      int na,
                                                      double eps,
                                                      double beta,
                                                      double* lam,
                                                      double* gam)
{
    for (int i0 = 0; i0 < n; i0 += 4) {
        const int lanes = std::min(4, n - i0);
        alignas(32) double pb[4] = { 0, 0, 0, 0 }, qb[4] = { 0, 0, 0, 0 },
                           lb[4] = { 1, 1, 1, 1 }, gb[4] = { 0, 0, 0, 0 };
        for (int l = 0; l < lanes; l++) {
            pb[l] = p[i0 + l];
            qb[l] = prec[i0 + l];
            lb[l] = lam[i0 + l];
            gb[l] = gam[i0 + l];
        }
        __m256d L = _mm256_load_pd(lb), G = _mm256_load_pd(gb);
        moment4(_mm256_load_pd(pb), _mm256_load_pd(qb), lv, lv2, na, eps, beta, L, G);
        _mm256_store_pd(lb, L);
        _mm256_store_pd(gb, G);
        for (int l = 0; l < lanes; l++) {
            lam[i0 + l] = lb[l];
            gam[i0 + l] = gb[l];
        }
    }
}

// Float f[idx] of 4 records `stride` floats apart, as doubles (one gather).
__attribute__((target("avx2,fma"), always_inline)) inline __m256d
lanes_of(const float* f, __m128i offsets, std::size_t idx)
{
    return _mm256_cvtps_pd(_mm_i32gather_ps(f + idx, offsets, 4));
}

//! What run4 needs of the detector.
struct ep_consts {
    int nr, nt, dims, na, iterations;
    double lam0, eps, beta;
    const double* lv;
    const double* lv2;
    double dir[2][2];
    double ee[2][2][2];
};

// EP of 4 channel uses at once, one per lane, for NF real dimensions: run_one's
// arithmetic operation for operation (so each channel use gets the same result as there).
// Writes the statistics of channel use l at t + l * NF, g + l * NF; returns the mask of
// the channel uses it could not finish (a factorisation that needs the diagonal loading,
// or statistics that are not finite), which the caller hands to run_one.
template <int NF>
__attribute__((target("avx2,fma"))) unsigned run4(const ep_consts& c,
                                                  const std::complex<float>* y,
                                                  const std::complex<float>* h,
                                                  const float* nv,
                                                  double* t_out,
                                                  double* g_out)
{
    constexpr int n = NF;
    const int nr = c.nr, nt = c.nt, dims = c.dims;
    const __m256d zero = _mm256_setzero_pd();
    // z = H^H y, G = H^H H (upper triangle), each entry summed over r in order as run_one
    const int hs = 2 * nr * nt, ys = 2 * nr; // floats per record
    const __m128i hoff = _mm_setr_epi32(0, hs, 2 * hs, 3 * hs);
    const __m128i yoff = _mm_setr_epi32(0, ys, 2 * ys, 3 * ys);
    const float* hf = reinterpret_cast<const float*>(h);
    const float* yf = reinterpret_cast<const float*>(y);
    __m256d gre[MAX_NT * MAX_NT], gim[MAX_NT * MAX_NT], zre[MAX_NT], zim[MAX_NT];
    for (int a = 0; a < nt; a++) {
        zre[a] = zim[a] = zero;
        for (int b = a; b < nt; b++)
            gre[a * nt + b] = gim[a * nt + b] = zero;
    }
    for (int r = 0; r < nr; r++) {
        __m256d hr[MAX_NT], hi[MAX_NT];
        for (int a = 0; a < nt; a++) {
            hr[a] = lanes_of(hf, hoff, 2 * std::size_t(r * nt + a));
            hi[a] = lanes_of(hf, hoff, 2 * std::size_t(r * nt + a) + 1);
        }
        const __m256d yr = lanes_of(yf, yoff, 2 * std::size_t(r)),
                      yi = lanes_of(yf, yoff, 2 * std::size_t(r) + 1);
        for (int a = 0; a < nt; a++) {
            zre[a] = _mm256_add_pd(
                zre[a],
                _mm256_add_pd(_mm256_mul_pd(hr[a], yr), _mm256_mul_pd(hi[a], yi)));
            zim[a] = _mm256_add_pd(
                zim[a],
                _mm256_sub_pd(_mm256_mul_pd(hr[a], yi), _mm256_mul_pd(hi[a], yr)));
            for (int b = a; b < nt; b++) {
                gre[a * nt + b] =
                    _mm256_add_pd(gre[a * nt + b],
                                  _mm256_add_pd(_mm256_mul_pd(hr[a], hr[b]),
                                                _mm256_mul_pd(hi[a], hi[b])));
                gim[a * nt + b] =
                    _mm256_add_pd(gim[a * nt + b],
                                  _mm256_sub_pd(_mm256_mul_pd(hr[a], hi[b]),
                                                _mm256_mul_pd(hi[a], hr[b])));
            }
        }
    }
    for (int a = 0; a < nt; a++) {
        for (int b = a + 1; b < nt; b++) {
            gre[b * nt + a] = gre[a * nt + b];
            gim[b * nt + a] = _mm256_sub_pd(zero, gim[a * nt + b]);
        }
        gim[a * nt + a] = zero;
    }
    __m256d g0[n * n], z[n];
    for (int d = 0; d < dims; d++) {
        for (int a = 0; a < nt; a++) {
            const int i = d * nt + a;
            z[i] = _mm256_add_pd(_mm256_mul_pd(zre[a], _mm256_set1_pd(c.dir[d][0])),
                                 _mm256_mul_pd(zim[a], _mm256_set1_pd(c.dir[d][1])));
            for (int d2 = 0; d2 < dims; d2++) {
                const __m256d er = _mm256_set1_pd(c.ee[d][d2][0]),
                              ei = _mm256_set1_pd(c.ee[d][d2][1]);
                for (int b = 0; b < nt; b++)
                    g0[i * n + d2 * nt + b] =
                        _mm256_sub_pd(_mm256_mul_pd(gre[a * nt + b], er),
                                      _mm256_mul_pd(gim[a * nt + b], ei));
            }
        }
    }
    const __m256d s = _mm256_mul_pd(
        _mm256_set1_pd(0.5),
        _mm256_set_pd(double(nv[3]), double(nv[2]), double(nv[1]), double(nv[0])));
    __m256d lam[n], gam[n], A[n * n], L[n * n], W[n * n], dinv[n], p[n], prec[n];
    for (int i = 0; i < n; i++) {
        lam[i] = _mm256_set1_pd(c.lam0);
        gam[i] = zero;
    }
    __m256d fail = zero; // lanes whose factorisation needs the loading
    const __m256d one = _mm256_set1_pd(1.0);
    for (int it = 0;; it++) {
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++)
                A[i * n + j] = g0[i * n + j];
            A[i * n + i] = _mm256_add_pd(A[i * n + i], _mm256_mul_pd(s, lam[i]));
        }
        for (int j = 0; j < n; j++) {
            __m256d d = A[j * n + j];
            for (int k = 0; k < j; k++)
                d = _mm256_sub_pd(d, _mm256_mul_pd(L[j * n + k], L[j * n + k]));
            const __m256d bad = _mm256_cmp_pd(d, zero, _CMP_NGT_UQ); // !(d > 0)
            fail = _mm256_or_pd(fail, bad);
            d = _mm256_blendv_pd(d, one, bad);
            const __m256d ljj = _mm256_sqrt_pd(d);
            L[j * n + j] = ljj;
            dinv[j] = _mm256_div_pd(one, ljj);
            for (int i = j + 1; i < n; i++) {
                __m256d acc = A[i * n + j];
                for (int k = 0; k < j; k++)
                    acc = _mm256_sub_pd(acc, _mm256_mul_pd(L[i * n + k], L[j * n + k]));
                L[i * n + j] = _mm256_mul_pd(acc, dinv[j]);
            }
        }
        for (int i = 0; i < n; i++) {
            W[i * n + i] = dinv[i];
            for (int j = 0; j < i; j++) {
                __m256d acc = zero;
                for (int k = j; k < i; k++)
                    acc = _mm256_add_pd(acc, _mm256_mul_pd(L[i * n + k], W[k * n + j]));
                W[i * n + j] = _mm256_mul_pd(_mm256_sub_pd(zero, acc), dinv[i]);
            }
        }
        __m256d cv[n];
        for (int i = 0; i < n; i++) {
            __m256d acc = zero;
            for (int j = 0; j <= i; j++)
                acc = _mm256_add_pd(
                    acc,
                    _mm256_mul_pd(W[i * n + j],
                                  _mm256_add_pd(z[j], _mm256_mul_pd(s, gam[j]))));
            cv[i] = acc;
        }
        for (int i = 0; i < n; i++) {
            __m256d mu = zero, pii = zero;
            for (int k = i; k < n; k++) {
                mu = _mm256_add_pd(mu, _mm256_mul_pd(W[k * n + i], cv[k]));
                pii = _mm256_add_pd(pii, _mm256_mul_pd(W[k * n + i], W[k * n + i]));
            }
            const __m256d inv = _mm256_div_pd(one, _mm256_mul_pd(s, pii));
            const __m256d v = _mm256_sub_pd(inv, lam[i]);
            prec[i] = _mm256_blendv_pd(v, zero, _mm256_cmp_pd(v, zero, _CMP_LT_OQ));
            p[i] = _mm256_sub_pd(_mm256_mul_pd(mu, inv), gam[i]);
        }
        if (it == c.iterations)
            break;
        for (int i = 0; i < n; i++)
            moment4(p[i], prec[i], c.lv, c.lv2, c.na, c.eps, c.beta, lam[i], gam[i]);
    }
    // non-finite statistics: the caller's run_one decides (zero LLRs)
    const __m256d big = _mm256_set1_pd(DBL_MAX);
    for (int i = 0; i < n; i++) {
        const __m256d ap = _mm256_andnot_pd(_mm256_set1_pd(-0.0), p[i]);
        const __m256d aq = _mm256_andnot_pd(_mm256_set1_pd(-0.0), prec[i]);
        fail = _mm256_or_pd(fail, _mm256_cmp_pd(ap, big, _CMP_NLE_UQ));
        fail = _mm256_or_pd(fail, _mm256_cmp_pd(aq, big, _CMP_NLE_UQ));
    }
    alignas(32) double buf[4];
    for (int d = 0; d < dims; d++)
        for (int a = 0; a < nt; a++) {
            const int i = d * nt + a, q = a * dims + d;
            _mm256_store_pd(buf, _mm256_mul_pd(_mm256_set1_pd(0.5), p[i]));
            for (int l = 0; l < 4; l++)
                t_out[l * n + q] = buf[l];
            _mm256_store_pd(buf, _mm256_mul_pd(_mm256_set1_pd(0.5), prec[i]));
            for (int l = 0; l < 4; l++)
                g_out[l * n + q] = buf[l];
        }
    return unsigned(_mm256_movemask_pd(fail));
}
} // namespace

ep_detector::ep_detector(int nr,
                         int nt,
                         const std::vector<int>& levels,
                         double scale,
                         int n_dims,
                         double dir_re,
                         double dir_im,
                         int iterations,
                         double beta,
                         double eps)
    : d_nr(nr),
      d_nt(nt),
      d_dims(n_dims),
      d_iter(iterations),
      d_scale(scale),
      d_beta(beta),
      d_eps(eps)
{
    if (nr < 1 || nt < 1 || nt > MAX_NT)
        throw std::invalid_argument("ep_detector: need nr >= 1 and 1 <= nt <= 16");
    d_a = int(levels.size());
    if (d_a < 2 || d_a > MAX_LEVELS || (d_a & (d_a - 1)))
        throw std::invalid_argument(
            "ep_detector: levels must hold 2, 4, 8 or 16 entries");
    if (n_dims != 1 && n_dims != 2)
        throw std::invalid_argument("ep_detector: n_dims must be 1 or 2");
    if (!(scale > 0.0))
        throw std::invalid_argument("ep_detector: scale must be > 0");
    if (iterations < 0)
        throw std::invalid_argument("ep_detector: iterations must be >= 0");
    if (!(beta > 0.0 && beta <= 1.0))
        throw std::invalid_argument("ep_detector: beta (damping) must be in (0, 1]");
    if (!(eps > 0.0 && eps < 1.0))
        throw std::invalid_argument(
            "ep_detector: eps (variance floor) must be in (0, 1)");
    d_bpd = 0;
    while ((1 << d_bpd) < d_a)
        d_bpd++;
    d_k = d_bpd * d_dims;
    double sum2 = 0.0;
    for (int v : levels) {
        const double a = scale * double(v);
        d_alpha.push_back(a);
        d_alpha_f.push_back(float(a));
        sum2 += a * a;
    }
    d_lam0 = 1.0 / (sum2 / double(d_a)); // the prior's 1 / E[a^2]
    d_sorted = d_alpha;
    std::sort(d_sorted.begin(), d_sorted.end());
    for (double a : d_sorted)
        d_sorted2.push_back(a * a);
    d_step = d_sorted[1] - d_sorted[0];
    for (int i = 1; i < d_a; i++)
        if (std::abs((d_sorted[i] - d_sorted[i - 1]) - d_step) > 1e-9 * d_step)
            throw std::invalid_argument("ep_detector: levels must be equally spaced");
    // directions e_d of the real dimensions: QAM 1 and j, BPSK (dir_re + j dir_im)
    if (n_dims == 2) {
        d_dir[0][0] = 1.0;
        d_dir[0][1] = 0.0;
        d_dir[1][0] = 0.0;
        d_dir[1][1] = 1.0;
    } else {
        d_dir[0][0] = dir_re;
        d_dir[0][1] = dir_im;
    }
    for (int a = 0; a < n_dims; a++)
        for (int b = 0; b < n_dims; b++) { // conj(e_a) e_b
            d_ee[a][b][0] = d_dir[a][0] * d_dir[b][0] + d_dir[a][1] * d_dir[b][1];
            d_ee[a][b][1] = d_dir[a][0] * d_dir[b][1] - d_dir[a][1] * d_dir[b][0];
        }
    d_avx2_ok = simd::cpu_has_avx2_fma();
    d_use_avx2 = d_avx2_ok;
}

void ep_detector::set_isa(const std::string& isa)
{
    d_use_avx2 = simd::select_isa(isa, d_avx2_ok, "ep_detector", "CPU");
}

std::string ep_detector::isa() const { return d_use_avx2 ? "avx2" : "generic"; }

// EP of one channel use; NF = real dimensions when fixed at compile time (0: run time).
// -> per real dimension i = d * nt + k the demapping statistics t = p / 2 and g = prec /
// 2, written at [k * dims + d]; false where they are not finite (zero LLRs).
template <int NF>
bool ep_detector::run_one(const std::complex<float>* y,
                          const std::complex<float>* h,
                          double nv,
                          double* t_out,
                          double* g_out) const
{
    constexpr int S = NF > 0 ? NF : MAX_N; // row stride
    const int nr = d_nr, nt = d_nt, dims = d_dims;
    const int n = NF > 0 ? NF : dims * nt;
    double gre[MAX_NT * MAX_NT], gim[MAX_NT * MAX_NT], zre[MAX_NT], zim[MAX_NT];
    // z = H^H y, G = H^H H (upper triangle; G is Hermitian)
    for (int a = 0; a < nt; a++) {
        double sr = 0.0, si = 0.0;
        for (int r = 0; r < nr; r++) {
            const double hr = h[r * nt + a].real(), hi = h[r * nt + a].imag();
            const double yr = y[r].real(), yi = y[r].imag();
            sr += hr * yr + hi * yi;
            si += hr * yi - hi * yr;
        }
        zre[a] = sr;
        zim[a] = si;
        for (int b = a; b < nt; b++) {
            double tr = 0.0, ti = 0.0;
            for (int r = 0; r < nr; r++) {
                const double ar = h[r * nt + a].real(), ai = h[r * nt + a].imag();
                const double br = h[r * nt + b].real(), bi = h[r * nt + b].imag();
                tr += ar * br + ai * bi;
                ti += ar * bi - ai * br;
            }
            gre[a * nt + b] = tr;
            gim[a * nt + b] = ti;
            gre[b * nt + a] = tr;
            gim[b * nt + a] = -ti;
        }
        gim[a * nt + a] = 0.0;
    }
    // real model: column d * nt + k is H[:, k] e_d
    double g0[S * S], z[S];
    for (int d = 0; d < dims; d++) {
        for (int a = 0; a < nt; a++) {
            const int i = d * nt + a;
            z[i] = zre[a] * d_dir[d][0] + zim[a] * d_dir[d][1]; // Re(conj(e_d) z_a)
            for (int d2 = 0; d2 < dims; d2++) {
                const double er = d_ee[d][d2][0], ei = d_ee[d][d2][1];
                for (int b = 0; b < nt; b++)
                    g0[i * S + d2 * nt + b] = gre[a * nt + b] * er - gim[a * nt + b] * ei;
            }
        }
    }
    const double s = 0.5 * nv;
    double lam[S], gam[S], A[S * S], L[S * S], W[S * S], dinv[S], p[S], prec[S];
    for (int i = 0; i < n; i++) {
        lam[i] = d_lam0;
        gam[i] = 0.0;
    }
    const int na = d_a;
    const double c_step = d_step * d_step;
    for (int it = 0;; it++) {
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++)
                A[i * S + j] = g0[i * S + j];
            A[i * S + i] += s * lam[i];
        }
        if (!cholesky<NF>(A, n, L, dinv)) {
            double sc = 0.0;
            for (int i = 0; i < n; i++)
                sc = std::max(sc, std::abs(A[i * S + i]));
            sc = std::max(sc, DBL_MIN);
            bool ok = false;
            for (double rel : LOADINGS) {
                double B[S * S];
                for (int i = 0; i < n; i++) {
                    for (int j = 0; j < i; j++)
                        B[i * S + j] = A[i * S + j];
                    B[i * S + i] = A[i * S + i] + rel * sc;
                }
                if (cholesky<NF>(B, n, L, dinv)) {
                    ok = true;
                    break;
                }
            }
            if (!ok)
                return false;
        }
        // W = L^-1 (lower), diag(P) and mu = P (z + s gam) = W^T (W b)
        for (int i = 0; i < n; i++) {
            W[i * S + i] = dinv[i];
            for (int j = 0; j < i; j++) {
                double acc = 0.0;
                for (int c = j; c < i; c++)
                    acc += L[i * S + c] * W[c * S + j];
                W[i * S + j] = -acc * dinv[i];
            }
        }
        double c[S];
        for (int i = 0; i < n; i++) {
            double acc = 0.0;
            for (int j = 0; j <= i; j++)
                acc += W[i * S + j] * (z[j] + s * gam[j]);
            c[i] = acc;
        }
        for (int i = 0; i < n; i++) {
            double mu = 0.0, pii = 0.0;
            for (int k = i; k < n; k++) {
                mu += W[k * S + i] * c[k];
                pii += W[k * S + i] * W[k * S + i];
            }
            const double inv = 1.0 / (s * pii);
            const double v = inv - lam[i];
            prec[i] = v < 0.0 ? 0.0 : v; // NaN stays NaN
            p[i] = mu * inv - gam[i];
        }
        if (it == d_iter)
            break;
        // moments of the cavity exp(p a - prec a^2 / 2) times the uniform prior on the
        // levels
        if (d_use_avx2) {
            moments_avx2(p,
                         prec,
                         n,
                         d_sorted.data(),
                         d_sorted2.data(),
                         na,
                         d_eps,
                         d_beta,
                         lam,
                         gam);
            continue;
        }
        for (int i = 0; i < n; i++) {
            const double pi = p[i], qi = prec[i];
            double f[MAX_LEVELS];
            double fmax = -INFINITY;
            int jmax = 0;
            bool bad = false;
            for (int j = 0; j < na; j++) {
                f[j] = pi * d_sorted[j] - 0.5 * qi * d_sorted2[j];
                bad |= std::isnan(f[j]);
                if (f[j] > fmax) {
                    fmax = f[j];
                    jmax = j;
                }
            }
            if (bad || !std::isfinite(fmax))
                continue; // NaN moments: no update, as the reference's lam_new > 0 test
            // exp(f_j - fmax): the ratios of neighbours are geometric with factor
            // exp(-prec step^2), so three exponentials give all levels
            const double cf = std::exp(-qi * c_step);
            double e[MAX_LEVELS];
            for (int j = 0; j < na; j++)
                e[j] = 0.0;
            e[jmax] = 1.0;
            if (jmax + 1 < na) {
                double r = std::exp(f[jmax + 1] - fmax), v = r;
                for (int j = jmax + 1; j < na; j++) {
                    e[j] = v;
                    r *= cf;
                    v *= r;
                    if (v < TINY_WEIGHT)
                        break;
                }
            }
            if (jmax > 0) {
                double r = std::exp(f[jmax - 1] - fmax), v = r;
                for (int j = jmax - 1; j >= 0; j--) {
                    e[j] = v;
                    r *= cf;
                    v *= r;
                    if (v < TINY_WEIGHT)
                        break;
                }
            }
            double tot = 0.0, sm = 0.0;
            for (int j = 0; j < na; j++) {
                tot += e[j];
                sm += e[j] * d_sorted[j];
            }
            const double m = sm / tot;
            double sv = 0.0;
            for (int j = 0; j < na; j++) {
                const double dl = d_sorted[j] - m;
                sv += e[j] * dl * dl;
            }
            const double var = std::max(sv / tot, d_eps);
            const double lam_new = 1.0 / var - qi;
            const double gam_new = m / var - pi;
            if (lam_new > 0.0) { // a negative site precision is not applied
                lam[i] = d_beta * lam_new + (1.0 - d_beta) * lam[i];
                gam[i] = d_beta * gam_new + (1.0 - d_beta) * gam[i];
            }
        }
    }
    for (int i = 0; i < n; i++)
        if (!std::isfinite(p[i]) || !std::isfinite(prec[i]))
            return false;
    for (int d = 0; d < dims; d++)
        for (int a = 0; a < nt; a++) {
            t_out[a * dims + d] = 0.5 * p[d * nt + a];
            g_out[a * dims + d] = 0.5 * prec[d * nt + a];
        }
    return true;
}

// Demapping of nq real dimensions (instance q: symbol q / dims, dimension q % dims) from
// the metric 2 a t - g a^2: mapping.level_offsets (float32 level metrics, w in float64)
// and llr_from_label_metrics.
void ep_detector::demap_generic(const double* t,
                                const double* g,
                                std::size_t nq,
                                float* llr) const
{
    const int a = d_a, m = d_bpd, dims = d_dims, k = d_k;
    const float scale_f = float(d_scale), two_scale_f = float(2.0 * d_scale),
                off_f = float((a - 1) * d_scale);
    float f[MAX_LEVELS];
    for (std::size_t q = 0; q < nq; q++) {
        const float tl = float(t[q]), gl = float(g[q]);
        const float inv = 0.5f / (std::max(gl, 1e-30f) * scale_f);
        float nl = std::nearbyint(tl * inv + 0.5f * float(a - 1));
        nl = std::min(std::max(nl, 0.0f), float(a - 1));
        const float best = nl * two_scale_f - off_f;
        const float two_w = 2.0f * float(t[q] - g[q] * double(best));
        for (int l = 0; l < a; l++) {
            const float delta = d_alpha_f[l] - best;
            f[l] = (two_w - delta * gl) * delta;
        }
        float* o = llr + (q / dims) * k + (q % dims);
        for (int j = 0; j < m; j++) {
            float lse[2];
            for (int v = 0; v < 2; v++) {
                float mx = -INFINITY;
                for (int l = 0; l < a; l++)
                    if (((l >> (m - 1 - j)) & 1) == v)
                        mx = std::max(mx, f[l]);
                float sum = 0.0f;
                for (int l = 0; l < a; l++)
                    if (((l >> (m - 1 - j)) & 1) == v)
                        sum += std::exp(std::max(f[l] - mx, EXP_FLOOR_F));
                lse[v] = mx + std::log(sum);
            }
            o[j * dims] = lse[1] - lse[0];
        }
    }
}

// The same in float64 (the reference with dtype float64), saturated to float32's range.
void ep_detector::demap_f64(const double* t,
                            const double* g,
                            std::size_t nq,
                            float* llr) const
{
    const int a = d_a, m = d_bpd, dims = d_dims, k = d_k;
    double f[MAX_LEVELS];
    for (std::size_t q = 0; q < nq; q++) {
        const double inv = 0.5 / (std::max(g[q], 1e-30) * d_scale);
        double nl = std::nearbyint(t[q] * inv + 0.5 * double(a - 1));
        nl = std::min(std::max(nl, 0.0), double(a - 1));
        const double best = nl * (2.0 * d_scale) - (a - 1) * d_scale;
        const double two_w = 2.0 * (t[q] - g[q] * best);
        for (int l = 0; l < a; l++) {
            const double delta = d_alpha[l] - best;
            f[l] = (two_w - delta * g[q]) * delta;
        }
        float* o = llr + (q / dims) * k + (q % dims);
        for (int j = 0; j < m; j++) {
            double lse[2];
            for (int v = 0; v < 2; v++) {
                double mx = -INFINITY;
                for (int l = 0; l < a; l++)
                    if (((l >> (m - 1 - j)) & 1) == v)
                        mx = std::max(mx, f[l]);
                double sum = 0.0;
                for (int l = 0; l < a; l++)
                    if (((l >> (m - 1 - j)) & 1) == v)
                        sum += std::exp(std::max(f[l] - mx, EXP_FLOOR_D));
                lse[v] = mx + std::log(sum);
            }
            const double L = lse[1] - lse[0];
            o[j * dims] =
                std::isfinite(L)
                    ? float(std::min(std::max(L, -double(FLT_MAX)), double(FLT_MAX)))
                    : 0.0f;
        }
    }
}

__attribute__((target("avx2,fma"))) void ep_detector::demap_avx2(const double* t,
                                                                 const double* g_in,
                                                                 std::size_t nq,
                                                                 float* llr) const
{
    const int a = d_a, m = d_bpd, dims = d_dims, k = d_k;
    const float scale_f = float(d_scale), two_scale_f = float(2.0 * d_scale),
                off_f = float((a - 1) * d_scale);
    alignas(32) float out[8][8];
    __m256 alpha[MAX_LEVELS], f[MAX_LEVELS];
    for (int l = 0; l < a; l++)
        alpha[l] = _mm256_set1_ps(d_alpha_f[l]);
    // 8 dimensions at a time; a last partial group is padded with t = g = 0 (every
    // dimension is demapped by the same code, whatever its position in the batch)
    for (std::size_t q0 = 0; q0 < nq; q0 += 8) {
        const int lanes = int(std::min<std::size_t>(8, nq - q0));
        // nearest levels and 2 w (w in float64): demap_generic's steps on 8 lanes
        // (max/min with the NaN-propagating operand order of std::max / std::min)
        alignas(32) double tpad[8] = { 0, 0, 0, 0, 0, 0, 0, 0 },
                           gpad[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
        const double* tq = t + q0;
        const double* gq = g_in + q0;
        if (lanes < 8) {
            std::copy(tq, tq + lanes, tpad);
            std::copy(gq, gq + lanes, gpad);
            tq = tpad;
            gq = gpad;
        }
        const __m256d t0 = _mm256_loadu_pd(tq), t1 = _mm256_loadu_pd(tq + 4);
        const __m256d g0 = _mm256_loadu_pd(gq), g1 = _mm256_loadu_pd(gq + 4);
        const __m256 tl = _mm256_set_m128(_mm256_cvtpd_ps(t1), _mm256_cvtpd_ps(t0));
        const __m256 gv = _mm256_set_m128(_mm256_cvtpd_ps(g1), _mm256_cvtpd_ps(g0));
        const __m256 inv =
            _mm256_div_ps(_mm256_set1_ps(0.5f),
                          _mm256_mul_ps(_mm256_max_ps(_mm256_set1_ps(1e-30f), gv),
                                        _mm256_set1_ps(scale_f)));
        __m256 nl = _mm256_round_ps(
            _mm256_add_ps(_mm256_mul_ps(tl, inv), _mm256_set1_ps(0.5f * float(a - 1))),
            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        nl = _mm256_min_ps(_mm256_set1_ps(float(a - 1)),
                           _mm256_max_ps(_mm256_setzero_ps(), nl));
        const __m256 b = _mm256_sub_ps(_mm256_mul_ps(nl, _mm256_set1_ps(two_scale_f)),
                                       _mm256_set1_ps(off_f));
        const __m256d b0 = _mm256_cvtps_pd(_mm256_castps256_ps128(b)),
                      b1 = _mm256_cvtps_pd(_mm256_extractf128_ps(b, 1));
        const __m256d w0 = _mm256_sub_pd(t0, _mm256_mul_pd(g0, b0)),
                      w1 = _mm256_sub_pd(t1, _mm256_mul_pd(g1, b1));
        const __m256 tw =
            _mm256_mul_ps(_mm256_set1_ps(2.0f),
                          _mm256_set_m128(_mm256_cvtpd_ps(w1), _mm256_cvtpd_ps(w0)));
        for (int l = 0; l < a; l++) {
            const __m256 delta = _mm256_sub_ps(alpha[l], b);
            f[l] = _mm256_mul_ps(_mm256_sub_ps(tw, _mm256_mul_ps(delta, gv)), delta);
        }
        for (int j = 0; j < m; j++)
            _mm256_store_ps(out[j], simd::bit_llr256(f, a, m - 1 - j));
        for (int lane = 0; lane < lanes; lane++) {
            const std::size_t q = q0 + lane;
            float* o = llr + (q / dims) * k + (q % dims);
            for (int j = 0; j < m; j++)
                o[j * dims] = out[j][lane];
        }
    }
}

std::size_t ep_detector::detect(const std::complex<float>* y,
                                const std::complex<float>* h,
                                const float* noise_var,
                                std::size_t n,
                                float* llr,
                                unsigned char* status) const
{
    const int nr = d_nr, nt = d_nt, k = d_k, dims = d_dims, nk = nt * k;
    const int nd = dims * nt;
    std::vector<double> tb(CHUNK * nd), gb(CHUNK * nd);
    std::vector<unsigned char> st(CHUNK);
    std::size_t bad = 0;
    const bool use4 = d_use_avx2 && (nd == 2 || nd == 4 || nd == 8);
    ep_consts cst;
    cst.nr = nr;
    cst.nt = nt;
    cst.dims = dims;
    cst.na = d_a;
    cst.iterations = d_iter;
    cst.lam0 = d_lam0;
    cst.eps = d_eps;
    cst.beta = d_beta;
    cst.lv = d_sorted.data();
    cst.lv2 = d_sorted2.data();
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
            cst.dir[a][b] = d_dir[a][b];
            for (int c = 0; c < 2; c++)
                cst.ee[a][b][c] = d_ee[a][b][c];
        }
    for (std::size_t i0 = 0; i0 < n; i0 += CHUNK) {
        const std::size_t m = std::min(CHUNK, n - i0);
        for (std::size_t j = 0; j < m; j++) {
            const std::size_t i = i0 + j;
            const std::complex<float>* yi = y + i * nr;
            const std::complex<float>* hi = h + i * nr * nt;
            const float nvf = noise_var[i];
            bool ok = std::isfinite(nvf) && nvf > 0.0f;
            for (int r = 0; r < nr && ok; r++)
                ok = std::isfinite(yi[r].real()) && std::isfinite(yi[r].imag());
            for (int r = 0; r < nr * nt && ok; r++)
                ok = std::isfinite(hi[r].real()) && std::isfinite(hi[r].imag());
            st[j] = ok ? 0 : 1;
            bad += ok ? 0 : 1;
        }
        // one channel use by run_one; zero statistics where it fails (every level's
        // metric 0, every LLR exactly 0)
        auto single = [&](std::size_t j) {
            const std::size_t i = i0 + j;
            double* t = tb.data() + j * nd;
            double* g = gb.data() + j * nd;
            bool ok = st[j] == 0;
            if (ok) {
                const std::complex<float>* yi = y + i * nr;
                const std::complex<float>* hi = h + i * nr * nt;
                const double nv = double(noise_var[i]);
                switch (nd) {
                case 2:
                    ok = run_one<2>(yi, hi, nv, t, g);
                    break;
                case 4:
                    ok = run_one<4>(yi, hi, nv, t, g);
                    break;
                case 8:
                    ok = run_one<8>(yi, hi, nv, t, g);
                    break;
                default:
                    ok = run_one<0>(yi, hi, nv, t, g);
                }
            }
            if (!ok)
                for (int q = 0; q < nd; q++)
                    t[q] = g[q] = 0.0;
        };
        for (std::size_t j = 0; j < m;) {
            if (use4 && j + 4 <= m && !(st[j] | st[j + 1] | st[j + 2] | st[j + 3])) {
                // four channel uses in the lanes of one vector (the same arithmetic)
                const std::size_t i = i0 + j;
                const std::complex<float>* yi = y + i * nr;
                const std::complex<float>* hi = h + i * nr * nt;
                double* t = tb.data() + j * nd;
                double* g = gb.data() + j * nd;
                unsigned redo;
                if (nd == 2)
                    redo = run4<2>(cst, yi, hi, noise_var + i, t, g);
                else if (nd == 4)
                    redo = run4<4>(cst, yi, hi, noise_var + i, t, g);
                else
                    redo = run4<8>(cst, yi, hi, noise_var + i, t, g);
                for (int l = 0; l < 4; l++)
                    if ((redo >> l) & 1)
                        single(j + l);
                j += 4;
            } else {
                single(j);
                j++;
            }
        }
        float* o = llr + i0 * nk;
        const std::size_t nq = m * nd;
        if (d_use_avx2)
            demap_avx2(tb.data(), gb.data(), nq, o);
        else
            demap_generic(tb.data(), gb.data(), nq, o);
        for (std::size_t j = 0; j < m; j++) {
            float* oj = o + j * nk;
            bool fin = true;
            for (int q = 0; q < nk; q++)
                fin &= std::isfinite(oj[q]);
            if (!fin) { // float32 overflow: float64 demapping, saturated
                demap_f64(tb.data() + j * nd, gb.data() + j * nd, nd, oj);
                st[j] = 2;
            }
            if (st[j] == 1)
                for (int q = 0; q < nk; q++)
                    oj[q] = 0.0f;
        }
        if (status)
            std::copy(st.begin(), st.begin() + m, status + i0);
    }
    return bad;
}

} // namespace deepquant
} // namespace gr
