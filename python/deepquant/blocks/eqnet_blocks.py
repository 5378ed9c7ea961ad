"""EQ-Net quantization blocks: ``eqnet_quantizer`` (LLRs, or y/H/sigma^2 in the joint mode, ->
latent indices or packed bitstream PDUs) and ``eqnet_dequantizer`` (back to LLRs)."""

from __future__ import annotations

import threading
from collections import deque

import numpy as np
import pmt
from gnuradio import gr

from ._common import BadInputCounter, configure_torch_threads, sanitize_channel_uses


def _runtime(nt, k, bits_per_latent, model, nr, need_estimator):
    from .. import eqnet

    if int(bits_per_latent) not in (5, 6):
        raise ValueError(f"bits_per_latent must be 5 or 6 (the codebooks EQ-Net models carry), got {bits_per_latent}")
    nr = int(nr) if nr else int(nt)
    try:
        if model:
            rt = eqnet.EQNetRuntime(model, expect=(nr, nt, k), need_estimator=need_estimator)
        else:
            rt = eqnet.EQNetRuntime.shipped(
                nr,
                nt,
                k,
                "p" if need_estimator and (nr, nt, k, "p") in eqnet.SHIPPED else "l",
                need_estimator=need_estimator,
            )
    except ValueError as e:
        raise ValueError(str(e)) from None
    rt._bits(int(bits_per_latent))
    return rt


class eqnet_quantizer(gr.sync_block):
    """EQ-Net quantization: per channel use, LLRs (Nt*K) -> 3*Nt latent indices of
    ``bits_per_latent`` bits (f_Q, then the per-dimension k-means++ codebook).

    Parameters
    ----------
    nt, bits_per_symbol : int
        Streams and bits per symbol of the LLR vectors (Nt*K LLRs per channel use, stream-major).
    bits_per_latent : int
        5 or 6 (2.5 or 3 bits per LLR for any Nt, K with 3 Nt latents per Nt K LLRs when K = 6;
        in general ``3 Nt b / (Nt K)`` bits per LLR).
    model : str
        EQ-Net model file; empty = the shipped model for (nr, nt, K).
    mode : {'llr', 'joint'}
        'llr': input LLR vectors (quantization mode).  'joint': inputs y (Nr), H (Nr*Nt), sigma^2
        -> indices directly (f_E instead of f_Q: joint estimation and quantization).
    output : {'stream', 'pdu'}
        'stream': uint8 vectors of 3*Nt indices.  'pdu': no stream output; every ``uses_per_pdu``
        channel uses are published on message port ``pdus`` as a packed bitstream (u8vector;
        each index ``bits_per_latent`` bits MSB first, zero-padded to a byte) with metadata
        ``{"uses": n, "bits_per_latent": b}``.
    nr : int
        Receive antennas (joint mode; default = nt).
    uses_per_pdu : int
        Channel uses per PDU (default 54: one 648-bit LDPC codeword of 2x2 64-QAM).

    LLR vectors with NaN/inf are quantized as all-zero LLRs ("no information"), counted in
    ``bad_count`` and logged; in joint mode non-finite y/H or sigma^2 <= 0 likewise.
    """

    def __init__(
        self, nt=2, bits_per_symbol=6, bits_per_latent=6, model="", mode="llr", output="stream", nr=0, uses_per_pdu=54
    ):
        self.nt, self.k, self.bits = int(nt), int(bits_per_symbol), int(bits_per_latent)
        self.nr = int(nr) if int(nr) else self.nt
        if mode not in ("llr", "joint"):
            raise ValueError(f"eqnet_quantizer: mode must be 'llr' or 'joint', got {mode!r}")
        if output not in ("stream", "pdu"):
            raise ValueError(f"eqnet_quantizer: output must be 'stream' or 'pdu', got {output!r}")
        if int(uses_per_pdu) < 1:
            raise ValueError(f"eqnet_quantizer: uses_per_pdu must be >= 1, got {uses_per_pdu}")
        self.mode, self.output, self.uses_per_pdu = mode, output, int(uses_per_pdu)
        self.rt = _runtime(self.nt, self.k, self.bits, model, self.nr, need_estimator=(mode == "joint"))
        self.d = self.rt.latent_dim
        if mode == "llr":
            in_sig = [(np.float32, self.nt * self.k)]
        else:
            in_sig = [(np.complex64, self.nr), (np.complex64, self.nr * self.nt), np.float32]
        out_sig = [(np.uint8, self.d)] if output == "stream" else None
        gr.sync_block.__init__(self, name="eqnet_quantizer", in_sig=in_sig, out_sig=out_sig)
        configure_torch_threads()
        self.port = pmt.intern("pdus")
        self.message_port_register_out(self.port)
        self._pending = np.zeros((0, self.d), np.uint8)
        self.uses_in = 0
        self.bytes_out = 0
        self._bad = BadInputCounter(self.logger, "channel use(s) with non-finite input quantized as zero LLRs")

    @property
    def bad_count(self) -> int:
        return self._bad.count

    def stored_bits_per_llr(self) -> float:
        return self.d * self.bits / (self.nt * self.k)

    def _indices(self, input_items, n):
        if self.mode == "llr":
            x = input_items[0][:n]
            ok = np.isfinite(x).all(axis=1)
            if not ok.all():
                self._bad.add(int((~ok).sum()))
                x = np.where(ok[:, None], x, 0).astype(np.float32)
            return self.rt.quantize(x, self.bits)
        y = input_items[0][:n]
        h = input_items[1][:n].reshape(n, self.nr, self.nt)
        nv = input_items[2][:n]
        ok, y, h, nv = sanitize_channel_uses(y, h, nv)
        self._bad.add(int((~ok).sum()))
        idx = self.rt.estimate_indices(y, h, nv, self.bits)
        if not ok.all():  # bad uses -> the indices of all-zero LLRs
            idx[~ok] = self.rt.quantize(np.zeros((1, self.nt * self.k), np.float32), self.bits)[0]
        return idx

    def work(self, input_items, output_items):
        n = len(input_items[0])
        idx = self._indices(input_items, n)
        self.uses_in += n
        if self.output == "stream":
            output_items[0][:n] = idx
            self.bytes_out += idx.size
            return n
        self._pending = np.concatenate([self._pending, idx]) if self._pending.size else idx
        m = self.uses_per_pdu
        full = self._pending.shape[0] // m
        for i in range(full):
            data = self.rt.pack(self._pending[i * m : (i + 1) * m], self.bits)
            meta = pmt.make_dict()
            meta = pmt.dict_add(meta, pmt.intern("uses"), pmt.from_long(m))
            meta = pmt.dict_add(meta, pmt.intern("bits_per_latent"), pmt.from_long(self.bits))
            self.message_port_pub(self.port, pmt.cons(meta, pmt.init_u8vector(len(data), list(data))))
            self.bytes_out += len(data)
        self._pending = self._pending[full * m :]
        return n


class eqnet_dequantizer(gr.sync_block):
    """EQ-Net dequantization: 3*Nt latent indices -> Nt*K LLRs (codebook, then the shared decoder g).

    Parameters
    ----------
    nt, bits_per_symbol, bits_per_latent, model, nr
        As for :class:`eqnet_quantizer` (must match it).
    input : {'stream', 'pdu'}
        'stream': uint8 vectors of 3*Nt indices.  'pdu': packed bitstream PDUs on message port
        ``pdus`` (as published by the quantizer); LLR vectors come out as a stream.

    Out-of-range indices (>= 2^bits) are clamped to the largest codeword, counted in
    ``bad_count`` and logged.  PDUs that are not a u8vector, or whose length does not match the
    ``uses`` of their metadata, are dropped, counted in ``bad_frames`` and logged; the flowgraph
    keeps running.
    """

    def __init__(self, nt=2, bits_per_symbol=6, bits_per_latent=6, model="", input="stream", nr=0):
        self.nt, self.k, self.bits = int(nt), int(bits_per_symbol), int(bits_per_latent)
        self.nr = int(nr) if int(nr) else self.nt
        if input not in ("stream", "pdu"):
            raise ValueError(f"eqnet_dequantizer: input must be 'stream' or 'pdu', got {input!r}")
        self.input = input
        self.rt = _runtime(self.nt, self.k, self.bits, model, self.nr, need_estimator=False)
        self.d = self.rt.latent_dim
        in_sig = [(np.uint8, self.d)] if input == "stream" else None
        gr.sync_block.__init__(self, name="eqnet_dequantizer", in_sig=in_sig, out_sig=[(np.float32, self.nt * self.k)])
        configure_torch_threads()
        self.port = pmt.intern("pdus")
        self.message_port_register_in(self.port)
        self.set_msg_handler(self.port, self._handle)
        self._q = deque()
        self._cv = threading.Condition()
        self.bad_frames = 0
        self._bad = BadInputCounter(self.logger, "out-of-range latent indices clamped")
        self._badf = BadInputCounter(self.logger, "invalid EQ-Net PDUs dropped")

    @property
    def bad_count(self) -> int:
        return self._bad.count

    def _llr(self, idx):
        top = (1 << self.bits) - 1
        if idx.size and idx.max() > top:
            self._bad.add(int((idx > top).sum()))
            idx = np.minimum(idx, top)
        return self.rt.dequantize(idx, self.bits)

    def _handle(self, msg):
        try:
            meta, vec = pmt.car(msg), pmt.cdr(msg)
            if not pmt.is_u8vector(vec):
                raise ValueError("PDU payload is not a u8vector")
            data = bytes(pmt.u8vector_elements(vec))
            uses = None
            if pmt.is_dict(meta) and pmt.dict_has_key(meta, pmt.intern("uses")):
                uses = pmt.to_long(pmt.dict_ref(meta, pmt.intern("uses"), pmt.PMT_NIL))
                need = -(-uses * self.d * self.bits // 8)
                if len(data) != need:
                    raise ValueError(f"PDU of {len(data)} bytes for {uses} channel uses (expected {need})")
            idx = self.rt.unpack(data, self.bits, uses)
            llr = self._llr(idx)
        except Exception as e:  # noqa: BLE001 - never crash the flowgraph on a bad PDU
            self.bad_frames += 1
            self._badf.add(1, str(e))
            return
        with self._cv:
            self._q.append(llr)
            self._cv.notify()

    def work(self, input_items, output_items):
        out = output_items[0]
        if self.input == "stream":
            n = len(out)
            out[:n] = self._llr(np.asarray(input_items[0][:n]))
            return n
        produced = 0
        while produced < len(out):
            with self._cv:
                if not self._q and produced == 0:
                    self._cv.wait(0.01)
                if not self._q:
                    break
                llr = self._q[0]
                m = min(len(out) - produced, llr.shape[0])
                out[produced : produced + m] = llr[:m]
                produced += m
                if m == llr.shape[0]:
                    self._q.popleft()
                else:
                    self._q[0] = llr[m:]
        return produced
