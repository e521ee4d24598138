# SPDX-License-Identifier: MIT
# Run by test_meter_yield.py on the unix MicroPython (MICROPYPATH from fwhelpers.mp_path):
#   mp_yield.py server  -> the server's interrupt detection, one line per case "name stopped n_out"
#   mp_yield.py stdio   -> StdioSerial.read on stdin (a pipe): the reads, as hex, one per line
import sys

from vwcore import wire
from vwmeter.server import Server


class FakeMeter:
    store = None

    def backlog(self):
        return 0

    def tick(self, ticks_ms=None):
        return False


class ScriptedLine:
    repl_line = True

    def __init__(self, chunks):
        self.chunks = list(chunks)
        self.out = []

    def read(self, n, timeout_ms):
        return self.chunks.pop(0) if self.chunks else b""

    def write(self, b):
        self.out.append(bytes(b))


def split_after_03(data):
    # what StdioSerial returns: a read ends right after every 0x03
    out, cur = [], b""
    for i in range(len(data)):
        cur += data[i : i + 1]
        if data[i] == 3:
            out.append(cur)
            cur = b""
    if cur:
        out.append(cur)
    return out


class Ticks:
    # a millisecond clock that moves 300 ms per call: an empty read ends a partial frame
    # (server.INTERBYTE_MS) after two of them
    t = 0

    def __call__(self):
        self.t += 300
        return self.t


def case(name, chunks, ticks=None):
    line = ScriptedLine(chunks)
    srv = Server(FakeMeter(), line, ticks)
    for _ in range(len(chunks) + 1):
        if srv.stopped:
            break
        srv.poll()
    frames = wire.Decoder().feed(b"".join(line.out))
    print(name, srv.stopped is not None, len(frames))


if sys.argv[-1] == "server":
    unknown = wire.encode_frame(0x7F, 0x0D03, b"\r\x03\x03")  # header and payload hold 0D 03 and 03 03
    case("mpremote", [b"\r\x03"])
    case("split", [b"\r", b"\x03"])
    case("ctrlc_twice", [b"\x03", b"\x03"])
    case("lone_ctrlc", [b"x\x03"])
    case("frame_with_0d03", split_after_03(unknown))
    case("frame_then_interrupt", split_after_03(unknown) + [b"\r\x03"])
    case("sync_before", [b"\xa5\r\x03"])
    # a frame cut by a pause on the line (dropped as truncated), then the rest of it, which
    # holds 0D 03: payload, not an interrupt (the decoder is idle by then)
    cut = wire.encode_frame(0x7F, 1, b"\x11" * 40 + b"\r\x03" + b"\x22" * 20)
    case("rest_of_cut_frame", [cut[:20], b"", b"", b""] + split_after_03(cut[20:]), Ticks())
    case("noise_then_interrupt", [b"\x11\r\x03"])
else:
    from vwstdio import StdioSerial

    s = StdioSerial()
    while True:
        try:
            d = s.read(512, 200)
        except EOFError:
            break
        if not d:
            break
        print("".join("%02x" % x for x in d))
