# SPDX-License-Identifier: MIT
"""A minimal host side for the firmware tests (the real host CLI lives in host/): frames
over a pyserial port, one request at a time."""

from __future__ import annotations

import time

import serial

from vwcore import auth, wire

TERMINAL = (wire.INFO, wire.OK, wire.ERROR, wire.END)


class Client:
    def __init__(self, port, timeout=10.0):
        self.ser = serial.Serial(port, 115200, timeout=0.05)
        self.dec = wire.Decoder()
        self.timeout = timeout
        self.seq = 0
        self.unsolicited = []
        self._queue = []

    def banner(self):
        """Read a banner line, if the port was opened before the meter printed it (else
        use MeterSim's .banner: pyserial flushes pending input when it opens a port)."""
        deadline = time.time() + self.timeout
        line = b""
        while not line.endswith(b"\n") and time.time() < deadline:
            line += self.ser.read(1)
        return line.decode(errors="replace").strip()

    def close(self):
        self.ser.close()

    def frames(self, until, timeout=None):
        """Frames up to and including the first one for which until(f) holds; frames
        decoded beyond it stay queued for the next call."""
        deadline = time.time() + (timeout or self.timeout)
        out = []
        while True:
            while self._queue:
                f = self._queue.pop(0)
                out.append(f)
                if until(f):
                    return out
            if time.time() >= deadline:
                raise TimeoutError("no response; got %r" % out)
            self._queue += self.dec.feed(self.ser.read(self.ser.in_waiting or 1))

    def raw(self, data, timeout=None):
        """Send raw bytes; return the frames received until a terminal frame."""
        self.ser.write(data)
        return self.frames(lambda f: f.mtype in TERMINAL, timeout)

    def request(self, mtype, payload=b"", timeout=None):
        self.seq = (self.seq + 1) & 0xFFFF or 1
        seq = self.seq
        self.ser.write(wire.encode_frame(mtype, seq, payload))
        out = self.frames(lambda f: f.seq == seq and f.mtype in TERMINAL, timeout)
        self.unsolicited += [f for f in out if f.seq != seq]
        return [f for f in out if f.seq == seq]

    def info(self):
        (f,) = self.request(wire.HELLO)
        assert f.mtype == wire.INFO, f
        return wire.decode_info(f.payload)

    def ok(self, mtype, payload):
        fs = self.request(mtype, payload)
        assert fs[-1].mtype == wire.OK, describe(fs[-1])
        return fs

    def ack(self, up_to, customer_key):
        """ACK with the customer's tag for the meter's current challenge (auth.ack_tag)."""
        i = self.info()
        return self.ok(
            wire.ACK, wire.encode_ack(up_to, auth.ack_tag(customer_key, i["meter_id"], i["challenge"], up_to))
        )

    def fetch(self, from_slot, max_count=0):
        fs = self.request(wire.FETCH, wire.encode_fetch(from_slot, max_count))
        if fs[-1].mtype == wire.ERROR:
            return None, wire.decode_error(fs[-1].payload)
        recs = [wire.decode_record(f.payload) for f in fs if f.mtype == wire.READING]
        return recs, wire.decode_end(fs[-1].payload)


def describe(f):
    if f.mtype == wire.ERROR:
        return "ERROR %r" % wire.decode_error(f.payload)
    return repr(f)
