/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
// C++ unit tests of the OFDM estimation kernel (plain executable run by ctest).
// References built here from first principles: a channel whose impulse response lies
// inside the fitted taps is recovered exactly from noiseless training (sigma^2 = 0,
// leverages summing to the tap count); a straight line of phases (wrapping past +-pi) is
// returned unchanged by the phase fit; tracking removes a known rotation; the header's
// CRC-8 fields round-trip and a flipped bit is caught.
#include <gnuradio/deepquant/ofdm_estimator.h>
#include <cmath>
#include <complex>
#include <cstdio>
#include <random>
#include <vector>

using gr::deepquant::ofdm_estimator;
using cd = std::complex<double>;
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

int main()
{
    const int N = 64;
    std::vector<int> act, data, pil = { -21, -7, 7, 21 };
    for (int k = -26; k <= 26; k++) {
        if (k == 0)
            continue;
        act.push_back(k);
        if (k != -21 && k != -7 && k != 7 && k != 21)
            data.push_back(k);
    }
    const std::vector<cd> ps = { 1.0, 1.0, 1.0, -1.0 };
    ofdm_estimator est(N, act, data, pil, ps);
    std::mt19937 rng(1);
    std::normal_distribution<double> g(0.0, 1.0);

    // channel: 6 taps at delays 2..7 (inside [0, 20])
    std::vector<cd> taps(N, 0.0);
    for (int d = 2; d < 8; d++)
        taps[d] = cd(g(rng), g(rng)) * 0.4;
    std::vector<cd> H(N, 0.0); // fft-shifted response
    for (int k : act) {
        cd s = 0.0;
        for (int d = 0; d < N; d++)
            s += taps[d] * std::exp(cd(0.0, -2.0 * M_PI * k * d / N));
        H[k + N / 2] = s;
    }
    // noiseless training: 3 rows of random QPSK on the active carriers, rows rotated
    // (residual CFO)
    const int T = 3;
    std::vector<cd> x(T * N, 0.0), y(T * N, 0.0);
    for (int t = 0; t < T; t++)
        for (int k : act) {
            const cd s = cd(g(rng) > 0 ? 1 : -1, g(rng) > 0 ? 1 : -1) / std::sqrt(2.0);
            x[t * N + k + N / 2] = s;
            y[t * N + k + N / 2] = H[k + N / 2] * s * std::exp(cd(0.0, 0.2 * t));
        }
    std::vector<cf> h(N);
    std::vector<double> ek(N);
    double nv = -1, err = -1;
    CHECK(est.estimate(y.data(), x.data(), T, 0, 20, 0, h.data(), &nv, &err, ek.data()));
    double maxerr = 0, levsum = 0;
    for (int k : act)
        maxerr = std::max(maxerr, std::abs(cd(h[k + N / 2]) - H[k + N / 2]));
    CHECK(maxerr < 1e-5);
    CHECK(nv >= 0 && nv < 1e-20);
    // with noise: the leverages (err_k / sigma^2) times the training energy per carrier
    // (3) sum to the number of taps, 21; sigma^2 near the noise added (0.02)
    for (int i = 0; i < T * N; i++)
        if (x[i] != cd(0.0))
            y[i] += 0.1 * cd(g(rng), g(rng));
    CHECK(est.estimate(y.data(), x.data(), T, 0, 20, 0, h.data(), &nv, &err, ek.data()));
    for (int n = 0; n < N; n++)
        levsum += 3.0 * ek[n] / nv;
    CHECK(std::fabs(levsum - 21.0) < 1e-9);
    CHECK(nv > 0.015 && nv < 0.025);
    // nothing known: not positive definite -> false
    std::vector<cd> z(T * N, 0.0);
    CHECK(
        !est.estimate(y.data(), z.data(), T, 0, 20, -1, h.data(), &nv, &err, ek.data()));

    // phase fit: an exact line wrapping past +-pi comes back unchanged (unwrapped)
    std::vector<cd> c(12);
    std::vector<double> phi(12);
    for (int i = 0; i < 12; i++)
        c[i] = std::polar(1.0 + 0.1 * i, 2.5 + 0.4 * i);
    ofdm_estimator::linear_phase_fit(c.data(), 12, 0.0, phi.data());
    for (int i = 0; i < 12; i++)
        CHECK(std::fabs(phi[i] - (2.5 + 0.4 * i)) < 1e-12);

    // tracking removes a linear phase drift measured on the pilots
    std::vector<cf> yt(12 * N), out(12 * N), hc(N);
    for (int n = 0; n < N; n++)
        hc[n] = cf(H[n]);
    for (int t = 0; t < 12; t++)
        for (int n = 0; n < N; n++) {
            cd v = H[n] * std::exp(cd(0.0, 0.3 + 0.05 * t));
            for (std::size_t p = 0; p < pil.size(); p++)
                if (n == pil[p] + N / 2)
                    v *= ps[p];
            yt[t * N + n] = cf(v);
        }
    CHECK(est.track(yt.data(), 12, hc.data(), true, out.data(), phi.data()) == 0);
    for (int t = 0; t < 12; t++)
        CHECK(std::fabs(phi[t] - (0.3 + 0.05 * t)) < 1e-5);

    // header fields: round trip through the symbols (3 replicas), CRC catches a flipped
    // bit
    std::vector<double> hs(96);
    ofdm_estimator::header_symbols(40000, 4, hs.size(), hs.data());
    int num = -1, ncw = -1;
    CHECK(ofdm_estimator::header_fields(hs.data(), hs.size(), &num, &ncw));
    CHECK(num == 40000 && ncw == 4);
    for (int r = 0; r < 3; r++)
        hs[5 + 32 * r] = -hs[5 + 32 * r];
    CHECK(!ofdm_estimator::header_fields(hs.data(), hs.size(), &num, &ncw));

    if (failures)
        std::fprintf(stderr, "%d check(s) failed\n", failures);
    else
        std::printf("qa_ofdm_estimator: all checks passed\n");
    return failures ? 1 : 0;
}
