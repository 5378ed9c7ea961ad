/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_SCALAR_QUANTIZER_H
#define INCLUDED_DEEPQUANT_SCALAR_QUANTIZER_H

#include <gnuradio/deepquant/api.h>
#include <gnuradio/gr_complex.h>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gr {
namespace deepquant {

/*!
 * \brief Hard scalar quantizer: the one hot path shared by every block of the module.
 * \ingroup deepquant
 *
 * A quantizer with M levels is defined by M-1 sorted, finite decision thresholds
 * t_0 <= ... <= t_{M-2} and M reconstruction levels l_0 ... l_{M-1}.
 *
 * Rules (identical in every code path, tested against numpy.searchsorted):
 *  - index(x) = number of thresholds t_j with t_j <= x, i.e.
 *    numpy.searchsorted(thresholds, x, side='right'): a sample equal to a
 *    threshold goes to the upper bin.
 *  - -inf goes to bin 0, +inf to bin M-1.
 *  - NaN is quantized as if it were 0.0 (for an LLR: "no information"; for an
 *    ADC: a zero sample) and counted: every call returns the number of NaNs it
 *    saw and nan_count() accumulates them.
 *
 * Uniform fast path (set_uniform / make_uniform): M levels evenly spread over
 * [lo, hi] (mid-rise: level i = lo + (i + 0.5) (hi - lo) / M); index =
 * clip(floor((x - lo) * M / (hi - lo)), 0, M-1). thresholds() returns the exact
 * float values at which that computation switches bins, so the uniform path
 * obeys the same searchsorted rule.
 *
 * Indices are uint8 for M <= 256 and uint16 for M <= 65536.
 * The hot loops use AVX-512 or AVX2 (checked at run time) with a portable
 * fallback; set_isa() forces one of them (tests compare all against numpy).
 */
class DEEPQUANT_API scalar_quantizer
{
public:
    static constexpr std::size_t max_levels = 65536;

    /*!
     * \brief Non-uniform quantizer from thresholds (M-1 values) and levels (M values).
     * If \p levels is empty, levels are the centres of the cells (outer cells:
     * the adjacent gap mirrored; one level: 0). Throws std::invalid_argument on
     * unsorted or non-finite thresholds, a wrong number of levels or more than
     * 65536 levels.
     */
    scalar_quantizer(const std::vector<float>& thresholds,
                     const std::vector<float>& levels = std::vector<float>());

    /*! \brief Uniform quantizer with \p num_levels levels over [lo, hi] (lo < hi). */
    static scalar_quantizer make_uniform(float lo, float hi, std::size_t num_levels);

    scalar_quantizer(const scalar_quantizer& other);
    scalar_quantizer& operator=(const scalar_quantizer& other);

    void set_thresholds(const std::vector<float>& thresholds,
                        const std::vector<float>& levels = std::vector<float>());
    void set_uniform(float lo, float hi, std::size_t num_levels);

    std::size_t num_levels() const { return d_levels.size(); }
    bool is_uniform() const { return d_uniform; }
    const std::vector<float>& thresholds() const { return d_thresholds; }
    const std::vector<float>& levels() const { return d_levels; }
    float uniform_lo() const { return d_lo; }
    float uniform_hi() const { return d_hi; }
    /*! \brief Index that NaN samples receive (the bin of 0.0). */
    std::size_t nan_index() const { return d_nan_index; }

    /*! \brief "avx512", "avx2" or "generic": the code path in use. */
    std::string isa() const;
    /*!
     * \brief Force "generic", "avx2" or "avx512" (throws if the CPU lacks it), or "auto"
     * (the best the CPU has).
     */
    void set_isa(const std::string& isa);
    static bool cpu_has_avx2();
    static bool cpu_has_avx512();

    /*! \brief float -> index (M <= 256). Returns the number of NaN inputs. */
    std::uint64_t quantize(const float* in, std::uint8_t* out, std::size_t n) const;
    /*! \brief float -> index (any M <= 65536). Returns the number of NaN inputs. */
    std::uint64_t quantize(const float* in, std::uint16_t* out, std::size_t n) const;
    /*! \brief float -> reconstruction level. Returns the number of NaN inputs. */
    std::uint64_t quantize_levels(const float* in, float* out, std::size_t n) const;
    /*! \brief complex -> I/Q indices (out has 2n entries: I0,Q0,I1,Q1,...). */
    std::uint64_t
    quantize_complex(const gr_complex* in, std::uint8_t* out, std::size_t n) const;
    /*! \brief complex -> complex levels (a b-bit ADC on I and Q independently). */
    std::uint64_t
    quantize_complex_levels(const gr_complex* in, gr_complex* out, std::size_t n) const;

    /*!
     * \brief index -> level. Indices >= M (invalid) are clamped to M-1;
     * returns how many were clamped.
     */
    std::uint64_t dequantize(const std::uint8_t* in, float* out, std::size_t n) const;
    std::uint64_t dequantize(const std::uint16_t* in, float* out, std::size_t n) const;

    /*! \brief NaN samples seen since construction or the last reset. */
    std::uint64_t nan_count() const { return d_nan_count.load(); }
    void reset_nan_count() { d_nan_count.store(0); }

private:
    scalar_quantizer() = default;
    void build_tree();
    void finish_setup();
    template <typename T>
    std::uint64_t quantize_impl(const float* in, T* out, std::size_t n) const;
    template <typename T>
    std::uint64_t dequantize_impl(const T* in, float* out, std::size_t n) const;

    std::vector<float> d_thresholds;
    std::vector<float> d_levels;
    // Binary-search tree by level: level l (2^l nodes) starts at d_tree_off[l];
    // every level is padded to at least 16 floats for the in-register permute lookups.
    std::vector<float> d_tree;
    std::vector<std::size_t> d_tree_off;
    unsigned d_depth = 0; // ceil(log2(M))
    bool d_uniform = false;
    float d_lo = 0.0f, d_hi = 0.0f, d_scale = 0.0f;
    std::size_t d_nan_index = 0;
    int d_isa = 0; // 0 generic, 1 avx2, 2 avx512
    mutable std::atomic<std::uint64_t> d_nan_count{ 0 };
};

} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_SCALAR_QUANTIZER_H */
