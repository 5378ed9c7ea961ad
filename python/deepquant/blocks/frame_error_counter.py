"""``frame_error_counter``: bit and frame (block) error rates of decoded bits against the sent bits."""

from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr


class frame_error_counter(gr.sync_block):
    """Counts bit and frame errors between two streams of unpacked bits.

    Inputs: 0 reference bits, 1 decoded bits (bytes 0/1, aligned, frames of ``frame_len``).
    Message outputs ``ber`` and ``fer``: after each work() call that completes frames, a pair (name . running
    rate) -- e.g. into ``blocks.msg_pair_to_var`` to show it in a QT GUI label.

    Parameters
    ----------
    frame_len : int
        Bits per frame (e.g. 324 info bits of an 802.11n (648, 324) codeword).
    skip_frames : int
        Frames ignored at the start (e.g. a decoder's latency transient).
    report : bool
        Log the totals when the flowgraph stops.

    Totals: ``bits``, ``bit_errors``, ``frames``, ``frame_errors``, ``ber()``, ``fer()``.
    """

    def __init__(self, frame_len=324, skip_frames=0, report=True):
        if int(frame_len) < 1:
            raise ValueError(f"frame_error_counter: frame_len must be >= 1, got {frame_len}")
        gr.sync_block.__init__(self, name="frame_error_counter", in_sig=[np.uint8, np.uint8], out_sig=None)
        self.message_port_register_out(pmt.intern("ber"))
        self.message_port_register_out(pmt.intern("fer"))
        self.frame_len = int(frame_len)
        self.skip = int(skip_frames) * self.frame_len
        self.report = bool(report)
        self.bits = self.bit_errors = self.frames = self.frame_errors = 0
        self._cur_frame_err = False
        self._pos = 0  # items consumed so far (including skipped)
        self._frames_published = 0

    def ber(self) -> float:
        return self.bit_errors / self.bits if self.bits else float("nan")

    def fer(self) -> float:
        return self.frame_errors / self.frames if self.frames else float("nan")

    def work(self, input_items, output_items):
        n = min(len(input_items[0]), len(input_items[1]))
        err = (input_items[0][:n] & 1) != (input_items[1][:n] & 1)
        start = self._pos
        self._pos += n
        keep_from = max(0, self.skip - start)
        err_kept = err[keep_from:]
        first = start + keep_from - self.skip  # position of err_kept[0] within counted bits
        if err_kept.size:
            self.bits += err_kept.size
            self.bit_errors += int(err_kept.sum())
            # frame boundaries inside this chunk
            off = first % self.frame_len
            idx = 0
            cur = self._cur_frame_err
            while idx < err_kept.size:
                take = min(self.frame_len - off, err_kept.size - idx)
                cur = cur or bool(err_kept[idx : idx + take].any())
                idx += take
                off += take
                if off == self.frame_len:
                    self.frames += 1
                    self.frame_errors += int(cur)
                    cur = False
                    off = 0
            frames_before = self._frames_published
            self._cur_frame_err = cur
            if self.frames > frames_before:
                self._frames_published = self.frames
                self.message_port_pub(pmt.intern("ber"), pmt.cons(pmt.intern("ber"), pmt.from_double(self.ber())))
                self.message_port_pub(pmt.intern("fer"), pmt.cons(pmt.intern("fer"), pmt.from_double(self.fer())))
        return n

    def stop(self):
        if self.report:
            self.logger.info(
                f"{self.frames} frames, {self.frame_errors} frame errors (FER {self.fer():.3e}); "
                f"{self.bits} bits, {self.bit_errors} bit errors (BER {self.ber():.3e})"
            )
        return True
