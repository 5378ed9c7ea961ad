/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "adc_cc_impl.h"
#include "quantizer_common.h"
#include <gnuradio/io_signature.h>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace gr {
namespace deepquant {
#include <volk/volk.h>

static scalar_quantizer make_uniform_adc(unsigned bits, float full_scale)
{
    if (bits < 1 || bits > 16)
        throw std::invalid_argument("adc_cc: bits must be 1..16, got " +
                                    std::to_string(bits));
    if (!(full_scale > 0.0f) || !std::isfinite(full_scale))
        throw std::invalid_argument(
            "adc_cc: full_scale must be a positive finite number, got " +
            std::to_string(full_scale));
    return scalar_quantizer::make_uniform(
        -full_scale, full_scale, std::size_t(1) << bits);
}

static void check_gain(float gain)
{
    if (!std::isfinite(gain))
        throw std::invalid_argument("adc_cc: gain must be finite");
}

adc_cc::sptr
adc_cc::make(unsigned int bits, float full_scale, unsigned int vlen, float gain)
{
    detail::check_vlen("adc_cc", vlen);
    check_gain(gain);
    return gnuradio::make_block_sptr<adc_cc_impl>(
        make_uniform_adc(bits, full_scale), bits, full_scale, vlen, gain);
}

adc_cc::sptr adc_cc::make_nonuniform(const std::vector<float>& thresholds,
                                     const std::vector<float>& levels,
                                     unsigned int vlen,
                                     float gain)
{
    detail::check_vlen("adc_cc", vlen);
    if (levels.size() != thresholds.size() + 1)
        throw std::invalid_argument("adc_cc: len(levels) must be len(thresholds) + 1");
    check_gain(gain);
    return gnuradio::make_block_sptr<adc_cc_impl>(
        scalar_quantizer(thresholds, levels), 0, 0.0f, vlen, gain);
}

adc_cc_impl::adc_cc_impl(const scalar_quantizer& q,
                         unsigned bits,
                         float full_scale,
                         unsigned int vlen,
                         float gain)
    : gr::sync_block("adc_cc",
                     gr::io_signature::make(1, 1, sizeof(gr_complex) * vlen),
                     gr::io_signature::make(1, 1, sizeof(gr_complex) * vlen)),
      d_q(q),
      d_vlen(vlen),
      d_bits(bits),
      d_full_scale(full_scale),
      d_gain(gain)
{
    message_port_register_in(pmt::mp("set"));
    set_msg_handler(pmt::mp("set"), [this](const pmt::pmt_t& m) { handle_set(m); });
}

void adc_cc_impl::set_bits(unsigned int bits)
{
    const float fs = d_full_scale > 0.0f ? d_full_scale : 1.0f;
    scalar_quantizer q = make_uniform_adc(bits, fs);
    gr::thread::scoped_lock guard(d_setlock);
    d_q = q;
    d_bits = bits;
    d_full_scale = fs;
}

void adc_cc_impl::set_full_scale(float full_scale)
{
    const unsigned bits = d_bits ? d_bits : 8;
    scalar_quantizer q = make_uniform_adc(bits, full_scale);
    gr::thread::scoped_lock guard(d_setlock);
    d_q = q;
    d_bits = bits;
    d_full_scale = full_scale;
}

void adc_cc_impl::set_gain(float gain)
{
    check_gain(gain);
    gr::thread::scoped_lock guard(d_setlock);
    d_gain = gain;
}

void adc_cc_impl::set_thresholds(const std::vector<float>& thresholds,
                                 const std::vector<float>& levels)
{
    if (levels.size() != thresholds.size() + 1)
        throw std::invalid_argument("adc_cc: len(levels) must be len(thresholds) + 1");
    scalar_quantizer q(thresholds, levels);
    gr::thread::scoped_lock guard(d_setlock);
    d_q = q;
    d_bits = 0; // non-uniform from now on
    d_full_scale = 0.0f;
}

unsigned int adc_cc_impl::bits() const { return d_bits; }
float adc_cc_impl::full_scale() const { return d_full_scale; }
float adc_cc_impl::gain() const { return d_gain; }

std::vector<float> adc_cc_impl::thresholds() const
{
    gr::thread::scoped_lock guard(const_cast<adc_cc_impl*>(this)->d_setlock);
    return d_q.thresholds();
}

std::vector<float> adc_cc_impl::levels() const
{
    gr::thread::scoped_lock guard(const_cast<adc_cc_impl*>(this)->d_setlock);
    return d_q.levels();
}

void adc_cc_impl::handle_set(const pmt::pmt_t& msg)
{
    try {
        if (!pmt::is_dict(msg))
            throw std::invalid_argument("expected a dict");
        bool any = false;
        if (detail::msg_has(msg, "thresholds") || detail::msg_has(msg, "levels")) {
            // both, or a lone 'levels' would make a 1-level (constant) ADC
            if (!detail::msg_has(msg, "thresholds") || !detail::msg_has(msg, "levels"))
                throw std::invalid_argument(
                    "'thresholds' and 'levels' must be given together");
            set_thresholds(detail::msg_floats(msg, "thresholds"),
                           detail::msg_floats(msg, "levels"));
            any = true;
        }
        if (detail::msg_has(msg, "bits") || detail::msg_has(msg, "full_scale")) {
            const double b = detail::msg_has(msg, "bits")
                                 ? detail::msg_number(msg, "bits")
                                 : double(d_bits ? d_bits : 8);
            const double fs = detail::msg_has(msg, "full_scale")
                                  ? detail::msg_number(msg, "full_scale")
                                  : double(d_full_scale > 0.0f ? d_full_scale : 1.0f);
            if (b < 1 || b > 16 || b != double(unsigned(b)))
                throw std::invalid_argument("'bits' must be an integer 1..16");
            scalar_quantizer q = make_uniform_adc(unsigned(b), float(fs));
            gr::thread::scoped_lock guard(d_setlock);
            d_q = q;
            d_bits = unsigned(b);
            d_full_scale = float(fs);
            any = true;
        }
        if (detail::msg_has(msg, "gain")) {
            set_gain(float(detail::msg_number(msg, "gain")));
            any = true;
        }
        if (!any)
            throw std::invalid_argument(
                "no known key (bits, full_scale, gain, thresholds, levels)");
    } catch (const std::exception& e) {
        d_logger->error("ignoring bad 'set' message ({:s}); the old settings stay",
                        e.what());
    }
}

int adc_cc_impl::work(int noutput_items,
                      gr_vector_const_void_star& input_items,
                      gr_vector_void_star& output_items)
{
    gr::thread::scoped_lock guard(d_setlock);
    const size_t n = size_t(noutput_items) * d_vlen;
    const gr_complex* in = static_cast<const gr_complex*>(input_items[0]);
    if (d_gain != 1.0f) {
        if (d_scaled.size() < 2 * n)
            d_scaled.resize(2 * n);
        volk_32f_s32f_multiply_32f(
            d_scaled.data(), reinterpret_cast<const float*>(in), d_gain, 2 * n);
        in = reinterpret_cast<const gr_complex*>(d_scaled.data());
    }
    const uint64_t nans =
        d_q.quantize_complex_levels(in, static_cast<gr_complex*>(output_items[0]), n);
    if (nans)
        d_report.report(d_logger, nans, d_bad += nans);
    return noutput_items;
}

} // namespace deepquant
} // namespace gr
