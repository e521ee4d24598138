# SPDX-License-Identifier: MIT
"""Robot Framework keyword library for simulators/renode/meter.robot: speaks the veriwatt
wire protocol (firmware/vwcore/wire.py, the single definition) to the meter's USART2,
which the .resc exposes as a raw TCP socket terminal."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "firmware"))
from vwcore import wire  # noqa: E402

ROBOT_LIBRARY_SCOPE = "SUITE"


def _connect(port, timeout):
    deadline = time.time() + timeout
    while True:
        try:
            return socket.create_connection(("127.0.0.1", int(port)), timeout=1)
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def send_hello_and_expect_info(port=3456, timeout=60, seq=0x1234):
    """Send HELLO on the meter line; return the decoded INFO (fails on timeout/ERROR)."""
    s = _connect(port, float(timeout))
    try:
        s.sendall(wire.encode_frame(wire.HELLO, int(seq)))
        dec = wire.Decoder()
        deadline = time.time() + float(timeout)
        while time.time() < deadline:
            try:
                data = s.recv(4096)
            except socket.timeout:
                continue
            for f in dec.feed(data):
                if f.seq != int(seq):
                    continue
                if f.mtype == wire.INFO:
                    info = wire.decode_info(f.payload)
                    if info["proto_version"] != wire.PROTO_VERSION:
                        raise AssertionError("INFO with protocol %r" % info["proto_version"])
                    return info
                raise AssertionError("expected INFO, got %r" % f)
        raise AssertionError("no INFO frame within %s s" % timeout)
    finally:
        s.close()
