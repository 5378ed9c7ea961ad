"""``packet_crc_check``: checks each decoded packet's CRC-32 and acknowledges the good ones (the
receiver-side criterion a HARQ loop needs; no reference payload involved)."""

from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr

from ..ofdm import reference
from ._common import BadInputCounter, packet_num_tags
from .ofdm_fer_counter import PACKET_NUM_KEY


class packet_crc_check(gr.sync_block):
    """CRC-32 check per decoded packet -> ``ack`` messages.

    Input: decoded information bits (bytes 0/1), ``bits_per_packet`` per packet, the first bit of
    each packet tagged ``ofdm_packet_num`` (as ``ofdm_rx`` outputs them). The last 32 bits of a
    packet are the CRC-32 (:func:`gnuradio.deepquant.ofdm.reference.append_crc`) of the others.
    A packet cut short by the next packet's tag is dropped (counted in ``incomplete``).

    Message outputs: ``ack`` -- dict ``{ofdm_packet_num: n, harq_id: n mod harq_period (or n)}``
    per packet whose CRC holds (into ``ofdm_rx``'s ``ack`` port, so the HARQ buffer releases
    it); ``crc`` -- ``(crc_ok . #t/#f)`` per packet; ``decision`` -- the same dict as ``ack`` plus
    ``crc_ok`` (#t/#f) for *every* packet (ack or nack: what ``harq_combiner_ff`` with
    ``wait_for_decisions`` needs to combine in stream order). Counters ``packets``, ``crc_ok``,
    ``crc_failed``, ``incomplete``.

    Parameters
    ----------
    bits_per_packet : int
        Decoded bits per packet (``324 * n_codewords`` for ``ofdm_rx``), CRC included.
    harq_period : int
        Packet-number distance of a retransmission (the ``harq_id`` of the acks); 0: the packet
        number itself.
    """

    def __init__(self, bits_per_packet=1296, harq_period=0):
        if int(bits_per_packet) <= reference.CRC_BITS:
            raise ValueError(
                f"packet_crc_check: bits_per_packet must exceed the {reference.CRC_BITS}-bit CRC, got {bits_per_packet}"
            )
        if int(harq_period) < 0:
            raise ValueError(f"packet_crc_check: harq_period must be >= 0 (0 = off), got {harq_period}")
        gr.sync_block.__init__(self, name="packet_crc_check", in_sig=[np.uint8], out_sig=None)
        self.plen = int(bits_per_packet)
        self.harq_period = int(harq_period)
        self.ack_port, self.crc_port = pmt.intern("ack"), pmt.intern("crc")
        self.decision_port = pmt.intern("decision")
        self.message_port_register_out(self.ack_port)
        self.message_port_register_out(self.crc_port)
        self.message_port_register_out(self.decision_port)
        self.packets = self.crc_ok = self.crc_failed = self.incomplete = 0
        self._buf = np.zeros(0, np.uint8)
        self._num = None
        self.bad_tags = BadInputCounter(self.logger, f"{PACKET_NUM_KEY!r} tags without an integer value ignored")

    def work(self, input_items, output_items):
        x = input_items[0]
        n = len(x)
        tags = packet_num_tags(self, n, self.bad_tags)
        pos = 0
        for off in sorted(tags) + [n]:
            if off > pos:
                self._buf = np.concatenate([self._buf, x[pos:off]])
                self._drain()
            if off < n:
                if self._buf.size:
                    self.incomplete += 1
                    self._buf = np.zeros(0, np.uint8)
                self._num = tags[off]
            pos = off
        return n

    def _drain(self):
        m = self._buf.size // self.plen
        if m == 0 or self._num is None:
            return
        pk = self._buf[: m * self.plen].reshape(m, self.plen)
        self._buf = self._buf[m * self.plen :]
        ok = reference.crc_ok(pk)  # one vectorised check for every whole packet
        for good in ok:
            num = self._num
            self.packets += 1
            hid = num % self.harq_period if self.harq_period > 0 else num
            d = pmt.dict_add(pmt.make_dict(), pmt.intern(PACKET_NUM_KEY), pmt.from_long(num))
            d = pmt.dict_add(d, pmt.intern("harq_id"), pmt.from_long(hid))
            if good:
                self.crc_ok += 1
                self.message_port_pub(self.ack_port, d)
            else:
                self.crc_failed += 1
            self.message_port_pub(self.decision_port, pmt.dict_add(d, pmt.intern("crc_ok"), pmt.from_bool(bool(good))))
            self.message_port_pub(self.crc_port, pmt.cons(pmt.intern("crc_ok"), pmt.from_bool(bool(good))))
            self._num = (num + 1) % reference.PACKET_NUM_MODULO  # if the next tag is missing
