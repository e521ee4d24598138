# SPDX-License-Identifier: MIT
"""SIMULATOR TEST, not a board test: the esp32 and stm32 HAL profiles imported and driven
on the unix micropython against a FAKE `machine` module (tests/firmware/fake_machine).
It checks the calendar/RTC arithmetic, S0 pulse counting with debounce and remainder
carry, UART framing and that the meter app runs on those profiles.  No silicon here."""

from __future__ import annotations

import os
import subprocess

import pytest

from fwhelpers import FIRMWARE, HAL_COMMON, HERE, MICROPYTHON, ROOT

pytestmark = pytest.mark.sim


@pytest.mark.parametrize("profile", ["esp32", "stm32"])
def test_board_profile_against_fake_machine(profile, tmp_path):
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join(
        str(p) for p in (HERE / "fake_machine", ROOT / "hal" / profile, HAL_COMMON, FIRMWARE, HERE)
    )
    r = subprocess.run(
        [str(MICROPYTHON), str(HERE / "mp_hal_boards.py"), profile, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = r.stdout
    assert "done" in out, out + r.stderr
    assert "FAIL" not in out, out


def test_qemu_profile_imports_on_unix(tmp_path):
    # the qemu profile needs only time.ticks_*, os, sys.stdin/stdout (+ select if present)
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join(str(p) for p in (ROOT / "hal" / "qemu", HAL_COMMON, FIRMWARE))
    code = (
        "import vwhal\n"
        "c = vwhal.Clock(speed=1800, start=1767225600)\n"
        "assert c.is_set() and c.now_slot() == 1767225600 // 1800\n"
        "assert vwhal.ReadingSource(seed=1).read_slot(982000) >= 0\n"
        "print('ok')\n"
    )
    r = subprocess.run(
        [str(MICROPYTHON), "-c", code], env=env, capture_output=True, text=True, timeout=30, cwd=str(tmp_path)
    )
    assert r.stdout.strip() == "ok", r.stderr
