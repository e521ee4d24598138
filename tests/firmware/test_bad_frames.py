# SPDX-License-Identifier: MIT
"""Garbage, truncated and corrupted input over a real pty: every rejected stretch gets an
ERROR frame, nothing reaches a handler, no state changes, and the next good frame works."""

from __future__ import annotations

import hashlib
import os
import random
import sys

import pytest

from fwhelpers import ROOT, cpython_paths

cpython_paths()
sys.path.insert(0, str(ROOT / "simulators"))
from fwclient import Client  # noqa: E402
from meter_sim import MeterSim  # noqa: E402
from vwcore import wire  # noqa: E402

pytestmark = pytest.mark.sim
MID = b"VWBADFR1"
PROV = wire.encode_provision(MID, 1, 0, bytes(32), bytes(range(32)), b"customer-key-15")


def snapshot(dirpath):
    """Every file of the meter's storage (except the stderr log) -> sha256."""
    out = {}
    for base, _dirs, files in os.walk(dirpath):
        for fn in files:
            if fn == "stderr.log":
                continue
            p = os.path.join(base, fn)
            out[os.path.relpath(p, dirpath)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out


def state(c, storage):
    i = c.info()
    i.pop("clock")
    return i, snapshot(storage)


def errors(frames):
    return [wire.decode_error(f.payload) for f in frames if f.mtype == wire.ERROR]


@pytest.fixture(scope="module")
def meter(tmp_path_factory):
    d = tmp_path_factory.mktemp("badframes")
    with MeterSim(n=1, storage=d, speed=1, start="none") as s:
        c = Client(s.meters[0].port, timeout=5)
        c.ok(wire.PROVISION, PROV)  # provisioned, clock unset: state is static
        yield c, s.meters[0].storage
        c.close()


def check_rejected(c, storage, data, code=wire.E_BAD_FRAME, timeout=None):
    before = state(c, storage)
    fs = c.raw(data, timeout)
    errs = errors(fs)
    assert errs and errs[0]["code"] == code, (fs, errs)
    assert all(f.mtype == wire.ERROR for f in fs), fs
    assert state(c, storage) == before
    return errs[0]


def test_garbage(meter):
    c, st = meter
    e = check_rejected(c, st, b"hello meter\r\n\x00\xff" * 4)
    assert "garbage" in e["reason"]


def test_truncated(meter):
    c, st = meter
    frame = wire.encode_frame(wire.SET_CLOCK, 9, wire.encode_set_clock(1767225600))
    e = check_rejected(c, st, frame[:-3])  # waits out INTERBYTE_MS
    assert "truncated" in e["reason"]
    assert not c.info()["clock_set"]  # the clock was NOT set


def test_corrupted_payload_and_header(meter):
    c, st = meter
    frame = bytearray(wire.encode_frame(wire.SET_CLOCK, 10, wire.encode_set_clock(1767225600)))
    frame[11] ^= 0x01  # payload bit flip
    e = check_rejected(c, st, bytes(frame))
    assert "crc" in e["reason"] or "garbage" in e["reason"]
    frame = bytearray(wire.encode_frame(wire.ACK, 11, wire.encode_ack(5)))
    frame[6] ^= 0x80  # length field: header check
    check_rejected(c, st, bytes(frame))
    assert not c.info()["clock_set"]


def test_bad_version_unknown_type_bad_payload(meter):
    c, st = meter
    check_rejected(c, st, wire.encode_frame(wire.HELLO, 12, b"", version=2), wire.E_BAD_VERSION)
    before = state(c, st)
    (f,) = c.request(0x42)
    assert errors([f])[0]["code"] == wire.E_UNKNOWN_TYPE
    (f,) = c.request(wire.INFO, b"")  # a response type sent to the meter
    assert errors([f])[0]["code"] == wire.E_UNKNOWN_TYPE
    (f,) = c.request(wire.SET_CLOCK, b"\x01\x02\x03")
    e = errors([f])[0]
    assert e["code"] == wire.E_BAD_PAYLOAD and e["req_type"] == wire.SET_CLOCK
    (f,) = c.request(wire.PROVISION, PROV[:-1])
    assert errors([f])[0]["code"] in (wire.E_BAD_PAYLOAD, wire.E_ALREADY_PROVISIONED)
    assert state(c, st) == before


def test_garbage_then_good_frame_resyncs(meter):
    c, st = meter
    c.seq += 1
    good = wire.encode_frame(wire.HELLO, c.seq)
    fs = c.raw(b"\xa5\x57\x01junk\xa5" + good)
    fs += c.frames(lambda f: f.mtype == wire.INFO) if fs[-1].mtype != wire.INFO else []
    assert fs[-1].mtype == wire.INFO and fs[-1].seq == c.seq
    assert errors(fs)


def test_random_noise_changes_nothing(meter):
    c, st = meter
    before = state(c, st)
    rnd = random.Random(1234)
    for _ in range(20):
        blob = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 300)))
        if rnd.random() < 0.5:  # include near-miss frames: sync + valid header, bad tail
            f = bytearray(wire.encode_frame(rnd.choice([1, 2, 3, 4, 5, 6]), 1, blob[:40]))
            f[-1] ^= 0xFF
            blob = bytes(f) + blob[40:]
        c.ser.write(blob)
    c.ser.write(b"\x00" * 1100)  # flush any partial frame the noise opened
    # the meter still answers, and nothing changed
    import time

    time.sleep(0.7)
    c.ser.reset_input_buffer()
    c.dec = wire.Decoder()
    c._queue = []
    assert state(c, st) == before
