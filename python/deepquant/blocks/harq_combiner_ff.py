"""``harq_combiner_ff``: the HARQ soft buffer in stream form -- chase combining of an LLR stream's
packets with their earlier transmissions, stored compressed in a ``harq_buffer``."""

from __future__ import annotations

import time

import numpy as np
import pmt
from gnuradio import gr

from ..tags import PACKET_NUM_KEY
from ._common import BadInputCounter
from .harq_buffer import _packet_id

#: longest wait for the decision on a packet's earlier transmission (wait_for_decisions)
DECISION_TIMEOUT_S = 10.0


class harq_combiner_ff(gr.sync_block):
    """Chase combining on an LLR stream, with a compressed HARQ soft buffer (``harq_buffer``).

    Input: LLRs (float, ``L = ln P(b=1)/P(b=0)``); each packet's first LLR carries the integer
    tag ``tag_key`` (``ofdm_packet_num`` from ``ofdm_rx``'s soft path), a packet is
    ``packet_llrs`` LLRs. Output: the same stream (same length and tags) with every LLR of a
    packet whose ``harq_id`` (packet number mod ``harq_period``) has a stored entry replaced by
    the sum of the new and the decompressed stored LLR -- so packet ``n + P``, the retransmission
    of packet ``n``, reaches the decoder combined with it. At the end of each packet the (combined)
    LLRs are stored compressed as that ``harq_id``'s entry, replacing the old one (later
    retransmissions accumulate all earlier ones). Message input ``ack``: a dict (or PDU meta)
    with ``harq_id`` (or a bare integer) releases that entry -- a packet decoded correctly needs
    no retransmission; connect the FER counter's (or a CRC checker's) ``ack``.

    The storage is a :class:`~gnuradio.deepquant.blocks.harq_buffer.harq_buffer` (``self.buffer``:
    codec, bounded memory, eviction policy, ``peak_bytes``, ``bytes_stored()``,
    ``stored_bits_per_llr()``); this block only feeds it from a stream, so no message queue lies
    between demapper and decoder (a flowgraph that ends drains every packet).

    Parameters
    ----------
    packet_llrs : int
        LLRs per packet (``n_codewords * 648`` in the OFDM flowgraphs).
    harq_period : int
        Packet-number distance between a transmission and its retransmission (>= 1).
    bits_per_symbol : int
        K (the codec works on K LLRs per channel use).
    method : str
        Soft-bit codec of the buffer (:func:`gnuradio.deepquant.softbit.make_codec`).
    bits : int
        Bits per soft bit for 'uniform'/'maxmi' (0 = codec default).
    max_bytes : int
        Buffer size; the oldest entries are evicted when a new one does not fit.
    tag_key : str

    wait_for_decisions : bool
        Scheduling-independent HARQ (issue 18): connect ``packet_crc_check``'s ``decision`` port
        (an ack *or* nack per packet) to the ``decision`` input. Before combining packet n with
        the entry of its harq_id, the block waits until the decision on the packet that entry
        holds has arrived and applies it then (ack: the entry is released, no combining), so
        combining, releases and buffer occupancy follow the stream, not thread timing (acks on
        the ``ack`` port are then ignored). A decision missing for 10 s is given up on, counted
        (``decision_timeouts``). False: acks release entries whenever they arrive.

    Counters: ``packets``, ``combined`` (packets that met a stored entry), ``untagged`` (LLRs
    before the first tag, passed through), ``bad_tags`` (packet tags without an integer value,
    ignored). NaN/inf input LLRs are output and combined as 0 (no information), so they never
    erase stored soft information; counted in ``buffer.nonfinite``.
    """

    def __init__(
        self,
        packet_llrs=2592,
        harq_period=32,
        bits_per_symbol=6,
        method="learned",
        bits=0,
        max_bytes=1 << 20,
        tag_key="ofdm_packet_num",
        wait_for_decisions=False,
    ):
        if int(packet_llrs) < 1 or int(packet_llrs) % int(bits_per_symbol):
            raise ValueError(
                f"harq_combiner_ff: packet_llrs must be a positive multiple of bits_per_symbol, got {packet_llrs}"
            )
        if int(harq_period) < 1:
            raise ValueError(f"harq_combiner_ff: harq_period must be >= 1, got {harq_period}")
        gr.sync_block.__init__(self, name="harq_combiner_ff", in_sig=[np.float32], out_sig=[np.float32])
        from .harq_buffer import harq_buffer

        self.buffer = harq_buffer(
            int(bits_per_symbol), method, "", int(max_bytes), "evict_oldest", "harq_id", int(bits)
        )
        self.n = int(packet_llrs)
        self.period = int(harq_period)
        self.key = pmt.intern(tag_key)
        self.message_port_register_in(pmt.intern("ack"))
        # (GNU Radio's Python gateway resolves a handler by name on this block: wrap the buffer's)
        self.set_msg_handler(pmt.intern("ack"), self._on_ack)
        self.wait = bool(wait_for_decisions)
        self.message_port_register_in(pmt.intern("decision"))
        self.set_msg_handler(pmt.intern("decision"), self._on_decision)
        self._decided = {}  # packet number -> CRC ok (decisions not applied yet)
        self._src = {}  # harq_id -> packet number whose LLRs the entry holds
        self._num = None  # packet number of the packet being fed
        self._wait_since = None
        self.decision_timeouts = 0
        self._timeouts = BadInputCounter(
            self.logger,
            f"packets combined without their earlier transmission's decision (none within {DECISION_TIMEOUT_S:g} s)",
        )
        self._pid = None
        self._stored = None
        self._ntx = 0
        self._acc = []
        self._have = 0
        self.packets = self.combined = self.untagged = 0
        self.bad = BadInputCounter(self.logger, "packets cut short by the next packet tag (not stored)")
        self.bad_tags = 0
        self._bad_tags = BadInputCounter(self.logger, f"{tag_key!r} tags without an integer value ignored")

    def _on_ack(self, msg):
        if not self.wait:  # with wait_for_decisions, releases follow the decisions in stream order
            self.buffer._on_ack(msg)

    def _on_decision(self, msg):
        """``{ofdm_packet_num: n, crc_ok: bool, ...}`` for every decoded packet (``packet_crc_check``'s
        ``decision`` port): recorded, applied when the stream reaches packet n + P."""
        try:
            num = _packet_id(pmt.dict_ref(msg, pmt.intern(PACKET_NUM_KEY), pmt.PMT_NIL))
            ok = pmt.to_bool(pmt.dict_ref(msg, pmt.intern("crc_ok"), pmt.PMT_NIL))
        except Exception:  # noqa: BLE001
            num = None
        if not isinstance(num, int):
            self.buffer.bad.add(1, "decision without an integer ofdm_packet_num and a crc_ok flag")
            return
        self._decided[num] = bool(ok)
        if len(self._decided) > 4 * self.period + 64:  # never consulted (e.g. lost retransmission)
            for k in sorted(self._decided)[: len(self._decided) - 4 * self.period]:
                del self._decided[k]

    def _must_wait(self, num) -> bool:
        """With ``wait_for_decisions``: the packet ``num`` is about to be combined with the entry of
        its harq_id -- wait (True) until the decision on the packet that entry holds arrived; then
        apply it (ack: release, no combining). A decision missing for DECISION_TIMEOUT_S (a stalled
        or broken feedback path) is given up on, counted: the flowgraph never stops."""
        if not self.wait:
            return False
        hid = int(num) % self.period
        src = self._src.get(hid)
        if src is None or self.buffer.lookup(hid)[0] is None:
            return False
        if src not in self._decided:
            now = time.monotonic()
            if self._wait_since is None:
                self._wait_since = now
            if now - self._wait_since < DECISION_TIMEOUT_S:
                return True
            self.decision_timeouts += 1
            self._timeouts.add(1, f"packet {src}")
            self._wait_since = None
            return False
        self._wait_since = None
        if self._decided.pop(src):
            self.buffer.release(hid)
        self._src.pop(hid, None)
        return False

    def _start(self, num):
        if self._pid is not None and self._have:
            self.bad.add(1)
        self._num = int(num)
        self._pid = int(num) % self.period
        self._stored, self._ntx = self.buffer.lookup(self._pid)
        if self._stored is not None and self._stored.size != self.n:
            self._stored, self._ntx = None, 0
        self._acc, self._have = [], 0
        self.packets += 1
        self.combined += self._stored is not None

    def _feed(self, x, out):
        """Combine x (a piece of the current packet) into out; store at the packet's end."""
        m = min(x.size, self.n - self._have)
        y = x[:m] if self._stored is None else x[:m] + self._stored[self._have : self._have + m]
        out[:m] = y
        out[m:] = x[m:]  # beyond the packet (no new tag): pass through
        self._acc.append(np.array(y, dtype=np.float32))
        self._have += m
        if self._have >= self.n:
            if self.buffer.put(self._pid, np.concatenate(self._acc), self._ntx + 1):
                self._src[self._pid] = self._num
            self._pid, self._stored, self._acc, self._have = None, None, [], 0

    def work(self, input_items, output_items):
        x = input_items[0]
        out = output_items[0]
        n = len(x)
        fin = np.isfinite(x)
        if not fin.all():  # NaN/inf LLRs carry no information: combined as 0, stored LLRs survive
            nbad = int(n - np.count_nonzero(fin))
            x = np.where(fin, x, np.float32(0))
            self.buffer.nonfinite += nbad
            self.buffer._nonfinite.add(nbad)
        base = self.nitems_read(0)
        tags = {}
        for t in self.get_tags_in_window(0, 0, n, self.key):
            num = _packet_id(t.value)
            if isinstance(num, int):
                tags[int(t.offset - base)] = num
            else:
                self.bad_tags += 1
                self._bad_tags.add(1, pmt.write_string(t.value)[:40])
        pos = 0
        for off in sorted(tags) + [n]:
            if off > pos:
                if self._pid is None:
                    out[pos:off] = x[pos:off]
                    self.untagged += off - pos
                else:
                    self._feed(x[pos:off], out[pos:off])
            if off < n:
                if self._must_wait(tags[off]):
                    # stop before this packet; work() resumes at its tag once the decision is in
                    if off == 0:
                        time.sleep(0.001)
                    return off
                self._start(tags[off])
            pos = off
        return n

    def stop(self):
        return self.buffer.stop()
