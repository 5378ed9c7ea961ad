/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_RANS_CODER_H
#define INCLUDED_DEEPQUANT_RANS_CODER_H

#include <gnuradio/deepquant/api.h>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace gr {
namespace deepquant {

/*!
 * \brief Error raised by rans_coder::decode_rows on a payload that cannot have been
 * produced by the encoder (it ends early, has bytes left over, or ends in the wrong coder
 * state).
 */
class DEEPQUANT_API rans_error : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

/*!
 * \brief Static-model range coder (byte-wise rANS, 32-bit state) for frames of small
 * symbols. \ingroup deepquant
 *
 * The entropy coder of the soft-bit codecs. A set of categorical models (each a
 * probability vector over an alphabet of M <= 256 symbols) is quantized once, at
 * construction, to integer frequencies summing to 2^precision with every symbol's
 * frequency >= 1, so that every symbol stays codable (coding is lossless for any input in
 * [0, M)).
 *
 * A frame is an array of n rows x S streams of symbols, coded stream by stream (all rows
 * of stream 0, then stream 1, ...). The model of the symbol at (row i, stream s) is
 *
 *     model = base + offset[s] + (conditional[s] ? sym(i, s-1) : 0)
 *
 * which covers independent per-stream tables (conditional all false) and the chain model
 * p(z0) p(z1|z0) p(z2|z1) of the soft-bit autoencoder (models of stream s >= 1 laid out
 * as M consecutive conditional tables indexed by the previous stream's symbol). `base`
 * selects the table set of a frame (e.g. an effective-SNR bin).
 *
 * Payload: the rANS byte stream, read forward by the decoder, ending with the final
 * 32-bit state minus its known leading bits. Code length = ideal length under the
 * quantized models + at most 4 bytes. The decoder checks every read against the payload
 * length and that it ends in the encoder's initial state with no byte left over, so a
 * corrupted or truncated payload raises rans_error (a CRC in the frame header catches
 * what passes that test).
 *
 * All members are const after construction: one coder can be used from several threads.
 */
class DEEPQUANT_API rans_coder
{
public:
    static constexpr unsigned max_alphabet = 256;

    /*!
     * \param probs n_models x alphabet probabilities, row-major; each row is normalised
     * to sum 1 (entries must be finite and >= 0, at least one > 0 per row). \param
     * n_models number of models (rows). \param alphabet M, 2..256. \param precision log2
     * of the frequency total, 8..16 (default 15). Throws std::invalid_argument on bad
     * arguments.
     */
    rans_coder(const std::vector<double>& probs,
               unsigned n_models,
               unsigned alphabet,
               unsigned precision = 15);

    unsigned n_models() const { return d_n_models; }
    unsigned alphabet() const { return d_alphabet; }
    unsigned precision() const { return d_precision; }

    //! Quantized frequency of \p symbol in \p model (sum over symbols = 2^precision).
    uint32_t freq(unsigned model, unsigned symbol) const;

    /*!
     * \brief Encode one frame; appends the payload to \p out.
     * \param sym n*S symbols, row-major (row i, stream s at i*S + s).
     * \param offset, conditional S entries each (see the class description).
     * Throws std::invalid_argument if a symbol is >= M or a model index is out of range.
     */
    void encode_rows(const uint8_t* sym,
                     std::size_t n,
                     unsigned streams,
                     unsigned base,
                     const uint32_t* offset,
                     const uint8_t* conditional,
                     std::vector<uint8_t>& out) const;

    /*!
     * \brief Decode one frame of n rows x S streams into \p out (n*S, row-major).
     * Throws rans_error on an invalid payload and std::invalid_argument on a model index
     * out of range.
     */
    void decode_rows(const uint8_t* payload,
                     std::size_t len,
                     std::size_t n,
                     unsigned streams,
                     unsigned base,
                     const uint32_t* offset,
                     const uint8_t* conditional,
                     uint8_t* out) const;

    /*!
     * \brief Index (into \p bases) of the base whose models give the frame the shortest
     * ideal code length (ties: the first). Used to pick an entropy table per frame.
     */
    std::size_t choose_base(const uint8_t* sym,
                            std::size_t n,
                            unsigned streams,
                            const uint32_t* bases,
                            std::size_t n_bases,
                            const uint32_t* offset,
                            const uint8_t* conditional) const;

    /*!
     * \brief choose_base for F frames of n rows each (\p sym: F*n*S, \p out: F indices);
     * for many frames it gathers the candidates' costs into one contiguous row per symbol
     * context first (one vector add per symbol instead of one lookup per candidate).
     */
    void choose_bases(const uint8_t* sym,
                      std::size_t frames,
                      std::size_t n,
                      unsigned streams,
                      const uint32_t* bases,
                      std::size_t n_bases,
                      const uint32_t* offset,
                      const uint8_t* conditional,
                      int64_t* out) const;

    /*!
     * \brief Segmented frames: rows are split into segments of \p seg_rows (the last one
     * shorter), each coded with its own table set t (base = t * table_stride). The G
     * segment table ids are coded first, in the same payload, with model \p id_model
     * (e.g. uniform over the tables). G = ceil(n / seg_rows) (0 for n = 0).
     */
    void encode_segmented(const uint8_t* sym,
                          std::size_t n,
                          unsigned streams,
                          std::size_t seg_rows,
                          const uint8_t* seg_ids,
                          unsigned table_stride,
                          unsigned id_model,
                          const uint32_t* offset,
                          const uint8_t* conditional,
                          std::vector<uint8_t>& out) const;

    /*!
     * \brief Inverse of encode_segmented; \p seg_ids receives the G ids (may be null).
     * Throws rans_error on an invalid payload (including a table id >= \p n_tables).
     */
    void decode_segmented(const uint8_t* payload,
                          std::size_t len,
                          std::size_t n,
                          unsigned streams,
                          std::size_t seg_rows,
                          unsigned n_tables,
                          unsigned table_stride,
                          unsigned id_model,
                          const uint32_t* offset,
                          const uint8_t* conditional,
                          uint8_t* out,
                          uint8_t* seg_ids) const;

    /*!
     * \brief Best table per segment (shortest ideal code) for F frames of n rows:
     * \p ids receives F * G table ids.
     */
    void choose_segments(const uint8_t* sym,
                         std::size_t frames,
                         std::size_t n,
                         unsigned streams,
                         std::size_t seg_rows,
                         unsigned n_tables,
                         unsigned table_stride,
                         const uint32_t* offset,
                         const uint8_t* conditional,
                         uint8_t* ids) const;

    //! Ideal code length in bits of a frame under the quantized models.
    double code_length_bits(const uint8_t* sym,
                            std::size_t n,
                            unsigned streams,
                            unsigned base,
                            const uint32_t* offset,
                            const uint8_t* conditional) const;

private:
    unsigned d_n_models, d_alphabet, d_precision;
    std::vector<uint32_t> d_freq; // n_models x M
    std::vector<uint32_t> d_cum;  // n_models x (M + 1)
    std::vector<float> d_cost;    // n_models x M: -log2(freq / 2^precision) bits
    std::vector<uint32_t> d_f0;   // n_models: frequency of symbol 0 (see decode_impl)

    // costs of the candidate tables laid out contiguously per symbol context, for
    // choose_segments; built on first use for one (tables, stride, layout) and kept
    struct cost_cache {
        std::vector<uint32_t> key;
        std::vector<float> ct;
    };
    mutable std::mutex d_cache_mutex;
    mutable std::shared_ptr<const cost_cache> d_cache;
    std::shared_ptr<const cost_cache> table_costs(unsigned n_tables,
                                                  unsigned table_stride,
                                                  unsigned streams,
                                                  const uint32_t* offset,
                                                  const uint8_t* conditional,
                                                  uint32_t rel_models) const;

    void encode_impl(const uint8_t* sym,
                     std::size_t n,
                     unsigned streams,
                     const uint32_t* row_base,
                     const uint32_t* offset,
                     const uint8_t* conditional,
                     const uint8_t* pre,
                     std::size_t n_pre,
                     unsigned pre_model,
                     std::vector<uint8_t>& out) const;

    // g segment ids (model id_model, each < n_tables) first, then rows with base
    // id * table_stride per segment; g = 0: every row uses fixed_base
    void decode_impl(const uint8_t* payload,
                     std::size_t len,
                     std::size_t n,
                     unsigned streams,
                     const uint32_t* offset,
                     const uint8_t* conditional,
                     uint8_t* out,
                     std::size_t g,
                     std::size_t seg_rows,
                     unsigned id_model,
                     unsigned n_tables,
                     unsigned table_stride,
                     unsigned fixed_base,
                     uint8_t* seg_ids) const;

    void check_layout(std::size_t n,
                      unsigned streams,
                      unsigned base,
                      const uint32_t* offset,
                      const uint8_t* conditional) const;
};

} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_RANS_CODER_H */
