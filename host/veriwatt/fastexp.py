# SPDX-License-Identifier: MIT
"""Fast checks of public values: fixed-base exponentiation tables for Schnorr verification.

Verifying a bill means verifying one Schnorr signature per half hour (1488 in a month):
R' = g^s * y^(q-e) mod p with the same two bases g (the group's) and y (the meter's) every
time. Everything involved is public (signatures, keys, commitments), so the verifier may
use variable-time arithmetic: with gmpy2 (GMP) present, a fixed-base table of
base^(d * 2^(8i)) turns each 256-bit exponentiation into 32 multiplications
(Brickell-Gordon-McCurley-Wilson, "Fast exponentiation with precomputation", EUROCRYPT
1992; HAC 14.109). Without gmpy2 it falls back to vwcore.modexp.powmod2 (the C backend).
Secrets never go through this module. Which of these it uses is veriwatt.backend.PUBLIC
(the one backend switch: veriwatt.backend.use).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from vwcore import modexp

from . import backend

W = 8  # window bits


class FixedBase:
    """base^e mod p for e < 2^bits via a table of base^(d * 2^(w i)), d < 2^w (w = W = 8
    by default: 2^w * bits / w entries of |p| bits; a larger w trades memory for fewer
    multiplications, e.g. w = 12 for g: 22 instead of 32 per 256-bit exponent, 23 MB)."""

    def __init__(self, base: int, p: int, bits: int = 256, w: int = W) -> None:
        _gmp = backend.GMP
        assert _gmp is not None
        mp = _gmp.mpz(p)
        self.p = mp
        self.w = w
        self.n = (bits + w - 1) // w
        self.table: List[List] = []
        b = _gmp.mpz(base) % mp
        for _ in range(self.n):
            row = [_gmp.mpz(1), b]
            x = b
            for _ in range((1 << w) - 2):
                x = x * b % mp
                row.append(x)
            self.table.append(row)
            b = x * b % mp  # b^(2^w)
        self.mask = (1 << w) - 1

    def pow(self, e: int) -> "object":
        acc = backend.GMP.mpz(1)
        p, t, mask, w = self.p, self.table, self.mask, self.w
        i = 0
        while e:
            d = e & mask
            if d:
                acc = acc * t[i][d] % p
            e >>= w
            i += 1
        return acc


_cache: Dict[Tuple[int, int], FixedBase] = {}


def available() -> bool:
    """True when public values go through gmpy2 (veriwatt.backend.PUBLIC)."""
    return backend.PUBLIC == "gmpy2"


def fixed_base(base: int, p: int, bits: int = 256) -> Optional[FixedBase]:
    if backend.GMP is None:
        return None
    key = (base, p)
    fb = _cache.get(key)
    if fb is None:
        if len(_cache) > 16:
            _cache.clear()
        fb = _cache[key] = FixedBase(base, p, bits)
    return fb


_wide: Dict[Tuple[int, int, int], FixedBase] = {}


def fixed_base_w(base: int, p: int, w: int) -> FixedBase:
    """A cached table of base with w-bit windows for 256-bit exponents (gmpy2 only), for a
    base used by the whole process (the group's g): w = 12 is 22 x 4096 entries, about 23 MB
    for a 2048-bit p, built in about 90,000 multiplications."""
    assert backend.GMP is not None
    key = (base, p, w)
    fb = _wide.get(key)
    if fb is None:
        if len(_wide) >= 4:
            _wide.clear()
        fb = _wide[key] = FixedBase(base, p, 256, w)
    return fb


def pow2(g: int, a: int, y: int, b: int, p: int, use_tables: bool = True) -> int:
    """g^a * y^b mod p for public values (a, b < 2^256)."""
    if use_tables and available() and a.bit_length() <= 256 and b.bit_length() <= 256:
        fg, fy = fixed_base(g, p), fixed_base(y, p)
        return int(fg.pow(a) * fy.pow(b) % fg.p)
    return modexp.powmod2(g, a, y, b, p)


def powmod(b: int, e: int, p: int) -> int:
    """b^e mod p for public values (variable time is fine)."""
    if available():
        return int(backend.GMP.powmod(b, e, p))
    if backend.PUBLIC == "pow" or e.bit_length() <= 64:
        return pow(b, e, p)  # small exponents: vwcrypto pads every exponent to 256 bits
    return modexp.powmod(b, e, p)


def product(cs: "list[int]", ws: "list[int]", p: int) -> int:
    """prod cs[i]^ws[i] mod p for distinct small non-negative exponents (public values)."""
    if available():
        _gmp = backend.GMP
        mp = _gmp.mpz(p)
        acc = _gmp.mpz(1)
        for c, w in zip(cs, ws):
            acc = acc * _gmp.powmod(c, w, mp) % mp
        return int(acc)
    acc = 1
    for c, w in zip(cs, ws):
        acc = acc * pow(c, w, p) % p
    return acc
