# SPDX-License-Identifier: MIT
"""The meter frees only readings it sent since it started, and INFO counts stored readings
(issue "Reliability"), in CPython with a stepped clock (the unix MicroPython and QEMU runs of
the same code are in tests/host/test_reliability_fetch.py and test_meter_qemu.py)."""

from __future__ import annotations

import pytest

from fwhelpers import cpython_paths

cpython_paths()
from vwcore import auth, wire  # noqa: E402
from vwmeter.meter import MeterError  # noqa: E402

from test_meter_catchup import S0, T0, StepClock, admin_set, make, provision, slots  # noqa: E402

pytestmark = [pytest.mark.sim, pytest.mark.reliability]
KEY = b"k" * 15


def ack(m, up_to):
    m.ack(up_to, auth.ack_tag(KEY, b"CATCHUP1", m.challenge(), up_to))


def metered(tmp_path, n):
    clock = StepClock()
    m = make(tmp_path, clock)
    provision(m)
    m.backlog()
    clock.set(T0 + n * 1800)
    while m.tick():
        pass
    return m, clock


def test_ack_beyond_what_was_sent_is_refused_and_frees_nothing(tmp_path):
    m, clock = metered(tmp_path, 5)
    assert slots(m) == list(range(S0, S0 + 5))
    with pytest.raises(MeterError) as e:
        ack(m, S0 + 4)  # nothing sent yet
    assert e.value.code == wire.E_BAD_ARGUMENT and "FETCH from slot %d" % S0 in e.value.reason
    assert m.info()["unacked"] == 5 and m.metering.store.acked is None
    assert [t for t, _ in m.fetch(S0, 3)] == [S0, S0 + 1, S0 + 2]
    with pytest.raises(MeterError):
        ack(m, S0 + 3)
    ack(m, S0 + 2)
    assert m.info()["unacked"] == 2
    # a FETCH that starts after the first unsent slot does not count as sending it
    list(m.fetch(S0 + 4, 10))
    with pytest.raises(MeterError):
        ack(m, S0 + 4)
    list(m.fetch(S0 + 3, 10))
    ack(m, S0 + 4)
    ack(m, 0xFFFFFFFE)  # all sent: clamped to the last slot, as before
    assert m.metering.store.acked == S0 + 4 and m.info()["unacked"] == 0
    # a restart forgets what was sent: new readings must be sent again
    clock.set(T0 + 7 * 1800)
    m2 = make(tmp_path, clock)
    while m2.tick():
        pass
    with pytest.raises(MeterError):
        ack(m2, S0 + 6)
    ack(m2, S0 + 4)  # at or below the acknowledged slot: harmless
    list(m2.fetch(S0 + 5, 10))
    ack(m2, S0 + 6)
    assert m2.info()["unacked"] == 0


def test_info_counts_stored_readings_not_the_span(tmp_path):
    m, clock = metered(tmp_path, 3)  # S0..S0+2
    admin_set(m, T0 + 100 * 1800)  # a clock jump: max_catchup 5, the rest a gap
    while m.tick():
        pass
    held = slots(m)
    assert held == [S0, S0 + 1, S0 + 2] + list(range(S0 + 95, S0 + 100))
    i = m.info()
    assert i["last_slot"] - i["first_slot"] + 1 == 100 and i["used"] == 8 and i["unacked"] == 8
    list(m.fetch(0, 100))
    ack(m, S0 + 96)
    assert m.info()["unacked"] == 3
    m2 = make(tmp_path, clock)  # counted again from flash after a restart
    assert m2.info()["used"] == 8 and m2.info()["unacked"] == 3
    # after another jump, with the earlier readings acknowledged
    list(m2.fetch(0, 100))
    ack(m2, S0 + 99)
    admin_set(m2, T0 + 160 * 1800)
    while m2.tick():
        pass
    assert m2.info()["used"] == len(slots(m2)) and m2.info()["unacked"] == 5
