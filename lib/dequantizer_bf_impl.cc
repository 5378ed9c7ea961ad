/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dequantizer_bf_impl.h"
#include "quantizer_common.h"
#include <gnuradio/io_signature.h>
#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

namespace gr {
namespace deepquant {

static scalar_quantizer make_table(const std::vector<float>& levels)
{
    if (levels.empty() || levels.size() > 256)
        throw std::invalid_argument(
            "dequantizer_bf: needs 1..256 levels (uint8 indices), got " +
            std::to_string(levels.size()));
    // Only the level table is used; the thresholds are placeholders.
    std::vector<float> t(levels.size() - 1);
    std::iota(t.begin(), t.end(), 0.0f);
    return scalar_quantizer(t, levels);
}

dequantizer_bf::sptr dequantizer_bf::make(const std::vector<float>& levels,
                                          unsigned int vlen)
{
    detail::check_vlen("dequantizer_bf", vlen);
    return gnuradio::make_block_sptr<dequantizer_bf_impl>(levels, vlen);
}

dequantizer_bf_impl::dequantizer_bf_impl(const std::vector<float>& levels,
                                         unsigned int vlen)
    : gr::sync_block("dequantizer_bf",
                     gr::io_signature::make(1, 1, sizeof(uint8_t) * vlen),
                     gr::io_signature::make(1, 1, sizeof(float) * vlen)),
      d_q(make_table(levels)),
      d_vlen(vlen)
{
    message_port_register_in(pmt::mp("set"));
    set_msg_handler(pmt::mp("set"), [this](const pmt::pmt_t& m) { handle_set(m); });
}

void dequantizer_bf_impl::set_levels(const std::vector<float>& levels)
{
    scalar_quantizer q = make_table(levels);
    gr::thread::scoped_lock guard(d_setlock);
    d_q = q;
}

std::vector<float> dequantizer_bf_impl::levels() const
{
    gr::thread::scoped_lock guard(const_cast<dequantizer_bf_impl*>(this)->d_setlock);
    return d_q.levels();
}

void dequantizer_bf_impl::handle_set(const pmt::pmt_t& msg)
{
    try {
        if (!detail::msg_has(msg, "levels"))
            throw std::invalid_argument("expected a dict with key 'levels'");
        set_levels(detail::msg_floats(msg, "levels"));
    } catch (const std::exception& e) {
        d_logger->error("ignoring bad 'set' message ({:s}); the old levels stay",
                        e.what());
    }
}

int dequantizer_bf_impl::work(int noutput_items,
                              gr_vector_const_void_star& input_items,
                              gr_vector_void_star& output_items)
{
    gr::thread::scoped_lock guard(d_setlock);
    const uint64_t bad = d_q.dequantize(static_cast<const uint8_t*>(input_items[0]),
                                        static_cast<float*>(output_items[0]),
                                        size_t(noutput_items) * d_vlen);
    if (bad) {
        const uint64_t total = (d_bad += bad);
        if (d_log.next()) // rate-limited: 1st, 2nd, 4th, 8th ... buffer with bad indices
            d_logger->warn(
                "{:d} index(es) >= {:d} levels in this buffer ({:d} so far), clamped "
                "to the last level",
                bad,
                d_q.num_levels(),
                total);
    }
    return noutput_items;
}

} // namespace deepquant
} // namespace gr
