"""``harq_buffer``: HARQ soft buffer that stores failed packets' LLRs compressed (any soft-bit
codec) and chase-combines them with retransmissions.

LLR convention ``L = ln P(b=1)/P(b=0)``; chase combining is the sum of the LLRs of the same coded
bits (independent noise), i.e. ``L_comb = L_stored + L_new``.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pmt
from gnuradio import gr

from ._common import BadInputCounter

POLICIES = ("evict_oldest", "drop_new")
_HEADER_BYTES = 16  # container header (12, rows per record: varint 0) + CRC32 trailer (4)


def _packet_id(v):
    """A packet id from a PMT: an integer or a string (symbol); None for anything else (a vector,
    a float, a dict ... cannot name a packet)."""
    try:
        if pmt.is_integer(v) or pmt.is_uint64(v):
            return int(pmt.to_python(v))
        if pmt.is_symbol(v):
            return pmt.symbol_to_string(v)
    except Exception:  # noqa: BLE001
        return None
    return None


class harq_buffer(gr.basic_block):
    """Compressed HARQ soft buffer (message block).

    Message ports
    -------------
    ``llr_in`` (in)
        PDU ``(meta, f32vector)``: the LLRs of one received transmission (``n`` LLRs, multiple of
        K); ``meta`` must hold the integer key ``packet_id_key``.  PDUs without it are forwarded
        unchanged and not stored.
    ``ack`` (in)
        A PDU or dict whose ``packet_id_key`` names a packet decoded correctly: its entry is
        released.  (A bare integer PMT is accepted as well.)
    ``llr_out`` (out)
        PDU ``(meta, f32vector)``: the new LLRs combined with the decompressed stored ones (if
        any), to feed the LDPC decoder; meta gains ``harq_combined`` (transmissions summed),
        ``harq_bytes_stored`` (total buffer occupancy after storing) and ``harq_stored``
        (bool, false when the policy refused to store it).

    Parameters
    ----------
    bits_per_symbol : int
    method : str
        Codec for storage (see :func:`gnuradio.deepquant.softbit.make_codec`).
    model : str
        Model file ('' = shipped).
    max_bytes : int
        Bound on the sum of the stored entries' sizes (bytes: each entry is one record of a
        :mod:`softbit.container` buffer, its payload plus 2-5 bytes of row count, table id and
        length; the fields every entry shares -- method, model id, K -- are the buffer's own
        configuration and are counted once, see ``bytes_stored()``).
    policy : {'evict_oldest', 'drop_new'}
        When a new entry does not fit: evict the least recently stored packets until it fits,
        or keep the buffer and do not store the new one.
    packet_id_key : str

    After each combination the combined LLRs replace the stored entry (so later retransmissions
    accumulate all earlier ones). NaN/inf LLRs of a transmission are combined as 0 (no
    information), so they never erase stored soft information; counted in ``nonfinite``. A
    ``packet_id`` that is not an integer or a string is counted in ``bad.count`` (the PDU is
    forwarded unchanged and not stored; such an ack is ignored).  ``bytes_stored()``, ``entries()``
    and ``evictions`` report the state; ``peak_bytes``, ``frames_stored`` and
    ``stored_bits_per_llr()`` the storage cost; ``serialize()`` writes the whole buffer as one
    container (e.g. to hand it to a relay), which ``Codec.decode_container`` reads back.
    """

    def __init__(
        self,
        bits_per_symbol=6,
        method="learned",
        model="",
        max_bytes=1 << 20,
        policy="evict_oldest",
        packet_id_key="packet_id",
        bits=0,
    ):
        gr.basic_block.__init__(self, name="harq_buffer", in_sig=None, out_sig=None)
        from ..softbit import make_codec

        if policy not in POLICIES:
            raise ValueError(f"harq_buffer: policy must be one of {POLICIES}, got {policy!r}")
        if int(max_bytes) <= 0:
            raise ValueError(f"harq_buffer: max_bytes must be > 0, got {max_bytes}")
        opts = (
            {"bits": int(bits)} if int(bits) > 0 and method not in ("learned", "deepllr", "deepllr-ec", "int8") else {}
        )
        self.codec = make_codec(method, int(bits_per_symbol), model, **opts)
        if hasattr(self.codec, "lut"):
            self.codec.lut  # build the decoder lookup table now, not on the first retransmission
        self.k = int(bits_per_symbol)
        self.max_bytes = int(max_bytes)
        self.policy = policy
        self.key = pmt.intern(packet_id_key)
        self.store = OrderedDict()  # packet id -> ((table id, rows, payload), record bytes, transmissions)
        self._bytes = 0
        self.evictions = 0
        self.refused = 0
        self.peak_bytes = 0  # highest occupancy seen
        self.acks = 0  # entries released by an ack
        self.frames_stored = 0  # entries written (a combined entry rewritten counts again)
        self.bytes_written = 0
        self.llrs_written = 0
        self.p_in, self.p_ack, self.p_out = pmt.intern("llr_in"), pmt.intern("ack"), pmt.intern("llr_out")
        self.message_port_register_in(self.p_in)
        self.message_port_register_in(self.p_ack)
        self.message_port_register_out(self.p_out)
        self.set_msg_handler(self.p_in, self._on_llr)
        self.set_msg_handler(self.p_ack, self._on_ack)
        self.bad = BadInputCounter(self.logger, "bad HARQ inputs")
        self.nonfinite = 0  # NaN/inf LLRs of received transmissions, combined as 0
        self._nonfinite = BadInputCounter(self.logger, "non-finite LLRs combined as 0 (stored information kept)")

    # -- state ----------------------------------------------------------------------------------
    def bytes_stored(self) -> int:
        """Bytes of the stored entries plus, when there is one, the container header and trailer
        that ``serialize()`` adds once for the whole buffer."""
        return self._bytes + (_HEADER_BYTES if self.store else 0)

    def serialize(self, record_crc: str = "none") -> bytes:
        """The whole buffer as one :mod:`softbit.container` buffer (entries in storage order; the
        packet ids are not part of it)."""
        from ..softbit import container

        return container.pack(
            self.codec.code,
            self.codec.model_id,
            self.k,
            self.codec.streams,
            [rec for rec, _, _ in self.store.values()],
            record_crc,
            per_record=True,
        )

    def entries(self) -> int:
        return len(self.store)

    def _drop(self, pid):
        _, size, _ = self.store.pop(pid)
        self._bytes -= size

    def _decode(self, rec) -> np.ndarray:
        out, err = self.codec._decode_records([(rec, None)])
        if err[0] is not None:  # cannot happen for entries this block wrote
            raise RuntimeError(f"harq_buffer: stored entry does not decode: {err[0]}")
        return np.asarray(out[0], dtype=np.float32).reshape(-1)

    def _put(self, pid, llr, ntx) -> bool:
        from ..softbit import container

        rec = self.codec.encode_records(llr.reshape(1, -1, self.k))[0]
        size = container.record_bytes(rec, per_record=True)
        if pid in self.store:
            self._drop(pid)
        if size > self.max_bytes:
            self.refused += 1
            return False
        while self._bytes + size > self.max_bytes:
            if self.policy == "drop_new":
                self.refused += 1
                return False
            oldest = next(iter(self.store))
            self._drop(oldest)
            self.evictions += 1
        self.store[pid] = (rec, size, ntx)
        self._bytes += size
        self.peak_bytes = max(self.peak_bytes, self._bytes)
        self.frames_stored += 1
        self.bytes_written += size
        self.llrs_written += int(llr.size)
        return True

    def stop(self):
        if self.frames_stored:
            self.logger.info(
                f"HARQ buffer: {self.frames_stored} entries written ({self.stored_bits_per_llr():.2f} bits "
                f"per LLR), peak {self.peak_bytes} bytes, {self._bytes} bytes in {len(self.store)} entries "
                f"at the end, {self.evictions} evicted"
            )
        return True

    def stored_bits_per_llr(self) -> float:
        """Bits per LLR of everything written to the buffer (NaN before the first entry)."""
        return 8.0 * self.bytes_written / self.llrs_written if self.llrs_written else float("nan")

    def lookup(self, pid):
        """Decompressed stored LLRs of ``pid`` and their transmission count, or (None, 0)."""
        if pid not in self.store:
            return None, 0
        rec, _, ntx = self.store[pid]
        return self._decode(rec), ntx

    def put(self, pid, llr: np.ndarray, ntx: int) -> bool:
        """Store ``llr`` (compressed) as ``pid``'s entry after ``ntx`` transmissions; False when the
        policy refused it."""
        return self._put(pid, np.asarray(llr, dtype=np.float32).reshape(-1), int(ntx))

    def release(self, pid) -> bool:
        """Drop ``pid``'s entry (what an ack does); True if there was one."""
        if pid in self.store:
            self._drop(pid)
            self.acks += 1
            return True
        return False

    def combine(self, pid, llr: np.ndarray):
        """Numeric core (no message passing): -> (combined LLRs, transmissions, stored)."""
        llr = np.asarray(llr, dtype=np.float32).reshape(-1)
        if llr.size % self.k:
            raise ValueError(f"{llr.size} LLRs is not a multiple of K={self.k}")
        fin = np.isfinite(llr)
        if not fin.all():  # NaN/inf LLRs carry no usable information: combined as 0, so the
            nbad = int(llr.size - np.count_nonzero(fin))  # stored soft information survives
            llr = np.where(fin, llr, np.float32(0))
            self.nonfinite += nbad
            self._nonfinite.add(nbad, f"packet {pid}")
        ntx = 1
        if pid in self.store:
            rec, _, prev = self.store[pid]
            old = self._decode(rec)
            if old.size == llr.size:
                llr = llr + old
                ntx = prev + 1
            else:
                self.bad.add(1, f"packet {pid}: stored {old.size} LLRs, retransmission has {llr.size}")
        stored = self._put(pid, llr, ntx)
        return llr, ntx, stored

    # -- message handlers ---------------------------------------------------------------------------
    def _on_llr(self, msg):
        try:
            meta, vec = pmt.car(msg), pmt.cdr(msg)
            llr = np.asarray(pmt.f32vector_elements(vec), dtype=np.float32)
        except Exception as e:  # noqa: BLE001
            self.bad.add(1, f"not an f32vector PDU: {e}")
            return
        fin = np.isfinite(llr)
        if not fin.all():  # NaN/inf LLRs carry no usable information: 0, counted
            nbad = int(llr.size - np.count_nonzero(fin))
            llr = np.where(fin, llr, np.float32(0))
            self.nonfinite += nbad
            self._nonfinite.add(nbad)
            msg = pmt.cons(meta, pmt.init_f32vector(llr.size, llr.tolist()))
        if not pmt.is_dict(meta) or not pmt.dict_has_key(meta, self.key):
            self.message_port_pub(self.p_out, msg)
            return
        pid = _packet_id(pmt.dict_ref(meta, self.key, pmt.PMT_NIL))
        if pid is None:  # not usable as a key: forwarded unchanged, not stored, counted
            self.bad.add(1, f"{pmt.symbol_to_string(self.key)!r} is not an integer or a string")
            self.message_port_pub(self.p_out, msg)
            return
        try:
            out, ntx, stored = self.combine(pid, llr)
        except Exception as e:  # noqa: BLE001 - never crash the flowgraph
            self.bad.add(1, str(e))
            return
        meta = pmt.dict_add(meta, pmt.intern("harq_combined"), pmt.from_long(ntx))
        meta = pmt.dict_add(meta, pmt.intern("harq_bytes_stored"), pmt.from_long(self._bytes))
        meta = pmt.dict_add(meta, pmt.intern("harq_stored"), pmt.from_bool(stored))
        self.message_port_pub(self.p_out, pmt.cons(meta, pmt.init_f32vector(out.size, out.tolist())))

    def _on_ack(self, msg):
        # a non-empty PMT dict is also a pair: look for the key in the message itself first, then
        # in its car (a PDU's meta); a bare integer names the packet directly
        pid = None
        try:
            for m in (msg, pmt.car(msg) if pmt.is_pair(msg) else None):
                if m is not None and pmt.is_dict(m) and pmt.dict_has_key(m, self.key):
                    pid = _packet_id(pmt.dict_ref(m, self.key, pmt.PMT_NIL))
                    break
            else:
                pid = _packet_id(msg) if pmt.is_integer(msg) else None
        except Exception as e:  # noqa: BLE001
            self.bad.add(1, f"bad ack: {e}")
            return
        if pid is None:
            self.bad.add(1, f"ack without an integer or string {pmt.symbol_to_string(self.key)!r}")
            return
        self.release(pid)
