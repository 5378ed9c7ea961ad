/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gnuradio/deepquant/ofdm_estimator.h>
#include <algorithm>
#include <cmath>
#include <mutex>
#include <stdexcept>

namespace gr {
namespace deepquant {

// memoised fit factors (the preamble / header weights are the same for every packet)
struct ofdm_estimator::factor {
    int taps_pre, taps_post;
    std::vector<double> d;               // per-carrier weights sum |X|^2
    std::vector<std::complex<double>> E; // basis_table(L)
    std::vector<std::complex<double>> C; // Cholesky factor of F^H W F (L x L, lower)
    std::vector<double> lev;             // diag(F (F^H W F)^-1 F^H)
    double mean_lev;
};
struct ofdm_estimator::factor_cache {
    std::mutex mutex;
    std::vector<std::shared_ptr<const factor>> entries;
};

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

ofdm_estimator::ofdm_estimator(int fft_len,
                               const std::vector<int>& active,
                               const std::vector<int>& data,
                               const std::vector<int>& pilots,
                               const std::vector<cd>& pilot_symbols)
    : d_n(fft_len),
      d_k(int(active.size())),
      d_pilot_sym(pilot_symbols),
      d_cache(std::make_shared<factor_cache>())
{
    if (fft_len < 2 || fft_len % 2)
        throw std::invalid_argument("ofdm_estimator: fft_len must be even and >= 2");
    if (active.empty() || data.empty() || pilots.size() != pilot_symbols.size())
        throw std::invalid_argument(
            "ofdm_estimator: need active and data carriers, one pilot symbol per pilot");
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
    auto act_index = [&](const std::vector<int>& ks, std::vector<int>& out) {
        for (int k : ks) {
            const auto it = std::find(active.begin(), active.end(), k);
            if (it == active.end())
                throw std::invalid_argument(
                    "ofdm_estimator: data and pilot carriers must be active");
            out.push_back(int(it - active.begin()));
        }
    };
    act_index(data, d_data_act);
    act_index(pilots, d_pilot_act);
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

std::vector<cd> ofdm_estimator::basis_table(int L) const
{
    // basis(i, delta) for delta in [-(L - 1), L - 1]: every lag and lag difference of an
    // L-tap fit
    const int ND = 2 * L - 1;
    std::vector<cd> E(std::size_t(d_k) * ND);
    for (int i = 0; i < d_k; i++)
        for (int dl = -(L - 1); dl <= L - 1; dl++)
            E[std::size_t(i) * ND + dl + L - 1] = basis(i, dl);
    return E;
}

std::shared_ptr<const ofdm_estimator::factor>
ofdm_estimator::factorize(const std::vector<double>& d, int taps_pre, int taps_post) const
{
    {
        std::lock_guard<std::mutex> lock(d_cache->mutex);
        for (const auto& f : d_cache->entries)
            if (f->taps_pre == taps_pre && f->taps_post == taps_post && f->d == d)
                return f;
    }
    const int K = d_k, L = taps_pre + taps_post + 1, ND = 2 * L - 1;
    auto f = std::make_shared<factor>();
    f->taps_pre = taps_pre;
    f->taps_post = taps_post;
    f->d = d;
    f->E = basis_table(L);
    const std::vector<cd>& E = f->E;
    auto B = [&](int i, int dl) { return E[std::size_t(i) * ND + dl + L - 1]; };
    // A[l][m] = sum_i d_i conj(F[i,l]) F[i,m] = sum_i d_i exp(2 pi j k_i (l - m) / N):
    // Toeplitz
    std::vector<cd> tz(ND, 0.0); // tz[delta + L - 1]
    for (int dl = -(L - 1); dl <= L - 1; dl++) {
        cd s = 0.0;
        for (int i = 0; i < K; i++)
            s += d[i] * std::conj(B(i, dl));
        tz[dl + L - 1] = s;
    }
    std::vector<cd> A(L * L);
    f->C.assign(L * L, 0.0);
    for (int l = 0; l < L; l++)
        for (int m = 0; m < L; m++)
            A[l * L + m] = tz[l - m + L - 1];
    if (!cholesky(A.data(), L, f->C.data()))
        return nullptr;
    const std::vector<cd>& C = f->C;
    // leverages diag(F A^-1 F^H)_i = Re sum_delta S_delta exp(-2 pi j k_i delta / N) with
    // S_delta = sum_{l - m = delta} (A^-1)_lm; A^-1 = C^-H C^-1
    // CiT row j = column j of C^-1 (lower triangular): contiguous inner loops
    std::vector<cd> CiT(L * L, 0.0);
    for (int j = 0; j < L; j++) {
        cd* cj = &CiT[j * L];
        cj[j] = 1.0 / C[j * L + j].real();
        for (int l = j + 1; l < L; l++) {
            cd s = 0.0;
            const cd* cl = &C[l * L];
            for (int p = j; p < l; p++)
                s -= cl[p] * cj[p];
            cj[l] = s / C[l * L + l].real();
        }
    }
    // (A^-1)_lm = sum_{p >= max(l, m)} conj(Ci[p][l]) Ci[p][m]; S_-delta = conj(S_delta)
    std::vector<cd> S(ND, 0.0);
    for (int l = 0; l < L; l++)
        for (int m = 0; m <= l; m++) {
            cd s = 0.0;
            const cd *cl = &CiT[l * L], *cm = &CiT[m * L];
            for (int p = l; p < L; p++)
                s += std::conj(cl[p]) * cm[p];
            S[l - m + L - 1] += s;
        }
    for (int dl = 1; dl < L; dl++)
        S[L - 1 - dl] = std::conj(S[L - 1 + dl]);
    f->lev.resize(K);
    double lsum = 0.0;
    for (int i = 0; i < K; i++) {
        double v = 0.0;
        for (int dl = -(L - 1); dl <= L - 1; dl++)
            v += (S[dl + L - 1] * B(i, dl)).real();
        f->lev[i] = v;
        lsum += v;
    }
    f->mean_lev = lsum / K;
    if (!std::isfinite(f->mean_lev))
        return nullptr;
    std::lock_guard<std::mutex> lock(d_cache->mutex);
    // the preamble / header weights repeat every packet; the re-estimation's change per
    // frame
    if (d_cache->entries.size() >= 8)
        d_cache->entries.erase(d_cache->entries.begin());
    d_cache->entries.push_back(f);
    return f;
}

bool ofdm_estimator::fit(std::vector<cd>& Y,
                         const std::vector<cd>& X,
                         int T,
                         int taps_pre,
                         int taps_post,
                         int ref_row,
                         cd* h,
                         double* nv,
                         double* mean_lev,
                         double* lev) const
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
    const auto f = factorize(d, taps_pre, taps_post);
    if (!f)
        return false;
    const std::vector<cd>&E = f->E, &C = f->C;
    const int ND = 2 * L - 1;
    auto B = [&](int i, int dl) { return E[std::size_t(i) * ND + dl + L - 1]; };
    // g = A^-1 F^H W h_ls
    std::vector<cd> g(L);
    for (int l = 0; l < L; l++) {
        cd s = 0.0;
        for (int i = 0; i < K; i++)
            s += std::conj(B(i, l - taps_pre)) * (d[i] * hls[i]);
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
            s += B(i, l - taps_pre) * g[l];
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
    if (lev)
        std::copy(f->lev.begin(), f->lev.end(), lev);
    if (mean_lev)
        *mean_lev = f->mean_lev;
    return std::isfinite(*nv);
}

double ofdm_estimator::mean_leverage(int taps_pre, int taps_post) const
{
    // estimation.basis_leverage: mean of diag(F (F^H F)^-1 F^H) over the active carriers
    const int L = taps_pre + taps_post + 1;
    if (taps_pre < 0 || taps_post < 0 || L > MAX_TAPS || L > d_k)
        return -1.0;
    const auto f = factorize(std::vector<double>(d_k, 1.0), taps_pre, taps_post);
    return f ? f->mean_lev : -1.0;
}

bool ofdm_estimator::refine_mimo(const cd* y,
                                 int nr,
                                 int T,
                                 const cf* h,
                                 int nt,
                                 double noise_var,
                                 const double* err_var,
                                 const cd* xm,
                                 const double* xv,
                                 int taps_pre,
                                 int taps_post,
                                 cf* y_out,
                                 cf* h_out,
                                 double* err_data) const
{
    const int N = d_n, K = d_k, D = int(d_data_pos.size()), P = int(d_pilot_pos.size());
    const int L = taps_pre + taps_post + 1, M = nt * L;
    if (T < 1 || nr < 1 || nt < 1 || taps_pre < 0 || taps_post < 0 || L > MAX_TAPS ||
        L > K)
        return false;
    const std::vector<cd> E = basis_table(L);
    auto B = [&](int i, int dl) { return E[std::size_t(i) * (2 * L - 1) + dl + L - 1]; };
    const double nv = std::max(noise_var, 1e-30);
    auto H = [&](int n, int r, int j) {
        return cd(h[(std::size_t(n) * nr + r) * nt + j]);
    };
    // 1. common phase: every chain's known cells (weight a^2) and pilots
    std::vector<double> a2(std::size_t(nr) * T * D);
    std::vector<cd> c(T, 0.0);
    for (int r = 0; r < nr; r++)
        for (int t = 0; t < T; t++) {
            cd s = 0.0;
            for (int k = 0; k < D; k++) {
                const int n = d_data_pos[k];
                const std::size_t q = (std::size_t(t) * D + k) * nt;
                cd hx = 0.0;
                double s2 = 0.0;
                for (int j = 0; j < nt; j++) {
                    const cd hv = H(n, r, j);
                    const double ah = std::abs(hv);
                    hx += hv * xm[q + j];
                    s2 += ah * ah * xv[q + j];
                }
                const double w = 1.0 / (1.0 + s2 / nv);
                a2[(std::size_t(r) * T + t) * D + k] = w;
                s += std::conj(hx) * w * y[(std::size_t(r) * T + t) * N + n];
            }
            for (int p = 0; p < P; p++) {
                const int n = d_pilot_pos[p];
                cd hp = 0.0;
                for (int j = 0; j < nt; j++)
                    hp += H(n, r, j);
                s += y[(std::size_t(r) * T + t) * N + n] * std::conj(hp * d_pilot_sym[p]);
            }
            c[t] += s;
        }
    std::vector<double> ph(T);
    linear_phase_fit(c.data(), T, 0.0, ph.data());
    std::vector<cd> yr(std::size_t(nr) * T * N);
    for (int r = 0; r < nr; r++)
        for (int t = 0; t < T; t++) {
            const cd rot = std::exp(cd(0.0, -ph[t]));
            const std::size_t o = (std::size_t(r) * T + t) * N;
            for (int n = 0; n < N; n++) {
                yr[o + n] = y[o + n] * rot;
                y_out[o + n] = cf(yr[o + n]);
            }
        }
    // 2. per chain: normal equations of the nt impulse responses (unknowns (j, l)); every
    // block (j, i) is Toeplitz in l - m: conj(F[k, l]) F[k, m] = conj(basis(k, l - m))
    const double lev = mean_leverage(taps_pre, taps_post);
    if (!(lev > 0))
        return false;
    std::vector<double> w2(nt);
    for (int j = 0; j < nt; j++) {
        const double w = err_var[j] > 0 ? std::sqrt(lev * nv / err_var[j]) : 1e3;
        w2[j] = w * w;
    }
    const int ND = 2 * L - 1;
    std::vector<cd> tp(ND, 0.0),
        tf(ND, 0.0); // pilots (x T) and prior (x w_j^2) Toeplitz sums
    for (int dl = -(L - 1); dl <= L - 1; dl++) {
        cd sp = 0.0, sf = 0.0;
        for (int p = 0; p < P; p++)
            sp += std::norm(d_pilot_sym[p]) * std::conj(B(d_pilot_act[p], dl));
        for (int i = 0; i < K; i++)
            sf += std::conj(B(i, dl));
        tp[dl + L - 1] = double(T) * sp;
        tf[dl + L - 1] = sf;
    }
    std::fill(h_out, h_out + std::size_t(N) * nr * nt, cf(0.0f));
    std::vector<double> err(std::size_t(K) * nt, 0.0);
    std::vector<cd> tw(std::size_t(nt) * nt * ND), b(M), G(std::size_t(M) * M),
        C(std::size_t(M) * M), Ci(std::size_t(M) * M), W(nt * nt), V(nt), S(ND);
    for (int r = 0; r < nr; r++) {
        std::fill(tw.begin(), tw.end(), cd(0.0));
        std::fill(b.begin(), b.end(), cd(0.0));
        for (int k = 0; k < D; k++) {
            const int n = d_data_pos[k], ia = d_data_act[k];
            std::fill(W.begin(), W.end(), cd(0.0));
            std::fill(V.begin(), V.end(), cd(0.0));
            for (int t = 0; t < T; t++) {
                const double a = a2[(std::size_t(r) * T + t) * D + k];
                const cd* x = xm + (std::size_t(t) * D + k) * nt;
                const cd yv = yr[(std::size_t(r) * T + t) * N + n];
                for (int j = 0; j < nt; j++) {
                    const cd ax = a * std::conj(x[j]);
                    V[j] += ax * yv;
                    for (int i = 0; i < nt; i++)
                        W[j * nt + i] += ax * x[i];
                }
            }
            for (int dl = -(L - 1); dl <= L - 1; dl++) {
                const cd e = std::conj(B(ia, dl));
                for (int q = 0; q < nt * nt; q++)
                    tw[std::size_t(q) * ND + dl + L - 1] += W[q] * e;
            }
            for (int l = 0; l < L; l++) {
                const cd fc = std::conj(B(ia, l - taps_pre));
                for (int j = 0; j < nt; j++)
                    b[j * L + l] += fc * V[j];
            }
        }
        for (int p = 0; p < P; p++) { // pilots: the same s_p on every stream
            const int n = d_pilot_pos[p];
            cd ys = 0.0;
            for (int t = 0; t < T; t++)
                ys += yr[(std::size_t(r) * T + t) * N + n];
            for (int l = 0; l < L; l++) {
                const cd v =
                    ys * std::conj(d_pilot_sym[p] * B(d_pilot_act[p], l - taps_pre));
                for (int j = 0; j < nt; j++)
                    b[j * L + l] += v;
            }
        }
        for (int j = 0; j < nt; j++) // prior
            for (int l = 0; l < L; l++) {
                cd s = 0.0;
                for (int i = 0; i < K; i++)
                    s += std::conj(B(i, l - taps_pre)) * H(d_act_pos[i], r, j);
                b[j * L + l] += w2[j] * s;
            }
        for (int j = 0; j < nt; j++)
            for (int i = 0; i < nt; i++)
                for (int l = 0; l < L; l++)
                    for (int m = 0; m < L; m++) {
                        const int dl = l - m + L - 1;
                        cd v = tw[std::size_t(j * nt + i) * ND + dl] + tp[dl];
                        if (i == j)
                            v += w2[j] * tf[dl];
                        G[std::size_t(j * L + l) * M + i * L + m] = v;
                    }
        if (!cholesky(G.data(), M, C.data()))
            return false;
        std::vector<cd> g(b);
        for (int l = 0; l < M; l++) {
            cd s = g[l];
            for (int p = 0; p < l; p++)
                s -= C[std::size_t(l) * M + p] * g[p];
            g[l] = s / C[std::size_t(l) * M + l].real();
        }
        for (int l = M - 1; l >= 0; l--) {
            cd s = g[l];
            for (int p = l + 1; p < M; p++)
                s -= std::conj(C[std::size_t(p) * M + l]) * g[p];
            g[l] = s / C[std::size_t(l) * M + l].real();
        }
        for (int i = 0; i < K; i++)
            for (int j = 0; j < nt; j++) {
                cd s = 0.0;
                for (int l = 0; l < L; l++)
                    s += B(i, l - taps_pre) * g[j * L + l];
                h_out[(std::size_t(d_act_pos[i]) * nr + r) * nt + j] = cf(s);
            }
        // error covariance sigma^2 G^-1: diagonal blocks from C^-1 (G^-1 = C^-H C^-1);
        // CiT row a = column a of C^-1, so the inner loops run over contiguous memory
        std::fill(Ci.begin(), Ci.end(), cd(0.0));
        for (int j = 0; j < M; j++) {
            cd* cj = &Ci[std::size_t(j) * M];
            cj[j] = 1.0 / C[std::size_t(j) * M + j].real();
            for (int l = j + 1; l < M; l++) {
                cd s = 0.0;
                const cd* cl = &C[std::size_t(l) * M];
                for (int p = j; p < l; p++)
                    s -= cl[p] * cj[p];
                cj[l] = s / C[std::size_t(l) * M + l].real();
            }
        }
        for (int j = 0; j < nt; j++) {
            std::fill(S.begin(), S.end(), cd(0.0));
            for (int l = 0; l < L; l++)
                for (int m = 0; m <= l;
                     m++) { // S_-delta = conj(S_delta) (G^-1 is Hermitian)
                    const int a = j * L + l, bb = j * L + m;
                    const cd *ca = &Ci[std::size_t(a) * M],
                             *cb = &Ci[std::size_t(bb) * M];
                    cd s = 0.0;
                    for (int p = a; p < M; p++)
                        s += std::conj(ca[p]) * cb[p];
                    S[l - m + L - 1] += s;
                }
            for (int dl = 1; dl < L; dl++)
                S[L - 1 - dl] = std::conj(S[L - 1 + dl]);
            for (int i = 0; i < K; i++) {
                double v = 0.0;
                for (int dl = -(L - 1); dl <= L - 1; dl++)
                    v += (S[dl + L - 1] * B(i, dl)).real();
                err[std::size_t(i) * nt + j] += nv * v / nr;
            }
        }
    }
    for (int k = 0; k < D; k++) {
        double s = 0.0;
        for (int j = 0; j < nt; j++)
            s += err[std::size_t(d_data_act[k]) * nt + j];
        err_data[k] = s;
    }
    return true;
}

bool ofdm_estimator::estimate(const cd* y,
                              const cd* x,
                              int T,
                              int taps_pre,
                              int taps_post,
                              int ref_row,
                              cf* h,
                              double* noise_var,
                              double* err_var,
                              double* err_k) const
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

void ofdm_estimator::symbols(const ldpc_bp_decoder& decoder,
                             const cd* points,
                             int k,
                             const float* llr,
                             int n_cw,
                             int max_iter,
                             bool soft,
                             cd* mean,
                             double* var,
                             uint8_t* ok) const
{
    // estimation.decoded_symbols: validated codewords exactly, the others from their
    // posteriors
    const int n = decoder.n(), M = 1 << k, spc = n / k;
    std::vector<uint8_t> cw(std::size_t(n_cw) * n);
    std::vector<int32_t> its(n_cw);
    std::vector<float> post(std::size_t(n_cw) * n);
    // codewords whose channel hard decisions already satisfy every parity check: the
    // decoder would return exactly them after one iteration
    // (ldpc_bp_decoder::hard_codeword), so only the others are decoded (their posteriors
    // are the only ones read below)
    std::vector<int> rest;
    for (int c = 0; c < n_cw; c++) {
        if (max_iter > 1 && decoder.hard_codeword(llr + std::size_t(c) * n,
                                                  cw.data() + std::size_t(c) * n))
            its[c] = 1;
        else
            rest.push_back(c);
    }
    if (rest.size() == std::size_t(n_cw)) {
        decoder.decode(
            llr, std::size_t(n_cw), max_iter, cw.data(), its.data(), post.data());
    } else if (!rest.empty()) {
        const std::size_t nr = rest.size();
        std::vector<float> lr(nr * n), pr(nr * n);
        std::vector<uint8_t> cr(nr * n);
        std::vector<int32_t> ir(nr);
        for (std::size_t i = 0; i < nr; i++)
            std::copy(llr + std::size_t(rest[i]) * n,
                      llr + std::size_t(rest[i] + 1) * n,
                      lr.begin() + i * n);
        decoder.decode(lr.data(), nr, max_iter, cr.data(), ir.data(), pr.data());
        for (std::size_t i = 0; i < nr; i++) {
            const std::size_t c = std::size_t(rest[i]);
            std::copy(cr.begin() + i * n, cr.begin() + (i + 1) * n, cw.begin() + c * n);
            std::copy(pr.begin() + i * n, pr.begin() + (i + 1) * n, post.begin() + c * n);
            its[c] = ir[i];
        }
    }
    std::vector<double> lp(M), p2(M);
    for (int m = 0; m < M; m++)
        p2[m] = std::abs(points[m]) * std::abs(points[m]);
    for (int c = 0; c < n_cw; c++) {
        ok[c] = its[c] < max_iter ? 1 : 0;
        for (int q = 0; q < spc; q++) {
            const std::size_t s = std::size_t(c) * spc + q,
                              b0 = std::size_t(c) * n + std::size_t(q) * k;
            if (ok[c]) {
                int lab = 0;
                for (int b = 0; b < k; b++)
                    lab = (lab << 1) | cw[b0 + b];
                mean[s] = points[lab];
                var[s] = 0.0;
            } else if (soft) { // mapping.soft_symbols: P(x = s) = prod_b P(b =
                               // label_b(s))
                double mx = -1e300;
                for (int m = 0; m < M; m++) {
                    double v = 0.0;
                    for (int b = 0; b < k; b++)
                        if ((m >> (k - 1 - b)) & 1)
                            v += std::min(30.0, std::max(-30.0, double(post[b0 + b])));
                    lp[m] = v;
                    mx = std::max(mx, v);
                }
                double sp = 0.0;
                for (int m = 0; m < M; m++) {
                    lp[m] = std::exp(lp[m] - mx);
                    sp += lp[m];
                }
                cd mu = 0.0;
                double e2 = 0.0;
                for (int m = 0; m < M; m++) {
                    const double pm = lp[m] / sp;
                    mu += pm * points[m];
                    e2 += pm * p2[m];
                }
                mean[s] = mu;
                var[s] = std::max(e2 - std::norm(mu), 0.0);
            } else {
                mean[s] = 0.0;
                var[s] = 0.0;
            }
        }
    }
}

bool ofdm_estimator::feedback(const qam_demapper& demapper,
                              const ldpc_bp_decoder& decoder,
                              const cd* points,
                              const cf* y,
                              int T,
                              const cf* h,
                              double noise_var,
                              double err_factor,
                              int max_iter,
                              int rounds,
                              bool soft,
                              int taps_post,
                              cf* y_out,
                              cf* h_out,
                              double* err_factor_out,
                              double* err_k_data,
                              int* n_known,
                              bool* refined) const
{
    const int N = d_n, D = int(d_data_pos.size()), k = demapper.bits_per_symbol(),
              n = decoder.n();
    const std::size_t ns = std::size_t(T) * D;
    if (T < 1 || (ns * k) % n || max_iter < 1)
        return false;
    const int n_cw = int(ns * k / n);
    std::vector<cf> yc(y, y + std::size_t(T) * N), hc(h, h + N), yn(std::size_t(T) * N),
        hn(N);
    std::vector<cf> yd(ns), hd(ns);
    std::vector<float> nvv(ns), llr(ns * k);
    std::vector<cd> mean(ns), xk(std::size_t(T) * N);
    std::vector<double> var(ns), xv(std::size_t(T) * N), ek(N);
    std::vector<uint8_t> ok(n_cw, 0);
    const double err_pre = noise_var * err_factor;
    double ef = err_factor;
    *refined = false;
    for (int round = 0; round < rounds; round++) {
        const float nvf = float(noise_var * (1.0 + ef));
        for (int t = 0; t < T; t++)
            for (int j = 0; j < D; j++) {
                yd[std::size_t(t) * D + j] = yc[std::size_t(t) * N + d_data_pos[j]];
                hd[std::size_t(t) * D + j] = hc[d_data_pos[j]];
            }
        std::fill(nvv.begin(), nvv.end(), nvf);
        demapper.demap(yd.data(), hd.data(), nvv.data(), ns, false, llr.data());
        symbols(decoder,
                points,
                k,
                llr.data(),
                n_cw,
                max_iter,
                soft,
                mean.data(),
                var.data(),
                ok.data());
        int n_ok = 0;
        for (int c = 0; c < n_cw; c++)
            n_ok += ok[c];
        if (n_ok == 0 && !soft)
            break;
        std::fill(xk.begin(), xk.end(), cd(0.0));
        std::fill(xv.begin(), xv.end(), 0.0);
        for (int t = 0; t < T; t++)
            for (int j = 0; j < D; j++) {
                xk[std::size_t(t) * N + d_data_pos[j]] = mean[std::size_t(t) * D + j];
                xv[std::size_t(t) * N + d_data_pos[j]] = var[std::size_t(t) * D + j];
            }
        // every round starts from the preamble prior (the data enter once, with the
        // newest decisions)
        double err;
        if (!refine(yc.data(),
                    T,
                    h,
                    noise_var,
                    err_pre,
                    xk.data(),
                    xv.data(),
                    0,
                    taps_post,
                    yn.data(),
                    hn.data(),
                    &err,
                    ek.data()))
            return false;
        yc.swap(yn);
        hc.swap(hn);
        ef = err / noise_var;
        for (int j = 0; j < D; j++)
            err_k_data[j] = ek[d_data_pos[j]];
        *refined = true;
        if (n_ok == n_cw)
            break;
    }
    int n_ok = 0;
    for (int c = 0; c < n_cw; c++)
        n_ok += ok[c];
    *n_known = n_ok;
    std::copy(yc.begin(), yc.end(), y_out);
    std::copy(hc.begin(), hc.end(), h_out);
    *err_factor_out = ef;
    return true;
}

bool ofdm_estimator::feedback_mimo(const lmmse_detector& det,
                                   const ldpc_bp_decoder& decoder,
                                   const cd* points,
                                   const cf* ys,
                                   int nr,
                                   int T,
                                   const cf* h,
                                   int nt,
                                   double noise_var,
                                   const double* err_var,
                                   double noise_eff,
                                   double t0,
                                   bool tracking,
                                   int max_iter,
                                   int rounds,
                                   int taps_pre,
                                   int taps_post,
                                   cf* y_uses,
                                   cf* h_data,
                                   double* eff,
                                   int* n_known) const
{
    const int N = d_n, D = int(d_data_pos.size()), k = det.bits_per_symbol(),
              n = decoder.n();
    const std::size_t nu = std::size_t(T) * D; // channel uses
    if (T < 1 || det.nr() != nr || det.nt() != nt || (nu * nt * k) % n || max_iter < 1)
        return false;
    const int n_cw = int(nu * nt * k / n), P = int(d_pilot_pos.size());
    // pilot phase tracking (payload_channel_uses): every stream sends the same pilots
    std::vector<double> ph(T, 0.0);
    if (tracking) {
        std::vector<cd> c(T, 0.0), ref(std::size_t(P) * nr);
        for (int p = 0; p < P; p++)
            for (int r = 0; r < nr; r++) {
                cf hs(0.0f, 0.0f);
                for (int j = 0; j < nt; j++)
                    hs += h[(std::size_t(d_pilot_pos[p]) * nr + r) * nt + j];
                ref[std::size_t(p) * nr + r] = std::conj(cd(hs) * d_pilot_sym[p]);
            }
        for (int t = 0; t < T; t++)
            for (int r = 0; r < nr; r++)
                for (int p = 0; p < P; p++)
                    c[t] += cd(ys[(std::size_t(r) * T + t) * N + d_pilot_pos[p]]) *
                            ref[std::size_t(p) * nr + r];
        linear_phase_fit(c.data(), T, t0, ph.data());
    }
    std::vector<cd> yc(std::size_t(nr) * T * N);
    for (int r = 0; r < nr; r++)
        for (int t = 0; t < T; t++) {
            const cd rot = std::exp(cd(0.0, -ph[t]));
            for (int m = 0; m < N; m++)
                yc[(std::size_t(r) * T + t) * N + m] =
                    cd(ys[(std::size_t(r) * T + t) * N + m]) * rot;
        }
    std::vector<cf> hc(h, h + std::size_t(N) * nr * nt), yn(std::size_t(nr) * T * N),
        hn(std::size_t(N) * nr * nt), yu(nu * nr), hu(nu * nr * nt);
    std::vector<float> nvu(nu), llr(nu * nt * k);
    std::vector<double> effv(D, noise_eff), var(nu * nt), errd(D);
    std::vector<cd> mean(nu * nt);
    std::vector<uint8_t> ok(n_cw, 0);
    for (int round = 0; round < rounds; round++) {
        for (int t = 0; t < T; t++)
            for (int q = 0; q < D; q++) {
                const std::size_t u = std::size_t(t) * D + q;
                const int c = d_data_pos[q];
                for (int r = 0; r < nr; r++)
                    yu[u * nr + r] = cf(yc[(std::size_t(r) * T + t) * N + c]);
                std::copy(hc.begin() + std::size_t(c) * nr * nt,
                          hc.begin() + std::size_t(c + 1) * nr * nt,
                          hu.begin() + u * nr * nt);
                nvu[u] = float(effv[q]);
            }
        det.detect(yu.data(), hu.data(), nvu.data(), nu, false, llr.data());
        symbols(decoder,
                points,
                k,
                llr.data(),
                n_cw,
                max_iter,
                true,
                mean.data(),
                var.data(),
                ok.data());
        if (!refine_mimo(yc.data(),
                         nr,
                         T,
                         h,
                         nt,
                         noise_var,
                         err_var,
                         mean.data(),
                         var.data(),
                         taps_pre,
                         taps_post,
                         yn.data(),
                         hn.data(),
                         errd.data()))
            return false;
        for (std::size_t i = 0; i < yc.size(); i++)
            yc[i] = cd(yn[i]);
        hc.swap(hn);
        for (int q = 0; q < D; q++)
            effv[q] = noise_var + errd[q];
        if (std::all_of(ok.begin(), ok.end(), [](uint8_t v) { return v != 0; }))
            break;
    }
    int n_ok = 0;
    for (int c = 0; c < n_cw; c++)
        n_ok += ok[c];
    *n_known = n_ok;
    for (int t = 0; t < T; t++)
        for (int q = 0; q < D; q++)
            for (int r = 0; r < nr; r++)
                y_uses[(std::size_t(t) * D + q) * nr + r] =
                    cf(yc[(std::size_t(r) * T + t) * N + d_data_pos[q]]);
    for (int q = 0; q < D; q++) {
        std::copy(hc.begin() + std::size_t(d_data_pos[q]) * nr * nt,
                  hc.begin() + std::size_t(d_data_pos[q] + 1) * nr * nt,
                  h_data + std::size_t(q) * nr * nt);
        eff[q] = effv[q];
    }
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

bool ofdm_estimator::refine(const cf* y,
                            int T,
                            const cf* h,
                            double noise_var,
                            double err_var,
                            const cd* x_known,
                            const double* x_var,
                            int taps_pre,
                            int taps_post,
                            cf* y_out,
                            cf* h_out,
                            double* err_out,
                            double* err_k) const
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
    const double mlev = mean_leverage(taps_pre, taps_post);
    if (!(mlev > 0))
        return false;
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
    // the fit's error variance scales with its own residual sigma^2: use noise_var
    // instead
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

std::size_t ofdm_estimator::track(
    const cf* y, int T, const cf* h, bool linear_fit, cf* out, double* phases) const
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

bool ofdm_estimator::header_fields(const double* z,
                                   std::size_t n,
                                   int* packet_num,
                                   int* n_codewords)
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

void ofdm_estimator::header_symbols(int packet_num,
                                    int n_codewords,
                                    std::size_t n,
                                    double* out)
{
    const long v =
        (long((packet_num % 65536 + 65536) % 65536) << 8) | (n_codewords & 0xFF);
    uint8_t b[HEADER_BITS];
    for (int i = 0; i < 24; i++)
        b[i] = uint8_t((v >> (23 - i)) & 1);
    const uint8_t r = crc8_24(b);
    for (int i = 0; i < 8; i++)
        b[24 + i] = uint8_t((r >> (7 - i)) & 1u);
    for (std::size_t i = 0; i < n; i++)
        out[i] = 2.0 * b[i % HEADER_BITS] - 1.0;
}

int ofdm_estimator::decode_header(const cf* ys,
                                  int n_hdr,
                                  const cf* x_sync,
                                  int taps_pre,
                                  int taps_post,
                                  int* packet_num,
                                  int* n_codewords,
                                  cf* h,
                                  double* noise_var,
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
    if (!estimate(y.data(),
                  x.data(),
                  2,
                  taps_pre,
                  taps_post,
                  1,
                  h0.data(),
                  &nv0,
                  &err0,
                  nullptr))
        return -1;
    // MRC statistics Re(conj(h) y) of the header carriers (complex64 products, as the
    // reference)
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
    if (!estimate(y.data(),
                  x.data(),
                  T,
                  taps_pre,
                  taps_post,
                  1,
                  h,
                  noise_var,
                  err_var,
                  nullptr))
        return -1;
    return 1;
}

int ofdm_estimator::decode_header_mimo(const cf* ys,
                                       int nr,
                                       int nt,
                                       int n_hdr,
                                       const cf* w2,
                                       int taps_pre,
                                       int taps_post,
                                       bool refine,
                                       int* packet_num,
                                       int* n_codewords,
                                       cf* h,
                                       double* noise_var,
                                       double* err_var,
                                       double* err_cols,
                                       double* phi) const
{
    const int N = d_n, D = int(d_data_pos.size()), S = 1 + nt + n_hdr;
    auto Y = [&](int r, int s, int n) { return ys[(std::size_t(r) * S + s) * N + n]; };
    std::vector<cd> y(std::size_t(1 + n_hdr) * N), x(std::size_t(1 + n_hdr) * N, 0.0);
    std::vector<cf> hh(N);
    for (int n = 0; n < N; n++)
        x[n] = cd(w2[n]);
    // 1. every antenna pair from its training symbol (ltf_estimate)
    double nvs = 0.0, errs = 0.0;
    for (int r = 0; r < nr; r++)
        for (int j = 0; j < nt; j++) {
            for (int n = 0; n < N; n++)
                y[n] = cd(Y(r, 1 + j, n));
            double nv1, e1;
            if (!estimate(y.data(),
                          x.data(),
                          1,
                          taps_pre,
                          taps_post,
                          -1,
                          hh.data(),
                          &nv1,
                          &e1,
                          nullptr))
                return -1;
            for (int n = 0; n < N; n++)
                h[(std::size_t(n) * nr + r) * nt + j] = hh[n];
            nvs += nv1;
            errs += e1;
        }
    double nv = nvs / (nr * nt), err = errs / (nr * nt);
    // 2. header: MRC over the chains with column 0 (complex64 arithmetic, as header_mrc)
    std::vector<double> z(std::size_t(n_hdr) * D);
    for (int t = 0; t < n_hdr; t++)
        for (int k = 0; k < D; k++) {
            const int n = d_data_pos[k];
            cf s(0.0f, 0.0f);
            for (int r = 0; r < nr; r++)
                s += std::conj(h[(std::size_t(n) * nr + r) * nt]) * Y(r, 1 + nt + t, n);
            z[std::size_t(t) * D + k] = double(s.real());
        }
    if (!header_fields(z.data(), z.size(), packet_num, n_codewords))
        return 0;
    std::vector<double> xh(std::size_t(n_hdr) * D);
    header_symbols(*packet_num, *n_codewords, xh.size(), xh.data());
    // 3. residual CFO: phase of the header against column 0, slope through the origin
    // over the symbol distance nt + t from training symbol 1 (residual_cfo_align)
    std::vector<double> a(n_hdr), d(n_hdr);
    for (int t = 0; t < n_hdr; t++) {
        cf c(0.0f, 0.0f);
        for (int r = 0; r < nr; r++)
            for (int k = 0; k < D; k++) {
                const int n = d_data_pos[k];
                c += Y(r, 1 + nt + t, n) * std::conj(h[(std::size_t(n) * nr + r) * nt]) *
                     float(xh[std::size_t(t) * D + k]);
            }
        a[t] = double(
            std::atan2(c.imag(), c.real())); // float32 angle, as numpy's for complex64
        d[t] = double(nt + t);
    }
    const double phi0 = a[0] / d[0];
    double sda = 0.0, sdd = 0.0;
    for (int t = 0; t < n_hdr; t++) {
        const double e = a[t] - phi0 * d[t];
        const double at = phi0 * d[t] + std::atan2(std::sin(e), std::cos(e));
        sda += d[t] * at;
        sdd += d[t] * d[t];
    }
    *phi = sda / sdd;
    for (int j = 1; j < nt; j++) {
        const cd rot = std::exp(cd(0.0, -(*phi) * j));
        for (int n = 0; n < N; n++)
            for (int r = 0; r < nr; r++) {
                cf& v = h[(std::size_t(n) * nr + r) * nt + j];
                v = cf(cd(v) * rot);
            }
    }
    for (int j = 0; j < nt; j++)
        err_cols[j] = err;
    // 4. column 0 again with the decoded header as training (refine_column0)
    if (refine) {
        for (int t = 0; t < n_hdr; t++)
            for (int k = 0; k < D; k++)
                x[std::size_t(1 + t) * N + d_data_pos[k]] =
                    cd(float(xh[std::size_t(t) * D + k]));
        double nv0 = 0.0, err0 = 0.0;
        for (int r = 0; r < nr; r++) {
            for (int n = 0; n < N; n++)
                y[n] = cd(Y(r, 1, n));
            for (int t = 0; t < n_hdr; t++)
                for (int n = 0; n < N; n++)
                    y[std::size_t(1 + t) * N + n] = cd(Y(r, 1 + nt + t, n));
            double nv1, e1;
            if (!estimate(y.data(),
                          x.data(),
                          1 + n_hdr,
                          taps_pre,
                          taps_post,
                          0,
                          hh.data(),
                          &nv1,
                          &e1,
                          nullptr))
                return -1;
            for (int n = 0; n < N; n++)
                h[(std::size_t(n) * nr + r) * nt] = hh[n];
            nv0 += nv1;
            err0 += e1;
        }
        nv0 /= nr;
        err0 /= nr;
        nv = (nv * nt + nv0) / (nt + 1);
        err = (err * (nt - 1) + err0) / nt;
        err_cols[0] = err0;
    }
    *noise_var = nv;
    *err_var = err;
    return 1;
}

} // namespace deepquant
} // namespace gr
