"""Slot closing rules of vwmeter.meter (in CPython, with a stepped clock): every slot once
and in order; after a restart or a clock jump at most max_catchup missed slots are
certified and older ones form ONE gap; a running meter that lags never skips."""
from __future__ import annotations

import pytest

from fwhelpers import cpython_paths

cpython_paths()
from vwmeter.meter import Meter  # noqa: E402

pytestmark = pytest.mark.sim
T0 = 1767225600
S0 = T0 // 1800


class StepClock:
    def __init__(self):
        self.t = None

    def is_set(self):
        return self.t is not None

    def set(self, t):
        self.t = t

    def now(self):
        return self.t

    def now_slot(self):
        return None if self.t is None else self.t // 1800


class Source:
    def read_slot(self, slot):
        return slot % 1000


def make(root, clock):
    return Meter({"profile": "test", "clock": clock, "source": Source(), "storage": str(root),
                  "seg_records": 8, "max_segments": 8, "max_catchup": 5})


def provision(m):
    m.provision({"meter_id": b"CATCHUP1", "group_id": 1, "clock": T0, "sig_secret": bytes(32),
                 "agg_secret": bytes(32), "customer_key": b"k" * 15})


def slots(m):
    return [t for t, _ in m.store.iter_from(0)]


def test_lagging_meter_never_skips_and_restart_leaves_one_gap(tmp_path):
    clock = StepClock()
    m = make(tmp_path, clock)
    provision(m)
    m.backlog()                                  # metering starts with the slot of T0
    for step in range(1, 13):                    # the clock outruns the meter: 2 slots per tick
        clock.set(T0 + 2 * step * 1800)
        m.tick()
    assert slots(m) == list(range(S0, S0 + 12))  # lagging (12 of 24 closed) but no gap
    while m.tick():
        pass
    assert slots(m) == list(range(S0, S0 + 24))
    # power off for 20 slots: after the restart only the last 5 missed slots are certified
    clock.set(T0 + 44 * 1800)
    m2 = make(tmp_path, clock)
    while m2.tick():
        pass
    assert slots(m2) == list(range(S0, S0 + 24)) + list(range(S0 + 39, S0 + 44))
    # the clock set backwards: nothing is re-recorded, metering waits for the clock
    m2.set_clock(T0 + 30 * 1800)
    assert not m2.tick() and m2.store.last_slot == S0 + 43
    m2.set_clock(T0 + 46 * 1800)
    while m2.tick():
        pass
    assert slots(m2)[-3:] == [S0 + 43, S0 + 44, S0 + 45]
