# SPDX-License-Identifier: MIT
"""Sigma protocols over a prime-order subgroup, composed with AND / OR, made non-interactive.

Statements are trees (Camenisch-Stadler notation, CRYPTO 1997):

    Atom(Y, bases)     PK{(x_1..x_k): Y = prod bases_i^x_i}    (Schnorr 1991 / Okamoto 1992)
    And([s_1, ...])    all hold; one challenge shared by every child
    Or([s_1, ...])     at least one holds (Cramer, Damgard, Schoenmakers, CRYPTO 1994):
                       the children's challenges must sum to the parent's; the prover
                       simulates every false branch with a challenge it picks in advance
                       and answers the true one with what is left

Prover: every node either runs for real or is simulated for a given challenge (special
honest-verifier zero knowledge: z random, a = prod bases^z * Y^-c). Fiat-Shamir with the
strong transform (Bernhard-Pereira-Warinschi 2012): the caller absorbs the statement into
the Transcript before prove()/verify(); this module absorbs every first message a and
derives e = H(transcript) mod q.

Proof (compact "challenge-response" form): e, then for the tree in depth-first order: at
each Or node the challenges of all children but the last (the last is e_parent - sum), at
each Atom one response per base. The verifier recomputes each a = prod bases^z * Y^(q-c),
hashes them and accepts iff it gets e back. Y and bases must be subgroup elements (the
callers build them from checked elements only), so Y^(q-c) = Y^-c.

Nonces: secrets.randbelow(q) (os.urandom), fresh for every atom; see docs/ZK.md.
"""

from __future__ import annotations

import secrets
from typing import List, Optional, Sequence

from .. import backend
from .encoding import ProofError, Reader, Writer
from .groups import GroupView
from .transcript import Transcript

_rand = secrets.randbelow


class Atom:
    __slots__ = ("Y", "bases", "wit", "w", "z")

    def __init__(self, Y: int, bases: Sequence[int], wit: Optional[Sequence[int]] = None) -> None:
        self.Y = Y
        self.bases = bases
        self.wit = wit
        self.w = None
        self.z = None


class And:
    __slots__ = ("children",)

    def __init__(self, children: List) -> None:
        self.children = children


class Or:
    __slots__ = ("children", "real", "cs")

    def __init__(self, children: List, real: Optional[int] = None) -> None:
        self.children = children
        self.real = real
        self.cs = None


def _multi(G: GroupView, bases, zs, Y: int, c: int) -> int:
    """prod bases^zs * Y^-c (c == 0 means no Y term)."""
    p = G.p
    nc = (G.q - c) % G.q
    if len(bases) == 1:
        return backend.powmod2(bases[0], zs[0], Y, nc, p)
    acc = backend.powmod(Y, nc, p)
    i = 0
    while i + 1 < len(bases):
        acc = acc * backend.powmod2(bases[i], zs[i], bases[i + 1], zs[i + 1], p) % p
        i += 2
    if i < len(bases):
        acc = acc * backend.powmod(bases[i], zs[i], p) % p
    return acc


def _commit(G: GroupView, node, c: Optional[int], out: List[int]) -> None:
    """First messages in depth-first order; c is None for real, else the simulation challenge."""
    q = G.q
    t = type(node)
    if t is Atom:
        if c is None:
            if node.wit is None:
                raise ValueError("statement does not hold: no witness for an atom")
            node.w = [_rand(q) for _ in node.bases]
            if len(node.bases) == 1:
                out.append(backend.powmod(node.bases[0], node.w[0], G.p))
            elif len(node.bases) == 2:
                out.append(backend.powmod2(node.bases[0], node.w[0], node.bases[1], node.w[1], G.p))
            else:
                out.append(_multi(G, node.bases, node.w, 1, 0))
        else:
            node.z = [_rand(q) for _ in node.bases]
            out.append(_multi(G, node.bases, node.z, node.Y, c))
    elif t is And:
        for ch in node.children:
            _commit(G, ch, c, out)
    elif t is Or:
        n = len(node.children)
        if c is None:
            if node.real is None or not 0 <= node.real < n:
                raise ValueError("statement does not hold: no true branch in an OR")
            cs = [None if j == node.real else _rand(q) for j in range(n)]
        else:
            cs = [_rand(q) for _ in range(n - 1)]
            cs.append((c - sum(cs)) % q)
        node.cs = cs
        for ch, cj in zip(node.children, cs):
            _commit(G, ch, cj, out)
    else:
        raise TypeError("not a statement node: %r" % (node,))


def _respond(G: GroupView, node, c: int) -> None:
    """Responses for the real part of the tree under challenge c."""
    q = G.q
    t = type(node)
    if t is Atom:
        node.z = [(w + c * x) % q for w, x in zip(node.w, node.wit)]
        node.w = None
    elif t is And:
        for ch in node.children:
            _respond(G, ch, c)
    else:
        j = node.real
        node.cs[j] = (c - sum(x for i, x in enumerate(node.cs) if i != j)) % q
        _respond(G, node.children[j], node.cs[j])


def _write(node, W: Writer) -> None:
    t = type(node)
    if t is Atom:
        for z in node.z:
            W.scalar(z)
    elif t is And:
        for ch in node.children:
            _write(ch, W)
    else:
        for cj in node.cs[:-1]:
            W.scalar(cj)
        for ch in node.children:
            _write(ch, W)


def _recompute(G: GroupView, node, c: int, R: Reader, out: List[int]) -> None:
    t = type(node)
    if t is Atom:
        zs = [R.scalar() for _ in node.bases]
        out.append(_multi(G, node.bases, zs, node.Y, c))
    elif t is And:
        for ch in node.children:
            _recompute(G, ch, c, R, out)
    elif t is Or:
        cs = [R.scalar() for _ in range(len(node.children) - 1)]
        cs.append((c - sum(cs)) % G.q)
        for ch, cj in zip(node.children, cs):
            _recompute(G, ch, cj, R, out)
    else:
        raise TypeError("not a statement node: %r" % (node,))


def commit(G: GroupView, node) -> List[int]:
    """First phase of prove(): the first messages (all the prover's exponentiations)."""
    a: List[int] = []
    _commit(G, node, None, a)
    return a


def recompute(G: GroupView, node, e: int, R: Reader) -> List[int]:
    """The verifier's exponentiations: first messages recomputed from R's responses."""
    a: List[int] = []
    _recompute(G, node, e, R, a)
    return a


def prove(G: GroupView, tr: Transcript, node, W: Writer, a: Optional[List[int]] = None) -> None:
    """Prove `node` (witnesses and true OR branches filled in); append e and responses to W.
    `a`: first messages if commit() already ran (e.g. per slot in worker processes)."""
    if a is None:
        a = commit(G, node)
    tr.absorb_elements(b"sigma/a", a, G.plen)
    e = tr.challenge(b"sigma/e", G.q)
    _respond(G, node, e)
    W.scalar(e)
    _write(node, W)


def verify(G: GroupView, tr: Transcript, node, R: Reader) -> None:
    """Read e and responses for `node` from R; raise ProofError unless they verify."""
    e = R.scalar()
    check(G, tr, e, recompute(G, node, e, R))


def check(G: GroupView, tr: Transcript, e: int, a: List[int]) -> None:
    """Absorb the recomputed first messages; ProofError unless the challenge is e again."""
    tr.absorb_elements(b"sigma/a", a, G.plen)
    if tr.challenge(b"sigma/e", G.q) != e:
        raise ProofError("Fiat-Shamir challenge mismatch: the proof does not verify")


def count(node) -> dict:
    """Atoms, OR nodes and scalars of a statement (for sizes and docs)."""
    res = {"atoms": 0, "ors": 0, "scalars": 0}

    def walk(n):
        if type(n) is Atom:
            res["atoms"] += 1
            res["scalars"] += len(n.bases)
        else:
            if type(n) is Or:
                res["ors"] += 1
                res["scalars"] += len(n.children) - 1
            for ch in n.children:
                walk(ch)

    walk(node)
    return res
