# SPDX-License-Identifier: MIT
"""The group the proofs live in: any object with p, q, g, h (vwcore.group.Group or a test group).

    view(grp) -> GroupView       p, q, g, h, plen, qlen, digest (SHA-256 of the parameters),
                                 is_element(x) (cached), ginv, hinv
    default_group()              vwcore's 2048/256 group (FIPS 186-4 A.1.1.2 / A.2.3 parameters)
    toy_group(pbits, qbits, seed) a small Schnorr group for fast tests (NOT secure)

Membership test (every element a verifier receives): an int with 1 < x < p and x^q = 1 mod p,
i.e. x in the order-q subgroup and not the identity. The result is cached per group for
elements that recur (the meter's commitments C_t are checked once per process, not once
per proof); the cache holds public values only.
"""

from __future__ import annotations

import hashlib
import random
from typing import Dict

from .. import backend

_VIEWS: Dict[bytes, "GroupView"] = {}
_CACHE_MAX = 1 << 17


def _lp(b: bytes) -> bytes:
    return len(b).to_bytes(4, "big") + b


class GroupView:
    def __init__(self, p: int, q: int, g: int, h: int, name: str = "") -> None:
        self.p, self.q, self.g, self.h = p, q, g, h
        self.name = name
        self.plen = (p.bit_length() + 7) // 8
        self.qlen = (q.bit_length() + 7) // 8
        self.digest = hashlib.sha256(
            b"veriwatt/zk/group" + b"".join(_lp(x.to_bytes((x.bit_length() + 7) // 8, "big")) for x in (p, q, g, h))
        ).digest()
        self.ginv = pow(g, -1, p)
        self.hinv = pow(h, -1, p)
        self._members: set = set()

    def __repr__(self) -> str:
        return "GroupView(%s, |p|=%d, |q|=%d)" % (self.name or "?", self.p.bit_length(), self.q.bit_length())

    def is_element(self, x: object) -> bool:
        """1 < x < p and x^q == 1 (mod p). Cached for elements that passed."""
        if type(x) is not int or not 1 < x < self.p:
            return False
        if x in self._members:
            return True
        if backend.powmod(x, self.q, self.p) != 1:
            return False
        if len(self._members) >= _CACHE_MAX:
            self._members.clear()
        self._members.add(x)
        return True

    def is_element_nocache(self, x: object) -> bool:
        return type(x) is int and 1 < x < self.p and backend.powmod(x, self.q, self.p) == 1

    def commit(self, m: int, r: int) -> int:
        return backend.powmod2(self.g, m % self.q, self.h, r % self.q, self.p)


def view(grp=None) -> GroupView:
    """A GroupView for vwcore Group objects, GroupView itself, or anything with p, q, g, h."""
    if grp is None:
        grp = default_group()
    if isinstance(grp, GroupView):
        return grp
    key = hashlib.sha256(b"%x.%x.%x.%x" % (grp.p, grp.q, grp.g, grp.h)).digest()
    v = _VIEWS.get(key)
    if v is None:
        v = GroupView(grp.p, grp.q, grp.g, grp.h, getattr(grp, "name", ""))
        _VIEWS[key] = v
    return v


def default_group(name: str = "2048"):
    from vwcore import group as _group

    return view(_group.get(name))


def toy_group(pbits: int = 512, qbits: int = 160, seed: int = 1) -> GroupView:
    """Deterministic small Schnorr group for tests: q prime (qbits), p = kq + 1 prime (pbits),
    g, h = random^((p-1)/q) from a seeded PRNG. Insecure sizes; log_g h unknown only in the
    sense that nobody computed it."""
    import gmpy2

    rnd = random.Random(seed)
    while True:
        q = int(gmpy2.next_prime(rnd.getrandbits(qbits) | (1 << (qbits - 1))))
        if q.bit_length() == qbits:
            break
    while True:
        k = rnd.getrandbits(pbits - qbits) | (1 << (pbits - qbits - 1))
        k &= ~1
        p = k * q + 1
        if p.bit_length() == pbits and gmpy2.is_prime(p, 30):
            break
    gens = []
    while len(gens) < 2:
        x = pow(rnd.randrange(2, p - 1), (p - 1) // q, p)
        if x != 1 and x not in gens:
            gens.append(x)
    return view(GroupView(p, q, gens[0], gens[1], "toy%d/%d" % (pbits, qbits)))
