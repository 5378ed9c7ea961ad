/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "quantizer_common.h"
#include "quantizer_ff_impl.h"
#include <gnuradio/io_signature.h>
#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

namespace gr {
namespace deepquant {

quantizer_ff::sptr quantizer_ff::make(const std::vector<float>& thresholds,
                                      const std::vector<float>& levels,
                                      unsigned int vlen)
{
    detail::check_vlen("quantizer_ff", vlen);
    if (levels.size() != thresholds.size() + 1)
        throw std::invalid_argument(
            "quantizer_ff: len(levels) must be len(thresholds) + 1, got " +
            std::to_string(levels.size()) + " levels for " +
            std::to_string(thresholds.size()) + " thresholds");
    return gnuradio::make_block_sptr<quantizer_ff_impl>(thresholds, levels, vlen);
}

quantizer_ff_impl::quantizer_ff_impl(const std::vector<float>& thresholds,
                                     const std::vector<float>& levels,
                                     unsigned int vlen)
    : gr::sync_block("quantizer_ff",
                     gr::io_signature::make(1, 1, sizeof(float) * vlen),
                     gr::io_signature::make(1, 1, sizeof(float) * vlen)),
      d_q(thresholds, levels),
      d_vlen(vlen)
{
    message_port_register_in(pmt::mp("set"));
    set_msg_handler(pmt::mp("set"), [this](const pmt::pmt_t& m) { handle_set(m); });
}

void quantizer_ff_impl::set_thresholds(const std::vector<float>& thresholds,
                                       const std::vector<float>& levels)
{
    if (levels.size() != thresholds.size() + 1)
        throw std::invalid_argument(
            "quantizer_ff: len(levels) must be len(thresholds) + 1");
    scalar_quantizer q(thresholds, levels);
    gr::thread::scoped_lock guard(d_setlock);
    d_q = q;
}

std::vector<float> quantizer_ff_impl::thresholds() const
{
    gr::thread::scoped_lock guard(const_cast<quantizer_ff_impl*>(this)->d_setlock);
    return d_q.thresholds();
}

std::vector<float> quantizer_ff_impl::levels() const
{
    gr::thread::scoped_lock guard(const_cast<quantizer_ff_impl*>(this)->d_setlock);
    return d_q.levels();
}

void quantizer_ff_impl::handle_set(const pmt::pmt_t& msg)
{
    try {
        if (!detail::msg_has(msg, "thresholds") || !detail::msg_has(msg, "levels"))
            throw std::invalid_argument(
                "expected a dict with keys 'thresholds' and 'levels'");
        set_thresholds(detail::msg_floats(msg, "thresholds"),
                       detail::msg_floats(msg, "levels"));
    } catch (const std::exception& e) {
        d_logger->error("ignoring bad 'set' message ({:s}); the old quantizer stays",
                        e.what());
    }
}

int quantizer_ff_impl::work(int noutput_items,
                            gr_vector_const_void_star& input_items,
                            gr_vector_void_star& output_items)
{
    gr::thread::scoped_lock guard(d_setlock);
    const uint64_t nans = d_q.quantize_levels(static_cast<const float*>(input_items[0]),
                                              static_cast<float*>(output_items[0]),
                                              size_t(noutput_items) * d_vlen);
    if (nans)
        d_report.report(d_logger, nans, d_bad += nans);
    return noutput_items;
}

} // namespace deepquant
} // namespace gr
