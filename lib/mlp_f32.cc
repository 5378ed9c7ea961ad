/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "isa_select.h"
#include <gnuradio/deepquant/mlp_f32.h>
#if defined(__x86_64__) || defined(__i386__)
#include "simd_math.h"
#define DQ_X86 1
#else
#define DQ_X86 0 // no AVX2 kernel: forward() always takes the portable loop
#endif
#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace gr {
namespace deepquant {

namespace {
constexpr unsigned MAX_AVX2_WIDTH = 64;

bool cpu_has_avx2_fma()
{
#if DQ_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

#if DQ_X86

using simd::tanh256; // shared AVX2/FMA elementary functions (simd_math.h)

// One layer for R rows (R = 1 or 2), NV vectors of 8 outputs.
template <int R, int NV>
__attribute__((target("avx2,fma"), always_inline)) inline void
layer_avx2(const float* in,
           unsigned in_stride,
           unsigned in_dim,
           const float* wt,
           const float* b,
           float* out,
           unsigned out_stride,
           bool relu)
{
    __m256 acc[R][NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; j++) {
        __m256 bj = _mm256_loadu_ps(b + 8 * j);
#pragma GCC unroll 2
        for (int r = 0; r < R; r++)
            acc[r][j] = bj;
    }
    for (unsigned k = 0; k < in_dim; k++) {
        const float* w = wt + std::size_t(k) * NV * 8;
        __m256 xb[R];
#pragma GCC unroll 2
        for (int r = 0; r < R; r++)
            xb[r] = _mm256_broadcast_ss(in + r * in_stride + k);
#pragma GCC unroll 8
        for (int j = 0; j < NV; j++) {
            __m256 wj = _mm256_loadu_ps(w + 8 * j);
#pragma GCC unroll 2
            for (int r = 0; r < R; r++)
                acc[r][j] = _mm256_fmadd_ps(xb[r], wj, acc[r][j]);
        }
    }
    const __m256 zero = _mm256_setzero_ps();
#pragma GCC unroll 2
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int j = 0; j < NV; j++)
            _mm256_storeu_ps(out + r * out_stride + 8 * j,
                             relu ? _mm256_max_ps(acc[r][j], zero) : tanh256(acc[r][j]));
}

template <int R>
__attribute__((target("avx2,fma"))) void layer_dispatch(unsigned nv,
                                                        const float* in,
                                                        unsigned in_stride,
                                                        unsigned in_dim,
                                                        const float* wt,
                                                        const float* b,
                                                        float* out,
                                                        unsigned out_stride,
                                                        bool relu)
{
    switch (nv) {
    case 1:
        layer_avx2<R, 1>(in, in_stride, in_dim, wt, b, out, out_stride, relu);
        break;
    case 2:
        layer_avx2<R, 2>(in, in_stride, in_dim, wt, b, out, out_stride, relu);
        break;
    case 3:
        layer_avx2<R, 3>(in, in_stride, in_dim, wt, b, out, out_stride, relu);
        break;
    case 4:
        layer_avx2<R, 4>(in, in_stride, in_dim, wt, b, out, out_stride, relu);
        break;
    case 5:
        layer_avx2<R, 5>(in, in_stride, in_dim, wt, b, out, out_stride, relu);
        break;
    case 6:
        layer_avx2<R, 6>(in, in_stride, in_dim, wt, b, out, out_stride, relu);
        break;
    case 7:
        layer_avx2<R, 7>(in, in_stride, in_dim, wt, b, out, out_stride, relu);
        break;
    case 8:
        layer_avx2<R, 8>(in, in_stride, in_dim, wt, b, out, out_stride, relu);
        break;
    default:
        throw std::logic_error("mlp_f32: layer too wide for the AVX2 kernel");
    }
}
#endif // DQ_X86
} // namespace

mlp_f32::mlp_f32(const std::vector<std::vector<float>>& weights,
                 const std::vector<std::vector<float>>& biases,
                 const std::vector<unsigned>& dims,
                 bool tanh_half_input)
    : d_dims(dims), d_tanh_in(tanh_half_input)
{
    const std::size_t nl = weights.size();
    if (nl == 0 || biases.size() != nl || dims.size() != nl + 1)
        throw std::invalid_argument(
            "mlp_f32: need L >= 1 weight matrices, L biases and L + 1 dims");
    for (std::size_t l = 0; l < nl; l++) {
        const unsigned in = dims[l], out = dims[l + 1];
        if (in == 0 || out == 0)
            throw std::invalid_argument("mlp_f32: zero layer width");
        if (weights[l].size() != std::size_t(in) * out)
            throw std::invalid_argument("mlp_f32: layer " + std::to_string(l) + " has " +
                                        std::to_string(weights[l].size()) +
                                        " weights, expected " + std::to_string(out) +
                                        " x " + std::to_string(in));
        if (biases[l].size() != out)
            throw std::invalid_argument("mlp_f32: layer " + std::to_string(l) + " has " +
                                        std::to_string(biases[l].size()) +
                                        " biases, expected " + std::to_string(out));
        const unsigned pad = (out + 7) / 8 * 8;
        d_pad.push_back(pad);
        std::vector<float> wt(std::size_t(in) * pad, 0.0f);
        for (unsigned o = 0; o < out; o++)
            for (unsigned i = 0; i < in; i++)
                wt[std::size_t(i) * pad + o] = weights[l][std::size_t(o) * in + i];
        d_wt.push_back(std::move(wt));
        std::vector<float> b(pad, 0.0f);
        std::copy(biases[l].begin(), biases[l].end(), b.begin());
        d_b.push_back(std::move(b));
    }
    bool fits = true;
    for (unsigned p : d_pad)
        fits = fits && p <= MAX_AVX2_WIDTH;
    fits = fits && d_dims.front() <= MAX_AVX2_WIDTH;
    d_avx2_ok = fits && cpu_has_avx2_fma();
    d_use_avx2 = d_avx2_ok;
}

void mlp_f32::set_isa(const std::string& isa)
{
    d_use_avx2 = simd::select_isa<std::runtime_error>(
        isa, d_avx2_ok, "mlp_f32", "CPU or layer width");
}

std::string mlp_f32::isa() const { return d_use_avx2 ? "avx2" : "generic"; }

void mlp_f32::forward(const float* x, std::size_t n, float* out) const
{
    if (d_use_avx2)
        forward_avx2(x, n, out);
    else
        forward_generic(x, n, out);
}

void mlp_f32::forward_generic(const float* x, std::size_t n, float* out) const
{
    const std::size_t nl = d_wt.size();
    unsigned widest = d_dims.front();
    for (unsigned p : d_pad)
        widest = std::max(widest, p);
    std::vector<float> a(widest), bnext(widest);
    for (std::size_t r = 0; r < n; r++) {
        const float* xr = x + r * d_dims.front();
        for (unsigned i = 0; i < d_dims.front(); i++)
            a[i] = d_tanh_in ? std::tanh(0.5f * xr[i]) : xr[i];
        for (std::size_t l = 0; l < nl; l++) {
            const unsigned in = d_dims[l], out_w = d_dims[l + 1], pad = d_pad[l];
            for (unsigned o = 0; o < out_w; o++) {
                float s = d_b[l][o];
                for (unsigned i = 0; i < in; i++)
                    s += a[i] * d_wt[l][std::size_t(i) * pad + o];
                bnext[o] = (l + 1 < nl) ? std::max(s, 0.0f) : std::tanh(s);
            }
            std::swap(a, bnext);
        }
        std::copy(a.begin(), a.begin() + d_dims.back(), out + r * d_dims.back());
    }
}

#if DQ_X86
__attribute__((target("avx2,fma"))) void
mlp_f32::forward_avx2(const float* x, std::size_t n, float* out) const
{
    const std::size_t nl = d_wt.size();
    const unsigned in0 = d_dims.front();
    const unsigned ld = MAX_AVX2_WIDTH; // row stride of the activation buffers
    alignas(32) float bufa[2 * MAX_AVX2_WIDTH];
    alignas(32) float bufb[2 * MAX_AVX2_WIDTH];
    const unsigned out_dim = d_dims.back();
    std::size_t r = 0;
    while (r < n) {
        const unsigned rows = (n - r >= 2) ? 2 : 1;
        // input transform (8 lanes at a time; the buffer is zero padded)
        for (unsigned q = 0; q < rows; q++) {
            float* dst = bufa + q * ld;
            const float* src = x + (r + q) * in0;
            for (unsigned i = 0; i < in0; i++)
                dst[i] = src[i];
            for (unsigned i = in0; i < (in0 + 7) / 8 * 8; i++)
                dst[i] = 0.0f;
            if (d_tanh_in)
                for (unsigned i = 0; i < in0; i += 8)
                    _mm256_store_ps(dst + i,
                                    tanh256(_mm256_mul_ps(_mm256_load_ps(dst + i),
                                                          _mm256_set1_ps(0.5f))));
        }
        float* a = bufa;
        float* b = bufb;
        for (std::size_t l = 0; l < nl; l++) {
            const bool relu = l + 1 < nl;
            const unsigned nv = d_pad[l] / 8;
            if (rows == 2)
                layer_dispatch<2>(
                    nv, a, ld, d_dims[l], d_wt[l].data(), d_b[l].data(), b, ld, relu);
            else
                layer_dispatch<1>(
                    nv, a, ld, d_dims[l], d_wt[l].data(), d_b[l].data(), b, ld, relu);
            std::swap(a, b);
        }
        for (unsigned q = 0; q < rows; q++)
            for (unsigned o = 0; o < out_dim; o++)
                out[(r + q) * out_dim + o] = a[q * ld + o];
        r += rows;
    }
}
#else
void mlp_f32::forward_avx2(const float* x, std::size_t n, float* out) const
{
    forward_generic(x, n, out); // never selected: d_avx2_ok is false without x86
}
#endif // DQ_X86

} // namespace deepquant
} // namespace gr
