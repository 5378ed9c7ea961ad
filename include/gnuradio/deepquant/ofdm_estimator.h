/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_OFDM_ESTIMATOR_H
#define INCLUDED_DEEPQUANT_OFDM_ESTIMATOR_H

#include <gnuradio/deepquant/api.h>
#include <gnuradio/deepquant/ldpc_bp_decoder.h>
#include <gnuradio/deepquant/lmmse_detector.h>
#include <gnuradio/deepquant/qam_demapper.h>
#include <complex>
#include <cstddef>
#include <memory>
#include <vector>

namespace gr {
namespace deepquant {

/*!
 * \brief Per-packet OFDM channel / noise estimation, pilot phase tracking and header
 * decoding of the SISO receiver: the kernels behind ofdm_rx's header decoder,
 * ofdm_pilot_phase_tracker and ofdm_channel_noise_estimator. \ingroup deepquant
 *
 * The computations of gnuradio.deepquant.ofdm.estimation (estimate_channel,
 * refine_with_known, linear_phase_fit, pilot_correlations) and
 * gnuradio.deepquant.ofdm.header (decode_header, header_symbols), step for step in
 * float64, outputs equal to float rounding:
 *
 * - estimate(): per active carrier h_ls = sum conj(X) Y / sum |X|^2 (optionally every
 * row's common phase aligned to row ref_row first), then the weighted least-squares fit
 * of an impulse response on [-taps_pre, taps_post] samples, h = F (F^H W F)^-1 F^H W h_ls
 * with W = diag(sum |X|^2). F^H W F is Hermitian Toeplitz (its entries depend on the lag
 * difference only), so it is formed from 2L - 1 sums and solved by Cholesky. sigma^2 =
 * residual over the known cells / (N_obs - L); error variance per carrier sigma^2 diag(F
 * (F^H W F)^-1 F^H).
 * - refine(): decoder-aided re-estimation (refine_with_known): common phase per symbol
 * from the known (or posterior-mean) symbols and the pilots, weighted straight-line fit,
 * removed; then estimate() over the symbols (each cell weighted by 1 / sqrt(1 + |h|^2
 * Var[x] / sigma^2)) and the preamble estimate as prior row.
 * - track(): pilot common-phase tracking (ofdm_pilot_phase_tracker).
 * - decode_header(): channel from the two sync words, maximum-ratio combining of the
 * header's three replicas, CRC-8 (x^8 + x^2 + x + 1), and with the CRC passed the channel
 * again with the header symbols known.
 *
 * Vectors are fft-shifted rows of fft_len (carrier k at position k + fft_len / 2). The
 * matrices are small (L <= 64 taps, one packet per call): portable scalar code, no
 * instruction-set paths. The fit's factors are memoised per weights (the sync words' and
 * header's repeat every packet; a small, mutex-guarded cache: concurrent calls from
 * several blocks are safe). Methods returning bool return false when the fit's normal
 * matrix is not positive definite (or inputs are not finite); outputs are then
 * unspecified and callers use the numeric core.
 */
class DEEPQUANT_API ofdm_estimator
{
public:
    /*!
     * \param fft_len FFT size (even).
     * \param active all used carriers (data and pilots) relative to DC, sorted.
     * \param data data carriers relative to DC (header and payload order).
     * \param pilots pilot carriers relative to DC. \param pilot_symbols one per pilot.
     */
    ofdm_estimator(int fft_len,
                   const std::vector<int>& active,
                   const std::vector<int>& data,
                   const std::vector<int>& pilots,
                   const std::vector<std::complex<double>>& pilot_symbols);

    int fft_len() const { return d_n; }
    int n_data() const { return int(d_data_pos.size()); }

    /*!
     * estimation.estimate_channel(y, x, layout, taps_pre, taps_post, ref_row,
     * per_carrier=True). \param y, x n_rows x fft_len received and known symbols (x == 0:
     * unknown). \param ref_row row whose common phase every row is aligned to, -1 for
     * none. \param h fft_len estimate out (0 off the active carriers). \param err_k
     * fft_len per-carrier error variance out (0 off the active carriers), or nullptr.
     */
    bool estimate(const std::complex<double>* y,
                  const std::complex<double>* x,
                  int n_rows,
                  int taps_pre,
                  int taps_post,
                  int ref_row,
                  std::complex<float>* h,
                  double* noise_var,
                  double* err_var,
                  double* err_k) const;

    /*!
     * estimation.refine_with_known(y, h, noise_var, err_var, x_known, layout, taps_pre,
     * taps_post, x_var, per_carrier=True).
     * \param y n_rows x fft_len payload symbols. \param h fft_len preamble estimate.
     * \param x_known n_rows x fft_len known / posterior-mean symbols (pilots are set
     * here). \param x_var n_rows x fft_len posterior variances, or nullptr (all exactly
     * known). \param y_out, h_out, err_out, err_k the phase-corrected symbols, the new
     * estimate, its mean and per-carrier error variance.
     */
    bool refine(const std::complex<float>* y,
                int n_rows,
                const std::complex<float>* h,
                double noise_var,
                double err_var,
                const std::complex<double>* x_known,
                const double* x_var,
                int taps_pre,
                int taps_post,
                std::complex<float>* y_out,
                std::complex<float>* h_out,
                double* err_out,
                double* err_k) const;

    /*!
     * ofdm_channel_noise_estimator's decoder-aided re-estimation of one frame, all rounds
     * in one call: per round the data carriers are demapped (exact LLRs, h[data], sigma^2
     * (1 + err_factor)) and LDPC-decoded (max_iter iterations); codewords whose parity
     * checks all hold give their symbols exactly, the others (soft) posterior means and
     * variances from the decoder's a-posteriori LLRs (estimation.decoded_symbols,
     * mapping.soft_symbols) or nothing; then refine() from the preamble estimate h with
     * the newest decisions. Stops after \p rounds, when every codeword validated, or (not
     * soft) when none did. \param demapper, decoder the kernels (decoder of the 648-bit
     * code). \param points the constellation (2^K points in label order, b0 = MSB).
     * \param y n_rows x fft_len payload symbols; \param h fft_len preamble estimate.
     * \param err_factor the preamble estimate's error variance / sigma^2.
     * \param y_out, h_out, err_factor_out the frame after the last round;
     * \param err_k_data its per-data-carrier error variance; \param n_known validated
     * codewords of the last round; \param refined whether any round re-estimated (else
     * the outputs are the inputs).
     */
    bool feedback(const qam_demapper& demapper,
                  const ldpc_bp_decoder& decoder,
                  const std::complex<double>* points,
                  const std::complex<float>* y,
                  int n_rows,
                  const std::complex<float>* h,
                  double noise_var,
                  double err_factor,
                  int max_iter,
                  int rounds,
                  bool soft,
                  int taps_post,
                  std::complex<float>* y_out,
                  std::complex<float>* h_out,
                  double* err_factor_out,
                  double* err_k_data,
                  int* n_known,
                  bool* refined) const;

    /*!
     * ofdm.mimo.refine_with_symbols: decoder-aided re-estimation of a MIMO-OFDM packet
     * (every stream sends the layout's pilots). Common phase per symbol from the known /
     * soft cells and the pilots (weighted line), removed; per receive chain the joint
     * weighted least-squares fit of the nt impulse responses with the preamble estimate
     * as prior (normal equations Toeplitz in each (j, i) block, Cholesky); per-carrier
     * error of the new estimate. \param y nr x n_rows x fft_len payload symbols (common
     * phase already tracked). \param h fft_len x nr x nt preamble estimate. \param
     * err_var nt error variances (columns). \param x_mean, x_var n_rows x n_data x nt
     * posterior means and variances. \param y_out nr x n_rows x fft_len, \param h_out
     * fft_len x nr x nt, \param err_data n_data: sum over the columns of the new
     * estimate's error variance per data carrier (mean over the chains).
     */
    bool refine_mimo(const std::complex<double>* y,
                     int nr,
                     int n_rows,
                     const std::complex<float>* h,
                     int nt,
                     double noise_var,
                     const double* err_var,
                     const std::complex<double>* x_mean,
                     const double* x_var,
                     int taps_pre,
                     int taps_post,
                     std::complex<float>* y_out,
                     std::complex<float>* h_out,
                     double* err_data) const;

    /*!
     * mimo_ofdm_payload_estimator's pilot phase tracking and decoder-aided re-estimation
     * of one packet, all rounds in one call. Tracking (ofdm.mimo.payload_channel_uses):
     * c_t = sum over chains and pilots of y conj(s_p sum_j h[p, r, j]), phases = the
     * weighted line (linear_phase_fit(c, t0)) or 0 (not tracking), removed. Then per
     * round: LMMSE detection of every data channel use (h[data], noise variance eff per
     * carrier, starting at \p noise_eff), LDPC decoding, validated / posterior-mean
     * symbols (as feedback()), refine_mimo() from the preamble estimate; eff = sigma^2 +
     * the refined estimate's error per carrier. Stops after \p rounds or when every
     * codeword validated. \param ys nr x n_rows x fft_len payload symbols; \param h
     * fft_len x nr x nt preamble estimate (columns aligned); \param err_var nt column
     * error variances; \param t0 index of the first payload symbol on the phase fit's
     * time axis. \param y_uses (n_rows * n_data) x nr channel uses out (symbol-major);
     * \param h_data n_data x nr x nt; \param eff n_data; \param n_known validated
     * codewords (last round).
     */
    bool feedback_mimo(const lmmse_detector& detector,
                       const ldpc_bp_decoder& decoder,
                       const std::complex<double>* points,
                       const std::complex<float>* ys,
                       int nr,
                       int n_rows,
                       const std::complex<float>* h,
                       int nt,
                       double noise_var,
                       const double* err_var,
                       double noise_eff,
                       double t0,
                       bool tracking,
                       int max_iter,
                       int rounds,
                       int taps_pre,
                       int taps_post,
                       std::complex<float>* y_uses,
                       std::complex<float>* h_data,
                       double* eff,
                       int* n_known) const;

    /*!
     * ofdm_pilot_phase_tracker's step: c_t = sum_p conj(h_p s_p) y_t[p], phases = the
     * weighted line through them (linear_fit, estimation.linear_phase_fit) or their
     * angles; out = y exp(-j phase) (complex64 rotation). Rows with non-finite samples
     * are output as 0. \return the number of rows output as 0.
     */
    std::size_t track(const std::complex<float>* y,
                      int n_rows,
                      const std::complex<float>* h,
                      bool linear_fit,
                      std::complex<float>* out,
                      double* phases) const;

    /*!
     * ofdm_rx's header_decoder for one packet.
     * \param ys (2 + n_hdr) x fft_len: sync word 1, sync word 2, n_hdr header symbols.
     * \param x_sync 2 x fft_len known sync words.
     * \return 1: CRC passed (packet_num, n_codewords and the estimate from all rows set);
     * 0: CRC failed; -1: a fit failed (not positive definite / non-finite).
     */
    int decode_header(const std::complex<float>* ys,
                      int n_hdr,
                      const std::complex<float>* x_sync,
                      int taps_pre,
                      int taps_post,
                      int* packet_num,
                      int* n_codewords,
                      std::complex<float>* h,
                      double* noise_var,
                      double* err_var) const;

    /*!
     * mimo_ofdm_header_decoder for one packet (ofdm.mimo: ltf_estimate, header_mrc,
     * header.decode_header, residual_cfo_align, refine_column0).
     * \param ys nr x (1 + nt + n_hdr) x fft_len: per receive chain the Schmidl & Cox
     * word, the nt training symbols (symbol 1 + j: stream j alone sends sync word 2), the
     * header symbols. \param w2 fft_len sync word 2. \param refine column 0 again with
     * the decoded header. \param h fft_len x nr x nt out; \param err_cols nt out; \param
     * phi residual CFO per symbol. \return 1: CRC passed (all outputs set); 0: CRC
     * failed; -1: a fit failed.
     */
    int decode_header_mimo(const std::complex<float>* ys,
                           int nr,
                           int nt,
                           int n_hdr,
                           const std::complex<float>* w2,
                           int taps_pre,
                           int taps_post,
                           bool refine,
                           int* packet_num,
                           int* n_codewords,
                           std::complex<float>* h,
                           double* noise_var,
                           double* err_var,
                           double* err_cols,
                           double* phi) const;

    /*!
     * header.decode_header: MRC statistics z (n values, replicas every 32) -> true and
     * the fields when the CRC-8 holds.
     */
    static bool
    header_fields(const double* z, std::size_t n, int* packet_num, int* n_codewords);

    //! header.header_symbols: n BPSK symbols (bit 0 -> -1) of the repeated 32 header
    //! bits.
    static void
    header_symbols(int packet_num, int n_codewords, std::size_t n, double* out);

    //! estimation.linear_phase_fit(c, t0): unwrapped angles, weighted (|c|^2) straight
    //! line.
    static void
    linear_phase_fit(const std::complex<double>* c, int n, double t0, double* phi);

private:
    int d_n, d_k;
    std::vector<int> d_act_pos, d_act_k, d_data_pos, d_pilot_pos;
    std::vector<int> d_data_act,
        d_pilot_act; // index of each data / pilot carrier among the active
    std::vector<std::complex<double>> d_pilot_sym;
    std::vector<std::complex<double>>
        d_e; // exp(-2 pi j m / fft_len), m = 0 .. fft_len - 1
    struct factor;
    struct factor_cache;
    std::shared_ptr<factor_cache> d_cache; // thread-safe (its own mutex)

    // the fit on the active carriers: Y, X n_rows x K (gathered); h K, lev K per-carrier
    // leverages diag(F A^-1 F^H) (nullptr: not needed)
    bool fit(std::vector<std::complex<double>>& Y,
             const std::vector<std::complex<double>>& X,
             int n_rows,
             int taps_pre,
             int taps_post,
             int ref_row,
             std::complex<double>* h,
             double* nv,
             double* mean_lev,
             double* lev) const;
    std::complex<double> basis(int i, int lag) const;
    std::vector<std::complex<double>> basis_table(int n_taps) const;
    std::shared_ptr<const factor>
    factorize(const std::vector<double>& d, int taps_pre, int taps_post) const;
    double mean_leverage(int taps_pre, int taps_post) const;
    void symbols(const ldpc_bp_decoder& decoder,
                 const std::complex<double>* points,
                 int k,
                 const float* llr,
                 int n_cw,
                 int max_iter,
                 bool soft,
                 std::complex<double>* mean,
                 double* var,
                 uint8_t* ok) const;
};

} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_OFDM_ESTIMATOR_H */
