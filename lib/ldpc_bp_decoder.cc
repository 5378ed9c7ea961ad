/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "isa_select.h"
#include "simd_math.h"
#include <gnuradio/deepquant/ldpc_bp_decoder.h>
#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace gr {
namespace deepquant {

namespace {
constexpr int LANES = 8;
// |exclusive product| cap of the torch decoder: float32(1 - 1e-7)
const float PROD_LIM = float(1.0 - 1e-7);

inline float clip_channel(float x, float clip)
{
    if (std::isnan(x))
        return 0.0f;
    return std::min(std::max(x, -clip), clip);
}
} // namespace

ldpc_bp_decoder::ldpc_bp_decoder(const std::vector<int>& row_ptr,
                                 const std::vector<int>& col_idx,
                                 int n,
                                 float llr_clip)
    : d_n(n), d_clip(llr_clip), d_row_ptr(row_ptr), d_col_idx(col_idx)
{
    if (n < 1 || row_ptr.size() < 2 || row_ptr.front() != 0 ||
        std::size_t(row_ptr.back()) != col_idx.size())
        throw std::invalid_argument(
            "ldpc_bp_decoder: row_ptr must have m + 1 >= 2 entries from 0 to "
            "len(col_idx)");
    if (!(llr_clip > 0.0f))
        throw std::invalid_argument("ldpc_bp_decoder: llr_clip must be > 0");
    d_m = int(row_ptr.size()) - 1;
    int maxw = 0;
    for (int r = 0; r < d_m; r++) {
        if (row_ptr[r + 1] < row_ptr[r])
            throw std::invalid_argument("ldpc_bp_decoder: row_ptr must not decrease");
        maxw = std::max(maxw, row_ptr[r + 1] - row_ptr[r]);
    }
    for (int c : col_idx)
        if (c < 0 || c >= n)
            throw std::invalid_argument(
                "ldpc_bp_decoder: column index out of range [0, n)");
    d_slots = maxw;
    d_groups = (d_m + LANES - 1) / LANES;
    d_gcol.assign(std::size_t(d_groups) * d_slots * LANES, n);
    d_gedge.assign(d_gcol.size(), -1);
    for (int r = 0; r < d_m; r++) {
        const int g = r / LANES, l = r % LANES;
        for (int e = row_ptr[r]; e < row_ptr[r + 1]; e++) {
            const std::size_t pos =
                (std::size_t(g) * d_slots + (e - row_ptr[r])) * LANES + l;
            d_gcol[pos] = col_idx[e];
            d_gedge[pos] = e;
        }
    }
    d_avx2_ok = maxw <= LANES && maxw > 0 && simd::cpu_has_avx2_fma();
    d_use_avx2 = d_avx2_ok;
}

void ldpc_bp_decoder::set_isa(const std::string& isa)
{
    d_use_avx2 =
        simd::select_isa(isa, d_avx2_ok, "ldpc_bp_decoder", "CPU or row weight > 8");
}

std::string ldpc_bp_decoder::isa() const { return d_use_avx2 ? "avx2" : "generic"; }

bool ldpc_bp_decoder::syndrome_ok(const float* total, uint8_t* hard) const
{
    for (int v = 0; v < d_n; v++)
        hard[v] = total[v] < 0.0f;
    for (int r = 0; r < d_m; r++) {
        unsigned s = 0;
        for (int e = d_row_ptr[r]; e < d_row_ptr[r + 1]; e++)
            s ^= hard[d_col_idx[e]];
        if (s)
            return false;
    }
    return true;
}

bool ldpc_bp_decoder::hard_codeword(const float* llr, uint8_t* bits) const
{
    bool nonzero = true;
    for (int v = 0; v < d_n; v++) {
        const float x = clip_channel(llr[v], d_clip); // NaN -> 0, as decode() reads it
        bits[v] = x > 0.0f;
        nonzero = nonzero && x != 0.0f;
    }
    if (!nonzero)
        return false;
    for (int r = 0; r < d_m; r++) {
        unsigned s = 0;
        for (int e = d_row_ptr[r]; e < d_row_ptr[r + 1]; e++)
            s ^= bits[d_col_idx[e]];
        if (s)
            return false;
    }
    return true;
}

// Internal sign as the torch decoder: positive = bit 0 (lc = -L).
int ldpc_bp_decoder::decode_one_generic(
    const float* lc, int max_iter, float* total, float* c2v, uint8_t* hard) const
{
    const std::size_t ne = d_col_idx.size();
    std::fill(c2v, c2v + ne, 0.0f);
    std::copy(lc, lc + d_n, total);
    std::vector<float> t(std::max(d_slots, 1)), pre(t.size()), suf(t.size());
    for (int it = 1; it <= max_iter; it++) {
        for (int r = 0; r < d_m; r++) {
            const int e0 = d_row_ptr[r], d = d_row_ptr[r + 1] - e0;
            if (d == 0)
                continue;
            for (int j = 0; j < d; j++)
                t[j] = std::tanh(0.5f * (total[d_col_idx[e0 + j]] - c2v[e0 + j]));
            pre[0] = 1.0f;
            for (int j = 1; j < d; j++)
                pre[j] = pre[j - 1] * t[j - 1];
            suf[d - 1] = 1.0f;
            for (int j = d - 2; j >= 0; j--)
                suf[j] = suf[j + 1] * t[j + 1];
            for (int j = 0; j < d; j++) {
                const float p = std::min(std::max(pre[j] * suf[j], -PROD_LIM), PROD_LIM);
                c2v[e0 + j] = 2.0f * std::atanh(p);
            }
        }
        std::copy(lc, lc + d_n, total);
        for (std::size_t e = 0; e < ne; e++)
            total[d_col_idx[e]] += c2v[e];
        if (syndrome_ok(total, hard))
            return it;
    }
    return max_iter;
}

__attribute__((target("avx2,fma"))) int ldpc_bp_decoder::decode_one_avx2(
    const float* lc, int max_iter, float* total, float* c2v, uint8_t* hard) const
{
    // c2v here in the grouped layout; total has d_n + 1 entries (d_n: padding, never read
    // into a result: its lanes are forced to tanh = 1)
    const std::size_t ng = d_gcol.size();
    std::fill(c2v, c2v + ng, 0.0f);
    std::copy(lc, lc + d_n, total);
    total[d_n] = d_clip;
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    const __m256 lim = _mm256_set1_ps(PROD_LIM), nlim = _mm256_set1_ps(-PROD_LIM);
    __m256 t[LANES], pre[LANES];
    for (int it = 1; it <= max_iter; it++) {
        for (int g = 0; g < d_groups; g++) {
            const std::size_t base = std::size_t(g) * d_slots * LANES;
            for (int s = 0; s < d_slots; s++) {
                const std::size_t p = base + std::size_t(s) * LANES;
                const __m256i col =
                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(&d_gcol[p]));
                const __m256 tot = _mm256_i32gather_ps(total, col, 4);
                const __m256 v2c = _mm256_sub_ps(tot, _mm256_loadu_ps(c2v + p));
                const __m256i pad = _mm256_cmpgt_epi32(
                    _mm256_setzero_si256(),
                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(&d_gedge[p])));
                t[s] = _mm256_blendv_ps(simd::tanh256(_mm256_mul_ps(half, v2c)),
                                        one,
                                        _mm256_castsi256_ps(pad));
            }
            pre[0] = one;
            for (int s = 1; s < d_slots; s++)
                pre[s] = _mm256_mul_ps(pre[s - 1], t[s - 1]);
            __m256 suf = one;
            for (int s = d_slots - 1; s >= 0; s--) {
                __m256 prod = _mm256_mul_ps(pre[s], suf);
                prod = _mm256_min_ps(_mm256_max_ps(prod, nlim), lim);
                // 2 atanh(p) = log((1 + p) / (1 - p))
                const __m256 q =
                    _mm256_div_ps(_mm256_add_ps(one, prod), _mm256_sub_ps(one, prod));
                _mm256_storeu_ps(c2v + base + std::size_t(s) * LANES, simd::log256(q));
                suf = _mm256_mul_ps(suf, t[s]);
            }
        }
        std::copy(lc, lc + d_n, total);
        // accumulate in the CSR edge order (as the torch decoder's index_add)
        for (int r = 0; r < d_m; r++) {
            const int g = r / LANES, l = r % LANES;
            const std::size_t base = std::size_t(g) * d_slots * LANES + l;
            const int e0 = d_row_ptr[r], d = d_row_ptr[r + 1] - e0;
            for (int j = 0; j < d; j++)
                total[d_col_idx[e0 + j]] += c2v[base + std::size_t(j) * LANES];
        }
        if (syndrome_ok(total, hard))
            return it;
    }
    return max_iter;
}

void ldpc_bp_decoder::decode(const float* llr,
                             std::size_t frames,
                             int max_iter,
                             uint8_t* codewords,
                             int32_t* iterations,
                             float* posteriors) const
{
    if (max_iter < 1)
        throw std::invalid_argument("ldpc_bp_decoder: max_iter must be >= 1");
    std::vector<float> lc(d_n), total(d_n + 1);
    std::vector<float> c2v(std::max(d_gcol.size(), d_col_idx.size()));
    for (std::size_t f = 0; f < frames; f++) {
        const float* in = llr + f * d_n;
        for (int v = 0; v < d_n; v++)
            lc[v] = -clip_channel(in[v], d_clip);
        uint8_t* hard = codewords + f * d_n;
        const int its =
            d_use_avx2
                ? decode_one_avx2(lc.data(), max_iter, total.data(), c2v.data(), hard)
                : decode_one_generic(lc.data(), max_iter, total.data(), c2v.data(), hard);
        iterations[f] = its;
        if (posteriors)
            for (int v = 0; v < d_n; v++)
                posteriors[f * d_n + v] = -total[v];
    }
}

} // namespace deepquant
} // namespace gr
