# SPDX-License-Identifier: MIT
"""The meter firmware on the QEMU Cortex-M4 board (simulators/qemu/run), shared by the firmware,
host and aggregation suites: start the board, optionally install the code with mpremote, write
the simulator's config, start `vwmeter.main` on the REPL UART and wait for its banner.

    with qemu_board_port(variant, tmp_path) as port:    # the board's pty, QEMU stopped after
        install_and_start_meter(port, tmp_path, variant, speed=180000, install=True)
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator, Optional

import serial

from qemu_sim import MPREMOTE, READY  # noqa: F401  (re-exported to the suites)
from vwtest import ROOT, require_artifact

RUN = ROOT / "simulators" / "qemu" / "run"
HAL_FILES = [ROOT / "hal" / "qemu" / "vwhal.py"] + [
    ROOT / "hal" / "common" / m for m in ("vwload.py", "vwclock.py", "vwstdio.py")
]


def firmware(variant: str) -> Path:
    """The board firmware for `variant`; fails the test (with the make target) when it is missing."""
    if not shutil.which("qemu-system-arm"):
        import pytest

        pytest.fail("qemu-system-arm is not installed: run `make setup`", pytrace=False)
    return require_artifact(ROOT / "build" / "qemu" / variant / "firmware.elf", "qemu")


@contextlib.contextmanager
def qemu_board_port(variant: str, tmp_path: Path, speed: Optional[int] = None) -> Iterator[str]:
    """Run the QEMU board (free-running clock, LittleFS image in tmp_path) and yield its pty;
    `speed`: run's --speed (overrides vwhal.json's)."""
    firmware(variant)
    extra = ["--speed", str(speed)] if speed else []
    p = subprocess.Popen(
        [str(RUN), "--variant", variant, "--fs", str(tmp_path / "fs.img"), "--no-icount"] + extra,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
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


def install_and_start_meter(
    port: str, tmp_path: Path, variant: str, speed: int, seed: int = 3, install: bool = True
) -> None:
    """Copy vwcore + vwmeter + the qemu HAL to :lib (unless `install` is false or the variant is
    "meter", whose image has them frozen), write :vwdata/vwhal.json, start the meter, wait for
    its ready banner (asserted)."""
    cfg = tmp_path / "vwhal.json"
    cfg.write_text(json.dumps({"speed": speed, "seed": seed}))
    cmd = [MPREMOTE, "connect", port]
    if install and variant != "meter":
        cmd += [
            "fs",
            "mkdir",
            ":lib",
            "+",
            "fs",
            "cp",
            "-r",
            str(ROOT / "firmware" / "vwcore"),
            str(ROOT / "firmware" / "vwmeter"),
            ":lib/",
            "+",
            "fs",
            "cp",
        ]
        cmd += [str(f) for f in HAL_FILES] + [":lib/", "+"]
    cmd += ["fs", "mkdir", ":vwdata", "+", "fs", "cp", str(cfg), ":vwdata/vwhal.json"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    start_meter(port)


def start_meter(port: str) -> None:
    """At the board's REPL: start `vwmeter.main`, wait for its ready banner (asserted)."""
    s = serial.Serial(port, 115200, timeout=0.1)
    try:
        s.write(b"\r\x03\x03\r")
        time.sleep(0.3)
        s.reset_input_buffer()
        s.write(b"import vwmeter.main as m; m.main()\r")
        buf = b""
        deadline = time.time() + 120
        while not READY.search(buf) and time.time() < deadline:
            buf += s.read(200)
    finally:
        s.close()
    assert b"ready (qemu" in buf, buf
