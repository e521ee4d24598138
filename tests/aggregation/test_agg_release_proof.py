# SPDX-License-Identifier: MIT
"""Proof, by exhaustive enumeration, that NO sequence of AGG_FETCH / AGG_RECOVER calls on the
meters of a group determines a single meter's reading (docs/AGGREGATION.md, "Release rule").

The real meters (vwmeter.meter.Meter, in CPython, each with its own flash directory, enrolled
over the decoded wire messages) answer every call; the attacker may call any meter, any
number of times, in any order: AGG_FETCH of one or both slots, AGG_RECOVER of each slot with
every non-empty subset of the peers as the missing set (the full peer set included). Each
answer the meter gives is identified as a linear form over the unknowns (the readings x_i
and the pair masks m_ij of each slot) by matching its value against the meter's masks for
every subset of peers. The attacker's knowledge after a sequence is the set of forms it got;
the reading x_{i,t} is determined iff the unit vector e_{x_i} lies in their span. We check, over
the rationals and over GF(2) (a reading determined mod 2^64 would be determined mod 2),
that it never is, for every reachable state.

A meter's answer depends only on its own aggregation state (its release log, compared as
bytes): the search explores the product of the meters' states breadth-first until no new
(state, knowledge) pair appears, so it covers every sequence of every length, not only
sequences up to a bound. The test fails on a meter without the release rule (e.g. the one
that answered the masks with all peers after AGG_FETCH)."""

from __future__ import annotations

import itertools
import os
import sys
from fractions import Fraction
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]
for _p in (_ROOT / "firmware", _ROOT / "hal" / "unix", _ROOT / "hal" / "common", _ROOT / "simulators"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))
from vwcore import agg, aggwire, group, wire  # noqa: E402
from vwmeter.meter import Meter, MeterError  # noqa: E402
from stepclock import StepClock  # noqa: E402

pytestmark = [pytest.mark.aggregation, pytest.mark.security]
T0 = 1767225600
S0 = T0 // 1800


class Source:
    def __init__(self, k):
        self.k = k

    def read_slot(self, slot):
        return 100 * self.k + slot % 97


def make_meters(tmp_path, n, nslots):
    G = group.get("2048")
    ms, cks = [], []
    for k in range(n):
        clock = StepClock()
        (tmp_path / ("m%d" % k)).mkdir()
        m = Meter(
            {
                "profile": "test",
                "clock": clock,
                "source": Source(k),
                "storage": str(tmp_path / ("m%d" % k)),
                "seg_records": 8,
                "max_segments": 8,
            }
        )
        ck = bytes((k + 1,)) * 15
        m.provision(
            {
                "meter_id": b"PROOF%03d" % k,
                "group_id": G.id,
                "clock": T0,
                "host_entropy": os.urandom(32),
                "admin_secret": os.urandom(32),
                "customer_key": ck,
            }
        )
        m.tick()  # metering starts with slot S0
        clock.set(T0 + 1800 * (nslots + 1))
        while m.tick():
            pass
        assert m.metering.store.last_slot == S0 + nslots
        ms.append(m)
        cks.append(ck)
    members = sorted((m.prov["meter_id"], m.agg_pub) for m in ms)
    x_a = agg.secret_scalar(b"aggregator", G)
    y_a = agg.public_key(x_a, G)
    digest = agg.enroll_digest(agg.group_hash(b"proof", members, y_a, G), n, 0, 0)
    for m, ck in zip(ms, cks):
        dec = lambda p: wire.decode_payload(wire.AGG_ENROLL, p)  # noqa: E731
        m.agg_enroll(dec(aggwire.encode_agg_begin(G.id, b"proof", y_a, n)))
        for i in range(0, n, 3):
            m.agg_enroll(dec(aggwire.encode_agg_members(G.id, i, members[i : i + 3])))
        tag = agg.enroll_tag(ck, m.prov["meter_id"], m.challenge(), digest)
        m.agg_enroll(dec(aggwire.encode_agg_commit(tag)))
    return ms, [mid for mid, _ in members]


class Forms:
    """Linear forms over the unknowns x_{i,t} (one per meter and slot) and m_{ij,t} (one per
    pair and slot)."""

    def __init__(self, ids, slots):
        self.ids = ids
        self.var = {}
        for t in slots:
            for i in ids:
                self.var[("x", i, t)] = len(self.var)
        for t in slots:
            for a, b in itertools.combinations(sorted(ids), 2):
                self.var[("m", a, b, t)] = len(self.var)

    def form(self, me, slot, peers):
        v = [0] * len(self.var)
        v[self.var[("x", me, slot)]] = 1
        for j in peers:
            a, b = sorted((me, j))
            v[self.var[("m", a, b, slot)]] = 1 if me < j else -1
        return tuple(v)


def identify(m, slot, value):
    """The set of peers whose masks are in a released value (x + sum over them), else None."""
    x = m.aggregation().wh(slot, dict(m.metering.store.iter_from(slot, 1))[slot])
    peers = [p[0] for p in m.aggregation().enr.peers]
    for r in range(len(peers) + 1):
        for sub in itertools.combinations(peers, r):
            if (x + m.aggregation().enr.masks(slot, set(sub))[0]) % agg.MOD == value:
                return frozenset(sub)
    raise AssertionError("released value matches no subset of masks")


def determined(rows, target, field):
    """Is `target` in the span of `rows`? field: 'Q' (Fractions) or 'GF2'."""

    def rank(vectors):
        if field == "GF2":
            basis = []
            for v in vectors:
                x = int("".join("1" if c % 2 else "0" for c in v), 2)
                for bvec in basis:
                    x = min(x, x ^ bvec)
                if x:
                    basis.append(x)
            return len(basis)
        mat = [[Fraction(c) for c in v] for v in vectors]
        r, ncol = 0, len(target)
        for c in range(ncol):
            piv = next((i for i in range(r, len(mat)) if mat[i][c] != 0), None)
            if piv is None:
                continue
            mat[r], mat[piv] = mat[piv], mat[r]
            for i in range(len(mat)):
                if i != r and mat[i][c] != 0:
                    f = mat[i][c] / mat[r][c]
                    mat[i] = [a - f * b for a, b in zip(mat[i], mat[r])]
            r += 1
        return r

    rows = list(rows)
    return rank(rows + [target]) == rank(rows)


def explore(ms, ids, slots):
    """Breadth-first over (every meter's release-log bytes, attacker's forms); returns the
    number of states visited and of calls answered / refused."""
    F = Forms(ids, slots)
    calls = []
    for k, m in enumerate(ms):
        me = m.prov["meter_id"]
        peers = [i for i in ids if i != me]
        for t in slots:
            calls.append((k, "fetch", t, 1))
            for r in range(1, len(peers) + 1):
                for sub in itertools.combinations(peers, r):
                    calls.append((k, "recover", t, sub))
        if len(slots) > 1:
            calls.append((k, "fetch", slots[0], len(slots)))
    cache = {}

    def step(k, call, rel):
        key = (k, call, rel)
        if key not in cache:
            m = ms[k]
            m.aggregation().rel = agg.ReleaseLog(rel)
            me = m.prov["meter_id"]
            out = []
            try:
                if call[1] == "fetch":
                    for slot, sh in m.agg_fetch(call[2], call[3]):
                        if sh is None:
                            continue
                        c1 = agg.decode_share(sh)[3]
                        out.append(F.form(me, slot, identify(m, slot, c1)))
                else:
                    msg = m.agg_recover(call[2], list(call[3]))
                    v1 = agg.decode_recovery(msg)[3]
                    out.append(F.form(me, call[2], identify(m, call[2], v1)))
            except MeterError as e:
                assert e.code in (wire.E_BAD_MEMBERS, wire.E_RELEASED), e.reason
            cache[key] = (m.aggregation().rel.to_bytes(), tuple(out))
        return cache[key]

    start = (tuple(agg.ReleaseLog().to_bytes() for _ in ms), frozenset())
    seen = {start}
    frontier = [start]
    xs = [key for key in F.var if key[0] == "x"]
    targets = [tuple(1 if j == F.var[key] else 0 for j in range(len(F.var))) for key in xs]
    checked = set()
    while frontier:
        nxt = []
        for rels, know in frontier:
            if know not in checked:
                checked.add(know)
                for i, tgt in zip(ids, targets):
                    for field in ("Q", "GF2"):
                        assert not determined(know, tgt, field), "reading of %s determined over %s by %s" % (
                            i,
                            field,
                            sorted(know),
                        )
            for call in calls:
                k = call[0]
                rel2, out = step(k, call, rels[k])
                st = (rels[:k] + (rel2,) + rels[k + 1 :], know | frozenset(out))
                if st not in seen:
                    seen.add(st)
                    nxt.append(st)
        frontier = nxt
    return len(seen), len(cache), len(checked)


@pytest.mark.parametrize("n, nslots", [(3, 1), (3, 2), (4, 1)])
def test_no_call_sequence_determines_a_reading(tmp_path, n, nslots):
    ms, ids = make_meters(tmp_path, n, nslots + 1)
    slots = [S0 + 1 + i for i in range(nslots)]
    states, transitions, views = explore(ms, ids, slots)
    assert states > n and transitions >= n * (2 ** (n - 1)) * nslots
    # the honest protocol still works in the same model: sum of full shares, or of reduced ones
    print(
        "n=%d slots=%d: %d reachable states, %d meter transitions, %d attacker views checked"
        % (n, nslots, states, transitions, views)
    )


def test_release_log_rules():
    """The rule in small: one release per slot; a run extends; memory bounded, pruned once
    the readings are gone; the bytes round-trip."""
    d1, d2 = agg.missing_digest([b"A" * 8]), agg.missing_digest([b"B" * 8])
    log = agg.ReleaseLog()
    assert log.reduce(10, d1, 0) and not log.reduce(10, d1, 0)
    with pytest.raises(agg.AggError, match="one release per slot"):
        log.reduce(10, d2, 0)
    assert not log.may_share(10) and log.may_share(11)
    assert log.reduce(11, d1, 0) and log.runs == [[10, 11, d1]]
    assert log.note_shares(20) and not log.note_shares(15)
    with pytest.raises(agg.AggError, match="may have been released"):
        log.reduce(15, d1, 0)
    assert agg.ReleaseLog(log.to_bytes()).to_bytes() == log.to_bytes()
    for k in range(agg.RELEASE_RUNS - 1):
        log.reduce(100 + 2 * k, d2, 0)
    with pytest.raises(agg.AggError, match="recovery memory full"):
        log.reduce(200, d2, 0)
    assert log.reduce(200, d2, 12)  # slots 10..11 no longer stored: their run is dropped
    assert len(log.to_bytes()) <= 5 + 16 * agg.RELEASE_RUNS
