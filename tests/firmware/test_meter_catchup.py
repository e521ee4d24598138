# SPDX-License-Identifier: MIT
"""Slot closing rules of vwmeter.meter (in CPython, with a stepped clock): every slot once
and in order; after a restart or a clock jump at most max_catchup missed slots are
certified and older ones form ONE gap; a running meter that lags never skips."""

from __future__ import annotations

import pytest

from fwhelpers import cpython_paths

cpython_paths()
from vwcore import auth, wire  # noqa: E402
from vwmeter.meter import Meter  # noqa: E402
from stepclock import StepClock  # noqa: E402

pytestmark = pytest.mark.sim
T0 = 1767225600
S0 = T0 // 1800


class Source:
    def read_slot(self, slot):
        return slot % 1000


def make(root, clock):
    return Meter(
        {
            "profile": "test",
            "clock": clock,
            "source": Source(),
            "storage": str(root),
            "seg_records": 8,
            "max_segments": 8,
            "max_catchup": 5,
        }
    )


def provision(m):
    m.provision(
        {
            "meter_id": b"CATCHUP1",
            "group_id": 1,
            "clock": T0,
            "host_entropy": bytes(32),
            "admin_secret": bytes(32),
            "customer_key": b"k" * 15,
        }
    )


def admin_set(m, t):
    """An authenticated SET_CLOCK (the engineer's tag for the meter's challenge)."""
    ch = m.challenge()
    m.set_clock(t, ch, auth.clock_tag(bytes(32), b"CATCHUP1", ch, t))


def slots(m):
    return [t for t, _ in m.metering.store.iter_from(0)]


def test_lagging_meter_never_skips_and_restart_leaves_one_gap(tmp_path):
    clock = StepClock()
    m = make(tmp_path, clock)
    provision(m)
    m.backlog()  # metering starts with the slot of T0
    for step in range(1, 13):  # the clock outruns the meter: 2 slots per tick
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
    admin_set(m2, T0 + 30 * 1800)
    assert not m2.tick() and m2.metering.store.last_slot == S0 + 43
    admin_set(m2, T0 + 46 * 1800)
    while m2.tick():
        pass
    assert slots(m2)[-3:] == [S0 + 43, S0 + 44, S0 + 45]


def test_storage_fault_keeps_the_line_and_reset_clears_it(tmp_path):
    import struct

    from vwcore import wire
    from vwmeter import durable
    from vwmeter.meter import MeterError

    clock = StepClock()
    m = make(tmp_path, clock)
    provision(m)
    m.backlog()
    clock.set(T0 + 3 * 1800)
    while m.tick():
        pass
    list(m.fetch(0, 10000))  # sent: the meter frees only that
    m.ack(S0 + 99, auth.ack_tag(b"k" * 15, b"CATCHUP1", m.challenge(), S0 + 99))
    seg = sorted((tmp_path / "log").glob("s*.seg"))[0]
    raw = bytearray(seg.read_bytes())
    raw[6:8] = struct.pack("<H", 999)  # another record length
    raw[20:24] = struct.pack("<I", durable.crc32(bytes(raw[:20])))
    seg.write_bytes(bytes(raw))
    m2 = make(tmp_path, clock)  # boots, does not crash
    assert m2.provisioned and m2.metering.store is None and "storage fault" in m2.metering.fault
    assert m2.info()["provisioned"]
    with pytest.raises(MeterError) as e:
        list(m2.fetch(0, 0))
    assert e.value.code == wire.E_STORAGE
    tag = auth.reset_tag(bytes(32), b"CATCHUP1", m2.challenge())
    m2.reset({"meter_id": b"CATCHUP1", "challenge": m2.challenge(), "tag": tag})
    assert not m2.provisioned and not list((tmp_path / "log").glob("s*.seg"))
    provision(m2)
    assert m2.metering.store is not None and m2.metering.store.last_slot is None


class BurstSource:
    """A pulse input that reports more than any rated supply delivers in a half-hour."""

    def read_slot(self, slot):
        return 10**6 if slot % 2 else 123


@pytest.mark.security
def test_reading_above_max_is_clamped_not_certified(tmp_path):
    """The meter never certifies a reading above vwcore.reading.MAX_READING (verifiers refuse
    one): a pulse burst is clamped to it, and metering goes on."""
    from vwcore import reading

    clock = StepClock()
    m = Meter(
        {
            "profile": "test",
            "clock": clock,
            "source": BurstSource(),
            "storage": str(tmp_path),
            "seg_records": 8,
            "max_segments": 8,
            "max_catchup": 5,
        }
    )
    provision(m)
    m.backlog()
    clock.set(T0 + 4 * 1800)
    while m.tick():
        pass
    recs = [wire.decode_record(raw) for _, raw in m.metering.store.iter_from(0)]
    assert [r.slot for r in recs] == list(range(S0, S0 + 4))
    got = {r.slot: reading.open_record(r, b"k" * 15)[0] for r in recs}
    assert got == {t: (reading.MAX_READING if t % 2 else 123) for t in range(S0, S0 + 4)}
