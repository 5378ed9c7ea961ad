/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
// C++ unit tests of the EP detector (plain executable run by ctest), against independent
// references: with one stream EP's cavity is the likelihood itself, so its LLRs are exact
// ML's (brute force over the 38.211 constellation written out from the standard's
// formula); with no site update they are LMMSE's (the lmmse_detector kernel); invalid
// channel uses give zero LLRs; the AVX2 and portable paths agree and a channel use's LLRs
// do not depend on its neighbours.
#include <gnuradio/deepquant/ep_detector.h>
#include <gnuradio/deepquant/lmmse_detector.h>
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

using gr::deepquant::ep_detector;
using gr::deepquant::lmmse_detector;
using cf = std::complex<float>;
static int failures = 0;
#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            std::fprintf(                                                        \
                stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                          \
        }                                                                        \
    } while (0)

// 38.211 5.1.3 / 5.1.4: 16-QAM and 64-QAM points of the K-bit labels (b0 first)
static std::complex<double> qam_point(int k, unsigned label)
{
    auto bit = [&](int i) { return double((label >> (k - 1 - i)) & 1); };
    if (k == 4)
        return std::complex<double>((1 - 2 * bit(0)) * (2 - (1 - 2 * bit(2))),
                                    (1 - 2 * bit(1)) * (2 - (1 - 2 * bit(3)))) /
               std::sqrt(10.0);
    return std::complex<double>(
               (1 - 2 * bit(0)) * (4 - (1 - 2 * bit(2)) * (2 - (1 - 2 * bit(4)))),
               (1 - 2 * bit(1)) * (4 - (1 - 2 * bit(3)) * (2 - (1 - 2 * bit(5))))) /
           std::sqrt(42.0);
}

// the PAM levels in label order and the scale, as phy.mapping gives them to the kernel
static std::vector<int> levels(int k)
{
    return k == 4 ? std::vector<int>{ 1, 3, -1, -3 }
                  : std::vector<int>{ 3, 1, 5, 7, -3, -1, -5, -7 };
}
static double scale(int k)
{
    return k == 4 ? 1.0 / std::sqrt(10.0) : 1.0 / std::sqrt(42.0);
}

// exact ML LLRs of one stream (nt = 1) by enumerating the constellation, float64
static std::vector<double> ml_llr(const cf* y, const cf* h, int nr, double nv, int k)
{
    const int m = 1 << k;
    std::vector<double> metric(m);
    for (int x = 0; x < m; x++) {
        double d = 0.0;
        for (int r = 0; r < nr; r++)
            d += std::norm(std::complex<double>(y[r]) -
                           std::complex<double>(h[r]) * qam_point(k, unsigned(x)));
        metric[x] = -d / nv;
    }
    std::vector<double> out(k);
    for (int q = 0; q < k; q++) {
        double mx[2] = { -INFINITY, -INFINITY }, s[2] = { 0.0, 0.0 };
        for (int x = 0; x < m; x++)
            mx[(x >> (k - 1 - q)) & 1] = std::max(mx[(x >> (k - 1 - q)) & 1], metric[x]);
        for (int x = 0; x < m; x++) {
            const int v = (x >> (k - 1 - q)) & 1;
            s[v] += std::exp(metric[x] - mx[v]);
        }
        out[q] = (mx[1] + std::log(s[1])) - (mx[0] + std::log(s[0]));
    }
    return out;
}

struct batch {
    std::vector<cf> y, h;
    std::vector<float> nv;
};

static batch random_batch(
    std::mt19937& rng, int n, int nr, int nt, int k, double snr_lo, double snr_hi)
{
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::uniform_real_distribution<double> u(snr_lo, snr_hi);
    std::uniform_int_distribution<unsigned> lab(0, (1u << k) - 1);
    batch b;
    b.y.resize(n * nr);
    b.h.resize(n * nr * nt);
    b.nv.resize(n);
    for (int i = 0; i < n; i++) {
        const double nv = nt * std::pow(10.0, -u(rng) / 10.0);
        b.nv[i] = float(nv);
        std::vector<std::complex<double>> x(nt);
        for (int t = 0; t < nt; t++)
            x[t] = qam_point(k, lab(rng));
        for (int r = 0; r < nr; r++) {
            std::complex<double> acc = 0.0;
            for (int t = 0; t < nt; t++) {
                const cf hv(g(rng) * 0.70710678f, g(rng) * 0.70710678f);
                b.h[(i * nr + r) * nt + t] = hv;
                acc += std::complex<double>(hv) * x[t];
            }
            acc += std::sqrt(nv / 2) * std::complex<double>(g(rng), g(rng));
            b.y[i * nr + r] = cf(acc);
        }
    }
    return b;
}

// max |a - b| / (1 + largest |b| of the channel use)
static double
row_error(const std::vector<float>& a, const std::vector<double>& b, int n, int w)
{
    double worst = 0.0;
    for (int i = 0; i < n; i++) {
        double big = 0.0;
        for (int q = 0; q < w; q++)
            big = std::max(big, std::abs(b[i * w + q]));
        for (int q = 0; q < w; q++)
            worst = std::max(worst,
                             std::abs(double(a[i * w + q]) - b[i * w + q]) / (1.0 + big));
    }
    return worst;
}

static std::vector<std::string> isas()
{
    std::vector<std::string> out{ "generic" };
    try {
        ep_detector probe(1, 1, levels(4), scale(4), 2);
        probe.set_isa("avx2");
        out.push_back("avx2");
    } catch (const std::exception&) {
    }
    return out;
}

static void test_one_stream_is_exact_ml()
{
    std::mt19937 rng(1);
    for (int k : { 4, 6 })
        for (int nr : { 1, 3 }) {
            const int n = 400;
            batch b = random_batch(rng, n, nr, 1, k, -5.0, 35.0);
            std::vector<double> ref;
            for (int i = 0; i < n; i++) {
                auto l = ml_llr(&b.y[i * nr], &b.h[i * nr], nr, b.nv[i], k);
                ref.insert(ref.end(), l.begin(), l.end());
            }
            for (const auto& isa : isas())
                for (int it : { 0, 2, 5 }) {
                    ep_detector det(nr, 1, levels(k), scale(k), 2, 1.0, 0.0, it);
                    det.set_isa(isa);
                    std::vector<float> out(n * k);
                    CHECK(det.detect(
                              b.y.data(), b.h.data(), b.nv.data(), n, out.data()) == 0);
                    const double e = row_error(out, ref, n, k);
                    if (!(e < 2e-6))
                        std::fprintf(stderr,
                                     "ML k=%d nr=%d it=%d %s: %g\n",
                                     k,
                                     nr,
                                     it,
                                     isa.c_str(),
                                     e);
                    CHECK(e < 2e-6);
                }
        }
}

static void test_zero_iterations_is_lmmse()
{
    std::mt19937 rng(2);
    for (int k : { 4, 6 }) {
        const int n = 500, nr = 3, nt = 2;
        batch b = random_batch(rng, n, nr, nt, k, 0.0, 30.0);
        lmmse_detector lm(nr, nt, levels(k), scale(k), 2);
        std::vector<float> lo(n * nt * k);
        lm.detect(b.y.data(), b.h.data(), b.nv.data(), n, false, lo.data());
        const std::vector<double> ref(lo.begin(), lo.end());
        for (const auto& isa : isas()) {
            ep_detector det(nr, nt, levels(k), scale(k), 2, 1.0, 0.0, 0);
            det.set_isa(isa);
            std::vector<float> out(n * nt * k);
            det.detect(b.y.data(), b.h.data(), b.nv.data(), n, out.data());
            CHECK(row_error(out, ref, n, nt * k) < 2e-6);
        }
    }
}

static void test_invalid_input_and_neighbours()
{
    std::mt19937 rng(3);
    const int n = 203, nr = 2, nt = 2, k = 6, w = nt * k;
    batch b = random_batch(rng, n, nr, nt, k, 5.0, 30.0);
    b.y[5 * nr] = cf(NAN, 0.0f);
    b.h[9 * nr * nt + 3] = cf(0.0f, INFINITY);
    b.nv[17] = 0.0f;
    b.nv[18] = -1.0f;
    b.nv[19] = NAN;
    for (const auto& isa : isas()) {
        ep_detector det(nr, nt, levels(k), scale(k), 2);
        det.set_isa(isa);
        std::vector<float> all(n * w);
        std::vector<unsigned char> st(n);
        CHECK(det.detect(b.y.data(), b.h.data(), b.nv.data(), n, all.data(), st.data()) ==
              5);
        for (int i = 0; i < n; i++) {
            const bool bad = i == 5 || i == 9 || (i >= 17 && i <= 19);
            CHECK(st[i] == (bad ? 1 : 0));
            for (int q = 0; q < w; q++) {
                CHECK(std::isfinite(all[i * w + q]));
                if (bad)
                    CHECK(all[i * w + q] == 0.0f);
            }
            // alone, the channel use gets bit for bit the same LLRs
            std::vector<float> one(w);
            det.detect(&b.y[i * nr], &b.h[i * nr * nt], &b.nv[i], 1, one.data());
            CHECK(std::equal(one.begin(), one.end(), all.begin() + i * w));
        }
    }
}

static void test_parameters_are_checked()
{
    int thrown = 0;
    for (int c = 0; c < 5; c++) {
        try {
            if (c == 0)
                ep_detector(2, 17, levels(4), scale(4), 2);
            if (c == 1)
                ep_detector(2, 2, levels(4), scale(4), 2, 1.0, 0.0, -1);
            if (c == 2)
                ep_detector(2, 2, levels(4), scale(4), 2, 1.0, 0.0, 2, 0.0);
            if (c == 3)
                ep_detector(2, 2, levels(4), scale(4), 2, 1.0, 0.0, 2, 0.5, 1.0);
            if (c == 4)
                ep_detector(2, 2, { 1, 3, -1 }, scale(4), 2);
        } catch (const std::invalid_argument&) {
            thrown++;
        }
    }
    CHECK(thrown == 5);
}

int main()
{
    test_one_stream_is_exact_ml();
    test_zero_iterations_is_lmmse();
    test_invalid_input_and_neighbours();
    test_parameters_are_checked();
    if (failures)
        std::fprintf(stderr, "qa_ep_detector: %d failure(s)\n", failures);
    else
        std::printf("qa_ep_detector: ok\n");
    return failures ? 1 : 0;
}
