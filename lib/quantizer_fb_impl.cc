/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "quantizer_common.h"
#include "quantizer_fb_impl.h"
#include <gnuradio/io_signature.h>
#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

namespace gr {
namespace deepquant {

static scalar_quantizer make_fb_quantizer(const std::vector<float>& thresholds)
{
    if (thresholds.size() > 255)
        throw std::invalid_argument("quantizer_fb: at most 255 thresholds (256 levels, "
                                    "uint8 output), got " +
                                    std::to_string(thresholds.size()) +
                                    "; use quantizer_ff for more levels");
    return scalar_quantizer(thresholds);
}

quantizer_fb::sptr quantizer_fb::make(const std::vector<float>& thresholds,
                                      unsigned int vlen)
{
    detail::check_vlen("quantizer_fb", vlen);
    return gnuradio::make_block_sptr<quantizer_fb_impl>(thresholds, vlen);
}

quantizer_fb_impl::quantizer_fb_impl(const std::vector<float>& thresholds,
                                     unsigned int vlen)
    : gr::sync_block("quantizer_fb",
                     gr::io_signature::make(1, 1, sizeof(float) * vlen),
                     gr::io_signature::make(1, 1, sizeof(uint8_t) * vlen)),
      d_q(make_fb_quantizer(thresholds)),
      d_vlen(vlen)
{
    message_port_register_in(pmt::mp("set"));
    set_msg_handler(pmt::mp("set"), [this](const pmt::pmt_t& m) { handle_set(m); });
}

void quantizer_fb_impl::set_thresholds(const std::vector<float>& thresholds)
{
    scalar_quantizer q = make_fb_quantizer(thresholds); // validate before locking
    gr::thread::scoped_lock guard(d_setlock);
    d_q = q;
}

std::vector<float> quantizer_fb_impl::thresholds() const
{
    gr::thread::scoped_lock guard(const_cast<quantizer_fb_impl*>(this)->d_setlock);
    return d_q.thresholds();
}

void quantizer_fb_impl::handle_set(const pmt::pmt_t& msg)
{
    try {
        if (!detail::msg_has(msg, "thresholds"))
            throw std::invalid_argument("expected a dict with key 'thresholds'");
        set_thresholds(detail::msg_floats(msg, "thresholds"));
    } catch (const std::exception& e) {
        d_logger->error("ignoring bad 'set' message ({:s}); the old thresholds stay",
                        e.what());
    }
}

int quantizer_fb_impl::work(int noutput_items,
                            gr_vector_const_void_star& input_items,
                            gr_vector_void_star& output_items)
{
    gr::thread::scoped_lock guard(d_setlock);
    const uint64_t nans = d_q.quantize(static_cast<const float*>(input_items[0]),
                                       static_cast<uint8_t*>(output_items[0]),
                                       size_t(noutput_items) * d_vlen);
    if (nans)
        d_report.report(d_logger, nans, d_bad += nans);
    return noutput_items;
}

} // namespace deepquant
} // namespace gr
