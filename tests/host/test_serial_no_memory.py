# SPDX-License-Identifier: MIT
"""MeterLink and the meter's ERROR 16 (out of memory, docs/PROTOCOL.md): the request is resent at
once (not after the timeout) when the meter answers it with ERROR 16 or says, with sequence
number 0, that it dropped the input it had buffered; after the last try the meter's reason is
reported. The meter here is a script behind a pty (a real meter's heap cannot be made to run
out on cue); the frozen QEMU meter's side is tests/aggregation/test_agg_qemu_memory.py."""

from __future__ import annotations

import os
import select
import threading
import time

import pytest

from veriwatt import serial_client
from veriwatt.ptyrelay import make_pty
from veriwatt.serial_client import DeviceError
from vwcore import wire

pytestmark = [pytest.mark.reliability]

INFO = {
    "meter_id": b"NOMEM001",
    "group_id": 1,
    "provisioned": False,
    "clock_set": False,
    "storage_full": False,
    "clock_unverified": False,
    "clock": 0,
    "challenge": bytes(8),
    "fw_version": "test",
    "sig_pub": None,
    "agg_pub": None,
}


class ScriptedMeter:
    """Answers the i-th request with script[i](frame) (a list of frames to send)."""

    def __init__(self, script):
        self.script = list(script)
        self.master, self.path, self._slave = make_pty()
        self.seen = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        dec = wire.Decoder()
        while not self._stop.is_set():
            if not select.select([self.master], [], [], 0.05)[0]:
                continue
            for f in dec.feed(os.read(self.master, 4096)):
                self.seen.append((time.monotonic(), f))
                answer = self.script.pop(0)(f) if self.script else []
                for a in answer:
                    os.write(self.master, a)

    def close(self):
        self._stop.set()
        self._t.join(timeout=2)
        os.close(self.master)
        os.close(self._slave)


def _no_memory(seq):
    return lambda f: [
        wire.encode_frame(
            wire.ERROR, f.seq if seq else 0, wire.encode_error(wire.E_NO_MEMORY, "out of memory: send again", f.mtype)
        )
    ]


def _truncated(f):
    reason = "truncated (%d bytes dropped)" % (len(f.payload) + 13)
    return [wire.encode_frame(wire.ERROR, 0, wire.encode_error(wire.E_BAD_FRAME, reason))]


def _info(f):
    return [wire.encode_frame(wire.INFO, f.seq, wire.encode_info(INFO))]


@pytest.mark.parametrize("first", ["answered", "input-dropped", "truncated"])
def test_resent_at_once_after_error_16(first):
    """ERROR 16 for the request, ERROR 16 with seq 0, or ERROR 1 "truncated" with seq 0 (the meter
    dropped a frame cut by a pause on a loaded line): resent at once."""
    answer = {"answered": _no_memory(True), "input-dropped": _no_memory(False), "truncated": _truncated}
    m = ScriptedMeter([answer[first], _info])
    try:
        t0 = time.monotonic()
        with serial_client.MeterLink(m.path, timeout=10, retries=2) as link:
            assert link.hello()["meter_id"] == INFO["meter_id"]
            assert link.stats.retries == 1
        assert time.monotonic() - t0 < 5  # not after the 10 s timeout
        assert len(m.seen) == 2 and m.seen[0][1].payload == m.seen[1][1].payload
    finally:
        m.close()


def test_error_16_on_every_try_reports_the_meters_reason():
    m = ScriptedMeter([_no_memory(True)] * 3)
    try:
        with serial_client.MeterLink(m.path, timeout=10, retries=2) as link:
            with pytest.raises(DeviceError) as e:
                link.hello()
        assert e.value.meter_code == wire.E_NO_MEMORY and "out of memory" in str(e.value)
        assert len(m.seen) == 3
    finally:
        m.close()


def test_other_seq_0_errors_do_not_resend():
    """A report of bytes dropped as garbage (ERROR 1, seq 0) is not about the request: no resend."""

    def garbage_then_info(f):
        return [
            wire.encode_frame(wire.ERROR, 0, wire.encode_error(wire.E_BAD_FRAME, "garbage (3 bytes dropped)"))
        ] + _info(f)

    m = ScriptedMeter([garbage_then_info])
    try:
        with serial_client.MeterLink(m.path, timeout=10, retries=2) as link:
            assert link.hello()["meter_id"] == INFO["meter_id"]
            assert link.stats.retries == 0
        assert len(m.seen) == 1
    finally:
        m.close()
