# SPDX-License-Identifier: MIT
"""veriwatt.bulkagg gives exactly the outcome of Aggregator.add_share share by share: the same
accepted shares, re-sends and refusals (same reasons), the same slot results; tampered,
foreign, replayed and malformed shares included."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vwcore import agg
from vwcrypto import aggmac

from veriwatt.aggregation import Aggregator
from veriwatt.bulkagg import BulkAggregator, check_many, slot_sums

pytestmark = [pytest.mark.scale, pytest.mark.aggregation]

# every differential test runs on both MAC paths: the C kernel (vwcrypto.aggmac; the test fails,
# not skips, when the binding lacks it) and the hashlib fallback
PATHS = pytest.mark.parametrize("native", [True, False], ids=["c", "python"])


def make_group(seed: int, n: int = 5):
    """n members with pair keys and MAC keys drawn from a seed (synthetic enrollment, as in
    tools/bench_agg.py; the aggregator's per-share work is the real one)."""
    rnd = random.Random(seed)
    ids = [b"S%02dM%04d" % (seed % 100, i) for i in range(n)]
    gid = bytes(rnd.getrandbits(8) for _ in range(16))
    pair = {(i, j): bytes(rnd.getrandbits(8) for _ in range(32)) for i in range(n) for j in range(i + 1, n)}
    macs = {m: bytes(rnd.getrandbits(8) for _ in range(32)) for m in ids}
    ens = [
        agg.Enrollment(
            mid,
            gid,
            macs[mid],
            [(ids[j], 1 if i < j else -1, pair[(min(i, j), max(i, j))]) for j in range(n) if j != i],
        )
        for i, mid in enumerate(ids)
    ]
    return ens, gid, macs


def reference(gid, macs, shares, prep=None):
    A = Aggregator.from_keys(gid, macs)
    if prep:
        prep(A)
    out = []
    for s in shares:
        try:
            out.append("new" if A.add_share(s) else "resent")
        except agg.AggError as e:
            out.append(str(e))
    return A, out


def bulk(gid, macs, shares, prep=None, native=None, batches=1):
    A = Aggregator.from_keys(gid, macs)
    if prep:
        prep(A)
    B = BulkAggregator(A, native=native)
    assert B.native == (native if native is not None else aggmac.AVAILABLE)
    rep, k = None, -(-len(shares) // batches) or 1
    for o in range(0, max(1, len(shares)), k):  # several batches: the report of all, indices from 0
        r = B.add_shares(shares[o : o + k])
        if rep is None:
            rep = r
        else:
            rep.accepted, rep.resent = rep.accepted + r.accepted, rep.resent + r.resent
            rep.refused += [(o + i, why) for i, why in r.refused]
    return A, rep


def results(A, slots):
    out = {}
    for t in slots:
        try:
            r = A.result(t)
            out[t] = (r.total, r.total_sq, r.members, r.missing)
        except agg.AggError as e:
            out[t] = str(e)
    return out


def same(gid, macs, shares, slots, prep=None, native=None, batches=1):
    A1, ref = reference(gid, macs, shares, prep)
    A2, rep = bulk(gid, macs, shares, prep, native, batches)
    assert rep.accepted == ref.count("new")
    assert rep.resent == ref.count("resent")
    assert rep.refused == [(i, r) for i, r in enumerate(ref) if r not in ("new", "resent")]
    assert results(A2, slots) == results(A1, slots)
    return ref


def honest_shares(ens, slots, rnd):
    return [e.share(t, rnd.randrange(0, 3000)) for t in slots for e in ens]


def test_c_kernel_built():
    """tools/setup installs libssl-dev: the binding must have the kernel, and it is the default."""
    assert aggmac.AVAILABLE
    ens, gid, macs = make_group(1)
    assert BulkAggregator(Aggregator.from_keys(gid, macs)).native


@PATHS
def test_honest_batch_sums_equal(native):
    ens, gid, macs = make_group(1)
    rnd = random.Random(2)
    shares = honest_shares(ens, range(100, 104), rnd)
    ref = same(gid, macs, shares, range(100, 104), native=native)
    assert ref == ["new"] * len(shares)
    A, rep = bulk(gid, macs, shares, native=native)
    r = A.result(101)
    assert slot_sums(A, 101)[0] == r.total % agg.MOD


def flip(s: bytes, pos: int) -> bytes:
    b = bytearray(s)
    b[pos % len(b)] ^= 1 << (pos % 8)
    return bytes(b)


@pytest.mark.security
@PATHS
@pytest.mark.parametrize("batches", [1, 3])
def test_tampered_foreign_replayed_refused_with_reasons(native, batches):
    ens, gid, macs = make_group(3)
    ens2, gid2, macs2 = make_group(4)
    rnd = random.Random(5)
    shares = honest_shares(ens, [7, 8], rnd)
    bad = [
        flip(shares[0], 30),  # reading changed: MAC fails
        flip(shares[1], 50),  # tag changed
        honest_shares(ens2, [7], rnd)[0],  # another group's share
        shares[2],  # identical re-send
        ens[2].share(7, 1),  # a second, different share: replay or forgery
        shares[3][:-1],  # wrong length
        flip(shares[4], 18),
    ]  # member id changed: not a member (or MAC)
    bad += [flip(s, 36) for s in honest_shares(ens, [9], rnd)]  # every member: slot 9 square sum changed
    ref = same(gid, macs, shares + bad, [7, 8, 9], native=native, batches=batches)
    assert ref[len(shares) :][3] == "resent"
    assert all(r not in ("new", "resent") for i, r in enumerate(ref[len(shares) :]) if i != 3)
    assert sum("bad MAC" in r for r in ref) >= len(ens) + 2


@pytest.mark.security
@PATHS
def test_closed_and_recovered_slots(native):
    ens, gid, macs = make_group(6)
    rnd = random.Random(7)
    first = honest_shares(ens, [1], rnd)

    def prep(A):
        for s in first:
            A.add_share(s)
        A.close(1)
        A.start_recovery(2, [ens[0].member_id])

    shares = honest_shares(ens, [1, 2, 3], rnd)
    ref = same(gid, macs, shares, [1, 2, 3], prep, native)
    assert "closed" in ref[0] and "recovered" in ref[len(ens) + 1]


@PATHS
def test_many_groups_routed(native):
    groups = [make_group(10 + g) for g in range(3)]
    rnd = random.Random(8)
    shares = [s for ens, _, _ in groups for s in honest_shares(ens, [5], rnd)]
    bulks = {gid: BulkAggregator(Aggregator.from_keys(gid, macs), native=native) for _, gid, macs in groups}
    reps = check_many(bulks, shares + [b"\x00" * agg.SHARE_LEN])
    assert sum(r.accepted for r in reps.values()) == len(shares)
    assert reps[b""].refused[0][1] == "share is for no known aggregation group"


@st.composite
def mutations(draw):
    return draw(
        st.lists(
            st.tuples(
                st.sampled_from(["flip", "dup", "swap", "drop", "replace", "cut"]),
                st.integers(0, 59),
                st.integers(0, 479),
            ),
            min_size=1,
            max_size=6,
        )
    )


@pytest.mark.security
@PATHS
@settings(max_examples=80, deadline=None)
@given(muts=mutations(), batches=st.integers(1, 4))
def test_generated_sequences_same_outcome(native, muts, batches):
    ens, gid, macs = make_group(20)
    rnd = random.Random(21)
    shares = honest_shares(ens, [30, 31, 32], rnd)
    for what, i, pos in muts:
        i %= len(shares)
        if what == "flip":
            shares[i] = flip(shares[i], pos)
        elif what == "dup":
            shares.insert(pos % len(shares), shares[i])
        elif what == "swap":
            j = pos % len(shares)
            shares[i], shares[j] = shares[j], shares[i]
        elif what == "drop" and len(shares) > 1:
            shares.pop(i)
        elif what == "replace":
            shares[i] = ens[pos % len(ens)].share(30 + pos % 3, pos)
        elif what == "cut":
            shares[i] = shares[i][: pos % agg.SHARE_LEN]
    same(gid, macs, shares, [30, 31, 32], native=native, batches=batches)


@pytest.mark.security
@PATHS
def test_second_batch_meets_stored_shares(native):
    """Shares already stored for a slot (an earlier batch or add_share): identical ones are
    re-sends, different ones replays, the missing ones accepted; bytearray shares too."""
    ens, gid, macs = make_group(22)
    rnd = random.Random(23)
    early = honest_shares(ens[:3], [40], rnd)

    def prep(A):
        for s in early:
            A.add_share(s)

    later = early[:2] + [ens[2].share(40, 5)] + honest_shares(ens[3:], [40], rnd) + honest_shares(ens, [41], rnd)
    ref = same(gid, macs, [bytearray(s) for s in later], [40, 41], prep, native)
    assert ref[:3] == ["resent", "resent", ref[2]] and "replay or forgery" in ref[2]
    assert ref[3:] == ["new"] * (len(later) - 3)


def test_gc_state_restored():
    """add_shares pauses the cyclic garbage collector during a batch and restores its state."""
    import gc

    ens, gid, macs = make_group(24)
    shares = honest_shares(ens, [50], random.Random(25))
    assert gc.isenabled()
    B = BulkAggregator(Aggregator.from_keys(gid, macs))
    assert B.add_shares(shares).accepted == len(shares) and gc.isenabled()
    gc.disable()
    try:
        assert B.add_shares(shares + [b"short"]).resent == len(shares) and not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(TypeError):
        B.add_shares([object()])  # not bytes: the caller's error, the collector is back on
    assert gc.isenabled()
