# SPDX-License-Identifier: MIT
"""Linear results over committed readings: bills, settlement, totals, with their proofs.

For Pedersen commitments C_t = g^m_t * h^r_t mod p and public integer weights w_t (prices,
a grid value index, or 1 for a plain total):

    result = sum(w_t * m_t)                  (computed by the customer from the openings)
    R      = sum(w_t * r_t) mod q            (the proof)
    check:   prod(C_t^w_t) == g^result * h^R  mod p   (by anyone holding the commitments)

The product uses that weights are small integers taking few distinct values: commitments
are first multiplied together per distinct weight (one modular multiplication each), then
each partial product is raised to its weight once. Negative weights (a settlement index can
be negative) go into a second product that is inverted once at the end. The partial products
go through C (veriwatt.cmexp.product: Montgomery multiplication over GMP, variable time: the
commitments and weights are public) when vwcrypto has it (USE_C), else through gmpy2 / int.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple

from . import cmexp

USE_C = cmexp.available()  # the partial products by veriwatt.cmexp.product (the same values)
PowMod = Callable[[int, int, int], int]

try:
    from gmpy2 import mpz as _mpz
except ImportError:  # pragma: no cover - gmpy2 is optional

    def _mpz(x: int) -> int:
        return x


def prove(openings: Sequence[Tuple[int, int]], weights: Sequence[int], q: int) -> Tuple[int, int]:
    """(result, R) for openings (m_t, r_t) and weights w_t."""
    if len(openings) != len(weights):
        raise ValueError("%d openings but %d weights" % (len(openings), len(weights)))
    total = 0
    rr = 0
    for (m, r), w in zip(openings, weights):
        total += w * m
        rr += w * r
    return total, rr % q


def weighted_product(
    commitments: Sequence[int], weights: Sequence[int], p: int, powmod: Optional[PowMod] = None
) -> int:
    """prod(C_t^w_t) mod p for small integer weights (grouped by distinct weight)."""
    if len(commitments) != len(weights):
        raise ValueError("%d commitments but %d weights" % (len(commitments), len(weights)))
    pm = powmod or pow
    pi, p = p, _mpz(p)  # gmpy2 (GMP) when installed: the products below are most of the work
    groups: Dict[int, int]
    if USE_C and pi > 2 and pi & 1:
        groups = _c_groups(commitments, weights, pi)
    else:
        groups = {}
        for c, w in zip(commitments, weights):
            if w:
                groups[w] = groups[w] * c % p if w in groups else c % p
    return _combine(groups, pi, pm)


def _combine(groups: Dict[int, int], p: int, pm: PowMod) -> int:
    """prod over w of groups[w]^w mod p (negative weights: one inversion at the end)."""
    pi, p = p, _mpz(p)
    pos = neg = 1
    for w, acc in groups.items():
        if w > 0:
            pos = pos * (acc if w == 1 else pm(int(acc), w, pi)) % p
        else:
            neg = neg * (acc if w == -1 else pm(int(acc), -w, pi)) % p
    if neg != 1:
        pos = pos * pow(int(neg), -1, pi) % p
    return int(pos)


def _c_groups(commitments: Sequence[int], weights: Sequence[int], p: int) -> Dict[int, int]:
    """{w: prod of the commitments of weight w mod p} for every non-zero weight, in C."""
    idx: Dict[int, List[int]] = {}
    for c, w in zip(commitments, weights):
        if w:
            idx.setdefault(w, []).append(c)
    return {w: _mpz(cmexp.product(cs, p)) for w, cs in idx.items()}


def check_packed(
    packed: bytes,
    width: int,
    weights: Sequence[int],
    result: int,
    rand: int,
    p: int,
    q: int,
    g: int,
    h: int,
    powmod: Optional[PowMod] = None,
) -> bool:
    """check() for commitments given packed: width bytes each, little-endian, each below p (as
    veriwatt.cbill.elems returns them); the per-weight products in C (veriwatt.cmexp) straight
    from the packed bytes. False also when the lengths disagree or the C code is missing."""
    pm = powmod or pow
    n = len(weights)
    if not (USE_C and 0 <= rand < q and p > 2 and p & 1) or len(packed) != n * width:
        return False
    idx: Dict[int, List[int]] = {}
    for t, w in enumerate(weights):
        if w:
            idx.setdefault(w, []).append(t * width)
    groups = {}
    for w, offs in idx.items():
        part = b"".join([packed[o : o + width] for o in offs])
        groups[w] = _mpz(cmexp.multiexp_packed(part, b"\x01" * len(offs), 1, p))
    lhs = _combine(groups, p, pm)
    return lhs == pm(g, result % q, p) * pm(h, rand, p) % p


def check(
    commitments: Sequence[int],
    weights: Sequence[int],
    result: int,
    rand: int,
    p: int,
    q: int,
    g: int,
    h: int,
    powmod: Optional[PowMod] = None,
) -> bool:
    """True when prod(C_t^w_t) == g^result * h^rand mod p."""
    pm = powmod or pow
    if not 0 <= rand < q:
        return False
    lhs = weighted_product(commitments, weights, p, pm)
    rhs = pm(g, result % q, p) * pm(h, rand, p) % p
    return lhs == rhs


def check_opening(c: int, m: int, r: int, p: int, q: int, g: int, h: int, powmod: Optional[PowMod] = None) -> bool:
    """True when C == g^m * h^r mod p (selective disclosure of one slot)."""
    pm = powmod or pow
    return c % p == pm(g, m % q, p) * pm(h, r % q, p) % p
