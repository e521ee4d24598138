# SPDX-License-Identifier: MIT
"""The web commands as a user runs them: `veriwatt serve` (a real process), `veriwatt upload`
from a local store, `veriwatt web-access`; exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pgserver import free_port

from veriwatt import jsonio
from veriwatt.records import Checker
from veriwatt.store import Store

pytestmark = pytest.mark.web
VW = str(Path(sys.executable).parent / "veriwatt")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([VW, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def files(world, tmp_path):
    m = world.meter
    jsonio.write(str(tmp_path / "meter.pub.json"), m.pub)
    jsonio.write(str(tmp_path / "other.pub.json"), world.other.pub)
    jsonio.write(str(tmp_path / "supplier.pub.json"), world.spub)
    jsonio.write(str(tmp_path / "tariff.json"), world.tariff)
    jsonio.write(
        str(tmp_path / "code.json"),
        {"format": "veriwatt-customer-code/1", "meter_id": m.pub["meter_id"], "customer_code": m.code},
        private=True,
    )
    with Store(str(tmp_path / "veriwatt.db")) as st:
        st.add_meter(m.pub["meter_id"], m.pub)
        st.add([world.raw[t] for t in sorted(world.raw)], Checker.from_pub(m.pub).check_raw)
    return tmp_path


def test_serve_upload_web_access(files, world):
    d = files
    r = run("web-access", "--meter-key", str(d / "meter.pub.json"), "--code-file", str(d / "code.json"), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["access_verifier"] == world.verifier
    port = free_port()
    p = subprocess.Popen(
        [
            VW,
            "serve",
            "--supplier-key",
            str(d / "supplier.pub.json"),
            "--database",
            str(d / "svc.db"),
            "--port",
            str(port),
            "--token-file",
            str(d / "supplier.token"),
            "--tariff",
            str(d / "tariff.json"),
            "--register",
            "%s:%s" % (d / "meter.pub.json", d / "code.json"),
            "--register",
            "%s:%s" % (d / "other.pub.json", "ab" * 32),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = "http://127.0.0.1:%d" % port
        t0 = time.monotonic()
        while True:  # wait until it answers
            r = run("upload", "--server", url, "--store", str(d / "veriwatt.db"), "--json")
            if r.returncode != 3 or time.monotonic() - t0 > 60:
                break
            time.sleep(0.3)
        assert r.returncode == 0, r.stderr
        j = json.loads(r.stdout)
        assert j["added"] == len(world.raw) and j["rejected"] == 0
        r = run("upload", "--server", url, "--store", str(d / "veriwatt.db"), "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["duplicates"] == len(world.raw)
        assert stat.S_IMODE(os.stat(d / "supplier.token").st_mode) == 0o600
        tok = (d / "supplier.token").read_text().strip()
        r = run(
            "web-register",
            "--server",
            url,
            "--token-file",
            str(d / "supplier.token"),
            "--meter-key",
            str(d / "meter.pub.json"),
            "--verifier",
            "00" * 32,
            "--json",
        )
        assert r.returncode == 0 and json.loads(r.stdout)["registered"] is False
        assert len(tok) == 64
        from veriwatt import webclient

        ms = webclient.call(url, "GET", "/api/meters", headers={"authorization": "Bearer " + tok})["meters"]
        assert sorted(x["meter_id"] for x in ms) == sorted([world.meter.pub["meter_id"], world.other.pub["meter_id"]])
    finally:
        p.terminate()
        p.wait(20)
    err = p.stderr.read()
    assert "supplier.token" in err and tok not in err  # where the token is, never the token


def test_upload_errors(files):
    d = files
    r = run("upload", "--server", "ftp://x", "--store", str(d / "veriwatt.db"))
    assert r.returncode == 2 and "http:// or https://" in r.stderr
    r = run("upload", "--server", "http://127.0.0.1:%d" % free_port(), "--store", str(d / "veriwatt.db"))
    assert r.returncode == 3 and "cannot reach" in r.stderr
    r = run("upload", "--server", "http://127.0.0.1:1", "--store", str(d / "nope.db"))
    assert r.returncode == 2 and "does not exist" in r.stderr
    r = run("serve", "--supplier-key", str(d / "meter.pub.json"))
    assert r.returncode == 2 and "expected a supplier key" in r.stderr
    r = run(
        "serve",
        "--supplier-key",
        str(d / "supplier.pub.json"),
        "--token-file",
        str(d / "t"),
        "--database",
        "postgresql://vw:s3cret@127.0.0.1:%d/x" % free_port(),
    )
    assert r.returncode == 2 and "cannot connect to PostgreSQL" in r.stderr and "s3cret" not in r.stderr
    r = run("serve", "--supplier-key", str(d / "supplier.pub.json"), "--database", "mysql://a:b@h/d")
    assert r.returncode == 2 and "sqlite:///PATH or postgresql://" in r.stderr and ":b@" not in r.stderr


def test_fetch_upload(world, tmp_path):
    """`veriwatt fetch PORT --upload URL`: fetched over serial from a meter (a CPython meter on a
    pty, tests/host/fakemeter.py), stored, then sent to a live service that verifies them."""
    from browser import LiveService
    from fakemeter import FakeMeter

    m = world.meter
    live = LiveService(world, tmp_path)
    try:
        jsonio.write(str(tmp_path / "meter.pub.json"), m.pub)
        with FakeMeter(m.mid, world.raw, m.keys.y, customer_key=m.customer_key) as fm:
            r = run(
                "fetch",
                fm.path,
                "--store",
                str(tmp_path / "v.db"),
                "--meter-key",
                str(tmp_path / "meter.pub.json"),
                "--code",
                m.code,
                "--upload",
                live.url,
                "--json",
            )
        assert r.returncode == 0, r.stderr
        j = json.loads(r.stdout)
        assert j["added"] == len(world.raw) and j["upload"]["added"] == len(world.raw) and j["upload"]["rejected"] == 0
        assert live.db.count_records(m.pub["meter_id"], world.start, world.end) == len(world.raw)
    finally:
        live.stop()
