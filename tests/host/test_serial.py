# SPDX-License-Identifier: MIT
"""Serial client against a meter behind a pty: clean, noisy (1e-3 of bytes corrupted), a meter
that stops answering, a fetch killed mid-transfer, and a meter that sends bad records."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from hosthelpers import WEEK
from fakemeter import FakeMeter

from vwcore import wire

from veriwatt import records, serial_client
from veriwatt.errors import DeviceError
from veriwatt.ptyrelay import PtyRelay
from veriwatt.store import Store

pytestmark = pytest.mark.host


@pytest.fixture(scope="module")
def week_raw(meter_a):
    return meter_a.raw(*WEEK)


def do_fetch(port, st, meter, **kw):
    link = serial_client.MeterLink(port, timeout=kw.pop("timeout", 1.0), retries=kw.pop("retries", 4))
    try:
        chk = records.Checker.from_pub(meter.pub).check_raw
        kw.setdefault("customer_key", meter.customer_key)
        return serial_client.fetch(link, st, meter.pub["meter_id"], chk, **kw)
    finally:
        link.close()


def assert_consistent(st, meter, n_expected=None):
    mid = meter.pub["meter_id"]
    assert st.integrity() == "ok"
    chk = records.Checker.from_pub(meter.pub)
    rows = st.records(mid)
    for slot, raw in rows:
        rec = records.decode(raw)
        assert rec.slot == slot and chk.problem(rec) is None
    if n_expected is not None:
        assert len(rows) == n_expected


def test_clean_fetch_is_idempotent_and_acknowledged(tmp_path, meter_a, week_raw):
    st = Store(str(tmp_path / "s.db"))
    with FakeMeter(meter_a.mid, week_raw, meter_a.keys.y, customer_key=meter_a.customer_key) as m:
        s = do_fetch(m.path, st, meter_a)
        assert s["added"] == len(week_raw) and s["complete"] and s["line"]["rejected_frames"] == 0
        assert m.acked == WEEK[1] - 1
        s2 = do_fetch(m.path, st, meter_a)
        assert s2["added"] == 0
    assert_consistent(st, meter_a, len(week_raw))


def test_noisy_line_1e3(tmp_path, meter_a, week_raw):
    """Every byte in both directions is corrupted with probability 1e-3 (about one reading frame
    in three is damaged): the fetch still completes, and only intact, verified records are stored."""
    st = Store(str(tmp_path / "s.db"))
    with FakeMeter(meter_a.mid, week_raw, meter_a.keys.y, customer_key=meter_a.customer_key, noise=1e-3, seed=3) as m:
        s = do_fetch(m.path, st, meter_a, timeout=1.0, retries=8)
    assert s["complete"] and s["line"]["rejected_frames"] > 10
    assert_consistent(st, meter_a, len(week_raw))


def test_noisy_relay_in_front_of_the_meter(tmp_path, meter_a, week_raw):
    st = Store(str(tmp_path / "s.db"))
    with FakeMeter(meter_a.mid, week_raw, meter_a.keys.y, customer_key=meter_a.customer_key) as m:
        relay = PtyRelay(m.path, noise=1e-3, seed=5).start()
        try:
            s = do_fetch(relay.path, st, meter_a, retries=8)
        finally:
            relay.stop()
    assert relay.corrupted > 0 and s["complete"]
    assert_consistent(st, meter_a, len(week_raw))


def test_meter_stops_answering_then_resume(tmp_path, meter_a, week_raw):
    st = Store(str(tmp_path / "s.db"))
    with FakeMeter(
        meter_a.mid, week_raw, meter_a.keys.y, customer_key=meter_a.customer_key, stop_after_frames=100
    ) as m:
        t0 = time.monotonic()
        with pytest.raises(DeviceError, match="no answer to FETCH .* resumes where it stopped"):
            do_fetch(m.path, st, meter_a, timeout=0.3, retries=2)
        assert time.monotonic() - t0 < 10
        assert m.acked is None  # nothing acknowledged: the meter keeps everything
    n = st.count(meter_a.pub["meter_id"])
    assert 50 < n < len(week_raw)
    assert_consistent(st, meter_a)
    with FakeMeter(meter_a.mid, week_raw, meter_a.keys.y, customer_key=meter_a.customer_key) as m:
        s = do_fetch(m.path, st, meter_a)
    assert s["from_slot"] == WEEK[0] + n and s["added"] == len(week_raw) - n
    assert_consistent(st, meter_a, len(week_raw))


def test_silent_port(tmp_path, meter_a):
    st = Store(str(tmp_path / "s.db"))
    with FakeMeter(meter_a.mid, {}, meter_a.keys.y, stop_after_frames=0) as m:
        with pytest.raises(DeviceError, match="no answer .*HELLO"):
            do_fetch(m.path, st, meter_a, timeout=0.2, retries=1)


def test_fetch_killed_mid_transfer(tmp_path, meter_a, week_raw):
    """`veriwatt fetch` killed with SIGKILL in the middle: the store stays consistent and the
    next fetch resumes from the first slot not stored."""
    db = str(tmp_path / "s.db")
    keyf = tmp_path / "meter.pub.json"
    keyf.write_text(json.dumps(meter_a.pub))
    with FakeMeter(
        meter_a.mid, week_raw, meter_a.keys.y, customer_key=meter_a.customer_key, delay=0.004, batch=16
    ) as m:
        p = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "veriwatt.cli",
                "fetch",
                m.path,
                "--store",
                db,
                "--meter-key",
                str(keyf),
                "--batch",
                "16",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            time.sleep(0.1)
            if os.path.exists(db):
                try:
                    st = Store(db)
                    n = st.count(meter_a.pub["meter_id"])
                    st.close()
                except Exception:
                    n = 0
                if n >= 60:
                    break
        p.send_signal(signal.SIGKILL)
        p.wait()
        st = Store(db)
        n = st.count(meter_a.pub["meter_id"])
        assert 0 < n < len(week_raw)
        assert_consistent(st, meter_a)
        assert st.resume_slot(meter_a.pub["meter_id"], WEEK[0]) == WEEK[0] + n
        r = subprocess.run(
            [sys.executable, "-m", "veriwatt.cli", "fetch", m.path, "--store", db, "--meter-key", str(keyf), "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["from_slot"] == WEEK[0] + n and out["added"] == len(week_raw) - n
    assert_consistent(st, meter_a, len(week_raw))


def test_bad_records_from_the_meter_are_rejected(tmp_path, meter_a, meter_b, week_raw):
    recs = dict(list(week_raw.items())[:10])
    bad = bytearray(recs[WEEK[0] + 4])
    bad[100] ^= 0x40
    recs[WEEK[0] + 4] = bytes(bad)  # the signature no longer matches
    recs[WEEK[0] + 5] = wire.encode_record(meter_b.record(WEEK[0] + 5))  # another meter's reading
    keyf = tmp_path / "meter.pub.json"
    keyf.write_text(json.dumps(meter_a.pub))
    with FakeMeter(meter_a.mid, recs, meter_a.keys.y, customer_key=meter_a.customer_key) as m:
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "veriwatt.cli",
                "fetch",
                m.path,
                "--store",
                str(tmp_path / "s.db"),
                "--meter-key",
                str(keyf),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert r.returncode == 1
    assert "8 new" in r.stdout and "2 rejected" in r.stdout
    assert "signature does not verify" in r.stdout and "foreign meter" in r.stdout


def test_impostor_meter_is_refused(tmp_path, meter_a, meter_b, week_raw):
    keyf = tmp_path / "meter.pub.json"
    keyf.write_text(json.dumps(meter_a.pub))
    with FakeMeter(meter_a.mid, {}, meter_b.keys.y) as m:  # right id, wrong key
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "veriwatt.cli",
                "fetch",
                m.path,
                "--store",
                str(tmp_path / "s.db"),
                "--meter-key",
                str(keyf),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert r.returncode == 1 and "impostor" in r.stderr and "Traceback" not in r.stderr


def test_missing_port_is_a_device_error(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "veriwatt.cli", "info", "/dev/nonexistent-veriwatt"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 3 and "no such serial port" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("noise", [0.0, 1e-3])
def test_meter_with_real_gaps(tmp_path, meter_a, week_raw, noise):
    """A meter that was off for a while holds no readings for some slots: the fetch must tell
    real gaps from lost frames, finish, and store exactly what the meter holds."""
    keep = {t: r for t, r in week_raw.items() if not (WEEK[0] + 30 <= t < WEEK[0] + 75 or (t - WEEK[0]) % 17 == 5)}
    st = Store(str(tmp_path / "s.db"))
    with FakeMeter(meter_a.mid, keep, meter_a.keys.y, customer_key=meter_a.customer_key, noise=noise, seed=7) as m:
        s = do_fetch(m.path, st, meter_a, retries=8)
        assert m.acked == max(keep)
    assert [t for t, _ in st.records(meter_a.pub["meter_id"])] == sorted(keep)
    assert s["rejected"] == 0
    assert_consistent(st, meter_a, len(keep))
