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
#include <gnuradio/deepquant/ep_detector.h>
#include <gnuradio/deepquant/eqnet_detector.h>
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <memory>
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

std::vector<double> dense_d(const layer& l, const std::vector<double>& x)
{
    std::vector<double> o(l.out);
    for (unsigned r = 0; r < l.out; r++) {
        double s = l.b[r];
        for (unsigned c = 0; c < l.in; c++)
            s += x[c] * l.w[std::size_t(r) * l.in + c];
        o[r] = s;
    }
    return o;
}

// EP-input mode (16-QAM, 2 x 2) with in_x's weights zero, so that in_x's output is the
// constant relu(b_x) and f_E's output is trunk(y, H, sigma) + tanh(f_Q(tanh(L_EP / 2))),
// L_EP from ep_detector::detect: checked against that, in double, for every ISA; then the
// constructor's checks of the EP-input parts.
void test_ep_input(std::mt19937& rng)
{
    const unsigned NEP = NT * K, NX = 3 * NT + NT * (NT - 1) + NEP, FW = 16;
    std::normal_distribution<float> g(0.0f, 1.0f);
    auto add = [&](std::vector<layer>& ls,
                   unsigned out,
                   unsigned in,
                   unsigned copies,
                   float gain) {
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
    std::vector<layer> ls, fq;
    add(ls, IW, 2 * NR, 1, 1.2f);
    add(ls, IW, 2 * NR * NT, 1, 1.2f);
    add(ls, IW, 2, 1, 1.2f);
    add(ls, IW, NX, 1, 0.0f); // in_x: zero weights, random biases
    add(ls, W, 4 * IW, 1, 1.2f);
    for (int j = 0; j < NRES; j++)
        add(ls, W, W, 1, 0.5f);
    add(ls, D, W, 1, 1.0f);
    add(ls, BW, D, NEP, 1.2f);
    for (int j = 1; j < DEC - 1; j++)
        add(ls, BW, BW, NEP, 1.2f);
    add(ls, 1, BW, NEP, 3.0f);
    add(fq, FW, NEP, 1, 1.2f);
    add(fq, FW, FW, 1, 1.2f);
    add(fq, D, FW, 1, 2.0f);
    std::vector<std::vector<float>> w, b, qw, qb;
    std::vector<unsigned> dims, qd;
    for (const auto& l : ls) {
        w.push_back(l.w);
        b.push_back(l.b);
        dims.push_back(l.out);
        dims.push_back(l.in);
    }
    for (const auto& l : fq) {
        qw.push_back(l.w);
        qb.push_back(l.b);
        qd.push_back(l.out);
        qd.push_back(l.in);
    }
    auto ep = std::make_shared<const gr::deepquant::ep_detector>(
        NR, NT, std::vector<int>{ 1, 3, -1, -3 }, 1.0 / std::sqrt(10.0), 2);
    eqnet_detector det(NR, NT, K, true, w, b, dims, NRES, DEC, ep, qw, qb, qd);
    CHECK(det.ep_input());

    const std::size_t n = 300; // two EP chunks of 256, tiles with remainders
    std::vector<std::complex<float>> y(n * NR), h(n * NR * NT);
    std::vector<float> nv(n), lep(n * NEP);
    std::uniform_real_distribution<float> u(0.02f, 0.3f);
    for (auto& v : y)
        v = { g(rng), g(rng) };
    for (auto& v : h)
        v = { g(rng), g(rng) };
    for (auto& v : nv)
        v = u(rng);
    ep->detect(y.data(), h.data(), nv.data(), n, lep.data());
    const double clamp = 2.0 * std::atanh(double(1.0f - 1e-6f));
    std::vector<std::vector<double>> ref;
    double scale = 0.0, fq_size = 0.0;
    for (std::size_t r = 0; r < n; r++) {
        const std::complex<float>* yr = &y[r * NR];
        const std::complex<float>* hr = &h[r * NR * NT];
        std::vector<double> fy, fh,
            fs = { std::sqrt(double(nv[r])), std::log(double(nv[r])) };
        for (int i = 0; i < NR; i++)
            fy.push_back(yr[i].real());
        for (int i = 0; i < NR; i++)
            fy.push_back(yr[i].imag());
        for (int i = 0; i < NR * NT; i++)
            fh.push_back(hr[i].real());
        for (int i = 0; i < NR * NT; i++)
            fh.push_back(hr[i].imag());
        std::vector<double> cat;
        const std::vector<double>* ins[3] = { &fy, &fh, &fs };
        for (int j = 0; j < 3; j++)
            for (double v : dense_d(ls[j], *ins[j]))
                cat.push_back(relu(v));
        for (unsigned i = 0; i < unsigned(IW); i++)
            cat.push_back(relu(ls[3].b[i]));
        std::vector<double> x = dense_d(ls[4], cat);
        for (auto& v : x)
            v = relu(v);
        for (int j = 0; j < NRES; j++) {
            auto t = dense_d(ls[5 + j], x);
            for (unsigned i = 0; i < x.size(); i++)
                x[i] += relu(t[i]);
        }
        std::vector<double> z = dense_d(ls[5 + NRES], x);
        std::vector<double> q(NEP);
        for (unsigned i = 0; i < NEP; i++)
            q[i] = double(float(std::tanh(0.5 * double(lep[r * NEP + i]))));
        for (std::size_t j = 0; j < fq.size(); j++) {
            q = dense_d(fq[j], q);
            if (j + 1 < fq.size())
                for (auto& v : q)
                    v = relu(v);
        }
        for (unsigned i = 0; i < unsigned(D); i++) {
            z[i] += std::tanh(q[i]);
            fq_size += std::abs(std::tanh(q[i])) / double(n * D);
        }
        std::vector<double> llr;
        for (unsigned br = 0; br < NEP; br++) {
            std::vector<double> a = z;
            for (int j = 0; j < DEC; j++) {
                const layer& l = ls[6 + NRES + j];
                std::vector<double> o(l.out);
                for (unsigned rr = 0; rr < l.out; rr++) {
                    double s = l.b[std::size_t(br) * l.out + rr];
                    for (unsigned c = 0; c < l.in; c++)
                        s += a[c] * l.w[std::size_t(br) * l.in * l.out +
                                        std::size_t(c) * l.out + rr];
                    o[rr] = (j + 1 < DEC) ? relu(s) : s;
                }
                a = o;
            }
            llr.push_back(2.0 * std::min(std::max(a[0], -clamp / 2), clamp / 2));
            scale = std::max(scale, std::abs(llr.back()));
        }
        ref.push_back(llr);
    }
    CHECK(scale > 1.0);
    CHECK(fq_size > 0.05); // the f_Q term is not negligible
    std::vector<std::string> isas = { "generic" };
    if (eqnet_detector::cpu_has_avx2())
        isas.push_back("avx2");
    if (eqnet_detector::cpu_has_avx512())
        isas.push_back("avx512");
    for (const auto& isa : isas) {
        det.set_isa(isa);
        std::vector<float> out(n * NEP);
        det.detect(y.data(), h.data(), nv.data(), n, out.data());
        double worst = 0.0;
        for (std::size_t r = 0; r < n; r++)
            for (unsigned o = 0; o < NEP; o++)
                worst = std::max(worst, std::abs(out[r * NEP + o] - ref[r][o]));
        if (worst > 1e-4 * (1.0 + scale)) {
            std::fprintf(stderr, "EP input, %s: max |dL| %g\n", isa.c_str(), worst);
            failures++;
        }
    }
    auto throws = [&](auto fn) {
        try {
            fn();
        } catch (const std::invalid_argument&) {
            return true;
        }
        return false;
    };
    // f_Q without an ep_detector; EP input without the statistics input; an ep_detector
    // of another K; f_Q's last layer not giving D latents; in_x without the EP columns
    CHECK(throws([&] {
        eqnet_detector(NR, NT, K, true, w, b, dims, NRES, DEC, nullptr, qw, qb, qd);
    }));
    CHECK(throws([&] {
        eqnet_detector(NR, NT, K, false, w, b, dims, NRES, DEC, ep, qw, qb, qd);
    }));
    auto ep64 = std::make_shared<const gr::deepquant::ep_detector>(
        NR, NT, std::vector<int>{ 3, 1, 5, 7, -3, -1, -5, -7 }, 1.0 / std::sqrt(42.0), 2);
    CHECK(throws([&] {
        eqnet_detector(NR, NT, K, true, w, b, dims, NRES, DEC, ep64, qw, qb, qd);
    }));
    auto qd_bad = qd;
    qd_bad[4] = D + 1;
    CHECK(throws([&] {
        eqnet_detector(NR, NT, K, true, w, b, dims, NRES, DEC, ep, qw, qb, qd_bad);
    }));
    CHECK(throws([&] { eqnet_detector(NR, NT, K, true, w, b, dims, NRES, DEC); }));
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

    test_ep_input(rng);

    if (failures)
        std::fprintf(stderr, "%d failure(s)\n", failures);
    else
        std::printf("qa_eqnet_detector: all passed (%zu ISAs)\n", isas.size());
    return failures ? 1 : 0;
}
