# SPDX-License-Identifier: MIT
"""The engineer's documented install paths on the QEMU board (issue "Reliability"):
- `veriwatt deploy PORT` identifies the board (sys.platform through mpremote) and deploys its
  HAL; a --board that names another profile is refused before anything is copied (before:
  the esp32 HAL went onto the QEMU board silently and the meter crashed on machine.RTC);
- `mpremote mip install <repo>/hal/qemu/package.json` works from any directory (before:
  "Error opening firmware/package.json" outside the repository root);
- `simulators/qemu/run --speed N` speeds the meter's clock up as `veriwatt sim --speed` does
  (before: only by editing vwhal.json)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from qemumeter import MPREMOTE, install_and_start_meter, qemu_board_port
from vwtest import ROOT

pytestmark = [pytest.mark.host, pytest.mark.qemu, pytest.mark.slow, pytest.mark.reliability]


def run(*argv, timeout=300, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "veriwatt.cli", *argv], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


def board_ls(port: str) -> str:
    r = subprocess.run([MPREMOTE, "connect", port, "fs", "ls", ":"], capture_output=True, text=True, timeout=60)
    return r.stdout


def test_deploy_detects_the_board_and_refuses_a_wrong_hal(tmp_path):
    with qemu_board_port("vwcrypto", tmp_path) as port:
        r = run("deploy", port, "--board", "esp32")
        assert r.returncode == 2, r.stdout + r.stderr
        err = r.stderr.strip().splitlines()
        assert len(err) == 1 and "qemu board" in err[0] and "--board qemu" in err[0], r.stderr
        assert "main.py" not in board_ls(port)  # nothing was copied
        r = run("deploy", port)
        assert r.returncode == 0 and "HAL qemu" in r.stdout, r.stdout + r.stderr
        install_and_start_meter(port, tmp_path, "vwcrypto", speed=1800, install=False)
        r = run("info", port, "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["fw_version"].endswith("/qemu"), r.stdout + r.stderr


def test_mip_install_from_another_directory(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with qemu_board_port("vwcrypto", tmp_path) as port:
        pkg = str(ROOT / "hal" / "qemu" / "package.json")
        r = subprocess.run(
            [MPREMOTE, "connect", port, "mip", "install", pkg],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=elsewhere,
        )
        assert r.returncode == 0 and "Error" not in r.stdout, r.stdout + r.stderr
        install_and_start_meter(port, tmp_path, "vwcrypto", speed=1800, install=False)
        r = run("info", port, "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["fw_version"].endswith("/qemu"), r.stdout + r.stderr


def test_qemu_run_speed_option(tmp_path):
    """vwhal.json says 1 simulated second per second (no slot would close during the test);
    run --speed 360000 (200 slots a second) wins, as documented."""
    with qemu_board_port("vwcrypto", tmp_path, speed=360000) as port:
        install_and_start_meter(port, tmp_path, "vwcrypto", speed=1)
        r = run("provision", port, "--clock", "2026-01-01", "--out", str(tmp_path / "keys"))
        assert r.returncode == 0, r.stdout + r.stderr
        t0 = time.time()
        while True:
            i = json.loads(run("info", port, "--json").stdout)
            if i["used"] >= 5 or time.time() - t0 > 60:
                break
            time.sleep(0.5)
        assert i["used"] >= 5, i
        assert i["clock"] - 1767225600 > 6 * 1800
