# SPDX-License-Identifier: MIT
"""The meter's REPL interrupt detection on the real unix MicroPython (fast; the QEMU test
tests/firmware/test_meter_yields_qemu.py runs the real mpremote): CR or Ctrl-C followed by
Ctrl-C outside any frame stops the server, also split across reads; the same bytes inside a
frame, or after a SYNC byte, do not; StdioSerial's read ends right after each 0x03."""

from __future__ import annotations

import subprocess

import pytest

from fwhelpers import HERE, MICROPYTHON, mp_env

pytestmark = [pytest.mark.sim, pytest.mark.reliability]


def mp(mode: str, stdin: bytes = b"") -> str:
    r = subprocess.run(
        [str(MICROPYTHON), str(HERE / "mp_yield.py"), mode], input=stdin, capture_output=True, env=mp_env(), timeout=60
    )
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


def test_server_stops_only_on_the_interrupt_sequence_outside_a_frame():
    got = {line.split()[0]: line.split()[1:] for line in mp("server").splitlines()}
    assert got["mpremote"][0] == "True"
    assert got["split"][0] == "True"
    assert got["ctrlc_twice"][0] == "True"
    assert got["lone_ctrlc"][0] == "False"
    assert got["frame_with_0d03"] == ["False", "1"]  # answered (ERROR unknown type), not stopped
    assert got["frame_then_interrupt"] == ["True", "1"]
    assert got["sync_before"][0] == "False"
    # the rest of a frame dropped as truncated (a pause on a loaded line) is not the sequence
    assert got["rest_of_cut_frame"][0] == "False"
    assert got["noise_then_interrupt"][0] == "False"


def test_stdio_read_ends_after_ctrl_c():
    assert mp("stdio", b"ab\x03cd\x03\x03e").split() == ["616203", "636403", "03", "65"]
