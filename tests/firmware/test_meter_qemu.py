"""The meter firmware on the QEMU board (simulators/qemu, VERIWATT_AN386), two ways:
  - "vwcrypto": install vwcore + vwmeter + hal/qemu with mpremote onto the board's LittleFS;
  - "meter": the same code FROZEN into flash, with a 48 KB heap (the 64 KB-RAM class budget
    of DESIGN.md), only the config file copied.
Start the meter on the REPL UART, provision, let the accelerated clock close slots, FETCH,
verify and open every record (values must equal the seeded household of vwload.py)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time

import pytest
import serial

from fwhelpers import FIRMWARE, HAL_COMMON, ROOT, cpython_paths

cpython_paths()
from fwclient import Client  # noqa: E402
from vwcore import reading, wire  # noqa: E402
import vwload  # noqa: E402

pytestmark = [pytest.mark.qemu, pytest.mark.slow]
RUN = ROOT / "simulators" / "qemu" / "run"
MPREMOTE = str(__import__("pathlib").Path(sys.executable).parent / "mpremote")


@pytest.fixture(params=["vwcrypto", "meter"])
def qemu_meter(request, tmp_path):
    variant = request.param
    elf = ROOT / "build" / "qemu" / variant / "firmware.elf"
    if not elf.exists() or not shutil.which("qemu-system-arm"):
        pytest.fail("%s is missing or qemu-system-arm is not installed: run `make qemu`"
                    % elf.relative_to(ROOT), pytrace=False)
    p = subprocess.Popen([str(RUN), "--variant", variant, "--fs", str(tmp_path / "fs.img"),
                          "--no-icount"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        port = None
        deadline = time.time() + 30
        while port is None and time.time() < deadline:
            line = p.stdout.readline()
            m = re.search(r"(/dev/pts/\d+)", line)
            port = m.group(1) if m else None
        assert port, "qemu did not report its pty"
        cfg = tmp_path / "vwhal.json"
        cfg.write_text(json.dumps({"speed": 180000, "seed": 3}))
        files = [str(ROOT / "hal" / "qemu" / "vwhal.py")] + [
            str(HAL_COMMON / m) for m in ("vwload.py", "vwclock.py", "vwstdio.py")]
        cmd = [MPREMOTE, "connect", port]
        if variant != "meter":  # the frozen image already has the code
            cmd += ["fs", "mkdir", ":lib", "+", "fs", "cp", "-r", str(FIRMWARE / "vwcore"),
                    str(FIRMWARE / "vwmeter"), ":lib/", "+", "fs", "cp"] + files + [":lib/", "+"]
        cmd += ["fs", "mkdir", ":vwdata", "+", "fs", "cp", str(cfg), ":vwdata/vwhal.json"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, r.stdout + r.stderr
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
        yield port
    finally:
        p.terminate()
        p.wait(timeout=10)


def test_meter_on_qemu_board(qemu_meter):
    c = Client(qemu_meter, timeout=60)
    i = c.info()
    assert i["fw_version"].endswith("/qemu") and not i["provisioned"]
    mid = b"QEMU0001"
    c.ok(wire.PROVISION, wire.encode_provision(mid, 1, 1767225600, bytes(32), bytes(range(32)),
                                               b"k" * 15))
    deadline = time.time() + 240
    while time.time() < deadline:
        i = c.info()
        if i["last_slot"] != wire.NO_SLOT and i["last_slot"] - i["first_slot"] >= 2:
            break
        time.sleep(0.5)
    recs, end = c.fetch(0, 0)
    assert len(recs) >= 3 and not end["more"]
    assert [r.slot for r in recs] == list(range(recs[0].slot, recs[0].slot + len(recs)))
    for r in recs:
        assert reading.verify_record(r, i["sig_pub"], mid)
        assert reading.open_record(r, b"k" * 15)[0] == vwload.wh(3, r.slot)
    c.ok(wire.ACK, wire.encode_ack(recs[-1].slot))
    c.close()
