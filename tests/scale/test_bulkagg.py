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
    assert state(A2, slots) == state(A1, slots)  # the column blocks, turned into the dict, too
    return ref


def state(A, slots):
    """Every slot's full state as the rules read it (the bulk path's blocks materialised)."""
    return {
        t: (
            dict(A._slot(t).shares),
            A.missing(t),
            A.present(t),
            A._slot(t).recovered_without,
            A._slot(t).closed,
        )
        for t in slots
    }


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


def bulk_into(A, shares, native):
    """shares added to A in one bulk batch; the report."""
    return BulkAggregator(A, native=native).add_shares(shares)


@pytest.mark.security
@PATHS
def test_duplicates_within_one_batch(native):
    """In one batch: an identical share twice (the second a re-send), two different valid
    shares of one member for one slot (the first wins, the second is a replay), for a fresh
    slot and for a slot that already holds column blocks."""
    ens, gid, macs = make_group(30)
    rnd = random.Random(31)
    s60 = honest_shares(ens, [60], rnd)
    other = ens[1].share(60, 7)
    batch = s60[:1] + s60 + [other] + [s60[3]]
    ref = same(gid, macs, batch, [60], native=native)
    assert ref[:2] == ["new", "resent"] and "replay or forgery" in ref[len(s60) + 1]
    assert ref[-1] == "resent"

    def prep(A):  # slot 61 holds a block of members 0-2 before the batch
        bulk_into(A, honest_shares(ens[:3], [61], random.Random(32)), native)

    early = honest_shares(ens[:3], [61], random.Random(32))
    batch = [early[0], early[0], ens[0].share(61, 9), ens[3].share(61, 1), ens[3].share(61, 1)]
    batch += [ens[3].share(61, 2), ens[4].share(61, 4)]
    ref = same(gid, macs, batch, [61], prep, native)
    assert ref[:2] == ["resent", "resent"] and "replay or forgery" in ref[2]
    assert ref[3:] == ["new", "resent", ref[5], "new"] and "replay or forgery" in ref[5]


@pytest.mark.security
@PATHS
def test_later_batches_meet_blocks_and_dict_entries(native):
    """A slot holding both a column block (an earlier batch) and dict entries (add_share): a
    later batch's re-sends, conflicting shares and new members get add_share's outcome; the
    result sums the block and the entries, and the block stays unmaterialised until a rule
    needs the dict."""
    ens, gid, macs = make_group(33, n=8)
    rnd = random.Random(34)
    s70 = honest_shares(ens, [70, 71], rnd)
    first, single, later = s70[:3] + s70[8:10], s70[3:5], s70[2:8] + s70[10:]

    def prep(A):
        assert bulk_into(A, first, native).accepted == 5
        for s in single:
            assert A.add_share(s)

    later = later + [ens[6].share(70, 3), ens[0].share(71, 4)]
    ref = same(gid, macs, later, [70, 71], prep, native)
    assert ref[:3] == ["resent"] * 3 and ref[3:6] == ["new"] * 3
    assert "replay or forgery" in ref[-2] and "replay or forgery" in ref[-1]

    fresh = s70[5:8] + s70[10:]  # only members the slots lack: taken in bulk, next to the dict
    A = Aggregator.from_keys(gid, macs)
    prep(A)
    assert bulk_into(A, fresh, native).accepted == len(fresh)
    # slot 70: members 0-4 in the dict (add_share read it), 5-7 a block; slot 71: two blocks
    assert len(A._slot(70)._shares) == 5 and len(A._slot(70)._blocks) == 1
    assert not A._slot(71)._shares and len(A._slot(71)._blocks) == 2
    A1, _ = reference(gid, macs, first + single + fresh)
    for t in (70, 71):
        assert A.result(t) == A1.result(t)
        assert A._slot(t)._blocks
    assert A.close(70) == A1.close(70)
    assert A.missing(70) == [] and not A._slot(70)._blocks  # missing() reads the dict
    assert dict(A._slot(70).shares) == dict(A1._slot(70).shares)


@pytest.mark.security
@PATHS
def test_recovery_after_bulk_adds(native):
    """After a bulk batch: a slot with full shares in blocks refuses recovery like add_share's
    dict (same reason); a slot recovered before the batch refuses the batch's full shares and
    takes reduced shares; missing() names the absent members."""
    ens, gid, macs = make_group(35, n=6)
    rnd = random.Random(36)
    partial = honest_shares(ens[1:], [80], rnd)
    refs, outs = [], []
    for A in (Aggregator.from_keys(gid, macs), Aggregator.from_keys(gid, macs)):
        A.start_recovery(81, [ens[0].member_id])
        if not refs:
            for s in partial:
                A.add_share(s)
        else:
            bulk_into(A, partial, native)
        refs.append(A)
        out = [A.missing(80)]
        with pytest.raises(agg.AggError) as e:
            A.start_recovery(80)
        out.append(str(e.value))
        with pytest.raises(agg.AggError) as e:
            A.result(80)
        out.append(str(e.value))
        outs.append(out)
    assert outs[0] == outs[1] and outs[0][0] == [ens[0].member_id]
    assert "already has full shares" in outs[0][1]
    # slot 81 in recovery: the batch's full shares are refused, reduced ones accepted
    full81 = honest_shares(ens[1:], [81], rnd)
    ref = same(gid, macs, full81, [81], lambda A: A.start_recovery(81, [ens[0].member_id]), native)
    assert all("recovered without" in r for r in ref)
    A = refs[1]
    miss = [ens[0].member_id]
    for e in ens[1:]:
        assert A.add_recovery(e.reduced_share(81, 100, miss))
    r = A.result(81)
    assert r.missing == miss and r.members == sorted(m.member_id for m in ens[1:]) and r.total == 500


@PATHS
def test_result_after_mixed_bulk_and_single_adds(native):
    """result() over a slot filled by bulk batches and add_share in turn equals the reference
    share by share, sums mod 2^64 included (readings near the top of the ring)."""
    ens, gid, macs = make_group(37, n=9)
    rnd = random.Random(38)
    shares = [e.share(90, rnd.randrange(60000, 65536)) for e in ens]
    A = Aggregator.from_keys(gid, macs)
    B = BulkAggregator(A, native=native)
    assert B.add_shares(shares[:3]).accepted == 3
    assert A.add_share(shares[3]) and not A.add_share(shares[0])
    assert B.add_shares(shares[4:7] + shares[3:4]).accepted == 3
    assert A.add_share(shares[7])
    with pytest.raises(agg.AggError, match="waiting for 1 member"):
        A.result(90)
    assert B.add_shares(shares[8:]).accepted == 1
    assert len(A._slot(90)._shares) == 8 and len(A._slot(90)._blocks) == 1  # dict and a block
    A1, ref = reference(gid, macs, shares)
    assert A.result(90) == A1.result(90) and slot_sums(A, 90) == slot_sums(A1, 90)
