/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gnuradio/deepquant/lmmse_detector.h>
#include <algorithm>
#include <cfloat>
#include <stdexcept>

namespace gr {
namespace deepquant {

namespace {
constexpr int MAX_NT = 16; // streams (the Nt x Nt matrices live on the stack)
constexpr std::size_t CHUNK = 256;
using cd = std::complex<double>;
} // namespace

lmmse_detector::lmmse_detector(int nr,
                               int nt,
                               const std::vector<int>& levels,
                               double scale,
                               int n_dims,
                               double dir_re,
                               double dir_im)
    : d_nr(nr), d_nt(nt), d_demapper(levels, scale, n_dims, dir_re, dir_im)
{
    if (nr < 1 || nt < 1 || nt > MAX_NT)
        throw std::invalid_argument("lmmse_detector: need nr >= 1 and 1 <= nt <= 16");
}

void lmmse_detector::detect(const std::complex<float>* y,
                            const std::complex<float>* h,
                            const float* noise_var,
                            std::size_t n,
                            bool maxlog,
                            float* llr) const
{
    const int nr = d_nr, nt = d_nt, k = d_demapper.bits_per_symbol();
    std::vector<cd> u(CHUNK * nt);
    std::vector<float> g(CHUNK * nt);
    cd A[MAX_NT][MAX_NT], L[MAX_NT][MAX_NT], Li[MAX_NT][MAX_NT], z[MAX_NT];
    for (std::size_t i0 = 0; i0 < n; i0 += CHUNK) {
        const std::size_t m = std::min(CHUNK, n - i0);
        for (std::size_t j = 0; j < m; j++) {
            const std::size_t i = i0 + j;
            const std::complex<float>* yi = y + i * nr;
            const std::complex<float>* hi = h + i * nr * nt;
            const double nv = double(noise_var[i]);
            // z = H^H y, A = H^H H + sigma^2 I
            for (int a = 0; a < nt; a++) {
                cd s = 0.0;
                for (int r = 0; r < nr; r++)
                    s += std::conj(cd(hi[r * nt + a])) * cd(yi[r]);
                z[a] = s;
                for (int b = 0; b < nt; b++) {
                    cd t = 0.0;
                    for (int r = 0; r < nr; r++)
                        t += std::conj(cd(hi[r * nt + a])) * cd(hi[r * nt + b]);
                    A[a][b] = t;
                }
                A[a][a] += nv;
            }
            // Cholesky A = L L^H, then L^-1 and P = L^-H L^-1
            for (int a = 0; a < nt; a++) {
                for (int b = 0; b <= a; b++) {
                    cd s = A[a][b];
                    for (int c = 0; c < b; c++)
                        s -= L[a][c] * std::conj(L[b][c]);
                    if (a == b)
                        L[a][a] = std::sqrt(std::max(s.real(), DBL_MIN));
                    else
                        L[a][b] = s / L[b][b].real();
                }
            }
            for (int a = 0; a < nt; a++) {
                Li[a][a] = 1.0 / L[a][a].real();
                for (int b = 0; b < a; b++) {
                    cd s = 0.0;
                    for (int c = b; c < a; c++)
                        s += L[a][c] * Li[c][b];
                    Li[a][b] = -s / L[a][a].real();
                }
                for (int b = a + 1; b < nt; b++)
                    Li[a][b] = 0.0;
            }
            for (int a = 0; a < nt; a++) {
                // row a of P = sum_c conj(Li[c][a]) Li[c][b]
                cd xh = 0.0;
                double paa = 0.0;
                for (int b = 0; b < nt; b++) {
                    cd p = 0.0;
                    for (int c = std::max(a, b); c < nt; c++)
                        p += std::conj(Li[c][a]) * Li[c][b];
                    xh += p * z[b];
                    if (b == a)
                        paa = p.real();
                }
                const double err = std::min(std::max(nv * paa, 0.0), 1.0);
                const double mu = 1.0 - err;
                const double inv = 1.0 / std::max(err, DBL_MIN);
                u[j * nt + a] = xh * inv;
                g[j * nt + a] = float(mu * inv);
            }
        }
        d_demapper.demap_statistics(
            u.data(), g.data(), m * nt, maxlog, llr + i0 * nt * k);
    }
}

} // namespace deepquant
} // namespace gr
