# SPDX-License-Identifier: MIT
"""Fiat-Shamir transcript: domain-separated, length-prefixed SHA-256.

Every absorbed item is (label, data) encoded as len(label) (4 bytes BE) || label ||
len(data) (4 bytes BE) || data, after the domain separation tag b"veriwatt/zk/v1" and a
protocol label; the encoding is injective, so two different sequences of inputs never hash
the same. Challenges are "wide": SHA-256 of (state || "challenge" || label || counter) for
enough counters to give |q| + 128 bits, reduced mod q (statistical distance from uniform
< 2^-128; cf. FIPS 186-4 B.2.1, the same reduction as vwcore.group.hash_to_scalar).

This is the "strong" Fiat-Shamir transform (Bernhard, Pereira, Warinschi, ASIACRYPT 2012):
the hash covers the whole statement -- group parameters, tariff digest, context (meter id,
period), every commitment, claimed amounts and every auxiliary commitment the prover
sends -- and not only the prover's first messages.
"""

from __future__ import annotations

import hashlib

DST = b"veriwatt/zk/v1"


def _lp(b: bytes) -> bytes:
    return len(b).to_bytes(4, "big") + b


class Transcript:
    def __init__(self, protocol: bytes) -> None:
        self._h = hashlib.sha256()
        self._h.update(_lp(DST))
        self._h.update(_lp(protocol))

    def absorb(self, label: bytes, data: bytes) -> None:
        self._h.update(_lp(label))
        self._h.update(_lp(bytes(data)))

    def absorb_int(self, label: bytes, x: int, width: int) -> None:
        """A non-negative integer at a fixed width (ValueError if it does not fit)."""
        self.absorb(label, x.to_bytes(width, "big"))

    def absorb_signed(self, label: bytes, x: int) -> None:
        """An integer of any size and sign: sign byte || magnitude."""
        mag = abs(x)
        self.absorb(label, (b"-" if x < 0 else b"+") + mag.to_bytes((mag.bit_length() + 7) // 8, "big"))

    def absorb_elements(self, label: bytes, xs, plen: int) -> None:
        """A list of group elements: count, then each at plen bytes."""
        self.absorb(label + b"/n", len(xs).to_bytes(4, "big"))
        h = self._h
        for x in xs:
            h.update(x.to_bytes(plen, "big"))

    def copy(self) -> "Transcript":
        t = Transcript.__new__(Transcript)
        t._h = self._h.copy()
        return t

    def challenge(self, label: bytes, q: int) -> int:
        n = (q.bit_length() + 128 + 255) // 256
        base = self._h.copy()
        base.update(_lp(b"challenge"))
        base.update(_lp(label))
        out = b""
        for i in range(n):
            h = base.copy()
            h.update(i.to_bytes(4, "big"))
            out += h.digest()
        c = int.from_bytes(out, "big") % q
        self.absorb(b"challenge/" + label, c.to_bytes((q.bit_length() + 7) // 8, "big"))
        return c
