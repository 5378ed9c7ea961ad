/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

// The hard scalar quantizer. Non-uniform thresholds are searched with a branch-free
// binary search over an implicit tree stored level by level; on AVX2/AVX-512 each
// level's lookup is an in-register permute (vpermps on 8/16 entries, vpermi2ps on 32,
// blended on the prefix bits for wider levels) instead of a gather, which is slow on
// recent Intel microcode.
// The uniform path is clip/scale/truncate. Every path gives bit-identical results
// (checked by tests against numpy.searchsorted(side='right')).

#include <gnuradio/deepquant/scalar_quantizer.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <stdexcept>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DQ_X86 1
#else
#define DQ_X86 0
#endif

namespace gr {
namespace deepquant {

namespace {

constexpr std::size_t chunk = 2048; // stack buffer for two-pass operations

inline float uniform_pos(float x, float lo, float scale, float top)
{
    // Same operation order as the SIMD path: sub, mul, max(.,0) (NaN -> 0), min(., M-1).
    float v = (x - lo) * scale;
    v = (v > 0.0f) ? v : 0.0f;
    v = (v < top) ? v : top;
    return v;
}

#if DQ_X86
template <int SIZE>
__attribute__((target("avx2"), always_inline)) inline __m256 tree_lookup(const float* tbl,
                                                                         __m256i pre)
{
    if constexpr (SIZE <= 8) {
        return _mm256_permutevar8x32_ps(_mm256_loadu_ps(tbl), pre);
    } else {
        const __m256 lo = tree_lookup<SIZE / 2>(tbl, pre);
        const __m256 hi = tree_lookup<SIZE / 2>(tbl + SIZE / 2, pre);
        constexpr int bit = __builtin_ctz(SIZE) - 1; // prefix bit choosing lo/hi
        return _mm256_blendv_ps(
            lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32(pre, 31 - bit)));
    }
}

template <int L, int l = 0>
__attribute__((target("avx2"), always_inline)) inline void
tree_search(const float* tree, __m256 v, __m256i& pre)
{
    if constexpr (l < L) {
        constexpr int size = 1 << l;
        const __m256 t = tree_lookup<size>(tree, pre);
        const __m256i ge = _mm256_castps_si256(_mm256_cmp_ps(v, t, _CMP_GE_OQ));
        pre = _mm256_sub_epi32(_mm256_add_epi32(pre, pre), ge); // 2*pre + (v >= t)
        tree_search<L, l + 1>(tree + (size < 16 ? 16 : size), v, pre);
    }
}

template <typename T>
__attribute__((target("avx2"), always_inline)) inline void
store16(T* out, __m256i a, __m256i b)
{
    __m256i p = _mm256_packus_epi32(a, b); // 16 x u16, lanes interleaved
    p = _mm256_permute4x64_epi64(p, 0xD8); // restore order
    if constexpr (sizeof(T) == 1) {
        const __m128i p8 =
            _mm_packus_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out), p8);
    } else {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), p);
    }
}

template <int L, typename T>
__attribute__((target("avx2"))) std::size_t avx2_tree(const float* in,
                                                      T* out,
                                                      std::size_t n,
                                                      const float* tree,
                                                      int maxidx,
                                                      int nanidx,
                                                      std::uint64_t& nans)
{
    const __m256i lim = _mm256_set1_epi32(maxidx);
    const __m256i nani = _mm256_set1_epi32(nanidx);
    std::uint64_t cnt = 0;
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 v0 = _mm256_loadu_ps(in + i);
        const __m256 v1 = _mm256_loadu_ps(in + i + 8);
        __m256i p0 = _mm256_setzero_si256(), p1 = _mm256_setzero_si256();
        tree_search<L>(tree, v0, p0);
        tree_search<L>(tree, v1, p1);
        p0 = _mm256_min_epi32(p0, lim); // +inf passes the +inf padding
        p1 = _mm256_min_epi32(p1, lim);
        const __m256 n0 = _mm256_cmp_ps(v0, v0, _CMP_UNORD_Q);
        const __m256 n1 = _mm256_cmp_ps(v1, v1, _CMP_UNORD_Q);
        const int m = _mm256_movemask_ps(n0) | (_mm256_movemask_ps(n1) << 8);
        if (m) {
            cnt += __builtin_popcount(m);
            p0 = _mm256_blendv_epi8(p0, nani, _mm256_castps_si256(n0));
            p1 = _mm256_blendv_epi8(p1, nani, _mm256_castps_si256(n1));
        }
        store16(out + i, p0, p1);
    }
    nans += cnt;
    return i;
}

template <typename T>
__attribute__((target("avx2"))) std::size_t avx2_uniform(const float* in,
                                                         T* out,
                                                         std::size_t n,
                                                         float lo,
                                                         float scale,
                                                         float top,
                                                         int nanidx,
                                                         std::uint64_t& nans)
{
    const __m256 vlo = _mm256_set1_ps(lo), vsc = _mm256_set1_ps(scale),
                 vtop = _mm256_set1_ps(top), zero = _mm256_setzero_ps();
    const __m256i nani = _mm256_set1_epi32(nanidx);
    std::uint64_t cnt = 0;
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 v0 = _mm256_loadu_ps(in + i);
        const __m256 v1 = _mm256_loadu_ps(in + i + 8);
        // max(a, 0) returns 0 when a is NaN, like the scalar (a > 0 ? a : 0)
        __m256 a0 = _mm256_min_ps(
            _mm256_max_ps(_mm256_mul_ps(_mm256_sub_ps(v0, vlo), vsc), zero), vtop);
        __m256 a1 = _mm256_min_ps(
            _mm256_max_ps(_mm256_mul_ps(_mm256_sub_ps(v1, vlo), vsc), zero), vtop);
        __m256i p0 = _mm256_cvttps_epi32(a0), p1 = _mm256_cvttps_epi32(a1);
        const __m256 n0 = _mm256_cmp_ps(v0, v0, _CMP_UNORD_Q);
        const __m256 n1 = _mm256_cmp_ps(v1, v1, _CMP_UNORD_Q);
        const int m = _mm256_movemask_ps(n0) | (_mm256_movemask_ps(n1) << 8);
        if (m) {
            cnt += __builtin_popcount(m);
            p0 = _mm256_blendv_epi8(p0, nani, _mm256_castps_si256(n0));
            p1 = _mm256_blendv_epi8(p1, nani, _mm256_castps_si256(n1));
        }
        store16(out + i, p0, p1);
    }
    nans += cnt;
    return i;
}

template <typename T>
std::size_t avx2_tree_dispatch(unsigned depth,
                               const float* in,
                               T* out,
                               std::size_t n,
                               const float* tree,
                               int maxidx,
                               int nanidx,
                               std::uint64_t& nans)
{
    switch (depth) {
    case 1:
        return avx2_tree<1>(in, out, n, tree, maxidx, nanidx, nans);
    case 2:
        return avx2_tree<2>(in, out, n, tree, maxidx, nanidx, nans);
    case 3:
        return avx2_tree<3>(in, out, n, tree, maxidx, nanidx, nans);
    case 4:
        return avx2_tree<4>(in, out, n, tree, maxidx, nanidx, nans);
    case 5:
        return avx2_tree<5>(in, out, n, tree, maxidx, nanidx, nans);
    case 6:
        return avx2_tree<6>(in, out, n, tree, maxidx, nanidx, nans);
    case 7:
        return avx2_tree<7>(in, out, n, tree, maxidx, nanidx, nans);
    case 8:
        return avx2_tree<8>(in, out, n, tree, maxidx, nanidx, nans);
    default:
        return 0; // deeper trees (M > 256, uint16 only) use the portable path
    }
}

// ---- AVX-512: 16 lanes, 16-entry (vpermps) and 32-entry (vpermi2ps) in-register lookups
// ----
template <int SIZE>
__attribute__((target("avx512f"), always_inline)) inline __m512
tree_lookup512(const float* tbl, __m512i pre)
{
    if constexpr (SIZE <= 16) {
        return _mm512_permutexvar_ps(pre, _mm512_loadu_ps(tbl));
    } else if constexpr (SIZE == 32) {
        return _mm512_permutex2var_ps(
            _mm512_loadu_ps(tbl), pre, _mm512_loadu_ps(tbl + 16));
    } else {
        const __m512 lo = tree_lookup512<SIZE / 2>(tbl, pre);
        const __m512 hi = tree_lookup512<SIZE / 2>(tbl + SIZE / 2, pre);
        constexpr int bit = __builtin_ctz(SIZE) - 1;
        const __mmask16 m = _mm512_test_epi32_mask(pre, _mm512_set1_epi32(1 << bit));
        return _mm512_mask_blend_ps(m, lo, hi);
    }
}

template <int L, int l = 0>
__attribute__((target("avx512f"), always_inline)) inline void
tree_search512(const float* tree, __m512 v, __m512i& pre)
{
    if constexpr (l < L) {
        constexpr int size = 1 << l;
        const __m512 t = tree_lookup512<size>(tree, pre);
        const __mmask16 ge = _mm512_cmp_ps_mask(v, t, _CMP_GE_OQ);
        const __m512i twice = _mm512_add_epi32(pre, pre);
        pre = _mm512_mask_add_epi32(twice, ge, twice, _mm512_set1_epi32(1));
        tree_search512<L, l + 1>(tree + (size < 16 ? 16 : size), v, pre);
    }
}

template <typename T>
__attribute__((target("avx512f"), always_inline)) inline void store512(T* out, __m512i p)
{
    if constexpr (sizeof(T) == 1)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm512_cvtusepi32_epi8(p));
    else
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm512_cvtusepi32_epi16(p));
}

template <int L, typename T>
__attribute__((target("avx512f"))) std::size_t avx512_tree(const float* in,
                                                           T* out,
                                                           std::size_t n,
                                                           const float* tree,
                                                           int maxidx,
                                                           int nanidx,
                                                           std::uint64_t& nans)
{
    const __m512i lim = _mm512_set1_epi32(maxidx);
    const __m512i nani = _mm512_set1_epi32(nanidx);
    std::uint64_t cnt = 0;
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 v0 = _mm512_loadu_ps(in + i);
        const __m512 v1 = _mm512_loadu_ps(in + i + 16);
        __m512i p0 = _mm512_setzero_si512(), p1 = _mm512_setzero_si512();
        tree_search512<L>(tree, v0, p0);
        tree_search512<L>(tree, v1, p1);
        p0 = _mm512_min_epi32(p0, lim);
        p1 = _mm512_min_epi32(p1, lim);
        const __mmask16 n0 = _mm512_cmp_ps_mask(v0, v0, _CMP_UNORD_Q);
        const __mmask16 n1 = _mm512_cmp_ps_mask(v1, v1, _CMP_UNORD_Q);
        if (n0 | n1) {
            cnt += __builtin_popcount(unsigned(n0)) + __builtin_popcount(unsigned(n1));
            p0 = _mm512_mask_blend_epi32(n0, p0, nani);
            p1 = _mm512_mask_blend_epi32(n1, p1, nani);
        }
        store512(out + i, p0);
        store512(out + i + 16, p1);
    }
    nans += cnt;
    return i;
}

template <typename T>
std::size_t avx512_tree_dispatch(unsigned depth,
                                 const float* in,
                                 T* out,
                                 std::size_t n,
                                 const float* tree,
                                 int maxidx,
                                 int nanidx,
                                 std::uint64_t& nans)
{
    switch (depth) {
    case 1:
        return avx512_tree<1>(in, out, n, tree, maxidx, nanidx, nans);
    case 2:
        return avx512_tree<2>(in, out, n, tree, maxidx, nanidx, nans);
    case 3:
        return avx512_tree<3>(in, out, n, tree, maxidx, nanidx, nans);
    case 4:
        return avx512_tree<4>(in, out, n, tree, maxidx, nanidx, nans);
    case 5:
        return avx512_tree<5>(in, out, n, tree, maxidx, nanidx, nans);
    case 6:
        return avx512_tree<6>(in, out, n, tree, maxidx, nanidx, nans);
    case 7:
        return avx512_tree<7>(in, out, n, tree, maxidx, nanidx, nans);
    case 8:
        return avx512_tree<8>(in, out, n, tree, maxidx, nanidx, nans);
    default:
        return 0;
    }
}
#endif // DQ_X86

void check_thresholds(const std::vector<float>& t, const std::vector<float>& levels)
{
    if (t.size() + 1 > scalar_quantizer::max_levels) {
        std::ostringstream s;
        s << "scalar_quantizer: " << t.size() + 1 << " levels requested, at most "
          << scalar_quantizer::max_levels << " are supported (uint16 indices)";
        throw std::invalid_argument(s.str());
    }
    for (std::size_t i = 0; i < t.size(); i++) {
        if (!std::isfinite(t[i])) {
            std::ostringstream s;
            s << "scalar_quantizer: threshold " << i << " is " << t[i]
              << "; thresholds must be finite (±inf/NaN inputs are handled by the end "
                 "bins and the NaN rule)";
            throw std::invalid_argument(s.str());
        }
        if (i > 0 && t[i] < t[i - 1]) {
            std::ostringstream s;
            s << "scalar_quantizer: thresholds must be sorted ascending, but threshold "
              << i << " (" << t[i] << ") < threshold " << i - 1 << " (" << t[i - 1]
              << "); sort them (e.g. numpy.sort) before passing them";
            throw std::invalid_argument(s.str());
        }
    }
    if (!levels.empty() && levels.size() != t.size() + 1) {
        std::ostringstream s;
        s << "scalar_quantizer: " << t.size() << " thresholds need " << t.size() + 1
          << " reconstruction levels, got " << levels.size();
        throw std::invalid_argument(s.str());
    }
    for (std::size_t i = 0; i < levels.size(); i++) {
        if (!std::isfinite(levels[i])) {
            std::ostringstream s;
            s << "scalar_quantizer: level " << i << " is " << levels[i]
              << "; reconstruction levels must be finite";
            throw std::invalid_argument(s.str());
        }
    }
}

} // namespace

bool scalar_quantizer::cpu_has_avx2()
{
#if DQ_X86
    static const bool has = __builtin_cpu_supports("avx2");
    return has;
#else
    return false;
#endif
}

bool scalar_quantizer::cpu_has_avx512()
{
#if DQ_X86
    static const bool has = __builtin_cpu_supports("avx512f");
    return has;
#else
    return false;
#endif
}

static int best_isa()
{
    return scalar_quantizer::cpu_has_avx512()
               ? 2
               : (scalar_quantizer::cpu_has_avx2() ? 1 : 0);
}

std::string scalar_quantizer::isa() const
{
    return d_isa == 2 ? "avx512" : (d_isa == 1 ? "avx2" : "generic");
}

scalar_quantizer::scalar_quantizer(const std::vector<float>& thresholds,
                                   const std::vector<float>& levels)
{
    d_isa = best_isa();
    set_thresholds(thresholds, levels);
}

scalar_quantizer
scalar_quantizer::make_uniform(float lo, float hi, std::size_t num_levels)
{
    scalar_quantizer q;
    q.d_isa = best_isa();
    q.set_uniform(lo, hi, num_levels);
    return q;
}

scalar_quantizer::scalar_quantizer(const scalar_quantizer& o)
    : d_thresholds(o.d_thresholds),
      d_levels(o.d_levels),
      d_tree(o.d_tree),
      d_tree_off(o.d_tree_off),
      d_depth(o.d_depth),
      d_uniform(o.d_uniform),
      d_lo(o.d_lo),
      d_hi(o.d_hi),
      d_scale(o.d_scale),
      d_nan_index(o.d_nan_index),
      d_isa(o.d_isa),
      d_nan_count(o.d_nan_count.load())
{
}

scalar_quantizer& scalar_quantizer::operator=(const scalar_quantizer& o)
{
    if (this != &o) {
        d_thresholds = o.d_thresholds;
        d_levels = o.d_levels;
        d_tree = o.d_tree;
        d_tree_off = o.d_tree_off;
        d_depth = o.d_depth;
        d_uniform = o.d_uniform;
        d_lo = o.d_lo;
        d_hi = o.d_hi;
        d_scale = o.d_scale;
        d_nan_index = o.d_nan_index;
        d_isa = o.d_isa;
        d_nan_count.store(o.d_nan_count.load());
    }
    return *this;
}

void scalar_quantizer::set_isa(const std::string& isa)
{
    if (isa == "generic") {
        d_isa = 0;
    } else if (isa == "avx2") {
        if (!cpu_has_avx2())
            throw std::invalid_argument("scalar_quantizer: this CPU has no AVX2");
        d_isa = 1;
    } else if (isa == "avx512") {
        if (!cpu_has_avx512())
            throw std::invalid_argument("scalar_quantizer: this CPU has no AVX-512F");
        d_isa = 2;
    } else if (isa == "auto") {
        d_isa = best_isa();
    } else {
        throw std::invalid_argument(
            "scalar_quantizer: isa must be 'auto', 'avx512', 'avx2' or "
            "'generic', got '" +
            isa + "'");
    }
}

void scalar_quantizer::set_thresholds(const std::vector<float>& thresholds,
                                      const std::vector<float>& levels)
{
    check_thresholds(thresholds, levels);
    d_uniform = false;
    d_thresholds = thresholds;
    const std::size_t m = thresholds.size() + 1;
    if (!levels.empty()) {
        d_levels = levels;
    } else {
        d_levels.assign(m, 0.0f);
        const auto& t = thresholds;
        if (m == 2) {
            d_levels[0] = t[0] - 1.0f;
            d_levels[1] = t[0] + 1.0f;
        } else if (m > 2) {
            for (std::size_t i = 1; i + 1 < m; i++)
                d_levels[i] = 0.5f * (t[i - 1] + t[i]);
            d_levels[0] = t[0] - 0.5f * (t[1] - t[0]);
            d_levels[m - 1] = t[m - 2] + 0.5f * (t[m - 2] - t[m - 3]);
        }
    }
    finish_setup();
}

void scalar_quantizer::set_uniform(float lo, float hi, std::size_t num_levels)
{
    if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo < hi)) {
        std::ostringstream s;
        s << "scalar_quantizer: uniform range must be finite with lo < hi, got [" << lo
          << ", " << hi << "]";
        throw std::invalid_argument(s.str());
    }
    if (num_levels < 1 || num_levels > max_levels) {
        std::ostringstream s;
        s << "scalar_quantizer: uniform quantizer needs 1.." << max_levels
          << " levels, got " << num_levels;
        throw std::invalid_argument(s.str());
    }
    const double scale = double(num_levels) / (double(hi) - double(lo));
    if (!(scale <= double(std::numeric_limits<float>::max()))) {
        std::ostringstream s;
        s << "scalar_quantizer: uniform range [" << lo << ", " << hi
          << "] is too narrow for " << num_levels
          << " levels (its scale overflows float32); widen it";
        throw std::invalid_argument(s.str());
    }
    d_uniform = true;
    d_lo = lo;
    d_hi = hi;
    const double delta = (double(hi) - double(lo)) / double(num_levels);
    d_scale = float(scale);
    const float top = float(num_levels - 1);
    d_levels.resize(num_levels);
    for (std::size_t i = 0; i < num_levels; i++)
        d_levels[i] = float(double(lo) + (double(i) + 0.5) * delta);
    // Exact switching points of the float computation, so that the uniform path
    // obeys index = searchsorted(thresholds(), x, side='right').
    d_thresholds.resize(num_levels - 1);
    // Binary search over the float ordering (uint32 keys, monotonic in the float value)
    // for the smallest float t with f(t) >= i; f(t0 - delta) < i <= f(t0 + delta) bracket
    // it.
    auto f = [&](float x) { return uniform_pos(x, d_lo, d_scale, top); };
    auto key = [](float x) {
        std::uint32_t b;
        std::memcpy(&b, &x, 4);
        return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
    };
    auto from_key = [](std::uint32_t k) {
        const std::uint32_t b = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
        float x;
        std::memcpy(&x, &b, 4);
        return x;
    };
    for (std::size_t i = 1; i < num_levels; i++) {
        const double t0 = double(lo) + double(i) * delta;
        std::uint32_t a = key(float(t0 - delta)), b = key(float(t0 + delta));
        const float fi = float(i);
        // invariant: f(from_key(a)) < fi <= f(from_key(b))
        while (b - a > 1) {
            const std::uint32_t mid = a + (b - a) / 2;
            if (f(from_key(mid)) >= fi)
                b = mid;
            else
                a = mid;
        }
        d_thresholds[i - 1] = from_key(b);
    }
    finish_setup();
}

void scalar_quantizer::finish_setup()
{
    build_tree();
    // NaN is quantized as 0.0 would be.
    std::uint16_t idx = 0;
    const float zero = 0.0f;
    const int keep = d_isa;
    d_isa = 0;
    quantize_impl(&zero, &idx, 1);
    d_isa = keep;
    d_nan_index = idx;
}

void scalar_quantizer::build_tree()
{
    const std::size_t m = d_levels.size();
    d_depth = 0;
    while ((std::size_t(1) << d_depth) < m)
        d_depth++;
    const std::size_t padded = (std::size_t(1) << d_depth) - 1;
    std::vector<float> t(padded, std::numeric_limits<float>::infinity());
    std::copy(d_thresholds.begin(), d_thresholds.end(), t.begin());
    d_tree.clear();
    d_tree_off.clear();
    for (unsigned l = 0; l < d_depth; l++) {
        const std::size_t size = std::size_t(1) << l;
        d_tree_off.push_back(d_tree.size());
        const std::size_t stored = std::max<std::size_t>(size, 16);
        d_tree.resize(d_tree.size() + stored, std::numeric_limits<float>::infinity());
        for (std::size_t p = 0; p < size; p++)
            d_tree[d_tree_off[l] + p] = t[((2 * p + 1) << (d_depth - l - 1)) - 1];
    }
}

template <typename T>
std::uint64_t
scalar_quantizer::quantize_impl(const float* in, T* out, std::size_t n) const
{
    std::uint64_t nans = 0;
    std::size_t i = 0;
    const int maxidx = int(d_levels.size()) - 1;
    if (d_uniform) {
        const float top = float(maxidx);
#if DQ_X86
        if (d_isa >= 1) // memory-bound: AVX2 already reaches the copy speed
            i = avx2_uniform(in, out, n, d_lo, d_scale, top, int(d_nan_index), nans);
#endif
        for (; i < n; i++) {
            const float x = in[i];
            const bool isnan = (x != x);
            nans += isnan;
            const T idx = T(int(uniform_pos(x, d_lo, d_scale, top)));
            out[i] = isnan ? T(d_nan_index) : idx;
        }
    } else {
#if DQ_X86
        if (d_isa == 2 && d_depth >= 1 && d_depth <= 8)
            i = avx512_tree_dispatch(
                d_depth, in, out, n, d_tree.data(), maxidx, int(d_nan_index), nans);
        else if (d_isa == 1 && d_depth >= 1 && d_depth <= 8)
            i = avx2_tree_dispatch(
                d_depth, in, out, n, d_tree.data(), maxidx, int(d_nan_index), nans);
#endif
        const float* tree = d_tree.data();
        const std::size_t* off = d_tree_off.data();
        const unsigned depth = d_depth;
        for (; i < n; i++) {
            const float x = in[i];
            unsigned pre = 0;
            for (unsigned l = 0; l < depth; l++)
                pre = 2 * pre + unsigned(x >= tree[off[l] + pre]);
            pre = std::min(pre, unsigned(maxidx));
            const bool isnan = (x != x);
            nans += isnan;
            out[i] = isnan ? T(d_nan_index) : T(pre);
        }
    }
    d_nan_count.fetch_add(nans, std::memory_order_relaxed);
    return nans;
}

std::uint64_t
scalar_quantizer::quantize(const float* in, std::uint8_t* out, std::size_t n) const
{
    if (d_levels.size() > 256)
        throw std::invalid_argument("scalar_quantizer: more than 256 levels need uint16 "
                                    "indices (use the uint16 overload)");
    return quantize_impl(in, out, n);
}

std::uint64_t
scalar_quantizer::quantize(const float* in, std::uint16_t* out, std::size_t n) const
{
    return quantize_impl(in, out, n);
}

std::uint64_t
scalar_quantizer::quantize_levels(const float* in, float* out, std::size_t n) const
{
    std::uint64_t nans = 0;
    const float* lv = d_levels.data();
    if (d_levels.size() <= 256) {
        std::uint8_t buf[chunk];
        for (std::size_t s = 0; s < n; s += chunk) {
            const std::size_t k = std::min(chunk, n - s);
            nans += quantize_impl(in + s, buf, k);
            for (std::size_t j = 0; j < k; j++)
                out[s + j] = lv[buf[j]];
        }
    } else {
        std::uint16_t buf[chunk];
        for (std::size_t s = 0; s < n; s += chunk) {
            const std::size_t k = std::min(chunk, n - s);
            nans += quantize_impl(in + s, buf, k);
            for (std::size_t j = 0; j < k; j++)
                out[s + j] = lv[buf[j]];
        }
    }
    return nans;
}

std::uint64_t scalar_quantizer::quantize_complex(const gr_complex* in,
                                                 std::uint8_t* out,
                                                 std::size_t n) const
{
    return quantize(reinterpret_cast<const float*>(in), out, 2 * n);
}

std::uint64_t scalar_quantizer::quantize_complex_levels(const gr_complex* in,
                                                        gr_complex* out,
                                                        std::size_t n) const
{
    return quantize_levels(
        reinterpret_cast<const float*>(in), reinterpret_cast<float*>(out), 2 * n);
}

template <typename T>
std::uint64_t
scalar_quantizer::dequantize_impl(const T* in, float* out, std::size_t n) const
{
    const unsigned maxidx = unsigned(d_levels.size()) - 1;
    const float* lv = d_levels.data();
    std::uint64_t bad = 0;
    for (std::size_t i = 0; i < n; i++) {
        const unsigned idx = in[i];
        bad += (idx > maxidx);
        out[i] = lv[std::min(idx, maxidx)];
    }
    return bad;
}

std::uint64_t
scalar_quantizer::dequantize(const std::uint8_t* in, float* out, std::size_t n) const
{
    return dequantize_impl(in, out, n);
}

std::uint64_t
scalar_quantizer::dequantize(const std::uint16_t* in, float* out, std::size_t n) const
{
    return dequantize_impl(in, out, n);
}

} // namespace deepquant
} // namespace gr
