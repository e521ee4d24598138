# SPDX-License-Identifier: MIT
"""`veriwatt set-clock` against the real firmware (a simulated meter on the unix MicroPython,
clock at real speed, behind a pty): a provisioned meter refuses a shift by hours without the
engineer's admin file and takes it with it; drift trims pass within their budget; a replayed
authenticated frame is refused; a lost clock (restart) may be set forward, flagged unverified
until an authenticated set. The rules themselves: tests/firmware/test_clock_auth.py."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from veriwatt import device, serial_client
from vwcore import auth, wire

pytestmark = [pytest.mark.host, pytest.mark.sim]

T0 = 1796083200  # 2026-12-01 00:00 UTC


def run(*argv, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "veriwatt.cli", *argv], capture_output=True, text=True, timeout=timeout
    )


def info(port):
    r = run("info", port, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture
def sim(tmp_path):
    s = device.start_sim(1, str(tmp_path / "sim"), 1, "none")  # speed 1: the meter's clock runs in real time
    yield s
    s.stop()


def test_set_clock_rules_over_serial(tmp_path, sim):
    port = sim.meters[0].port
    r = run("set-clock", port, "--time", str(T0 - 86400))  # unprovisioned: anything goes
    assert r.returncode == 0 and "was not set" in r.stdout, r.stdout + r.stderr
    r = run("provision", port, "--clock", str(T0), "--out", str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    secret = str(tmp_path / "meter.admin.json")

    now = info(port)["clock"]
    r = run("set-clock", port, "--time", str(now + 8 * 3600))
    assert r.returncode == 3 and "admin tag" in r.stderr and "--admin meter.admin.json" in r.stderr, r.stderr
    assert abs(info(port)["clock"] - now) <= 5  # unchanged

    now = info(port)["clock"]
    r = run("set-clock", port, "--time", str(now + 60), "--json")  # a drift trim
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["authenticated"] is False and abs(out["clock"] - (now + 60)) <= 5

    before = info(port)
    r = run("set-clock", port, "--time", str(before["clock"] + 8 * 3600), "--admin", secret, "--json")
    assert r.returncode == 0, r.stderr
    after = info(port)
    assert json.loads(r.stdout)["authenticated"] and abs(after["clock"] - (before["clock"] + 8 * 3600)) <= 5
    assert after["challenge"] != before["challenge"]

    # the same authenticated frame sent twice: the second is a replay
    with serial_client.MeterLink(port, timeout=3) as link:
        ch = link.hello()["challenge"]
        sec = json.load(open(secret))
        t = link.info["clock"] + 3600
        frame = wire.encode_set_clock(
            t, ch, auth.clock_tag(bytes.fromhex(sec["admin_secret"]), bytes.fromhex(sec["meter_id"]), ch, t)
        )
        link.request(wire.SET_CLOCK, frame, (wire.OK,))
        with pytest.raises(Exception, match="not authorised"):
            link.request(wire.SET_CLOCK, frame, (wire.OK,))

    # another meter's record is refused by the host; a forged one by the meter
    other = dict(sec, meter_id="00" * 8)
    (tmp_path / "other.admin.json").write_text(json.dumps(other))
    r = run("set-clock", port, "--time", "now", "--admin", str(tmp_path / "other.admin.json"))
    assert r.returncode == 2 and "admin file of meter 0000000000000000" in r.stderr, r.stderr
    forged = dict(sec, admin_secret="11" * 32)
    (tmp_path / "forged.admin.json").write_text(json.dumps(forged))
    r = run("set-clock", port, "--time", "now", "--admin", str(tmp_path / "forged.admin.json"))
    assert r.returncode == 3 and "not authorised" in r.stderr, r.stderr
    (tmp_path / "bad.admin.json").write_text(json.dumps(dict(sec, admin_secret="zz")))
    r = run("set-clock", port, "--time", "now", "--admin", str(tmp_path / "bad.admin.json"))
    assert r.returncode == 2 and "is not a meter admin file" in r.stderr, r.stderr
    r = run("set-clock", port, "--time", "yesterday")
    assert r.returncode == 2 and "bad --time" in r.stderr

    # power cut with the RTC battery gone: the simulated RTC's file is removed before the restart
    (sim.meters[0].storage / "rtc").unlink()
    m = sim.restart(0)
    port = m.port
    assert info(port)["clock_set"] is False
    r = run("set-clock", port, "--time", str(T0 + 86400))
    assert r.returncode == 0 and "UNVERIFIED" in r.stdout, r.stdout + r.stderr
    i = info(port)
    assert i["clock_unverified"] is True
    r = run("info", port)
    assert "clock UNVERIFIED" in r.stdout
    r = run("fetch", port, "--store", str(tmp_path / "v.db"), "--meter-key", str(tmp_path / "meter.pub.json"), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["clock_unverified"] is True, r.stderr
    assert "clock was set without the engineer's tag" in r.stderr
    r = run("set-clock", port, "--time", str(i["clock"]), "--admin", secret)
    assert r.returncode == 0 and "authenticated" in r.stdout, r.stderr
    assert info(port)["clock_unverified"] is False
