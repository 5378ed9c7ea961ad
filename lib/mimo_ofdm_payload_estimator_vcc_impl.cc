/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "mimo_ofdm_payload_estimator_vcc_impl.h"
#include <gnuradio/io_signature.h>
#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

namespace gr {
namespace deepquant {

namespace {
constexpr std::size_t HISTORY = 1000;

inline bool finite(std::complex<float> v)
{
    return std::isfinite(v.real()) && std::isfinite(v.imag());
}
} // namespace

mimo_ofdm_payload_estimator_vcc::sptr mimo_ofdm_payload_estimator_vcc::make(
    const ofdm_estimator& estimator,
    const std::vector<int>& data_pos,
    const std::vector<int>& pilot_pos,
    const std::vector<std::complex<double>>& pilot_symbols,
    const lmmse_detector& detector,
    const ldpc_bp_decoder& decoder,
    const std::vector<std::complex<double>>& points,
    int payload_symbols,
    double t0,
    bool phase_tracking,
    bool decision_feedback,
    int max_iter,
    int feedback_rounds,
    int taps_pre,
    int taps_post,
    const std::string& chan_key)
{
    const int n = estimator.fft_len();
    if (int(data_pos.size()) != estimator.n_data() || data_pos.empty())
        throw std::invalid_argument(
            "mimo_ofdm_payload_estimator_vcc: data_pos must list the "
            "estimator's data carriers (OfdmLayout.data_idx)");
    if (pilot_pos.size() != pilot_symbols.size())
        throw std::invalid_argument(
            "mimo_ofdm_payload_estimator_vcc: one pilot symbol per pilot carrier");
    for (int p : data_pos)
        if (p < 0 || p >= n)
            throw std::invalid_argument("mimo_ofdm_payload_estimator_vcc: carrier "
                                        "positions must be in [0, fft_len)");
    for (int p : pilot_pos)
        if (p < 0 || p >= n)
            throw std::invalid_argument("mimo_ofdm_payload_estimator_vcc: carrier "
                                        "positions must be in [0, fft_len)");
    if (payload_symbols < 1)
        throw std::invalid_argument(
            "mimo_ofdm_payload_estimator_vcc: payload_symbols must be >= 1");
    if (max_iter < 1 || feedback_rounds < 1)
        throw std::invalid_argument(
            "mimo_ofdm_payload_estimator_vcc: max_iter and feedback_rounds must be >= 1");
    const int k = detector.bits_per_symbol();
    if (decision_feedback &&
        (std::size_t(payload_symbols) * data_pos.size() * detector.nt() * k) %
            decoder.n())
        throw std::invalid_argument(
            "mimo_ofdm_payload_estimator_vcc: decision_feedback needs "
            "whole codewords per packet");
    if (points.size() != (std::size_t(1) << k))
        throw std::invalid_argument(
            "mimo_ofdm_payload_estimator_vcc: points must hold the 2^K "
            "constellation points of the detector");
    if (taps_pre < 0 || taps_post < 0)
        throw std::invalid_argument(
            "mimo_ofdm_payload_estimator_vcc: taps_pre and taps_post must be >= 0");
    return gnuradio::make_block_sptr<mimo_ofdm_payload_estimator_vcc_impl>(
        estimator,
        data_pos,
        pilot_pos,
        pilot_symbols,
        detector,
        decoder,
        points,
        payload_symbols,
        t0,
        phase_tracking,
        decision_feedback,
        max_iter,
        feedback_rounds,
        taps_pre,
        taps_post,
        chan_key);
}

mimo_ofdm_payload_estimator_vcc_impl::mimo_ofdm_payload_estimator_vcc_impl(
    const ofdm_estimator& estimator,
    const std::vector<int>& data_pos,
    const std::vector<int>& pilot_pos,
    const std::vector<cd>& pilot_symbols,
    const lmmse_detector& detector,
    const ldpc_bp_decoder& decoder,
    const std::vector<cd>& points,
    int payload_symbols,
    double t0,
    bool phase_tracking,
    bool decision_feedback,
    int max_iter,
    int feedback_rounds,
    int taps_pre,
    int taps_post,
    const std::string& chan_key)
    : gr::sync_interpolator(
          "mimo_ofdm_payload_estimator_vcc",
          gr::io_signature::make(
              detector.nr(), detector.nr(), sizeof(gr_complex) * estimator.fft_len()),
          gr::io_signature::makev(3,
                                  3,
                                  { sizeof(gr_complex) * detector.nr(),
                                    sizeof(gr_complex) * detector.nr() * detector.nt(),
                                    sizeof(float) }),
          unsigned(data_pos.size())),
      d_est(estimator),
      d_data(data_pos),
      d_pilots(pilot_pos),
      d_pilot_sym(pilot_symbols),
      d_det(detector),
      d_dec(decoder),
      d_points(points),
      d_n(estimator.fft_len()),
      d_nr(detector.nr()),
      d_nt(detector.nt()),
      d_rows(payload_symbols),
      d_t0(t0),
      d_tracking(phase_tracking),
      d_df(decision_feedback),
      d_max_iter(max_iter),
      d_rounds(feedback_rounds),
      d_taps_pre(taps_pre),
      d_taps_post(taps_post),
      d_k_chan(pmt::intern(chan_key)),
      d_k_nv(pmt::intern("dq_noise_var")),
      d_k_err(pmt::intern("dq_est_err_var")),
      d_k_cols(pmt::intern("dq_est_err_var_cols")),
      d_k_num(pmt::intern("ofdm_packet_num"))
{
    set_output_multiple(payload_symbols * int(data_pos.size()));
    set_tag_propagation_policy(TPP_DONT);
}

std::vector<double> mimo_ofdm_payload_estimator_vcc_impl::noise_var_history() const
{
    std::lock_guard<std::mutex> lock(d_mtx);
    return std::vector<double>(d_history.begin(), d_history.end());
}

void mimo_ofdm_payload_estimator_vcc_impl::channel_uses()
{
    // ofdm.mimo.payload_channel_uses: every stream sends the same pilots
    const int N = d_n, T = d_rows, D = int(d_data.size()), P = int(d_pilots.size());
    const int nr = d_nr, nt = d_nt;
    std::vector<double> ph(T, 0.0);
    if (d_tracking) {
        std::vector<cd> c(T, 0.0), ref(std::size_t(P) * nr);
        for (int p = 0; p < P; p++)
            for (int r = 0; r < nr; r++) {
                cf hs(0.0f, 0.0f);
                for (int j = 0; j < nt; j++)
                    hs += d_h[(std::size_t(d_pilots[p]) * nr + r) * nt + j];
                ref[std::size_t(p) * nr + r] = std::conj(cd(hs) * d_pilot_sym[p]);
            }
        for (int t = 0; t < T; t++)
            for (int r = 0; r < nr; r++)
                for (int p = 0; p < P; p++)
                    c[t] += cd(d_ys[(std::size_t(r) * T + t) * N + d_pilots[p]]) *
                            ref[std::size_t(p) * nr + r];
        ofdm_estimator::linear_phase_fit(c.data(), T, d_t0, ph.data());
    }
    for (int t = 0; t < T; t++) {
        const cd rot = std::exp(cd(0.0, -ph[t]));
        for (int q = 0; q < D; q++)
            for (int r = 0; r < nr; r++)
                d_yu[(std::size_t(t) * D + q) * nr + r] =
                    cf(cd(d_ys[(std::size_t(r) * T + t) * N + d_data[q]]) * rot);
    }
    const std::size_t e = std::size_t(nr) * nt;
    for (int q = 0; q < D; q++)
        std::copy(d_h.begin() + std::size_t(d_data[q]) * e,
                  d_h.begin() + std::size_t(d_data[q] + 1) * e,
                  d_hd.begin() + std::size_t(q) * e);
}

int mimo_ofdm_payload_estimator_vcc_impl::work(int noutput_items,
                                               gr_vector_const_void_star& input_items,
                                               gr_vector_void_star& output_items)
{
    const int N = d_n, T = d_rows, D = int(d_data.size()), nr = d_nr, nt = d_nt;
    const std::size_t e = std::size_t(nr) * nt;
    const int m = T * D;
    const int f = noutput_items / m;
    cf* oy = static_cast<cf*>(output_items[0]);
    cf* oh = static_cast<cf*>(output_items[1]);
    float* ov = static_cast<float*>(output_items[2]);
    const uint64_t base = nitems_read(0);
    std::vector<gr::tag_t> tags;
    get_tags_in_range(tags, 0, base, base + uint64_t(f) * T);
    d_ys.resize(std::size_t(nr) * T * N);
    d_yu.resize(std::size_t(m) * nr);
    d_hd.resize(std::size_t(D) * e);
    d_eff.resize(D);
    for (int i = 0; i < f; i++) {
        // this packet's tags (the last of a key wins, as in the Python block)
        std::map<std::string, pmt::pmt_t> tg;
        for (const auto& t : tags)
            if (t.offset == base + uint64_t(i) * T)
                tg[pmt::symbol_to_string(t.key)] = t.value;
        const auto get = [&](const pmt::pmt_t& k) -> const pmt::pmt_t* {
            const auto it = tg.find(pmt::symbol_to_string(k));
            return it == tg.end() ? nullptr : &it->second;
        };
        if (const pmt::pmt_t* hv = get(d_k_chan)) {
            bool ok = pmt::is_c32vector(*hv) && pmt::length(*hv) == std::size_t(N) * e;
            double nv = 1.0, err = 0.0;
            try {
                if (const pmt::pmt_t* v = get(d_k_nv))
                    nv = pmt::to_double(*v);
                if (const pmt::pmt_t* v = get(d_k_err))
                    err = pmt::to_double(*v);
            } catch (...) {
                ok = false;
            }
            if (ok) {
                d_h = pmt::c32vector_elements(*hv);
                d_noise = nv;
                const pmt::pmt_t* cv = get(d_k_cols);
                if (cv && pmt::is_f64vector(*cv) && pmt::length(*cv) == std::size_t(nt))
                    d_err_cols = pmt::f64vector_elements(*cv);
                else
                    d_err_cols.assign(nt, err);
                d_nv = nv + nt * err;
                d_have = true;
            } else {
                const uint64_t b = ++d_bad_tags;
                d_events_tag++;
                if ((d_events_tag & (d_events_tag - 1)) == 0)
                    d_logger->warn("channel-estimate tag of the wrong type or size (or "
                                   "non-numeric noise tags) ignored; {:d} so far",
                                   b);
            }
        } else {
            d_untagged++;
        }
        const pmt::pmt_t* numv = get(d_k_num);
        const std::size_t o = std::size_t(i) * m;
        if (!d_have) {
            std::fill(oy + o * nr, oy + (o + m) * nr, cf(0.0f, 0.0f));
            std::fill(oh + o * e, oh + (o + m) * e, cf(0.0f, 0.0f));
            std::fill(ov + o, ov + o + m, 1.0f);
            continue;
        }
        for (int r = 0; r < nr; r++) {
            const cf* in =
                static_cast<const cf*>(input_items[r]) + std::size_t(i) * T * N;
            std::copy(in, in + std::size_t(T) * N, d_ys.begin() + std::size_t(r) * T * N);
        }
        bool done = false;
        if (d_df) {
            // data and pilot carriers (what tracking and re-estimation read) finite
            bool fin = std::isfinite(d_nv);
            for (const auto* pos : { &d_data, &d_pilots })
                for (int c : *pos) {
                    for (int r = 0; r < nr && fin; r++)
                        for (int t = 0; t < T; t++)
                            if (!finite(d_ys[(std::size_t(r) * T + t) * N + c])) {
                                fin = false;
                                break;
                            }
                    for (std::size_t x = 0; x < e && fin; x++)
                        fin = finite(d_h[std::size_t(c) * e + x]);
                }
            if (!fin) {
                d_skipped++; // NaN/inf samples: mimo_detector flags them
            } else {
                int n_known = 0;
                if (d_est.feedback_mimo(d_det,
                                        d_dec,
                                        d_points.data(),
                                        d_ys.data(),
                                        nr,
                                        T,
                                        d_h.data(),
                                        nt,
                                        d_noise,
                                        d_err_cols.data(),
                                        d_nv,
                                        d_t0,
                                        d_tracking,
                                        d_max_iter,
                                        d_rounds,
                                        d_taps_pre,
                                        d_taps_post,
                                        d_yu.data(),
                                        d_hd.data(),
                                        d_eff.data(),
                                        &n_known)) {
                    d_packets++;
                    d_known += uint64_t(n_known);
                    done = true;
                } else {
                    const uint64_t u = ++d_unrefined;
                    d_events_fit++;
                    if ((d_events_fit & (d_events_fit - 1)) == 0)
                        d_logger->warn(
                            "re-estimation fit not positive definite: packet left "
                            "as estimated from the preamble; {:d} so far",
                            u);
                }
            }
        }
        if (!done) {
            channel_uses();
            std::fill(d_eff.begin(), d_eff.end(), d_nv);
        }
        std::copy(d_yu.begin(), d_yu.end(), oy + o * nr);
        for (int t = 0; t < T; t++)
            std::copy(d_hd.begin(), d_hd.end(), oh + (o + std::size_t(t) * D) * e);
        double mean = 0.0;
        for (int q = 0; q < D; q++)
            mean += d_eff[q];
        mean /= D;
        for (int t = 0; t < T; t++)
            for (int q = 0; q < D; q++)
                ov[o + std::size_t(t) * D + q] = float(d_eff[q]);
        {
            std::lock_guard<std::mutex> lock(d_mtx);
            d_history.push_back(mean);
            if (d_history.size() > HISTORY)
                d_history.pop_front();
        }
        if (numv) {
            try {
                add_item_tag(0,
                             nitems_written(0) + o,
                             d_k_num,
                             pmt::from_long(pmt::to_long(*numv)));
            } catch (...) { // a non-integer packet number: no tag
            }
        }
    }
    return f * m;
}

} // namespace deepquant
} // namespace gr
