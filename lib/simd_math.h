/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
// AVX2/FMA elementary functions shared by the kernel library's SIMD paths (internal
// header). Every function carries target("avx2,fma"): call it only from code that checked
// cpu_has_avx2_fma() at run time. Cephes-style polynomials, relative error ~1e-7.

#ifndef INCLUDED_DEEPQUANT_SIMD_MATH_H
#define INCLUDED_DEEPQUANT_SIMD_MATH_H

#include <cmath>

#include <immintrin.h>

namespace gr {
namespace deepquant {
namespace simd {

inline bool cpu_has_avx2_fma()
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

//! exp(x) for x <= 0 (x = n ln2 + r, degree-6 polynomial in r); arguments below -87 give
//! exp(-87).
__attribute__((target("avx2,fma"), always_inline)) inline __m256 exp_neg256(__m256 x)
{
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    __m256 fx =
        _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
    fx = _mm256_floor_ps(fx);
    __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i n = _mm256_cvtps_epi32(fx);
    n = _mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(n));
}

//! tanh(x) = sign(x) (1 - e) / (1 + e), e = exp(-2|x|)
__attribute__((target("avx2,fma"), always_inline)) inline __m256 tanh256(__m256 x)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 ax = _mm256_andnot_ps(sign, x);
    __m256 e = exp_neg256(_mm256_mul_ps(ax, _mm256_set1_ps(-2.0f)));
    __m256 one = _mm256_set1_ps(1.0f);
    __m256 t = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
    return _mm256_or_ps(t, _mm256_and_ps(x, sign));
}

//! Natural log of positive finite x (x = m 2^e, m in [sqrt(1/2), sqrt(2)), polynomial in
//! m - 1).
__attribute__((target("avx2,fma"), always_inline)) inline __m256 log256(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    x = _mm256_max_ps(
        x, _mm256_castsi256_ps(_mm256_set1_epi32(0x00800000))); // smallest normal
    __m256i ei = _mm256_srli_epi32(_mm256_castps_si256(x), 23);
    x = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(~0x7f800000)));
    x = _mm256_or_ps(x, _mm256_set1_ps(0.5f));
    ei = _mm256_sub_epi32(ei, _mm256_set1_epi32(0x7f));
    __m256 e = _mm256_add_ps(_mm256_cvtepi32_ps(ei), one);
    const __m256 mask =
        _mm256_cmp_ps(x, _mm256_set1_ps(0.707106781186547524f), _CMP_LT_OS);
    const __m256 tmp = _mm256_and_ps(x, mask);
    x = _mm256_sub_ps(x, one);
    e = _mm256_sub_ps(e, _mm256_and_ps(one, mask));
    x = _mm256_add_ps(x, tmp);
    const __m256 z = _mm256_mul_ps(x, x);
    __m256 y = _mm256_set1_ps(7.0376836292e-2f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(-1.1514610310e-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.1676998740e-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(-1.2420140846e-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.4249322787e-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(-1.6668057665e-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(2.0000714765e-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(-2.4999993993e-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(3.3333331174e-1f));
    y = _mm256_mul_ps(_mm256_mul_ps(y, x), z);
    y = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.12194440e-4f), y);
    y = _mm256_fnmadd_ps(z, _mm256_set1_ps(0.5f), y);
    x = _mm256_add_ps(x, y);
    return _mm256_fmadd_ps(e, _mm256_set1_ps(0.693359375f), x);
}

// LLR of bit ``sh`` (label bit (l >> sh) & 1) over the eight lanes, from per-level
// metrics f[0..a): log-sum-exp of the levels whose bit is 1 minus that of the levels
// whose bit is 0 (each stabilised by its maximum); with ``maxlog`` the maxima alone.
// Shared by the QAM demapper and the EP detector's per-dimension demapping.
__attribute__((target("avx2,fma"), always_inline)) inline __m256
bit_llr256(const __m256* f, int a, int sh, bool maxlog = false)
{
    __m256 lse[2];
    for (int v = 0; v < 2; v++) {
        __m256 mx = _mm256_set1_ps(-INFINITY);
        for (int l = 0; l < a; l++)
            if (((l >> sh) & 1) == v)
                mx = _mm256_max_ps(mx, f[l]);
        if (maxlog) {
            lse[v] = mx;
            continue;
        }
        __m256 sum = _mm256_setzero_ps();
        for (int l = 0; l < a; l++)
            if (((l >> sh) & 1) == v)
                sum = _mm256_add_ps(sum, exp_neg256(_mm256_sub_ps(f[l], mx)));
        lse[v] = _mm256_add_ps(mx, log256(sum));
    }
    return _mm256_sub_ps(lse[1], lse[0]);
}

} // namespace simd
} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_SIMD_MATH_H */
