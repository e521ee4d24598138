# SPDX-License-Identifier: MIT
"""The aggregator: collects masked shares per slot and publishes only group statistics.

Protocol and references in vwcore/agg.py (Kursawe, Danezis & Kohlweiss, PETS 2011).
The aggregator learns, per slot, the sum and sum of squares of the present members'
readings, hence count, mean and population variance; it checks the sum against a feeder
meter and answers demand-threshold questions. It never sees a single reading.

Rules enforced (each violation raises AggError with the reason):
  - a share or recovery message must carry this group's id, come from a member, and have
    a valid MAC under that member's aggregator key (tampering, wrong key, wrong slot);
  - one share per member and slot: an identical re-send is ignored (idempotent retry),
    a different one for the same member and slot is a replay or forgery and is rejected;
  - a slot is either complete (one full share from every member) or recovered: the missing
    set is fixed first, then every other member sends ONE reduced share (its reading plus the
    masks it shares with the other present members, `agg.Enrollment.reduced_share`); full
    shares are not accepted in a recovered slot, nor reduced ones in a slot with full shares
    (the meters release only one of the two per slot: docs/AGGREGATION.md);
  - at least agg.MIN_MEMBERS members per group, at least agg.MIN_PRESENT present per slot;
  - closed slots accept nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from operator import itemgetter
from typing import Any, Dict, List, Optional, Sequence, Tuple

from vwcore import agg, group
from vwcore.agg import AggError

MOD = agg.MOD


def _signed(v: int) -> int:
    """Shares live in Z_2^64; a sum with noise may be slightly negative."""
    v %= MOD
    return v - MOD if v >= MOD // 2 else v


@dataclass
class SlotResult:
    slot: int
    members: List[bytes]  # ids whose readings are in the sums
    missing: List[bytes]  # ids recovered out of the round
    total: int  # sum of readings (Wh)
    total_sq: int  # sum of squares

    @property
    def count(self) -> int:
        return len(self.members)

    @property
    def mean(self) -> Fraction:
        return Fraction(self.total, self.count)

    @property
    def variance(self) -> Fraction:
        """Population variance E[m^2] - E[m]^2, exact."""
        return Fraction(self.total_sq, self.count) - self.mean**2

    def as_json(self) -> dict:
        return {
            "slot": self.slot,
            "count": self.count,
            "sum_wh": self.total,
            "sum_sq": self.total_sq,
            "mean_wh": float(self.mean),
            "variance": float(self.variance),
            "missing": [m.hex() for m in self.missing],
        }


class _Slot:
    """One slot's state. `shares`: member id -> (c1, c2, share bytes) of the accepted full
    shares. Shares stored in bulk (veriwatt.bulkagg) wait as column blocks in `_blocks` and
    become entries of `shares` at its first read, so every rule reads one dict; `full_count`
    and `full_sums` (what `result` needs) read the blocks without building it. A block has
    `n` (its shares, of distinct members absent from the rest of the slot), `s1`, `s2` (its
    sums of c1 and c2 mod 2^64) and `entries()` (its (member id, (c1, c2, share)) pairs)."""

    __slots__ = ("_shares", "_blocks", "reduced", "recovered_without", "closed")

    def __init__(self) -> None:
        self._shares: Dict[bytes, Tuple[int, int, bytes]] = {}
        self._blocks: List[Any] = []
        self.reduced: Dict[bytes, Tuple[int, int, bytes]] = {}
        self.recovered_without: Optional[Tuple[bytes, ...]] = None
        self.closed = False

    @property
    def shares(self) -> Dict[bytes, Tuple[int, int, bytes]]:
        if self._blocks:
            for b in self._blocks:
                self._shares.update(b.entries())
            self._blocks = []
        return self._shares

    def add_block(self, block: Any) -> None:
        self._blocks.append(block)

    def full_count(self) -> int:
        return len(self._shares) + sum(b.n for b in self._blocks)

    def full_sums(self) -> Tuple[int, int]:
        """(sum of c1, sum of c2) of the full shares, mod 2^64."""
        v = self._shares.values()
        s1 = sum(map(itemgetter(0), v)) + sum(b.s1 for b in self._blocks)
        s2 = sum(map(itemgetter(1), v)) + sum(b.s2 for b in self._blocks)
        return s1 % MOD, s2 % MOD


def bad_mac(mid: bytes) -> AggError:
    """The refusal of a message whose MAC does not verify under member `mid`'s key."""
    return AggError("bad MAC from member %s: tampered, wrong key or wrong slot" % mid.hex())


class Aggregator:
    """Aggregator for one group. members: [(id, Y)], x_agg: the aggregator's DH secret."""

    def __init__(self, label: bytes, members: Sequence[Tuple[bytes, int]], x_agg: int, grp=None):
        if len(members) < agg.MIN_MEMBERS:
            raise AggError(
                "a group has at least %d members (with %d, a member learns the others' readings)"
                % (agg.MIN_MEMBERS, len(members))
            )
        self.grp = group.get(grp)
        self.pub = agg.public_key(x_agg, self.grp)
        self.gid = agg.group_id(label, members, self.pub, self.grp)
        self.keys: Dict[bytes, bytes] = {
            mid: agg.aggregator_key(x_agg, mid, y, self.gid, self.grp) for mid, y in members
        }
        self.ids: List[bytes] = sorted(self.keys)
        self._slots: Dict[int, _Slot] = {}

    @classmethod
    def from_keys(cls, gid: bytes, keys: Dict[bytes, bytes]) -> "Aggregator":
        """An aggregator from already derived MAC keys (e.g. loaded from its own store)."""
        self = cls.__new__(cls)
        self.grp, self.pub, self.gid = None, None, gid
        self.keys, self.ids, self._slots = dict(keys), sorted(keys), {}
        return self

    def _slot(self, slot: int) -> _Slot:
        return self._slots.setdefault(slot, _Slot())

    def _check(self, gid: bytes, mid: bytes, kind: bytes, body: bytes, tag: bytes) -> None:
        if not agg.check_tag(self._member_key(gid, mid), kind, body, tag):
            raise bad_mac(mid)

    def _member_key(self, gid: bytes, mid: bytes) -> bytes:
        """The MAC key of member `mid` of this group; AggError for another group or a stranger."""
        if gid != self.gid:
            raise AggError("share is for another aggregation group")
        key = self.keys.get(mid)
        if key is None:
            raise AggError("member %s is not in this group" % mid.hex())
        return key

    def add_share(self, share: bytes) -> bool:
        """Accept one share; True if new, False for an identical re-send. AggError otherwise."""
        gid, mid, slot, c1, c2, body, tag = agg.decode_share(share)
        self._check(gid, mid, b"/share", body, tag)
        st = self._slot(slot)
        if st.closed:
            raise AggError("slot %d is closed; share from %s refused" % (slot, mid.hex()))
        if st.recovered_without is not None:
            raise AggError(
                "slot %d is recovered without %s: full share from %s refused (only reduced shares count)"
                % (slot, ",".join(m.hex() for m in st.recovered_without), mid.hex())
            )
        old = st.shares.get(mid)
        if old is not None:
            if old[2] == bytes(share):
                return False
            raise AggError("second, different share from %s for slot %d: replay or forgery" % (mid.hex(), slot))
        st.shares[mid] = (c1, c2, bytes(share))
        return True

    def missing(self, slot: int) -> List[bytes]:
        st = self._slot(slot)
        if st.recovered_without is not None:
            return list(st.recovered_without)
        return [m for m in self.ids if m not in st.shares]

    def present(self, slot: int) -> List[bytes]:
        """Ids of the members whose share (full or reduced) for the slot was accepted."""
        st = self._slot(slot)
        return sorted(st.reduced if st.recovered_without is not None else st.shares)

    def start_recovery(self, slot: int, missing: Optional[Sequence[bytes]] = None) -> List[bytes]:
        """Fix the set of missing members of a slot (default: those without a full share) before
        any reduced share is asked for; returns it (send it to the present members). AggError
        if the slot already holds full shares (their meters will not release a reduced share)
        or too few members would stay present."""
        st = self._slot(slot)
        if st.recovered_without is None:
            miss = tuple(sorted(set(missing) if missing is not None else self.missing(slot)))
            if not miss:
                raise AggError("slot %d: nobody is missing" % slot)
            unknown = [m for m in miss if m not in self.keys]
            if unknown:
                raise AggError("member %s is not in this group" % unknown[0].hex())
            if len(self.ids) - len(miss) < agg.MIN_PRESENT:
                raise AggError(
                    "slot %d: only %d member(s) present, at least %d needed"
                    % (slot, len(self.ids) - len(miss), agg.MIN_PRESENT)
                )
            if st.shares:
                raise AggError(
                    "slot %d already has full shares (from %s): their meters release no reduced share; "
                    "recovery must be decided before fetching" % (slot, ",".join(m.hex() for m in sorted(st.shares)))
                )
            st.recovered_without = miss
        return list(st.recovered_without)

    def add_recovery(self, msg: bytes) -> bool:
        """Accept one reduced share (AGG_RECOVERY); True if new, False for an identical re-send."""
        gid, mid, slot, v1, v2, missing, body, tag = agg.decode_recovery(msg)
        self._check(gid, mid, b"/reduced", body, tag)
        st = self._slot(slot)
        if st.closed:
            raise AggError("slot %d is closed" % slot)
        if st.recovered_without is None:
            raise AggError("no recovery was started for slot %d" % slot)
        if tuple(sorted(missing)) != st.recovered_without:
            raise AggError("reduced share from %s names other missing members than the round" % mid.hex())
        if mid in st.recovered_without:
            raise AggError("reduced share from %s, which is missing in slot %d" % (mid.hex(), slot))
        old = st.reduced.get(mid)
        if old is not None:
            if old[2] == bytes(msg):
                return False
            raise AggError("second, different reduced share from %s for slot %d" % (mid.hex(), slot))
        st.reduced[mid] = (v1, v2, bytes(msg))
        return True

    def result(self, slot: int) -> SlotResult:
        """Statistics for a slot, once every member has sent its share or, in a recovered slot,
        every present member its reduced share. AggError says what is still awaited."""
        st = self._slot(slot)
        if st.recovered_without is None:
            return self._full_result(slot, st)
        got = st.reduced
        waiting = [m for m in self.ids if m not in st.recovered_without and m not in got]
        if waiting:
            raise AggError("slot %d: waiting for the reduced share of %d member(s)" % (slot, len(waiting)))
        s1 = sum(map(itemgetter(0), got.values()))
        s2 = sum(map(itemgetter(1), got.values()))
        return SlotResult(slot, sorted(got), list(st.recovered_without), _signed(s1), _signed(s2))

    def _full_result(self, slot: int, st: _Slot) -> SlotResult:
        n = st.full_count()
        if not n:
            raise AggError("no shares for slot %d" % slot)
        if n != len(self.ids):  # the slot holds members only (add_share checks): complete iff as many
            raise AggError(
                "slot %d: waiting for %d member(s); start recovery to proceed without them"
                % (slot, len(self.missing(slot)))
            )
        s1, s2 = st.full_sums()
        return SlotResult(slot, list(self.ids), [], _signed(s1), _signed(s2))

    def close(self, slot: int) -> SlotResult:
        r = self.result(slot)
        self._slot(slot).closed = True
        return r


def feeder_check(result: SlotResult, feeder_wh: int, tolerance_wh: int = 0, tolerance_rel: float = 0.0) -> dict:
    """Compare the group's sum with the feeder meter's reading for the slot. A difference
    beyond max(tolerance_wh, tolerance_rel * feeder) is flagged (losses, theft, a meter
    under-reporting)."""
    diff = feeder_wh - result.total
    limit = max(tolerance_wh, tolerance_rel * abs(feeder_wh))
    return {
        "slot": result.slot,
        "feeder_wh": feeder_wh,
        "sum_wh": result.total,
        "difference_wh": diff,
        "limit_wh": limit,
        "flagged": abs(diff) > limit,
    }


def demand_exceeded(result: SlotResult, limit_wh: int) -> bool:
    """Demand management: did the group's aggregate demand exceed the limit in this slot?"""
    return result.total > limit_wh
