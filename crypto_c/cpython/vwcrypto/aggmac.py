# SPDX-License-Identifier: MIT
"""Batch HMAC-SHA256 tag checks for the host aggregator (issue 14), in C (host only).

HMAC is RFC 2104 over SHA-256 (FIPS 180-4), the SHA-256 being OpenSSL libcrypto's
(crypto_c/cpython/vw_aggmac.c). The meter has no such module: this is the CPython binding's
own, used by veriwatt.bulkagg, which falls back to hashlib when ``AVAILABLE`` is False (the
binding was built without OpenSSL's headers)::

    S = MacStates(keys, prefix)          # per key: the states after its ipad / opad blocks
    S.check(recs, rec_len, body_len, rows) -> bytearray of 0/1 per record
    S.macs(msgs, rows)                   -> list of 32-byte HMAC(key[rows[i]], prefix || msgs[i])

``recs`` is one buffer of fixed-size records (body || tag); ``rows`` a C-contiguous buffer of
int64 (e.g. a numpy int64 array), one per record: the key's index in ``keys``, or -1 for a
record that names no key (not checked, flag 0). The tag comparison is constant-time; the
states are as secret as the keys (kept in C memory, never printed). Errors (ValueError) say
which argument is wrong, never a key or tag.
"""

from __future__ import annotations

import hashlib
from array import array
from typing import List, Sequence

from ._vwcrypto import ffi, lib

__all__ = ["AVAILABLE", "MacStates", "key_block"]

AVAILABLE: bool = hasattr(lib, "vw_aggmac_check")
BLOCK = 64  # SHA-256 block size, HMAC's key block (RFC 2104, B = 64)


def key_block(key: bytes) -> bytes:
    """RFC 2104 section 2: a key longer than the block is hashed first, then zero-padded."""
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    return bytes(key) + bytes(BLOCK - len(key))


def _rows(rows: object, count: int) -> "ffi.CData":
    r = ffi.from_buffer("int64_t[]", rows)
    if len(r) != count:
        raise ValueError("rows: %d entries for %d records" % (len(r), count))
    return r


class MacStates:
    """Precomputed HMAC-SHA256 states of a list of keys, the inner one after ``prefix``."""

    def __init__(self, keys: Sequence[bytes], prefix: bytes = b"") -> None:
        if not AVAILABLE:
            raise RuntimeError("vwcrypto was built without OpenSSL (libssl-dev): no aggmac")
        self.n = len(keys)
        self._size = lib.vw_aggmac_state_bytes()
        self._states = ffi.new("uint8_t[]", max(1, self.n) * self._size)
        blocks = ffi.new("uint8_t[]", b"".join(key_block(k) for k in keys) or b"\0")
        lib.vw_aggmac_prepare(self._states, blocks, self.n, ffi.from_buffer(bytes(prefix) or b"\0"), len(prefix))
        ffi.memmove(blocks, bytes(len(blocks)), len(blocks))  # no key copy left behind

    def __del__(self) -> None:
        st = getattr(self, "_states", None)
        if st is not None:  # key material: wiped before the memory is freed
            ffi.memmove(st, bytes(len(st)), len(st))

    def check(self, recs: bytes, rec_len: int, body_len: int, rows: object) -> bytearray:
        """Per record: 1 if its tag is the truncated HMAC of its body under key rows[i]."""
        if rec_len <= 0 or len(recs) % rec_len:
            raise ValueError("records: %d bytes is not a multiple of %d" % (len(recs), rec_len))
        count = len(recs) // rec_len
        if not 0 <= body_len < rec_len or rec_len - body_len > 32:
            raise ValueError("tag length must be 1..32 bytes")
        ok = bytearray(count)
        err = lib.vw_aggmac_check(
            ffi.from_buffer(ok),
            ffi.from_buffer(recs),
            count,
            rec_len,
            body_len,
            _rows(rows, count),
            self._states,
            self.n,
        )
        if err != lib.VW_AGGMAC_OK:
            raise ValueError("rows: a key index is out of range")
        return ok

    def macs(self, msgs: Sequence[bytes], rows: Sequence[int]) -> List[bytes]:
        """The full 32-byte HMAC of each message (all of one length) under key rows[i]."""
        count = len(msgs)
        msg_len = len(msgs[0]) if msgs else 0
        if any(len(m) != msg_len for m in msgs):
            raise ValueError("messages must all have the same length")
        r = _rows(array("q", rows), count)
        out = ffi.new("uint8_t[]", 32 * max(1, count))
        buf = ffi.from_buffer(b"".join(msgs) or b"\0")
        if lib.vw_aggmac_macs(out, buf, count, msg_len, r, self._states, self.n) != lib.VW_AGGMAC_OK:
            raise ValueError("rows: a key index is out of range")
        raw = ffi.buffer(out)[:]
        return [raw[32 * i : 32 * i + 32] for i in range(count)]
