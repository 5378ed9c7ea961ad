"""802.11n (648, 324) LDPC blocks: the standard systematic encoder, GNU Radio's BP decoder wired
for the module's LLR convention, and frame permutations (the seeded bit interleaver)."""

from __future__ import annotations

import numpy as np
from gnuradio import fec, gr

from ..phy import ldpc
from ._common import BadInputCounter, zero_nonfinite

_DTYPES = {"float": np.float32, "byte": np.uint8}


class frame_permute(gr.sync_block):
    """Applies a fixed permutation to every frame: ``out[f, i] = in[f, perm[i]]``.

    Parameters
    ----------
    permutation : sequence of int
        A permutation of ``range(frame_len)``.
    dtype : {'float', 'byte'}
        Item type of the stream.

    Frames are aligned with the start of the stream (items 0..frame_len-1 are frame 0).
    Non-finite float items are output as 0, counted in ``bad.count``.
    """

    def __init__(self, permutation, dtype="float", name="frame_permute"):
        perm = np.asarray(permutation, dtype=np.int64)
        if perm.ndim != 1 or not np.array_equal(np.sort(perm), np.arange(perm.size)):
            raise ValueError(f"{name}: 'permutation' must be a permutation of range(frame_len)")
        if dtype not in _DTYPES:
            raise ValueError(f"{name}: dtype must be one of {tuple(_DTYPES)}, got {dtype!r}")
        gr.sync_block.__init__(self, name=name, in_sig=[_DTYPES[dtype]], out_sig=[_DTYPES[dtype]])
        self.perm = perm
        self.frame_len = perm.size
        self.set_output_multiple(self.frame_len)
        self.bad = BadInputCounter(self.logger, "non-finite items output as 0")

    def work(self, input_items, output_items):
        n = (len(output_items[0]) // self.frame_len) * self.frame_len
        x = input_items[0][:n]
        if x.dtype.kind == "f":
            x = zero_nonfinite(x, self.bad)
        x = x.reshape(-1, self.frame_len)
        output_items[0][:n] = x[:, self.perm].reshape(-1)
        return n


class bit_interleaver(frame_permute):
    """Seeded random bit interleaver (or de-interleaver) over frames of ``frame_len`` items.

    Parameters
    ----------
    frame_len : int
        Items per frame (648 for one 802.11n codeword).
    seed : int
        Seed of the permutation; transmitter and receiver must use the same one.
    deinterleave : bool
        Apply the inverse permutation (receive side, typically on float LLRs).
    dtype : {'float', 'byte'}
        Item type: bytes (bits) on the transmit side, floats (LLRs) on the receive side.

    The permutation is :class:`gnuradio.deepquant.phy.interleaver.BitInterleaver`, the same one
    the offline evaluator (``deepquant eval``) uses.
    """

    def __init__(self, frame_len=648, seed=1234, deinterleave=False, dtype="byte"):
        from ..phy import interleaver

        if int(frame_len) < 1:
            raise ValueError(f"bit_interleaver: frame_len must be >= 1 (648 for one 802.11n codeword), got {frame_len}")

        il = interleaver.BitInterleaver(int(frame_len), seed=int(seed))
        perm = il.inverse if deinterleave else il.perm
        frame_permute.__init__(self, perm, dtype, name="bit_deinterleaver" if deinterleave else "bit_interleaver")


class ldpc_encoder_bb(gr.interp_block):
    """802.11n (648, 324) systematic LDPC encoder: 324 unpacked bits in -> 648 out per frame.

    Output codewords are in the standard order ``[info | parity]`` (``c = [s | p]``), H c = 0.
    Input bytes other than 0/1 are taken by their least significant bit.
    """

    def __init__(self):
        gr.interp_block.__init__(self, name="ldpc_encoder_bb", in_sig=[np.uint8], out_sig=[np.uint8], interp=2)
        self.set_output_multiple(ldpc.N)

    def work(self, input_items, output_items):
        nf = len(output_items[0]) // ldpc.N
        msg = (input_items[0][: nf * ldpc.K] & 1).reshape(nf, ldpc.K)
        output_items[0][: nf * ldpc.N] = np.asarray(ldpc.encode(msg), dtype=np.uint8).reshape(-1)
        return nf * ldpc.N


class _llr_to_gr(gr.sync_block):
    """Standard order -> GNU Radio column order, made safe by ldpc.prepare_gr_llr (|L| clipped
    to 10, NaN and exact zeros -> 1e-3: GNU Radio's decoder fails every frame on zero LLRs)."""

    def __init__(self):
        gr.sync_block.__init__(self, name="llr_to_gr_order", in_sig=[np.float32], out_sig=[np.float32])
        self.set_output_multiple(ldpc.N)
        self.bad = BadInputCounter(self.logger, "non-finite LLRs decoded as erasures (NaN) or clipped (+-inf)")

    def work(self, input_items, output_items):
        n = (len(output_items[0]) // ldpc.N) * ldpc.N
        x = input_items[0][:n]
        nbad = int(x.size - np.count_nonzero(np.isfinite(x)))
        self.bad.add(nbad)
        x = ldpc.prepare_gr_llr(x.reshape(-1, ldpc.N).copy())
        output_items[0][:n] = ldpc.to_gr_order(x).reshape(-1)
        return n


class ldpc_decoder_fb(gr.hier_block2):
    """GNU Radio's LDPC (sum-product BP) decoder for the 802.11n (648, 324) code, taking the
    module's LLRs: ``L = ln P(b=1)/P(b=0)`` in the standard codeword order.

    Input: float LLRs, 648 per codeword (frames aligned with the stream start).
    Output: 324 decoded information bits per codeword (bytes 0/1).

    Inside: a reordering block (C++ ``llr_to_gr_order_ff``, the computation of
    ``_llr_to_gr``: standard -> GNU Radio column order, |L| clipped to 10 -- GNU Radio's
    single-precision probability-domain decoder overflows above, see ldpc.GR_LLR_CLIP -- NaN and
    exact-zero LLRs (erasures) -> 1e-3, because zero LLRs make it fail every frame; NaN/inf LLRs
    are counted in ``reorder.bad_count()``)
    followed by ``fec.decoder`` around ``fec.ldpc_decoder`` built by
    :func:`gnuradio.deepquant.phy.ldpc.make_gr_ldpc_decoder` (sigma and signature handled there).

    Parameters
    ----------
    max_iter : int
        Maximum BP iterations.
    threads : int
        Decoder instances working in parallel: 1 = one ``fec.decoder``; T > 1 = GNU Radio's
        ``fec.threaded_decoder`` (the "ordinary" threading of ``fec.extended_decoder``): codeword
        i goes to instance ``i mod T``, each instance runs in its own block thread, and the
        outputs are interleaved back in order.
    """

    def __init__(self, max_iter=50, threads=1):
        gr.hier_block2.__init__(
            self, "ldpc_decoder_fb", gr.io_signature(1, 1, gr.sizeof_float), gr.io_signature(1, 1, gr.sizeof_char)
        )
        if int(max_iter) < 1:
            raise ValueError(f"ldpc_decoder_fb: max_iter must be >= 1, got {max_iter}")
        if not 1 <= int(threads) <= 16:
            raise ValueError(f"ldpc_decoder_fb: threads must be in [1, 16], got {threads}")
        self.threads = int(threads)
        self.decoders = [ldpc.make_gr_ldpc_decoder(int(max_iter)) for _ in range(self.threads)]
        self.decoder = self.decoders[0]
        from .. import deepquant_python as dq

        self.reorder = dq.llr_to_gr_order_ff(ldpc.N, ldpc.K, float(ldpc.GR_LLR_CLIP), float(ldpc.GR_ZERO_LLR))
        if self.threads == 1:
            self.dec = fec.decoder(self.decoder.fec, gr.sizeof_float, gr.sizeof_char)
        else:
            self.dec = fec.threaded_decoder([d.fec for d in self.decoders], gr.sizeof_float, gr.sizeof_char)
        self.connect(self, self.reorder, self.dec, self)
