# SPDX-License-Identifier: MIT
"""Aggregation shares in bulk (issue 14): the aggregator's per-share work, vectorised.

`BulkAggregator(A)` wraps a veriwatt.aggregation.Aggregator (the one definition of the rules)
and accepts a whole batch of full shares (vwcore.agg share format, SHARE_LEN bytes each) at
once, with exactly the outcome of calling `A.add_share` on each in order (tests/scale compare
the two, tampered and replayed shares included):

- decoding, the group id check and the member lookup are numpy operations over the batch
  (one structured big-endian array; member ids as 64-bit integers, looked up with
  searchsorted);
- the MAC, HMAC-SHA256 (RFC 2104) truncated to 16 bytes over DOMAIN/share || body under the
  member's aggregator key, is computed from per-member precomputed inner and outer SHA-256
  states (the key blocks are hashed once per member, not once per share) and compared in
  constant time (the expected tag is a secret until it matches): by default in C, one call for
  the whole batch (vwcrypto.aggmac: crypto_c/cpython/vw_aggmac.c over OpenSSL's SHA-256);
  `BulkAggregator(A, native=False)`, or a binding built without OpenSSL, uses the same states
  from hashlib in a Python loop with hmac.compare_digest: the same outcome, 3-4x slower;
- the valid shares whose (slot, member) no other valid share of the batch has, for an open
  slot without that member's share, are stored at once per slot (their outcome cannot depend
  on the order: a refused share changes nothing); the slot's sums are numpy uint64 additions
  (arithmetic mod 2^64, the shares' own ring).

Everything else (re-sends, second shares, shares for a slot that is closed or in recovery, and
anything that is not a valid full share of the group) goes through `A.add_share` one by one,
in batch order (rare paths, the same errors; a refused share costs a Python HMAC again).
Results come from `A.result(slot)` as before: accepted shares are stored in the wrapped
aggregator's state.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from vwcrypto import aggmac

from vwcore import agg
from vwcore.agg import AggError

from .aggregation import Aggregator

SHARE_DTYPE = np.dtype([("gid", "S16"), ("mid", ">u8"), ("slot", ">u4"), ("c1", ">u8"), ("c2", ">u8"), ("tag", "S16")])
assert SHARE_DTYPE.itemsize == agg.SHARE_LEN
_BODY = agg.SHARE_LEN - agg.TAG_LEN  # the MAC'd part; the tag follows
_PREFIX = agg.DOMAIN + b"/share"  # HMAC message = _PREFIX || body (vwcore.agg._tag)


@dataclass
class BatchReport:
    """Per batch: accepted (new) shares, identical re-sends ignored, and the refused ones as
    (index in the batch, reason) -- the AggError message add_share would have raised."""

    accepted: int = 0
    resent: int = 0
    refused: List[Tuple[int, str]] = field(default_factory=list)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection during a batch: one (c1, c2, share) tuple per share stored
    would trigger collections that traverse the whole heap (measured: a third of add_shares'
    time with 10,000 meters' state). The batch's allocations are bounded by its size, nothing
    it keeps is cyclic, and collection resumes at the end as before."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class _Cols(NamedTuple):
    """The decoded batch: pos[j] is row j's index in the batch (rows: the shares of the right
    length); idx[j] its member's index in the sorted ids (meaningful where the member is known)."""

    shares: Sequence[bytes]
    pos: Sequence[int]
    idx: "np.ndarray"
    slots: "np.ndarray"
    c1: "np.ndarray"
    c2: "np.ndarray"
    mids: List[bytes]


def _pads(key: bytes) -> Tuple["hashlib._Hash", "hashlib._Hash"]:
    """SHA-256 states after HMAC's ipad and opad key blocks, the ipad one with the share prefix."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key + bytes(64 - len(key))
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    inner.update(_PREFIX)
    return inner, hashlib.sha256(bytes(b ^ 0x5C for b in key))


class BulkAggregator:
    """Batch front end of one group's Aggregator (see the module docstring). native: None uses
    the C MAC kernel when the binding has it, False the hashlib path, True requires the kernel."""

    def __init__(self, A: Aggregator, native: Optional[bool] = None) -> None:
        if native and not aggmac.AVAILABLE:
            raise RuntimeError("vwcrypto was built without OpenSSL (libssl-dev): no C MAC kernel")
        self.A = A
        ids = sorted(A.keys)
        self._ids = np.array([int.from_bytes(m, "big") for m in ids], dtype=np.uint64)
        self._mids = ids
        self._gid = np.bytes_(A.gid)
        self.native = aggmac.AVAILABLE if native is None else native
        if self.native:
            self._states = aggmac.MacStates([A.keys[m] for m in ids], _PREFIX)
        else:
            self._pads = [_pads(A.keys[m]) for m in ids]

    def add_shares(self, shares: Sequence[bytes]) -> BatchReport:
        """Add a batch of shares; the same outcome per share as A.add_share in order."""
        with _gc_paused():
            return self._add(shares)

    def _add(self, shares: Sequence[bytes]) -> BatchReport:
        rep = BatchReport()
        n = agg.SHARE_LEN
        if set(map(type, shares)) - {bytes}:
            shares = [bytes(s) for s in shares]
        if set(map(len, shares)) <= {n}:
            pos: Sequence[int] = range(len(shares))
            buf = b"".join(shares)
        else:  # the others are refused in order by the slow path
            pos = [i for i, s in enumerate(shares) if len(s) == n]
            buf = b"".join(shares[i] for i in pos)
        arr = np.frombuffer(buf, dtype=SHARE_DTYPE)
        idx = np.searchsorted(self._ids, arr["mid"]).clip(0, max(0, len(self._ids) - 1))
        known = (self._ids[idx] == arr["mid"]) & (arr["gid"] == self._gid) if len(self._ids) else idx < 0
        good = self._macs_ok(buf, idx, known)
        cols = _Cols(shares, pos, idx, arr["slot"], arr["c1"], arr["c2"], self._mids)
        done = self._store_unique(cols, good)
        rest = np.flatnonzero(~done)
        if len(pos) == len(shares):
            todo: List[int] = rest.tolist()
        else:
            todo = sorted(set(range(len(shares))).difference(pos).union(pos[j] for j in rest.tolist()))
        self._store(shares, todo, cols, good, rep)
        rep.accepted += int(done.sum())
        return rep

    def _macs_ok(self, buf: bytes, idx: "np.ndarray", known: "np.ndarray") -> "np.ndarray":
        """Per share: known member of this group and a valid MAC (constant-time comparison)."""
        if self.native:
            rows = np.where(known, idx, -1).astype(np.int64)
            ok = self._states.check(buf, agg.SHARE_LEN, _BODY, rows)
            return np.frombuffer(ok, dtype=np.bool_)
        pads, n, cd, tl = self._pads, agg.SHARE_LEN, hmac.compare_digest, agg.TAG_LEN
        out = [False] * len(idx)
        kn = known.tolist()
        for i, k in enumerate(idx.tolist()):
            if kn[i]:
                o = i * n
                inner, outer = pads[k]
                h = inner.copy()
                h.update(buf[o : o + _BODY])
                g = outer.copy()
                g.update(h.digest())
                out[i] = cd(g.digest()[:tl], buf[o + _BODY : o + n])
        return np.array(out, dtype=np.bool_)

    def _store_unique(self, cols: "_Cols", good: "np.ndarray") -> "np.ndarray":
        """Accept at once the valid shares whose (slot, member) no other valid share of the batch
        has, for a slot that is open and holds no share of that member: their outcome cannot
        depend on the order (a refused share changes nothing). Returns the rows taken."""
        done = np.zeros(len(good), dtype=np.bool_)
        g = np.flatnonzero(good)
        key = (cols.slots[g].astype(np.uint64) << np.uint64(32)) | cols.idx[g].astype(np.uint64)
        order = np.argsort(key, kind="stable")
        ks = key[order]
        same = ks[1:] == ks[:-1]
        if same.any():
            lone = np.ones(len(ks), dtype=np.bool_)
            lone[1:] &= ~same
            lone[:-1] &= ~same
            order, ks = order[lone], ks[lone]
        rows = g[order]  # sorted by slot, then member
        sl = (ks >> np.uint64(32)).tolist()
        cut = [0] + (np.flatnonzero(ks[1:] >> np.uint64(32) != ks[:-1] >> np.uint64(32)) + 1).tolist() + [len(sl)]
        rl, il, c1, c2 = rows.tolist(), cols.idx[rows].tolist(), cols.c1[rows].tolist(), cols.c2[rows].tolist()
        taken: List[int] = []
        for a, b in zip(cut[:-1], cut[1:]):
            if a < b:
                taken += self._take(cols, sl[a], rl[a:b], il[a:b], c1[a:b], c2[a:b])
        done[rows if len(taken) == len(rl) else taken] = True
        return done

    def _take(
        self, cols: "_Cols", slot: int, rows: List[int], il: List[int], c1: List[int], c2: List[int]
    ) -> List[int]:
        """Store the rows (one slot, distinct members) if the slot is open and has no share of
        their member; returns the rows stored."""
        st = self.A._slot(slot)
        if st.closed or st.recovered_without is not None:
            return []  # the slow path gives add_share's reason
        mids = [cols.mids[k] for k in il]
        sh = [cols.shares[j] for j in rows] if type(cols.pos) is range else [cols.shares[cols.pos[j]] for j in rows]
        new = zip(mids, zip(c1, c2, sh))
        if st.shares:
            new = [(m, v) for m, v in new if m not in st.shares]  # type: ignore[assignment]
            rows = [j for j, m in zip(rows, mids) if m not in st.shares]
        st.shares.update(new)
        return rows

    def _store(
        self, shares: Sequence[bytes], todo: List[int], cols: "_Cols", good: "np.ndarray", rep: BatchReport
    ) -> None:
        """The other shares, in batch order (re-sends, replays, refusals, rare slot states).
        todo: their indices in the batch."""
        row = {p: j for j, p in enumerate(cols.pos)} if len(cols.pos) != len(shares) else None
        for i in todo:
            j = i if row is None else row.get(i, -1)
            st = None
            if j >= 0 and good[j]:
                st = self.A._slot(int(cols.slots[j]))
            if st is not None and not st.closed and st.recovered_without is None:
                share = bytes(shares[i])
                mid = cols.mids[int(cols.idx[j])]
                old = st.shares.get(mid)
                if old is None:
                    st.shares[mid] = (int(cols.c1[j]), int(cols.c2[j]), share)
                    rep.accepted += 1
                    continue
                if old[2] == share:
                    rep.resent += 1
                    continue
            self._slow(i, bytes(shares[i]), rep)  # refused, or a slot in a rare state: the reference code says why

    def _slow(self, i: int, share: bytes, rep: BatchReport) -> None:
        try:
            if self.A.add_share(share):
                rep.accepted += 1
            else:
                rep.resent += 1
        except AggError as e:
            rep.refused.append((i, str(e)))


def slot_sums(A: Aggregator, slot: int) -> Tuple[int, int]:
    """(sum of c1, sum of c2) mod 2^64 of a slot's accepted full shares, with numpy."""
    st = A._slot(slot)
    v = np.fromiter(
        (x for c1, c2, _ in st.shares.values() for x in (c1, c2)), dtype=np.uint64, count=2 * len(st.shares)
    ).reshape(-1, 2)
    s = v.sum(axis=0, dtype=np.uint64)  # wraps mod 2^64
    return int(s[0]), int(s[1])


def check_many(groups: Dict[bytes, "BulkAggregator"], shares: Sequence[bytes]) -> Dict[bytes, BatchReport]:
    """Route a mixed batch to the groups by group id (first 16 bytes); shares of unknown groups
    are reported under the key b"" with the reason."""
    by: Dict[bytes, List[bytes]] = {}
    for s in shares:
        by.setdefault(bytes(s[: agg.GID_LEN]) if bytes(s[: agg.GID_LEN]) in groups else b"", []).append(s)
    out = {g: groups[g].add_shares(ss) for g, ss in by.items() if g}
    if b"" in by:
        out[b""] = BatchReport(refused=[(i, "share is for no known aggregation group") for i in range(len(by[b""]))])
    return out
