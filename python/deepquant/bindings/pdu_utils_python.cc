/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
// PDU helpers for the Python blocks that publish or consume byte PDUs (pmt.init_u8vector from a
// list and pmt.u8vector_elements to a list cost microseconds per byte-heavy message). No header:
// these are binding-only helpers.

#include <pybind11/pybind11.h>
#include <gnuradio/basic_block.h>
#include <pmt/pmt.h>
#include <pybind11/numpy.h>
#include <string>
#include <vector>
#include <string_view>

namespace py = pybind11;

void bind_pdu_utils(py::module& m)
{
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
        "publish_frames",
        [](const gr::basic_block_sptr& blk, const pmt::pmt_t& port, const py::list& frames,
           long first_packet_num, const py::object& llr_counts, const pmt::pmt_t& first_meta) {
            // One PDU per frame: meta {packet_num, llr_count} (+ first_meta's entries on the
            // first frame), published on blk's message port; the loop runs without the GIL.
            const std::size_t f = frames.size();
            auto cnt = py::array_t<long, py::array::c_style | py::array::forcecast>::ensure(llr_counts);
            if (!cnt || std::size_t(cnt.size()) != f)
                throw py::value_error("llr_counts: need one entry per frame");
            std::vector<std::string_view> views(f);
            for (std::size_t i = 0; i < f; i++) {
                py::handle h = frames[i];
                if (!PyBytes_Check(h.ptr()))
                    throw py::type_error("frames must be bytes");
                views[i] = std::string_view(PyBytes_AS_STRING(h.ptr()), PyBytes_GET_SIZE(h.ptr()));
            }
            const long* c = cnt.data();
            {
                py::gil_scoped_release nogil;
                const pmt::pmt_t k_num = pmt::intern("packet_num");
                const pmt::pmt_t k_cnt = pmt::intern("llr_count");
                for (std::size_t i = 0; i < f; i++) {
                    pmt::pmt_t d = (i == 0 && pmt::is_dict(first_meta)) ? first_meta : pmt::make_dict();
                    d = pmt::dict_add(d, k_num, pmt::from_long(first_packet_num + long(i)));
                    d = pmt::dict_add(d, k_cnt, pmt::from_long(c[i]));
                    blk->message_port_pub(
                        port,
                        pmt::cons(d,
                                  pmt::init_u8vector(views[i].size(),
                                                     reinterpret_cast<const uint8_t*>(views[i].data()))));
                }
            }
        },
        py::arg("block"), py::arg("port"), py::arg("frames"), py::arg("first_packet_num"),
        py::arg("llr_counts"), py::arg("first_meta"),
        "Publish one (meta . u8vector) PDU per frame on block's message port (see source)");
}
