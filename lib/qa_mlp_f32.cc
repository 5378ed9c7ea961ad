/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
// C++ unit tests of the small dense network (plain executable run by ctest). Reference:
// the same network evaluated here in double precision with std::tanh, from torch-layout
// weights.
#include <gnuradio/deepquant/mlp_f32.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

using gr::deepquant::mlp_f32;
static int failures = 0;
#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            std::fprintf(                                                        \
                stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                          \
        }                                                                        \
    } while (0)

struct net {
    std::vector<std::vector<float>> w, b;
    std::vector<unsigned> dims;
};

static net random_net(const std::vector<unsigned>& dims, std::mt19937& rng)
{
    net n;
    n.dims = dims;
    std::normal_distribution<float> g(0.0f, 1.0f);
    for (std::size_t l = 0; l + 1 < dims.size(); l++) {
        const float scale = 1.0f / std::sqrt(float(dims[l]));
        std::vector<float> w(std::size_t(dims[l + 1]) * dims[l]), b(dims[l + 1]);
        for (auto& v : w)
            v = g(rng) * scale;
        for (auto& v : b)
            v = 0.1f * g(rng);
        n.w.push_back(w);
        n.b.push_back(b);
    }
    return n;
}

// y = tanh(W_L relu(... relu(W_1 t(x) + b_1) ...) + b_L) in double
static std::vector<double> reference(const net& n, const float* x, bool tanh_in)
{
    std::vector<double> a(x, x + n.dims.front());
    if (tanh_in)
        for (auto& v : a)
            v = std::tanh(v / 2.0);
    const std::size_t L = n.w.size();
    for (std::size_t l = 0; l < L; l++) {
        const unsigned in = n.dims[l], out = n.dims[l + 1];
        std::vector<double> z(out);
        for (unsigned o = 0; o < out; o++) {
            double s = n.b[l][o];
            for (unsigned i = 0; i < in; i++)
                s += double(n.w[l][std::size_t(o) * in + i]) * a[i];
            z[o] = (l + 1 < L) ? std::max(s, 0.0) : std::tanh(s);
        }
        a = z;
    }
    return a;
}

static void check_net(const std::vector<unsigned>& dims,
                      bool tanh_in,
                      std::size_t rows,
                      unsigned seed)
{
    std::mt19937 rng(seed);
    net n = random_net(dims, rng);
    std::vector<float> x(rows * dims.front());
    std::normal_distribution<float> g(0.0f, 4.0f); // LLR-like magnitudes
    for (auto& v : x)
        v = g(rng);
    mlp_f32 m(n.w, n.b, dims, tanh_in);
    CHECK(m.in_dim() == dims.front() && m.out_dim() == dims.back());
    for (const char* isa : { "generic", "avx2" }) {
        try {
            m.set_isa(isa);
        } catch (const std::exception&) {
            if (std::string(isa) == "generic")
                CHECK(false);
            continue; // no AVX2/FMA on this CPU or a layer too wide for the kernel
        }
        CHECK(m.isa() == isa);
        std::vector<float> y(rows * dims.back(), -9.0f);
        m.forward(x.data(), rows, y.data());
        double worst = 0.0;
        for (std::size_t r = 0; r < rows; r++) {
            auto ref = reference(n, x.data() + r * dims.front(), tanh_in);
            for (unsigned o = 0; o < dims.back(); o++)
                worst =
                    std::max(worst, std::abs(ref[o] - double(y[r * dims.back() + o])));
        }
        if (worst > 2e-5)
            std::fprintf(stderr,
                         "isa %s dims %u..%u: max error %g\n",
                         isa,
                         dims.front(),
                         dims.back(),
                         worst);
        CHECK(worst <= 2e-5);
    }
}

int main()
{
    check_net(
        { 6, 48, 48, 48, 48, 3 }, true, 101, 1); // the soft-bit encoder's shape (K = 6)
    check_net({ 8, 64, 64, 3 }, true, 2, 2);     // K = 8, even row count
    check_net({ 5, 7, 2 }, false, 1, 3);   // odd widths, one row, no input transform
    check_net({ 12, 96, 4 }, false, 9, 4); // wider than the AVX2 kernel: generic only
    bool threw = false;
    try {
        mlp_f32 bad(
            { std::vector<float>(5) }, { std::vector<float>(2) }, { 3, 2 }, false);
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    CHECK(threw);
    if (failures) {
        std::fprintf(stderr, "qa_mlp_f32: %d check(s) failed\n", failures);
        return 1;
    }
    std::printf("qa_mlp_f32: all checks passed\n");
    return 0;
}
