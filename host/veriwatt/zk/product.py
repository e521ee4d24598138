# SPDX-License-Identifier: MIT
"""Product and square proofs for Pedersen commitments (docs/COMPUTATIONS.md, section 3).

    prove_product(C1, m1, r1, C2, m2, r2, C3, r3, context, grp) -> proof
    verify_product(C1, C2, C3, proof, context, grp)
        PK{(m1, r1, m2, r2, t): C1 = g^m1 h^r1 and C2 = g^m2 h^r2 and C3 = C2^m1 h^t}
        i.e. C3 commits to m1 * m2 (Cramer & Damgard, "Zero-knowledge proofs for finite
        field arithmetic", CRYPTO 1998; notation of Camenisch & Stadler, CRYPTO 1997):
        C3 = C2^m1 h^t = g^(m1 m2) h^(m1 r2 + t), so with t = r3 - m1 r2 the honest C3 =
        g^(m1 m2) h^r3 passes, and by binding of C1, C2 (log_g h unknown) nothing else does.
    square_commit(m, grp) -> (S, s)        a fresh commitment S = g^(m^2) h^s
    prove_square(C, m, r, S, s, context, grp) -> proof
    verify_square(C, S, proof, context, grp)
        the case C1 = C2 = C: PK{(m, r, t): C = g^m h^r and S = C^m h^t} (three responses).

The protocol is the Sigma protocol for a conjunction of linear relations with shared
witnesses (the same m in both equations: one nonce and one response per witness, which
sigma.And of independent atoms could not express). Non-interactive by Fiat-Shamir with the
project transcript (transcript.Transcript: domain-separated, length-prefixed SHA-256, wide
challenges), absorbing the group digest, the caller's context (meter id, period, profile
set digest), every statement element, then every first message: the strong transform.

`Squares` batches the square proofs of a whole period under ONE challenge (an AND of
per-slot relations), plus any number of "opening" atoms PK{R: Y = h^R} (the scores, whose
combined randomness stays secret): profiles.py builds on it.

Encoding (encoding.Writer / Reader): scalars at qlen bytes; a stand-alone proof is the
header (MAGIC, version, kind) then e and the responses in witness order.
"""

from __future__ import annotations

import secrets
from typing import List, Optional, Sequence, Tuple

from .. import backend
from .encoding import ProofError, Reader, Writer
from .groups import GroupView, view
from .transcript import Transcript

KIND_PRODUCT, KIND_SQUARE = 16, 17
_rand = secrets.randbelow


def _tr(G: GroupView, kind: int, context: bytes, elements: Sequence[int]) -> Transcript:
    tr = Transcript(b"product/%d" % kind)
    tr.absorb(b"group", G.digest)
    tr.absorb(b"context", bytes(context))
    tr.absorb_elements(b"statement", list(elements), G.plen)
    return tr


def _members(G: GroupView, *xs: int) -> None:
    for x in xs:
        if not G.is_element(x):
            raise ProofError("statement element not in the order-q subgroup")


def _a(G: GroupView, b1: int, x1: int, b2: int, x2: int, Y: int, e: int) -> int:
    """b1^x1 * b2^x2 * Y^-e (Y a subgroup element, so Y^(q-e) = Y^-e)."""
    acc = backend.powmod2(b1, x1, b2, x2, G.p)
    if e:
        acc = acc * backend.powmod(Y, (G.q - e) % G.q, G.p) % G.p
    return acc


def _v(G: GroupView, b1: int, x1: int, b2: int, x2: int, Y: int, e: int) -> int:
    """The verifier's b1^x1 * b2^x2 * Y^-e: public values only, so variable-time arithmetic
    (veriwatt.fastexp: gmpy2 and fixed-base tables for g and h) is fine here."""
    from .. import fastexp

    p = G.p
    if b1 == G.g:
        acc = fastexp.pow2(b1, x1, b2, x2, p)
    else:
        fb = fastexp.fixed_base(b2, p)
        acc = fastexp.powmod(b1, x1, p) * (int(fb.pow(x2)) if fb else fastexp.powmod(b2, x2, p)) % p
    return acc * fastexp.powmod(Y, (G.q - e) % G.q, p) % p


def square_commit(m: int, grp=None) -> Tuple[int, int]:
    """(S, s): a fresh commitment to m^2 (s uniform in [0, q))."""
    G = view(grp)
    s = _rand(G.q)
    return G.commit(m * m % G.q, s), s


# ------------------------------------------------------------------ one square, stand-alone
def prove_square(C: int, m: int, r: int, S: int, s: int, context: bytes = b"", grp=None) -> bytes:
    """Proof that S commits to the square of C's value; (m, r) opens C, (m^2, s) opens S."""
    G = view(grp)
    q = G.q
    t = (s - m * r) % q
    wm, wr, wt = _rand(q), _rand(q), _rand(q)
    tr = _tr(G, KIND_SQUARE, context, [C, S])
    tr.absorb_elements(b"sigma/a", [_a(G, G.g, wm, G.h, wr, 1, 0), _a(G, C, wm, G.h, wt, 1, 0)], G.plen)
    e = tr.challenge(b"sigma/e", q)
    W = Writer(G, KIND_SQUARE)
    for x in (e, (wm + e * m) % q, (wr + e * r) % q, (wt + e * t) % q):
        W.scalar(x)
    return W.getvalue()


def verify_square(C: int, S: int, proof: bytes, context: bytes = b"", grp=None) -> None:
    """None if `proof` shows S commits to the square of C's value; ProofError otherwise."""
    G = view(grp)
    _members(G, C, S)
    R = Reader(G, KIND_SQUARE, proof)
    e, zm, zr, zt = R.scalar(), R.scalar(), R.scalar(), R.scalar()
    R.done()
    tr = _tr(G, KIND_SQUARE, context, [C, S])
    tr.absorb_elements(b"sigma/a", [_v(G, G.g, zm, G.h, zr, C, e), _v(G, C, zm, G.h, zt, S, e)], G.plen)
    if tr.challenge(b"sigma/e", G.q) != e:
        raise ProofError("Fiat-Shamir challenge mismatch: the square proof does not verify")


# ------------------------------------------------------------------ general product
def prove_product(
    C1: int, m1: int, r1: int, C2: int, m2: int, r2: int, C3: int, r3: int, context: bytes = b"", grp=None
) -> bytes:
    """Proof that C3 = g^(m1 m2) h^r3 commits to the product of the openings of C1 and C2."""
    G = view(grp)
    q = G.q
    t = (r3 - m1 * r2) % q
    wit = (m1 % q, r1 % q, m2 % q, r2 % q, t)
    w = [_rand(q) for _ in wit]
    a = [_a(G, G.g, w[0], G.h, w[1], 1, 0), _a(G, G.g, w[2], G.h, w[3], 1, 0), _a(G, C2, w[0], G.h, w[4], 1, 0)]
    tr = _tr(G, KIND_PRODUCT, context, [C1, C2, C3])
    tr.absorb_elements(b"sigma/a", a, G.plen)
    e = tr.challenge(b"sigma/e", q)
    W = Writer(G, KIND_PRODUCT)
    W.scalar(e)
    for wi, xi in zip(w, wit):
        W.scalar((wi + e * xi) % q)
    return W.getvalue()


def verify_product(C1: int, C2: int, C3: int, proof: bytes, context: bytes = b"", grp=None) -> None:
    G = view(grp)
    _members(G, C1, C2, C3)
    R = Reader(G, KIND_PRODUCT, proof)
    e = R.scalar()
    z = [R.scalar() for _ in range(5)]
    R.done()
    a = [_v(G, G.g, z[0], G.h, z[1], C1, e), _v(G, G.g, z[2], G.h, z[3], C2, e), _v(G, C2, z[0], G.h, z[4], C3, e)]
    tr = _tr(G, KIND_PRODUCT, context, [C1, C2, C3])
    tr.absorb_elements(b"sigma/a", a, G.plen)
    if tr.challenge(b"sigma/e", G.q) != e:
        raise ProofError("Fiat-Shamir challenge mismatch: the product proof does not verify")


# ------------------------------------------------------------------ a period's squares, batched
class Squares:
    """Square proofs for many slots plus opening atoms PK{R_k: Y_k = h^R_k}, under one
    Fiat-Shamir challenge. The caller absorbs the statement (context, C_t, S_t, claimed
    scores) into `tr` first; layout of the proof body: e, then (z_m, z_r, z_t) per slot, then
    z_R per atom (the S_t are carried by the caller, before the body)."""

    @staticmethod
    def prove(
        G: GroupView,
        tr: Transcript,
        Cs: Sequence[int],
        ops: Sequence[Tuple[int, int]],
        ss: Sequence[int],
        Rs: Sequence[int],
        W: Writer,
        progress=None,
    ) -> None:
        """ops: openings (m_t, r_t) of Cs; ss: randomness of the square commitments S_t;
        Rs: the secret openings R_k of the atoms Y_k = h^R_k (the verifier derives Y_k)."""
        q = G.q
        a: List[int] = []
        nonces: List[Tuple[int, int, int]] = []
        for i, (C, (m, r)) in enumerate(zip(Cs, ops)):
            wm, wr, wt = _rand(q), _rand(q), _rand(q)
            nonces.append((wm, wr, wt))
            a.append(_a(G, G.g, wm, G.h, wr, 1, 0))
            a.append(_a(G, C, wm, G.h, wt, 1, 0))
            if progress and i % 48 == 47:
                progress(48)
        wR = [_rand(q) for _ in Rs]
        a.extend(backend.powmod(G.h, w, G.p) for w in wR)
        tr.absorb_elements(b"sigma/a", a, G.plen)
        e = tr.challenge(b"sigma/e", q)
        W.scalar(e)
        for (m, r), s, (wm, wr, wt) in zip(ops, ss, nonces):
            t = (s - m * r) % q
            for x in ((wm + e * m) % q, (wr + e * r) % q, (wt + e * t) % q):
                W.scalar(x)
        for w, R_ in zip(wR, Rs):
            W.scalar((w + e * R_) % q)

    @staticmethod
    def verify(
        G: GroupView, tr: Transcript, Cs: Sequence[int], Ss: Sequence[int], Ys: Sequence[int], R: Reader, progress=None
    ) -> None:
        """ProofError unless the body read from R proves every square and every opening.
        Cs, Ss, Ys must be subgroup elements (the caller checks them)."""
        e = R.scalar()
        a: List[int] = []
        for i, (C, S) in enumerate(zip(Cs, Ss)):
            zm, zr, zt = R.scalar(), R.scalar(), R.scalar()
            a.append(_v(G, G.g, zm, G.h, zr, C, e))
            a.append(_v(G, C, zm, G.h, zt, S, e))
            if progress and i % 48 == 47:
                progress(48)
        for Y in Ys:
            z = R.scalar()
            a.append(_v(G, G.g, 0, G.h, z, Y, e))
        tr.absorb_elements(b"sigma/a", a, G.plen)
        if tr.challenge(b"sigma/e", G.q) != e:
            raise ProofError("Fiat-Shamir challenge mismatch: the square and score proofs do not verify")


def size(G: GroupView, n_slots: int, n_atoms: int, with_squares: bool = True) -> int:
    """Bytes of a batched body (with the S_t the caller carries when with_squares)."""
    return G.qlen * (1 + 3 * n_slots + n_atoms) + (G.plen * n_slots if with_squares else 0)


def check_statement(G: GroupView, xs: Sequence[int]) -> Optional[str]:
    """None if every x is an order-q subgroup element, else why not (index)."""
    for i, x in enumerate(xs):
        if not G.is_element(x):
            return "element %d is not in the order-q subgroup" % i
    return None
