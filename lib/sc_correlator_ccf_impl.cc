/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "sc_correlator_ccf_impl.h"
#include <gnuradio/io_signature.h>
#include <stdexcept>

namespace gr {
namespace deepquant {

sc_correlator_ccf::sptr sc_correlator_ccf::make(int nr, int half)
{
    if (nr < 1 || half < 1)
        throw std::invalid_argument("sc_correlator_ccf: nr and half must be >= 1");
    return gnuradio::make_block_sptr<sc_correlator_ccf_impl>(nr, half);
}

sc_correlator_ccf_impl::sc_correlator_ccf_impl(int nr, int half)
    : gr::sync_block(
          "sc_correlator",
          gr::io_signature::make(nr, nr, sizeof(gr_complex)),
          gr::io_signature::makev(2, 2, { sizeof(gr_complex), sizeof(float) })),
      d_nr(nr),
      d_half(half)
{
    set_history(half + 1);
}

int sc_correlator_ccf_impl::work(int noutput_items,
                                 gr_vector_const_void_star& input_items,
                                 gr_vector_void_star& output_items)
{
    gr_complex* p = static_cast<gr_complex*>(output_items[0]);
    float* e = static_cast<float*>(output_items[1]);
    for (int i = 0; i < noutput_items; i++) {
        double pr = 0.0, pi = 0.0, en = 0.0;
        for (int r = 0; r < d_nr; r++) {
            const gr_complex* x = static_cast<const gr_complex*>(input_items[r]);
            const double ar = x[i + d_half].real(), ai = x[i + d_half].imag();
            const double br = x[i].real(), bi = -double(x[i].imag());
            // numpy's complex product (no fused multiply-add: -ffp-contract=off)
            pr += ar * br - ai * bi;
            pi += ar * bi + ai * br;
            en += ar * ar + ai * ai;
        }
        p[i] = gr_complex(float(pr), float(pi));
        e[i] = float(en);
    }
    return noutput_items;
}

} // namespace deepquant
} // namespace gr
