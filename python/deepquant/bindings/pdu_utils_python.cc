/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
// Fast conversions between Python bytes and PMT u8vectors for the Python blocks that publish or
// consume byte PDUs (pmt.init_u8vector from a list and pmt.u8vector_elements to a list cost
// microseconds per byte-heavy message). No header: these are binding-only helpers.

#include <pybind11/pybind11.h>
#include <pmt/pmt.h>
#include <string_view>

namespace py = pybind11;

void bind_pdu_utils(py::module& m)
{
    m.def(
        "u8vector_from_bytes",
        [](const py::bytes& b) {
            std::string_view v(b);
            return pmt::init_u8vector(v.size(), reinterpret_cast<const uint8_t*>(v.data()));
        },
        py::arg("data"), "bytes -> PMT u8vector (one copy)");
    m.def(
        "u8vector_to_bytes",
        [](const pmt::pmt_t& v) {
            if (!pmt::is_u8vector(v))
                throw py::type_error("expected a PMT u8vector");
            size_t len = 0;
            const uint8_t* p = pmt::u8vector_elements(v, len);
            return py::bytes(reinterpret_cast<const char*>(p), len);
        },
        py::arg("vector"), "PMT u8vector -> bytes (one copy); TypeError for other PMTs");
    m.def(
        "make_pdu",
        [](const pmt::pmt_t& meta, const py::bytes& b) {
            std::string_view v(b);
            return pmt::cons(meta,
                             pmt::init_u8vector(v.size(), reinterpret_cast<const uint8_t*>(v.data())));
        },
        py::arg("meta"), py::arg("data"), "(meta PMT, bytes) -> PDU pair (meta . u8vector)");
}
