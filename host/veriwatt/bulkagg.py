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
  on the order: a refused share changes nothing), as one column block per slot (`_Block`: the
  member rows, c1, c2 of the batch's numpy columns and the batch's bytes, no Python object per
  share) with the block's sums of c1 and c2 (numpy uint64 additions, one call per batch:
  arithmetic mod 2^64, the shares' own ring). `Aggregator.result` adds the blocks' sums; the
  block becomes the slot's (member -> (c1, c2, share)) dict entries, exactly those add_share
  would have stored, when a rule first reads that dict (veriwatt.aggregation._Slot.shares:
  missing, present, start_recovery, a later add_share or a re-send in a later batch).

A full-length share the batch's MAC check refused (another group, a stranger, a bad MAC) is
refused with add_share's message without computing its MAC again (`_refusal`: a flood of forged
shares costs the C MAC check and a struct unpack each). Everything else (re-sends, second
shares, shares for a slot that is closed or in recovery, wrong lengths) goes through
`A.add_share` one by one, in batch order (rare paths, the same errors).
Results come from `A.result(slot)` as before: accepted shares are stored in the wrapped
aggregator's state. A block keeps its whole batch's bytes (refused shares' included) alive
until every slot of the batch has been read as a dict or dropped.
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

from .aggregation import Aggregator, bad_mac

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
    """No cyclic garbage collection during a batch: Python objects made per share (the slow
    path's, and the tuples of the dict before the column blocks) trigger collections that
    traverse the whole heap (measured: a third of add_shares' time with 10,000 meters' state).
    The batch's allocations are bounded by its size, nothing it keeps is cyclic, and
    collection resumes at the end as before."""
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


class _Batch(NamedTuple):
    """A batch's shares taken in bulk, in columns sorted by slot then member: rows[k] is the
    share's row (its bytes: buf[rows[k] * SHARE_LEN:][:SHARE_LEN]), idx[k] its member's index
    in ids (sorted), c1, c2 its values (uint64)."""

    buf: bytes
    rows: "np.ndarray"
    idx: "np.ndarray"
    c1: "np.ndarray"
    c2: "np.ndarray"
    ids: List[bytes]


class _Block:
    """A slot's shares from one batch, kept as columns (the columns a..b of a _Batch, or the
    positions sel among them) until the slot's dict is read (aggregation._Slot)."""

    __slots__ = ("cb", "a", "b", "sel", "n", "s1", "s2")

    def __init__(self, cb: _Batch, a: int, b: int, sel: Optional["np.ndarray"], s1: int, s2: int) -> None:
        self.cb, self.a, self.b, self.sel, self.s1, self.s2 = cb, a, b, sel, s1, s2
        self.n = b - a if sel is None else len(sel)

    def _at(self) -> object:
        return slice(self.a, self.b) if self.sel is None else self.sel

    def idx(self) -> "np.ndarray":
        return self.cb.idx[self._at()]

    def entries(self) -> Iterator[Tuple[bytes, Tuple[int, int, bytes]]]:
        """(member id, (c1, c2, share bytes)): what add_share stores for each."""
        cb, at, n = self.cb, self._at(), agg.SHARE_LEN
        buf, ids = cb.buf, cb.ids
        for j, k, x, y in zip(cb.rows[at].tolist(), cb.idx[at].tolist(), cb.c1[at].tolist(), cb.c2[at].tolist()):
            yield ids[k], (x, y, buf[j * n : j * n + n])


def _lone_sorted(cols: _Cols, good: "np.ndarray") -> Tuple["np.ndarray", "np.ndarray"]:
    """The valid rows whose (slot, member) no other valid row has, sorted by slot then member,
    and their keys slot << 32 | member index."""
    u64 = np.uint64
    g = None if good.all() else np.flatnonzero(good)
    if g is None:
        key = (cols.slots.astype(u64) << u64(32)) | cols.idx.astype(u64)
    else:
        key = (cols.slots[g].astype(u64) << u64(32)) | cols.idx[g].astype(u64)
    if (key[1:] > key[:-1]).all():  # already in order, no two alike: the usual batch
        return (np.arange(len(key)) if g is None else g), key
    order = np.argsort(key, kind="stable")
    ks = key[order]
    same = ks[1:] == ks[:-1]
    if same.any():
        lone = np.ones(len(ks), dtype=np.bool_)
        lone[1:] &= ~same
        lone[:-1] &= ~same
        order, ks = order[lone], ks[lone]
    return (order if g is None else g[order]), ks


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
        self._row = {m: k for k, m in enumerate(ids)}
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
        idx = np.searchsorted(self._ids, arr["mid"])
        np.minimum(idx, max(0, len(self._ids) - 1), out=idx)
        known = (self._ids[idx] == arr["mid"]) & (arr["gid"] == self._gid) if len(self._ids) else idx < 0
        good = self._macs_ok(buf, idx, known)
        cols = _Cols(shares, pos, idx, arr["slot"], arr["c1"], arr["c2"], self._mids)
        done = self._store_unique(cols, buf, good)
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

    def _store_unique(self, cols: "_Cols", buf: bytes, good: "np.ndarray") -> "np.ndarray":
        """Accept at once the valid shares whose (slot, member) no other valid share of the batch
        has, for a slot that is open and holds no share of that member: their outcome cannot
        depend on the order (a refused share changes nothing). They are stored per slot as one
        column block (`_Block`), the slot's sums computed here with one numpy call per batch.
        Returns the rows taken."""
        done = np.zeros(len(good), dtype=np.bool_)
        rows, ks = _lone_sorted(cols, good)
        if not len(ks):
            return done
        sk = ks >> np.uint64(32)
        starts = np.flatnonzero(np.concatenate(([True], sk[1:] != sk[:-1])))
        c1, c2 = cols.c1[rows].astype(np.uint64), cols.c2[rows].astype(np.uint64)
        cb = _Batch(buf, rows, cols.idx[rows], c1, c2, cols.mids)
        s1, s2 = np.add.reduceat(c1, starts).tolist(), np.add.reduceat(c2, starts).tolist()  # mod 2^64
        bounds = starts.tolist() + [len(rows)]
        taken: List["np.ndarray"] = []
        for k, slot in enumerate(sk[starts].tolist()):
            a, b = bounds[k], bounds[k + 1]
            t = self._take(cb, slot, a, b, s1[k], s2[k])
            if t is not None:
                taken.append(t)
        if len(taken) == len(starts) and all(type(t) is slice for t in taken):
            done[rows] = True
        else:
            tk = np.zeros(len(rows), dtype=np.bool_)
            for t in taken:
                tk[t] = True
            done[rows[tk]] = True
        return done

    def _take(self, cb: "_Batch", slot: int, a: int, b: int, s1: int, s2: int) -> Optional[object]:
        """Store rows a..b of the batch's sorted columns (one slot, distinct members) if the slot
        is open, except those whose member it already holds; returns the rows stored (a slice or
        an index array into the sorted columns) or None."""
        st = self.A._slot(slot)
        if st.closed or st.recovered_without is not None:
            return None  # the slow path gives add_share's reason
        if not st._shares and not st._blocks:
            st.add_block(_Block(cb, a, b, None, s1, s2))
            return slice(a, b)
        have = np.zeros(len(cb.ids), dtype=np.bool_)
        have[[self._row[m] for m in st._shares]] = True
        for blk in st._blocks:
            have[blk.idx()] = True
        sel = np.flatnonzero(~have[cb.idx[a:b]]) + a
        if len(sel):
            st.add_block(
                _Block(cb, a, b, sel, int(cb.c1[sel].sum(dtype=np.uint64)), int(cb.c2[sel].sum(dtype=np.uint64)))
            )
        return sel

    def _store(
        self, shares: Sequence[bytes], todo: List[int], cols: "_Cols", good: "np.ndarray", rep: BatchReport
    ) -> None:
        """The other shares, in batch order (re-sends, replays, refusals, rare slot states).
        todo: their indices in the batch."""
        row = {p: j for j, p in enumerate(cols.pos)} if len(cols.pos) != len(shares) else None
        for i in todo:
            j = i if row is None else row.get(i, -1)
            st = None
            if j >= 0 and not good[j]:  # a whole share refused by the batch's MAC check: no state change
                rep.refused.append((i, self._refusal(bytes(shares[i]))))
                continue
            if j >= 0:
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

    def _refusal(self, share: bytes) -> str:
        """add_share's message for a full-length share whose MAC check failed in the batch (another
        group, a stranger, or a bad MAC), without computing the MAC again: a flood of forged
        shares costs the batch's C MAC check plus this, not add_share's Python HMAC."""
        gid, mid = agg.decode_share(share)[:2]
        try:
            self.A._member_key(gid, mid)
        except AggError as e:
            return str(e)
        return str(bad_mac(mid))

    def _slow(self, i: int, share: bytes, rep: BatchReport) -> None:
        try:
            if self.A.add_share(share):
                rep.accepted += 1
            else:
                rep.resent += 1
        except AggError as e:
            rep.refused.append((i, str(e)))


def slot_sums(A: Aggregator, slot: int) -> Tuple[int, int]:
    """(sum of c1, sum of c2) mod 2^64 of a slot's accepted full shares."""
    return A._slot(slot).full_sums()


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
