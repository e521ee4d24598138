# SPDX-License-Identifier: MIT
"""Runs simulators/renode/meter.robot with renode-test when it is on PATH.

Renode is distributed as release archives / OS packages that no registry reachable from
this project's machines carries, so here the test normally SKIPS and prints why.  It also
needs a NUCLEO_F446RE MicroPython ELF with the meter frozen in (VERIWATT_RENODE_ELF or
build/micropython/ports/stm32/build-NUCLEO_F446RE/firmware.elf), which the Debian
MicroPython source cannot build (lib/stm32lib is stripped)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from fwhelpers import ROOT

pytestmark = pytest.mark.renode
ROBOT = ROOT / "simulators" / "renode" / "meter.robot"
NO_RENODE = (
    "renode-test is not on PATH: Renode is not obtainable from any registry here "
    "(see simulators/renode/README.md); simulators/renode/meter.robot was not run"
)


@pytest.mark.reliability
def test_skip_message_points_at_files_in_the_repo():
    """The skip message sends the reader to files that exist (it named docs TOOLCHAIN.md, which does not)."""
    import re

    paths = re.findall(r"[\w./-]+\.(?:md|robot|py)\b", NO_RENODE)
    assert paths and all((ROOT / p).is_file() for p in paths), paths


def test_renode_meter_robot(tmp_path):
    exe = shutil.which("renode-test")
    if exe is None:
        msg = NO_RENODE
        print("SKIP:", msg)
        pytest.skip(msg)
    elf = os.environ.get("VERIWATT_RENODE_ELF", str(ROOT / "build/stm32/nucleo_f446re/firmware.elf"))  # make stm32
    if not os.path.exists(elf):
        msg = "no STM32 MicroPython ELF with the meter frozen in at %s (set VERIWATT_RENODE_ELF)" % elf
        print("SKIP:", msg)
        pytest.skip(msg)
    r = subprocess.run(
        [exe, "--variable", "ELF:" + elf, "--results-dir", str(tmp_path), str(ROBOT)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


def test_renode_wire_library_against_simulator(tmp_path):
    """The robot suite's keyword library, checked against the unix simulator over TCP
    (a socket relay stands in for Renode's server socket terminal)."""
    import socket
    import sys
    import threading

    import serial

    sys.path.insert(0, str(ROOT / "simulators"))
    sys.path.insert(0, str(ROOT / "simulators" / "renode"))
    import meter_wire
    from meter_sim import MeterSim

    with MeterSim(n=1, storage=tmp_path, speed=1, start="now") as sim:
        ser = serial.Serial(sim.meters[0].port, 115200, timeout=0.05)
        ser.read_until(b"\n")
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]

        def relay():
            conn, _ = srv.accept()
            conn.settimeout(0.05)
            while not done.is_set():
                try:
                    d = conn.recv(4096)
                    if d:
                        ser.write(d)
                except socket.timeout:
                    pass
                d = ser.read(4096)
                if d:
                    conn.sendall(d)
            conn.close()

        done = threading.Event()
        t = threading.Thread(target=relay, daemon=True)
        t.start()
        info = meter_wire.send_hello_and_expect_info(port, 10)
        done.set()
        assert info["proto_version"] == 1 and info["fw_version"].endswith("/unix")
        t.join(timeout=15)
        ser.close()
        srv.close()
