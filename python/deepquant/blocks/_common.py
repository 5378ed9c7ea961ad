"""Shared plumbing of the module's Python blocks: torch threads, bad-input accounting."""

from __future__ import annotations

import os

import numpy as np

_THREADS_SET = False


def configure_torch_threads() -> int:
    """Set torch's intra-op threads once per process, deliberately.

    Several torch blocks in one flowgraph each run in their own GNU Radio thread; letting each
    spawn an OpenMP pool of all cores oversubscribes the CPU (measured 20x slower on 2 cores).
    Default: 1 thread per block; override with ``DEEPQUANT_TORCH_THREADS``.

    numpy's BLAS (OpenBLAS) gets the same limit, through ``threadpoolctl`` (a scikit-learn
    dependency, so always installed here): its worker threads spin while GNU Radio's block threads
    want the cores -- measured in flowgraph 2's payload estimator, a 42x42 complex inverse took 5
    ms instead of 0.1 ms and the whole receiver ran 1.6x slower.
    """
    global _THREADS_SET
    import torch

    n = int(os.environ.get("DEEPQUANT_TORCH_THREADS", "1"))
    if not _THREADS_SET:
        torch.set_num_threads(max(1, n))
        try:
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=max(1, n), user_api="blas")
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
            pass
        _THREADS_SET = True
    return torch.get_num_threads()


class BadInputCounter:
    """Counts rejected items and logs at the 1st, 2nd, 4th, 8th ... occurrence (never floods)."""

    def __init__(self, logger, what: str):
        self.logger = logger
        self.what = what
        self.count = 0
        self._events = 0

    def add(self, n: int, detail: str = "") -> None:
        if n <= 0:
            return
        self.count += int(n)
        self._events += 1
        if self._events & (self._events - 1) == 0:
            self.logger.warn(f"{n} {self.what}{(' (' + detail + ')') if detail else ''}; {self.count} so far")


def finite_rows(*arrays: np.ndarray) -> np.ndarray:
    """Boolean mask [B]: True where every value of row b of every array is finite."""
    ok = None
    for a in arrays:
        a2 = np.isfinite(a.reshape(a.shape[0], -1)).all(axis=1)
        ok = a2 if ok is None else (ok & a2)
    return ok


def sanitize_channel_uses(y, h, nv):
    """Mask of valid MIMO channel uses (finite y and H, 0 < sigma^2 < inf) and inputs in which the
    invalid ones are replaced by harmless values (y = 0, H = identity, sigma^2 = 1), so one batched
    detector call runs on everything; the caller zeroes the invalid uses' outputs and counts them.

    y [n, Nr] complex, h [n, Nr, Nt] complex, nv [n] float -> (ok [n] bool, y, h, nv)."""
    n = y.shape[0]
    ok = np.isfinite(y).all(axis=1) & np.isfinite(h).reshape(n, -1).all(axis=1) & np.isfinite(nv) & (nv > 0)
    if not ok.all():
        y = np.where(ok[:, None], y, 0).astype(np.complex64)
        eye = np.eye(h.shape[1], h.shape[2], dtype=np.complex64)
        h = np.where(ok[:, None, None], h, eye).astype(np.complex64)
        nv = np.where(ok, nv, 1.0).astype(np.float32)
    return ok, y, h, nv


#: |LLR| bound of the blocks' outputs: far beyond any meaningful LLR, and sums of many (HARQ chase
#: combining, decoders) stay finite in float32
LLR_LIMIT = 1e30


def finite_llrs(llr: np.ndarray, recompute, counter: BadInputCounter) -> np.ndarray:
    """Make detector/demapper output finite by construction, in place.

    ``llr`` [n, L] float32. Rows with a non-finite value (float32 overflow: sigma^2 near or below
    float32's smallest normal, |h| or |y| beyond ~1e19) are recomputed by ``recompute(rows)``
    (the same computation in float64, or None when there is none) and clipped to
    +-:data:`LLR_LIMIT`; rows still non-finite become zero LLRs ("no information"). Every row
    that needed this is counted in ``counter`` (logged rate-limited). All values are clipped to
    +-:data:`LLR_LIMIT`."""
    bad = ~np.isfinite(llr).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        r = None
        if recompute is not None:
            try:
                r = np.asarray(recompute(rows), dtype=np.float64).reshape(len(rows), llr.shape[1])
            except Exception:  # noqa: BLE001 - the neutral output below
                r = None
        if r is None:
            r = np.zeros((len(rows), llr.shape[1]))
        r = np.clip(r, -LLR_LIMIT, LLR_LIMIT)
        r[~np.isfinite(r).all(axis=1)] = 0.0
        llr[rows] = r
        counter.add(len(rows))
    np.clip(llr, -LLR_LIMIT, LLR_LIMIT, out=llr)
    return llr


def zero_nonfinite(x: np.ndarray, counter: BadInputCounter, detail: str = "") -> np.ndarray:
    """``x`` with NaN/inf items replaced by 0 (a copy only when there are any), counted per item
    (a complex item counts once)."""
    fin = np.isfinite(x)
    if fin.all():
        return x
    counter.add(int(fin.size - np.count_nonzero(fin)), detail)
    return np.where(fin, x, x.dtype.type(0))


def robust_rows(fn, n: int):
    """``fn(rows)`` over ``rows = arange(n)``, splitting the batch in halves when it raises (a
    numerically degenerate channel use makes a batched Cholesky/solve fail for the whole batch):
    -> (list of (rows, result) that succeeded, rows that failed on their own)."""
    done, failed = [], []
    todo = [np.arange(n)]
    while todo:
        rows = todo.pop()
        try:
            done.append((rows, fn(rows)))
        except Exception:  # noqa: BLE001 - isolated below, then the neutral output
            if rows.size == 1:
                failed.append(int(rows[0]))
            else:
                h = rows.size // 2
                todo += [rows[h:], rows[:h]]
    return done, np.array(sorted(failed), dtype=np.int64)


def packet_num_tags(block, n: int, counter: BadInputCounter) -> dict:
    """Packet-number tags on input 0 of ``block`` within its next ``n`` items: ``{offset in the
    window: packet number}``; a tag whose value is not an integer is ignored and counted in
    ``counter``."""
    import pmt

    from ..tags import PACKET_NUM_KEY

    base = block.nitems_read(0)
    tags = {}
    for t in block.get_tags_in_window(0, 0, n, pmt.intern(PACKET_NUM_KEY)):
        num = tag_int(t.value)
        if num is None:  # a packet-number tag of the wrong type: ignored, counted
            counter.add(1, pmt.write_string(t.value)[:40])
        else:
            tags[int(t.offset - base)] = num
    return tags


def tag_int(v):
    """An integer from a tag/meta PMT (an integer, or a real holding an integer value); None for
    any other type (a vector, symbol, NaN ...): callers count and ignore such tags."""
    import pmt

    try:
        if pmt.is_integer(v) or pmt.is_uint64(v):
            return int(pmt.to_python(v))
        if pmt.is_real(v):
            f = float(pmt.to_double(v))
            return int(f) if np.isfinite(f) and f == int(f) else None
    except Exception:  # noqa: BLE001
        return None
    return None


def tag_float(v):
    """A finite float from a tag/meta PMT (integer or real); None otherwise."""
    import pmt

    try:
        if pmt.is_number(v) and not pmt.is_complex(v):
            f = float(pmt.to_double(v))
            return f if np.isfinite(f) else None
    except Exception:  # noqa: BLE001
        return None
    return None
