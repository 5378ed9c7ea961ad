"""Soft-bit (LLR) compression blocks: ``softbit_compressor`` (LLR stream -> compressed PDUs) and
``softbit_decompressor`` (PDUs -> LLR tagged stream), with any codec of
:mod:`gnuradio.deepquant.softbit` (learned, deepllr[-ec], maxmi[-ec], uniform[-ec], int8).

LLR convention: ``L = ln P(b=1)/P(b=0)`` (positive means bit 1), K consecutive LLRs per channel use
(bits b0..b(K-1) of one QAM symbol).
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np
import pmt
from gnuradio import gr

from ..deepquant_python import publish_frames as _publish_frames, u8vector_to_bytes as _u8vector_to_bytes
from ._common import BadInputCounter, tag_int

_META_SKIP = {"packet_len"}
OUT_BUFFER_ITEMS = 1 << 16  # decompressor output buffer (floats): ~100 frames of 648 LLRs per call


#: an LLR count from a length tag (an integer PMT, or a real one holding an integer value, e.g. a
#: ``packet_len`` written as a double); None otherwise
_tag_length = tag_int


def _check_bits(bits, who):
    if int(bits) < 0:
        raise ValueError(f"{who}: bits must be >= 0 (0 = the codec's default), got {bits}")
    return int(bits)


def _pmt_to_py(v):
    try:
        return pmt.to_python(v)
    except Exception:  # noqa: BLE001
        return None


class softbit_compressor(gr.sync_block):
    """LLR stream -> one compressed PDU per frame.

    Parameters
    ----------
    bits_per_symbol : int
        K (LLRs per channel use).
    method : str
        Codec method (see :func:`gnuradio.deepquant.softbit.make_codec`).
    frame_len : int
        Channel uses per frame (frame = ``frame_len * K`` LLRs) when no length tag is present.
    model : str
        Model file ('' = the shipped model for ``method`` and K).
    len_tag_key : str
        Stream tag whose value (an LLR count, multiple of K) starts a frame of that length
        (e.g. ``packet_len``); '' = fixed ``frame_len`` framing only.
    bits : int
        Bits per soft bit for ``uniform``/``maxmi`` (0 = the codec's default).
    snr_tag_key : str
        Tag carrying the SNR in dB (used by ``maxmi``/``uniform`` to pick their per-SNR design).
    pdu_format : {'frame', 'container'}
        ``'frame'``: one PDU per frame, each a self-describing frame (:mod:`softbit.frame`,
        22-byte header).  ``'container'``: one PDU per batch of frames (all the frames one
        ``work()`` call completes, up to the next stream tag), each a buffer of
        :mod:`softbit.container` format (one 16-byte header, 1-2 bytes per frame): fewer
        bytes and far fewer messages.
    record_crc : {'none', 'crc16', 'crc32'}
        Per-frame CRC inside containers (the container has a CRC32 of its own).

    Output PDUs on message port ``pdus``: ``(meta, u8vector)``; meta holds ``packet_num``,
    ``llr_count`` (``frames`` for containers) and every tag found on the first frame's first
    item except the length tag (e.g. a ``packet_id``).  ``bytes_out`` / ``frames_out`` count
    what was produced.

    Bad input never stops the block: NaN/inf LLRs are compressed as 0 (``nonfinite``); a length
    tag that is not a positive multiple of K (integer, or a double holding one) up to what a frame
    holds is ignored and LLRs of incomplete frames are dropped (``bad.count``).
    """

    def __init__(
        self,
        bits_per_symbol=6,
        method="learned",
        frame_len=108,
        model="",
        len_tag_key="packet_len",
        bits=0,
        snr_tag_key="snr_db",
        pdu_format="frame",
        record_crc="none",
    ):
        gr.sync_block.__init__(self, name="softbit_compressor", in_sig=[np.float32], out_sig=None)
        from ..softbit import make_codec

        from ..softbit.frame import MAX_LATENTS

        if int(frame_len) < 1:
            raise ValueError(f"softbit_compressor: frame_len must be >= 1, got {frame_len}")
        bits = _check_bits(bits, "softbit_compressor")
        opts = (
            {"bits": int(bits)} if int(bits) > 0 and method not in ("learned", "deepllr", "deepllr-ec", "int8") else {}
        )
        self.codec = make_codec(method, int(bits_per_symbol), model, **opts)
        if pdu_format not in ("frame", "container"):
            raise ValueError(f"softbit_compressor: pdu_format must be 'frame' or 'container', got {pdu_format!r}")
        from ..softbit.container import RECORD_CRCS

        if record_crc not in RECORD_CRCS:
            raise ValueError(f"softbit_compressor: record_crc must be one of {sorted(RECORD_CRCS)}, got {record_crc!r}")
        self.pdu_format, self.record_crc = pdu_format, record_crc
        #: channel uses per frame the container can hold (its latent count is < MAX_LATENTS)
        self._max_rows = (MAX_LATENTS - 1) // self.codec.streams
        if int(frame_len) > self._max_rows:
            raise ValueError(
                f"softbit_compressor: frame_len {frame_len} is more than a {method} frame holds "
                f"({self._max_rows} channel uses); use a smaller frame_len"
            )
        self.k = int(bits_per_symbol)
        self.frame_len = int(frame_len)
        self.len_tag_key = len_tag_key
        self.snr_tag_key = snr_tag_key
        self.port = pmt.intern("pdus")
        self.message_port_register_out(self.port)
        self._buf = np.zeros(0, np.float32)
        self._buf_start = 0  # absolute index of _buf[0]
        self._frame_len_items = self.frame_len * self.k
        self._pending_meta = {}
        self._cur_len = None  # LLR count of the frame being accumulated (from a tag)
        self._snr = None
        self.packet_num = 0
        self.bytes_out = 0
        self.frames_out = 0
        self.bad = BadInputCounter(self.logger, "LLRs dropped by softbit_compressor")
        self.nonfinite = 0
        self._nonfinite = BadInputCounter(self.logger, "non-finite LLRs compressed as 0")
        self._basic = None  # this block as a gr.basic_block (for the C++ publisher), set on first use

    def _publish(self, frames, metas):
        """One PDU per frame (meta: packet_num, llr_count, + the pending tags on the first);
        built and published in C++ (deepquant.publish_frames) without the GIL."""
        first = metas[0] if metas else {}
        extra = {k: v for k, v in first.items() if k != "_n"}
        d = pmt.make_dict()
        for key, val in extra.items():
            d = pmt.dict_add(d, pmt.intern(key), val)
        counts = np.array([m["_n"] for m in metas], dtype=np.int64)
        if self._basic is None:
            self._basic = self.to_basic_block()
        _publish_frames(self._basic, self.port, frames, self.packet_num, counts, d if extra else pmt.PMT_NIL)
        self.packet_num += len(frames)
        self.bytes_out += sum(len(fb) for fb in frames)
        self.frames_out += len(frames)

    def work(self, input_items, output_items):
        x = input_items[0]
        n = len(x)
        fin = np.isfinite(x)
        if not fin.all():  # NaN/inf LLRs carry no usable information: stored as 0, counted
            x = np.where(fin, x, np.float32(0))
            self.nonfinite += int(n - np.count_nonzero(fin))
            self._nonfinite.add(int(n - np.count_nonzero(fin)))
        base = self.nitems_read(0)
        tags = self.get_tags_in_window(0, 0, n)
        # split the input at tags so that a frame-start tag is seen at the right place
        cuts = sorted({int(t.offset - base) for t in tags} | {n})
        pos = 0
        tag_at = {}
        for t in tags:
            tag_at.setdefault(int(t.offset - base), []).append(t)
        for c in cuts:
            self._absorb(x[pos:c])
            pos = c
            for t in tag_at.get(c, []) if c < n else []:
                self._on_tag(t)
        return n

    def _on_tag(self, t):
        key = pmt.symbol_to_string(t.key)
        if self.len_tag_key and key == self.len_tag_key:
            if self._buf.size:
                self.bad.add(self._buf.size, "incomplete frame before a new length tag")
                self._buf = np.zeros(0, np.float32)
            length = _tag_length(t.value)
            if length is None or length <= 0 or length % self.k or length // self.k > self._max_rows:
                self.bad.add(
                    1,
                    f"length tag {pmt.write_string(t.value)[:40]} is not a positive multiple of "
                    f"{self.k} up to {self._max_rows * self.k} (ignored: fixed frame_len framing)",
                )
                self._cur_len = None
            else:
                self._cur_len = length
            return
        if key == self.snr_tag_key:
            v = _pmt_to_py(t.value)
            self._snr = float(v) if isinstance(v, (int, float)) else None
        self._pending_meta[key] = t.value

    def _absorb(self, x):
        if x.size:
            self._buf = np.concatenate([self._buf, x]) if self._buf.size else np.array(x, dtype=np.float32)
        flen = self._cur_len or self._frame_len_items
        nf = self._buf.size // flen
        if self._cur_len is not None:
            nf = min(nf, 1)
        if nf == 0:
            return
        block = self._buf[: nf * flen].reshape(nf, flen // self.k, self.k)
        self._buf = self._buf[nf * flen :]
        try:
            if self.pdu_format == "container":
                frames = [self.codec.encode_container(block, snr_db=self._snr, record_crc=self.record_crc)]
            else:
                frames = self.codec.encode_frames(block, snr_db=self._snr)
        except (ValueError, RuntimeError) as e:  # never stop the flowgraph: drop the frames, counted
            self.bad.add(block.size, f"encoder failed: {e}")
            self._pending_meta = {}
            self._cur_len = None
            return
        if self.pdu_format == "container":
            m = dict(self._pending_meta)
            m["frames"] = pmt.from_long(nf)
            m["_n"] = nf * flen
            metas = [m]
        else:
            metas = []
            for i in range(nf):
                m = dict(self._pending_meta) if i == 0 else {}
                m["_n"] = flen
                metas.append(m)
        self._pending_meta = {}
        self._cur_len = None
        self._publish(frames, metas)
        self.frames_out += nf - len(frames)
        if self._buf.size:
            self._absorb(np.zeros(0, np.float32))


class softbit_decompressor(gr.sync_block):
    """Compressed PDUs -> LLR tagged stream (float32).

    Parameters
    ----------
    bits_per_symbol : int
    method : str
    model : str
        Must match the compressor's (frames carry a model id; foreign frames are rejected).
    bits : int
        As for the compressor (``uniform``/``maxmi``).
    len_tag_key : str
        Tag put on the first LLR of every frame with the frame's LLR count.

    PDUs may hold one frame (:mod:`softbit.frame`) or a container of frames
    (:mod:`softbit.container`); every frame becomes one tagged run of LLRs.  Invalid PDUs or
    container records (truncated, corrupted, foreign) are dropped, counted in ``bad_frames`` and
    logged (rate-limited); the flowgraph keeps running.  PDU meta entries become tags on the
    first LLR of the PDU's first frame.  Entries whose key is not a
    symbol are skipped, counted in ``bad_meta``.
    """

    def __init__(self, bits_per_symbol=6, method="learned", model="", bits=0, len_tag_key="packet_len"):
        gr.sync_block.__init__(self, name="softbit_decompressor", in_sig=None, out_sig=[np.float32])
        from ..softbit import make_codec

        bits = _check_bits(bits, "softbit_decompressor")
        opts = (
            {"bits": int(bits)} if int(bits) > 0 and method not in ("learned", "deepllr", "deepllr-ec", "int8") else {}
        )
        self.codec = make_codec(method, int(bits_per_symbol), model, **opts)
        if hasattr(self.codec, "lut"):
            self.codec.lut  # build the decoder lookup table now, not on the first frame
        self.len_tag = pmt.intern(len_tag_key) if len_tag_key else None
        self.port = pmt.intern("pdus")
        self.message_port_register_in(self.port)
        self.set_msg_handler(self.port, self._handle)
        self._q = deque()  # raw PDUs, decoded in batches by work()
        # decoded batches not yet written: (flat LLRs, frame start offsets, frame sizes, metas)
        self._ready = deque()
        self._pos = 0  # LLRs of self._ready[0] already written
        self._next = 0  # index of the next frame of self._ready[0] whose start is not tagged yet
        self._empty = pmt.make_dict()
        self.idle_wait = 0.002  # s; latency bound of an idle decompressor
        # room for many frames per work() call (each call costs Python overhead)
        self.set_min_output_buffer(OUT_BUFFER_ITEMS)
        self.frames_in = 0
        self.bad_frames = 0
        self.bytes_in = 0
        self._bad = BadInputCounter(self.logger, "invalid soft-bit frames dropped")
        self.bad_meta = 0
        self._bad_meta = BadInputCounter(self.logger, "PDU meta entries without a symbol key not turned into tags")

    # Messages are handled on this block's thread between work() calls: the handler only queues
    # the PDU; work() decodes everything queued in one batch (one rANS call for all frames, one
    # decoder-table gather for all rows), which is what makes the block fast.
    def _handle(self, msg):
        self._q.append(msg)

    def _decode_queued(self):
        msgs = list(self._q)
        self._q.clear()
        metas, recs, sizes = [], [], []
        for msg in msgs:
            try:
                meta, data = pmt.car(msg), _u8vector_to_bytes(pmt.cdr(msg))
            except Exception as e:  # noqa: BLE001 - not a (meta . u8vector) pair
                self.bad_frames += 1
                self._bad.add(1, f"not a PDU of bytes: {e}")
                continue
            rr = self.codec.records_of(data)
            recs += rr
            metas += [meta] + [self._empty] * (len(rr) - 1)
            sizes += [len(data)] + [0] * (len(rr) - 1)
        if not recs:
            return
        llrs, errors = self.codec._decode_records(recs)
        good, gmeta = [], []
        for meta, size, llr, err in zip(metas, sizes, llrs, errors):
            self.bytes_in += size
            if err is not None:
                self.bad_frames += 1
                self._bad.add(1, err)
                continue
            good.append(llr.reshape(-1))
            gmeta.append(meta)
        if not good:
            return
        self.frames_in += len(good)
        lens = np.array([g.size for g in good], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
        flat = np.concatenate(good) if len(good) > 1 else good[0]
        self._ready.append((flat, starts.tolist(), lens.tolist(), gmeta))

    def _tag_frame(self, off, meta, size):
        if self.len_tag is not None:
            self.add_item_tag(0, off, self.len_tag, pmt.from_long(size))
        if pmt.is_dict(meta) and not pmt.is_null(meta) and not pmt.eq(meta, self._empty):
            items = pmt.dict_items(meta)
            for i in range(pmt.length(items)):
                kv = pmt.nth(i, items)
                key = pmt.car(kv)
                if not pmt.is_symbol(key):  # a tag key must be a symbol: entry dropped, counted
                    self.bad_meta += 1
                    self._bad_meta.add(1, f"key {pmt.write_string(key)[:40]}")
                    continue
                if self.len_tag is None or not pmt.eq(key, self.len_tag):
                    self.add_item_tag(0, off, key, pmt.cdr(kv))

    def work(self, input_items, output_items):
        out = output_items[0]
        if self._q:
            self._decode_queued()
        if not self._ready:
            # nothing to do: PDUs are handled on this thread between work() calls, so wait
            # briefly instead of spinning
            time.sleep(self.idle_wait)
            return 0
        produced = 0
        base = self.nitems_written(0)
        room = len(out)
        while produced < room and self._ready:
            flat, starts, lens, metas = self._ready[0]
            n = min(room - produced, flat.size - self._pos)
            out[produced : produced + n] = flat[self._pos : self._pos + n]
            end = self._pos + n
            k = self._next
            while k < len(starts) and starts[k] < end:
                self._tag_frame(base + produced + starts[k] - self._pos, metas[k], lens[k])
                k += 1
            self._next = k
            produced += n
            self._pos = end
            if end >= flat.size:
                self._ready.popleft()
                self._pos = self._next = 0
        return produced
