/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_LDPC_BP_DECODER_H
#define INCLUDED_DEEPQUANT_LDPC_BP_DECODER_H

#include <gnuradio/deepquant/api.h>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gr {
namespace deepquant {

/*!
 * \brief Flooding sum-product (belief-propagation) LDPC decoder for any binary
 * parity-check matrix, returning codewords, iteration counts and a-posteriori LLRs.
 * \ingroup deepquant
 *
 * The same algorithm as the module's torch decoder
 * (gnuradio.deepquant.phy.ldpc.bp_decode_torch), step for step: channel LLRs clipped to
 * +-llr_clip; per iteration every check node sends c2v = 2 atanh(prod_{k != j} tanh(v2c_k
 * / 2)) with the exclusive products formed from prefix and suffix products (no division)
 * and |prod| capped at 1 - 1e-7; every variable node's total = channel LLR + sum of its
 * c2v; a frame stops at the first iteration whose hard decision satisfies every check.
 * Outputs agree with it to float rounding.
 *
 * LLR convention L = ln P(b=1)/P(b=0) (positive = bit 1), in and out.
 *
 * Check nodes are processed 8 at a time with AVX2/FMA (tanh and log from vectorised
 * polynomials, relative error ~1e-7) when the CPU has it and no row has more than 8 ones;
 * otherwise (or with set_isa("generic")) a portable loop with std::tanh / std::atanh.
 * const after construction: safe to call from several threads.
 */
class DEEPQUANT_API ldpc_bp_decoder
{
public:
    /*!
     * \param row_ptr CSR row pointers of H (m + 1 entries, row_ptr[0] = 0).
     * \param col_idx CSR column indices of H's ones (row_ptr[m] entries, each in [0, n)).
     * \param n number of variable nodes (code length).
     * \param llr_clip |channel LLR| limit (> 0).
     * Throws std::invalid_argument on inconsistent input.
     */
    ldpc_bp_decoder(const std::vector<int>& row_ptr,
                    const std::vector<int>& col_idx,
                    int n,
                    float llr_clip = 50.0f);

    int n() const { return d_n; }
    int m() const { return d_m; }

    /*!
     * Decodes \p frames codewords.
     * \param llr frames x n channel LLRs (NaN is read as 0).
     * \param frames number of codewords.
     * \param max_iter maximum iterations (>= 1).
     * \param codewords frames x n hard decisions (0/1).
     * \param iterations frames entries: iterations used (max_iter = not converged).
     * \param posteriors frames x n a-posteriori LLRs, or nullptr.
     */
    void decode(const float* llr,
                std::size_t frames,
                int max_iter,
                uint8_t* codewords,
                int32_t* iterations,
                float* posteriors) const;

    /*!
     * Whether decode() of this one codeword would return its channel hard decisions (bit
     * 1 where L > 0) after its first iteration: true when no LLR is 0 or NaN and those
     * decisions satisfy every parity check. Then every check's first message to a bit has
     * the sign of that bit's own decision (the product of the other bits' signs; tanh and
     * atanh keep signs, a vanishing product gives 0), so no posterior changes sign and
     * the first iteration's syndrome check passes: the iteration is skipped
     * bit-identically. \param llr n channel LLRs. \param bits n hard decisions out
     * (written either way).
     */
    bool hard_codeword(const float* llr, uint8_t* bits) const;

    //! "auto" (default), "avx2" or "generic"; throws if the requested one is unavailable.
    void set_isa(const std::string& isa);
    std::string isa() const;

private:
    int d_n, d_m;
    float d_clip;
    std::vector<int> d_row_ptr, d_col_idx;
    // AVX2 layout: groups of 8 check nodes, slot-major: edge (group g, slot s, lane l) at
    // (g * d_slots + s) * 8 + l; d_gcol = its variable (d_n = padding), d_gedge = its
    // index in the CSR edge order (-1 = padding)
    int d_slots, d_groups;
    std::vector<int32_t> d_gcol, d_gedge;
    bool d_avx2_ok, d_use_avx2;

    int decode_one_generic(
        const float* lc, int max_iter, float* total, float* c2v, uint8_t* hard) const;
    int decode_one_avx2(
        const float* lc, int max_iter, float* total, float* c2v, uint8_t* hard) const;
    bool syndrome_ok(const float* total, uint8_t* hard) const;
};

} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_LDPC_BP_DECODER_H */
