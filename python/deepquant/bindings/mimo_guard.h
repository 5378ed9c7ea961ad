/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

/*
 * The guards of mimo_detector's work() around a C++ MIMO detector, for the bindings'
 * detect_into methods: one call per work() reads GNU Radio's input buffers and writes the
 * LLRs straight into its output buffer, with the block's documented neutral outputs.
 *
 * Per channel use (status byte):
 *   0 detected;
 *   1 invalid input (non-finite y or H, sigma^2 not positive and finite): zero LLRs. The
 *     batch is detected with such uses replaced by y = 0, H = identity, sigma^2 = 1 (what
 *     blocks/_common.sanitize_channel_uses does), so the valid uses get the LLRs they get
 *     in any batch, then their LLRs are zeroed;
 *   2 float32 overflow handled here (finite, e.g. saturated by the kernel, or zeroed where
 *     the caller has no float64 recomputation; counted as out of range too where it was 3);
 *   3 outside a learned model's SNR range, detected by LMMSE instead (eqnet only);
 *   4 non-finite LLRs left to the caller (its float64 recomputation); not clipped.
 * Every other LLR is clipped to +-LLR_LIMIT (blocks/_common.LLR_LIMIT).
 */

#ifndef INCLUDED_DEEPQUANT_BINDINGS_MIMO_GUARD_H
#define INCLUDED_DEEPQUANT_BINDINGS_MIMO_GUARD_H

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <cmath>
#include <complex>
#include <cstddef>
#include <vector>

namespace gr {
namespace deepquant {
namespace guard {

namespace py = pybind11;

constexpr float LLR_LIMIT = 1e30f;

using cf = std::complex<float>;

//! the block's buffers, checked: contiguous, exact dtypes, sizes n * nr, n * nr * nt, n,
//! n * nt * k, n (no copies: a mismatch raises).
struct buffers {
    const cf* y;
    const cf* h;
    const float* nv;
    float* llr;
    unsigned char* status;
    std::size_t n;
};

inline buffers check_buffers(const py::array& y,
                             const py::array& h,
                             const py::array& nv,
                             const py::array& out,
                             const py::array& status,
                             int nr,
                             int nt,
                             int k)
{
    auto contiguous = [](const py::array& a) {
        return (a.flags() & py::array::c_style) != 0;
    };
    if (!py::isinstance<py::array_t<cf>>(y) || !contiguous(y))
        throw py::value_error("detect_into: y must be contiguous complex64");
    if (!py::isinstance<py::array_t<cf>>(h) || !contiguous(h))
        throw py::value_error("detect_into: H must be contiguous complex64");
    if (!py::isinstance<py::array_t<float>>(nv) || !contiguous(nv))
        throw py::value_error("detect_into: noise_var must be contiguous float32");
    if (!py::isinstance<py::array_t<float>>(out) || !contiguous(out) || !out.writeable())
        throw py::value_error("detect_into: out must be writeable contiguous float32");
    if (!py::isinstance<py::array_t<unsigned char>>(status) || !contiguous(status) ||
        !status.writeable())
        throw py::value_error("detect_into: status must be writeable contiguous uint8");
    const std::size_t n = std::size_t(nv.size());
    if (std::size_t(y.size()) != n * nr || std::size_t(h.size()) != n * nr * nt ||
        std::size_t(out.size()) != n * nt * k || std::size_t(status.size()) < n)
        throw py::value_error("detect_into: need y (n, nr), H (n, nr, nt), noise_var (n,), "
                              "out (n, nt * K) and status (>= n,) for the same n");
    return { static_cast<const cf*>(y.data()),
             static_cast<const cf*>(h.data()),
             static_cast<const float*>(nv.data()),
             static_cast<float*>(const_cast<py::array&>(out).mutable_data()),
             static_cast<unsigned char*>(const_cast<py::array&>(status).mutable_data()),
             n };
}

//! status 1 where the input of a channel use is invalid, else 0; returns how many are.
inline std::size_t
mark_invalid(const buffers& b, int nr, int nt, unsigned char* status)
{
    std::size_t bad = 0;
    const std::size_t ny = std::size_t(nr), nh = std::size_t(nr) * nt;
    for (std::size_t i = 0; i < b.n; i++) {
        const float v = b.nv[i];
        bool ok = std::isfinite(v) && v > 0.0f;
        const float* yf = reinterpret_cast<const float*>(b.y + i * ny);
        const float* hf = reinterpret_cast<const float*>(b.h + i * nh);
        float acc = 0.0f; // inf - inf and anything with NaN give NaN
        for (std::size_t j = 0; j < 2 * ny; j++)
            acc += yf[j] * 0.0f;
        for (std::size_t j = 0; j < 2 * nh; j++)
            acc += hf[j] * 0.0f;
        ok = ok && acc == 0.0f;
        status[i] = ok ? 0 : 1;
        bad += !ok;
    }
    return bad;
}

//! the batch with invalid channel uses replaced by harmless values (y = 0, H = identity,
//! sigma^2 = 1), in scratch vectors; only called when some are invalid.
struct sanitized {
    std::vector<cf> y, h;
    std::vector<float> nv;
    sanitized(const buffers& b, int nr, int nt, const unsigned char* status)
        : y(b.y, b.y + b.n * nr), h(b.h, b.h + b.n * nr * nt), nv(b.nv, b.nv + b.n)
    {
        for (std::size_t i = 0; i < b.n; i++) {
            if (status[i] != 1)
                continue;
            for (int r = 0; r < nr; r++) {
                y[i * nr + r] = 0.0f;
                for (int t = 0; t < nt; t++)
                    h[(i * nr + r) * nt + t] = (r == t) ? 1.0f : 0.0f;
            }
            nv[i] = 1.0f;
        }
    }
};

struct counts {
    std::size_t invalid = 0, overflow = 0, out_of_range = 0, nonfinite = 0;
    py::tuple to_tuple() const
    {
        return py::make_tuple(invalid, overflow, out_of_range, nonfinite);
    }
};

/*!
 * Zero the LLRs of status-1 uses; uses already marked 2 by the kernel, and those with
 * non-finite LLRs when zero_nonfinite (set 2, zero LLRs), count as overflow; with
 * !zero_nonfinite non-finite uses get status 4 and are left as they are; everything else
 * is clipped to +-LLR_LIMIT. Fills the counts of 1, 2, 3 and 4.
 */
inline void
finish(const buffers& b, std::size_t width, bool zero_nonfinite, counts& c)
{
    for (std::size_t i = 0; i < b.n; i++) {
        float* o = b.llr + i * width;
        unsigned char& s = b.status[i];
        if (s == 1) {
            for (std::size_t j = 0; j < width; j++)
                o[j] = 0.0f;
            c.invalid++;
            continue;
        }
        if (s == 3)
            c.out_of_range++; // (also counted as overflow below if its LLRs are not finite)
        float acc = 0.0f;
        for (std::size_t j = 0; j < width; j++)
            acc += o[j] * 0.0f;
        if (acc != 0.0f) { // a NaN or an infinity
            if (!zero_nonfinite) {
                s = 4;
                c.nonfinite++;
                continue;
            }
            for (std::size_t j = 0; j < width; j++)
                o[j] = 0.0f;
            s = 2;
        }
        if (s == 2)
            c.overflow++;
        for (std::size_t j = 0; j < width; j++) // finite here: plain compares (no libm calls)
            o[j] = o[j] < -LLR_LIMIT ? -LLR_LIMIT : (o[j] > LLR_LIMIT ? LLR_LIMIT : o[j]);
    }
}

} // namespace guard
} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_BINDINGS_MIMO_GUARD_H */
