# SPDX-License-Identifier: MIT
"""The host against the real firmware: simulated meters (unix MicroPython behind ptys).

Engineer's and customer's commands through the CLI, a noisy line (1e-3) made by a pty relay
in front of the simulator, a fetch killed mid-transfer on a line throttled to 115200 baud,
and the demo itself."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from veriwatt import device, records, serial_client, slots
from veriwatt.errors import DeviceError
from veriwatt.ptyrelay import PtyRelay
from veriwatt.store import Store
from vwcore import auth, wire

pytestmark = [pytest.mark.host, pytest.mark.sim]

MONTH_START = slots.month_range("2026-12", "Europe/London")[0]


def run(*argv, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "veriwatt.cli", *argv], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def sim(tmp_path):
    s = device.start_sim(1, str(tmp_path / "sim"), 180000, "none")
    yield s
    s.stop()


def provision(port, out, clock_slot=MONTH_START - 2):
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


def wait_for(port, last_slot, timeout=60):
    link = serial_client.MeterLink(port, timeout=3)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = link.hello()
            if info["last_slot"] != 0xFFFFFFFF and info["last_slot"] >= last_slot:
                return info
            time.sleep(0.3)
    finally:
        link.close()
    raise AssertionError("meter did not reach slot %d" % last_slot)


def test_cli_workflow_on_the_simulator(tmp_path, sim):
    port = sim.meters[0].port
    r = run("info", port)
    assert r.returncode == 0 and "not provisioned" in r.stdout
    p = provision(port, tmp_path)
    a, b = MONTH_START, MONTH_START + 96
    wait_for(port, b)
    r = run("info", port, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["meter_id"] == "5645524957415454"
    db, key = str(tmp_path / "v.db"), str(tmp_path / "meter.pub.json")
    r = run("fetch", port, "--store", db, "--meter-key", key, "--json")
    assert r.returncode == 0, r.stderr
    f = json.loads(r.stdout)
    # without the customer code nothing is acknowledged: the meter keeps every reading
    assert f["added"] >= 96 and f["rejected"] == 0 and f["acked_up_to"] is None
    assert "readings not acknowledged" in r.stderr and json.loads(run("info", port, "--json").stdout)["unacked"] >= 96
    with serial_client.MeterLink(port, timeout=3) as link:  # a forged ACK (wrong key) is refused
        info = link.hello()
        bad = auth.ack_tag(b"x" * 15, info["meter_id"], info["challenge"], info["last_slot"])
        with pytest.raises(DeviceError, match="ACK not authorised") as e:
            link.request(wire.ACK, wire.encode_ack(info["last_slot"], bad), (wire.OK,))
        assert e.value.meter_code == wire.E_AUTH
        with pytest.raises(DeviceError, match="ACK not authorised"):  # the old 4-byte form too
            link.request(wire.ACK, wire.encode_ack(info["last_slot"]), (wire.OK,))
    assert json.loads(run("info", port, "--json").stdout)["unacked"] >= 96
    r = run("fetch", port, "--store", db, "--meter-key", key, "--code", p["customer_code"], "--json")
    assert r.returncode == 0, r.stderr
    f = json.loads(r.stdout)
    assert f["acked_up_to"] is not None and "not acknowledged" not in r.stderr
    assert json.loads(run("info", port, "--json").stdout)["unacked"] < 96
    period = "%d:%d" % (a, b)
    r = run("verify", "--store", db, "--period", period)
    assert r.returncode == 0 and "complete and every signature valid" in r.stdout, r.stdout
    assert run("tariff", "example", "--out", str(tmp_path / "t.json")).returncode == 0
    t = json.loads((tmp_path / "t.json").read_text())  # the billing cycle: the two simulated days
    t["cycle"] = {"kind": "periods", "periods": [[a, b]]}
    (tmp_path / "t.json").write_text(json.dumps(t))
    assert run("keygen", "--out", str(tmp_path / "sup")).returncode == 0
    assert run("tariff", "sign", str(tmp_path / "t.json"), "--key", str(tmp_path / "sup.key.json")).returncode == 0
    r = run(
        "bill",
        "--store",
        db,
        "--period",
        period,
        "--tariff",
        str(tmp_path / "t.json"),
        "--code",
        p["customer_code"],
        "--out",
        str(tmp_path / "bill.json"),
    )
    assert r.returncode == 2 and "veriwatt trust add" in r.stderr  # no trusted supplier key yet
    assert run("trust", "add", str(tmp_path / "sup.pub.json")).returncode == 0
    r = run(
        "bill",
        "--store",
        db,
        "--period",
        period,
        "--tariff",
        str(tmp_path / "t.json"),
        "--code",
        p["customer_code"],
        "--out",
        str(tmp_path / "bill.json"),
    )
    assert r.returncode == 0, r.stderr
    r = run(
        "verify-bill",
        str(tmp_path / "bill.json"),
        "--tariff",
        str(tmp_path / "t.json"),
        "--meter-key",
        key,
        "--supplier-key",
        str(tmp_path / "sup.pub.json"),
    )
    assert r.returncode == 0 and "VALID" in r.stdout, r.stderr
    r = run("readings", "--store", db, "--period", period, "--code", p["customer_code"], "--csv")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 97
    r = run("readings", "--store", db, "--period", period, "--code", "00000-00000-00000-00000-00000")
    assert r.returncode == 1 and "wrong customer code" in r.stderr
    r = run(
        "plot",
        "--store",
        db,
        "--period",
        period,
        "--code",
        p["customer_code"],
        "--tariff",
        str(tmp_path / "t.json"),
        "--out",
        str(tmp_path / "c.png"),
    )
    assert r.returncode == 0 and (tmp_path / "c.png").stat().st_size > 1000
    # provisioning twice is refused with the reason
    r = run("provision", port, "--out", str(tmp_path / "again"))
    assert r.returncode == 3 and "already provisioned" in r.stderr
    # the meter refuses a reset while it holds readings not acknowledged, and says so
    r = run("reset", port, "--admin", str(tmp_path / "meter.admin.json"))
    assert r.returncode == 3 and "not acknowledged" in r.stderr and "Traceback" not in r.stderr


def test_noisy_line_against_the_firmware(tmp_path, sim):
    port = sim.meters[0].port
    p = provision(port, tmp_path)
    wait_for(port, MONTH_START + 300)
    relay = PtyRelay(port, noise=1e-3, seed=11).start()
    st = Store(str(tmp_path / "v.db"))
    try:
        link = serial_client.MeterLink(relay.path, timeout=2, retries=8)
        info = link.hello()
        pub = p_pub(tmp_path)
        st.add_meter(pub["meter_id"], pub)
        chk = records.Checker.from_pub(pub)
        s = serial_client.fetch(link, st, pub["meter_id"], chk.check_raw, to_slot=MONTH_START + 300)
        link.close()
    finally:
        relay.stop()
    assert relay.corrupted > 20
    assert s["complete"] and s["rejected"] == 0
    rows = st.records(pub["meter_id"], MONTH_START, MONTH_START + 300)
    assert [t for t, _ in rows] == list(range(MONTH_START, MONTH_START + 300))
    for _, raw in rows:
        assert chk.problem(records.decode(raw)) is None
    assert p["meter_id"] == info["meter_id"].hex()


def p_pub(tmp_path):
    from veriwatt import keys

    return keys.load_public(str(tmp_path / "meter.pub.json"), "meter")


def _first_batch_stored(db, proc, deadline_s=60.0):
    """Wait (on progress, not a fixed sleep: a loaded machine starts the CLI slowly) until the
    fetch has stored its first readings; the caller then kills it mid-transfer."""
    import sqlite3

    end = time.monotonic() + deadline_s
    while time.monotonic() < end and proc.poll() is None:
        try:
            with sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=0.1) as c:
                if c.execute("SELECT COUNT(*) FROM records").fetchone()[0] > 0:
                    return
        except sqlite3.Error:
            pass  # not created yet, or busy
        time.sleep(0.02)
    raise AssertionError("the fetch stored nothing within %.0f s (exit %s)" % (deadline_s, proc.poll()))


def test_fetch_killed_mid_transfer_at_115200_baud(tmp_path):
    s = device.start_sim(1, str(tmp_path / "sim"), 180000, "none", baud=115200)
    try:
        port = s.meters[0].port
        provision(port, tmp_path)
        wait_for(port, MONTH_START + 200)
        db, key = str(tmp_path / "v.db"), str(tmp_path / "meter.pub.json")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "veriwatt.cli",
                "fetch",
                port,
                "--store",
                db,
                "--meter-key",
                key,
                "--to-slot",
                str(MONTH_START + 200),
                "--batch",
                "16",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        _first_batch_stored(db, proc)  # killed mid-transfer: after the first batch, long before 202
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        st = Store(db)
        mid = p_pub(tmp_path)["meter_id"]
        n = st.count(mid)  # the meter's first slots are two before the month (its clock started there)
        assert 0 < n < 202 and st.integrity() == "ok"
        resume = st.resume_slot(mid, MONTH_START - 2)
        assert MONTH_START - 2 < resume <= MONTH_START - 2 + n
        r = run("fetch", port, "--store", db, "--meter-key", key, "--to-slot", str(MONTH_START + 200), "--json")
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["from_slot"] == resume and out["complete"]
        assert out["added"] == 202 - n
        assert [t for t, _ in st.records(mid)] == list(range(MONTH_START - 2, MONTH_START + 200))
    finally:
        s.stop()


@pytest.mark.parametrize("how", ["flag", "env"])
def test_sim_without_natmod_uses_pow(tmp_path, monkeypatch, how):
    """`veriwatt sim --no-natmod` and VERIWATT_SIM_NATMOD=0 leave the natmod out (they used to
    be ignored: MeterSim put it on the path by itself)."""
    if how == "env":
        monkeypatch.setenv("VERIWATT_SIM_NATMOD", "0")
    s = device.start_sim(1, str(tmp_path / "sim"), 1800, "none", natmod=how != "flag")
    try:
        assert "modexp pow)" in s.meters[0].banner, s.meters[0].banner
    finally:
        s.stop()


@pytest.mark.slow
def test_demo(tmp_path):
    out = tmp_path / "demo"
    r = subprocess.run(
        [sys.executable, "-m", "veriwatt.cli", "demo", "--out", str(out)], capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stdout + r.stderr
    for f in ("bill.json", "tariff.json", "meter.pub.json", "summary.json"):
        assert (out / f).exists()
    cmd = "veriwatt verify-bill %s --tariff %s --meter-key %s --supplier-key %s" % (
        out / "bill.json",
        out / "tariff.json",
        out / "meter.pub.json",
        out / "supplier.pub.json",
    )
    assert cmd in r.stdout
    r2 = run(*cmd.split()[1:])  # the printed command, exactly
    assert r2.returncode == 0 and "VALID" in r2.stdout
    r3 = run(
        "verify-bill",
        str(out / "bill.json"),
        "--tariff",
        str(out / "tariff.json"),
        "--meter-key",
        str(out / "meter.pub.json"),
    )
    assert r3.returncode == 2 and "no trusted supplier key" in r3.stderr
    bill = json.loads((out / "bill.json").read_text())
    assert bill["period"]["slots"] == 1488 and len(bill["commitments"]) == 1488
    # the supplier recorded the month in its ledger: the same bill again is refused
    ls = json.loads(run("ledger", "list", "--ledger", str(out / "ledger.db"), "--json").stdout)["bills"]
    assert [(x["meter_id"], x["cycle"], x["charge"]) for x in ls] == [(bill["meter_id"], "2026-12", "energy")]
    r3 = run(
        "ledger",
        "record",
        str(out / "bill.json"),
        "--ledger",
        str(out / "ledger.db"),
        "--tariff",
        str(out / "tariff.json"),
        "--supplier-key",
        str(out / "supplier.pub.json"),
        "--meter-key",
        str(out / "meter.pub.json"),
    )
    assert r3.returncode == 1 and "already recorded" in r3.stderr
    # its duration is a benchmark (make bench: build/bench/demo.json), not a test; the summary must
    # account for it step by step
    t = json.loads((out / "summary.json").read_text())["timings_s"]
    assert 0 < sum(v for k, v in t.items() if k != "total_s") <= t["total_s"]
    assert json.loads((out / "summary.json").read_text())["aggregation"]


def test_sim_command_prints_ports_and_meters_answer(tmp_path):
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "veriwatt.cli",
            "sim",
            "--meters",
            "2",
            "--duration",
            "20",
            "--storage",
            str(tmp_path / "sim"),
            "--json",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = p.stdout.readline()
        ports = [m["port"] for m in json.loads(line)["meters"]]
        assert len(ports) == 2
        for port in ports:
            r = run("info", port, "--json")
            assert r.returncode == 0 and json.loads(r.stdout)["provisioned"] is False
    finally:
        p.send_signal(signal.SIGINT)
        p.wait(timeout=15)
    assert p.returncode == 0
