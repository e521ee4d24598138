# SPDX-License-Identifier: MIT
"""simulators/meter_sim.py as a program: N meters, --json, pyserial on each port, clean
shutdown on SIGTERM (no micropython left behind)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from fwhelpers import ROOT, cpython_paths

cpython_paths()
from fwclient import Client  # noqa: E402

pytestmark = pytest.mark.sim


def test_cli_two_meters_json_and_shutdown(tmp_path):
    p = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "simulators" / "meter_sim.py"),
            "--meters",
            "2",
            "--seed",
            "5",
            "--storage",
            str(tmp_path),
            "--speed",
            "3600",
            "--start",
            "2026-03-01",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        doc = json.loads(p.stdout.readline())
        ms = doc["meters"]
        assert [m["seed"] for m in ms] == [5, 6] and doc["start"] == 1772323200
        infos = []
        for m in ms:
            assert m["banner"].startswith("veriwatt-meter ") and "ready" in m["banner"]
            c = Client(m["port"])
            infos.append(c.info())
            c.close()
        assert all(i["clock_set"] and not i["provisioned"] for i in infos)
        assert all(abs(i["clock"] - 1772323200) < 3600 * 30 for i in infos)
        pids = [m["pid"] for m in ms]
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=10)
    assert rc == 0, p.stderr.read()
    time.sleep(0.1)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
