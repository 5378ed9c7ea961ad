/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gnuradio/deepquant/ofdm_estimator.h>
#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace gr {
namespace deepquant {

namespace {
using cd = std::complex<double>;
using cf = std::complex<float>;
constexpr int MAX_TAPS = 64;
constexpr int HEADER_BITS = 32;

// numpy's np.mod for floats (the result takes the divisor's sign)
double py_mod(double a, double b)
{
    double r = std::fmod(a, b);
    if (r != 0.0 && ((r < 0.0) != (b < 0.0)))
        r += b;
    return r;
}

// Cholesky A = L L^H of an n x n Hermitian matrix (row-major, lower triangle read);
// false when a pivot is not positive and finite
bool cholesky(const cd* A, int n, cd* L)
{
    for (int i = 0; i < n; i++) {
        for (int j = 0; j <= i; j++) {
            cd s = A[i * n + j];
            for (int p = 0; p < j; p++)
                s -= L[i * n + p] * std::conj(L[j * n + p]);
            if (i == j) {
                const double d = s.real();
                if (!(d > 0.0) || !std::isfinite(d))
                    return false;
                L[i * n + i] = std::sqrt(d);
            } else {
                L[i * n + j] = s / L[j * n + j].real();
            }
        }
        for (int j = i + 1; j < n; j++)
            L[i * n + j] = 0.0;
    }
    return true;
}

uint8_t crc8_24(const uint8_t* b)
{
    unsigned r = 0;
    for (int i = 0; i < 24; i++) {
        const unsigned fb = ((r >> 7) & 1u) ^ b[i];
        r = ((r << 1) & 0xFFu) ^ (fb * 0x07u);
    }
    return uint8_t(r);
}
} // namespace

ofdm_estimator::ofdm_estimator(int fft_len, const std::vector<int>& active, const std::vector<int>& data,
                               const std::vector<int>& pilots, const std::vector<cd>& pilot_symbols)
    : d_n(fft_len), d_k(int(active.size())), d_pilot_sym(pilot_symbols)
{
    if (fft_len < 2 || fft_len % 2)
        throw std::invalid_argument("ofdm_estimator: fft_len must be even and >= 2");
    if (active.empty() || data.empty() || pilots.size() != pilot_symbols.size())
        throw std::invalid_argument("ofdm_estimator: need active and data carriers, one pilot symbol per pilot");
    auto pos = [fft_len](const std::vector<int>& ks, std::vector<int>& out) {
        for (int k : ks) {
            if (k < -fft_len / 2 || k >= fft_len / 2)
                throw std::invalid_argument("ofdm_estimator: carrier outside the FFT");
            out.push_back(k + fft_len / 2);
        }
    };
    pos(active, d_act_pos);
    pos(data, d_data_pos);
    pos(pilots, d_pilot_pos);
    d_act_k = active;
    d_e.resize(fft_len);
    for (int m = 0; m < fft_len; m++)
        d_e[m] = std::exp(cd(0.0, -2.0 * M_PI * m / fft_len));
}

cd ofdm_estimator::basis(int i, int lag) const
{
    // F[i, l] = exp(-2 pi j k_i lag_l / N)
    long m = (long(d_act_k[i]) * lag) % d_n;
    if (m < 0)
        m += d_n;
    return d_e[m];
}

bool ofdm_estimator::fit(std::vector<cd>& Y, const std::vector<cd>& X, int T, int taps_pre, int taps_post,
                         int ref_row, cd* h, double* nv, double* mean_lev, double* lev) const
{
    const int K = d_k;
    const int L = taps_pre + taps_post + 1;
    if (taps_pre < 0 || taps_post < 0 || L > MAX_TAPS || L > K)
        return false;
    std::vector<double> d(K, 0.0);
    std::vector<cd> hls(K);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < K; i++)
            d[i] += std::norm(X[t * K + i]);
    auto ls = [&]() {
        for (int i = 0; i < K; i++) {
            cd s = 0.0;
            for (int t = 0; t < T; t++)
                s += std::conj(X[t * K + i]) * Y[t * K + i];
            hls[i] = d[i] > 0 ? s / d[i] : cd(0.0);
        }
    };
    ls();
    if (T > 1 && ref_row >= 0 && ref_row < T) {
        // residual CFO: every row's common phase aligned to row ref_row
        std::vector<double> phi(T);
        for (int t = 0; t < T; t++) {
            cd s = 0.0;
            for (int i = 0; i < K; i++)
                s += std::conj(hls[i] * X[t * K + i]) * Y[t * K + i];
            phi[t] = std::arg(s);
        }
        for (int t = 0; t < T; t++) {
            const cd r = std::exp(cd(0.0, -(phi[t] - phi[ref_row])));
            for (int i = 0; i < K; i++)
                Y[t * K + i] *= r;
        }
        ls();
    }
    // A[l][m] = sum_i d_i conj(F[i,l]) F[i,m] = sum_i d_i exp(2 pi j k_i (l - m) / N): Toeplitz
    std::vector<cd> tz(2 * L - 1, 0.0); // tz[delta + L - 1]
    for (int dl = -(L - 1); dl <= L - 1; dl++) {
        cd s = 0.0;
        for (int i = 0; i < K; i++)
            s += d[i] * std::conj(basis(i, dl));
        tz[dl + L - 1] = s;
    }
    std::vector<cd> A(L * L), C(L * L);
    for (int l = 0; l < L; l++)
        for (int m = 0; m < L; m++)
            A[l * L + m] = tz[l - m + L - 1];
    if (!cholesky(A.data(), L, C.data()))
        return false;
    // g = A^-1 F^H W h_ls
    std::vector<cd> g(L);
    for (int l = 0; l < L; l++) {
        cd s = 0.0;
        for (int i = 0; i < K; i++)
            s += std::conj(basis(i, l - taps_pre)) * (d[i] * hls[i]);
        g[l] = s;
    }
    for (int l = 0; l < L; l++) { // C z = b
        cd s = g[l];
        for (int p = 0; p < l; p++)
            s -= C[l * L + p] * g[p];
        g[l] = s / C[l * L + l].real();
    }
    for (int l = L - 1; l >= 0; l--) { // C^H g = z
        cd s = g[l];
        for (int p = l + 1; p < L; p++)
            s -= std::conj(C[p * L + l]) * g[p];
        g[l] = s / C[l * L + l].real();
    }
    for (int i = 0; i < K; i++) {
        cd s = 0.0;
        for (int l = 0; l < L; l++)
            s += basis(i, l - taps_pre) * g[l];
        h[i] = s;
    }
    // sigma^2 from the residual of the known cells
    double res = 0.0;
    long n_obs = 0;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < K; i++) {
            const cd x = X[t * K + i];
            if (x != cd(0.0)) {
                const cd r = Y[t * K + i] - h[i] * x;
                res += r.real() * r.real() + r.imag() * r.imag();
                n_obs++;
            }
        }
    *nv = res / double(std::max<long>(n_obs - L, 1));
    // leverages diag(F A^-1 F^H)_i = Re sum_delta S_delta exp(-2 pi j k_i delta / N) with
    // S_delta = sum_{l - m = delta} (A^-1)_lm; A^-1 = C^-H C^-1
    std::vector<cd> Ci(L * L, 0.0);
    for (int j = 0; j < L; j++) { // column j of C^-1 (lower triangular)
        Ci[j * L + j] = 1.0 / C[j * L + j].real();
        for (int l = j + 1; l < L; l++) {
            cd s = 0.0;
            for (int p = j; p < l; p++)
                s -= C[l * L + p] * Ci[p * L + j];
            Ci[l * L + j] = s / C[l * L + l].real();
        }
    }
    std::vector<cd> S(2 * L - 1, 0.0);
    for (int l = 0; l < L; l++)
        for (int m = 0; m < L; m++) {
            cd s = 0.0;
            for (int p = std::max(l, m); p < L; p++)
                s += std::conj(Ci[p * L + l]) * Ci[p * L + m];
            S[l - m + L - 1] += s;
        }
    double lsum = 0.0;
    for (int i = 0; i < K; i++) {
        double v = 0.0;
        for (int dl = -(L - 1); dl <= L - 1; dl++)
            v += (S[dl + L - 1] * basis(i, dl)).real();
        lsum += v;
        if (lev)
            lev[i] = v;
    }
    if (mean_lev)
        *mean_lev = lsum / K;
    return std::isfinite(*nv);
}

bool ofdm_estimator::estimate(const cd* y, const cd* x, int T, int taps_pre, int taps_post, int ref_row, cf* h,
                              double* noise_var, double* err_var, double* err_k) const
{
    const int K = d_k, N = d_n;
    if (T < 1)
        return false;
    std::vector<cd> Y(T * K), X(T * K), hk(K);
    std::vector<double> lev(K);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < K; i++) {
            Y[t * K + i] = y[t * N + d_act_pos[i]];
            X[t * K + i] = x[t * N + d_act_pos[i]];
        }
    double nv, ml;
    if (!fit(Y, X, T, taps_pre, taps_post, ref_row, hk.data(), &nv, &ml, lev.data()))
        return false;
    std::fill(h, h + N, cf(0.0f));
    if (err_k)
        std::fill(err_k, err_k + N, 0.0);
    double esum = 0.0;
    for (int i = 0; i < K; i++) {
        h[d_act_pos[i]] = cf(hk[i]);
        const double e = nv * lev[i];
        esum += e;
        if (err_k)
            err_k[d_act_pos[i]] = e;
    }
    *noise_var = nv;
    *err_var = esum / K;
    return true;
}

void ofdm_estimator::linear_phase_fit(const cd* c, int n, double t0, double* phi)
{
    if (n <= 0)
        return;
    // np.unwrap of the angles
    double corr = 0.0, prev = std::arg(c[0]);
    phi[0] = prev;
    for (int i = 1; i < n; i++) {
        const double a = std::arg(c[i]);
        const double dd = a - prev;
        if (std::fabs(dd) >= M_PI) {
            double ddmod = py_mod(dd + M_PI, 2.0 * M_PI) - M_PI;
            if (ddmod == -M_PI && dd > 0)
                ddmod = M_PI;
            corr += ddmod - dd;
        }
        phi[i] = a + corr;
        prev = a;
    }
    if (n < 3)
        return;
    double sw = 0.0;
    bool fin = true;
    std::vector<double> w(n);
    for (int i = 0; i < n; i++) {
        w[i] = std::norm(c[i]);
        fin = fin && std::isfinite(w[i]);
        sw += w[i];
    }
    if (!fin || !(std::isfinite(sw) && sw > 0))
        return;
    double tb = 0.0;
    for (int i = 0; i < n; i++)
        tb += w[i] * (i + t0);
    tb /= sw;
    double den = 0.0, mean = 0.0, num = 0.0;
    for (int i = 0; i < n; i++) {
        const double tc = i + t0 - tb;
        den += w[i] * tc * tc;
        mean += w[i] * phi[i];
        num += w[i] * tc * phi[i];
    }
    mean /= sw;
    if (!(den > 0)) {
        // all the weight on one symbol j: lstsq's minimum-norm line through (t_j, phi_j)
        int j = 0;
        for (int i = 1; i < n; i++)
            if (w[i] > w[j])
                j = i;
        const double tj = j + t0, pj = phi[j];
        for (int i = 0; i < n; i++)
            phi[i] = pj * (1.0 + (i + t0) * tj) / (1.0 + tj * tj);
        return;
    }
    const double slope = num / den;
    for (int i = 0; i < n; i++)
        phi[i] = mean + slope * (i + t0 - tb);
}

bool ofdm_estimator::refine(const cf* y, int T, const cf* h, double noise_var, double err_var, const cd* x_known,
                            const double* x_var, int taps_pre, int taps_post, cf* y_out, cf* h_out,
                            double* err_out, double* err_k) const
{
    const int K = d_k, N = d_n, P = int(d_pilot_pos.size());
    if (T < 1)
        return false;
    std::vector<cd> x(x_known, x_known + T * N);
    std::vector<double> a(T * N, 1.0);
    const double nvc = std::max(noise_var, 1e-30);
    for (int t = 0; t < T; t++) {
        for (int p = 0; p < P; p++)
            x[t * N + d_pilot_pos[p]] = d_pilot_sym[p];
        if (x_var) {
            for (int n = 0; n < N; n++) {
                const double hv = std::abs(cd(h[n]));
                const double v = x_var[t * N + n];
                a[t * N + n] = 1.0 / std::sqrt(1.0 + hv * hv * v / nvc);
            }
            for (int p = 0; p < P; p++)
                a[t * N + d_pilot_pos[p]] = 1.0;
        }
    }
    // 1. common phase per symbol from every known cell and the pilots, straight-line fit
    std::vector<cd> c(T);
    std::vector<double> ph(T);
    for (int t = 0; t < T; t++) {
        cd s = 0.0;
        for (int n = 0; n < N; n++) {
            const cd xv = x[t * N + n];
            if (xv == cd(0.0))
                continue;
            const double an = a[t * N + n];
            s += std::conj(cd(h[n]) * xv) * an * an * cd(y[t * N + n]);
        }
        c[t] = s;
    }
    linear_phase_fit(c.data(), T, 0.0, ph.data());
    std::vector<cd> yr(T * N);
    for (int t = 0; t < T; t++) {
        const cd r = std::exp(cd(0.0, -ph[t]));
        for (int n = 0; n < N; n++) {
            yr[t * N + n] = cd(y[t * N + n]) * r;
            y_out[t * N + n] = cf(yr[t * N + n]);
        }
    }
    // 2. the weighted fit with the preamble estimate as prior row
    const int L = taps_pre + taps_post + 1;
    double mlev;
    {
        std::vector<cd> Y1(K), X1(K, 1.0), h1(K);
        double nv1;
        if (!fit(Y1, X1, 1, taps_pre, taps_post, -1, h1.data(), &nv1, &mlev, nullptr))
            return false;
    }
    (void)L;
    const double w = err_var > 0 ? mlev * noise_var / err_var : 1e6;
    const double sw = std::sqrt(w);
    std::vector<cd> Y((T + 1) * K), X((T + 1) * K), hk(K);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < K; i++) {
            const int n = d_act_pos[i];
            const double an = a[t * N + n];
            Y[t * K + i] = yr[t * N + n] * an;
            X[t * K + i] = x[t * N + n] * an;
        }
    for (int i = 0; i < K; i++) {
        Y[T * K + i] = sw * cd(h[d_act_pos[i]]);
        X[T * K + i] = sw;
    }
    std::vector<double> lev(K);
    double nv_fit, ml;
    if (!fit(Y, X, T + 1, taps_pre, taps_post, -1, hk.data(), &nv_fit, &ml, lev.data()))
        return false;
    // the fit's error variance scales with its own residual sigma^2: use noise_var instead
    const double scale = nv_fit > 0 ? noise_var / nv_fit : 0.0;
    std::fill(h_out, h_out + N, cf(0.0f));
    std::fill(err_k, err_k + N, 0.0);
    double esum = 0.0;
    for (int i = 0; i < K; i++) {
        h_out[d_act_pos[i]] = cf(hk[i]);
        const double e = nv_fit * lev[i];
        esum += e;
        err_k[d_act_pos[i]] = e * scale;
    }
    *err_out = nv_fit > 0 ? (esum / K) * scale : err_var;
    return true;
}

std::size_t ofdm_estimator::track(const cf* y, int T, const cf* h, bool linear_fit, cf* out, double* phases) const
{
    const int N = d_n, P = int(d_pilot_pos.size());
    std::vector<cd> c(T);
    std::vector<cd> ref(P);
    for (int p = 0; p < P; p++)
        ref[p] = std::conj(cd(h[d_pilot_pos[p]]) * d_pilot_sym[p]);
    for (int t = 0; t < T; t++) {
        cd s = 0.0;
        for (int p = 0; p < P; p++)
            s += cd(y[t * N + d_pilot_pos[p]]) * ref[p];
        c[t] = s;
    }
    if (linear_fit)
        linear_phase_fit(c.data(), T, 0.0, phases);
    else
        for (int t = 0; t < T; t++)
            phases[t] = std::arg(c[t]);
    std::size_t bad = 0;
    for (int t = 0; t < T; t++) {
        const cf r = cf(std::exp(cd(0.0, -phases[t])));
        bool fin = true;
        for (int n = 0; n < N; n++) {
            const cf v = y[t * N + n] * r;
            out[t * N + n] = v;
            fin = fin && std::isfinite(v.real()) && std::isfinite(v.imag());
        }
        if (!fin) {
            std::fill(out + t * N, out + (t + 1) * N, cf(0.0f));
            bad++;
        }
    }
    return bad;
}

bool ofdm_estimator::header_fields(const double* z, std::size_t n, int* packet_num, int* n_codewords)
{
    double acc[HEADER_BITS] = { 0.0 };
    for (std::size_t i = 0; i < n; i++)
        acc[i % HEADER_BITS] += z[i];
    uint8_t b[HEADER_BITS];
    for (int i = 0; i < HEADER_BITS; i++)
        b[i] = acc[i] > 0 ? 1 : 0;
    const uint8_t r = crc8_24(b);
    for (int i = 0; i < 8; i++)
        if (((r >> (7 - i)) & 1u) != b[24 + i])
            return false;
    long v = 0;
    for (int i = 0; i < 24; i++)
        v = (v << 1) | b[i];
    *packet_num = int(v >> 8);
    *n_codewords = int(v & 0xFF);
    return true;
}

void ofdm_estimator::header_symbols(int packet_num, int n_codewords, std::size_t n, double* out)
{
    const long v = (long((packet_num % 65536 + 65536) % 65536) << 8) | (n_codewords & 0xFF);
    uint8_t b[HEADER_BITS];
    for (int i = 0; i < 24; i++)
        b[i] = uint8_t((v >> (23 - i)) & 1);
    const uint8_t r = crc8_24(b);
    for (int i = 0; i < 8; i++)
        b[24 + i] = uint8_t((r >> (7 - i)) & 1u);
    for (std::size_t i = 0; i < n; i++)
        out[i] = 2.0 * b[i % HEADER_BITS] - 1.0;
}

int ofdm_estimator::decode_header(const cf* ys, int n_hdr, const cf* x_sync, int taps_pre, int taps_post,
                                  int* packet_num, int* n_codewords, cf* h, double* noise_var,
                                  double* err_var) const
{
    const int N = d_n, D = int(d_data_pos.size()), P = int(d_pilot_pos.size());
    const int T = 2 + n_hdr;
    std::vector<cd> y(T * N), x(T * N, 0.0);
    for (int i = 0; i < T * N; i++)
        y[i] = cd(ys[i]);
    for (int i = 0; i < 2 * N; i++)
        x[i] = cd(x_sync[i]);
    std::vector<cf> h0(N);
    double nv0, err0;
    if (!estimate(y.data(), x.data(), 2, taps_pre, taps_post, 1, h0.data(), &nv0, &err0, nullptr))
        return -1;
    // MRC statistics Re(conj(h) y) of the header carriers (complex64 products, as the reference)
    std::vector<double> z(n_hdr * D);
    for (int t = 0; t < n_hdr; t++)
        for (int j = 0; j < D; j++) {
            const cf hv = h0[d_data_pos[j]], yv = ys[(2 + t) * N + d_data_pos[j]];
            z[t * D + j] = double((std::conj(hv) * yv).real());
        }
    if (!header_fields(z.data(), z.size(), packet_num, n_codewords))
        return 0;
    std::vector<double> hs(n_hdr * D);
    header_symbols(*packet_num, *n_codewords, hs.size(), hs.data());
    for (int t = 0; t < n_hdr; t++) {
        for (int j = 0; j < D; j++)
            x[(2 + t) * N + d_data_pos[j]] = cd(float(hs[t * D + j]));
        for (int p = 0; p < P; p++)
            x[(2 + t) * N + d_pilot_pos[p]] = cd(cf(d_pilot_sym[p]));
    }
    if (!estimate(y.data(), x.data(), T, taps_pre, taps_post, 1, h, noise_var, err_var, nullptr))
        return -1;
    return 1;
}

} // namespace deepquant
} // namespace gr
