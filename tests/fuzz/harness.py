"""Run one block in a real GNU Radio flowgraph on given streams / tags / messages, with a timeout.

Used by the fuzz tests (``tests/fuzz``) and the long fuzz profile (``scripts/fuzz_blocks.py``).
A Python block's ``work``/``general_work``/message handlers are wrapped so that an exception
(which would kill the block's thread and leave ``tb.run()`` hanging) is recorded and reported
instead of only logged.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np
import pmt
from gnuradio import blocks, gr

_SRC = {
    np.complex64: blocks.vector_source_c,
    np.float32: blocks.vector_source_f,
    np.uint8: blocks.vector_source_b,
    np.int32: blocks.vector_source_i,
    np.int16: blocks.vector_source_s,
}
_SNK = {
    np.complex64: blocks.vector_sink_c,
    np.float32: blocks.vector_sink_f,
    np.uint8: blocks.vector_sink_b,
    np.int32: blocks.vector_sink_i,
    np.int16: blocks.vector_sink_s,
}


@dataclass
class Port:
    """One stream port: item dtype (numpy scalar type) and vlen."""

    dtype: type
    vlen: int = 1


@dataclass
class Result:
    finished: bool
    errors: List[str]
    outputs: List[np.ndarray]  # flat arrays, one per output stream port
    messages: List[object] = field(default_factory=list)  # PMTs received on the message output
    seconds: float = 0.0


def _tag(offset, key, value):
    t = gr.tag_t()
    t.offset = int(offset)
    t.key = pmt.intern(key) if isinstance(key, str) else key
    t.value = value
    t.srcid = pmt.intern("fuzz")
    return t


def make_tag(offset, key, value):
    """A stream tag (``value`` a PMT) at absolute item ``offset``."""
    return _tag(offset, key, value)


def _wrap(obj, name, errors):
    fn = getattr(obj, name, None)
    if fn is None:
        return

    def wrapped(*a, **kw):
        try:
            return fn(*a, **kw)
        except Exception as e:  # noqa: BLE001 - recorded, then re-raised as GNU Radio would see it
            errors.append(f"{name}: {type(e).__name__}: {e}")
            raise

    wrapped.__name__ = fn.__name__
    setattr(obj, name, wrapped)


def run_block(
    blk,
    in_ports: Sequence[Port] = (),
    inputs: Sequence[np.ndarray] = (),
    tags=None,
    out_ports: Sequence[Port] = (),
    msg_in=None,
    messages: Sequence = (),
    msg_out: Optional[str] = None,
    timeout: float = 20.0,
    settle: float = 0.3,
) -> Result:
    """Feed ``inputs`` (flat arrays, one per input port; ``tags[i]`` a list of tags for port i)
    and ``messages`` to ``blk``; collect every output stream and the messages published on
    ``msg_out``. ``messages``: PMTs posted to the port ``msg_in`` (a name), or ``(port, PMT)``
    pairs when ``msg_in`` is None.

    Stream blocks: the flowgraph ends when the sources are exhausted (``finished`` False = a hang,
    stopped after ``timeout`` s). Message-only blocks never end by themselves: the flowgraph is
    stopped once every posted message was handled and ``settle`` s passed without output.
    """
    errors: List[str] = []
    is_py = isinstance(blk, gr.gateway.gateway_block)
    if is_py:
        for name in ("work", "general_work"):
            if name in type(blk).__dict__:
                _wrap(blk, name, errors)
    posts = [(msg_in, m) for m in messages] if msg_in is not None else list(messages)
    tb = gr.top_block()
    sinks = []
    for i, (p, x) in enumerate(zip(in_ports, inputs)):
        x = np.asarray(x, dtype=p.dtype).reshape(-1)
        src = _SRC[p.dtype](x.tolist() if p.dtype != np.complex64 else x, False, p.vlen, list((tags or {}).get(i, [])))
        tb.connect(src, (blk, i))
    for i, p in enumerate(out_ports):
        snk = _SNK[p.dtype](p.vlen)
        tb.connect((blk, i), snk)
        sinks.append(snk)
    dbg = None
    if msg_out is not None:
        dbg = blocks.message_debug()
        tb.msg_connect((blk, msg_out), (dbg, "store"))
    handled = [0]
    if is_py:
        # count handled messages (and record exceptions) by wrapping the registered handlers
        for port in sorted({p for p, _ in posts}):
            key = pmt.intern(port)
            h = blk.msg_handlers.get(key)
            if h is None:
                continue

            def counting(msg, _h=h, _port=port):
                try:
                    return _h(msg)
                except Exception as e:  # noqa: BLE001
                    errors.append(f"handler {_port}: {type(e).__name__}: {e}")
                    raise
                finally:
                    handled[0] += 1

            counting.__name__ = h.__name__
            setattr(blk, h.__name__, counting)
            blk.msg_handlers[key] = counting
    else:
        handled[0] = len(posts)
    t0 = time.perf_counter()
    stream_driven = bool(in_ports)
    # messages to a block with stream inputs are queued before the start (its thread handles them
    # between work() calls; those still queued when the streams end are dropped by GNU Radio)
    if posts and stream_driven:
        bb = blk.to_basic_block()
        for port, m in posts:
            bb._post(pmt.intern(port), m)
    tb.start()
    if posts and not stream_driven:
        bb = blk.to_basic_block()
        for port, m in posts:
            bb._post(pmt.intern(port), m)
    done = threading.Event()
    finished = False
    if stream_driven:
        waiter = threading.Thread(target=lambda: (tb.wait(), done.set()), daemon=True)
        waiter.start()
        finished = done.wait(timeout)
    else:
        # message-driven: wait until every message was handled and the outputs stopped changing
        deadline = t0 + timeout
        last, last_change = None, time.perf_counter()
        ok = False
        while time.perf_counter() < deadline:
            n_out = (dbg.num_messages() if dbg is not None else 0) + sum(len(s.data()) for s in sinks)
            state = (handled[0], n_out)
            if state != last:
                last, last_change = state, time.perf_counter()
            if handled[0] >= len(posts) and time.perf_counter() - last_change > settle:
                ok = True
                break
            time.sleep(0.02)
        finished = ok
    if not (stream_driven and done.is_set()):
        tb.stop()
        tb.wait()
    outs = [np.asarray(s.data(), dtype=p.dtype) for s, p in zip(sinks, out_ports)]
    msgs = [dbg.get_message(i) for i in range(dbg.num_messages())] if dbg is not None else []
    return Result(finished=finished, errors=errors, outputs=outs, messages=msgs, seconds=time.perf_counter() - t0)


def pmt_finite(m) -> bool:
    """True when no float/complex number of a message's data is NaN/inf: a PDU's (or pair's)
    cdr, or the whole message otherwise. A PDU's meta is user data passed along and not checked."""
    try:
        if pmt.is_pair(m) and not pmt.is_dict(m):
            m = pmt.cdr(m)
        v = pmt.to_python(m)
    except Exception:  # noqa: BLE001 - opaque PMTs carry no numbers we can check
        return True
    return _py_finite(v)


def _py_finite(v) -> bool:
    if isinstance(v, np.ndarray):
        return not (v.dtype.kind in "fc" and not np.isfinite(v).all())
    if isinstance(v, (float, complex)):
        return bool(np.isfinite(v))
    if isinstance(v, dict):
        return all(_py_finite(x) for x in v.values())
    if isinstance(v, (list, tuple)):
        return all(_py_finite(x) for x in v)
    return True
