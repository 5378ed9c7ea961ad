"""Fuzz harness, short profile (issue 18): every block of the module in a real flowgraph, fed
streams / tags / PDUs / messages with NaN, +-inf, 1e30, denormals, zeros (rank-deficient and
zero channels), wrong tag and PDU types and vlen-1 ports, with a timeout. Asserted for every
case: the flowgraph finishes, no work()/handler raised, every float/complex output (and every
PDU's data) is finite, and when non-finite values went in, the block's bad-input counters moved.

The long profile (many more hypothesis examples, longer streams) is ``scripts/fuzz_blocks.py``.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import blocks_spec as bs
from runner import run_case

NAMES = sorted(bs.specs())


@pytest.mark.parametrize("name", NAMES)
def test_block_survives_every_input_class(name):
    problems = []
    for cls in bs.VALUE_CLASSES:
        hostile = cls in ("mixed", "nan")
        o = run_case(name, cls, seed=7, tags=hostile, messages=hostile)
        problems += [f"{o.case}: {p}" for p in o.problems()]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", ["ofdm_rx", "mimo_ofdm_rx"])
def test_receivers_decode_the_clean_packets_the_fuzzer_corrupts(name):
    # the corrupted-signal cases are meaningful only if the clean signal reaches the decoder
    o = run_case(name, "normal", seed=1)
    assert not o.problems() and o.out_items[0] > 0


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    name=st.sampled_from(NAMES),
    cls=st.sampled_from(bs.VALUE_CLASSES),
    seed=st.integers(0, 2**31 - 1),
    tags=st.booleans(),
    messages=st.booleans(),
    units=st.integers(0, 3),
)
def test_generated_cases(name, cls, seed, tags, messages, units):
    o = run_case(name, cls, seed=seed, tags=tags, messages=messages, n_units=units)
    assert not o.problems(), f"{name} {o.case} seed={seed} units={units}: {o.problems()}"
