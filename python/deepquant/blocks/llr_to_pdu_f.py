"""``llr_to_pdu_f``: LLR stream -> one f32vector PDU per packet, keyed for ``harq_buffer``."""
from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr

from ._common import BadInputCounter


class llr_to_pdu_f(gr.sync_block):
    """Cuts an LLR stream into packets and publishes each as a PDU for ``harq_buffer``.

    Input: LLRs (float, ``L = ln P(b=1)/P(b=0)``); each packet's first LLR carries the integer tag
    ``tag_key`` (e.g. ``ofdm_packet_num`` from ``ofdm_rx``'s soft path). A tag starts a packet of
    ``packet_llrs`` LLRs; a packet cut short by the next tag is dropped (counted in ``dropped``).
    Message output ``pdus``: ``(meta, f32vector)`` with ``meta = {tag_key: n, harq_id: n mod
    harq_period}`` (``n`` itself when ``harq_period`` is 0). With ``harq_period = P`` packet
    ``n + P`` is the retransmission of packet ``n``: both get the same ``harq_id``, so
    ``harq_buffer`` chase-combines them. ``pdu.pdu_to_tagged_stream`` turns ``harq_buffer``'s
    output back into a stream whose first item carries the meta entries as tags.

    Parameters
    ----------
    packet_llrs : int
        LLRs per packet (``n_codewords * 648``).
    tag_key : str
    harq_period : int
        Packet-number distance between a transmission and its retransmission (0: none).
    """

    def __init__(self, packet_llrs=2592, tag_key="ofdm_packet_num", harq_period=0):
        if int(packet_llrs) < 1:
            raise ValueError(f"llr_to_pdu_f: packet_llrs must be >= 1, got {packet_llrs}")
        if int(harq_period) < 0:
            raise ValueError(f"llr_to_pdu_f: harq_period must be >= 0, got {harq_period}")
        gr.sync_block.__init__(self, name="llr_to_pdu_f", in_sig=[np.float32], out_sig=None)
        self.n = int(packet_llrs)
        self.key = pmt.intern(tag_key)
        self.period = int(harq_period)
        self.port = pmt.intern("pdus")
        self.message_port_register_out(self.port)
        self._buf = []
        self._have = 0
        self._num = None
        self.packets = self.dropped = 0
        self.bad = BadInputCounter(self.logger, "LLRs outside a tagged packet")

    def _publish(self):
        llr = np.concatenate(self._buf)[: self.n]
        num = int(self._num)
        meta = pmt.make_dict()
        meta = pmt.dict_add(meta, self.key, pmt.from_long(num))
        meta = pmt.dict_add(meta, pmt.intern("harq_id"), pmt.from_long(num % self.period if self.period else num))
        self.message_port_pub(self.port, pmt.cons(meta, pmt.init_f32vector(llr.size, llr.tolist())))
        self.packets += 1
        self._buf, self._have, self._num = [], 0, None

    def work(self, input_items, output_items):
        x = input_items[0]
        n = len(x)
        base = self.nitems_read(0)
        tags = {int(t.offset - base): pmt.to_long(t.value) for t in self.get_tags_in_window(0, 0, n, self.key)}
        pos = 0
        for off in sorted(tags) + [n]:
            seg = x[pos:off]
            if seg.size:
                if self._num is None:
                    self.bad.add(int(seg.size))
                else:
                    take = seg[: self.n - self._have]
                    self._buf.append(np.array(take, dtype=np.float32))
                    self._have += take.size
                    if self._have >= self.n:
                        self._publish()
            if off < n:
                if self._num is not None and self._have:
                    self.dropped += 1
                self._buf, self._have, self._num = [], 0, tags[off]
            pos = off
        return n
