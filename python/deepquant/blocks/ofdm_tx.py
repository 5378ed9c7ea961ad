"""``ofdm_tx``: info bits -> 802.11n LDPC -> QAM -> GNU Radio OFDM packets (sync words, BPSK
header, pilots, cyclic prefix) as an installed hierarchical block."""

from __future__ import annotations

import numpy as np
from gnuradio import blocks, digital, fft, gr

from ..ofdm.layout import OfdmLayout
from ..tags import LEN_KEY  # noqa: F401  (re-exported)


class header_gen_bc(gr.decim_block):
    """One header (see :mod:`gnuradio.deepquant.ofdm.header`) per packet of coded bits: consumes
    ``coded_bits`` bytes, produces the header's BPSK symbols (2 OFDM symbols of 48 carriers)."""

    def __init__(self, layout: OfdmLayout):
        from ..ofdm import header

        self.n_out = header.header_ofdm_symbols(len(layout.occupied)) * len(layout.occupied)
        if layout.coded_bits % self.n_out:
            raise ValueError(
                f"ofdm_tx: {layout.coded_bits} coded bits per packet are not a multiple of the "
                f"{self.n_out} header symbols"
            )
        gr.decim_block.__init__(
            self,
            name="ofdm_header_gen",
            in_sig=[np.uint8],
            out_sig=[np.complex64],
            decim=layout.coded_bits // self.n_out,
        )
        self.set_output_multiple(self.n_out)
        self.layout = layout
        self._header = header
        self.packet_num = 0

    def work(self, input_items, output_items):
        npk = len(output_items[0]) // self.n_out
        for i in range(npk):
            output_items[0][i * self.n_out : (i + 1) * self.n_out] = self._header.header_symbols(
                self.packet_num, self.layout.n_codewords, len(self.layout.occupied)
            )
            self.packet_num = (self.packet_num + 1) % self._header.NUM_MODULO
        return npk * self.n_out


class ofdm_tx(gr.hier_block2):
    """OFDM transmitter with the 802.11n (648, 324) LDPC code and 38.211 QAM.

    Input: unpacked information bits (bytes 0/1), ``324 * n_codewords`` per packet, continuous.
    Output: complex baseband, packets of ``(3 + payload symbols) * (fft_len + cp_len) +
    fft_len/2`` samples: Schmidl & Cox sync word, full sync word (channel estimation), two BPSK
    header symbols (16-bit packet number, codeword count, CRC-8, sent 3 times across the band:
    :mod:`gnuradio.deepquant.ofdm.header`), then the payload. Tagged with ``packet_len`` (samples) on each packet's first sample.

    Inside: ``ldpc_encoder_bb`` -> ``qam_mapper`` -> ``tagged_stream_mux`` with the header
    (``header_gen_bc``) ->
    ``ofdm_carrier_allocator_cvc`` -> ``fft_vcc`` (inverse) -> ``ofdm_cyclic_prefixer`` -> a
    ``1/fft_len`` scale -> ``burst_shaper_cc`` (``fft_len/2`` zeros after each packet, so a
    receiver's early timing estimate never lands inside the previous packet). With GNU Radio's unnormalised receive FFT a data subcarrier then reads
    ``y = h x + n`` with unit-energy x and ``Var(n) = fft_len * sigma_t^2`` for white time-domain
    noise of variance ``sigma_t^2`` (see :meth:`OfdmLayout.noise_voltage`).

    Parameters
    ----------
    fft_len, cp_len : int
    n_codewords : int
        LDPC codewords per packet (default 4 -> 9 payload OFDM symbols of 48 x 64-QAM).
    bits_per_symbol : int
        Payload modulation (6 = 64-QAM).
    """

    def __init__(self, fft_len=64, cp_len=16, n_codewords=4, bits_per_symbol=6):
        gr.hier_block2.__init__(
            self, "ofdm_tx", gr.io_signature(1, 1, gr.sizeof_char), gr.io_signature(1, 1, gr.sizeof_gr_complex)
        )
        from . import ldpc_blocks, qam_mapper

        lay = self.layout = OfdmLayout(int(fft_len), int(cp_len), int(bits_per_symbol), int(n_codewords))
        self.encoder = ldpc_blocks.ldpc_encoder_bb()
        self.mapper = qam_mapper.qam_mapper(lay.bits_per_symbol)
        self.payload_tag = blocks.stream_to_tagged_stream(gr.sizeof_gr_complex, 1, lay.data_symbols, LEN_KEY)
        # header branch: one header (2 BPSK OFDM symbols) per packet of coded bits
        self.header_gen = header_gen_bc(lay)
        self.header_tag = blocks.stream_to_tagged_stream(gr.sizeof_gr_complex, 1, self.header_gen.n_out, LEN_KEY)
        self.mux = blocks.tagged_stream_mux(gr.sizeof_gr_complex, LEN_KEY, 1)
        w1, w2 = lay.sync_words()
        self.allocator = digital.ofdm_carrier_allocator_cvc(
            lay.fft_len, lay.gr_occupied(), lay.gr_pilots(), lay.gr_pilot_symbols(), [list(w1), list(w2)], LEN_KEY, True
        )
        self.ifft = fft.fft_vcc(lay.fft_len, False, (), True)
        self.cp = digital.ofdm_cyclic_prefixer(lay.fft_len, lay.fft_len + lay.cp_len, 0, LEN_KEY)
        self.scale = blocks.multiply_const_cc(1.0 / lay.fft_len)
        self.guard = digital.burst_shaper_cc([], 0, lay.guard_len, False, LEN_KEY)
        self.connect(self, self.encoder, self.mapper, self.payload_tag, (self.mux, 1))
        self.connect(self.encoder, self.header_gen, self.header_tag, (self.mux, 0))
        self.connect(self.mux, self.allocator, self.ifft, self.cp, self.scale, self.guard, self)
