# SPDX-License-Identifier: MIT
"""Who may move a provisioned meter's clock (vwmeter.meter.Meter.set_clock, in CPython with a
stepped clock; the same code runs on the unix MicroPython in tests/host/test_set_clock.py).

The clock decides which slot, and so which price, a reading gets: shifting it by hours moves
peak consumption into cheap slots. Rules: any change with the admin tag (auth.clock_tag, the
engineer's secret), which spends the challenge; without it only drift trims (<= 120 s each,
300 s in all since boot) and, after the meter lost its clock, a time not before its newest
reading, flagged clock_unverified until an authenticated set."""

from __future__ import annotations

import pytest

from fwhelpers import cpython_paths

cpython_paths()
from vwcore import auth, wire  # noqa: E402
from vwmeter.clockpolicy import CLOCK_TRIM_BUDGET_S, CLOCK_TRIM_S  # noqa: E402
from vwmeter.meter import Meter, MeterError  # noqa: E402

from test_meter_catchup import T0, StepClock, make  # noqa: E402

pytestmark = pytest.mark.sim
MID = b"CLOCKMTR"
SECRET = bytes(range(32))


def provisioned(root, clock, t=T0):
    m = make(root, clock)
    m.provision(
        {
            "meter_id": MID,
            "group_id": 1,
            "clock": t,
            "admin_secret": SECRET,
            "host_entropy": bytes(32),
            "customer_key": b"k" * 15,
        }
    )
    return m


def tagged(m, t, secret=SECRET, mid=MID, challenge=None):
    ch = m.challenge() if challenge is None else challenge
    return t, ch, auth.clock_tag(secret, mid, ch, t)


def refused(m, *args):
    with pytest.raises(MeterError) as e:
        m.set_clock(*args)
    assert e.value.code == wire.E_AUTH
    return str(e.value.reason)


def test_unprovisioned_meter_takes_any_clock(tmp_path):
    clock = StepClock()
    m = make(tmp_path, clock)
    m.set_clock(T0)
    m.set_clock(T0 - 86400 * 30)
    assert clock.now() == T0 - 86400 * 30 and not m.policy.unverified
    with pytest.raises(MeterError) as e:
        m.set_clock(1000)
    assert e.value.code == wire.E_BAD_ARGUMENT


def test_a_shift_by_hours_needs_the_tag(tmp_path):
    clock = StepClock()
    m = provisioned(tmp_path, clock)
    for t in (T0 + 8 * 3600, T0 - 8 * 3600, T0 + CLOCK_TRIM_S + 1):
        why = refused(m, t)
        assert "admin tag" in why
        assert clock.now() == T0  # unchanged
    ch = m.challenge()
    m.set_clock(*tagged(m, T0 + 8 * 3600))
    assert clock.now() == T0 + 8 * 3600 and m.challenge() != ch


def test_tags_are_bound_to_time_challenge_meter_and_secret(tmp_path):
    clock = StepClock()
    m = provisioned(tmp_path, clock)
    t = T0 + 3600
    good = tagged(m, t)
    assert "not authorised" in refused(m, t + 1, good[1], good[2])  # another time
    assert "not authorised" in refused(m, *tagged(m, t, secret=bytes(32)))  # wrong secret
    assert "not authorised" in refused(m, *tagged(m, t, mid=b"OTHERMTR"))  # another meter's tag
    assert "not authorised" in refused(
        m, *tagged(m, t, challenge=b"\x00" * 7 + b"\x09")
    )  # not the challenge the meter shows
    reset_tag = auth.reset_tag(SECRET, MID, m.challenge())
    assert "not authorised" in refused(m, t, m.challenge(), reset_tag)  # a RESET tag
    assert clock.now() == T0
    m.set_clock(*good)
    assert clock.now() == t
    clock.set(T0)  # (the board's clock drifts back, say)
    assert "not authorised" in refused(m, *good)  # the same tag again: replay
    assert clock.now() == T0


def test_the_spent_challenge_survives_a_restart(tmp_path):
    clock = StepClock()
    m = provisioned(tmp_path, clock)
    good = tagged(m, T0 + 3600)
    m.set_clock(*good)
    m2 = make(tmp_path, clock)  # power cycle: the epoch is on flash
    assert m2.challenge() not in (m.challenge(), good[1])  # a new boot epoch: a new challenge
    clock.set(T0)
    refused(m2, *good)


def test_drift_trims_within_a_budget(tmp_path):
    clock = StepClock()
    m = provisioned(tmp_path, clock)
    m.set_clock(T0 + 60)
    m.set_clock(T0 + 60 - CLOCK_TRIM_S)  # 60 + 120 = 180 s used
    m.set_clock(T0 - 60 + 100)  # 280 s
    assert clock.now() == T0 + 40 and m.policy.trimmed == 280
    why = refused(m, T0 + 40 + (CLOCK_TRIM_BUDGET_S - 280) + 1)
    assert "280 s used" in why and clock.now() == T0 + 40
    m.set_clock(*tagged(m, T0 + 40))  # an authenticated set renews the budget
    assert m.policy.trimmed == 0
    m.set_clock(T0 + 40 + CLOCK_TRIM_S)


def test_lost_clock_may_not_go_back_and_is_flagged(tmp_path):
    clock = StepClock()
    m = provisioned(tmp_path, clock)
    m.backlog()
    clock.set(T0 + 10 * 1800)
    while m.tick():
        pass
    last = m.metering.store.last_slot
    assert last == T0 // 1800 + 9
    clock.t = None  # power cut on a board without RTC battery
    m2 = make(tmp_path, clock)
    why = refused(m2, (last + 1) * 1800 - 1)  # before the end of the newest reading
    assert "newest stored reading" in why and not clock.is_set()
    m2.set_clock((last + 1) * 1800 + 600)
    assert clock.now() == (last + 1) * 1800 + 600 and m2.policy.unverified and m2.info()["clock_unverified"]
    info = wire.decode_info(wire.encode_info(m2.info()))
    assert info["clock_unverified"] and info["clock_set"]
    m2.set_clock(*tagged(m2, (last + 1) * 1800 + 700))
    assert not m2.policy.unverified and not m2.info()["clock_unverified"]


def test_reset_then_reprovision_does_not_reuse_a_clock_tag(tmp_path):
    clock = StepClock()
    m = provisioned(tmp_path, clock)
    good = tagged(m, T0 + 3600)
    m.set_clock(*good)
    clock.t = None
    m.set_clock(T0 + 7200)  # lost clock, set forward: flagged
    assert m.policy.unverified
    m.reset({"meter_id": MID, "challenge": m.challenge(), "tag": auth.reset_tag(SECRET, MID, m.challenge())})
    assert not m.info()["clock_unverified"]  # a wiped meter has no readings to doubt
    m.provision(
        {
            "meter_id": MID,
            "group_id": 1,
            "clock": T0,
            "admin_secret": SECRET,
            "host_entropy": bytes(32),
            "customer_key": b"k" * 15,
        }
    )
    refused(m, *good)


class Uptime:
    """The meter's uptime in ms (ticks), stepped by the test; independent of the settable clock."""

    def __init__(self):
        self.ms = 0

    def __call__(self):
        return self.ms


def provisioned_up(root, clock, up, t=T0):
    from test_meter_catchup import Source

    m = Meter(
        {
            "profile": "test",
            "clock": clock,
            "source": Source(),
            "storage": str(root),
            "seg_records": 8,
            "max_segments": 8,
            "max_catchup": 5,
            "uptime_ms": up,
        }
    )
    if not m.provisioned:
        m.provision(
            {
                "meter_id": MID,
                "group_id": 1,
                "clock": t,
                "admin_secret": SECRET,
                "host_entropy": bytes(32),
                "customer_key": b"k" * 15,
            }
        )
    return m


@pytest.mark.security
def test_a_challenge_expires_by_uptime(tmp_path):
    clock, up = StepClock(), Uptime()
    m = provisioned_up(tmp_path, clock, up)
    ch = m.info()["challenge"]
    up.ms += 50 * 1000
    assert m.info()["challenge"] == ch  # fresh: INFO shows the same one
    late = tagged(m, T0 - 6 * 3600, challenge=ch)
    reset = {"meter_id": MID, "challenge": ch, "tag": auth.reset_tag(SECRET, MID, ch)}
    up.ms += (wire.CHALLENGE_TTL_S - 50) * 1000 + 1  # one ms past its lifetime
    clock.set(T0)  # (the settable clock plays no part)
    assert "challenge expired: ask INFO again" in refused(m, *late)
    with pytest.raises(MeterError) as e:
        m.reset(reset)
    assert e.value.code == wire.E_AUTH and "challenge expired" in e.value.reason
    assert clock.now() == T0 and m.provisioned
    ch2 = m.info()["challenge"]  # asked again: a new challenge, usable
    assert ch2 != ch
    assert "challenge not current" in refused(m, *late)
    m.set_clock(*tagged(m, T0 - 6 * 3600, challenge=ch2))
    assert clock.now() == T0 - 6 * 3600


@pytest.mark.security
def test_info_renews_a_half_used_challenge(tmp_path):
    clock, up = StepClock(), Uptime()
    m = provisioned_up(tmp_path, clock, up)
    ch = m.info()["challenge"]
    up.ms += wire.CHALLENGE_TTL_S * 500 + 1  # over half its life: the next INFO renews it
    ch2 = m.info()["challenge"]
    assert ch2 != ch
    up.ms += wire.CHALLENGE_TTL_S * 500  # the renewed one still has its full life
    m.set_clock(*tagged(m, T0 + 3600, challenge=ch2))
    assert clock.now() == T0 + 3600


@pytest.mark.security
def test_a_tag_from_before_a_reboot_is_refused(tmp_path):
    clock, up = StepClock(), Uptime()
    m = provisioned_up(tmp_path, clock, up)
    late = tagged(m, T0 - 6 * 3600, challenge=m.info()["challenge"])
    m2 = provisioned_up(tmp_path, clock, up)  # reboot, uptime as if no time passed
    assert m2.provisioned and m2.info()["challenge"] != late[1]
    assert "challenge not current" in refused(m2, *late)
    assert clock.now() == T0


@pytest.mark.security
def test_provision_makes_keys_on_the_meter(tmp_path):
    """Neither the host entropy nor the admin secret is the signing key, and the same PROVISION to
    two meters (same entropy, same flash state) gives different keys (board RNG: os.urandom)."""
    import os

    from vwcore import sig

    ys = []
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        m = Meter(
            {
                "profile": "test",
                "clock": StepClock(),
                "source": None,
                "storage": str(tmp_path / d),
                "entropy": os.urandom,
            }
        )
        m.provision(
            {
                "meter_id": MID,
                "group_id": 1,
                "clock": T0,
                "admin_secret": SECRET,
                "host_entropy": bytes(32),
                "customer_key": b"k" * 15,
            }
        )
        assert m.metering.keys.y not in (sig.SigningKey(SECRET).y, sig.SigningKey(bytes(32)).y)
        assert m.prov["admin_secret"] == SECRET and m.prov["sig_secret"] != SECRET
        ys.append(m.metering.keys.y)
    assert ys[0] != ys[1]


def test_a_meter_provisioned_by_an_old_host_is_reset_with_its_old_record(tmp_path):
    """Keys state layout 1 (host-made secrets, before PROVISION layout 2): it still loads, and the
    old engineer's record (its sig_secret) authorises RESET, so the meter can be re-provisioned."""
    from vwmeter import durable

    old_sig = bytes(range(32, 64))
    raw = MID + bytes((1,)) + old_sig + bytes(32) + bytes((15,)) + b"k" * 15
    durable.SmallState(str(tmp_path / "keys")).save(raw)
    clock, up = StepClock(), Uptime()
    m = provisioned_up(tmp_path, clock, up)
    from vwcore import sig

    assert m.metering.keys.y == sig.SigningKey(old_sig).y
    ch = m.info()["challenge"]
    m.reset({"meter_id": MID, "challenge": ch, "tag": auth.reset_tag(old_sig, MID, ch)})
    assert not m.provisioned
