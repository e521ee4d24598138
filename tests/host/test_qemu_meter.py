"""The host against the meter firmware on the QEMU board (simulators/qemu/run): `veriwatt deploy`
installs it with mpremote, then info, provision, fetch, verify and readings over its pty."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

pytestmark = [pytest.mark.host, pytest.mark.qemu, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "simulators" / "qemu" / "run"


def run(*argv, timeout=240):
    return subprocess.run([sys.executable, "-m", "veriwatt.cli", *argv], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def qemu_port(tmp_path):
    variant = next((v for v in ("vwcrypto", "plain") if (ROOT / "build" / "qemu" / v / "firmware.elf").exists()), None)
    if variant is None or not shutil.which("qemu-system-arm"):
        pytest.skip("QEMU board firmware not built (make qemu) or qemu-system-arm missing")
    p = subprocess.Popen([str(RUN), "--variant", variant, "--fs", str(tmp_path / "fs.img"), "--no-icount"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        port = None
        deadline = time.time() + 30
        while port is None and time.time() < deadline:
            m = re.search(r"(/dev/pts/\d+)", p.stdout.readline())
            port = m.group(1) if m else None
        assert port, "qemu did not report its pty"
        yield port
    finally:
        p.terminate()
        p.wait(timeout=10)


def start_meter(port, tmp_path):
    cfg = tmp_path / "vwhal.json"
    cfg.write_text(json.dumps({"speed": 180000, "seed": 3}))
    mpremote = str(Path(sys.executable).parent / "mpremote")
    r = subprocess.run([mpremote, "connect", port, "fs", "mkdir", ":vwdata", "+", "fs", "cp", str(cfg),
                        ":vwdata/vwhal.json"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    s = serial.Serial(port, 115200, timeout=0.1)
    s.write(b"\r\x03\x03\r")
    time.sleep(0.3)
    s.reset_input_buffer()
    s.write(b"import vwmeter.main as m; m.main()\r")
    buf = b""
    deadline = time.time() + 120
    while not re.search(rb"veriwatt-meter [^\r\n]* ready[^\n]*\n", buf) and time.time() < deadline:
        buf += s.read(200)
    s.close()
    assert b"ready (qemu" in buf, buf


def test_deploy_provision_fetch_on_qemu(qemu_port, tmp_path):
    r = run("deploy", qemu_port, "--board", "qemu", "--tool", "mpremote")
    assert r.returncode == 0, r.stdout + r.stderr
    start_meter(qemu_port, tmp_path)
    r = run("info", qemu_port)
    assert r.returncode == 0 and "/qemu" in r.stdout and "not provisioned" in r.stdout, r.stdout + r.stderr
    r = run("provision", qemu_port, "--clock", "2026-12-01", "--out", str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    code = json.loads(r.stdout)["customer_code"]
    deadline = time.time() + 120
    while time.time() < deadline:
        info = json.loads(run("info", qemu_port, "--json").stdout)
        if info["used"] >= 20:
            break
        time.sleep(1)
    db, key = str(tmp_path / "v.db"), str(tmp_path / "meter.pub.json")
    r = run("fetch", qemu_port, "--store", db, "--meter-key", key, "--json")
    assert r.returncode == 0, r.stderr
    f = json.loads(r.stdout)
    assert f["added"] >= 20 and f["rejected"] == 0
    a = f["from_slot"]
    period = "%d:%d" % (a, a + 20)
    r = run("verify", "--store", db, "--period", period)
    assert r.returncode == 0 and "complete and every signature valid" in r.stdout, r.stdout
    r = run("readings", "--store", db, "--period", period, "--code", code, "--csv")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 21
