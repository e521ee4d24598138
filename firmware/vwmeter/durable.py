# SPDX-License-Identifier: MIT
# Write points with fault injection, CRC32, and small durable A/B state files.
#
# Every mutation of storage made by the meter goes through the wp_* functions below, so a
# power-cut test can stop the program at exactly the n-th write point:
#   VW_CRASH_AT=<n> in the environment (read once at import, where os.getenv exists), or
#   durable.CRASH_AT = n set by a test.
# At the crash point the operation is not done, except a write, which is TORN: the first
# half of its bytes reach the file (flushed), then the program raises SystemExit(86)
# (MicroPython has no os._exit; its files are unbuffered, so nothing else gets written).
import os
import struct

try:
    from binascii import crc32 as _crc32
except ImportError:  # ports built without MICROPY_PY_BINASCII_CRC32
    _crc32 = None

CRASH_EXIT = 86
CRASH_AT = None
WP_COUNT = 0
TRACE = None  # optional callable(kind, n, path) for tests


def _init():
    global CRASH_AT
    getenv = getattr(os, "getenv", None)
    if getenv is not None:
        v = getenv("VW_CRASH_AT")
        if v:
            CRASH_AT = int(v)


_init()


def _point(kind, path):
    global WP_COUNT
    WP_COUNT += 1
    if TRACE is not None:
        TRACE(kind, WP_COUNT, path)
    return CRASH_AT is not None and WP_COUNT == CRASH_AT


def _die():
    raise SystemExit(CRASH_EXIT)


def wp_open(path, mode):
    if _point("open", path):
        _die()
    return open(path, mode)


def wp_write(f, data, path=""):
    if _point("write", path):
        half = len(data) // 2
        if half:
            f.write(data[:half])
            f.flush()
        _die()
    n = f.write(data)
    if n is not None and n != len(data):
        raise OSError(28)  # ENOSPC-like: short write
    return n


def wp_flush(f, path=""):
    if _point("flush", path):
        _die()
    f.flush()
    if hasattr(os, "fsync") and hasattr(f, "fileno"):
        try:
            os.fsync(f.fileno())
        except Exception:
            pass


def wp_rename(a, b):
    if _point("rename", b):
        _die()
    os.rename(a, b)


def wp_remove(path):
    if _point("remove", path):
        _die()
    os.remove(path)


_TABLE = None


def crc32(data, crc=0):
    if _crc32 is not None:
        return _crc32(data, crc) & 0xFFFFFFFF
    global _TABLE
    if _TABLE is None:
        t = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
            t.append(c)
        _TABLE = t
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


# --- small durable state: two copies A/B, each with a sequence number and a CRC ---------
# save() overwrites the OLDER copy, so a power cut at any point leaves the newer one intact;
# load() returns the payload of the valid copy with the highest sequence number.  No rename
# is needed, so this also works on FAT (stm32 internal flash), where rename cannot replace.
_SMAGIC = b"VWST"
_SHDR = "<4sII"  # magic, seq, payload length; then payload; then crc32 of all before


def _read_copy(path):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return None
    if len(raw) < 16:
        return None
    magic, seq, n = struct.unpack(_SHDR, raw[:12])
    if magic != _SMAGIC or len(raw) != 12 + n + 4:
        return None
    if struct.unpack("<I", raw[12 + n :])[0] != crc32(raw[: 12 + n]):
        return None
    return seq, raw[12 : 12 + n]


class SmallState:
    def __init__(self, base):
        self.base = base
        self._seq = 0
        self._older = base + ".a"

    def load(self):
        a = _read_copy(self.base + ".a")
        b = _read_copy(self.base + ".b")
        best = None
        if a is not None and (b is None or a[0] > b[0]):
            best, self._older = a, self.base + ".b"
        elif b is not None:
            best, self._older = b, self.base + ".a"
        else:
            self._older = self.base + ".a"
        if best is None:
            self._seq = 0
            return None
        self._seq = best[0]
        return best[1]

    def save(self, payload):
        self._seq += 1
        body = struct.pack(_SHDR, _SMAGIC, self._seq, len(payload)) + payload
        body += struct.pack("<I", crc32(body))
        path = self._older
        f = wp_open(path, "wb")
        try:
            wp_write(f, body, path)
            wp_flush(f, path)
        finally:
            f.close()
        self._older = self.base + (".a" if path.endswith(".b") else ".b")

    def clear(self):
        for s in (".a", ".b"):
            p = self.base + s
            if exists(p):
                wp_remove(p)
        self._seq = 0
        self._older = self.base + ".a"
