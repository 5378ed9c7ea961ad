"""``mimo_ofdm_tx``: info bits -> LDPC -> QAM -> Nt streams of GNU Radio OFDM packets (carrier
allocator, IFFT, cyclic prefix): Schmidl & Cox word, Nt time-orthogonal long-training symbols, a
CRC header, the payload (packet layout: :mod:`gnuradio.deepquant.ofdm.mimo`), as an installed
hierarchical block."""

from __future__ import annotations

from gnuradio import blocks, digital, fft, gr

from ..ofdm import mimo as ofdm_mimo
from ..tags import LEN_KEY


class mimo_ofdm_tx(gr.hier_block2):
    """MIMO-OFDM transmitter: Nt spatially multiplexed streams of GNU Radio OFDM packets.

    Input: unpacked information bits (bytes 0/1), ``324 * n_codewords`` per packet.
    Outputs: Nt complex baseband streams (one per transmit antenna), sample-aligned, packets of
    ``(1 + Nt + 2 + T) * (fft_len + cp_len) + fft_len/2`` samples tagged ``packet_len``.

    Chain: ``ldpc_encoder_bb`` -> ``qam_mapper`` -> ``blocks.deinterleave`` (channel use = Nt
    consecutive symbols, stream j takes symbol j, so LLRs come out stream-major) -> per stream
    ``tagged_stream_mux`` (header | payload) -> ``ofdm_carrier_allocator_cvc`` (preamble symbols
    of :func:`gnuradio.deepquant.ofdm.mimo.td_sync_words`, pilots) -> ``fft_vcc`` (inverse) ->
    ``ofdm_cyclic_prefixer`` -> ``1/fft_len`` -> ``burst_shaper_cc`` (guard zeros).
    Stream 0 carries the Schmidl & Cox word and the BPSK header; training symbol ``1 + j`` is sent
    by stream j alone. With GNU Radio's unnormalised receive FFT, a data subcarrier reads
    ``y = H x + n``, ``Var(n) = fft_len * sigma_t^2``.

    Parameters
    ----------
    nt : int
        Transmit streams.
    n_codewords : int
        802.11n (648, 324) codewords per packet (8 for 2 streams of 9 symbols of 48 x 64-QAM).
    bits_per_symbol : int
    fft_len, cp_len : int
    """

    def __init__(self, nt=2, n_codewords=8, bits_per_symbol=6, fft_len=64, cp_len=16):
        nt = int(nt)
        lay = self.layout = ofdm_mimo.td_layout(fft_len, cp_len, n_codewords, bits_per_symbol, nt)
        gr.hier_block2.__init__(
            self, "mimo_ofdm_tx", gr.io_signature(1, 1, gr.sizeof_char), gr.io_signature(nt, nt, gr.sizeof_gr_complex)
        )
        from . import ldpc_blocks, qam_mapper
        from .ofdm_tx import header_gen_bc

        self.nt = nt
        self.t = ofdm_mimo.td_payload_symbols(lay, nt)
        per_stream = self.t * len(lay.occupied)
        self.encoder = ldpc_blocks.ldpc_encoder_bb()
        self.mapper = qam_mapper.qam_mapper(lay.bits_per_symbol)
        self.split = blocks.deinterleave(gr.sizeof_gr_complex, 1)
        self.header_gen = header_gen_bc(lay)
        self.connect(self, self.encoder, self.mapper, self.split)
        self.connect(self.encoder, self.header_gen)
        words = ofdm_mimo.td_sync_words(lay, nt)
        self._keep = []
        for j in range(nt):
            ptag = blocks.stream_to_tagged_stream(gr.sizeof_gr_complex, 1, per_stream, LEN_KEY)
            hsrc = self.header_gen if j == 0 else blocks.multiply_const_cc(0.0)
            if j:
                self.connect(self.header_gen, hsrc)
            htag = blocks.stream_to_tagged_stream(gr.sizeof_gr_complex, 1, self.header_gen.n_out, LEN_KEY)
            mux = blocks.tagged_stream_mux(gr.sizeof_gr_complex, LEN_KEY, 1)
            alloc = digital.ofdm_carrier_allocator_cvc(
                lay.fft_len,
                lay.gr_occupied(),
                lay.gr_pilots(),
                lay.gr_pilot_symbols(),
                [list(w) for w in words[j]],
                LEN_KEY,
                True,
            )
            ifft = fft.fft_vcc(lay.fft_len, False, (), True)
            cp = digital.ofdm_cyclic_prefixer(lay.fft_len, lay.fft_len + lay.cp_len, 0, LEN_KEY)
            scale = blocks.multiply_const_cc(1.0 / lay.fft_len)
            guard = digital.burst_shaper_cc([], 0, lay.guard_len, False, LEN_KEY)
            self.connect((self.split, j), ptag, (mux, 1))
            self.connect(hsrc, htag, (mux, 0))
            self.connect(mux, alloc, ifft, cp, scale, guard, (self, j))
            self._keep += [ptag, hsrc, htag, mux, alloc, ifft, cp, scale, guard]

    def samples_per_packet(self) -> int:
        return ofdm_mimo.td_samples_per_packet(self.layout, self.nt)
