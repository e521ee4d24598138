# SPDX-License-Identifier: MIT
"""A meter written in CPython on vwcore (wire + reading), behind a pty: for host tests only.

It answers the same protocol as the firmware (HELLO, PROVISION, SET_CLOCK, FETCH, ACK) and
can misbehave on purpose: corrupt bytes, stop answering after some frames, sign for another
meter id, send a record twice.
"""

from __future__ import annotations

import os
import random
import select
import threading
import time
from typing import Dict, Optional

from vwcore import auth, reading, wire

from veriwatt.ptyrelay import make_pty


class FakeMeter:
    def __init__(
        self,
        meter_id: bytes = b"FAKE0001",
        records: Optional[Dict[int, bytes]] = None,
        y: Optional[int] = None,
        noise: float = 0.0,
        seed: int = 1,
        batch: int = 32,
        stop_after_frames: Optional[int] = None,
        delay: float = 0.0,
        customer_key: Optional[bytes] = None,
    ) -> None:
        self.meter_id = meter_id
        self.customer_key = customer_key  # checks ACK tags like the firmware (none: every ACK refused)
        self.records: Dict[int, bytes] = dict(records or {})
        self.y = y
        self.noise = noise
        self.rnd = random.Random(seed)
        self.batch = batch
        self.stop_after_frames = stop_after_frames
        self.delay = delay
        self.frames_sent = 0
        self.acked = None
        self.keys: Optional[reading.MeterKeys] = None
        self.master, self.path, self._slave = make_pty()
        self.dec = wire.Decoder()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "FakeMeter":
        self._t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._t.join(timeout=2)
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> "FakeMeter":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _out(self, mtype: int, seq: int, payload: bytes) -> None:
        if self.stop_after_frames is not None and self.frames_sent >= self.stop_after_frames:
            return
        data = bytearray(wire.encode_frame(mtype, seq, payload))
        if self.noise:
            for i in range(len(data)):
                if self.rnd.random() < self.noise:
                    data[i] ^= 1 + self.rnd.randrange(255)
        self.frames_sent += 1
        os.write(self.master, bytes(data))
        if self.delay:
            time.sleep(self.delay)

    def info(self) -> dict:
        ss = sorted(self.records)
        return {
            "meter_id": self.meter_id,
            "group_id": 1,
            "provisioned": True,
            "clock_set": True,
            "clock": int(time.time()),
            "first_slot": ss[0] if ss else wire.NO_SLOT,
            "last_slot": ss[-1] if ss else wire.NO_SLOT,
            "used": len(ss),
            "capacity": 4096,
            "unacked": len(ss),
            "challenge": b"\x00" * 8,
            "fw_version": "fakemeter",
            "sig_pub": self.y,
            "agg_pub": None,
        }

    def _handle(self, f: wire.Frame) -> None:
        if f.mtype == wire.HELLO:
            self._out(wire.INFO, f.seq, wire.encode_info(self.info()))
        elif f.mtype == wire.FETCH:
            d = wire.decode_fetch(f.payload)
            n = d["max_count"] or self.batch
            n = min(n, self.batch)
            ss = [s for s in sorted(self.records) if s >= d["from_slot"]]
            sent = ss[:n]
            for s in sent:
                self._out(wire.READING, f.seq, self.records[s])
            nxt = sent[-1] + 1 if sent else d["from_slot"]
            self._out(wire.END, f.seq, wire.encode_end(nxt, len(sent), len(ss) > len(sent)))
        elif f.mtype == wire.ACK:
            d = wire.decode_ack(f.payload)
            if self.customer_key is None or d["tag"] != auth.ack_tag(
                self.customer_key, self.meter_id, b"\x00" * 8, d["up_to_slot"]
            ):
                self._out(wire.ERROR, f.seq, wire.encode_error(wire.E_AUTH, "ACK not authorised", wire.ACK))
                return
            self.acked = d["up_to_slot"]
            self._out(wire.OK, f.seq, wire.encode_ok(wire.ACK))
        elif f.mtype == wire.SET_CLOCK:
            self._out(wire.OK, f.seq, wire.encode_ok(wire.SET_CLOCK))
        else:
            self._out(wire.ERROR, f.seq, wire.encode_error(wire.E_UNKNOWN_TYPE, "unsupported", f.mtype))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                r, _, _ = select.select([self.master], [], [], 0.05)
            except (OSError, ValueError):
                return
            if not r:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            if self.noise:
                data = bytes(b ^ (1 + self.rnd.randrange(255)) if self.rnd.random() < self.noise else b for b in data)
            for f in self.dec.feed(data):
                self._handle(f)
