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
  states (the key blocks are hashed once per member, not once per share), then compared with
  hmac.compare_digest (constant time: the expected tag is a secret until it matches);
- the slot's sums are numpy uint64 additions (arithmetic mod 2^64, the shares' own ring).

Shares for a slot that is closed or in recovery, and anything that is not a well-formed full
share, go through `A.add_share` one by one (rare paths, the same errors). Results come from
`A.result(slot)` as before: accepted shares are stored in the wrapped aggregator's state.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from vwcore import agg
from vwcore.agg import AggError

from .aggregation import Aggregator

SHARE_DTYPE = np.dtype([("gid", "S16"), ("mid", ">u8"), ("slot", ">u4"), ("c1", ">u8"), ("c2", ">u8"), ("tag", "S16")])
assert SHARE_DTYPE.itemsize == agg.SHARE_LEN


@dataclass
class BatchReport:
    """Per batch: accepted (new) shares, identical re-sends ignored, and the refused ones as
    (index in the batch, reason) -- the AggError message add_share would have raised."""

    accepted: int = 0
    resent: int = 0
    refused: List[Tuple[int, str]] = field(default_factory=list)


def _pads(key: bytes) -> Tuple["hashlib._Hash", "hashlib._Hash"]:
    """SHA-256 states after HMAC's ipad and opad key blocks, the ipad one with the share prefix."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key + bytes(64 - len(key))
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    inner.update(agg.DOMAIN + b"/share")
    return inner, hashlib.sha256(bytes(b ^ 0x5C for b in key))


class BulkAggregator:
    """Batch front end of one group's Aggregator (see the module docstring)."""

    def __init__(self, A: Aggregator) -> None:
        self.A = A
        ids = sorted(A.keys)
        self._ids = np.array([int.from_bytes(m, "big") for m in ids], dtype=np.uint64)
        self._mids = ids
        self._pads = [_pads(A.keys[m]) for m in ids]

    def add_shares(self, shares: Sequence[bytes]) -> BatchReport:
        """Add a batch of shares; the same outcome per share as A.add_share in order."""
        rep = BatchReport()
        pos = [i for i, s in enumerate(shares) if len(s) == agg.SHARE_LEN]  # others: refused in order below
        buf = b"".join(bytes(shares[i]) for i in pos)
        arr = np.frombuffer(buf, dtype=SHARE_DTYPE)
        idx = np.searchsorted(self._ids, arr["mid"]).clip(0, len(self._ids) - 1)
        known = (self._ids[idx] == arr["mid"]) & (arr["gid"] == np.bytes_(self.A.gid))
        row = [-1] * len(shares)
        for j, i in enumerate(pos):
            row[i] = j
        good = self._macs_ok(buf, idx.tolist(), known.tolist())
        self._store(shares, row, good, idx.tolist(), arr["slot"].tolist(), arr["c1"].tolist(), arr["c2"].tolist(), rep)
        return rep

    def _macs_ok(self, buf: bytes, idx: List[int], known: List[bool]) -> List[bool]:
        """Per share: known member of this group and a valid MAC (constant-time comparison)."""
        pads, n, cd, tl = self._pads, agg.SHARE_LEN, hmac.compare_digest, agg.TAG_LEN
        out = [False] * len(idx)
        for i, k in enumerate(idx):
            if known[i]:
                o = i * n
                inner, outer = pads[k]
                h = inner.copy()
                h.update(buf[o : o + 44])
                g = outer.copy()
                g.update(h.digest())
                out[i] = cd(g.digest()[:tl], buf[o + 44 : o + n])
        return out

    def _store(
        self,
        shares: Sequence[bytes],
        row: List[int],
        good: List[bool],
        idx: List[int],
        slots: List[int],
        c1: List[int],
        c2: List[int],
        rep: BatchReport,
    ) -> None:
        """Bookkeeping in the wrapped aggregator's state, in batch order (re-sends, replays).
        row[i]: share i's row in the decoded arrays, -1 for a share of the wrong length."""
        states: Dict[int, Any] = {}
        mids = self._mids
        for i, share in enumerate(shares):
            j = row[i]
            st = None
            if j >= 0 and good[j]:
                st = states.get(slots[j])
                if st is None:
                    st = states[slots[j]] = self.A._slot(slots[j])
            if st is not None and not st.closed and st.recovered_without is None:
                share = bytes(share)
                old = st.shares.get(mids[idx[j]])
                if old is None:
                    st.shares[mids[idx[j]]] = (c1[j], c2[j], share)
                    rep.accepted += 1
                    continue
                if old[2] == share:
                    rep.resent += 1
                    continue
            self._slow(i, bytes(share), rep)  # refused, or a slot in a rare state: the reference code says why

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
