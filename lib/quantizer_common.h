/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
// Helpers shared by the quantizer blocks: parsing "set" messages and NaN reporting.
#ifndef INCLUDED_DEEPQUANT_QUANTIZER_COMMON_H
#define INCLUDED_DEEPQUANT_QUANTIZER_COMMON_H

#include <gnuradio/logger.h>
#include <pmt/pmt.h>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace gr {
namespace deepquant {
namespace detail {

//! True if the dict/message has the key.
inline bool msg_has(const pmt::pmt_t& msg, const char* key)
{
    return pmt::is_dict(msg) && pmt::dict_has_key(msg, pmt::intern(key));
}

//! Float vector from a message value: f32vector, f64vector or a list/tuple of numbers.
inline std::vector<float> msg_floats(const pmt::pmt_t& msg, const char* key)
{
    const pmt::pmt_t v = pmt::dict_ref(msg, pmt::intern(key), pmt::PMT_NIL);
    std::vector<float> out;
    if (pmt::is_f32vector(v)) {
        out = pmt::f32vector_elements(v);
    } else if (pmt::is_f64vector(v)) {
        for (double d : pmt::f64vector_elements(v))
            out.push_back(float(d));
    } else if (pmt::is_vector(v)) {
        for (std::size_t i = 0; i < pmt::length(v); i++)
            out.push_back(float(pmt::to_double(pmt::vector_ref(v, i))));
    } else if (pmt::is_tuple(v)) {
        for (std::size_t i = 0; i < pmt::length(v); i++)
            out.push_back(float(pmt::to_double(pmt::tuple_ref(v, i))));
    } else if (pmt::is_pair(v) || pmt::is_null(v)) {
        pmt::pmt_t l = v;
        while (pmt::is_pair(l)) {
            out.push_back(float(pmt::to_double(pmt::car(l))));
            l = pmt::cdr(l);
        }
    } else {
        throw std::invalid_argument(std::string("'") + key +
                                    "' must be a float vector (pmt f32vector/f64vector "
                                    "or a list of numbers)");
    }
    return out;
}

inline double msg_number(const pmt::pmt_t& msg, const char* key)
{
    const pmt::pmt_t v = pmt::dict_ref(msg, pmt::intern(key), pmt::PMT_NIL);
    if (!pmt::is_number(v))
        throw std::invalid_argument(std::string("'") + key + "' must be a number");
    return pmt::to_double(v);
}

//! Largest vlen of the quantizer blocks: an item of 2^20 floats (4 MiB) is already far
//! beyond GNU Radio's buffer sizes; larger values overflow io_signature's item size.
constexpr unsigned int max_vlen = 1u << 20;

//! Throws std::invalid_argument naming the block unless 1 <= vlen <= max_vlen.
inline void check_vlen(const char* block, unsigned int vlen)
{
    if (vlen < 1 || vlen > max_vlen)
        throw std::invalid_argument(std::string(block) + ": vlen must be in 1.." +
                                    std::to_string(max_vlen) + ", got " +
                                    std::to_string(vlen));
}

//! True at the 1st, 2nd, 4th, 8th ... event (rate-limited logging).
class log_limiter
{
public:
    bool next()
    {
        d_events++;
        return (d_events & (d_events - 1)) == 0;
    }

private:
    std::uint64_t d_events = 0;
};

//! Rate-limited NaN warning: logs at the 1st, 2nd, 4th, 8th ... call that saw NaNs.
class nan_reporter
{
public:
    void report(gr::logger_ptr log, std::uint64_t nans, std::uint64_t total)
    {
        if (!nans)
            return;
        d_events++;
        if ((d_events & (d_events - 1)) == 0)
            log->warn("{:d} NaN input sample(s) so far (quantized as 0.0); check the "
                      "upstream block",
                      total);
    }

private:
    std::uint64_t d_events = 0;
};

} // namespace detail
} // namespace deepquant
} // namespace gr
#endif
