# SPDX-License-Identifier: MIT
"""Property test (hypothesis, CPython): random appends with gaps, acks, reopenings and
torn tails against a simple model; nothing unacknowledged is ever lost or reordered."""

from __future__ import annotations

import os
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fwhelpers import cpython_paths

cpython_paths()
from store_cases import payload  # noqa: E402
from vwmeter.store import Store, StoreFull  # noqa: E402

pytestmark = pytest.mark.sim
S, M, RL = 3, 3, 16

ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 4)),
        st.tuples(st.just("ack"), st.integers(-2, 6)),
        st.tuples(st.just("reopen"), st.booleans()),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(ops)
def test_store_against_model(seq):
    with tempfile.TemporaryDirectory() as d:
        s = Store(d, RL, S, M)
        model = {}  # slot -> payload of every slot ever committed and not dropped
        acked = None
        nxt = 100
        for op, arg in seq:
            if op == "append":
                slot = nxt + arg - 1
                try:
                    s.append(slot, payload(slot, RL))
                    model[slot] = payload(slot, RL)
                    nxt = slot + 1
                except StoreFull:
                    # refusing is only allowed when the oldest segment holds unacked data
                    seg0 = min(model) // S
                    in_oldest = [t for t in model if t // S == seg0]
                    assert acked is None or max(in_oldest) > acked
                    assert len({t // S for t in model} | {slot // S}) > M
            elif op == "ack":
                if model:
                    a = max(model) + arg if arg < 0 else min(model) + arg
                    acked = s.ack(a)
            else:
                if arg and s.last_slot is not None:  # tear half a record onto the tail
                    k = s.segs[-1]
                    with open(os.path.join(d, "s%08d.seg" % k), "ab") as f:
                        f.write(b"\x00" * 7)
                s = Store(d, RL, S, M)
                assert s.acked == acked
            got = dict(s.iter_from(0))
            for slot in list(model):
                if slot not in got:
                    assert acked is not None and slot <= acked, "unacked slot %d lost" % slot
                    del model[slot]
            assert got == model
            assert list(got) == sorted(got)
