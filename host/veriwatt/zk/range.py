# SPDX-License-Identifier: MIT
"""Range proofs by digit decomposition: PK{(v, r): C = g^v h^r and 0 <= v < w}.

Any width w >= 1 (not only powers of two). With k = bitlen(w - 1) the binary coefficients
are 1, 2, ..., 2^(k-2) and c_last = w - 2^(k-1): sum(coef_i * b_i) over bits b_i covers
exactly [0, w - 1] (the usual trick for arbitrary intervals, cf. Schoenmakers, "Interval
proofs revisited", 2005). w = 1 means v = 0: a single Schnorr proof C = h^r.

Radix 4: the power-of-two bits are taken in pairs, giving digits d_j in {0, 1, 2, 3} with
coefficient 4^j (a leftover odd bit is a digit in {0, 1}), plus the last binary digit with
coefficient c_last. The prover sends one commitment D_j = g^(d_j) h^(s_j) per digit; s_j is
random except the last, s_last = (r - sum coef_j s_j) / c_last mod q, so that
prod D_j^coef_j = C exactly. The verifier checks every D_j is in the subgroup, checks that
product (small public exponents: Horner in base 4, a few multiplications), and each digit
is proven in its set by an OR of Schnorr proofs (Cramer-Damgard-Schoenmakers 1994):
OR_{v in set} D_j / g^v = h^s. Since w < q the decomposition cannot wrap around mod q, so
v mod q lies in [0, w).

Why radix 4: per two bits, one element and one membership test instead of two; the four
branch proofs cost the same as two binary ORs. For 16 bits: 9 elements + 55 scalars
(4064 bytes in the 2048/256 group) instead of 16 + 48 (5632 bytes), and 41 instead of 48
exponentiations to verify. Radix 8 or more costs more exponentiations than it saves.
"""

from __future__ import annotations

import secrets
from typing import List, Tuple

from .. import backend
from .encoding import ProofError, Reader, Writer
from .groups import GroupView
from .sigma import And, Atom, Or


def coefficients(w: int) -> List[int]:
    """Binary coefficients for [0, w): 1, 2, ..., 2^(k-2), w - 2^(k-1)."""
    if type(w) is not int or w < 1:
        raise ValueError("range width must be an int >= 1")
    if w == 1:
        return []
    k = (w - 1).bit_length()
    return [1 << i for i in range(k - 1)] + [w - (1 << (k - 1))]


def digits_plan(w: int) -> List[Tuple[int, int]]:
    """(coefficient, number of values) per digit: radix-4 digits over the power-of-two bits,
    a binary digit for a leftover bit, and the last binary digit with coefficient c_last."""
    co = coefficients(w)
    if not co:
        return []
    nb = len(co) - 1
    plan = [(1 << (2 * j), 4) for j in range(nb // 2)]
    if nb % 2:
        plan.append((1 << (nb - 1), 2))
    return plan + [(co[-1], 2)]


def bits_for(w: int) -> int:
    return len(coefficients(w))


def proof_size(w: int, plen: int, qlen: int) -> int:
    """Bytes of the range part (digit commitments, OR challenges and responses)."""
    return elements(w) * plen + scalars(w) * qlen


def elements(w: int) -> int:
    """Group elements the range part sends (one per digit)."""
    return len(digits_plan(w))


def scalars(w: int) -> int:
    """Scalars of the range part in the Sigma body (OR challenges and responses)."""
    plan = digits_plan(w)
    return sum(2 * n - 1 for _, n in plan) if plan else 1


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


def digits(v: int, w: int) -> List[int]:
    """Digit values for digits_plan(w)."""
    bits = decompose(v, w)
    if not bits:
        return []
    nb = len(bits) - 1
    ds = [bits[2 * j] + 2 * bits[2 * j + 1] for j in range(nb // 2)]
    if nb % 2:
        ds.append(bits[nb - 1])
    return ds + [bits[-1]]


def _digit_or(G: GroupView, D: int, n: int, real, s: int) -> Or:
    kids = []
    Y = D
    for v in range(n):
        kids.append(Atom(Y, (G.h,), (s,) if real == v else None))
        Y = Y * G.ginv % G.p
    return Or(kids, real)


def prove_node(G: GroupView, C: int, v: int, r: int, w: int, W: Writer):
    """Statement node for "C opens to a value in [0, w)", digit commitments written to W.

    v may lie outside [0, w) (then the node can only be simulated, e.g. as a false OR
    branch): the prover still produces well-formed digit commitments with the product
    relation; the last digit then opens to a value outside {0, 1} and its OR has no true
    branch."""
    q, p = G.q, G.p
    plan = digits_plan(w)
    if not plan:
        return Atom(C, (G.h,), (r % q,) if v % q == 0 else None)
    n = len(plan)
    ds = digits(v, w) if 0 <= v < w else [0] * n
    s = [secrets.randbelow(q) for _ in range(n - 1)]
    c_last = plan[-1][0]
    inv_last = pow(c_last, -1, q)
    lo_v = sum(c * d for (c, _), d in zip(plan, ds[:-1]))
    lo_s = sum(c * x for (c, _), x in zip(plan, s))
    ds[-1] = (v - lo_v) * inv_last % q
    s.append((r - lo_s) * inv_last % q)
    nodes = []
    for (c, nv), d, sj in zip(plan, ds, s):
        if d < nv:
            D = backend.powmod(G.h, sj, p) * pow(G.g, d, p) % p
            real = d
        else:
            D = backend.powmod2(G.g, d, G.h, sj, p)
            real = None
        W.element(D)
        nodes.append(_digit_or(G, D, nv, real, sj))
    return And(nodes)


def verify_node(G: GroupView, C: int, w: int, R: Reader):
    """Read the digit commitments, check prod D_j^coef_j == C, return the statement node."""
    plan = digits_plan(w)
    if not plan:
        return Atom(C, (G.h,))
    p = G.p
    Ds = [R.element() for _ in plan]
    acc = 1
    # power digits have coefficients 4^j (the leftover binary digit, if any, is the top one)
    for D in reversed(Ds[:-1]):
        acc = pow(acc, 4, p) * D % p
    acc = acc * pow(Ds[-1], plan[-1][0], p) % p
    if acc != C:
        raise ProofError("digit commitments do not combine to the range commitment")
    return And([_digit_or(G, D, nv, None, 0) for D, (_, nv) in zip(Ds, plan)])
