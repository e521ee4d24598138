# SPDX-License-Identifier: MIT
"""Compact binary proof encoding (documented in docs/ZK.md).

    proof = MAGIC "VWZK" || version (1 byte) || kind (1 byte) || body

The body is a sequence of fixed-width fields with no tags: group elements at plen bytes
(256 for the 2048-bit group), scalars mod q at qlen bytes (32), both big-endian. Its layout
is fully determined by the public statement (tariff, number of slots), never by the secret
readings, so the verifier knows what to read next, rejects anything short, anything left
over, every element outside the order-q subgroup and every scalar >= q.
"""

from __future__ import annotations

from .groups import GroupView

MAGIC = b"VWZK"
VERSION = 1


class ProofError(ValueError):
    """The proof (or the statement it is checked against) is rejected; str() says why."""


class Writer:
    def __init__(self, G: GroupView, kind: int) -> None:
        self.G = G
        self.parts = [MAGIC, bytes([VERSION, kind])]

    def element(self, x: int) -> None:
        self.parts.append(x.to_bytes(self.G.plen, "big"))

    def scalar(self, x: int) -> None:
        self.parts.append(x.to_bytes(self.G.qlen, "big"))

    @classmethod
    def raw(cls, G: GroupView) -> "Writer":
        """A writer without the header (one slot's part of a proof)."""
        w = cls.__new__(cls)
        w.G, w.parts = G, []
        return w

    def raw_bytes(self, b: bytes) -> None:
        self.parts.append(b)

    def mark(self) -> int:
        return len(self.parts)

    def since(self, mark: int) -> bytes:
        return b"".join(self.parts[mark:])

    def getvalue(self) -> bytes:
        return b"".join(self.parts)


class Reader:
    def __init__(self, G: GroupView, kind: int, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ProofError("proof must be bytes")
        data = bytes(data)
        if len(data) < 6 or data[:4] != MAGIC:
            raise ProofError("not a veriwatt proof (bad magic)")
        if data[4] != VERSION:
            raise ProofError("unsupported proof version %d" % data[4])
        if data[5] != kind:
            raise ProofError("proof is for kind %d, expected %d" % (data[5], kind))
        self.G = G
        self.data = data
        self.pos = 6

    @classmethod
    def raw(cls, G: GroupView, data: bytes) -> "Reader":
        """A reader over a headerless slice (one slot's part of a proof)."""
        r = cls.__new__(cls)
        r.G, r.data, r.pos = G, data, 0
        return r

    def take(self, n: int) -> bytes:
        """n raw bytes (the caller parses them later)."""
        return self._take(n)

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ProofError("proof truncated")
        b = self.data[self.pos : self.pos + n]
        self.pos += n
        return b

    def element(self) -> int:
        x = int.from_bytes(self._take(self.G.plen), "big")
        if not self.G.is_element_nocache(x):
            raise ProofError("group element not in the order-q subgroup")
        return x

    def scalar(self) -> int:
        x = int.from_bytes(self._take(self.G.qlen), "big")
        if x >= self.G.q:
            raise ProofError("scalar out of range [0, q)")
        return x

    def mark(self) -> int:
        return self.pos

    def since(self, mark: int) -> bytes:
        return self.data[mark : self.pos]

    def done(self) -> None:
        if self.pos != len(self.data):
            raise ProofError("%d unexpected bytes after the proof" % (len(self.data) - self.pos))
