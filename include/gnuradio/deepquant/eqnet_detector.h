/* -*- c++ -*- */
/*
 * Copyright 2026 gr-deepquant authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_DEEPQUANT_EQNET_DETECTOR_H
#define INCLUDED_DEEPQUANT_EQNET_DETECTOR_H

#include <gnuradio/deepquant/api.h>
#include <gnuradio/deepquant/ep_detector.h>
#include <complex>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace gr {
namespace deepquant {

/*!
 * \brief EQ-Net estimation mode on the CPU (Arvinte, Tewfik & Vishwanath, "EQ-Net: A
 * Unified Deep Learning Framework for Log-Likelihood Ratio Estimation and Quantization"):
 * the inference path of gnuradio.deepquant.eqnet.EQNetRuntime and of mimo_detector's
 * eqnet_l / eqnet_p. \ingroup deepquant
 *
 * Per channel use y (Nr), H (Nr x Nt, row-major), sigma^2: the features of
 * eqnet.models.EstimationEncoder.features (y and H real-flattened, real parts then
 * imaginary parts; [sigma, ln sigma^2]; with stats the LMMSE statistics of
 * eqnet.models.lmmse_features, computed in float64 by Cholesky), the estimation encoder
 * f_E (one ReLU input layer per feature group, concatenation, a ReLU fusion layer,
 * residual layers x <- x + relu(W x + b), a linear output to D latents) and the branched
 * decoder g (Nt K ReLU MLPs, one output each). LLR L = 2 clamp(h, -c, c) with h g's
 * pre-tanh output and c = atanh(float(1 - 1e-6)) (the clamp of
 * eqnet.models.softbit_to_llr without its float32 tanh/atanh round trip), L = ln
 * P(b=1)/P(b=0), stream-major.
 *
 * EP-input mode (arch est_stats "lmmse+ep", constructed with an ep_detector and f_Q's
 * layers): the statistics are followed by the soft bits tanh(L/2) of the ep_detector's
 * float32 LLRs (tanh in float64, as eqnet.models.ep_softbits), in_x takes them too, and
 * f_E's output is the residual form z = out(trunk) + tanh(f_Q(soft bits)), f_Q the
 * quantization encoder (ReLU hidden layers, a linear output to D latents, tanh). The EP
 * soft bits are computed per chunk of 256 channel uses by ep_detector::detect.
 *
 * Channel uses are processed in tiles of 16 or 32 with activations stored feature-major
 * (one SIMD lane per channel use), so every layer is a sequence of broadcast-weight FMAs.
 * ISAs, chosen at run time: "avx512" (AVX-512F float32 FMAs), "avx2" (AVX2/FMA float32),
 * "avx512_bf16" (weights and layer inputs rounded to bfloat16, products accumulated in
 * float32 by VDPBF16PS; the residual stream, biases and outputs stay float32) and
 * "generic" (portable loops, float32). "auto" takes avx512, else avx2, else generic; bf16
 * is used only when asked for.
 *
 * Inputs must be finite with sigma^2 > 0 (callers sanitise first). const after
 * construction: safe to call from several threads.
 */
class DEEPQUANT_API eqnet_detector
{
public:
    /*!
     * \param nr, nt, k receive antennas, streams and bits per symbol (Nt K decoder
     * branches). \param stats f_E has the LMMSE-statistics input layer. \param weights,
     * biases the layers in this order, weights in torch's nn.Linear layout (out x in,
     * row-major): in_y, in_h, in_s, [in_x], fuse, n_residual residual layers, out; then
     * the decoder's dec_layers layers, each as torch's BranchedDecoder stores them:
     * weights (Nt K) x in x out, biases (Nt K) x out. \param dims per layer its (out, in)
     * pair, in the same order (2 entries per layer). \param n_residual residual layers of
     * f_E (EQ-Net-L: 6, EQ-Net-P: 18). \param dec_layers decoder layers per branch
     * (hidden layers + 1; the last has 1 output). Throws std::invalid_argument on
     * inconsistent shapes.
     */
    eqnet_detector(int nr,
                   int nt,
                   int k,
                   bool stats,
                   const std::vector<std::vector<float>>& weights,
                   const std::vector<std::vector<float>>& biases,
                   const std::vector<unsigned>& dims,
                   unsigned n_residual,
                   unsigned dec_layers);

    /*!
     * \brief EP-input mode (see above) when \p ep is not null: \p ep (same nr, nt and
     * bits per symbol; stats must be true) gives the soft bits, in_x takes 3 Nt + Nt (Nt
     * - 1) + Nt K inputs, and \p fq_weights, \p fq_biases, \p fq_dims are f_Q's layers
     * (torch nn.Linear layout, (out, in) per layer; the first takes Nt K inputs, the last
     * gives the latent dimension D). With a null \p ep the f_Q lists must be empty (the
     * LMMSE-statistics or plain mode of the constructor above).
     */
    eqnet_detector(int nr,
                   int nt,
                   int k,
                   bool stats,
                   const std::vector<std::vector<float>>& weights,
                   const std::vector<std::vector<float>>& biases,
                   const std::vector<unsigned>& dims,
                   unsigned n_residual,
                   unsigned dec_layers,
                   std::shared_ptr<const ep_detector> ep,
                   const std::vector<std::vector<float>>& fq_weights,
                   const std::vector<std::vector<float>>& fq_biases,
                   const std::vector<unsigned>& fq_dims);

    int nr() const { return d_nr; }
    int nt() const { return d_nt; }
    int bits_per_symbol() const { return d_k; }
    unsigned latent_dim() const { return d_latent; }
    //! true in EP-input mode (EP soft bits and f_Q).
    bool ep_input() const { return bool(d_ep); }
    //! multiply-accumulates per channel use (f_E, f_Q in EP-input mode, g; the LMMSE
    //! statistics and EP not counted).
    std::size_t macs_per_channel_use() const;

    /*!
     * \param y n x nr received vectors. \param h n x nr x nt channels (row-major).
     * \param noise_var n noise variances. \param llr n x (nt * k) LLRs out.
     */
    void detect(const std::complex<float>* y,
                const std::complex<float>* h,
                const float* noise_var,
                std::size_t n,
                float* llr) const;

    //! "auto", "avx512", "avx2", "avx512_bf16" or "generic"; throws if the CPU lacks the
    //! requested one.
    void set_isa(const std::string& isa);
    std::string isa() const;
    static bool cpu_has_avx512();
    static bool cpu_has_avx2();
    static bool cpu_has_avx512_bf16();
    /*!
     * \brief This core's multiply-accumulate ceiling for an ISA, measured: FLOP/s (a
     * multiply-accumulate counts 2) of a register-resident loop of independent AVX-512
     * FMAs
     * ("avx512") or VDPBF16PS ("avx512_bf16") run for about ``seconds``. Divided by 2
     * macs_per_channel_use() it bounds the channel uses/s of any implementation of the
     * network. Throws std::runtime_error if the CPU lacks the ISA.
     */
    static double peak_flops(const std::string& isa, double seconds = 0.2);

    struct dense {
        unsigned in, out, nblk; // nblk: blocks of 8 outputs
        std::vector<float> w;   // [nblk][in][8], zero padded
        std::vector<float> b;   // [nblk * 8]
        std::vector<unsigned>
            w16; // bf16 pairs: [nblk][ceil(in / 2)][8], (w[2i], w[2i+1])
    };

private:
    int d_nr, d_nt, d_k;
    bool d_stats;
    unsigned d_iw, d_width, d_latent, d_nout, d_nfeat;
    std::vector<dense> d_in; // in_y, in_h, in_s, [in_x]
    dense d_fuse;
    std::vector<dense> d_res;
    dense d_out;
    std::vector<std::vector<dense>> d_dec;   // [branch][layer]
    std::shared_ptr<const ep_detector> d_ep; // EP-input mode, else null
    unsigned d_nep;                          // EP soft bits per channel use (Nt K or 0)
    std::vector<dense> d_fq;                 // f_Q's layers (EP-input mode)
    float d_clamp;
    int d_mode; // 0 generic, 1 avx512, 2 avx512_bf16, 3 avx2

    void features(const std::complex<float>* y,
                  const std::complex<float>* h,
                  const float* nv,
                  std::size_t r0,
                  std::size_t rows,
                  unsigned T,
                  const float* sb,
                  float* f) const;
    template <int MODE>
    void tile(const float* f, unsigned T, unsigned rows, float* ws, float* llr) const;
};

} // namespace deepquant
} // namespace gr

#endif /* INCLUDED_DEEPQUANT_EQNET_DETECTOR_H */
