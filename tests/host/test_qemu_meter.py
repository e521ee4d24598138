# SPDX-License-Identifier: MIT
"""The host against the meter firmware on the QEMU board (simulators/qemu/run): `veriwatt deploy`
installs it with mpremote, then info, provision, fetch, verify and readings over its pty."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from qemumeter import install_and_start_meter, qemu_board_port

pytestmark = [pytest.mark.host, pytest.mark.qemu, pytest.mark.slow]


def run(*argv, timeout=240):
    return subprocess.run(
        [sys.executable, "-m", "veriwatt.cli", *argv], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def qemu_port(tmp_path):
    with qemu_board_port("vwcrypto", tmp_path) as port:
        yield port


def test_deploy_provision_fetch_on_qemu(qemu_port, tmp_path):
    r = run("deploy", qemu_port, "--board", "qemu", "--tool", "mpremote")
    assert r.returncode == 0, r.stdout + r.stderr
    install_and_start_meter(qemu_port, tmp_path, "vwcrypto", speed=180000, install=False)  # deployed above
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


def test_deploy_with_ampy_on_qemu(qemu_port, tmp_path):
    """The fallback copy tool (adafruit-ampy, raw REPL) really installs a working meter: every
    file lands (listed back with ampy), and the meter starts and answers HELLO."""
    r = run("deploy", qemu_port, "--board", "qemu", "--tool", "ampy", timeout=600)
    assert r.returncode == 0 and "with ampy" in r.stdout, r.stdout + r.stderr
    from veriwatt import device

    ampy = str(__import__("pathlib").Path(sys.executable).parent / "ampy")
    for folder in ("vwcore", "vwmeter"):
        ls = subprocess.run([ampy, "--port", qemu_port, "ls", folder], capture_output=True, text=True, timeout=120)
        want = {r.rsplit("/", 1)[1] for _, r in device.firmware_files("qemu") if r.startswith(folder + "/")}
        assert {p.rsplit("/", 1)[1] for p in ls.stdout.split()} == want, ls.stdout + ls.stderr
    install_and_start_meter(qemu_port, tmp_path, "vwcrypto", speed=180000, install=False)
    r = run("info", qemu_port, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["fw_version"].endswith("/qemu"), r.stdout + r.stderr
