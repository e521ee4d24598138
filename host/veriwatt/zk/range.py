"""Range proofs by bit decomposition: PK{(v, r): C = g^v h^r and 0 <= v < w}.

Any width w >= 1 (not only powers of two): with k = bitlen(w - 1) the coefficients are
1, 2, ..., 2^(k-2) and c_last = w - 2^(k-1), so sum(coef_i * b_i) for bits b_i covers
exactly [0, w - 1] (the usual trick for arbitrary intervals, e.g. Schoenmakers,
"Interval proofs revisited", 2005). w = 1 means v = 0: a single Schnorr proof C = h^r.

The prover sends k bit commitments B_i = g^(b_i) h^(s_i); s_i is random for i < k-1 and
s_last = (r - sum coef_i s_i) / c_last mod q, so that prod B_i^coef_i = C exactly. The
verifier checks every B_i is in the subgroup, checks that product (small public
exponents, a few multiplications), and each bit is proven in {0, 1} by an OR of two
Schnorr proofs (Cramer-Damgard-Schoenmakers 1994): B_i = h^s  OR  B_i / g = h^s.
Since w < q the decomposition cannot wrap around mod q, so v mod q lies in [0, w).

Cost: k group elements + 3k scalars; prover about 3 exponentiations per bit, verifier two
double exponentiations plus one membership test per bit.
"""
from __future__ import annotations

import secrets
from typing import List

from . import backend
from .encoding import ProofError, Reader, Writer
from .groups import GroupView
from .sigma import And, Atom, Or


def coefficients(w: int) -> List[int]:
    if type(w) is not int or w < 1:
        raise ValueError("range width must be an int >= 1")
    if w == 1:
        return []
    k = (w - 1).bit_length()
    return [1 << i for i in range(k - 1)] + [w - (1 << (k - 1))]


def bits_for(w: int) -> int:
    return len(coefficients(w))


def decompose(v: int, w: int) -> List[int]:
    """Bits b_i with sum(coef_i * b_i) == v for 0 <= v < w."""
    co = coefficients(w)
    if not 0 <= v < w:
        raise ValueError("value out of range")
    if not co:
        return []
    k = len(co)
    top = 1 if v >= (1 << (k - 1)) else 0
    rest = v - top * co[-1]
    return [(rest >> i) & 1 for i in range(k - 1)] + [top]


def _bit_or(G: GroupView, B: int, real, s: int) -> Or:
    return Or([Atom(B, (G.h,), (s,) if real == 0 else None),
               Atom(B * G.ginv % G.p, (G.h,), (s,) if real == 1 else None)], real)


def prove_node(G: GroupView, C: int, v: int, r: int, w: int, W: Writer):
    """Statement node for "C opens to a value in [0, w)", bit commitments written to W.

    v may lie outside [0, w) (then the node can only be simulated, e.g. as a false OR
    branch): the prover still produces well-formed bit commitments with the product
    relation, and the last "bit" is a non-bit whose OR has no true branch."""
    q, p = G.q, G.p
    co = coefficients(w)
    if not co:
        return Atom(C, (G.h,), (r % q,) if v % q == 0 else None)
    k = len(co)
    if 0 <= v < w:
        bits = decompose(v, w)
    else:
        bits = [0] * (k - 1) + [None]
    s = [secrets.randbelow(q) for _ in range(k - 1)]
    inv_last = pow(co[-1], -1, q)
    lo_v = sum(c * b for c, b in zip(co, bits[:-1]))
    lo_s = sum(c * x for c, x in zip(co, s))
    last_v = (v - lo_v) * inv_last % q
    s.append((r - lo_s) * inv_last % q)
    nodes = []
    for i in range(k):
        if i < k - 1 or last_v in (0, 1):
            b = bits[i] if i < k - 1 else last_v
            B = backend.powmod(G.h, s[i], p)
            if b:
                B = B * G.g % p
            real = b
        else:
            B = backend.powmod2(G.g, last_v, G.h, s[i], p)
            real = None
        W.element(B)
        nodes.append(_bit_or(G, B, real, s[i]))
    return And(nodes)


def verify_node(G: GroupView, C: int, w: int, R: Reader):
    """Read the bit commitments, check prod B_i^coef_i == C, return the statement node."""
    co = coefficients(w)
    if not co:
        return Atom(C, (G.h,))
    p = G.p
    Bs = [R.element() for _ in co]
    acc = 1
    for B in reversed(Bs[:-1]):  # Horner: prod B_i^(2^i), i < k-1
        acc = acc * acc % p * B % p
    acc = acc * pow(Bs[-1], co[-1], p) % p
    if acc != C:
        raise ProofError("bit commitments do not combine to the range commitment")
    return And([_bit_or(G, B, None, 0) for B in Bs])
