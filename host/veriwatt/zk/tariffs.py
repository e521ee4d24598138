# SPDX-License-Identifier: MIT
"""Non-linear tariffs with zero-knowledge bill proofs (after Rial & Danezis, WPES 2011).

Inputs: the meter's Pedersen commitments C_t = g^m_t h^r_t for the period's slots (already
checked against the meter's signatures and for completeness by the caller), the customer's
openings (m_t, r_t), a tariff, and a context (meter id, period: see context()). Every
prove_* returns a BillProof(kind, amount, proof); every verify_* takes the tariff, the
commitments, the claimed amount, the proof bytes and the context, and returns the amount or
raises ProofError.

Kinds (statements in Camenisch-Stadler notation in docs/ZK.md):

StepTariff      per slot, price P_j per Wh for the band [b_j, b_j+1) the slot's reading falls
                in: bill = sum_t P_band(m_t) * m_t. Per slot the prover sends D_t =
                g^(P m_t) h^rho_t and proves OR_j (m_t - b_j in [0, w_j) AND D_t = C_t^P_j h^x);
                the bill is checked as prod D_t = g^bill h^R with R = sum rho_t revealed.
CumulativeTariff  over the whole period: first X_1 Wh at P_0, up to X_2 at P_1, ..., rest at
                P_n. M = sum m_t is committed by prod C_t; M is split into tier pieces
                (committed), each in its range, filled in order (OR: next piece is 0 or this
                one is full); bill = sum P_i M_i.
ThresholdTariff   demand response: for each listed slot either m_t <= L and the excess
                commitment E_t opens to 0, or m_t = L + e_t with e_t in [1, max - L];
                penalty = price * sum e_t, checked as prod E_t = g^(penalty/price) h^U.
                penalty == 0 is the compliance claim "never above L", without readings.
RebateTariff    savings S = max(B - M, 0) below a baseline B; reward = sum rate_i S_i over
                progressive tiers of S (same tier machinery). S is committed; Z = S - (B - M)
                is proven in range and S = 0 OR Z = 0.

Nothing but the claimed amount is revealed about the readings (honest-verifier ZK of each
Sigma protocol, random oracle for Fiat-Shamir): the proof holds group elements (commitments
with fresh randomness), challenges and responses, plus sums of fresh randomness.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import List, Sequence, Tuple

from .. import backend
from . import range as _range
from . import sigma
from .encoding import ProofError, Reader, Writer
from .groups import GroupView, view
from .transcript import Transcript

KIND_STEP, KIND_CUMULATIVE, KIND_THRESHOLD, KIND_REBATE = 10, 11, 12, 13
FORMAT = "veriwatt-zk-tariff/1"
from vwcore.reading import MAX_READING  # noqa: E402  Wh per half-hour the meter certifies (one constant)

MAX_PRICE = 1 << 32
_rand = secrets.randbelow


def context(meter_id, period, first_slot: int = 0) -> bytes:
    """Canonical context bytes: length-prefixed meter id and period, first slot number."""

    def b(x):
        x = x.encode() if isinstance(x, str) else bytes(x)
        return len(x).to_bytes(4, "big") + x

    return b(meter_id) + b(period) + first_slot.to_bytes(8, "big")


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _ints(name, xs, lo=0, hi=MAX_PRICE):
    xs = tuple(xs)
    for x in xs:
        if type(x) is not int or not lo <= x < hi:
            raise ValueError("%s: %r is not an int in [%d, %d)" % (name, x, lo, hi))
    return xs


def _increasing(name, xs):
    if any(b <= a for a, b in zip(xs, xs[1:])):
        raise ValueError("%s must be strictly increasing" % name)


class _Tariff:
    kind_name = ""

    def body(self) -> dict:
        raise NotImplementedError

    def canonical(self) -> bytes:
        return _canonical(dict(self.body(), format=FORMAT, kind=self.kind_name))

    def digest(self) -> bytes:
        return hashlib.sha256(self.canonical()).digest()


@dataclass(frozen=True)
class StepTariff(_Tariff):
    """Bands [lowers[j], lowers[j+1]) (last up to max_reading inclusive) at prices[j] per Wh."""

    lowers: Tuple[int, ...]
    prices: Tuple[int, ...]
    max_reading: int = MAX_READING
    kind_name = "step"

    def __post_init__(self):
        object.__setattr__(self, "lowers", _ints("lowers", self.lowers, 0, MAX_READING + 1))
        object.__setattr__(self, "prices", _ints("prices", self.prices))
        _ints("max_reading", [self.max_reading], 0, MAX_READING + 1)
        if not self.lowers or self.lowers[0] != 0 or len(self.prices) != len(self.lowers):
            raise ValueError("step tariff: lowers must start at 0, one price per band")
        _increasing("lowers", self.lowers + (self.max_reading + 1,))

    def bands(self):
        """(lower, width, price) per band."""
        ups = self.lowers[1:] + (self.max_reading + 1,)
        return [(lo, up - lo, pr) for lo, up, pr in zip(self.lowers, ups, self.prices)]

    def band(self, m: int) -> int:
        if type(m) is not int or not 0 <= m <= self.max_reading:
            raise ValueError("reading %r outside [0, %d]" % (m, self.max_reading))
        return max(j for j, lo in enumerate(self.lowers) if lo <= m)

    def cost(self, readings: Sequence[int]) -> int:
        return sum(self.prices[self.band(m)] * m for m in readings)

    def body(self):
        return {"bands": [[lo, pr] for lo, pr in zip(self.lowers, self.prices)], "max_reading": self.max_reading}


def _tiers(total: int, widths: Sequence[int]) -> List[int]:
    pieces, rest = [], total
    for w in widths:
        x = min(rest, w)
        pieces.append(x)
        rest -= x
    return pieces + [rest]


@dataclass(frozen=True)
class CumulativeTariff(_Tariff):
    """First thresholds[0] Wh of the period at prices[0], up to thresholds[1] at prices[1],
    ..., the rest at prices[-1] (len(prices) == len(thresholds) + 1)."""

    thresholds: Tuple[int, ...]
    prices: Tuple[int, ...]
    max_reading: int = MAX_READING
    kind_name = "cumulative"

    def __post_init__(self):
        object.__setattr__(self, "thresholds", _ints("thresholds", self.thresholds, 1, 1 << 40))
        object.__setattr__(self, "prices", _ints("prices", self.prices))
        _ints("max_reading", [self.max_reading], 0, MAX_READING + 1)
        _increasing("thresholds", self.thresholds)
        if len(self.prices) != len(self.thresholds) + 1:
            raise ValueError("cumulative tariff: one price per tier (thresholds + 1)")

    def widths(self):
        return [b - a for a, b in zip((0,) + self.thresholds, self.thresholds)]

    def cost(self, readings: Sequence[int]) -> int:
        return sum(p * x for p, x in zip(self.prices, _tiers(sum(readings), self.widths())))

    def body(self):
        return {"thresholds": list(self.thresholds), "prices": list(self.prices), "max_reading": self.max_reading}


@dataclass(frozen=True)
class ThresholdTariff(_Tariff):
    """Demand response: in slots (indices into the period) consumption should stay <= limit;
    each Wh above costs price."""

    slots: Tuple[int, ...]
    limit: int
    price: int
    max_reading: int = MAX_READING
    kind_name = "threshold"

    def __post_init__(self):
        object.__setattr__(self, "slots", _ints("slots", self.slots, 0, 1 << 32))
        _increasing("slots", self.slots)
        _ints("max_reading", [self.max_reading], 1, MAX_READING + 1)
        _ints("limit", [self.limit], 0, self.max_reading)
        _ints("price", [self.price], 1, MAX_PRICE)
        if not self.slots:
            raise ValueError("threshold tariff: no slots")

    def cost(self, readings: Sequence[int]) -> int:
        return self.price * sum(max(readings[t] - self.limit, 0) for t in self.slots)

    def body(self):
        return {"slots": list(self.slots), "limit": self.limit, "price": self.price, "max_reading": self.max_reading}


@dataclass(frozen=True)
class RebateTariff(_Tariff):
    """Reward for savings S = max(baseline - M, 0): the first thresholds[0] Wh of savings at
    rates[0], ..., the rest at rates[-1]; progressive when rates increase."""

    baseline: int
    thresholds: Tuple[int, ...]
    rates: Tuple[int, ...]
    max_reading: int = MAX_READING
    kind_name = "rebate"

    def __post_init__(self):
        _ints("baseline", [self.baseline], 0, 1 << 40)
        object.__setattr__(self, "thresholds", _ints("thresholds", self.thresholds, 1, 1 << 40))
        object.__setattr__(self, "rates", _ints("rates", self.rates))
        _ints("max_reading", [self.max_reading], 0, MAX_READING + 1)
        _increasing("thresholds", self.thresholds)
        if len(self.rates) != len(self.thresholds) + 1:
            raise ValueError("rebate tariff: one rate per tier (thresholds + 1)")

    def widths(self):
        return [b - a for a, b in zip((0,) + self.thresholds, self.thresholds)]

    def cost(self, readings: Sequence[int]) -> int:
        s = max(self.baseline - sum(readings), 0)
        return sum(p * x for p, x in zip(self.rates, _tiers(s, self.widths())))

    def body(self):
        return {
            "baseline": self.baseline,
            "thresholds": list(self.thresholds),
            "rates": list(self.rates),
            "max_reading": self.max_reading,
        }


@dataclass(frozen=True)
class BillProof:
    kind: str
    amount: int
    proof: bytes = field(repr=False)


# ---------------------------------------------------------------- common statement handling


def _transcript(G: GroupView, kind: int, tariff: _Tariff, ctx: bytes, Cs, amount: int):
    tr = Transcript(b"tariff/%d" % kind)
    tr.absorb(b"group", G.digest)
    tr.absorb(b"tariff", tariff.canonical())
    tr.absorb(b"context", bytes(ctx))
    tr.absorb_elements(b"commitments", Cs, G.plen)
    tr.absorb_signed(b"amount", amount)
    return tr


def _check_inputs(G: GroupView, tariff, cls, Cs, amount) -> list:
    if not isinstance(tariff, cls):
        raise ProofError("tariff is not a %s" % cls.__name__)
    if type(amount) is not int or not 0 <= amount < G.q:
        raise ProofError("amount must be an int in [0, q)")
    Cs = list(Cs)
    if not Cs:
        raise ProofError("no commitments")
    for C in Cs:
        if not G.is_element(C):
            raise ProofError("a commitment is not in the order-q subgroup")
    return Cs


def _check_openings(Cs, ms, rs, max_reading):
    if not (len(Cs) == len(ms) == len(rs)):
        raise ValueError("commitments, readings and randomness differ in length")
    for m in ms:
        if type(m) is not int or not 0 <= m <= max_reading:
            raise ValueError("reading %r outside [0, %d]" % (m, max_reading))


def _prod(G: GroupView, xs) -> int:
    p, acc = G.p, 1
    for x in xs:
        acc = acc * x % p
    return acc


def _sum_bits(n_slots: int, max_reading: int) -> int:
    return max(1, (n_slots * max_reading).bit_length())


# ---------------------------------------------------------------- step tariff


def _step_branches(G, tariff, C, D, W=None, R=None, m=None, r=None, rho=None):
    p, q = G.p, G.q
    Cinv = pow(C, -1, p)
    kids = []
    real = tariff.band(m) if m is not None else None
    for j, (lo, w, price) in enumerate(tariff.bands()):
        Cb = C * pow(G.ginv, lo, p) % p
        if W is not None:
            rn = _range.prove_node(G, Cb, m - lo, r, w, W)
        else:
            rn = _range.verify_node(G, Cb, w, R)
        Y = D * pow(Cinv, price, p) % p
        wit = ((rho - price * r) % q,) if j == real else None
        kids.append(sigma.And([rn, sigma.Atom(Y, (G.h,), wit)]))
    return sigma.Or(kids, real)


# Per-slot work (all the exponentiations) runs in _unit_* functions, sequentially or in
# worker processes (workers > 1, fork start method): the proof bytes are the same either
# way. Workers get the group and tariff once, through the pool initializer.
_WORK: dict = {}


def _init_worker(G, tariff) -> None:
    _WORK["G"], _WORK["tariff"] = G, tariff


def _pool_call(fn, job):
    return fn(_WORK["G"], _WORK["tariff"], *job)


def _pool_star(args):
    return _pool_call(*args)


def _run(G, tariff, fn, jobs, workers: int, progress=None):
    """fn(G, tariff, *job) for every job, in order; progress(n) after each n jobs done."""
    if workers <= 1 or len(jobs) < 2:
        out = []
        for j in jobs:
            out.append(fn(G, tariff, *j))
            if progress is not None:
                progress(1)
        return out
    import multiprocessing as mp

    with mp.get_context("fork").Pool(workers, _init_worker, (G, tariff)) as pool:
        out = []
        for r in pool.imap(_pool_star, [(fn, j) for j in jobs], chunksize=max(1, min(16, len(jobs) // (4 * workers)))):
            out.append(r)
            if progress is not None:
                progress(1)
        return out


def _unit_step_prove(G, tariff, C, m, r):
    W = Writer.raw(G)
    rho = _rand(G.q)
    D = backend.powmod2(G.g, tariff.prices[tariff.band(m)] * m, G.h, rho, G.p)
    W.element(D)
    node = _step_branches(G, tariff, C, D, W=W, m=m, r=r % G.q, rho=rho)
    return W.getvalue(), sigma.commit(G, node), node, rho


def _unit_step_verify(G, tariff, C, aux, resp, e):
    R = Reader.raw(G, aux)
    D = R.element()
    node = _step_branches(G, tariff, C, D, R=R)
    R.done()
    R = Reader.raw(G, resp)
    a = sigma.recompute(G, node, e, R)
    R.done()
    return D, a


def _step_sizes(G, tariff):
    bands = tariff.bands()
    aux = G.plen * (1 + sum(_range.elements(w) for _, w, _ in bands))
    resp = G.qlen * (len(bands) - 1 + sum(_range.scalars(w) + 1 for _, w, _ in bands))
    return aux, resp


def prove_step(
    tariff: StepTariff, commitments, readings, randomness, ctx: bytes = b"", grp=None, workers: int = 1, progress=None
) -> BillProof:
    G = view(grp)
    Cs = list(commitments)
    _check_openings(Cs, readings, randomness, tariff.max_reading)
    amount = tariff.cost(readings)
    units = _run(G, tariff, _unit_step_prove, list(zip(Cs, readings, randomness)), workers, progress)
    aux = b"".join(u[0] for u in units) + (sum(u[3] for u in units) % G.q).to_bytes(G.qlen, "big")
    W = Writer(G, KIND_STEP)
    W.raw_bytes(aux)
    tr = _transcript(G, KIND_STEP, tariff, ctx, Cs, amount)
    tr.absorb(b"aux", aux)
    sigma.prove(G, tr, sigma.And([u[2] for u in units]), W, [x for u in units for x in u[1]])
    return BillProof("step", amount, W.getvalue())


def verify_step(
    tariff: StepTariff,
    commitments,
    amount: int,
    proof: bytes,
    ctx: bytes = b"",
    grp=None,
    workers: int = 1,
    progress=None,
) -> int:
    G = view(grp)
    Cs = _check_inputs(G, tariff, StepTariff, commitments, amount)
    R = Reader(G, KIND_STEP, proof)
    aux_len, resp_len = _step_sizes(G, tariff)
    mark = R.mark()
    auxs = [R.take(aux_len) for _ in Cs]
    Rsum = R.scalar()
    aux = R.since(mark)
    e = R.scalar()
    resps = [R.take(resp_len) for _ in Cs]
    R.done()
    res = _run(G, tariff, _unit_step_verify, [(C, x, y, e) for C, x, y in zip(Cs, auxs, resps)], workers, progress)
    if _prod(G, [r[0] for r in res]) != backend.powmod2(G.g, amount, G.h, Rsum, G.p):
        raise ProofError("per-slot cost commitments do not add up to the bill")
    tr = _transcript(G, KIND_STEP, tariff, ctx, Cs, amount)
    tr.absorb(b"aux", aux)
    sigma.check(G, tr, e, [x for r in res for x in r[1]])
    return amount


# ---------------------------------------------------------------- tiers (cumulative, rebate)


def _tiered_prove(G, W, CV, V, rV, widths, top_bits, rates):
    """Split committed V into tier pieces; return (nodes, amount); writes pieces, then rho."""
    p, q = G.p, G.q
    pieces = _tiers(V, widths)
    if pieces[-1] >> top_bits:
        raise ValueError("value too large for the top tier")
    s = [_rand(q) for _ in widths]
    A = [G.commit(x, si) for x, si in zip(pieces, s)]
    for a in A:
        W.element(a)
    A.append(CV * pow(_prod(G, A), -1, p) % p)
    s.append((rV - sum(s)) % q)
    return (
        _tiered_nodes(G, A, widths, top_bits, W=W, pieces=pieces, s=s),
        sum(r * x for r, x in zip(rates, pieces)),
        sum(r * x for r, x in zip(rates, s)) % q,
    )


def _tiered_nodes(G, A, widths, top_bits, W=None, R=None, pieces=None, s=None):
    p = G.p
    nodes = []
    ws = list(widths) + [None]
    for i, w in enumerate(ws):
        width = (w + 1) if w is not None else (1 << top_bits)
        if W is not None:
            nodes.append(_range.prove_node(G, A[i], pieces[i], s[i], width, W))
        else:
            nodes.append(_range.verify_node(G, A[i], width, R))
    for i, w in enumerate(widths):  # fill in order: next piece empty OR this piece full
        full = A[i] * pow(G.ginv, w, p) % p
        real = None
        if pieces is not None:
            real = 0 if pieces[i + 1] == 0 else (1 if pieces[i] == w else None)
        nodes.append(
            sigma.Or(
                [
                    sigma.Atom(A[i + 1], (G.h,), (s[i + 1],) if real == 0 else None),
                    sigma.Atom(full, (G.h,), (s[i],) if real == 1 else None),
                ],
                real,
            )
        )
    return nodes


def _tiered_verify(G, R, CV, widths, top_bits):
    A = [R.element() for _ in widths]
    A.append(CV * pow(_prod(G, A), -1, G.p) % G.p)
    return A, _tiered_nodes(G, A, widths, top_bits, R=R)


def _check_amount(G, A, rates, amount, rho):
    acc = 1
    for a, rate in zip(A, rates):
        acc = acc * pow(a, rate, G.p) % G.p
    if acc != backend.powmod2(G.g, amount, G.h, rho, G.p):
        raise ProofError("tier pieces do not add up to the claimed amount")


def prove_cumulative(
    tariff: CumulativeTariff, commitments, readings, randomness, ctx: bytes = b"", grp=None
) -> BillProof:
    G = view(grp)
    Cs = list(commitments)
    _check_openings(Cs, readings, randomness, tariff.max_reading)
    W = Writer(G, KIND_CUMULATIVE)
    mark = W.mark()
    nodes, amount, rho = _tiered_prove(
        G,
        W,
        _prod(G, Cs),
        sum(readings),
        sum(randomness) % G.q,
        tariff.widths(),
        _sum_bits(len(Cs), tariff.max_reading),
        tariff.prices,
    )
    W.scalar(rho)
    tr = _transcript(G, KIND_CUMULATIVE, tariff, ctx, Cs, amount)
    tr.absorb(b"aux", W.since(mark))
    sigma.prove(G, tr, sigma.And(nodes), W)
    return BillProof("cumulative", amount, W.getvalue())


def verify_cumulative(
    tariff: CumulativeTariff, commitments, amount: int, proof: bytes, ctx: bytes = b"", grp=None
) -> int:
    G = view(grp)
    Cs = _check_inputs(G, tariff, CumulativeTariff, commitments, amount)
    R = Reader(G, KIND_CUMULATIVE, proof)
    mark = R.mark()
    A, nodes = _tiered_verify(G, R, _prod(G, Cs), tariff.widths(), _sum_bits(len(Cs), tariff.max_reading))
    _check_amount(G, A, tariff.prices, amount, R.scalar())
    tr = _transcript(G, KIND_CUMULATIVE, tariff, ctx, Cs, amount)
    tr.absorb(b"aux", R.since(mark))
    sigma.verify(G, tr, sigma.And(nodes), R)
    R.done()
    return amount


def _rebate_nodes(G, A_S, A_Z, zbits, W=None, R=None, S=None, Z=None, s=None, sz=None):
    if W is not None:
        rz = _range.prove_node(G, A_Z, Z, sz, 1 << zbits, W)
        real = 0 if S == 0 else (1 if Z == 0 else None)
    else:
        rz = _range.verify_node(G, A_Z, 1 << zbits, R)
        real = None
    return [
        rz,
        sigma.Or(
            [
                sigma.Atom(A_S, (G.h,), (s,) if real == 0 else None),
                sigma.Atom(A_Z, (G.h,), (sz,) if real == 1 else None),
            ],
            real,
        ),
    ]


def prove_rebate(tariff: RebateTariff, commitments, readings, randomness, ctx: bytes = b"", grp=None) -> BillProof:
    G = view(grp)
    p, q = G.p, G.q
    Cs = list(commitments)
    _check_openings(Cs, readings, randomness, tariff.max_reading)
    M, rM = sum(readings), sum(randomness) % q
    S = max(tariff.baseline - M, 0)
    Z = S - (tariff.baseline - M)
    CM = _prod(G, Cs)
    W = Writer(G, KIND_REBATE)
    mark = W.mark()
    s = _rand(q)
    A_S = G.commit(S, s)
    W.element(A_S)
    A_Z = A_S * CM % p * pow(G.ginv, tariff.baseline, p) % p
    zbits = _sum_bits(len(Cs), tariff.max_reading)
    nodes = _rebate_nodes(G, A_S, A_Z, zbits, W=W, S=S, Z=Z, s=s, sz=(s + rM) % q)
    tn, amount, rho = _tiered_prove(
        G, W, A_S, S, s, tariff.widths(), max(1, tariff.baseline.bit_length()), tariff.rates
    )
    W.scalar(rho)
    tr = _transcript(G, KIND_REBATE, tariff, ctx, Cs, amount)
    tr.absorb(b"aux", W.since(mark))
    sigma.prove(G, tr, sigma.And(nodes + tn), W)
    return BillProof("rebate", amount, W.getvalue())


def verify_rebate(tariff: RebateTariff, commitments, amount: int, proof: bytes, ctx: bytes = b"", grp=None) -> int:
    G = view(grp)
    p = G.p
    Cs = _check_inputs(G, tariff, RebateTariff, commitments, amount)
    R = Reader(G, KIND_REBATE, proof)
    mark = R.mark()
    A_S = R.element()
    A_Z = A_S * _prod(G, Cs) % p * pow(G.ginv, tariff.baseline, p) % p
    nodes = _rebate_nodes(G, A_S, A_Z, _sum_bits(len(Cs), tariff.max_reading), R=R)
    A, tn = _tiered_verify(G, R, A_S, tariff.widths(), max(1, tariff.baseline.bit_length()))
    _check_amount(G, A, tariff.rates, amount, R.scalar())
    tr = _transcript(G, KIND_REBATE, tariff, ctx, Cs, amount)
    tr.absorb(b"aux", R.since(mark))
    sigma.verify(G, tr, sigma.And(nodes + tn), R)
    R.done()
    return amount


# ---------------------------------------------------------------- threshold (demand response)


def _threshold_branches(G, tariff, C, E, W=None, R=None, m=None, r=None, u=None):
    p, q = G.p, G.q
    L, top = tariff.limit, tariff.max_reading
    E1 = E * G.ginv % p
    over = C * pow(G.ginv, L, p) % p * pow(E, -1, p) % p
    if W is not None:
        real = 0 if m <= L else 1
        e = max(m - L, 0)
        r_ok = _range.prove_node(G, C, m, r, L + 1, W)
        r_over = _range.prove_node(G, E1, e - 1, u, top - L, W)
    else:
        real = None
        r_ok = _range.verify_node(G, C, L + 1, R)
        r_over = _range.verify_node(G, E1, top - L, R)
    return sigma.Or(
        [
            sigma.And([r_ok, sigma.Atom(E, (G.h,), (u,) if real == 0 else None)]),
            sigma.And([r_over, sigma.Atom(over, (G.h,), ((r - u) % q,) if real == 1 else None)]),
        ],
        real,
    )


def _unit_threshold_prove(G, tariff, C, m, r):
    W = Writer.raw(G)
    e, u = max(m - tariff.limit, 0), _rand(G.q)
    E = G.commit(e, u)
    W.element(E)
    node = _threshold_branches(G, tariff, C, E, W=W, m=m, r=r % G.q, u=u)
    return W.getvalue(), sigma.commit(G, node), node, u, e


def _unit_threshold_verify(G, tariff, C, aux, resp, e):
    R = Reader.raw(G, aux)
    E = R.element()
    node = _threshold_branches(G, tariff, C, E, R=R)
    R.done()
    R = Reader.raw(G, resp)
    a = sigma.recompute(G, node, e, R)
    R.done()
    return E, a


def _threshold_sizes(G, tariff):
    w1, w2 = tariff.limit + 1, tariff.max_reading - tariff.limit
    aux = G.plen * (1 + _range.elements(w1) + _range.elements(w2))
    resp = G.qlen * (3 + _range.scalars(w1) + _range.scalars(w2))
    return aux, resp


def prove_threshold(
    tariff: ThresholdTariff,
    commitments,
    readings,
    randomness,
    ctx: bytes = b"",
    grp=None,
    workers: int = 1,
    progress=None,
) -> BillProof:
    G = view(grp)
    Cs = list(commitments)
    _check_openings(Cs, readings, randomness, tariff.max_reading)
    if tariff.slots[-1] >= len(Cs):
        raise ValueError("threshold tariff names a slot beyond the period")
    jobs = [(Cs[t], readings[t], randomness[t]) for t in tariff.slots]
    units = _run(G, tariff, _unit_threshold_prove, jobs, workers, progress)
    aux = b"".join(u[0] for u in units) + (sum(u[3] for u in units) % G.q).to_bytes(G.qlen, "big")
    amount = tariff.price * sum(u[4] for u in units)
    W = Writer(G, KIND_THRESHOLD)
    W.raw_bytes(aux)
    tr = _transcript(G, KIND_THRESHOLD, tariff, ctx, Cs, amount)
    tr.absorb(b"aux", aux)
    sigma.prove(G, tr, sigma.And([u[2] for u in units]), W, [x for u in units for x in u[1]])
    return BillProof("threshold", amount, W.getvalue())


def verify_threshold(
    tariff: ThresholdTariff,
    commitments,
    amount: int,
    proof: bytes,
    ctx: bytes = b"",
    grp=None,
    workers: int = 1,
    progress=None,
) -> int:
    G = view(grp)
    Cs = _check_inputs(G, tariff, ThresholdTariff, commitments, amount)
    if tariff.slots[-1] >= len(Cs):
        raise ProofError("threshold tariff names a slot beyond the period")
    if amount % tariff.price:
        raise ProofError("penalty is not a multiple of the price")
    R = Reader(G, KIND_THRESHOLD, proof)
    aux_len, resp_len = _threshold_sizes(G, tariff)
    mark = R.mark()
    auxs = [R.take(aux_len) for _ in tariff.slots]
    U = R.scalar()
    aux = R.since(mark)
    e = R.scalar()
    resps = [R.take(resp_len) for _ in tariff.slots]
    R.done()
    jobs = [(Cs[t], x, y, e) for t, x, y in zip(tariff.slots, auxs, resps)]
    res = _run(G, tariff, _unit_threshold_verify, jobs, workers, progress)
    if _prod(G, [r[0] for r in res]) != backend.powmod2(G.g, amount // tariff.price, G.h, U, G.p):
        raise ProofError("excess commitments do not add up to the penalty")
    tr = _transcript(G, KIND_THRESHOLD, tariff, ctx, Cs, amount)
    tr.absorb(b"aux", aux)
    sigma.check(G, tr, e, [x for r in res for x in r[1]])
    return amount


# ---------------------------------------------------------------- JSON form
# The supplier signs tariffs in the host's one signed-tariff format (veriwatt/tariff.py,
# docs/TARIFF.md: kind step / cumulative / threshold / rebate, supplier key files of
# veriwatt/keys.py); these are the kind-specific parameters it carries.

_FIELDS = {
    "step": {"bands", "max_reading"},
    "cumulative": {"thresholds", "prices", "max_reading"},
    "threshold": {"slots", "limit", "price", "max_reading"},
    "rebate": {"baseline", "thresholds", "rates", "max_reading"},
}


def to_json(tariff: _Tariff) -> dict:
    """The tariff as a JSON object (its canonical form: what every proof transcript absorbs)."""
    return json.loads(tariff.canonical())


def from_json(obj) -> _Tariff:
    """Parse and validate a tariff JSON object; ValueError on anything unexpected."""
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise ValueError("not a %s object" % FORMAT)
    kind = obj.get("kind")
    if kind not in _FIELDS:
        raise ValueError("unknown zk tariff kind %r" % (kind,))
    if set(obj) != _FIELDS[kind] | {"format", "kind"}:
        raise ValueError("%s tariff: fields must be exactly %s" % (kind, sorted(_FIELDS[kind])))
    try:
        if kind == "step":
            bands = obj["bands"]
            if not isinstance(bands, list) or not all(isinstance(b, list) and len(b) == 2 for b in bands):
                raise ValueError("step tariff: bands must be [[lower, price], ...]")
            t = StepTariff(tuple(b[0] for b in bands), tuple(b[1] for b in bands), obj["max_reading"])
        elif kind == "cumulative":
            t = CumulativeTariff(tuple(obj["thresholds"]), tuple(obj["prices"]), obj["max_reading"])
        elif kind == "threshold":
            t = ThresholdTariff(tuple(obj["slots"]), obj["limit"], obj["price"], obj["max_reading"])
        else:
            t = RebateTariff(obj["baseline"], tuple(obj["thresholds"]), tuple(obj["rates"]), obj["max_reading"])
    except TypeError as e:
        raise ValueError("malformed %s tariff: %s" % (kind, e))
    if t.canonical() != _canonical(obj):
        raise ValueError("tariff is not in canonical form")
    return t


PROVERS = {"step": prove_step, "cumulative": prove_cumulative, "threshold": prove_threshold, "rebate": prove_rebate}
VERIFIERS = {
    "step": verify_step,
    "cumulative": verify_cumulative,
    "threshold": verify_threshold,
    "rebate": verify_rebate,
}
