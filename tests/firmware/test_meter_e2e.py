# SPDX-License-Identifier: MIT
"""End to end over a real pty with pyserial: the firmware in the unix micropython, started
by simulators/meter_sim.py; provision, meter slots, fetch, verify and open every record."""

from __future__ import annotations

import sys
import time

import pytest

from fwhelpers import ROOT, cpython_paths

cpython_paths()
sys.path.insert(0, str(ROOT / "simulators"))
from fwclient import Client, describe  # noqa: E402
from meter_sim import MeterSim  # noqa: E402
from vwcore import aead, auth, reading, wire  # noqa: E402

pytestmark = pytest.mark.sim

T0 = 1767225600  # 2026-01-01T00:00Z
SIG = bytes(range(32))
AGG = bytes(range(32, 64))
CUST = bytes(range(100, 115))
MID = b"VWTEST01"


def provision_payload(clock=0, mid=MID):
    return wire.encode_provision(mid, 1, clock, AGG, SIG, CUST)  # host entropy, admin secret


@pytest.fixture
def sim(tmp_path):
    # speed 18000: a half-hour slot every 0.1 s
    with MeterSim(n=1, storage=tmp_path, speed=18000, start="none") as s:
        c = Client(s.meters[0].port)
        c.banner_line = s.meters[0].banner
        s.client = c
        yield s
        c.close()


def wait_slots(c, n, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        i = c.info()
        if i["last_slot"] != wire.NO_SLOT and i["last_slot"] - i["first_slot"] + 1 >= n:
            return i
        time.sleep(0.1)
    raise TimeoutError("meter did not record %d slots: %r" % (n, i))


def test_banner_and_unprovisioned_errors(sim):
    c = sim.client
    assert c.banner_line.startswith("veriwatt-meter ") and "ready" in c.banner_line
    i = c.info()
    assert not i["provisioned"] and not i["clock_set"] and i["sig_pub"] is None
    (f,) = c.request(wire.FETCH, wire.encode_fetch(0))
    assert wire.decode_error(f.payload)["code"] == wire.E_NOT_PROVISIONED, describe(f)
    (f,) = c.request(wire.ACK, wire.encode_ack(5))
    assert wire.decode_error(f.payload)["code"] == wire.E_NOT_PROVISIONED
    (f,) = c.request(wire.RESET, wire.encode_reset(MID, bytes(8), bytes(16)))
    assert wire.decode_error(f.payload)["code"] == wire.E_NOT_PROVISIONED
    # provisioned without a clock: FETCH says "clock not set"
    c.ok(wire.PROVISION, provision_payload(0))
    i = c.info()
    assert i["provisioned"] and not i["clock_set"] and i["meter_id"] == MID
    (f,) = c.request(wire.FETCH, wire.encode_fetch(0))
    e = wire.decode_error(f.payload)
    assert e["code"] == wire.E_CLOCK_NOT_SET and e["req_type"] == wire.FETCH, e
    (f,) = c.request(wire.PROVISION, provision_payload(T0))
    assert wire.decode_error(f.payload)["code"] == wire.E_ALREADY_PROVISIONED
    (f,) = c.request(wire.SET_CLOCK, wire.encode_set_clock(1000))
    assert wire.decode_error(f.payload)["code"] == wire.E_BAD_ARGUMENT


def test_provision_meter_fetch_verify_open(sim):
    c = sim.client
    c.ok(wire.PROVISION, provision_payload(T0))
    info = wait_slots(c, 12)
    assert info["provisioned"] and info["clock_set"] and info["sig_pub"] and info["agg_pub"]
    from vwcore import agg, group, sig

    G = group.get(1)
    # the meter made its own keys: neither the host entropy nor the admin secret gives them
    for guess in (AGG, SIG):
        assert info["agg_pub"] != agg.public_key(agg.secret_scalar(guess))
        assert info["sig_pub"] != sig.SigningKey(guess).y
    assert pow(info["sig_pub"], G.q, G.p) == 1 and pow(info["agg_pub"], G.q, G.p) == 1
    y = info["sig_pub"]
    first = info["first_slot"]
    assert first == T0 // 1800
    recs, end = c.fetch(first, 5)  # resumable in pages
    recs2, end2 = c.fetch(end["next_slot"], 0)
    assert end["count"] == 5 and end["more"]
    allrecs = recs + recs2
    slots = [r.slot for r in allrecs]
    assert slots == list(range(first, first + len(slots))) and len(slots) >= 12
    ak = aead.AEAD(CUST)
    sys.path.insert(0, str(ROOT / "hal" / "common"))
    import vwload

    for r in allrecs:
        assert r.meter_id == MID
        assert reading.verify_record(r, y, MID)
        m, _r = reading.open_record(r, ak)
        assert m == vwload.wh(1, r.slot)  # the seeded household, exactly
    # a record from another meter id / tampered slot fails
    bad = wire.decode_record(allrecs[0].encode())
    bad.slot += 1
    assert not reading.verify_record(bad, y, MID)
    # ACK, then everything up to it is acknowledged; FETCH is idempotent
    (f,) = c.request(wire.ACK, wire.encode_ack(slots[-1]))  # no tag: refused, nothing acked
    assert wire.decode_error(f.payload)["code"] == wire.E_AUTH and c.info()["unacked"] >= len(slots)
    i = c.info()
    (f,) = c.request(wire.ACK, wire.encode_ack(slots[-1], auth.ack_tag(b"x" * 15, MID, i["challenge"], slots[-1])))
    assert wire.decode_error(f.payload)["code"] == wire.E_AUTH  # another key's tag
    c.ack(slots[-1], CUST)
    again, _ = c.fetch(first, 3)
    assert [r.encode() for r in again] == [r.encode() for r in allrecs[:3]]
    assert c.info()["unacked"] <= c.info()["used"] - len(slots) + 2


def test_reset_needs_tag_and_acks(tmp_path):
    # real-time clock (speed 1), provisioned 2 s before a slot boundary: exactly one slot
    # closes, then nothing for half an hour, so ACK-then-RESET is not racing new readings
    with MeterSim(n=1, storage=tmp_path, speed=1, start="none") as s:
        c = Client(s.meters[0].port)
        try:
            _reset_flow(c)
        finally:
            c.close()


def _reset_flow(c):
    c.ok(wire.PROVISION, provision_payload(T0 + 1798))
    info = wait_slots(c, 1)
    ch = info["challenge"]
    (f,) = c.request(wire.RESET, wire.encode_reset(MID, ch, bytes(16)))
    assert wire.decode_error(f.payload)["code"] == wire.E_AUTH
    tag = auth.reset_tag(SIG, MID, ch)
    (f,) = c.request(wire.RESET, wire.encode_reset(MID, ch, tag))
    assert wire.decode_error(f.payload)["code"] == wire.E_STORAGE  # unacked readings
    c.fetch(0)  # the meter frees only readings it sent (docs/PROTOCOL.md, ACK)
    c.ack(0xFFFFFFFE, CUST)
    c.ok(wire.RESET, wire.encode_reset(MID, ch, tag))
    i = c.info()
    assert not i["provisioned"] and i["challenge"] != ch and i["last_slot"] == wire.NO_SLOT
    # the spent tag cannot be replayed after re-provisioning with the same secrets
    c.ok(wire.PROVISION, provision_payload(T0))
    (f,) = c.request(wire.RESET, wire.encode_reset(MID, ch, tag))
    assert wire.decode_error(f.payload)["code"] == wire.E_AUTH, describe(f)


def test_restart_keeps_keys_and_readings(tmp_path):
    with MeterSim(n=1, storage=tmp_path, speed=18000, start="none") as s:
        c = Client(s.meters[0].port)
        assert s.meters[0].banner
        c.ok(wire.PROVISION, provision_payload(T0))
        i1 = wait_slots(c, 4)
        before, _ = c.fetch(0, 0)
        c.close()
    with MeterSim(n=1, storage=tmp_path, speed=18000, start="none") as s:
        c = Client(s.meters[0].port)
        assert "VWTEST01".encode().hex() in s.meters[0].banner
        i2 = c.info()
        assert i2["provisioned"] and i2["clock_set"] and i2["sig_pub"] == i1["sig_pub"]
        assert i2["agg_pub"] == i1["agg_pub"]
        after, _ = c.fetch(0, 0)
        assert [r.encode() for r in after[: len(before)]] == [r.encode() for r in before]
        # catch-up: the battery-backed simulated RTC ran on; slots continue without gaps
        wait_slots(c, len(before) + 3)
        allr, _ = c.fetch(0, 0)
        assert [r.slot for r in allr] == list(range(allr[0].slot, allr[0].slot + len(allr)))
        c.close()
