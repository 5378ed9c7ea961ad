/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gnuradio/deepquant/eqnet_detector.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DQ_X86 1
#else
#define DQ_X86 0 // portable loops only
#endif

namespace gr {
namespace deepquant {

namespace {
using dense = eqnet_detector::dense;
constexpr unsigned TMAX =
    32; // channel uses per tile (SIMD lanes of the feature-major layout)
constexpr unsigned MAX_NT = 16;

enum epi { LINEAR = 0, RELU = 1, RES_RELU = 2 };

uint16_t to_bf16(float f)
{
    // round to nearest even, as VCVTNEPS2BF16 (weights are finite)
    uint32_t u;
    std::memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    return uint16_t(u >> 16);
}

dense make_dense(const std::vector<float>& w,
                 const std::vector<float>& b,
                 unsigned out,
                 unsigned in,
                 const std::string& name)
{
    if (out == 0 || in == 0)
        throw std::invalid_argument("eqnet_detector: layer " + name +
                                    " has a zero dimension");
    if (w.size() != std::size_t(out) * in || b.size() != out)
        throw std::invalid_argument("eqnet_detector: layer " + name + " has " +
                                    std::to_string(w.size()) + " weights and " +
                                    std::to_string(b.size()) + " biases, expected " +
                                    std::to_string(out) + " x " + std::to_string(in) +
                                    " and " + std::to_string(out));
    dense d;
    d.in = in;
    d.out = out;
    d.nblk = (out + 7) / 8;
    d.w.assign(std::size_t(d.nblk) * in * 8, 0.0f);
    d.b.assign(std::size_t(d.nblk) * 8, 0.0f);
    const unsigned in2 = (in + 1) / 2;
    d.w16.assign(std::size_t(d.nblk) * in2 * 8, 0u);
    for (unsigned o = 0; o < out; o++) {
        d.b[o] = b[o];
        for (unsigned i = 0; i < in; i++) {
            const float v = w[std::size_t(o) * in + i];
            d.w[(std::size_t(o / 8) * in + i) * 8 + o % 8] = v;
            unsigned& p = d.w16[(std::size_t(o / 8) * in2 + i / 2) * 8 + o % 8];
            p |= unsigned(to_bf16(v)) << (16 * (i % 2));
        }
    }
    return d;
}

// ---- portable path: out[o][t] = epi(b[o] + sum_i W[o][i] in[i][t])
// --------------------------
void layer_generic(
    const dense& L, const float* in, unsigned T, float* out, const float* res, int mode)
{
    float acc[TMAX];
    for (unsigned o = 0; o < L.out; o++) {
        const float* w = L.w.data() + std::size_t(o / 8) * L.in * 8 + o % 8;
        for (unsigned t = 0; t < T; t++)
            acc[t] = L.b[o];
        for (unsigned i = 0; i < L.in; i++) {
            const float wi = w[std::size_t(i) * 8];
            const float* x = in + std::size_t(i) * T;
            for (unsigned t = 0; t < T; t++)
                acc[t] += wi * x[t];
        }
        float* dst = out + std::size_t(o) * T;
        if (mode == LINEAR)
            for (unsigned t = 0; t < T; t++)
                dst[t] = acc[t];
        else if (mode == RELU)
            for (unsigned t = 0; t < T; t++)
                dst[t] = std::max(acc[t], 0.0f);
        else
            for (unsigned t = 0; t < T; t++)
                dst[t] = res[std::size_t(o) * T + t] + std::max(acc[t], 0.0f);
    }
}

#if DQ_X86
// ---- AVX-512F: NO outputs (one block of 8, padded) x NV vectors of 16 channel uses
// ----------
template <int NV, int NO>
__attribute__((target("avx512f"), always_inline)) inline void
block_avx512(const float* w,
             const float* b,
             unsigned in_dim,
             const float* in,
             float* out,
             const float* res,
             int mode)
{
    constexpr unsigned T = 16 * NV;
    __m512 acc[NO][NV];
#pragma GCC unroll 8
    for (int o = 0; o < NO; o++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++)
            acc[o][v] = _mm512_set1_ps(b[o]);
    for (unsigned i = 0; i < in_dim; i++) {
        __m512 x[NV];
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++)
            x[v] = _mm512_load_ps(in + std::size_t(i) * T + 16 * v);
        const float* wi = w + std::size_t(i) * 8;
#pragma GCC unroll 8
        for (int o = 0; o < NO; o++) {
            const __m512 wb = _mm512_set1_ps(wi[o]);
#pragma GCC unroll 2
            for (int v = 0; v < NV; v++)
                acc[o][v] = _mm512_fmadd_ps(wb, x[v], acc[o][v]);
        }
    }
    const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int o = 0; o < NO; o++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) {
            __m512 r = acc[o][v];
            if (mode != LINEAR)
                r = _mm512_max_ps(r, zero);
            if (mode == RES_RELU)
                r = _mm512_add_ps(r, _mm512_load_ps(res + std::size_t(o) * T + 16 * v));
            _mm512_store_ps(out + std::size_t(o) * T + 16 * v, r);
        }
}

template <int NV>
__attribute__((target("avx512f"))) void
layer_avx512(const dense& L, const float* in, float* out, const float* res, int mode)
{
    constexpr unsigned T = 16 * NV;
    for (unsigned blk = 0; blk < L.nblk; blk++) {
        const float* w = L.w.data() + std::size_t(blk) * L.in * 8;
        const float* b = L.b.data() + blk * 8;
        float* o = out + std::size_t(blk) * 8 * T;
        const float* r = res ? res + std::size_t(blk) * 8 * T : nullptr;
        switch (std::min(8u, L.out - blk * 8)) {
        case 1:
            block_avx512<NV, 1>(w, b, L.in, in, o, r, mode);
            break;
        case 2:
            block_avx512<NV, 2>(w, b, L.in, in, o, r, mode);
            break;
        case 3:
            block_avx512<NV, 3>(w, b, L.in, in, o, r, mode);
            break;
        case 4:
            block_avx512<NV, 4>(w, b, L.in, in, o, r, mode);
            break;
        case 5:
            block_avx512<NV, 5>(w, b, L.in, in, o, r, mode);
            break;
        case 6:
            block_avx512<NV, 6>(w, b, L.in, in, o, r, mode);
            break;
        case 7:
            block_avx512<NV, 7>(w, b, L.in, in, o, r, mode);
            break;
        default:
            block_avx512<NV, 8>(w, b, L.in, in, o, r, mode);
            break;
        }
    }
}

// ---- AVX2/FMA: 16 channel uses (2 vectors of 8), outputs in groups of up to 4
// --------------
template <int NO>
__attribute__((target("avx2,fma"), always_inline)) inline void
group_avx2(const float* w,
           const float* b,
           unsigned in_dim,
           const float* in,
           float* out,
           const float* res,
           int mode)
{
    constexpr unsigned T = 16;
    __m256 acc[NO][2];
#pragma GCC unroll 4
    for (int o = 0; o < NO; o++)
        acc[o][0] = acc[o][1] = _mm256_set1_ps(b[o]);
    for (unsigned i = 0; i < in_dim; i++) {
        const __m256 x0 = _mm256_load_ps(in + std::size_t(i) * T);
        const __m256 x1 = _mm256_load_ps(in + std::size_t(i) * T + 8);
        const float* wi = w + std::size_t(i) * 8;
#pragma GCC unroll 4
        for (int o = 0; o < NO; o++) {
            const __m256 wb = _mm256_broadcast_ss(wi + o);
            acc[o][0] = _mm256_fmadd_ps(wb, x0, acc[o][0]);
            acc[o][1] = _mm256_fmadd_ps(wb, x1, acc[o][1]);
        }
    }
    const __m256 zero = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int o = 0; o < NO; o++)
        for (int v = 0; v < 2; v++) {
            __m256 r = acc[o][v];
            if (mode != LINEAR)
                r = _mm256_max_ps(r, zero);
            if (mode == RES_RELU)
                r = _mm256_add_ps(r, _mm256_load_ps(res + std::size_t(o) * T + 8 * v));
            _mm256_store_ps(out + std::size_t(o) * T + 8 * v, r);
        }
}

__attribute__((target("avx2,fma"))) void
layer_avx2(const dense& L, const float* in, float* out, const float* res, int mode)
{
    constexpr unsigned T = 16;
    for (unsigned o0 = 0; o0 < L.out; o0 += 4) {
        const float* w = L.w.data() + std::size_t(o0 / 8) * L.in * 8 + o0 % 8;
        const float* b = L.b.data() + o0;
        float* o = out + std::size_t(o0) * T;
        const float* r = res ? res + std::size_t(o0) * T : nullptr;
        switch (std::min(4u, L.out - o0)) {
        case 1:
            group_avx2<1>(w, b, L.in, in, o, r, mode);
            break;
        case 2:
            group_avx2<2>(w, b, L.in, in, o, r, mode);
            break;
        case 3:
            group_avx2<3>(w, b, L.in, in, o, r, mode);
            break;
        default:
            group_avx2<4>(w, b, L.in, in, o, r, mode);
            break;
        }
    }
}

// ---- AVX-512-BF16: inputs converted once per layer to bf16 pairs (x[2i][t], x[2i+1][t])
// -------
template <int NV, int NO>
__attribute__((target("avx512f,avx512bf16"), always_inline)) inline void
block_bf16(const unsigned* w,
           const float* b,
           unsigned in2,
           const uint32_t* in,
           float* out,
           const float* res,
           int mode)
{
    constexpr unsigned T = 16 * NV;
    __m512 acc[NO][NV];
#pragma GCC unroll 8
    for (int o = 0; o < NO; o++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++)
            acc[o][v] = _mm512_set1_ps(b[o]);
    for (unsigned i = 0; i < in2; i++) {
        __m512bh x[NV];
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++)
            x[v] = (__m512bh)_mm512_load_si512(in + std::size_t(i) * T + 16 * v);
        const unsigned* wi = w + std::size_t(i) * 8;
#pragma GCC unroll 8
        for (int o = 0; o < NO; o++) {
            const __m512bh wb = (__m512bh)_mm512_set1_epi32(int(wi[o]));
#pragma GCC unroll 2
            for (int v = 0; v < NV; v++)
                acc[o][v] = _mm512_dpbf16_ps(acc[o][v], wb, x[v]);
        }
    }
    const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int o = 0; o < NO; o++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) {
            __m512 r = acc[o][v];
            if (mode != LINEAR)
                r = _mm512_max_ps(r, zero);
            if (mode == RES_RELU)
                r = _mm512_add_ps(r, _mm512_load_ps(res + std::size_t(o) * T + 16 * v));
            _mm512_store_ps(out + std::size_t(o) * T + 16 * v, r);
        }
}

template <int NV>
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void layer_bf16(const dense& L,
                                                                       const float* in,
                                                                       uint32_t* pairs,
                                                                       float* out,
                                                                       const float* res,
                                                                       int mode)
{
    constexpr unsigned T = 16 * NV;
    const unsigned in2 = (L.in + 1) / 2;
    // interleave rows 2i and 2i+1 as bf16 pairs (an odd last row is paired with zeros)
    const __m512i perm = _mm512_set_epi16(31,
                                          15,
                                          30,
                                          14,
                                          29,
                                          13,
                                          28,
                                          12,
                                          27,
                                          11,
                                          26,
                                          10,
                                          25,
                                          9,
                                          24,
                                          8,
                                          23,
                                          7,
                                          22,
                                          6,
                                          21,
                                          5,
                                          20,
                                          4,
                                          19,
                                          3,
                                          18,
                                          2,
                                          17,
                                          1,
                                          16,
                                          0);
    for (unsigned i = 0; i < in2; i++)
        for (int v = 0; v < NV; v++) {
            const __m512 lo = _mm512_load_ps(in + std::size_t(2 * i) * T + 16 * v);
            const __m512 hi =
                (2 * i + 1 < L.in)
                    ? _mm512_load_ps(in + std::size_t(2 * i + 1) * T + 16 * v)
                    : _mm512_setzero_ps();
            const __m512i packed =
                (__m512i)_mm512_cvtne2ps_pbh(hi, lo); // lo in 0..15, hi in 16..31
            _mm512_store_si512(pairs + std::size_t(i) * T + 16 * v,
                               _mm512_permutexvar_epi16(perm, packed));
        }
    for (unsigned blk = 0; blk < L.nblk; blk++) {
        const unsigned* w = L.w16.data() + std::size_t(blk) * in2 * 8;
        const float* b = L.b.data() + blk * 8;
        float* o = out + std::size_t(blk) * 8 * T;
        const float* r = res ? res + std::size_t(blk) * 8 * T : nullptr;
        switch (std::min(8u, L.out - blk * 8)) {
        case 1:
            block_bf16<NV, 1>(w, b, in2, pairs, o, r, mode);
            break;
        case 2:
            block_bf16<NV, 2>(w, b, in2, pairs, o, r, mode);
            break;
        case 3:
            block_bf16<NV, 3>(w, b, in2, pairs, o, r, mode);
            break;
        case 4:
            block_bf16<NV, 4>(w, b, in2, pairs, o, r, mode);
            break;
        case 5:
            block_bf16<NV, 5>(w, b, in2, pairs, o, r, mode);
            break;
        case 6:
            block_bf16<NV, 6>(w, b, in2, pairs, o, r, mode);
            break;
        case 7:
            block_bf16<NV, 7>(w, b, in2, pairs, o, r, mode);
            break;
        default:
            block_bf16<NV, 8>(w, b, in2, pairs, o, r, mode);
            break;
        }
    }
}
#endif // DQ_X86

#if DQ_X86
// 16 independent accumulator chains (more than FMA latency x throughput on current cores)
__attribute__((target("avx512f"))) float fma_loop(std::size_t iters)
{
    __m512 acc[16];
    for (int j = 0; j < 16; j++)
        acc[j] = _mm512_set1_ps(float(j));
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (std::size_t i = 0; i < iters; i++)
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++)
            acc[j] = _mm512_fmadd_ps(acc[j], a, b);
    __m512 s = acc[0];
    for (int j = 1; j < 16; j++)
        s = _mm512_add_ps(s, acc[j]);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f,avx512bf16"))) float dpbf16_loop(std::size_t iters)
{
    __m512 acc[16];
    for (int j = 0; j < 16; j++)
        acc[j] = _mm512_set1_ps(float(j));
    const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(1e-3f));
    const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-4f), _mm512_set1_ps(1e-4f));
    for (std::size_t i = 0; i < iters; i++)
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++)
            acc[j] = _mm512_dpbf16_ps(acc[j], a, b);
    __m512 s = acc[0];
    for (int j = 1; j < 16; j++)
        s = _mm512_add_ps(s, acc[j]);
    return _mm512_reduce_add_ps(s);
}
#endif

// one layer in the chosen ISA; T = 16 or 32 (AVX-512 paths), 16 (AVX2), any T <= TMAX
// (generic)
template <int MODE>
void layer(const dense& L,
           const float* in,
           unsigned T,
           uint32_t* pairs,
           float* out,
           const float* res,
           int epi)
{
#if DQ_X86
    if (MODE == 1) {
        if (T == 32)
            layer_avx512<2>(L, in, out, res, epi);
        else
            layer_avx512<1>(L, in, out, res, epi);
        return;
    }
    if (MODE == 3) {
        layer_avx2(L, in, out, res, epi);
        return;
    }
    if (MODE == 2) {
        if (T == 32)
            layer_bf16<2>(L, in, pairs, out, res, epi);
        else
            layer_bf16<1>(L, in, pairs, out, res, epi);
        return;
    }
#endif
    (void)pairs;
    layer_generic(L, in, T, out, res, epi);
}
} // namespace

bool eqnet_detector::cpu_has_avx512()
{
#if DQ_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
#else
    return false;
#endif
}

bool eqnet_detector::cpu_has_avx2()
{
#if DQ_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

bool eqnet_detector::cpu_has_avx512_bf16()
{
#if DQ_X86
    __builtin_cpu_init();
    return cpu_has_avx512() && __builtin_cpu_supports("avx512bf16");
#else
    return false;
#endif
}

double eqnet_detector::peak_flops(const std::string& isa, double seconds)
{
    const bool bf16 = isa == "avx512_bf16";
    if (isa != "avx512" && !bf16)
        throw std::invalid_argument(
            "eqnet_detector::peak_flops: isa must be avx512 or avx512_bf16, got " + isa);
    if (!(bf16 ? cpu_has_avx512_bf16() : cpu_has_avx512()))
        throw std::runtime_error("eqnet_detector::peak_flops: this CPU has no " + isa);
#if DQ_X86
    // FLOPs per loop iteration: 16 instructions x 16 lanes x (2 for an FMA, 4 for a bf16
    // pair)
    const double per_iter = 16.0 * 16.0 * (bf16 ? 4.0 : 2.0);
    volatile float sink = 0.0f;
    std::size_t iters = 1 << 16;
    double best = 0.0, total = 0.0;
    while (total < seconds) {
        const auto t0 = std::chrono::steady_clock::now();
        sink = sink + (bf16 ? dpbf16_loop(iters) : fma_loop(iters));
        const double dt =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        total += dt;
        best = std::max(best, per_iter * double(iters) / std::max(dt, 1e-9));
        if (dt < 0.02)
            iters *= 2;
    }
    return best;
#else
    return 0.0;
#endif
}

eqnet_detector::eqnet_detector(int nr,
                               int nt,
                               int k,
                               bool stats,
                               const std::vector<std::vector<float>>& weights,
                               const std::vector<std::vector<float>>& biases,
                               const std::vector<unsigned>& dims,
                               unsigned n_residual,
                               unsigned dec_layers)
    : eqnet_detector(nr,
                     nt,
                     k,
                     stats,
                     weights,
                     biases,
                     dims,
                     n_residual,
                     dec_layers,
                     nullptr,
                     {},
                     {},
                     {})
{
}

eqnet_detector::eqnet_detector(int nr,
                               int nt,
                               int k,
                               bool stats,
                               const std::vector<std::vector<float>>& weights,
                               const std::vector<std::vector<float>>& biases,
                               const std::vector<unsigned>& dims,
                               unsigned n_residual,
                               unsigned dec_layers,
                               std::shared_ptr<const ep_detector> ep,
                               const std::vector<std::vector<float>>& fq_weights,
                               const std::vector<std::vector<float>>& fq_biases,
                               const std::vector<unsigned>& fq_dims)
    : d_nr(nr), d_nt(nt), d_k(k), d_stats(stats), d_ep(std::move(ep)), d_nep(0)
{
    if (nr < 1 || nt < 1 || nt > int(MAX_NT) || k < 1)
        throw std::invalid_argument(
            "eqnet_detector: need nr >= 1, 1 <= nt <= 16 and k >= 1");
    if (d_ep) {
        if (!stats)
            throw std::invalid_argument(
                "eqnet_detector: the EP-input mode needs the statistics input (stats)");
        if (d_ep->nr() != nr || d_ep->nt() != nt || d_ep->bits_per_symbol() != k)
            throw std::invalid_argument(
                "eqnet_detector: the ep_detector must have this detector's nr, nt and K");
        d_nep = unsigned(nt * k);
    } else if (!fq_weights.empty() || !fq_biases.empty() || !fq_dims.empty())
        throw std::invalid_argument(
            "eqnet_detector: f_Q's layers are given without an ep_detector");
    if (dec_layers < 1)
        throw std::invalid_argument(
            "eqnet_detector: the decoder needs at least one layer");
    const unsigned n_in = stats ? 4 : 3;
    const std::size_t n_layers = n_in + 1 + n_residual + 1 + dec_layers;
    if (weights.size() != n_layers || biases.size() != n_layers ||
        dims.size() != 2 * n_layers)
        throw std::invalid_argument("eqnet_detector: expected " +
                                    std::to_string(n_layers) +
                                    " layers (weights, biases and 2 dims each), got " +
                                    std::to_string(weights.size()) + " weights, " +
                                    std::to_string(biases.size()) + " biases, " +
                                    std::to_string(dims.size()) + " dims");
    d_nout = unsigned(nt * k);
    const unsigned nx = unsigned(3 * nt + nt * (nt - 1)) + d_nep;
    const unsigned in_dims[4] = { unsigned(2 * nr), unsigned(2 * nr * nt), 2u, nx };
    const char* in_names[4] = { "in_y", "in_h", "in_s", "in_x" };
    std::size_t l = 0;
    d_iw = dims[0];
    for (unsigned j = 0; j < n_in; j++, l++) {
        if (dims[2 * l + 1] != in_dims[j] || dims[2 * l] != d_iw)
            throw std::invalid_argument(std::string("eqnet_detector: ") + in_names[j] +
                                        " must be " + std::to_string(d_iw) + " x " +
                                        std::to_string(in_dims[j]));
        d_in.push_back(
            make_dense(weights[l], biases[l], dims[2 * l], dims[2 * l + 1], in_names[j]));
    }
    d_nfeat = in_dims[0] + in_dims[1] + in_dims[2] + (stats ? nx : 0);
    if (dims[2 * l + 1] != n_in * d_iw)
        throw std::invalid_argument("eqnet_detector: fuse must take " +
                                    std::to_string(n_in * d_iw) + " inputs");
    d_width = dims[2 * l];
    d_fuse = make_dense(weights[l], biases[l], dims[2 * l], dims[2 * l + 1], "fuse");
    l++;
    for (unsigned j = 0; j < n_residual; j++, l++) {
        if (dims[2 * l] != d_width || dims[2 * l + 1] != d_width)
            throw std::invalid_argument("eqnet_detector: residual layers must be " +
                                        std::to_string(d_width) + " x " +
                                        std::to_string(d_width));
        d_res.push_back(make_dense(
            weights[l], biases[l], d_width, d_width, "res" + std::to_string(j)));
    }
    if (dims[2 * l + 1] != d_width)
        throw std::invalid_argument("eqnet_detector: out must take " +
                                    std::to_string(d_width) + " inputs");
    d_latent = dims[2 * l];
    d_out = make_dense(weights[l], biases[l], d_latent, d_width, "out");
    l++;
    d_dec.assign(d_nout, {});
    unsigned prev = d_latent;
    for (unsigned j = 0; j < dec_layers; j++, l++) {
        const unsigned out = dims[2 * l], in = dims[2 * l + 1];
        if (in != prev || (j + 1 == dec_layers && out != 1))
            throw std::invalid_argument(
                "eqnet_detector: decoder layer " + std::to_string(j) + " is " +
                std::to_string(out) + " x " + std::to_string(in) + "; it must take " +
                std::to_string(prev) + " inputs (the last has 1 output)");
        if (weights[l].size() != std::size_t(d_nout) * in * out ||
            biases[l].size() != std::size_t(d_nout) * out)
            throw std::invalid_argument(
                "eqnet_detector: decoder layer " + std::to_string(j) + " needs " +
                std::to_string(d_nout) + " x " + std::to_string(in) + " x " +
                std::to_string(out) + " weights and " + std::to_string(d_nout) + " x " +
                std::to_string(out) + " biases");
        for (unsigned br = 0; br < d_nout; br++) {
            // torch stores branch br as [in, out]; make_dense takes [out, in]
            std::vector<float> w(std::size_t(out) * in), b(out);
            const float* src = weights[l].data() + std::size_t(br) * in * out;
            for (unsigned i = 0; i < in; i++)
                for (unsigned o = 0; o < out; o++)
                    w[std::size_t(o) * in + i] = src[std::size_t(i) * out + o];
            std::copy(biases[l].begin() + std::size_t(br) * out,
                      biases[l].begin() + std::size_t(br + 1) * out,
                      b.begin());
            d_dec[br].push_back(make_dense(w, b, out, in, "dec" + std::to_string(j)));
        }
        prev = out;
    }
    if (d_ep) {
        const std::size_t nq = fq_weights.size();
        if (nq < 1 || fq_biases.size() != nq || fq_dims.size() != 2 * nq)
            throw std::invalid_argument(
                "eqnet_detector: f_Q needs at least one layer (weights, biases and 2 "
                "dims each), got " +
                std::to_string(fq_weights.size()) + " weights, " +
                std::to_string(fq_biases.size()) + " biases, " +
                std::to_string(fq_dims.size()) + " dims");
        unsigned prev_q = d_nep;
        for (std::size_t j = 0; j < nq; j++) {
            const unsigned out = fq_dims[2 * j], in = fq_dims[2 * j + 1];
            if (in != prev_q || (j + 1 == nq && out != d_latent))
                throw std::invalid_argument(
                    "eqnet_detector: f_Q layer " + std::to_string(j) + " is " +
                    std::to_string(out) + " x " + std::to_string(in) + "; it must take " +
                    std::to_string(prev_q) + " inputs (the last gives the " +
                    std::to_string(d_latent) + " latents)");
            d_fq.push_back(make_dense(
                fq_weights[j], fq_biases[j], out, in, "fq" + std::to_string(j)));
            prev_q = out;
        }
    }
    d_clamp = float(std::atanh(double(1.0f - 1e-6f)));
    d_mode = cpu_has_avx512() ? 1 : (cpu_has_avx2() ? 3 : 0);
}

std::size_t eqnet_detector::macs_per_channel_use() const
{
    std::size_t m = 0;
    for (const auto& L : d_in)
        m += std::size_t(L.in) * L.out;
    m += std::size_t(d_fuse.in) * d_fuse.out;
    for (const auto& L : d_res)
        m += std::size_t(L.in) * L.out;
    m += std::size_t(d_out.in) * d_out.out;
    for (const auto& br : d_dec)
        for (const auto& L : br)
            m += std::size_t(L.in) * L.out;
    for (const auto& L : d_fq)
        m += std::size_t(L.in) * L.out;
    return m;
}

void eqnet_detector::set_isa(const std::string& isa)
{
    if (isa == "auto")
        d_mode = cpu_has_avx512() ? 1 : (cpu_has_avx2() ? 3 : 0);
    else if (isa == "generic")
        d_mode = 0;
    else if (isa == "avx512") {
        if (!cpu_has_avx512())
            throw std::runtime_error("eqnet_detector: this CPU has no AVX-512F/BW");
        d_mode = 1;
    } else if (isa == "avx2") {
        if (!cpu_has_avx2())
            throw std::runtime_error("eqnet_detector: this CPU has no AVX2/FMA");
        d_mode = 3;
    } else if (isa == "avx512_bf16") {
        if (!cpu_has_avx512_bf16())
            throw std::runtime_error("eqnet_detector: this CPU has no AVX-512-BF16");
        d_mode = 2;
    } else
        throw std::invalid_argument("eqnet_detector: isa must be auto, avx512, avx2, "
                                    "avx512_bf16 or generic, got " +
                                    isa);
}

std::string eqnet_detector::isa() const
{
    static const char* names[4] = { "generic", "avx512", "avx512_bf16", "avx2" };
    return names[d_mode];
}

// Features of channel uses r0 .. r0 + rows - 1 into f [d_nfeat][T]; lanes rows .. T - 1
// repeat channel use r0 (their results are discarded). sb: in EP-input mode the EP soft
// bits of these channel uses, rows x d_nep (row-major), else unused.
void eqnet_detector::features(const std::complex<float>* y,
                              const std::complex<float>* h,
                              const float* nv,
                              std::size_t r0,
                              std::size_t rows,
                              unsigned T,
                              const float* sb,
                              float* f) const
{
    typedef std::complex<double> cd;
    const int nr = d_nr, nt = d_nt;
    const unsigned oy = 0, oh = 2 * nr, os = oh + 2 * nr * nt, ox = os + 2;
    for (unsigned t = 0; t < T; t++) {
        const std::size_t r = r0 + (t < rows ? t : 0);
        const std::complex<float>* yr = y + r * nr;
        const std::complex<float>* hr = h + r * nr * nt;
        for (int i = 0; i < nr; i++) {
            f[(oy + i) * T + t] = yr[i].real();
            f[(oy + nr + i) * T + t] = yr[i].imag();
        }
        for (int i = 0; i < nr * nt; i++) {
            f[(oh + i) * T + t] = hr[i].real();
            f[(oh + nr * nt + i) * T + t] = hr[i].imag();
        }
        const float s2 = nv[r];
        f[os * T + t] = std::sqrt(s2);
        f[(os + 1) * T + t] = std::log(s2);
        if (!d_stats)
            continue;
        // A = H^H H + s2 I = L L^H (Cholesky), P = A^-1 = L^-H L^-1, x = P H^H y
        // (float64)
        cd L[MAX_NT][MAX_NT], Li[MAX_NT][MAX_NT], P[MAX_NT][MAX_NT], b[MAX_NT];
        for (int i = 0; i < nt; i++) {
            cd bi = 0.0;
            for (int q = 0; q < nr; q++)
                bi += std::conj(cd(hr[q * nt + i])) * cd(yr[q]);
            b[i] = bi;
            for (int j = 0; j <= i; j++) {
                cd a = 0.0;
                for (int q = 0; q < nr; q++)
                    a += std::conj(cd(hr[q * nt + i])) *
                         cd(hr[q * nt + j]); // A[i][j], j <= i
                L[i][j] = a;
            }
            L[i][i] += double(s2);
        }
        for (int j = 0; j < nt; j++) {
            double d = L[j][j].real();
            for (int q = 0; q < j; q++)
                d -= std::norm(L[j][q]);
            d = std::sqrt(std::max(d, 1e-300));
            L[j][j] = d;
            for (int i = j + 1; i < nt; i++) {
                cd s = L[i][j];
                for (int q = 0; q < j; q++)
                    s -= L[i][q] * std::conj(L[j][q]);
                L[i][j] = s / d;
            }
        }
        for (int j = 0; j < nt; j++) { // Li = L^-1 (lower triangular), column j
            for (int i = 0; i < j; i++)
                Li[i][j] = 0.0;
            Li[j][j] = 1.0 / L[j][j].real();
            for (int i = j + 1; i < nt; i++) {
                cd s = 0.0;
                for (int q = j; q < i; q++)
                    s -= L[i][q] * Li[q][j];
                Li[i][j] = s / L[i][i].real();
            }
        }
        for (int i = 0; i < nt; i++)
            for (int j = 0; j < nt; j++) {
                cd s = 0.0;
                for (int q = std::max(i, j); q < nt; q++)
                    s += std::conj(Li[q][i]) * Li[q][j];
                P[i][j] = s;
            }
        double d[MAX_NT];
        for (int i = 0; i < nt; i++) {
            cd xi = 0.0;
            for (int j = 0; j < nt; j++)
                xi += P[i][j] * b[j];
            f[(ox + i) * T + t] = float(xi.real());
            f[(ox + nt + i) * T + t] = float(xi.imag());
            d[i] = std::max(P[i][i].real(), 1e-300);
            f[(ox + 2 * nt + i) * T + t] =
                float(std::log(std::min(std::max(double(s2) * d[i], 1e-12), 1.0)));
        }
        const unsigned np = unsigned(nt * (nt - 1) / 2);
        unsigned p = 0;
        for (int i = 0; i < nt; i++)
            for (int j = i + 1; j < nt; j++, p++) {
                const cd c = P[i][j] / std::sqrt(d[i] * d[j]);
                f[(ox + 3 * nt + p) * T + t] = float(c.real());
                f[(ox + 3 * nt + np + p) * T + t] = float(c.imag());
            }
        const unsigned oe = ox + 3 * nt + 2 * np;
        const float* sbt = sb + std::size_t(t < rows ? t : 0) * d_nep;
        for (unsigned j = 0; j < d_nep; j++)
            f[(oe + j) * T + t] = sbt[j];
    }
}

// One tile: features f [d_nfeat][T] -> LLRs of the first ``rows`` channel uses
// (row-major).
template <int MODE>
void eqnet_detector::tile(
    const float* f, unsigned T, unsigned rows, float* ws, float* llr) const
{
    // workspace (floats, each T-strided): cat [n_in iw] | x [W] | tmp [W] | z [D] | a, b
    // [bw] | h [n_out] | pairs (bf16 pairs of the widest layer input)
    unsigned bw = 1;
    for (const auto& L : d_dec[0])
        bw = std::max(bw, L.out);
    const std::size_t n_in = d_in.size();
    float* cat = ws;
    float* x = cat + n_in * d_iw * T;
    float* tmp = x + std::size_t(d_width) * T;
    float* z = tmp + std::size_t(d_width) * T;
    float* a = z + std::size_t(d_latent) * T;
    float* b = a + std::size_t(bw) * T;
    float* hh = b + std::size_t(bw) * T;
    // EP-input mode: f_Q's activations qa, qb [widest f_Q layer]
    unsigned qw = 1;
    for (const auto& L : d_fq)
        qw = std::max(qw, L.out);
    float* qa = hh + std::size_t(d_nout) * T;
    float* qb = qa + (d_fq.empty() ? 0 : std::size_t(qw) * T);
    uint32_t* pairs =
        reinterpret_cast<uint32_t*>(qb + (d_fq.empty() ? 0 : std::size_t(qw) * T));

    const unsigned off[4] = { 0,
                              unsigned(2 * d_nr),
                              unsigned(2 * d_nr + 2 * d_nr * d_nt),
                              unsigned(2 * d_nr + 2 * d_nr * d_nt + 2) };
    for (std::size_t j = 0; j < n_in; j++)
        layer<MODE>(d_in[j],
                    f + std::size_t(off[j]) * T,
                    T,
                    pairs,
                    cat + j * d_iw * T,
                    nullptr,
                    RELU);
    layer<MODE>(d_fuse, cat, T, pairs, x, nullptr, RELU);
    for (const auto& L : d_res) {
        layer<MODE>(L, x, T, pairs, tmp, x, RES_RELU);
        std::swap(x, tmp);
    }
    layer<MODE>(d_out, x, T, pairs, z, nullptr, LINEAR);
    if (!d_fq.empty()) { // z += tanh(f_Q(EP soft bits)), the soft bits f's last d_nep
                         // rows
        const float* in = f + std::size_t(d_nfeat - d_nep) * T;
        for (std::size_t j = 0; j < d_fq.size(); j++) {
            const bool last = j + 1 == d_fq.size();
            float* out = in == qa ? qb : qa;
            layer<MODE>(d_fq[j], in, T, pairs, out, nullptr, last ? LINEAR : RELU);
            in = out;
        }
        for (std::size_t i = 0; i < std::size_t(d_latent) * T; i++)
            z[i] += std::tanh(in[i]);
    }
    for (unsigned br = 0; br < d_nout; br++) {
        const auto& layers = d_dec[br];
        const float* in = z;
        for (std::size_t j = 0; j < layers.size(); j++) {
            const bool last = j + 1 == layers.size();
            float* out = last ? hh + std::size_t(br) * T : (in == a ? b : a);
            layer<MODE>(layers[j], in, T, pairs, out, nullptr, last ? LINEAR : RELU);
            in = out;
        }
    }
    const float c = d_clamp;
    for (unsigned t = 0; t < rows; t++)
        for (unsigned o = 0; o < d_nout; o++)
            llr[std::size_t(t) * d_nout + o] =
                2.0f * std::min(std::max(hh[std::size_t(o) * T + t], -c), c);
}

void eqnet_detector::detect(const std::complex<float>* y,
                            const std::complex<float>* h,
                            const float* noise_var,
                            std::size_t n,
                            float* llr) const
{
    unsigned bw = 1, widest = std::max(d_width, unsigned(d_in.size()) * d_iw), qw = 0;
    for (const auto& L : d_dec[0])
        bw = std::max(bw, L.out);
    for (const auto& L : d_fq)
        qw = std::max(qw, L.out);
    widest = std::max(std::max(std::max(widest, d_nfeat), bw), qw);
    const std::size_t ws_floats = (d_in.size() * d_iw + 2 * d_width + d_latent + 2 * bw +
                                   d_nout + 2 * qw + (widest + 1) / 2) *
                                  TMAX;
    // 64-byte aligned buffers for the SIMD loads
    std::vector<float> buf(ws_floats + d_nfeat * TMAX + 32);
    float* base = reinterpret_cast<float*>(
        (reinterpret_cast<std::uintptr_t>(buf.data()) + 63) & ~std::uintptr_t(63));
    float* f = base;
    float* ws = base + std::size_t(d_nfeat) * TMAX;
    // EP-input mode: EP's LLRs and soft bits of a chunk of channel uses
    constexpr std::size_t EP_CHUNK = 256;
    std::vector<float> sb(d_ep ? EP_CHUNK * d_nep : 0);
    for (std::size_t c0 = 0; c0 < n;) {
        const std::size_t cn = d_ep ? std::min(EP_CHUNK, n - c0) : n - c0;
        if (d_ep) {
            d_ep->detect(
                y + c0 * d_nr, h + c0 * d_nr * d_nt, noise_var + c0, cn, sb.data());
            for (std::size_t i = 0; i < cn * d_nep; i++) // as eqnet.models.ep_softbits
                sb[i] = float(std::tanh(0.5 * double(sb[i])));
        }
        for (std::size_t r = c0; r < c0 + cn;) {
            const std::size_t left = c0 + cn - r;
            const unsigned T = (d_mode == 3 || (d_mode != 0 && left <= 16)) ? 16 : TMAX;
            const unsigned rows = unsigned(std::min<std::size_t>(left, T));
            features(y,
                     h,
                     noise_var,
                     r,
                     rows,
                     T,
                     d_ep ? sb.data() + (r - c0) * d_nep : nullptr,
                     f);
            float* out = llr + r * d_nout;
            if (d_mode == 3)
                tile<3>(f, T, rows, ws, out);
            else if (d_mode == 2)
                tile<2>(f, T, rows, ws, out);
            else if (d_mode == 1)
                tile<1>(f, T, rows, ws, out);
            else
                tile<0>(f, T, rows, ws, out);
            r += rows;
        }
        c0 += cn;
    }
}

} // namespace deepquant
} // namespace gr
