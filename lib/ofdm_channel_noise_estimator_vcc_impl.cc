/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ofdm_channel_noise_estimator_vcc_impl.h"
#include <gnuradio/io_signature.h>
#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace gr {
namespace deepquant {

namespace {
constexpr std::size_t HISTORY = 1000;
constexpr float BAD_NV = 1e3f;

inline bool finite(std::complex<float> v)
{
    return std::isfinite(v.real()) && std::isfinite(v.imag());
}
} // namespace

ofdm_channel_noise_estimator_vcc::sptr
ofdm_channel_noise_estimator_vcc::make(const ofdm_estimator& estimator,
                                       const std::vector<int>& data_pos,
                                       const qam_demapper& demapper,
                                       const ldpc_bp_decoder& decoder,
                                       const std::vector<std::complex<double>>& points,
                                       int payload_symbols,
                                       bool decision_feedback,
                                       int max_iter,
                                       int feedback_rounds,
                                       bool soft_feedback,
                                       int taps_post,
                                       bool phase_tracking,
                                       bool add_estimation_error,
                                       const std::string& chan_tag_key)
{
    const int n = estimator.fft_len();
    if (int(data_pos.size()) != estimator.n_data() || data_pos.empty())
        throw std::invalid_argument(
            "ofdm_channel_noise_estimator_vcc: data_pos must list the "
            "estimator's data carriers (OfdmLayout.data_idx)");
    for (int p : data_pos)
        if (p < 0 || p >= n)
            throw std::invalid_argument("ofdm_channel_noise_estimator_vcc: data_pos "
                                        "entries must be in [0, fft_len)");
    if (payload_symbols < 1)
        throw std::invalid_argument(
            "ofdm_channel_noise_estimator_vcc: payload_symbols must be >= 1");
    if (decision_feedback) {
        const int k = demapper.bits_per_symbol();
        if ((std::size_t(payload_symbols) * data_pos.size() * k) % decoder.n())
            throw std::invalid_argument(
                "ofdm_channel_noise_estimator_vcc: decision_feedback "
                "needs whole codewords per frame");
        if (points.size() != (std::size_t(1) << k))
            throw std::invalid_argument(
                "ofdm_channel_noise_estimator_vcc: points must hold the "
                "2^K constellation points of the demapper");
        if (max_iter < 1 || feedback_rounds < 1)
            throw std::invalid_argument("ofdm_channel_noise_estimator_vcc: max_iter and "
                                        "feedback_rounds must be >= 1");
        if (taps_post < 1 || taps_post > n / 2)
            throw std::invalid_argument("ofdm_channel_noise_estimator_vcc: taps_post "
                                        "must be in [1, fft_len / 2]");
    }
    if (chan_tag_key.empty())
        throw std::invalid_argument(
            "ofdm_channel_noise_estimator_vcc: chan_tag_key is empty");
    return gnuradio::make_block_sptr<ofdm_channel_noise_estimator_vcc_impl>(
        estimator,
        data_pos,
        demapper,
        decoder,
        points,
        payload_symbols,
        decision_feedback,
        max_iter,
        feedback_rounds,
        soft_feedback,
        taps_post,
        phase_tracking,
        add_estimation_error,
        chan_tag_key);
}

ofdm_channel_noise_estimator_vcc_impl::ofdm_channel_noise_estimator_vcc_impl(
    const ofdm_estimator& estimator,
    const std::vector<int>& data_pos,
    const qam_demapper& demapper,
    const ldpc_bp_decoder& decoder,
    const std::vector<std::complex<double>>& points,
    int payload_symbols,
    bool decision_feedback,
    int max_iter,
    int feedback_rounds,
    bool soft_feedback,
    int taps_post,
    bool phase_tracking,
    bool add_estimation_error,
    const std::string& chan_tag_key)
    : gr::sync_interpolator(
          "ofdm_channel_noise_estimator_vcc",
          gr::io_signature::make(1, 1, sizeof(gr_complex) * estimator.fft_len()),
          gr::io_signature::makev(
              3, 3, { sizeof(gr_complex), sizeof(gr_complex), sizeof(float) }),
          unsigned(data_pos.size())),
      d_est(estimator),
      d_data(data_pos),
      d_dem(demapper),
      d_dec(decoder),
      d_points(points),
      d_n(estimator.fft_len()),
      d_rows(payload_symbols),
      d_df(decision_feedback),
      d_max_iter(max_iter),
      d_rounds(feedback_rounds),
      d_soft(soft_feedback),
      d_taps_post(taps_post),
      d_tracking(phase_tracking),
      d_add_err(add_estimation_error),
      d_key(pmt::intern(chan_tag_key)),
      d_nv_key(pmt::intern("dq_noise_var")),
      d_err_key(pmt::intern("dq_est_err_var")),
      d_h(estimator.fft_len())
{
    set_output_multiple(payload_symbols * int(data_pos.size()));
}

void ofdm_channel_noise_estimator_vcc_impl::add_bad(std::atomic<uint64_t>& counter,
                                                    uint64_t& events,
                                                    uint64_t n,
                                                    const char* what)
{
    if (n == 0)
        return;
    const uint64_t total = counter.fetch_add(n) + n;
    events++;
    if ((events & (events - 1)) == 0)
        d_logger->warn("{:d} {:s}; {:d} so far", n, what, total);
}

bool ofdm_channel_noise_estimator_vcc_impl::tag_double(uint64_t offset,
                                                       const pmt::pmt_t& key,
                                                       double* v)
{
    std::vector<gr::tag_t> tags;
    get_tags_in_range(tags, 0, offset, offset + 1, key);
    if (tags.empty())
        return false;
    try { // the first tag only, as the Python block
        *v = pmt::to_double(tags[0].value);
    } catch (...) {
        return false;
    }
    return true;
}

void ofdm_channel_noise_estimator_vcc_impl::start_frame(const pmt::pmt_t& taps,
                                                        uint64_t offset)
{
    d_frame_ok = false;
    if (!pmt::is_c32vector(taps) || pmt::length(taps) != std::size_t(d_n))
        return;
    const std::vector<cf> h = pmt::c32vector_elements(taps);
    for (const cf& v : h)
        if (!finite(v))
            return;
    double nv, err;
    if (!tag_double(offset, d_nv_key, &nv) || !tag_double(offset, d_err_key, &err) ||
        !(nv > 0))
        return; // the Python block smooths raw LS taps here; this block needs the
                // header's tags
    d_h = h;
    d_nv = nv;
    d_ef = err / nv;
    d_frame_ok = true;
}

std::vector<double> ofdm_channel_noise_estimator_vcc_impl::noise_var_history() const
{
    std::lock_guard<std::mutex> lock(d_mtx);
    return std::vector<double>(d_history.begin(), d_history.end());
}

std::vector<double> ofdm_channel_noise_estimator_vcc_impl::last_phases() const
{
    std::lock_guard<std::mutex> lock(d_mtx);
    return d_phases;
}

int ofdm_channel_noise_estimator_vcc_impl::work(int noutput_items,
                                                gr_vector_const_void_star& input_items,
                                                gr_vector_void_star& output_items)
{
    const int N = d_n, D = int(d_data.size());
    const int n = noutput_items / D;
    const cf* x = static_cast<const cf*>(input_items[0]);
    cf* oy = static_cast<cf*>(output_items[0]);
    cf* oh = static_cast<cf*>(output_items[1]);
    float* ov = static_cast<float*>(output_items[2]);
    const uint64_t base = nitems_read(0);

    // segments of [0, n) split at the frame tags (the last tag of an offset wins)
    std::vector<gr::tag_t> tags;
    get_tags_in_range(tags, 0, base, base + n, d_key);
    std::stable_sort(
        tags.begin(), tags.end(), [](const gr::tag_t& a, const gr::tag_t& b) {
            return a.offset < b.offset;
        });
    struct seg {
        int a, b;
        bool tagged;
        pmt::pmt_t val;
    };
    std::vector<seg> segs;
    int pos = 0;
    bool tagged = false;
    pmt::pmt_t val = pmt::PMT_NIL;
    for (const auto& t : tags) {
        const int off = int(t.offset - base);
        if (off > pos)
            segs.push_back({ pos, off, tagged, val });
        pos = off;
        tagged = true;
        val = t.value;
    }
    if (pos < n)
        segs.push_back({ pos, n, tagged, val });

    for (const seg& s : segs) {
        const int rows = s.b - s.a;
        const std::size_t oa = std::size_t(s.a) * D;
        if (s.tagged)
            start_frame(s.val, base + s.a);
        if (!d_frame_ok) {
            add_bad(
                d_bad_tag,
                d_events_tag,
                uint64_t(rows),
                "OFDM symbol(s) without a valid channel-estimate tag (output with h=1, "
                "sigma^2=1e3)");
            for (int t = 0; t < rows; t++)
                for (int j = 0; j < D; j++) {
                    const std::size_t o = oa + std::size_t(t) * D + j;
                    oy[o] = x[std::size_t(s.a + t) * N + d_data[j]];
                    oh[o] = cf(1.0f, 0.0f);
                    ov[o] = BAD_NV;
                }
            continue;
        }
        const cf* y = x + std::size_t(s.a) * N;
        if (d_tracking) { // ofdm_pilot_phase_tracker's step, against the frame's channel
            const bool linear = s.tagged && rows == d_rows;
            d_ytrk.resize(std::size_t(rows) * N);
            d_ph.resize(rows);
            const std::size_t n_bad =
                d_est.track(y, rows, d_h.data(), linear, d_ytrk.data(), d_ph.data());
            {
                std::lock_guard<std::mutex> lock(d_mtx);
                d_phases = d_ph;
            }
            if (n_bad)
                add_bad(
                    d_bad_out,
                    d_events_out,
                    uint64_t(n_bad) * D,
                    "data carrier(s) with non-finite samples or estimates (output with "
                    "y=0, h=1, sigma^2=1e3)");
            y = d_ytrk.data();
        }
        const cf* h = d_h.data();
        double ef = d_ef;
        bool have_ek = false;
        if (d_df && rows == d_rows) {
            bool fin = true;
            for (int t = 0; t < rows && fin; t++)
                for (int j = 0; j < D; j++)
                    if (!finite(y[std::size_t(t) * N + d_data[j]])) {
                        fin = false;
                        break;
                    }
            if (!fin) {
                d_skipped++; // NaN/inf samples: the frame goes on unrefined
            } else {
                d_frames++;
                d_yref.resize(std::size_t(rows) * N);
                d_href.resize(N);
                d_ek.resize(D);
                double ef_n = 0.0;
                int n_known = 0;
                bool refined = false;
                if (!d_est.feedback(d_dem,
                                    d_dec,
                                    d_points.data(),
                                    y,
                                    rows,
                                    d_h.data(),
                                    d_nv,
                                    d_ef,
                                    d_max_iter,
                                    d_rounds,
                                    d_soft,
                                    d_taps_post,
                                    d_yref.data(),
                                    d_href.data(),
                                    &ef_n,
                                    d_ek.data(),
                                    &n_known,
                                    &refined)) {
                    const uint64_t u = ++d_unrefined;
                    d_events_fit++;
                    if ((d_events_fit & (d_events_fit - 1)) == 0)
                        d_logger->warn(
                            "re-estimation fit not positive definite: frame left "
                            "as estimated from the preamble; {:d} so far",
                            u);
                } else {
                    d_known += uint64_t(n_known);
                    if (refined) {
                        y = d_yref.data();
                        h = d_href.data();
                        ef = ef_n;
                        have_ek = true;
                    }
                }
            }
        }
        d_nvk.resize(D);
        for (int j = 0; j < D; j++)
            d_nvk[j] = !d_add_err ? d_nv : have_ek ? d_nv + d_ek[j] : d_nv * (1.0 + ef);
        double mean = 0.0;
        for (int j = 0; j < D; j++)
            mean += d_nvk[j];
        mean /= D;
        {
            std::lock_guard<std::mutex> lock(d_mtx);
            d_history.push_back(mean);
            if (d_history.size() > HISTORY)
                d_history.pop_front();
        }
        for (int t = 0; t < rows; t++)
            for (int j = 0; j < D; j++) {
                const std::size_t o = oa + std::size_t(t) * D + j;
                oy[o] = y[std::size_t(t) * N + d_data[j]];
                oh[o] = h[d_data[j]];
                ov[o] = float(d_nvk[j]);
            }
    }
    // NaN/inf samples or an estimate beyond float32: the neutral output
    const std::size_t m = std::size_t(n) * D;
    uint64_t bad = 0;
    for (std::size_t i = 0; i < m; i++)
        if (!(finite(oy[i]) && finite(oh[i]) && std::isfinite(ov[i]) && ov[i] > 0.0f)) {
            oy[i] = cf(0.0f, 0.0f);
            oh[i] = cf(1.0f, 0.0f);
            ov[i] = BAD_NV;
            bad++;
        }
    if (bad)
        add_bad(
            d_bad_out,
            d_events_out,
            bad,
            "data carrier(s) with non-finite samples or estimates (output with y=0, h=1, "
            "sigma^2=1e3)");
    return int(m);
}

} // namespace deepquant
} // namespace gr
