/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
// Byte-wise rANS (asymmetric numeral systems, range variant) with a 32-bit state, after
// J. Duda, "Asymmetric numeral systems", 2013, in the byte-renormalising form: the state
// x stays in [L, 256 L) with L = 2^23 between symbols. Written for this module (static
// models only).

#include <gnuradio/deepquant/rans_coder.h>
#include <algorithm>
#include <cmath>
#include <numeric>

namespace gr {
namespace deepquant {

namespace {
constexpr uint32_t RANS_L = 1u << 23; // lower bound of the normalised state
// The encoder starts from state 1 instead of L: until its state first needs renormalising
// it emits nothing, so the ~23 bits a start at L would carry (and the final flush would
// repeat) are not spent (about 3 bytes per frame). The decoder mirrors this: it refills
// only while payload bytes are left, and a valid payload ends in state 1 with every byte
// consumed.
constexpr uint32_t RANS_X0 = 1;

// Quantize one probability row to integer frequencies summing to total, each >= 1.
// Largest-remainder rounding of p * (total - M) on top of the floor of 1 per symbol keeps
// the Kullback-Leibler cost tiny for the alphabets used here (<= 256 symbols, total >=
// 2^8 M).
void quantize_row(const double* p, unsigned m, uint32_t total, uint32_t* f)
{
    double s = 0.0;
    for (unsigned i = 0; i < m; i++) {
        if (!std::isfinite(p[i]) || p[i] < 0.0)
            throw std::invalid_argument(
                "rans_coder: probabilities must be finite and >= 0");
        s += p[i];
    }
    if (!(s > 0.0))
        throw std::invalid_argument("rans_coder: a probability row sums to 0");
    const uint32_t spare = total - m;
    std::vector<std::pair<double, unsigned>> rem(m);
    uint32_t used = 0;
    for (unsigned i = 0; i < m; i++) {
        const double v = p[i] / s * spare;
        const uint32_t fl = uint32_t(std::floor(v));
        f[i] = 1 + fl;
        used += fl;
        rem[i] = { v - fl, i };
    }
    uint32_t left = spare - used; // < m
    std::stable_sort(rem.begin(), rem.end(), [](const auto& a, const auto& b) {
        return a.first > b.first;
    });
    for (unsigned j = 0; j < left; j++)
        f[rem[j].second] += 1;
}
} // namespace

rans_coder::rans_coder(const std::vector<double>& probs,
                       unsigned n_models,
                       unsigned alphabet,
                       unsigned precision)
    : d_n_models(n_models), d_alphabet(alphabet), d_precision(precision)
{
    if (alphabet < 2 || alphabet > max_alphabet)
        throw std::invalid_argument("rans_coder: alphabet must be in 2..256, got " +
                                    std::to_string(alphabet));
    if (precision < 8 || precision > 16)
        throw std::invalid_argument("rans_coder: precision must be in 8..16, got " +
                                    std::to_string(precision));
    if ((1u << precision) < 2u * alphabet)
        throw std::invalid_argument("rans_coder: precision too low for the alphabet");
    if (n_models == 0)
        throw std::invalid_argument("rans_coder: need at least one model");
    if (probs.size() != std::size_t(n_models) * alphabet)
        throw std::invalid_argument("rans_coder: got " + std::to_string(probs.size()) +
                                    " probabilities, expected n_models x alphabet = " +
                                    std::to_string(std::size_t(n_models) * alphabet));
    d_freq.resize(std::size_t(n_models) * alphabet);
    d_cum.resize(std::size_t(n_models) * (alphabet + 1));
    d_cost.resize(std::size_t(n_models) * alphabet);
    d_f0.resize(n_models);
    const uint32_t total = 1u << precision;
    for (unsigned k = 0; k < n_models; k++) {
        uint32_t* f = &d_freq[std::size_t(k) * alphabet];
        quantize_row(&probs[std::size_t(k) * alphabet], alphabet, total, f);
        d_f0[k] = f[0];
        uint32_t* c = &d_cum[std::size_t(k) * (alphabet + 1)];
        c[0] = 0;
        for (unsigned i = 0; i < alphabet; i++) {
            c[i + 1] = c[i] + f[i];
            d_cost[std::size_t(k) * alphabet + i] =
                float(precision - std::log2(double(f[i])));
        }
    }
}

uint32_t rans_coder::freq(unsigned model, unsigned symbol) const
{
    if (model >= d_n_models || symbol >= d_alphabet)
        throw std::out_of_range("rans_coder::freq: model or symbol out of range");
    return d_freq[std::size_t(model) * d_alphabet + symbol];
}

void rans_coder::check_layout(std::size_t n,
                              unsigned streams,
                              unsigned base,
                              const uint32_t* offset,
                              const uint8_t* conditional) const
{
    (void)n;
    if (streams == 0)
        throw std::invalid_argument("rans_coder: need at least one stream");
    for (unsigned s = 0; s < streams; s++) {
        const uint64_t hi =
            uint64_t(base) + offset[s] + (conditional[s] ? d_alphabet - 1 : 0);
        if (hi >= d_n_models)
            throw std::invalid_argument("rans_coder: stream " + std::to_string(s) +
                                        " reaches model " + std::to_string(hi) + " of " +
                                        std::to_string(d_n_models));
        if (conditional[s] && s == 0)
            throw std::invalid_argument("rans_coder: stream 0 cannot be conditional");
    }
}

void rans_coder::encode_impl(const uint8_t* sym,
                             std::size_t n,
                             unsigned streams,
                             const uint32_t* row_base,
                             const uint32_t* offset,
                             const uint8_t* conditional,
                             const uint8_t* pre,
                             std::size_t n_pre,
                             unsigned pre_model,
                             std::vector<uint8_t>& out) const
{
    const std::size_t total = n * streams;
    for (std::size_t i = 0; i < total; i++)
        if (sym[i] >= d_alphabet)
            throw std::invalid_argument("rans_coder: symbol " + std::to_string(sym[i]) +
                                        " outside the alphabet of " +
                                        std::to_string(d_alphabet));
    for (std::size_t i = 0; i < n_pre; i++)
        if (pre[i] >= d_alphabet)
            throw std::invalid_argument("rans_coder: prefix symbol outside the alphabet");
    // rANS is last-in first-out: encode in reverse decoding order, emitting bytes
    // backwards.
    std::vector<uint8_t> rev;
    rev.reserve(total + n_pre + 8);
    uint32_t x = RANS_X0;
    const unsigned prec = d_precision;
    const unsigned m = d_alphabet;
    auto put = [&](std::size_t model, unsigned v) {
        const uint32_t f = d_freq[model * m + v];
        const uint32_t c = d_cum[model * (m + 1) + v];
        const uint32_t x_max = ((RANS_L >> prec) << 8) * f;
        while (x >= x_max) {
            rev.push_back(uint8_t(x & 0xff));
            x >>= 8;
        }
        x = ((x / f) << prec) + (x % f) + c;
    };
    for (unsigned s = streams; s-- > 0;) {
        const bool cond = conditional[s] != 0;
        for (std::size_t i = n; i-- > 0;) {
            const std::size_t model = std::size_t(row_base[i]) + offset[s] +
                                      (cond ? sym[i * streams + s - 1] : 0);
            put(model, sym[i * streams + s]);
        }
    }
    for (std::size_t i = n_pre; i-- > 0;)
        put(pre_model, pre[i]);
    // final state, most significant byte first in the forward stream
    for (int k = 0; k < 4; k++) {
        rev.push_back(uint8_t(x & 0xff));
        x >>= 8;
    }
    out.insert(out.end(), rev.rbegin(), rev.rend());
}

void rans_coder::encode_rows(const uint8_t* sym,
                             std::size_t n,
                             unsigned streams,
                             unsigned base,
                             const uint32_t* offset,
                             const uint8_t* conditional,
                             std::vector<uint8_t>& out) const
{
    check_layout(n, streams, base, offset, conditional);
    std::vector<uint32_t> rb(n, base);
    encode_impl(sym, n, streams, rb.data(), offset, conditional, nullptr, 0, 0, out);
}

namespace {
std::size_t n_segments(std::size_t n, std::size_t seg_rows)
{
    if (seg_rows == 0)
        throw std::invalid_argument("rans_coder: seg_rows must be >= 1");
    return (n + seg_rows - 1) / seg_rows;
}
} // namespace

void rans_coder::encode_segmented(const uint8_t* sym,
                                  std::size_t n,
                                  unsigned streams,
                                  std::size_t seg_rows,
                                  const uint8_t* seg_ids,
                                  unsigned table_stride,
                                  unsigned id_model,
                                  const uint32_t* offset,
                                  const uint8_t* conditional,
                                  std::vector<uint8_t>& out) const
{
    const std::size_t g = n_segments(n, seg_rows);
    if (id_model >= d_n_models)
        throw std::invalid_argument("rans_coder: id model out of range");
    std::vector<uint32_t> rb(n);
    for (std::size_t j = 0; j < g; j++) {
        const uint32_t base = uint32_t(seg_ids[j]) * table_stride;
        check_layout(n, streams, base, offset, conditional);
        for (std::size_t i = j * seg_rows; i < std::min(n, (j + 1) * seg_rows); i++)
            rb[i] = base;
    }
    if (streams == 0)
        throw std::invalid_argument("rans_coder: need at least one stream");
    encode_impl(
        sym, n, streams, rb.data(), offset, conditional, seg_ids, g, id_model, out);
}

void rans_coder::decode_impl(const uint8_t* payload,
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
                             uint8_t* seg_ids) const
{
    // Early rejection. Every check below is a necessary condition of a payload made by
    // encode_impl, derived from the encoder's invariants, so no valid payload is refused:
    //  (a) every encoder state is < 2^31 (it starts at RANS_X0 and put() keeps x below
    //      x_max / f * 2^prec = 2^31), so the final state read first is too;
    //  (b) the decoder reads bytes in the step where the encoder emitted them; the step
    //  that
    //      reads the last payload byte undoes the encoder's first emission, which
    //      happened because its state was >= x_max(f) of that symbol;
    //  (c) once every byte is read the state is the encoder's state before it first
    //  emitted:
    //      it never grows again (x' = f (x >> prec) + slot - c <= x), 0 stays 0, and a
    //      state below f0 (the frequency of symbol 0, whose cumulative frequency is 0)
    //      decodes symbol 0 and stays unchanged. A valid payload ends in RANS_X0 = 1, so
    //      a state of 0, or a state other than 1 below every symbol-0 frequency the frame
    //      can still use (it can never change again), proves the payload invalid before
    //      its last symbol.
    // A forged symbol count thus costs about the symbols its bytes hold, not the count.
    if (len < 4)
        throw rans_error("rans payload of " + std::to_string(len) +
                         " bytes is shorter than the 4-byte final state");
    std::size_t pos = 0;
    uint32_t x = 0;
    for (int k = 0; k < 4; k++)
        x = (x << 8) | payload[pos++];
    if (x < RANS_X0 || x >= (RANS_L << 8))
        throw rans_error("rans payload starts with an impossible coder state");
    const unsigned prec = d_precision;
    const uint32_t mask = (1u << prec) - 1;
    const unsigned m = d_alphabet;
    const uint32_t x_max_unit = (RANS_L >> prec) << 8;
    // models a frame can use from a base on: [base, base + rel_models)
    uint32_t rel_models = 0;
    for (unsigned s = 0; s < streams; s++)
        rel_models = std::max(rel_models, offset[s] + (conditional[s] ? m : 1u));
    std::vector<uint32_t> rb(n, fixed_base);
    bool ids_known = g == 0; // the row bases are final
    uint32_t f0_floor = 0;   // 0: not computed yet
    auto floor_of_frame = [&]() -> uint32_t {
        // smallest symbol-0 frequency over the models this frame can still use
        uint32_t lo = UINT32_MAX;
        auto scan = [&](uint32_t base) {
            const uint32_t* f0 = &d_f0[base];
            for (uint32_t k = 0; k < rel_models; k++)
                lo = std::min(lo, f0[k]);
        };
        if (!ids_known) {
            lo = d_f0[id_model];
            for (uint32_t t = 0; t < n_tables; t++)
                scan(t * table_stride);
        } else if (g == 0) {
            scan(fixed_base);
        } else {
            std::vector<uint8_t> used(n_tables, 0);
            for (std::size_t j = 0; j < g; j++)
                used[rb[j * seg_rows] / table_stride] = 1;
            for (uint32_t t = 0; t < n_tables; t++)
                if (used[t])
                    scan(t * table_stride);
        }
        return lo;
    };
    auto exhausted_check = [&]() {
        if (x == 0)
            throw rans_error(
                "corrupted rans payload: the coder state reached 0 with symbols left");
        if (x != RANS_X0 && x < (1u << prec)) { // every f0 is < 2^prec
            if (f0_floor == 0)
                f0_floor = floor_of_frame();
            if (x < f0_floor)
                throw rans_error("corrupted rans payload: the coder state is stuck at " +
                                 std::to_string(x) + " with every byte read");
        }
    };
    if (pos == len && n > 0)
        exhausted_check();
    // the hot path is the plain decoder; the checks run once bytes are out (cold, not
    // inlined)
    auto search = [&](const uint32_t* c, uint32_t slot) -> unsigned {
        unsigned lo = 0, hi = m;
        while (hi - lo > 1) {
            const unsigned mid = (lo + hi) >> 1;
            if (c[mid] <= slot)
                lo = mid;
            else
                hi = mid;
        }
        return lo;
    };
    auto get_exhausted = [&](std::size_t model) __attribute__((noinline))->unsigned
    {
        const uint32_t* c = &d_cum[model * (m + 1)];
        if (x < c[1]) // symbol 0, state unchanged
            return 0;
        const uint32_t slot = x & mask;
        const unsigned lo = search(c, slot);
        x = (c[lo + 1] - c[lo]) * (x >> prec) + slot - c[lo];
        exhausted_check();
        return lo;
    };
    auto last_byte_read = [&](uint32_t f) __attribute__((noinline))
    {
        if (x < x_max_unit * f)
            throw rans_error(
                "corrupted rans payload: its last byte does not renormalise the "
                "coder state");
        exhausted_check();
    };
    auto get = [&](std::size_t model) -> unsigned {
        if (__builtin_expect(pos == len, 0))
            return get_exhausted(model);
        const uint32_t* c = &d_cum[model * (m + 1)];
        const uint32_t slot = x & mask;
        const unsigned lo = search(c, slot);
        const uint32_t f = c[lo + 1] - c[lo];
        x = f * (x >> prec) + slot - c[lo];
        while (x < RANS_L && pos < len)
            x = (x << 8) | payload[pos++];
        if (__builtin_expect(pos == len, 0))
            last_byte_read(f);
        return lo;
    };
    for (std::size_t j = 0; j < g; j++) {
        const unsigned t = get(id_model);
        if (t >= n_tables)
            throw rans_error("corrupted rans payload: segment table id " +
                             std::to_string(t) + " >= " + std::to_string(n_tables) +
                             " tables");
        if (seg_ids)
            seg_ids[j] = uint8_t(t);
        for (std::size_t i = j * seg_rows; i < std::min(n, (j + 1) * seg_rows); i++)
            rb[i] = uint32_t(t) * table_stride;
    }
    if (!ids_known) {
        ids_known = true;
        f0_floor = 0; // recomputed over the tables the segments use
    }
    for (unsigned s = 0; s < streams; s++) {
        const bool cond = conditional[s] != 0;
        for (std::size_t i = 0; i < n; i++) {
            const std::size_t model =
                std::size_t(rb[i]) + offset[s] + (cond ? out[i * streams + s - 1] : 0);
            out[i * streams + s] = uint8_t(get(model));
        }
    }
    if (x != RANS_X0)
        throw rans_error(
            "corrupted or truncated rans payload: the coder does not end in its "
            "initial state");
    if (pos != len)
        throw rans_error("rans payload has " + std::to_string(len - pos) +
                         " bytes after the last symbol");
}


void rans_coder::decode_segmented(const uint8_t* payload,
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
                                  uint8_t* seg_ids) const
{
    const std::size_t g = n_segments(n, seg_rows);
    if (id_model >= d_n_models)
        throw std::invalid_argument("rans_coder: id model out of range");
    if (n_tables == 0)
        throw std::invalid_argument("rans_coder: n_tables must be >= 1");
    check_layout(n, streams, (n_tables - 1) * table_stride, offset, conditional);
    decode_impl(payload,
                len,
                n,
                streams,
                offset,
                conditional,
                out,
                g,
                seg_rows,
                id_model,
                n_tables,
                table_stride,
                0,
                seg_ids);
}

std::shared_ptr<const rans_coder::cost_cache>
rans_coder::table_costs(unsigned n_tables,
                        unsigned table_stride,
                        unsigned streams,
                        const uint32_t* offset,
                        const uint8_t* conditional,
                        uint32_t rel_models) const
{
    std::vector<uint32_t> key = { n_tables, table_stride, streams, rel_models };
    for (unsigned s = 0; s < streams; s++) {
        key.push_back(offset[s]);
        key.push_back(conditional[s]);
    }
    std::lock_guard<std::mutex> lock(d_cache_mutex);
    if (d_cache && d_cache->key == key)
        return d_cache;
    auto c = std::make_shared<cost_cache>();
    c->key = std::move(key);
    // rows padded to a multiple of 8 candidates (padding costs 1e30: never chosen) so
    // that the accumulation is whole AVX vectors
    const std::size_t m = d_alphabet, nb = n_tables, cells = std::size_t(rel_models) * m;
    const std::size_t nbp = (nb + 7) / 8 * 8;
    c->ct.assign(cells * nbp, 1e30f);
    for (std::size_t cell = 0; cell < cells; cell++)
        for (std::size_t b = 0; b < nb; b++)
            c->ct[cell * nbp + b] = d_cost[(b * table_stride) * m + cell];
    d_cache = c;
    return d_cache;
}

void rans_coder::choose_segments(const uint8_t* sym,
                                 std::size_t frames,
                                 std::size_t n,
                                 unsigned streams,
                                 std::size_t seg_rows,
                                 unsigned n_tables,
                                 unsigned table_stride,
                                 const uint32_t* offset,
                                 const uint8_t* conditional,
                                 uint8_t* ids) const
{
    const std::size_t g = n_segments(n, seg_rows);
    if (n_tables == 0 || n_tables > 256)
        throw std::invalid_argument("rans_coder: n_tables must be in 1..256");
    check_layout(n, streams, (n_tables - 1) * table_stride, offset, conditional);
    const unsigned m = d_alphabet;
    for (std::size_t i = 0; i < frames * n * streams; i++)
        if (sym[i] >= m)
            throw std::invalid_argument("rans_coder: symbol outside the alphabet");
    uint32_t rel_models = 0;
    for (unsigned s = 0; s < streams; s++)
        rel_models = std::max(rel_models, offset[s] + (conditional[s] ? m : 1u));
    const std::size_t nb = n_tables, cells = std::size_t(rel_models) * m;
    (void)cells;
    const auto cache =
        table_costs(n_tables, table_stride, streams, offset, conditional, rel_models);
    const std::vector<float>& ct = cache->ct;
    const std::size_t nbp = (nb + 7) / 8 * 8;
    std::vector<float> acc(nbp);
    for (std::size_t f = 0; f < frames; f++) {
        const uint8_t* fs = sym + f * n * streams;
        for (std::size_t j = 0; j < g; j++) {
            std::fill(acc.begin(), acc.end(), 0.0f);
            float* __restrict a = acc.data();
            const std::size_t i1 = std::min(n, (j + 1) * seg_rows);
            for (unsigned s = 0; s < streams; s++) {
                const bool cond = conditional[s] != 0;
                for (std::size_t i = j * seg_rows; i < i1; i++) {
                    const std::size_t rel =
                        (std::size_t(offset[s]) + (cond ? fs[i * streams + s - 1] : 0)) *
                            m +
                        fs[i * streams + s];
                    const float* __restrict row = &ct[rel * nbp];
                    for (std::size_t b = 0; b < nbp; b++)
                        a[b] += row[b];
                }
            }
            ids[f * g + j] =
                uint8_t(std::min_element(acc.begin(), acc.begin() + nb) - acc.begin());
        }
    }
}

void rans_coder::decode_rows(const uint8_t* payload,
                             std::size_t len,
                             std::size_t n,
                             unsigned streams,
                             unsigned base,
                             const uint32_t* offset,
                             const uint8_t* conditional,
                             uint8_t* out) const
{
    check_layout(n, streams, base, offset, conditional);
    decode_impl(
        payload, len, n, streams, offset, conditional, out, 0, 1, 0, 0, 0, base, nullptr);
}

std::size_t rans_coder::choose_base(const uint8_t* sym,
                                    std::size_t n,
                                    unsigned streams,
                                    const uint32_t* bases,
                                    std::size_t n_bases,
                                    const uint32_t* offset,
                                    const uint8_t* conditional) const
{
    if (n_bases == 0)
        throw std::invalid_argument("rans_coder::choose_base: no candidate bases");
    for (std::size_t b = 0; b < n_bases; b++)
        check_layout(n, streams, bases[b], offset, conditional);
    const unsigned m = d_alphabet;
    for (std::size_t i = 0; i < n * streams; i++)
        if (sym[i] >= m)
            throw std::invalid_argument("rans_coder: symbol outside the alphabet");
    // cost of every candidate accumulated in one pass over the symbols
    std::vector<float> acc(n_bases, 0.0f);
    for (unsigned s = 0; s < streams; s++) {
        const bool cond = conditional[s] != 0;
        for (std::size_t i = 0; i < n; i++) {
            const std::size_t rel =
                (std::size_t(offset[s]) + (cond ? sym[i * streams + s - 1] : 0)) * m +
                sym[i * streams + s];
            for (std::size_t b = 0; b < n_bases; b++)
                acc[b] += d_cost[std::size_t(bases[b]) * m + rel];
        }
    }
    return std::size_t(std::min_element(acc.begin(), acc.end()) - acc.begin());
}

void rans_coder::choose_bases(const uint8_t* sym,
                              std::size_t frames,
                              std::size_t n,
                              unsigned streams,
                              const uint32_t* bases,
                              std::size_t n_bases,
                              const uint32_t* offset,
                              const uint8_t* conditional,
                              int64_t* out) const
{
    if (frames < 16 || n_bases < 2) {
        for (std::size_t f = 0; f < frames; f++)
            out[f] = int64_t(choose_base(
                sym + f * n * streams, n, streams, bases, n_bases, offset, conditional));
        return;
    }
    if (n_bases == 0)
        throw std::invalid_argument("rans_coder::choose_bases: no candidate bases");
    for (std::size_t b = 0; b < n_bases; b++)
        check_layout(n, streams, bases[b], offset, conditional);
    const unsigned m = d_alphabet;
    for (std::size_t i = 0; i < frames * n * streams; i++)
        if (sym[i] >= m)
            throw std::invalid_argument("rans_coder: symbol outside the alphabet");
    // relative models used by the layout: [offset[s], offset[s] + (cond ? m : 1))
    uint32_t rel_models = 0;
    for (unsigned s = 0; s < streams; s++)
        rel_models = std::max(rel_models, offset[s] + (conditional[s] ? m : 1u));
    const std::size_t nb = n_bases, cells = std::size_t(rel_models) * m;
    std::vector<float> ct(cells * nb);
    for (std::size_t c = 0; c < cells; c++)
        for (std::size_t b = 0; b < nb; b++)
            ct[c * nb + b] = d_cost[std::size_t(bases[b]) * m + c];
    std::vector<float> acc(nb);
    for (std::size_t f = 0; f < frames; f++) {
        const uint8_t* fs = sym + f * n * streams;
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (unsigned s = 0; s < streams; s++) {
            const bool cond = conditional[s] != 0;
            for (std::size_t i = 0; i < n; i++) {
                const std::size_t rel =
                    (std::size_t(offset[s]) + (cond ? fs[i * streams + s - 1] : 0)) * m +
                    fs[i * streams + s];
                const float* row = &ct[rel * nb];
                for (std::size_t b = 0; b < nb; b++)
                    acc[b] += row[b];
            }
        }
        out[f] = int64_t(std::min_element(acc.begin(), acc.end()) - acc.begin());
    }
}

double rans_coder::code_length_bits(const uint8_t* sym,
                                    std::size_t n,
                                    unsigned streams,
                                    unsigned base,
                                    const uint32_t* offset,
                                    const uint8_t* conditional) const
{
    check_layout(n, streams, base, offset, conditional);
    const unsigned m = d_alphabet;
    double bits = 0.0;
    for (unsigned s = 0; s < streams; s++) {
        const std::size_t mbase = std::size_t(base) + offset[s];
        for (std::size_t i = 0; i < n; i++) {
            const std::size_t model =
                mbase + (conditional[s] ? sym[i * streams + s - 1] : 0);
            const unsigned v = sym[i * streams + s];
            if (v >= m)
                throw std::invalid_argument("rans_coder: symbol outside the alphabet");
            bits += double(d_precision) - std::log2(double(d_freq[model * m + v]));
        }
    }
    return bits;
}

} // namespace deepquant
} // namespace gr
