"""``ofdm_impairments``: frequency-selective fading, carrier and sampling frequency offsets and
white noise for OFDM loopbacks (GNU Radio's ``channels`` blocks, plus an EPA-like block fader
that draws one independent channel per packet)."""

from __future__ import annotations

import numpy as np
import pmt
from gnuradio import channels, gr

from ..ofdm import channel as ofdm_channel
from ._common import BadInputCounter, zero_nonfinite

FADING = ("epa_block", "epa_gnuradio", "none")


class block_fading_cc(gr.sync_block):
    """EPA-like block fading: a new Rayleigh tap vector at every ``len_tag_key`` tag (one per
    packet), applied as a causal FIR (delays rounded to whole samples at ``samp_rate``).

    Input/output: complex samples. Each new channel's taps are put on the output as a tag
    ``chan_taps_time`` (c32vector) at the packet's first sample; ``taps_history`` keeps the last
    1000. Before the first tag a channel is drawn at start-up.

    Parameters
    ----------
    samp_rate : float
        Sample rate (Hz) that converts EPA delays to samples.
    seed : int
    len_tag_key : str
        The tag that starts a packet (``ofdm_tx`` puts ``packet_len`` on each packet's first
        sample).
    """

    def __init__(self, samp_rate=20e6, seed=0, len_tag_key="packet_len"):
        gr.sync_block.__init__(self, name="block_fading_cc", in_sig=[np.complex64], out_sig=[np.complex64])
        self.delays, self.powers = ofdm_channel.epa_integer_profile(float(samp_rate))
        self.rng = np.random.default_rng(int(seed))
        self.key = pmt.intern(len_tag_key)
        self.ntaps = int(self.delays.max()) + 1
        self._hist = np.zeros(self.ntaps - 1, np.complex64)
        self._g = self._draw()
        self.taps_history = []
        self.bad = BadInputCounter(self.logger, "non-finite samples taken as 0")

    def _draw(self):
        return ofdm_channel.draw_taps(self.rng, self.delays, self.powers)[0].astype(np.complex64)

    def work(self, input_items, output_items):
        x = zero_nonfinite(input_items[0], self.bad)
        n = len(x)
        base = self.nitems_read(0)
        offs = sorted({int(t.offset - base) for t in self.get_tags_in_window(0, 0, n, self.key)})
        cuts = [o for o in offs if o > 0] + [n]
        if offs and offs[0] == 0:
            self._new_channel(base)
        pos = 0
        for c in cuts:
            seg = x[pos:c]
            if seg.size:
                xx = np.concatenate([self._hist, seg])
                output_items[0][pos:c] = np.convolve(xx, self._g)[self.ntaps - 1 : self.ntaps - 1 + seg.size]
                self._hist = xx[xx.size - (self.ntaps - 1) :] if self.ntaps > 1 else self._hist
            pos = c
            if c < n:
                self._new_channel(base + c)
        return n

    def _new_channel(self, abs_offset):
        self._g = self._draw()
        self.taps_history.append(self._g)
        if len(self.taps_history) > 1000:
            del self.taps_history[:-1000]
        self.add_item_tag(0, abs_offset, pmt.intern("chan_taps_time"), pmt.init_c32vector(self.ntaps, self._g.tolist()))


class channel_model_exact(gr.hier_block2):
    """GNU Radio's ``channels.channel_model`` (one tap 1.0, no tag blocking) rebuilt from the same
    blocks -- sampling offset (``mmse_resampler_cc``), CFO, ``fastnoise_source_c`` (Gaussian,
    the same seed and pool, so the same noise) -- with the CFO mixer replaced by
    :class:`exact_mixer_cc`: GNU Radio's VOLK ``multiply_cc`` rounds differently in its aligned
    and unaligned kernels, so the channel's output depended on how the scheduler chunked the
    stream and two runs at one seed could differ (issue 18). With CFO 0 the output is
    bit-identical to ``channel_model``'s (checked)."""

    def __init__(self, noise_voltage, frequency_offset, epsilon, noise_seed):
        from gnuradio import analog, blocks, filter as gr_filter

        from .exact_mixer_cc import exact_mixer_cc

        gr.hier_block2.__init__(
            self,
            "channel_model_exact",
            gr.io_signature(1, 1, gr.sizeof_gr_complex),
            gr.io_signature(1, 1, gr.sizeof_gr_complex),
        )
        self.resampler = gr_filter.mmse_resampler_cc(0, float(epsilon))
        self.multipath = gr_filter.fir_filter_ccc(1, [1.0 + 0j, 0j])
        self.cfo_source = analog.sig_source_c(1, analog.GR_SIN_WAVE, float(frequency_offset), 1.0, 0.0)
        self.mixer = exact_mixer_cc()
        self.noise = analog.fastnoise_source_c(analog.GR_GAUSSIAN, float(noise_voltage), int(noise_seed), 1 << 14)
        self.adder = blocks.add_cc()
        self.connect(self, self.resampler, self.multipath, (self.mixer, 0))
        self.connect(self.cfo_source, (self.mixer, 1))
        self.connect(self.mixer, (self.adder, 1))
        self.connect(self.noise, (self.adder, 0))
        self.connect(self.adder, self)

    def set_noise_voltage(self, v):
        self.noise.set_amplitude(float(v))

    def set_frequency_offset(self, f):
        self.cfo_source.set_frequency(float(f))


class ofdm_impairments(gr.hier_block2):
    """Channel for OFDM loopbacks: fading -> CFO, sampling offset, white noise.

    Input/output: complex baseband at ``samp_rate``.

    Parameters
    ----------
    samp_rate : float
        Sample rate (Hz); sets the EPA delays in samples (20 Msps: 0..8 samples, inside a 16-sample
        cyclic prefix).
    snr_db : float
        Per-subcarrier SNR ``E|h x|^2 / sigma^2`` for ``ofdm_tx``'s scaling (noise amplitude
        ``sqrt(10^(-snr/10) / fft_len)``).
    cfo_subcarriers : float
        Carrier frequency offset in subcarrier spacings (``samp_rate / fft_len``).
    sro_ppm : float
        Sampling-rate offset in parts per million (``channel_model``'s epsilon = 1 + sro*1e-6;
        the channel model is :class:`channel_model_exact`, GNU Radio's with a CFO mixer whose
        result does not depend on scheduling).
    fading : {'epa_block', 'epa_gnuradio', 'none'}
        'epa_block': a new independent EPA channel per packet (``block_fading_cc``; FER
        statistics converge fastest); 'epa_gnuradio': GNU Radio's ``selective_fading_model``
        (sum of sinusoids, time-varying with ``doppler_hz``, fractional EPA delays); 'none'.
    doppler_hz : float
        Maximum Doppler for 'epa_gnuradio'.
    fft_len : int
    seed : int
        Seeds the fading and the noise.
    """

    def __init__(
        self,
        samp_rate=20e6,
        snr_db=25.0,
        cfo_subcarriers=0.0,
        sro_ppm=0.0,
        fading="epa_block",
        doppler_hz=50.0,
        fft_len=64,
        seed=0,
    ):
        gr.hier_block2.__init__(
            self,
            "ofdm_impairments",
            gr.io_signature(1, 1, gr.sizeof_gr_complex),
            gr.io_signature(1, 1, gr.sizeof_gr_complex),
        )
        if fading not in FADING:
            raise ValueError(f"ofdm_impairments: fading must be one of {FADING}, got {fading!r}")
        if not samp_rate > 0:
            raise ValueError(f"ofdm_impairments: samp_rate must be positive, got {samp_rate}")
        if abs(cfo_subcarriers) >= 0.5 * 1:
            # Schmidl & Cox's fractional estimate covers +-1 spacing; the module's receiver
            # assumes no integer carrier offset.
            raise ValueError(
                "ofdm_impairments: |cfo_subcarriers| must be < 0.5 (the receiver corrects "
                f"fractional offsets only), got {cfo_subcarriers}"
            )
        self.samp_rate = float(samp_rate)
        self.fft_len = int(fft_len)
        self.cfo = float(cfo_subcarriers)
        self.fading = fading
        if fading == "epa_block":
            self.fader = block_fading_cc(self.samp_rate, int(seed))
        elif fading == "epa_gnuradio":
            from ..phy.channels import EPA_DELAYS_NS, EPA_POWERS_DB

            delays = [d * 1e-9 * self.samp_rate for d in EPA_DELAYS_NS]
            mags = list(
                np.sqrt(10 ** (np.asarray(EPA_POWERS_DB) / 10) / np.sum(10 ** (np.asarray(EPA_POWERS_DB) / 10)))
            )
            self.fader = channels.selective_fading_model(
                8, float(doppler_hz) / self.samp_rate, False, 4.0, int(seed), delays, mags, 16
            )
        else:
            self.fader = None
        self.chan = channel_model_exact(
            self._noise(snr_db), self.cfo / self.fft_len, 1.0 + float(sro_ppm) * 1e-6, int(seed) + 1
        )
        from .finite_guard import finite_guard_cc

        self.guard = finite_guard_cc(1, "transmit samples")
        if self.fader is None:
            self.connect(self, self.guard, self.chan, self)
        else:
            self.connect(self, self.guard, self.fader, self.chan, self)

    def _noise(self, snr_db):
        return float(np.sqrt(10 ** (-float(snr_db) / 10) / self.fft_len))

    def set_snr_db(self, snr_db):
        self.chan.set_noise_voltage(self._noise(snr_db))

    def set_cfo_subcarriers(self, cfo):
        self.cfo = float(cfo)
        self.chan.set_frequency_offset(self.cfo / self.fft_len)
