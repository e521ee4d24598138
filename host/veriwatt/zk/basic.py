# SPDX-License-Identifier: MIT
"""Stand-alone non-interactive proofs about Pedersen commitments (the toolkit's building blocks).

    prove_opening(C, m, r)          PK{(m, r): C = g^m h^r}
    prove_equal(C1, r1, C2, r2)     PK{(m, r1, r2): C1 = g^m h^r1 and C2 = g^m h^r2}
                                    (as PK{(d): C1/C2 = h^d} with d = r1 - r2: equal values
                                    iff the ratio is a power of h, by binding)
    prove_one_of(C, m, r, values)   PK{(r): OR_j C/g^v_j = h^r}  (m is one of public values)
    prove_range(C, m, r, w)         PK{(m, r): C = g^m h^r and 0 <= m < w}

Each prove_* returns proof bytes; each verify_* returns None or raises ProofError. `context`
(bytes) is absorbed into the transcript: a proof made for one context (meter id, period,
purpose) does not verify for another. `grp`: a vwcore Group, GroupView or None (default
2048/256 group).
"""

from __future__ import annotations

from typing import Sequence

from . import range as _range
from . import sigma
from .encoding import ProofError, Reader, Writer
from .groups import view
from .transcript import Transcript

KIND_OPENING, KIND_EQUAL, KIND_ONE_OF, KIND_RANGE = 1, 2, 3, 4


def _tr(G, kind: int, context: bytes, elements, extra: bytes = b"") -> Transcript:
    tr = Transcript(b"basic/%d" % kind)
    tr.absorb(b"group", G.digest)
    tr.absorb(b"context", bytes(context))
    tr.absorb_elements(b"statement", elements, G.plen)
    tr.absorb(b"params", extra)
    return tr


def _as_proof_error(check, *args) -> None:
    """Verifiers reject a malformed statement with ProofError, like a malformed proof."""
    try:
        check(*args)
    except (ValueError, TypeError) as e:
        raise ProofError(str(e))


def _elements(G, *xs) -> None:
    for x in xs:
        if not G.is_element(x):
            raise ProofError("statement element not in the order-q subgroup")


def prove_opening(C: int, m: int, r: int, context: bytes = b"", grp=None) -> bytes:
    G = view(grp)
    W = Writer(G, KIND_OPENING)
    sigma.prove(G, _tr(G, KIND_OPENING, context, [C]), sigma.Atom(C, (G.g, G.h), (m % G.q, r % G.q)), W)
    return W.getvalue()


def verify_opening(C: int, proof: bytes, context: bytes = b"", grp=None) -> None:
    G = view(grp)
    _elements(G, C)
    R = Reader(G, KIND_OPENING, proof)
    sigma.verify(G, _tr(G, KIND_OPENING, context, [C]), sigma.Atom(C, (G.g, G.h)), R)
    R.done()


def prove_equal(C1: int, r1: int, C2: int, r2: int, context: bytes = b"", grp=None) -> bytes:
    G = view(grp)
    W = Writer(G, KIND_EQUAL)
    Y = C1 * pow(C2, -1, G.p) % G.p
    sigma.prove(G, _tr(G, KIND_EQUAL, context, [C1, C2]), sigma.Atom(Y, (G.h,), ((r1 - r2) % G.q,)), W)
    return W.getvalue()


def verify_equal(C1: int, C2: int, proof: bytes, context: bytes = b"", grp=None) -> None:
    G = view(grp)
    _elements(G, C1, C2)
    R = Reader(G, KIND_EQUAL, proof)
    Y = C1 * pow(C2, -1, G.p) % G.p
    sigma.verify(G, _tr(G, KIND_EQUAL, context, [C1, C2]), sigma.Atom(Y, (G.h,)), R)
    R.done()


def _values_bytes(values: Sequence[int]) -> bytes:
    return b"".join(v.to_bytes(8, "big") for v in values)


def _check_values(values: Sequence[int]) -> None:
    if not values or any(type(v) is not int or not 0 <= v < 1 << 63 for v in values):
        raise ValueError("values must be a non-empty list of ints in [0, 2^63)")


def _one_of_node(G, C: int, values: Sequence[int], r=None, real=None):
    kids = []
    for j, v in enumerate(values):
        Y = C * pow(G.ginv, v, G.p) % G.p
        kids.append(sigma.Atom(Y, (G.h,), (r % G.q,) if real == j else None))
    return sigma.Or(kids, real)


def prove_one_of(C: int, m: int, r: int, values: Sequence[int], context: bytes = b"", grp=None) -> bytes:
    G = view(grp)
    _check_values(values)
    W = Writer(G, KIND_ONE_OF)
    real = values.index(m) if m in values else None
    sigma.prove(G, _tr(G, KIND_ONE_OF, context, [C], _values_bytes(values)), _one_of_node(G, C, values, r, real), W)
    return W.getvalue()


def verify_one_of(C: int, values: Sequence[int], proof: bytes, context: bytes = b"", grp=None) -> None:
    G = view(grp)
    _as_proof_error(_check_values, values)
    _elements(G, C)
    R = Reader(G, KIND_ONE_OF, proof)
    sigma.verify(G, _tr(G, KIND_ONE_OF, context, [C], _values_bytes(values)), _one_of_node(G, C, values), R)
    R.done()


def _check_width(G, w: int) -> None:
    if type(w) is not int or not 1 <= w or w.bit_length() > G.q.bit_length() - 2:
        raise ValueError("range width must be an int in [1, q/4)")


def prove_range(C: int, m: int, r: int, w: int, context: bytes = b"", grp=None) -> bytes:
    G = view(grp)
    _check_width(G, w)
    W = Writer(G, KIND_RANGE)
    mark = W.mark()
    node = _range.prove_node(G, C, m, r % G.q, w, W)
    tr = _tr(G, KIND_RANGE, context, [C], w.to_bytes(G.qlen, "big"))
    tr.absorb(b"aux", W.since(mark))
    sigma.prove(G, tr, node, W)
    return W.getvalue()


def verify_range(C: int, w: int, proof: bytes, context: bytes = b"", grp=None) -> None:
    G = view(grp)
    _as_proof_error(_check_width, G, w)
    _elements(G, C)
    R = Reader(G, KIND_RANGE, proof)
    mark = R.mark()
    node = _range.verify_node(G, C, w, R)
    tr = _tr(G, KIND_RANGE, context, [C], w.to_bytes(G.qlen, "big"))
    tr.absorb(b"aux", R.since(mark))
    sigma.verify(G, tr, node, R)
    R.done()
