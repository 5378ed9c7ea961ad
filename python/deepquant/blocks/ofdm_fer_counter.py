"""``ofdm_fer_counter``: codeword (frame) error rate of decoded OFDM packets against the seeded
reference payloads, counting lost packets (header not detected or not decoded) as errors."""

from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr

from ..ofdm import reference
from ..phy import ldpc
from ._common import BadInputCounter, packet_num_tags

from ..tags import PACKET_NUM_KEY  # noqa: F401  (the packet-number tag of ``ofdm_rx``; re-exported)


class ofdm_fer_counter(gr.sync_block):
    """Counts codeword errors of decoded packets, using the ``ofdm_packet_num`` tag of each packet.

    Input: decoded info bits (bytes 0/1) from ``ofdm_rx``, ``324 * n_codewords`` per packet,
    ``ofdm_packet_num`` tag on each packet's first bit. The transmitter must send
    :func:`gnuradio.deepquant.ofdm.reference.reference_stream` ``(seed, period, 324 *
    n_codewords)`` repeated: packet p carries reference payload ``p % period``.

    A gap in the packet numbers counts every codeword of the missing packets as an error
    (``lost_packets``). Message output ``fer``: (fer . running codeword error rate) after each
    packet (into ``blocks.msg_pair_to_var`` for a QT label).

    Parameters
    ----------
    n_codewords : int
    seed, period : int
        As given to ``reference_stream``.
    report : bool
        Log the totals when the flowgraph stops.
    harq_period : int
        Packet-number distance between a transmission and its retransmission (``harq_id`` of the
        ``ack`` messages; 0: the packet number itself).

    Totals: ``packets``, ``lost_packets``, ``codewords``, ``codeword_errors``, ``bit_errors``,
    ``fer()``, ``ber()``; ``errors_per_packet`` (list of codeword-error counts, latest 10000);
    ``errors_by_num`` (packet number -> codeword errors, latest 10000 packets).
    """

    def __init__(self, n_codewords=4, seed=1, period=16, report=True, harq_period=0):
        gr.sync_block.__init__(self, name="ofdm_fer_counter", in_sig=[np.uint8], out_sig=None)
        self.ncw = int(n_codewords)
        self.plen = self.ncw * ldpc.K
        self.ref = reference.reference_bits(int(seed), int(period), self.plen)
        self.period = int(period)
        self.report = bool(report)
        self.port = pmt.intern("fer")
        self.message_port_register_out(self.port)
        self.ack_port = pmt.intern("ack")
        self.message_port_register_out(self.ack_port)
        self.harq_period = int(harq_period)
        self.errors_by_num = {}
        self.packets = self.lost_packets = self.codewords = self.codeword_errors = self.bit_errors = 0
        self.errors_per_packet = []
        self._buf = np.zeros(0, np.uint8)
        self._num = None
        self.bad_tags = BadInputCounter(self.logger, f"{PACKET_NUM_KEY!r} tags without an integer value ignored")
        self._last_num = None
        self.set_output_multiple(1)

    def fer(self) -> float:
        return self.codeword_errors / self.codewords if self.codewords else float("nan")

    def ber(self) -> float:
        n = (self.codewords - self.lost_packets * self.ncw) * ldpc.K
        return self.bit_errors / n if n > 0 else float("nan")

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
                if self._buf.size:  # an incomplete packet before a new one: count it as lost
                    self._buf = np.zeros(0, np.uint8)
                self._num = tags[off]
            pos = off
        return n

    def _drain(self):
        while self._buf.size >= self.plen and self._num is not None:
            bits = self._buf[: self.plen] & 1
            self._buf = self._buf[self.plen :]
            num = self._num
            if self._last_num is not None:
                gap = (num - self._last_num - 1) % reference.PACKET_NUM_MODULO
                if gap:
                    self.lost_packets += gap
                    self.codewords += gap * self.ncw
                    self.codeword_errors += gap * self.ncw
            self._last_num = num
            err = bits.reshape(self.ncw, ldpc.K) != self.ref[num % self.period].reshape(self.ncw, ldpc.K)
            e = int(err.any(axis=1).sum())
            self.packets += 1
            self.codewords += self.ncw
            self.codeword_errors += e
            self.bit_errors += int(err.sum())
            self.errors_per_packet.append(e)
            self.errors_by_num[num] = e
            if len(self.errors_by_num) > 10000:
                del self.errors_by_num[next(iter(self.errors_by_num))]
            if e == 0:
                d = pmt.dict_add(pmt.make_dict(), pmt.intern(PACKET_NUM_KEY), pmt.from_long(num))
                hid = num % self.harq_period if self.harq_period > 0 else num
                self.message_port_pub(self.ack_port, pmt.dict_add(d, pmt.intern("harq_id"), pmt.from_long(hid)))
            if len(self.errors_per_packet) > 10000:
                del self.errors_per_packet[:-10000]
            self._num = (num + 1) % reference.PACKET_NUM_MODULO  # if the next tag is missing
            self.message_port_pub(self.port, pmt.cons(pmt.intern("fer"), pmt.from_double(self.fer())))

    def stop(self):
        if self.report:
            self.logger.info(
                f"{self.packets} packets decoded, {self.lost_packets} lost; {self.codewords} codewords, "
                f"{self.codeword_errors} in error (FER {self.fer():.3e})"
            )
        return True
