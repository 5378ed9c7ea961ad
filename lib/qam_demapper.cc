/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "isa_select.h"
#include "simd_math.h"
#include <gnuradio/deepquant/qam_demapper.h>
#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace gr {
namespace deepquant {

namespace {
constexpr int MAX_LEVELS = 16; // 256-QAM: 16 levels per dimension
constexpr float EXP_FLOOR = -87.0f;

// Per-dimension statistics of one symbol as the reference computes them: the nearest
// level a* (float32) and 2 w = 2 (t - g a*) (w in float64, then float32).
struct dim_stats {
    float best;
    float two_w;
};

inline dim_stats
stats(double t, float g, float scale_f, float two_scale_f, float off_f, int a)
{
    const float tl = float(t);
    const float inv = 0.5f / (std::max(g, 1e-30f) * scale_f);
    float n = std::nearbyint(tl * inv + 0.5f * float(a - 1));
    n = std::min(std::max(n, 0.0f), float(a - 1));
    const float best = n * two_scale_f - off_f;
    const double w = t - double(g) * double(best);
    return { best, 2.0f * float(w) };
}
} // namespace

qam_demapper::qam_demapper(const std::vector<int>& levels,
                           double scale,
                           int n_dims,
                           double dir_re,
                           double dir_im)
    : d_dims(n_dims), d_scale(scale), d_dir_re(dir_re), d_dir_im(dir_im)
{
    d_a = int(levels.size());
    if (d_a < 2 || d_a > MAX_LEVELS || (d_a & (d_a - 1)))
        throw std::invalid_argument(
            "qam_demapper: levels must hold 2, 4, 8 or 16 entries");
    if (n_dims != 1 && n_dims != 2)
        throw std::invalid_argument("qam_demapper: n_dims must be 1 or 2");
    if (!(scale > 0.0))
        throw std::invalid_argument("qam_demapper: scale must be > 0");
    d_bpd = 0;
    while ((1 << d_bpd) < d_a)
        d_bpd++;
    d_k = d_bpd * d_dims;
    for (int v : levels)
        d_alpha.push_back(float(scale * double(v)));
    d_avx2_ok = d_dims == 2 && simd::cpu_has_avx2_fma();
    d_use_avx2 = d_avx2_ok;
}

void qam_demapper::set_isa(const std::string& isa)
{
    d_use_avx2 = simd::select_isa(isa, d_avx2_ok, "qam_demapper", "CPU or BPSK");
}

std::string qam_demapper::isa() const { return d_use_avx2 ? "avx2" : "generic"; }

namespace {
constexpr std::size_t CHUNK = 256;
} // namespace

std::size_t qam_demapper::demap(const std::complex<float>* y,
                                const std::complex<float>* h,
                                const float* nv,
                                std::size_t n,
                                bool maxlog,
                                float* llr) const
{
    double t[2 * CHUNK];
    float g[CHUNK];
    std::size_t bad = 0;
    for (std::size_t i0 = 0; i0 < n; i0 += CHUNK) {
        const std::size_t m = std::min(CHUNK, n - i0);
        for (std::size_t j = 0; j < m; j++) {
            const std::size_t i = i0 + j;
            // u = conj(h) y / sigma^2 and g = |h|^2 / sigma^2 in float32, as the
            // reference
            const float inv = 1.0f / nv[i];
            const float yr = y[i].real(), yi = y[i].imag();
            float ur, ui;
            if (h) {
                const float hr = h[i].real(), hi = h[i].imag();
                ur = (hr * yr + hi * yi) * inv;
                ui = (hr * yi - hi * yr) * inv;
                g[j] = (hr * hr + hi * hi) * inv;
            } else {
                ur = yr * inv;
                ui = yi * inv;
                g[j] = inv;
            }
            if (d_dims == 2) {
                t[2 * j] = ur;
                t[2 * j + 1] = ui;
            } else {
                t[2 * j] = double(ur) * d_dir_re + double(ui) * d_dir_im;
                t[2 * j + 1] = 0.0;
            }
            const bool ok =
                std::isfinite(yr) && std::isfinite(yi) && nv[i] > 0.0f &&
                std::isfinite(nv[i]) &&
                (!h || (std::isfinite(h[i].real()) && std::isfinite(h[i].imag())));
            if (!ok) { // t = g = 0: every level's metric is 0, every LLR exactly 0
                t[2 * j] = t[2 * j + 1] = 0.0;
                g[j] = 0.0f;
                bad++;
            }
        }
        core(t, g, m, maxlog, llr + i0 * d_k);
    }
    return bad;
}

void qam_demapper::demap_statistics(const std::complex<double>* u,
                                    const float* g,
                                    std::size_t n,
                                    bool maxlog,
                                    float* llr) const
{
    double t[2 * CHUNK];
    for (std::size_t i0 = 0; i0 < n; i0 += CHUNK) {
        const std::size_t m = std::min(CHUNK, n - i0);
        for (std::size_t j = 0; j < m; j++) {
            const std::complex<double> v = u[i0 + j];
            if (d_dims == 2) {
                t[2 * j] = v.real();
                t[2 * j + 1] = v.imag();
            } else {
                t[2 * j] = v.real() * d_dir_re + v.imag() * d_dir_im;
                t[2 * j + 1] = 0.0;
            }
        }
        core(t, g + i0, m, maxlog, llr + i0 * d_k);
    }
}

void qam_demapper::core(
    const double* t, const float* g, std::size_t n, bool maxlog, float* llr) const
{
    std::size_t done = 0;
    if (d_use_avx2)
        done = core_avx2(t, g, n, maxlog, llr);
    if (done < n)
        core_generic(t + 2 * done, g + done, n - done, maxlog, llr + done * d_k);
}

void qam_demapper::core_generic(
    const double* t, const float* g, std::size_t n, bool maxlog, float* llr) const
{
    const int a = d_a, m = d_bpd;
    const float scale_f = float(d_scale), two_scale_f = float(2.0 * d_scale),
                off_f = float((a - 1) * d_scale);
    float f[MAX_LEVELS];
    for (std::size_t i = 0; i < n; i++) {
        for (int d = 0; d < d_dims; d++) {
            const dim_stats s = stats(t[2 * i + d], g[i], scale_f, two_scale_f, off_f, a);
            for (int l = 0; l < a; l++) {
                const float delta = d_alpha[l] - s.best;
                f[l] = (s.two_w - delta * g[i]) * delta;
            }
            for (int j = 0; j < m; j++) {
                float lse[2];
                for (int v = 0; v < 2; v++) {
                    float mx = -INFINITY;
                    for (int l = 0; l < a; l++)
                        if (((l >> (m - 1 - j)) & 1) == v)
                            mx = std::max(mx, f[l]);
                    if (maxlog) {
                        lse[v] = mx;
                        continue;
                    }
                    float sum = 0.0f;
                    for (int l = 0; l < a; l++)
                        if (((l >> (m - 1 - j)) & 1) == v)
                            sum += std::exp(std::max(f[l] - mx, EXP_FLOOR));
                    lse[v] = mx + std::log(sum);
                }
                llr[i * d_k + j * d_dims + d] = lse[1] - lse[0];
            }
        }
    }
}

__attribute__((target("avx2,fma"))) std::size_t qam_demapper::core_avx2(
    const double* t, const float* g_in, std::size_t n, bool maxlog, float* llr) const
{
    const int a = d_a, m = d_bpd, k = d_k;
    const float scale_f = float(d_scale), two_scale_f = float(2.0 * d_scale),
                off_f = float((a - 1) * d_scale);
    alignas(32) float best[2][8], two_w[2][8], out[16][8];
    __m256 alpha[MAX_LEVELS], f[MAX_LEVELS];
    for (int l = 0; l < a; l++)
        alpha[l] = _mm256_set1_ps(d_alpha[l]);
    const std::size_t nb = n / 8 * 8;
    for (std::size_t i0 = 0; i0 < nb; i0 += 8) {
        // scalar prelude (cheap): nearest levels of the 8 symbols
        for (int lane = 0; lane < 8; lane++) {
            const std::size_t i = i0 + lane;
            for (int d = 0; d < 2; d++) {
                const dim_stats s =
                    stats(t[2 * i + d], g_in[i], scale_f, two_scale_f, off_f, a);
                best[d][lane] = s.best;
                two_w[d][lane] = s.two_w;
            }
        }
        const __m256 g = _mm256_loadu_ps(g_in + i0);
        for (int d = 0; d < 2; d++) {
            const __m256 b = _mm256_load_ps(best[d]), tw = _mm256_load_ps(two_w[d]);
            for (int l = 0; l < a; l++) {
                const __m256 delta = _mm256_sub_ps(alpha[l], b);
                f[l] = _mm256_mul_ps(_mm256_sub_ps(tw, _mm256_mul_ps(delta, g)), delta);
            }
            for (int j = 0; j < m; j++)
                _mm256_store_ps(out[j * 2 + d],
                                simd::bit_llr256(f, a, m - 1 - j, maxlog));
        }
        float* o = llr + i0 * k;
        for (int lane = 0; lane < 8; lane++)
            for (int q = 0; q < k; q++)
                o[lane * k + q] = out[q][lane];
    }
    return nb;
}

} // namespace deepquant
} // namespace gr
