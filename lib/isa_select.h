/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
// set_isa() of the kernels that have one AVX2/FMA path and a portable loop (internal
// header, portable: no intrinsics).

#ifndef INCLUDED_DEEPQUANT_ISA_SELECT_H
#define INCLUDED_DEEPQUANT_ISA_SELECT_H

#include <stdexcept>
#include <string>

namespace gr {
namespace deepquant {
namespace simd {

//! Whether to use the AVX2/FMA path: "auto" -> where available, "generic" -> never,
//! "avx2" -> always (throws Unavailable naming ``why`` when ``avx2_ok`` is false); any
//! other name throws std::invalid_argument.
template <typename Unavailable = std::invalid_argument>
inline bool
select_isa(const std::string& isa, bool avx2_ok, const std::string& who, const char* why)
{
    if (isa == "auto")
        return avx2_ok;
    if (isa == "generic")
        return false;
    if (isa == "avx2") {
        if (!avx2_ok)
            throw Unavailable(who + ": AVX2/FMA path unavailable (" + why + ")");
        return true;
    }
    throw std::invalid_argument(who + ": isa must be auto, avx2 or generic, got " + isa);
}

} // namespace simd
} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_ISA_SELECT_H */
