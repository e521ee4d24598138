# SPDX-License-Identifier: MIT
"""The engineer's serial path, made reliable (issue "Reliability"): no reading acknowledged
that is not stored, one process per port, no hang on a port that prints text, messages that
say what is wrong before anything is stored.

Real parts: the firmware on the unix MicroPython behind ptys (simulators/meter_sim.py), the
CLI in subprocesses, pyserial, SQLite. FakeMeter (CPython, same protocol) only where a meter
must misbehave on purpose (a wrongly signed record)."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hosthelpers import WEEK
from fakemeter import FakeMeter

from vwcore import aead, wire

from veriwatt import device, records, serial_client, slots
from veriwatt.errors import DeviceError
from veriwatt.ptyrelay import make_pty
from veriwatt.store import Store

pytestmark = [pytest.mark.host, pytest.mark.reliability]

MONTH_START = slots.month_range("2026-12", "Europe/London")[0]
OTHER_CODE = aead.format_customer_code(b"\x01" * 15)


def run(*argv, timeout=120, env=None):
    return subprocess.run(
        [sys.executable, "-m", "veriwatt.cli", *argv], capture_output=True, text=True, timeout=timeout, env=env
    )


class TextPort:
    """A serial port that prints text forever, like a MicroPython REPL or a console."""

    TEXT = b"MicroPython v1.25.0 on 2025-04-15; Generic ESP32 module with ESP32\r\n>>> "

    def __init__(self) -> None:
        self.master, self.path, self._slave = make_pty()
        os.set_blocking(self.master, False)
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                os.write(self.master, self.TEXT)
            except BlockingIOError:
                pass
            except OSError:
                return
            r, _, _ = select.select([self.master], [], [], 0.005)
            if r:
                try:
                    os.read(self.master, 4096)  # what the host sends: ignored, like a REPL would
                except OSError:
                    pass

    def __enter__(self) -> "TextPort":
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join(timeout=2)
        for fd in (self.master, self._slave):
            os.close(fd)


# ------------------------------------------------------------------ hangs
@pytest.mark.parametrize("cmd", ["info", "fetch"])
def test_port_that_prints_text_ends_in_exit_3_with_what_it_printed(tmp_path, cmd):
    """Before: every byte moved the deadline, so `info --timeout 1 --retries 0` ran forever."""
    db = tmp_path / "v.db"
    with TextPort() as tp:
        argv = [cmd, tp.path, "--timeout", "1", "--retries", "0"]
        if cmd == "fetch":
            argv += ["--store", str(db)]
        t0 = time.monotonic()
        r = run(*argv, timeout=60)
        took = time.monotonic() - t0
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert took < 20, took
    assert "MicroPython REPL" in r.stderr and "Generic ESP32 module" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not db.exists()


# ------------------------------------------------------------------ one process per port
def test_second_process_on_a_port_is_refused_at_once_naming_the_owner(tmp_path, meter_a):
    raw = meter_a.raw(WEEK[0], WEEK[0] + 8)
    with FakeMeter(meter_a.mid, raw, meter_a.keys.y, customer_key=meter_a.customer_key) as m:
        with serial_client.MeterLink(m.path, timeout=1) as link:
            link.hello()
            t0 = time.monotonic()
            r = run("info", m.path, "--timeout", "1", timeout=60)
            took = time.monotonic() - t0
            assert r.returncode == 3, r.stdout + r.stderr
            assert "in use by process %d" % os.getpid() in r.stderr, r.stderr
            assert took < 10
            # the same in-process: a second link is refused too
            with pytest.raises(DeviceError, match="in use by process %d" % os.getpid()):
                serial_client.MeterLink(m.path, timeout=1)
        # the owner closed the port: free again
        r = run("info", m.path, "--json", timeout=60)
        assert r.returncode == 0, r.stderr


def test_killed_owner_does_not_block_the_port(tmp_path, meter_a):
    """The lock is an flock: SIGKILL of its owner frees it (the stale PID in the file is ignored)."""
    raw = meter_a.raw(WEEK[0], WEEK[0] + 8)
    with FakeMeter(meter_a.mid, raw, meter_a.keys.y, customer_key=meter_a.customer_key) as m:
        code = (
            "import sys, time; sys.path.insert(0, %r); from veriwatt import serial_client; "
            "l = serial_client.MeterLink(%r, timeout=1); print('open', flush=True); time.sleep(60)"
            % (str(Path(serial_client.__file__).parent.parent), m.path)
        )
        p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        try:
            assert p.stdout.readline().strip() == "open"
            r = run("info", m.path, timeout=60)
            assert r.returncode == 3 and "in use by process %d" % p.pid in r.stderr, r.stderr
        finally:
            p.kill()
            p.wait()
        r = run("info", m.path, "--json", timeout=60)
        assert r.returncode == 0, r.stderr


# ------------------------------------------------------------------ misleading messages
def test_fetch_to_a_missing_port_creates_no_store(tmp_path):
    db = tmp_path / "sub" / "v.db"
    r = run("fetch", str(tmp_path / "ttyNOPE0"), "--store", str(db), "--code", OTHER_CODE, timeout=60)
    assert r.returncode == 3 and "no such serial port" in r.stderr, r.stderr
    assert not db.exists() and not db.parent.exists()


def test_refused_record_is_never_acknowledged(tmp_path, meter_a):
    """A record the store refuses (bad signature) is not stored: ACK stops before it.
    Before: the fetch acknowledged up to the meter's last slot."""
    raw = meter_a.raw(*WEEK)
    bad = WEEK[0] + 100
    b = bytearray(raw[bad])
    b[-60] ^= 0x40  # inside the signature s: CRC of the frame is fine
    raw[bad] = bytes(b)
    st = Store(str(tmp_path / "s.db"))
    with FakeMeter(meter_a.mid, raw, meter_a.keys.y, customer_key=meter_a.customer_key) as m:
        link = serial_client.MeterLink(m.path, timeout=1.0, retries=4)
        try:
            s = serial_client.fetch(
                link,
                st,
                meter_a.pub["meter_id"],
                records.Checker.from_pub(meter_a.pub).check_raw,
                customer_key=meter_a.customer_key,
            )
        finally:
            link.close()
    assert s["rejected"] == 1
    assert m.acked == bad - 1 and s["acked_up_to"] == bad - 1
    assert set(s for s, _ in st.records(meter_a.pub["meter_id"], *WEEK)) == set(range(*WEEK)) - {bad}


# ------------------------------------------------------------------ against the real firmware
def provision(port, out, clock_slot):
    r = run(
        "provision",
        port,
        "--meter-id",
        "5645524957415454",
        "--clock",
        str(clock_slot * 1800),
        "--out",
        str(out),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def info(port):
    with serial_client.MeterLink(port, timeout=3) as link:
        return link.hello()


def wait_for(port, last_slot, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        i = info(port)
        if i["last_slot"] != wire.NO_SLOT and i["last_slot"] >= last_slot:
            return i
        time.sleep(0.3)
    raise AssertionError("meter did not reach slot %d" % last_slot)


def meter_slots(port, upto):
    """Every slot the meter holds up to `upto` (FETCH from 0, lost frames asked again)."""
    out, nxt = [], 0
    with serial_client.MeterLink(port, timeout=3, retries=6) as link:
        while nxt <= upto:
            raws, end = link.fetch_batch(nxt, 256)
            got = [wire.decode_record(r).slot for r in raws]
            assert end is not None and end["count"] == len(raws), "lost frames on a clean pty"
            out += [t for t in got if t <= upto]
            if not end["more"]:
                break
            nxt = end["next_slot"]
    return out


@pytest.fixture(scope="module")
def meter(tmp_path_factory):
    d = tmp_path_factory.mktemp("relsim")
    ms = device.load_meter_sim()
    env = dict(device.natmod_env(ms))
    env["VW_MAX_CATCHUP"] = "4"  # a clock jump leaves a gap in the log
    sim = ms.MeterSim(n=1, storage=str(d / "sim"), speed=36000, start="none", extra_env=env).start()
    try:
        p = provision(sim.meters[0].port, d, MONTH_START)
        yield {
            "sim": sim,
            "dir": d,
            "code": p["customer_code"],
            "secret": str(d / "meter.admin.json"),
            "pub": str(d / "meter.pub.json"),
        }
    finally:
        sim.stop()


@pytest.mark.sim
def test_ack_beyond_what_the_meter_sent_is_refused(meter):
    """The meter frees only readings it sent since it started. Before: any tagged ACK freed."""
    sim = meter["sim"]
    wait_for(sim.meters[0].port, MONTH_START + 20)
    port = sim.restart(0).port  # a fresh boot: nothing sent yet
    key = records.customer_key(meter["code"])
    with serial_client.MeterLink(port, timeout=3) as link:
        i = link.hello()
        with pytest.raises(DeviceError, match="FETCH from slot %d first" % i["first_slot"]) as e:
            link.ack(i["last_slot"], key)
        assert e.value.meter_code == wire.E_BAD_ARGUMENT
        assert link.hello()["unacked"] >= i["unacked"] > 0  # nothing freed (the meter goes on metering)
        raws, _ = link.fetch_batch(i["first_slot"], 10)  # the first ten readings are sent
        x = wire.decode_record(raws[-1]).slot
        with pytest.raises(DeviceError, match="reach only slot %d" % x):
            link.ack(x + 1, key)
        link.ack(x, key)
        j = link.hello()
    assert j["unacked"] == len([t for t in meter_slots(port, j["last_slot"]) if t > x])


@pytest.mark.sim
@pytest.mark.parametrize("stale_record", [False, True])
def test_fetch_with_the_code_after_fetches_without_it_acknowledges_everything(meter, tmp_path, stale_record):
    """Readings stored by earlier fetches without the code (or before the meter restarted) are
    sent again so that the meter may free them. stale_record: the store believes the meter
    took an ACK far ahead (another store's history): the meter refuses (ERROR 10), the fetch
    asks again from the meter's first slot and acknowledges."""
    port = meter["sim"].meters[0].port
    db = str(tmp_path / "v.db")
    r = run("fetch", port, "--store", db, "--meter-key", meter["pub"], "--json")
    assert r.returncode == 0, r.stderr
    if stale_record:
        with Store(db) as st:
            st.set_acked(json.loads(r.stdout)["meter_id"], 0xFFFFFF00)
    port = meter["sim"].restart(0).port
    r = run("fetch", port, "--store", db, "--meter-key", meter["pub"], "--code", meter["code"], "--json")
    assert r.returncode == 0, r.stderr
    f = json.loads(r.stdout)
    assert f["acked_up_to"] is not None and f["duplicates"] > 0
    i = info(port)
    held = meter_slots(port, i["last_slot"])
    assert i["unacked"] == len([t for t in held if t > f["acked_up_to"]])
    with Store(db) as st:
        assert set(t for t in held if t <= f["acked_up_to"]) <= set(s for s, _ in st.records(f["meter_id"]))


@pytest.mark.sim
def test_wrong_customer_code_is_named_before_anything_is_stored(meter, tmp_path):
    """Before: the readings were stored, then 'ACK not authorised ... fetch with the customer code'."""
    port = meter["sim"].meters[0].port
    db = tmp_path / "v.db"
    before = info(port)
    r = run("fetch", port, "--store", str(db), "--code", OTHER_CODE, timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "belongs to another meter" in r.stderr and "nothing was stored" in r.stderr, r.stderr
    assert "ACK not authorised" not in r.stderr
    assert not db.exists()
    assert info(port)["unacked"] >= before["unacked"]


@pytest.mark.sim
def test_info_counts_stored_readings_after_a_clock_jump(meter, tmp_path):
    """Before: used = last - first + 1, e.g. 'readings stored: 14612 of 3072' after a jump."""
    port = meter["sim"].meters[0].port
    i = wait_for(port, MONTH_START + 25)
    jump = i["last_slot"] + 4000  # beyond the capacity (3072) and max_catchup (4)
    r = run("set-clock", port, "--time", str(jump * 1800), "--admin", meter["secret"], timeout=60)
    assert r.returncode == 0, r.stderr
    i = wait_for(port, jump + 3)
    held = meter_slots(port, i["last_slot"])
    assert i["last_slot"] - i["first_slot"] + 1 > i["capacity"]  # the span, not what is stored
    assert i["used"] == len(held) <= i["capacity"]
    assert i["unacked"] == len([t for t in held if t > _acked(meter)])
    r = run("info", port)
    m = re.search(r"readings stored: (\d+) of (\d+)", r.stdout)
    assert r.returncode == 0 and m, r.stdout
    assert len(held) <= int(m.group(1)) <= info(port)["used"] and int(m.group(2)) == i["capacity"]


def _acked(meter):
    """The meter's acknowledged slot, read from its flash (log/ack.a|b, durable.SmallState)."""
    import struct
    import zlib

    best = None
    for c in "ab":
        p = Path(meter["sim"].meters[0].storage) / "log" / ("ack." + c)
        if not p.exists():
            continue
        raw = p.read_bytes()
        magic, seq, n = struct.unpack("<4sII", raw[:12])
        if magic == b"VWST" and len(raw) == 16 + n and zlib.crc32(raw[:-4]) == struct.unpack("<I", raw[-4:])[0]:
            if best is None or seq > best[0]:
                best = (seq, struct.unpack("<I", raw[12 : 12 + n])[0])
    return -1 if best is None else best[1]


def test_ack_refused_for_the_tag_says_the_code_is_not_this_meters(tmp_path, meter_a, meter_b):
    """A meter that refuses the tag although the code opened its readings (only a meter whose
    code changed can do this): the message names the code, not 'fetch with the customer code'."""
    raw = meter_a.raw(WEEK[0], WEEK[0] + 20)
    st = Store(str(tmp_path / "s.db"))
    with FakeMeter(meter_a.mid, raw, meter_a.keys.y, customer_key=meter_b.customer_key) as m:
        link = serial_client.MeterLink(m.path, timeout=1.0, retries=4)
        try:
            with pytest.raises(DeviceError, match="customer code given is not this meter's") as e:
                serial_client.fetch(
                    link,
                    st,
                    meter_a.pub["meter_id"],
                    records.Checker.from_pub(meter_a.pub).check_raw,
                    customer_key=meter_a.customer_key,
                )
        finally:
            link.close()
    assert e.value.meter_code == wire.E_AUTH and m.acked is None
    assert len(st.records(meter_a.pub["meter_id"])) == 20
