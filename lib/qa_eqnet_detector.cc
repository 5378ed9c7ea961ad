/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
// C++ unit tests of the EQ-Net estimation kernel (plain executable run by ctest).
// Reference: the same network (without the LMMSE-statistics input) evaluated here in
// double precision from the torch-layout weights; every instruction set the CPU has,
// every tile remainder.
#include <gnuradio/deepquant/eqnet_detector.h>
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

using gr::deepquant::eqnet_detector;
static int failures = 0;
#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            std::fprintf(                                                        \
                stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                          \
        }                                                                        \
    } while (0)

namespace {
const int NR = 2, NT = 2, K = 4, IW = 8, W = 20, NRES = 4, D = 6, BW = 10, DEC = 3;

struct layer {
    unsigned out, in;
    std::vector<float> w, b; // torch layouts
};

std::vector<layer> random_layers(std::mt19937& rng)
{
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<layer> ls;
    auto add = [&](unsigned out, unsigned in, unsigned copies, float gain) {
        layer l{ out,
                 in,
                 std::vector<float>(std::size_t(copies) * out * in),
                 std::vector<float>(copies * out) };
        for (auto& v : l.w)
            v = gain * g(rng) / std::sqrt(float(in));
        for (auto& v : l.b)
            v = 0.2f * g(rng);
        ls.push_back(l);
    };
    add(IW, 2 * NR, 1, 1.2f);
    add(IW, 2 * NR * NT, 1, 1.2f);
    add(IW, 2, 1, 1.2f);
    add(W, 3 * IW, 1, 1.2f);
    for (int j = 0; j < NRES; j++)
        add(W, W, 1, 0.5f);
    add(D, W, 1, 1.0f);
    const unsigned nout = NT * K;
    add(BW, D, nout, 1.2f); // decoder: [nout, in, out] weights
    for (int j = 1; j < DEC - 1; j++)
        add(BW, BW, nout, 1.2f);
    add(1, BW, nout, 3.0f);
    return ls;
}

double relu(double x) { return x > 0 ? x : 0; }

// one channel use in double: the features of EstimationEncoder.features (stats off), f_E,
// g, clamp
std::vector<double> reference(const std::vector<layer>& ls,
                              const std::complex<float>* y,
                              const std::complex<float>* h,
                              float nv,
                              double clamp)
{
    std::vector<double> fy, fh, fs = { std::sqrt(double(nv)), std::log(double(nv)) };
    for (int i = 0; i < NR; i++)
        fy.push_back(y[i].real());
    for (int i = 0; i < NR; i++)
        fy.push_back(y[i].imag());
    for (int i = 0; i < NR * NT; i++)
        fh.push_back(h[i].real());
    for (int i = 0; i < NR * NT; i++)
        fh.push_back(h[i].imag());
    auto dense = [](const layer& l,
                    const std::vector<double>& x,
                    std::size_t off_w = 0,
                    std::size_t off_b = 0,
                    bool torch_bmm = false) {
        std::vector<double> o(l.out);
        for (unsigned r = 0; r < l.out; r++) {
            double s = l.b[off_b + r];
            for (unsigned c = 0; c < l.in; c++)
                s += x[c] * (torch_bmm ? l.w[off_w + std::size_t(c) * l.out + r]
                                       : l.w[std::size_t(r) * l.in + c]);
            o[r] = s;
        }
        return o;
    };
    std::vector<double> cat;
    const std::vector<double>* ins[3] = { &fy, &fh, &fs };
    for (int j = 0; j < 3; j++)
        for (double v : dense(ls[j], *ins[j]))
            cat.push_back(relu(v));
    std::vector<double> x = dense(ls[3], cat);
    for (auto& v : x)
        v = relu(v);
    for (int j = 0; j < NRES; j++) {
        auto t = dense(ls[4 + j], x);
        for (unsigned i = 0; i < x.size(); i++)
            x[i] += relu(t[i]);
    }
    const std::vector<double> z = dense(ls[4 + NRES], x);
    std::vector<double> llr;
    for (unsigned br = 0; br < unsigned(NT * K); br++) {
        std::vector<double> a = z;
        for (int j = 0; j < DEC; j++) {
            const layer& l = ls[5 + NRES + j];
            a = dense(
                l, a, std::size_t(br) * l.in * l.out, std::size_t(br) * l.out, true);
            if (j + 1 < DEC)
                for (auto& v : a)
                    v = relu(v);
        }
        llr.push_back(2.0 * std::min(std::max(a[0], -clamp / 2), clamp / 2));
    }
    return llr;
}

eqnet_detector make(const std::vector<layer>& ls)
{
    std::vector<std::vector<float>> w, b;
    std::vector<unsigned> dims;
    for (const auto& l : ls) {
        w.push_back(l.w);
        b.push_back(l.b);
        dims.push_back(l.out);
        dims.push_back(l.in);
    }
    return eqnet_detector(NR, NT, K, false, w, b, dims, NRES, DEC);
}
} // namespace

int main()
{
    std::mt19937 rng(7);
    const auto ls = random_layers(rng);
    eqnet_detector det = make(ls);
    CHECK(det.latent_dim() == unsigned(D));
    // in_y (2 Nr inputs), in_h (2 Nr Nt), in_s (2), fuse, residual layers, out, Nt K
    // branches
    const std::size_t macs = IW * (2 * NR) + IW * (2 * NR * NT) + IW * 2 + 3 * IW * W +
                             NRES * W * W + W * D +
                             std::size_t(NT * K) * (D * BW + (DEC - 2) * BW * BW + BW);
    CHECK(det.macs_per_channel_use() == macs);

    const std::size_t n = 77; // 2 tiles of 32 and a remainder of 13
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::uniform_real_distribution<float> u(0.01f, 0.3f);
    std::vector<std::complex<float>> y(n * NR), h(n * NR * NT);
    std::vector<float> nv(n);
    for (auto& v : y)
        v = { g(rng), g(rng) };
    for (auto& v : h)
        v = { g(rng), g(rng) };
    for (auto& v : nv)
        v = u(rng);
    const double clamp = 2.0 * std::atanh(double(1.0f - 1e-6f));
    std::vector<std::vector<double>> ref;
    double scale = 0.0;
    for (std::size_t r = 0; r < n; r++) {
        ref.push_back(reference(ls, &y[r * NR], &h[r * NR * NT], nv[r], clamp));
        for (double v : ref.back())
            scale = std::max(scale, std::abs(v));
    }
    CHECK(scale > 1.0);

    std::vector<std::string> isas = { "generic" };
    if (eqnet_detector::cpu_has_avx2())
        isas.push_back("avx2");
    if (eqnet_detector::cpu_has_avx512())
        isas.push_back("avx512");
    const unsigned nout = NT * K;
    for (const auto& isa : isas) {
        det.set_isa(isa);
        CHECK(det.isa() == isa);
        std::vector<float> out(n * nout);
        det.detect(y.data(), h.data(), nv.data(), n, out.data());
        double worst = 0.0;
        for (std::size_t r = 0; r < n; r++)
            for (unsigned o = 0; o < nout; o++)
                worst = std::max(worst, std::abs(out[r * nout + o] - ref[r][o]));
        if (worst > 1e-4 * (1.0 + scale)) {
            std::fprintf(stderr, "%s: max |dL| %g\n", isa.c_str(), worst);
            failures++;
        }
        // every batch size gives the rows of the full batch
        for (std::size_t m : { std::size_t(0),
                               std::size_t(1),
                               std::size_t(16),
                               std::size_t(17),
                               std::size_t(33) }) {
            std::vector<float> part(m * nout + 1, -99.0f);
            det.detect(y.data(), h.data(), nv.data(), m, part.data());
            CHECK(part[m * nout] == -99.0f); // nothing written past the end
            for (std::size_t i = 0; i < m * nout; i++)
                CHECK(part[i] == out[i]);
        }
    }
    if (eqnet_detector::cpu_has_avx512())
        CHECK(eqnet_detector::peak_flops("avx512", 0.01) > 1e9);

    // bad construction and ISA names
    bool threw = false;
    try {
        eqnet_detector(NR, NT, K, true, {}, {}, {}, NRES, DEC); // stats=true needs in_x
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    CHECK(threw);
    threw = false;
    try {
        auto bad = ls;
        bad[3].w.pop_back();
        make(bad);
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    CHECK(threw);
    threw = false;
    try {
        det.set_isa("sse9");
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    CHECK(threw);

    if (failures)
        std::fprintf(stderr, "%d failure(s)\n", failures);
    else
        std::printf("qa_eqnet_detector: all passed (%zu ISAs)\n", isas.size());
    return failures ? 1 : 0;
}
