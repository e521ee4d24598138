# SPDX-License-Identifier: MIT
"""The meter yields its line to mpremote (issue "Reliability"): on the QEMU board the meter's
line is the REPL's UART and the meter disables the keyboard interrupt, so before the fix
`mpremote connect PORT run x.py` got no raw REPL while the meter ran (only a restart in safe
mode freed the board). Now the meter stops cleanly on mpremote's interrupt sequence (CR,
Ctrl-C outside any frame), the real mpremote runs its script, and the restarted meter still
has its keys and readings; the same bytes inside a frame (a seq of 0x0D03) do not stop it."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from fwhelpers import cpython_paths

cpython_paths()
from fwclient import Client  # noqa: E402
from vwcore import wire  # noqa: E402
from qemumeter import MPREMOTE, install_and_start_meter, qemu_board_port, start_meter  # noqa: E402

pytestmark = [pytest.mark.qemu, pytest.mark.slow, pytest.mark.reliability]
KEY = b"k" * 15


@pytest.mark.parametrize("variant", ["vwcrypto", "meter"])  # meter: frozen, 48 KB heap
def test_mpremote_run_interrupts_the_meter_and_state_survives(tmp_path, variant):
    with qemu_board_port(variant, tmp_path) as port:
        install_and_start_meter(port, tmp_path, variant, speed=180000)
        c = Client(port, timeout=60)
        mid = b"QEMUYLD1"
        c.ok(wire.PROVISION, wire.encode_provision(mid, 1, 1767225600, bytes(32), bytes(range(32)), KEY))
        c.seq = 0x0D02  # the next request's header holds the bytes 0D 03: payload, not an interrupt
        (f,) = c.request(wire.HELLO)
        assert f.mtype == wire.INFO and f.seq == 0x0D03
        deadline = time.time() + 240
        while time.time() < deadline:
            i = c.info()
            if i["last_slot"] != wire.NO_SLOT and i["last_slot"] - i["first_slot"] >= 1:
                break
            time.sleep(0.5)
        c.close()
        script = tmp_path / "x.py"
        script.write_text("import sys\nprint('ran on', sys.platform)\n")
        t0 = time.time()
        r = subprocess.run([MPREMOTE, "connect", port, "run", str(script)], capture_output=True, text=True, timeout=90)
        took = time.time() - t0
        assert r.returncode == 0 and "ran on" in r.stdout, (r.stdout, r.stderr)
        assert took < 30, "mpremote took %.0f s" % took
        # the board is at the REPL: restart the meter, its state is intact
        start_meter(port)
        c = Client(port, timeout=60)
        j = c.info()
        assert j["provisioned"] and j["meter_id"] == mid and j["sig_pub"] == i["sig_pub"]
        assert j["first_slot"] == i["first_slot"] and j["last_slot"] >= i["last_slot"]
        # the board has no battery-backed clock: a restart loses it (readings are kept)
        c.ok(wire.SET_CLOCK, wire.encode_set_clock(wire.slot_start(j["last_slot"] + 1)))
        recs, end = c.fetch(i["first_slot"], 2)
        assert recs is not None, end
        assert [r.slot for r in recs] == [i["first_slot"], i["first_slot"] + 1]
        c.close()
        # veriwatt stop: the same interrupt from the CLI, the REPL answers
        r = subprocess.run(
            [sys.executable, "-m", "veriwatt.cli", "stop", port], capture_output=True, text=True, timeout=60
        )
        assert r.returncode == 0 and "stopped" in r.stdout, r.stdout + r.stderr
        r = subprocess.run(
            [MPREMOTE, "connect", port, "exec", "print(6 * 7)"], capture_output=True, text=True, timeout=60
        )
        assert r.returncode == 0 and "42" in r.stdout, r.stdout + r.stderr
