"""``mimo_ofdm_header_decoder``: preamble and header of every receive chain -> channel, sigma^2
and packet number as a ``header_data`` message for the chains' ``header_payload_demux``
(numerics: :func:`gnuradio.deepquant.ofdm.mimo_rx.decode_preamble`)."""

from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr

from ..ofdm import mimo as ofdm_mimo
from ..ofdm import mimo_rx
from ..ofdm.layout import OfdmLayout
from ..tags import ERR_COLS_KEY, EST_ERR_KEY, FRAME_KEY, LEN_KEY, NOISE_VAR_KEY, PACKET_NUM_KEY
from ..tags import MIMO_CHAN_KEY as CHAN_KEY
from . import _kernels


class mimo_ofdm_header_decoder(gr.sync_block):
    """Preamble and header of every chain -> LS channel of every antenna pair, sigma^2, header.

    Inputs: Nr streams of fft-shifted symbols (``1 + Nt + 2`` per trigger of the chains'
    ``header_payload_demux``: Schmidl & Cox word, training symbols, header).
    Per packet (:func:`gnuradio.deepquant.ofdm.mimo_rx.decode_preamble`): LS estimate per antenna
    pair from the training symbols, header MRC over the chains with column 0 and CRC-8 check,
    column alignment against the residual CFO measured on the decoded header, and (``refine``)
    column 0 re-estimated with the decoded header as extra training. Message ``header_data`` (to
    every chain's demux): dict ``frame_len``, ``packet_len``, ``ofdm_packet_num``,
    ``dq_mimo_chan_est`` (c32vector fft_len*Nr*Nt, [carrier, r, j]), ``dq_noise_var``,
    ``dq_est_err_var``, ``dq_est_err_var_cols``; ``#f`` when the CRC fails (counted in
    ``headers_failed``). The whole packet runs in one call of the kernel library's C++
    ``ofdm_estimator.decode_header_mimo`` (``decode_preamble`` is its reference, equal to float
    rounding, and takes over for a fit that is not positive definite).
    """

    def __init__(
        self, layout: OfdmLayout, nr: int, nt: int, taps_pre: int = 0, taps_post: int = 20, refine: bool = True
    ):
        gr.sync_block.__init__(
            self, name="mimo_ofdm_header_decoder", in_sig=[(np.complex64, layout.fft_len)] * nr, out_sig=None
        )
        self.layout, self.nr, self.nt = layout, int(nr), int(nt)
        self.taps_pre, self.taps_post = int(taps_pre), int(taps_post)
        self.refine = bool(refine)
        self.n_hdr = layout.header_symbols
        self.n_sym = 1 + self.nt + self.n_hdr
        self.t = ofdm_mimo.td_payload_symbols(layout, self.nt)
        self.port = pmt.intern("header_data")
        self.message_port_register_out(self.port)
        self._pending = np.zeros((self.nr, 0, layout.fft_len), np.complex64)
        self._cxx = _kernels.ofdm_estimator(layout)
        self._w2 = np.ascontiguousarray(layout.sync_words()[1], np.complex64)
        self.headers_ok = self.headers_failed = 0
        self.cfo_residual = []

    def work(self, input_items, output_items):
        n = len(input_items[0])
        x = np.stack([np.asarray(input_items[r][:n]) for r in range(self.nr)])
        self._pending = np.concatenate([self._pending, x], axis=1)
        while self._pending.shape[1] >= self.n_sym:
            self._packet(self._pending[:, : self.n_sym])
            self._pending = self._pending[:, self.n_sym :]
        return n

    def _packet(self, ys):
        lay, nt = self.layout, self.nt
        # C++ (ofdm_estimator.decode_header_mimo): the steps of mimo_rx.decode_preamble to float rounding
        st, num, ncw, h, nv, err, err_cols, phi = self._cxx.decode_header_mimo(
            ys, nt, self._w2, self.taps_pre, self.taps_post, self.refine
        )
        if st < 0:  # a fit that was not positive definite: the numeric core
            p = mimo_rx.decode_preamble(ys, lay, nt, self.taps_pre, self.taps_post, self.refine)
            if p is not None:
                st, num, ncw, h, nv, err, err_cols, phi = (
                    1,
                    p.packet_num,
                    lay.n_codewords,
                    p.h,
                    p.noise_var,
                    p.err_var,
                    p.err_cols,
                    p.cfo_residual,
                )
        if st != 1 or ncw != lay.n_codewords:
            self.headers_failed += 1
            self.message_port_pub(self.port, pmt.PMT_F)
            return
        self.headers_ok += 1
        self.cfo_residual.append(phi)
        if len(self.cfo_residual) > 1000:
            del self.cfo_residual[:-1000]
        d = pmt.make_dict()
        d = pmt.dict_add(d, pmt.intern(FRAME_KEY), pmt.from_long(self.t))
        d = pmt.dict_add(d, pmt.intern(LEN_KEY), pmt.from_long(self.t * len(lay.occupied)))
        d = pmt.dict_add(d, pmt.intern(PACKET_NUM_KEY), pmt.from_long(num))
        d = pmt.dict_add(d, pmt.intern(CHAN_KEY), pmt.init_c32vector(h.size, h.reshape(-1).tolist()))
        d = pmt.dict_add(d, pmt.intern(NOISE_VAR_KEY), pmt.from_double(nv))
        d = pmt.dict_add(d, pmt.intern(EST_ERR_KEY), pmt.from_double(err))
        d = pmt.dict_add(d, pmt.intern(ERR_COLS_KEY), pmt.init_f64vector(nt, [float(e) for e in err_cols]))
        self.message_port_pub(self.port, d)
