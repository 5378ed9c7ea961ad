/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
// C++ unit tests of the rANS range coder (plain executable run by ctest). References: the
// symbols themselves (lossless round trip) and the ideal code length -sum log2(freq /
// 2^prec) computed here from the coder's quantized frequencies.
#include <gnuradio/deepquant/rans_coder.h>
#include <cmath>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

using gr::deepquant::rans_coder;
using gr::deepquant::rans_error;
static int failures = 0;
#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            std::fprintf(                                                        \
                stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                          \
        }                                                                        \
    } while (0)

// Categorical draws from a probability vector.
static std::vector<uint8_t>
draw(const std::vector<double>& p, std::size_t n, std::mt19937& rng)
{
    std::discrete_distribution<int> d(p.begin(), p.end());
    std::vector<uint8_t> s(n);
    for (auto& v : s)
        v = static_cast<uint8_t>(d(rng));
    return s;
}

static void test_frequencies()
{
    // a tiny probability must still get frequency >= 1; totals are exactly 2^precision
    std::vector<double> p = { 0.5, 0.25, 0.25 - 1e-9, 1e-9 };
    rans_coder c(p, 1, 4, 12);
    uint32_t total = 0;
    for (unsigned s = 0; s < 4; s++) {
        CHECK(c.freq(0, s) >= 1);
        total += c.freq(0, s);
    }
    CHECK(total == (1u << 12));
    CHECK(c.freq(0, 0) > c.freq(0, 1) && c.freq(0, 1) > c.freq(0, 3));
}

static void test_round_trip_and_length()
{
    std::mt19937 rng(7);
    const unsigned M = 16, S = 3;
    // two independent per-stream models plus a second table set (base = 3)
    std::vector<double> probs;
    for (unsigned m = 0; m < 6; m++)
        for (unsigned k = 0; k < M; k++)
            probs.push_back(std::exp(-0.3 * (m + 1) * k));
    rans_coder c(probs, 6, M, 15);
    const uint32_t offset[S] = { 0, 1, 2 };
    const uint8_t cond[S] = { 0, 0, 0 };
    for (std::size_t n : { std::size_t(1), std::size_t(7), std::size_t(500) }) {
        for (unsigned base : { 0u, 3u }) {
            std::vector<uint8_t> sym(n * S);
            for (unsigned s = 0; s < S; s++) {
                std::vector<double> p(probs.begin() + (base + s) * M,
                                      probs.begin() + (base + s + 1) * M);
                auto col = draw(p, n, rng);
                for (std::size_t i = 0; i < n; i++)
                    sym[i * S + s] = col[i];
            }
            std::vector<uint8_t> payload;
            c.encode_rows(sym.data(), n, S, base, offset, cond, payload);
            std::vector<uint8_t> back(n * S, 255);
            c.decode_rows(
                payload.data(), payload.size(), n, S, base, offset, cond, back.data());
            CHECK(back == sym);
            double ideal = 0.0;
            for (std::size_t i = 0; i < n; i++)
                for (unsigned s = 0; s < S; s++)
                    ideal -= std::log2(c.freq(base + offset[s], sym[i * S + s]) /
                                       double(1u << 15));
            CHECK(payload.size() * 8.0 >= ideal - 1e-9);
            CHECK(payload.size() <= std::ceil(ideal / 8.0) + 4);
            // a truncated payload must not decode silently
            if (payload.size() > 1) {
                bool threw = false;
                try {
                    c.decode_rows(payload.data(),
                                  payload.size() - 1,
                                  n,
                                  S,
                                  base,
                                  offset,
                                  cond,
                                  back.data());
                } catch (const rans_error&) {
                    threw = true;
                }
                CHECK(threw);
            }
        }
    }
}

static void test_conditional_chain()
{
    // stream 1 conditioned on stream 0: models 1..M are p(z1 | z0 = m - 1)
    const unsigned M = 4;
    std::vector<double> probs = { 0.7, 0.1, 0.1, 0.1 };
    for (unsigned prev = 0; prev < M; prev++)
        for (unsigned k = 0; k < M; k++)
            probs.push_back(k == prev ? 0.91 : 0.03);
    rans_coder c(probs, 1 + M, M, 14);
    const uint32_t offset[2] = { 0, 1 };
    const uint8_t cond[2] = { 0, 1 };
    std::mt19937 rng(3);
    const std::size_t n = 300;
    std::vector<uint8_t> sym(2 * n);
    auto z0 = draw({ 0.7, 0.1, 0.1, 0.1 }, n, rng);
    for (std::size_t i = 0; i < n; i++) {
        sym[2 * i] = z0[i];
        sym[2 * i + 1] = (rng() % 10 == 0) ? static_cast<uint8_t>(rng() % M) : z0[i];
    }
    std::vector<uint8_t> payload;
    c.encode_rows(sym.data(), n, 2, 0, offset, cond, payload);
    std::vector<uint8_t> back(2 * n);
    c.decode_rows(payload.data(), payload.size(), n, 2, 0, offset, cond, back.data());
    CHECK(back == sym);
    // the chain model must beat coding stream 1 with a flat table (2 bits per symbol)
    CHECK(payload.size() * 8.0 < n * (2.0 + 1.5));
}

static void test_bad_arguments()
{
    bool threw = false;
    try {
        rans_coder c({ 0.5, 0.5 }, 1, 1, 15); // alphabet 1
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    CHECK(threw);
    threw = false;
    try {
        rans_coder c({ 0.0, 0.0 }, 1, 2, 15); // all-zero row
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    CHECK(threw);
    rans_coder c({ 0.5, 0.5 }, 1, 2, 15);
    const uint32_t offset[1] = { 0 };
    const uint8_t cond[1] = { 0 };
    const uint8_t sym[2] = { 1, 2 }; // 2 is outside the alphabet
    std::vector<uint8_t> out;
    threw = false;
    try {
        c.encode_rows(sym, 2, 1, 0, offset, cond, out);
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    CHECK(threw);
}

// Symbol 0 coded while the encoder's state is below its frequency leaves the state
// unchanged: a frame of zeros is the 4-byte payload of state 1 whatever its length, and
// must decode. A payload decoded with more rows than it was coded with must be refused
// early: its state reaches 0 or freezes below every symbol-0 frequency once the bytes run
// out.
static void test_zero_runs_and_early_rejection()
{
    const unsigned M = 8;
    std::vector<double> probs = { 0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05 };
    rans_coder c(probs, 1, M, 15);
    const uint32_t offset[2] = { 0, 0 };
    const uint8_t cond[2] = { 0, 0 };
    for (std::size_t n : { std::size_t(1), std::size_t(1000), std::size_t(100000) }) {
        std::vector<uint8_t> sym(n * 2, 0), out;
        c.encode_rows(sym.data(), n, 2, 0, offset, cond, out);
        CHECK(out.size() == 4);
        std::vector<uint8_t> dec(n * 2, 7);
        c.decode_rows(out.data(), out.size(), n, 2, 0, offset, cond, dec.data());
        CHECK(dec == sym);
    }
    // zeros at the end of the decoding order after random symbols (the encoder's first
    // puts), two streams with their own models
    std::vector<double> two = probs;
    for (double v : { 0.05, 0.05, 0.1, 0.1, 0.1, 0.1, 0.2, 0.3 })
        two.push_back(v);
    rans_coder c2(two, 2, M, 15);
    const uint32_t offset2[2] = { 0, 1 };
    std::mt19937 rng(3);
    int early = 0, late = 0, accepted = 0;
    for (int trial = 0; trial < 200; trial++) {
        const std::size_t n = 50;
        std::vector<uint8_t> sym = draw(probs, n * 2, rng), out;
        for (std::size_t i = n / 2; i < n; i++)
            sym[i * 2 + 1] = 0;
        c2.encode_rows(sym.data(), n, 2, 0, offset2, cond, out);
        std::vector<uint8_t> dec(n * 2);
        c2.decode_rows(out.data(), out.size(), n, 2, 0, offset2, cond, dec.data());
        CHECK(dec == sym);
        // the same payload with 20x the rows
        std::vector<uint8_t> big(n * 40);
        try {
            c2.decode_rows(
                out.data(), out.size(), n * 20, 2, 0, offset2, cond, big.data());
            accepted++;
        } catch (const rans_error& e) {
            const std::string w = e.what();
            if (w.find("initial state") != std::string::npos)
                late++;
            else
                early++;
        }
    }
    CHECK(early >= 190); // refused before the last symbol
    CHECK(late + accepted <= 10);
}

int main()
{
    test_frequencies();
    test_round_trip_and_length();
    test_conditional_chain();
    test_bad_arguments();
    test_zero_runs_and_early_rejection();
    if (failures) {
        std::fprintf(stderr, "qa_rans_coder: %d check(s) failed\n", failures);
        return 1;
    }
    std::printf("qa_rans_coder: all checks passed\n");
    return 0;
}
