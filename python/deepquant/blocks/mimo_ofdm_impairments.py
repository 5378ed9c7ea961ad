"""``mimo_ofdm_impairments``: time-domain MIMO channel for MIMO-OFDM loopbacks (multipath per
antenna pair, CFO, noise, sampling-rate offset) as an installed hierarchical block."""

from __future__ import annotations

from gnuradio import gr

from ..tags import LEN_KEY
from .mimo_ofdm_fading_core import mimo_ofdm_fading_core


class mimo_ofdm_impairments(gr.hier_block2):
    """Time-domain MIMO channel for MIMO-OFDM loopbacks: multipath per antenna pair, CFO, noise,
    sampling-rate offset.

    ``y_r[n] = e^{j 2 pi f n} sum_j (g_rj * x_j)[n] + w_r[n]``: an independent tap vector
    ``g_rj`` per antenna pair, drawn anew at every ``len_tag_key`` tag on input 0 (block fading,
    one realisation per packet); one carrier offset ``f`` for all chains (shared oscillator);
    white noise ``w_r ~ CN(0, sigma^2 / fft_len)`` so that a data subcarrier after the receiver's
    FFT has noise variance ``sigma^2`` with ``SNR = E||H||_F^2 / sigma^2``. With ``sro_ppm`` != 0
    every receive chain is then resampled by GNU Radio's ``filter.mmse_resampler_cc`` with the
    same ratio ``1 + sro_ppm * 1e-6`` (one sampling clock for all chains; the convention of
    ``channels.channel_model``'s epsilon, which ``ofdm_impairments`` of flowgraph 1 uses).

    Inputs: Nt complex streams (``mimo_ofdm_tx``). Outputs: Nr complex streams.

    Parameters
    ----------
    nr, nt : int
    snr_db : float
        ``E||H||_F^2 / sigma^2`` per subcarrier (:func:`gnuradio.deepquant.phy.channels.snr_to_noise_var`).
    cfo_subcarriers : float
        Carrier frequency offset in subcarrier spacings (|cfo| < 0.5).
    model : {'epa', 'flat', 'none', 'cdla'}
        'epa': LTE EPA power-delay profile with delays rounded to samples at ``samp_rate``
        (0..8 samples at 20 Msps), Rayleigh taps, E sum|g|^2 = 1; 'flat': one Rayleigh tap per
        pair; 'none': identity for r == j, 0 otherwise; 'cdla': 3GPP CDL-A of the whole Nr x Nt
        array (spatially correlated, ``delay_spread``) as band-limited taps
        (:func:`gnuradio.deepquant.ofdm.mimo.cdl_a_taps`: 29 taps at 20 Msps and 100 ns, channel
        delayed by 4 samples; needs a cyclic prefix of 32 samples at the receiver).
    samp_rate : float
    fft_len : int
    seed : int
    len_tag_key : str
    delay_spread : float
        rms delay spread of 'cdla' in seconds (default 100 ns; ignored by the other models).
    sro_ppm : float
        Sampling-rate offset in parts per million (|sro_ppm| <= 1000; 0: no resampler).

    ``taps_history`` keeps the last 1000 tap tensors [Nr, Nt, L] (genie); ``noise_var``,
    ``ntaps``, ``model`` come from the fading part (``core``, a :class:`mimo_ofdm_fading_core`
    around the numeric model ``channel``,
    :class:`gnuradio.deepquant.ofdm.mimo_channel.MimoMultipathChannel`).
    """

    def __init__(
        self,
        nr=2,
        nt=2,
        snr_db=26.0,
        cfo_subcarriers=0.0,
        model="epa",
        samp_rate=20e6,
        fft_len=64,
        seed=0,
        len_tag_key=LEN_KEY,
        delay_spread=100e-9,
        sro_ppm=0.0,
    ):
        if not abs(float(sro_ppm)) <= 1000:
            raise ValueError(f"mimo_ofdm_impairments: |sro_ppm| must be <= 1000, got {sro_ppm}")
        self.core = mimo_ofdm_fading_core(
            nr, nt, snr_db, cfo_subcarriers, model, samp_rate, fft_len, seed, len_tag_key, delay_spread
        )
        nr, nt = self.core.nr, self.core.nt
        gr.hier_block2.__init__(
            self,
            "mimo_ofdm_impairments",
            gr.io_signature(nt, nt, gr.sizeof_gr_complex),
            gr.io_signature(nr, nr, gr.sizeof_gr_complex),
        )
        self.sro_ppm = float(sro_ppm)
        self.resamplers = []
        for j in range(nt):
            self.connect((self, j), (self.core, j))
        for r in range(nr):
            if self.sro_ppm:
                from gnuradio import filter as gr_filter

                rs = gr_filter.mmse_resampler_cc(0.0, 1.0 + self.sro_ppm * 1e-6)
                self.resamplers.append(rs)
                self.connect((self.core, r), rs, (self, r))
            else:
                self.connect((self.core, r), (self, r))

    # the fading part's state, read through (genie and reports)
    channel = property(lambda self: self.core.channel)
    model = property(lambda self: self.core.channel.model)
    ntaps = property(lambda self: self.core.channel.ntaps)
    noise_var = property(lambda self: self.core.channel.noise_var)
    snr_db = property(lambda self: self.core.channel.snr_db)
    cfo = property(lambda self: self.core.channel.cfo)
    taps_history = property(lambda self: self.core.channel.taps_history)

    def set_snr_db(self, snr_db):
        self.core.set_snr_db(snr_db)

    def set_cfo_subcarriers(self, cfo):
        self.core.set_cfo_subcarriers(cfo)
