/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
// Compiled with the library's -ffp-contract=off: no fused multiply-add, so every product
// and sum is the IEEE double operation numpy's complex128 loops perform.
#include "exact_mixer_cc_impl.h"
#include <gnuradio/io_signature.h>
#include <cmath>
#include <complex>

namespace gr {
namespace deepquant {

exact_mixer_cc::sptr exact_mixer_cc::make(bool divide)
{
    return gnuradio::make_block_sptr<exact_mixer_cc_impl>(divide);
}

exact_mixer_cc_impl::exact_mixer_cc_impl(bool divide)
    : gr::sync_block("exact_mixer_cc",
                     gr::io_signature::make(2, 2, sizeof(gr_complex)),
                     gr::io_signature::make(1, 1, sizeof(gr_complex))),
      d_divide(divide)
{
}

int exact_mixer_cc_impl::work(int noutput_items,
                              gr_vector_const_void_star& input_items,
                              gr_vector_void_star& output_items)
{
    const float* a = static_cast<const float*>(input_items[0]);
    const float* b = static_cast<const float*>(input_items[1]);
    float* o = static_cast<float*>(output_items[0]);
    if (!d_divide) {
        for (int i = 0; i < noutput_items; i++) {
            const double ar = a[2 * i], ai = a[2 * i + 1], br = b[2 * i],
                         bi = b[2 * i + 1];
            o[2 * i] = float(ar * br - ai * bi);
            o[2 * i + 1] = float(ar * bi + ai * br);
        }
        return noutput_items;
    }
    for (int i = 0; i < noutput_items; i++) {
        const double ar = a[2 * i], ai = a[2 * i + 1], br = b[2 * i], bi = b[2 * i + 1];
        double qr, qi;
        if (br == 0.0 && bi == 0.0) {
            qr = qi = 0.0;
        } else if (std::fabs(br) >= std::fabs(bi)) { // numpy's complex division (Smith)
            const double rat = bi / br, scl = 1.0 / (br + bi * rat);
            qr = (ar + ai * rat) * scl;
            qi = (ai - ar * rat) * scl;
        } else {
            const double rat = br / bi, scl = 1.0 / (bi + br * rat);
            qr = (ar * rat + ai) * scl;
            qi = (ai * rat - ar) * scl;
        }
        o[2 * i] = float(qr);
        o[2 * i + 1] = float(qi);
    }
    return noutput_items;
}

} // namespace deepquant
} // namespace gr
