"""One fuzz case: a block from :mod:`blocks_spec`, an input class, tags and messages, run in a real
flowgraph by :func:`harness.run_block`; returns what the tests assert on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

import numpy as np

import blocks_spec as bs
from harness import Port, make_tag, pmt_finite, run_block


@dataclass
class Outcome:
    block: str
    case: str
    finished: bool
    errors: List[str]
    finite: bool
    injected_bad: int  # non-finite values fed to float/complex stream inputs
    counted: int  # the block's bad-input counters after the run
    seconds: float
    out_items: List[int]  # items per output port (and messages on the message output, last)

    def problems(self) -> List[str]:
        p = []
        if not self.finished:
            p.append("did not finish (hang)")
        p += [f"exception {e}" for e in self.errors[:2]]
        if not self.finite:
            p.append("non-finite output")
        if self.injected_bad and not self.counted:
            p.append(f"{self.injected_bad} non-finite inputs, nothing counted")
        return p


def run_case(
    name: str, cls: str, seed: int = 0, tags: bool = False, messages: bool = False, n_units: int = 0
) -> Outcome:
    spec = bs.specs()[name]
    rng = np.random.default_rng(seed)
    blk = spec.make()
    ins, outs = bs.ports_of(blk, spec)
    n = spec.n_items if not n_units else n_units * spec.unit
    inputs, injected = [], 0
    base = spec.signal(rng) if spec.signal is not None else [None] * len(ins)
    if spec.signal is not None:
        n = base[0].size
    for (dtype, vlen, kind), b0 in zip(ins, base):
        x = bs.values(cls, n * vlen, dtype, rng, bits=spec.bits or kind == "bits", base=b0)
        if dtype != np.uint8:
            injected += int(np.isnan(x).sum() if spec.inf_defined else (~np.isfinite(x)).sum())
        inputs.append(x)
    tagd = {}
    if tags and ins:
        vals = bs.bad_tag_values()
        tagd[0] = [
            make_tag(int(rng.integers(0, n)), k, vals[int(rng.integers(0, len(vals)))])
            for k in bs.TAG_KEYS
            for _ in range(2)
        ]
    posts = []
    if messages or (spec.msg_in and not ins):
        for port in spec.msg_in:
            posts += [(port, m) for m in bs.bad_pmts(rng)]
    r = run_block(
        blk,
        [Port(d, v) for d, v, _ in ins],
        inputs,
        tagd,
        [Port(d, v) for d, v in outs],
        None,
        posts,
        spec.msg_out,
        timeout=spec.timeout,
    )
    finite = all(np.isfinite(o).all() for o in r.outputs if o.dtype.kind in "fc")
    finite &= all(pmt_finite(m) for m in r.messages)
    case = f"{cls}{'+tags' if tags else ''}{'+msgs' if posts else ''}"
    return Outcome(
        name,
        case,
        r.finished,
        r.errors,
        bool(finite),
        injected,
        bs.bad_total(blk),
        r.seconds,
        [len(o) for o in r.outputs] + [len(r.messages)],
    )
