# SPDX-License-Identifier: MIT
"""Power-cut test: stop the store under the unix micropython at every write point in turn
(VW_CRASH_AT=k; a write at the crash point is torn in half), restart, and check that every
committed record is intact, the log is consistent and usable, and the ack never goes back."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from fwhelpers import HERE, MICROPYTHON, cpython_paths, keys_on_flash, mp_env

cpython_paths()
from store_cases import payload  # noqa: E402
from vwmeter import durable  # noqa: E402
from vwmeter.store import Store  # noqa: E402

pytestmark = pytest.mark.sim
UPTO = 1024
DRIVER = str(HERE / "mp_powercut.py")


def run(d, upto, crash=None):
    r = subprocess.run(
        [str(MICROPYTHON), DRIVER, str(d), str(upto)],
        env=mp_env(VW_CRASH_AT=crash),
        capture_output=True,
        text=True,
        timeout=30,
    )
    committed, acks, wp = [], [], None
    for line in r.stdout.splitlines():
        k, v = line.split()
        if k == "C":
            committed.append(int(v))
        elif k == "A":
            acks.append(int(v))
        elif k == "W":
            wp = int(v)
    return r.returncode, committed, acks, wp, r.stderr


def check(d, committed, acks):
    """Open with the CPython store (cross-checks the on-disk format) and verify."""
    s = Store(str(d), 40, 4, 4)
    got = list(s.iter_from(0))
    slots = [t for t, _ in got]
    assert slots == sorted(set(slots)), "slots out of order or duplicated"
    for t, p in got:
        assert p == payload(t), "record %d damaged" % t
    acked = max(acks) if acks else None
    if acks:
        assert s.acked is not None and s.acked >= acked, "acknowledgement lost"
    for t in committed:
        if s.first_slot is not None and t >= s.first_slot:
            assert s.read(t) == payload(t), "committed record %d lost" % t
        else:
            # only acknowledged records may ever be dropped
            assert s.acked is not None and t <= s.acked, "unacked record %d dropped" % t
    if committed:
        assert s.last_slot is not None and s.last_slot >= committed[-1]
        # at most the one in-flight record beyond the last committed one
        assert len([t for t in slots if t > committed[-1]]) <= 1
    return s


def one_write_point(tmp_path, k, committed):
    d = tmp_path / ("k%d" % k)
    rc, c1, a1, _, err = run(d, UPTO, crash=k)
    assert rc == durable.CRASH_EXIT, "write point %d: rc %d %s" % (k, rc, err)
    s = check(d, c1, a1)
    torn = s.recovered_torn
    # restart (with a second power cut at an early write point of the recovery/resume for
    # every 7th k), then run to the end
    if k % 7 == 0:
        rc, c2, a2, _, err = run(d, UPTO, crash=2)
        assert rc in (0, durable.CRASH_EXIT), err  # 0: nothing was left to write
        check(d, c1 + c2, a1 + a2)
    rc, c3, a3, _, err = run(d, UPTO)
    assert rc == 0, "restart after write point %d failed: %s" % (k, err)
    s = check(d, c1 + c3, a1 + a3)
    assert s.last_slot == UPTO
    # everything not acknowledged is still there, in order, with no duplicates
    want = [t for t in committed if t > (s.acked or 0)]
    assert [t for t, _ in s.iter_from((s.acked or 0) + 1)] == want
    return torn


def test_powercut_every_write_point(tmp_path):
    rc, committed, acks, total, err = run(tmp_path / "ref", UPTO)
    assert rc == 0 and total and committed[-1] == UPTO, err
    assert total > 100
    with ThreadPoolExecutor(max_workers=2) as ex:  # the work is in micropython subprocesses
        torn = list(ex.map(lambda k: one_write_point(tmp_path, k, committed), range(1, total + 1)))
    assert sum(torn) > 0, "no crash produced a torn record: the fault injection is not working"
    print("write points tested:", total, "torn tails recovered:", sum(torn))


# ---------------------------------------------------------------- whole meter application
METER_DRIVER = str(HERE / "mp_meter_crash.py")
N_SLOTS = 3


def run_meter(d, crash=None):
    r = subprocess.run(
        [str(MICROPYTHON), METER_DRIVER, str(d), str(N_SLOTS)],
        env=mp_env(VW_CRASH_AT=crash),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return r.returncode, r.stdout, r.stderr


def stored_records(d):
    from vwcore import wire

    log = d / "log"
    if not log.exists():
        return {}
    s = Store(str(log), wire.record_len(1), 2, 8)
    return dict(s.iter_from(0))


def one_meter_write_point(tmp_path, k):
    from vwcore import aead, reading, sig, wire
    import vwload

    d = tmp_path / ("m%d" % k)
    d.mkdir()
    rc, out, err = run_meter(d, crash=k)
    assert rc == durable.CRASH_EXIT, (k, rc, out, err)
    before = stored_records(d)
    rc, out, err = run_meter(d)
    assert rc == 0 and out.startswith("done"), (k, out, err)
    after = stored_records(d)
    for slot, rec in before.items():  # nothing stored is ever lost
        assert after.get(slot) == rec, "record %d changed after restart (k=%d)" % (slot, k)
    y = sig.SigningKey(keys_on_flash(d)["sig_secret"]).y  # the key the meter made itself
    first = 1767225600 // 1800
    assert sorted(after) == list(range(first, first + N_SLOTS)), (k, sorted(after))
    ak = aead.AEAD(bytes(range(100, 115)))
    for slot, raw in after.items():
        rec = wire.decode_record(raw)
        assert reading.verify_record(rec, y, b"VWCRASH1")
        assert reading.open_record(rec, ak)[0] == vwload.wh(1, slot)


def test_powercut_whole_meter(tmp_path):
    (tmp_path / "ref").mkdir()
    rc, out, err = run_meter(tmp_path / "ref")
    assert rc == 0, err
    total = int(out.split()[1])
    assert total >= 3 + 4 * 2 + 3 * N_SLOTS  # keys + 2 segments + records
    with ThreadPoolExecutor(max_workers=2) as ex:
        list(ex.map(lambda k: one_meter_write_point(tmp_path, k), range(1, total + 1)))
    print("meter write points tested:", total)
