# SPDX-License-Identifier: MIT
"""The meter firmware on the QEMU board (simulators/qemu, VERIWATT_AN386), two ways:
  - "vwcrypto": install vwcore + vwmeter + hal/qemu with mpremote onto the board's LittleFS;
  - "meter": the same code FROZEN into flash, with a 48 KB heap (the 64 KB-RAM class budget
    of DESIGN.md), only the config file copied.
Start the meter on the REPL UART, provision, let the accelerated clock close slots, FETCH,
verify and open every record (values must equal the seeded household of vwload.py)."""

from __future__ import annotations

import time

import pytest

from fwhelpers import cpython_paths

cpython_paths()
from fwclient import Client  # noqa: E402
from vwcore import reading, wire  # noqa: E402
import vwload  # noqa: E402
from qemumeter import install_and_start_meter, qemu_board_port  # noqa: E402

pytestmark = [pytest.mark.qemu, pytest.mark.slow]


@pytest.fixture(params=["vwcrypto", "meter"])
def qemu_meter(request, tmp_path):
    with qemu_board_port(request.param, tmp_path) as port:
        install_and_start_meter(port, tmp_path, request.param, speed=180000)
        yield port


def test_meter_on_qemu_board(qemu_meter):
    c = Client(qemu_meter, timeout=60)
    i = c.info()
    assert i["fw_version"].endswith("/qemu") and not i["provisioned"]
    mid = b"QEMU0001"
    c.ok(wire.PROVISION, wire.encode_provision(mid, 1, 1767225600, bytes(32), bytes(range(32)), b"k" * 15))
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
    c.ack(recs[-1].slot, b"k" * 15)
    c.close()
