/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
// C++ unit tests of the hard scalar quantizer (plain executable run by ctest).
// The reference is an independent linear count of thresholds <= x.
#include <gnuradio/deepquant/scalar_quantizer.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

using gr::deepquant::scalar_quantizer;
static int failures = 0;
#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            std::fprintf(                                                        \
                stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                          \
        }                                                                        \
    } while (0)

static unsigned ref_index(const std::vector<float>& t, float x, unsigned nan_idx)
{
    if (std::isnan(x))
        return nan_idx;
    unsigned c = 0;
    for (float v : t)
        c += (v <= x);
    return c;
}

static void check_against_reference(scalar_quantizer& q, const std::vector<float>& x)
{
    for (const char* isa : { "generic", "avx2", "avx512" }) {
        if ((std::string(isa) == "avx2" && !scalar_quantizer::cpu_has_avx2()) ||
            (std::string(isa) == "avx512" && !scalar_quantizer::cpu_has_avx512()))
            continue;
        q.set_isa(isa);
        std::vector<uint16_t> out16(x.size());
        q.quantize(x.data(), out16.data(), x.size());
        std::vector<uint8_t> out8(x.size());
        if (q.num_levels() <= 256)
            q.quantize(x.data(), out8.data(), x.size());
        std::vector<float> lv(x.size());
        q.quantize_levels(x.data(), lv.data(), x.size());
        int bad = 0;
        for (size_t i = 0; i < x.size(); i++) {
            const unsigned r = ref_index(q.thresholds(), x[i], unsigned(q.nan_index()));
            bad += (out16[i] != r);
            if (q.num_levels() <= 256)
                bad += (out8[i] != r);
            bad += (lv[i] != q.levels()[r]);
        }
        if (bad)
            std::fprintf(stderr,
                         "isa=%s M=%zu uniform=%d: %d mismatches\n",
                         isa,
                         q.num_levels(),
                         int(q.is_uniform()),
                         bad);
        CHECK(bad == 0);
    }
}

int main()
{
    std::mt19937 rng(1234);
    std::normal_distribution<float> g(0.0f, 2.0f);
    const float inf = std::numeric_limits<float>::infinity();
    for (size_t m :
         { 1u, 2u, 3u, 4u, 5u, 16u, 63u, 64u, 100u, 256u, 257u, 1000u, 4096u }) {
        std::vector<float> t(m - 1);
        for (auto& v : t)
            v = g(rng);
        std::sort(t.begin(), t.end());
        std::vector<float> x(1000 + m);
        for (auto& v : x)
            v = g(rng) * 1.5f;
        // adversarial: exact ties, their neighbours, infinities, NaN, denormals, zero
        for (size_t j = 0; j < t.size() && j < 200; j++) {
            x.push_back(t[j]);
            x.push_back(std::nextafter(t[j], -inf));
            x.push_back(std::nextafter(t[j], inf));
        }
        for (float v : { inf, -inf, std::nanf(""), 0.0f, -0.0f, 1e-45f, -1e-45f })
            x.push_back(v);
        scalar_quantizer q(t);
        CHECK(q.num_levels() == m);
        check_against_reference(q, x);
        // uniform path with the same m
        scalar_quantizer u = scalar_quantizer::make_uniform(-3.0f, 2.5f, m);
        for (size_t j = 0; j < u.thresholds().size() && j < 300; j++) {
            x.push_back(u.thresholds()[j]);
            x.push_back(std::nextafter(u.thresholds()[j], -inf));
        }
        check_against_reference(u, x);
    }
    // NaN counting
    {
        scalar_quantizer q({ -1.0f, 0.5f, 2.0f });
        std::vector<float> x(37, std::nanf(""));
        std::vector<uint8_t> o(37);
        CHECK(q.quantize(x.data(), o.data(), x.size()) == 37);
        CHECK(q.nan_count() == 37);
        CHECK(o[0] == 1 && o[36] == 1); // bin of 0.0
    }
    // bad construction
    int thrown = 0;
    try {
        scalar_quantizer q({ 1.0f, 0.0f });
    } catch (const std::invalid_argument&) {
        thrown++;
    }
    try {
        scalar_quantizer q({ 0.0f, inf });
    } catch (const std::invalid_argument&) {
        thrown++;
    }
    try {
        scalar_quantizer q({ 0.0f }, { 1.0f });
    } catch (const std::invalid_argument&) {
        thrown++;
    }
    try {
        scalar_quantizer::make_uniform(1.0f, 1.0f, 4);
    } catch (const std::invalid_argument&) {
        thrown++;
    }
    try {
        scalar_quantizer::make_uniform(0.0f, 1.0f, 0);
    } catch (const std::invalid_argument&) {
        thrown++;
    }
    CHECK(thrown == 5);
    // empty buffer
    {
        scalar_quantizer q({ 0.0f });
        CHECK(q.quantize(nullptr, static_cast<uint8_t*>(nullptr), 0) == 0);
    }
    std::printf(
        "qa_scalar_quantizer: %s (%d failures)\n", failures ? "FAILED" : "ok", failures);
    return failures ? 1 : 0;
}
