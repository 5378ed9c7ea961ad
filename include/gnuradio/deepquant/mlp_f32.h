/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_MLP_F32_H
#define INCLUDED_DEEPQUANT_MLP_F32_H

#include <gnuradio/deepquant/api.h>
#include <cstddef>
#include <string>
#include <vector>

namespace gr {
namespace deepquant {

/*!
 * \brief Small dense network evaluated row by row on the CPU (float32): the soft-bit
 * encoders' inference path. \ingroup deepquant
 *
 * y = tanh(W_L relu(... relu(W_1 t(x) + b_1) ...) + b_L), with t(x) = x or tanh(x / 2)
 * (LLR -> soft bit). Weights come in torch's nn.Linear layout (out x in, row-major).
 * Hidden widths up to 64 use an AVX2/FMA kernel (two rows at a time, weights kept in
 * cache, tanh from a vectorised exponential with relative error ~1e-7), chosen at run
 * time; wider layers or CPUs without AVX2 use a portable loop. Results of the two paths
 * agree to ~1e-6.
 *
 * Non-finite inputs propagate as NaN; callers sanitise their inputs first.
 * const after construction: safe to call from several threads.
 */
class DEEPQUANT_API mlp_f32
{
public:
    /*!
     * \param weights one row-major (out_l x in_l) matrix per layer.
     * \param biases one vector (out_l) per layer.
     * \param dims layer widths [in_1, out_1 = in_2, ..., out_L] (L + 1 entries).
     * \param tanh_half_input apply x -> tanh(x / 2) to the input first.
     * Throws std::invalid_argument on inconsistent shapes.
     */
    mlp_f32(const std::vector<std::vector<float>>& weights,
            const std::vector<std::vector<float>>& biases,
            const std::vector<unsigned>& dims,
            bool tanh_half_input);

    unsigned in_dim() const { return d_dims.front(); }
    unsigned out_dim() const { return d_dims.back(); }

    //! x: n x in_dim (row-major) -> out: n x out_dim.
    void forward(const float* x, std::size_t n, float* out) const;

    //! "auto" (default), "avx2" or "generic"; throws if the CPU lacks the requested one.
    void set_isa(const std::string& isa);
    std::string isa() const;

private:
    std::vector<unsigned> d_dims;
    std::vector<unsigned> d_pad;          // padded output width per layer (multiple of 8)
    std::vector<std::vector<float>> d_wt; // per layer: in x pad (transposed, zero padded)
    std::vector<std::vector<float>> d_b;  // per layer: pad
    bool d_tanh_in;
    bool d_use_avx2;
    bool d_avx2_ok;

    void forward_generic(const float* x, std::size_t n, float* out) const;
    void forward_avx2(const float* x, std::size_t n, float* out) const;
};

} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_MLP_F32_H */
