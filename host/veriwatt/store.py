# SPDX-License-Identifier: MIT
"""The customer's local store of certified readings, in SQLite.

- Idempotent: adding a record that is already stored changes nothing.
- Records are checked before they are stored: a record whose signature fails, or that names
  another meter, goes to the `rejects` table with the reason and is reported, never stored.
- A second, different record for a slot already stored (a meter that signed two readings for
  one half hour, or a replay) is kept out and reported as a conflict; the first one stays.
- Every batch is one transaction (WAL journal), so a fetch killed at any point leaves the
  store as it was after the last complete batch; the next fetch resumes from there.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from .errors import VeriwattError

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 60
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meters (
    meter_id TEXT PRIMARY KEY,
    pubkey TEXT NOT NULL,          -- meter.pub.json contents
    info TEXT NOT NULL DEFAULT '{}',
    added REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    meter_id TEXT NOT NULL,
    slot INTEGER NOT NULL,
    record BLOB NOT NULL,          -- the record exactly as the meter signed and sent it
    fetched REAL NOT NULL,
    PRIMARY KEY (meter_id, slot)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS acks (
    meter_id TEXT PRIMARY KEY,
    up_to INTEGER NOT NULL,        -- the meter took ACK up to this slot (it may free them)
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rejects (
    id INTEGER PRIMARY KEY,
    meter_id TEXT,
    slot INTEGER,
    reason TEXT NOT NULL,
    record BLOB,
    at REAL NOT NULL
);
"""

# A checker returns (meter_id, slot) for a good record or raises ValueError with the reason.
Checker = Callable[[bytes], Tuple[str, int]]


class AddResult:
    __slots__ = ("added", "duplicates", "rejected", "reasons", "slots")

    def __init__(self) -> None:
        self.slots: List[int] = []  # slots of the good records in the batch (new or already stored)
        self.added = 0
        self.duplicates = 0
        self.rejected = 0
        self.reasons: List[str] = []

    def as_dict(self) -> Dict[str, Any]:
        return {
            "added": self.added,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "reasons": self.reasons[:20],
        }


class Store:
    def __init__(self, path: str) -> None:
        self.path = path
        p = Path(path)
        if p.exists() and p.is_dir():
            raise VeriwattError("store path %s is a folder; give a file name such as %s/veriwatt.db" % (path, path))
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            # several veriwatt processes may share one store (two meters fetched at once):
            # writers take turns (BEGIN IMMEDIATE + busy timeout), readers see committed batches
            self.db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
            row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except sqlite3.DatabaseError as e:
            raise VeriwattError("store %s is not a veriwatt store (%s): give another --store path" % (path, e))
        if row is None:
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) != SCHEMA_VERSION:
            raise VeriwattError(
                "store %s has schema version %s; this veriwatt reads version %d" % (path, row[0], SCHEMA_VERSION)
            )

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- meters
    def add_meter(self, meter_id: str, pubkey: Dict[str, Any], info: Optional[Dict[str, Any]] = None) -> None:
        """Remember a meter's public key. A different key for a known meter id is refused."""
        old = self.meter_key(meter_id)
        if old is not None and old != pubkey:
            raise VeriwattError(
                "meter %s is already in the store with a different public key; "
                "if the meter was re-provisioned, use a new store" % meter_id
            )
        self.db.execute(
            "INSERT INTO meters VALUES (?,?,?,?) ON CONFLICT(meter_id) DO UPDATE SET info=excluded.info",
            (meter_id, json.dumps(pubkey, sort_keys=True), json.dumps(info or {}, sort_keys=True), time.time()),
        )

    def meter_key(self, meter_id: str) -> Optional[Dict[str, Any]]:
        row = self.db.execute("SELECT pubkey FROM meters WHERE meter_id=?", (meter_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def meters(self) -> List[str]:
        return [r[0] for r in self.db.execute("SELECT meter_id FROM meters ORDER BY meter_id")]

    # --- records
    def add(self, records: Iterable[bytes], check: Checker, meter_id: Optional[str] = None) -> AddResult:
        """Check and store a batch of records in one transaction. Returns what happened to each."""
        res = AddResult()
        now = time.time()
        cur = self.db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            for raw in records:
                raw = bytes(raw)
                try:
                    mid, slot = check(raw)
                    if meter_id is not None and mid != meter_id:
                        raise ValueError("record names meter %s, expected %s (foreign meter)" % (mid, meter_id))
                except ValueError as e:
                    res.rejected += 1
                    res.reasons.append(str(e))
                    cur.execute(
                        "INSERT INTO rejects (meter_id, slot, reason, record, at) VALUES (?,?,?,?,?)",
                        (meter_id, None, str(e), raw, now),
                    )
                    continue
                old = cur.execute("SELECT record FROM records WHERE meter_id=? AND slot=?", (mid, slot)).fetchone()
                if old is None:
                    cur.execute("INSERT INTO records VALUES (?,?,?,?)", (mid, slot, raw, now))
                    res.added += 1
                    res.slots.append(slot)
                elif bytes(old[0]) == raw:
                    res.duplicates += 1
                    res.slots.append(slot)
                else:
                    reason = "meter %s slot %d: a different signed record is already stored (kept the first)" % (
                        mid,
                        slot,
                    )
                    res.rejected += 1
                    res.reasons.append(reason)
                    cur.execute(
                        "INSERT INTO rejects (meter_id, slot, reason, record, at) VALUES (?,?,?,?,?)",
                        (mid, slot, reason, raw, now),
                    )
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return res

    def records(self, meter_id: str, start: Optional[int] = None, end: Optional[int] = None) -> List[Tuple[int, bytes]]:
        q = "SELECT slot, record FROM records WHERE meter_id=?"
        args: List[Any] = [meter_id]
        if start is not None:
            q += " AND slot>=?"
            args.append(start)
        if end is not None:
            q += " AND slot<?"
            args.append(end)
        return [(s, bytes(r)) for s, r in self.db.execute(q + " ORDER BY slot", args)]

    def slots(self, meter_id: str, start: int, end: int) -> List[int]:
        """Stored slots in [start, end), in order."""
        return [
            s
            for (s,) in self.db.execute(
                "SELECT slot FROM records WHERE meter_id=? AND slot>=? AND slot<? ORDER BY slot", (meter_id, start, end)
            )
        ]

    def acked(self, meter_id: str) -> Optional[int]:
        """The highest slot the meter took an ACK for from a fetch into this store (None: never)."""
        row = self.db.execute("SELECT up_to FROM acks WHERE meter_id=?", (meter_id,)).fetchone()
        return None if row is None else int(row[0])

    def set_acked(self, meter_id: str, up_to: Optional[int]) -> None:
        if up_to is None:
            self.db.execute("DELETE FROM acks WHERE meter_id=?", (meter_id,))
            return
        self.db.execute(
            "INSERT INTO acks VALUES (?,?,?) ON CONFLICT(meter_id) DO UPDATE SET up_to=excluded.up_to, at=excluded.at",
            (meter_id, up_to, time.time()),
        )

    def count(self, meter_id: str) -> int:
        return self.db.execute("SELECT count(*) FROM records WHERE meter_id=?", (meter_id,)).fetchone()[0]

    def slot_range(self, meter_id: str) -> Optional[Tuple[int, int]]:
        row = self.db.execute("SELECT min(slot), max(slot) FROM records WHERE meter_id=?", (meter_id,)).fetchone()
        return None if row[0] is None else (row[0], row[1])

    def resume_slot(self, meter_id: str, first: int) -> int:
        """The first slot >= `first` not yet stored (where a resumed fetch starts)."""
        # the first gap after `first`: slots s stored with s+1 not stored
        row = self.db.execute(
            "SELECT min(s) FROM (SELECT ? - 1 AS s UNION ALL SELECT slot FROM records WHERE meter_id=? AND slot>=?) a "
            "WHERE NOT EXISTS (SELECT 1 FROM records r WHERE r.meter_id=? AND r.slot=a.s+1)",
            (first, meter_id, first, meter_id),
        ).fetchone()
        return int(row[0]) + 1

    def gaps(self, meter_id: str, start: int, end: int) -> List[Tuple[int, int]]:
        """Missing slot ranges [a, b) inside [start, end)."""
        out, expect = [], start
        for (s,) in self.db.execute(
            "SELECT slot FROM records WHERE meter_id=? AND slot>=? AND slot<? ORDER BY slot", (meter_id, start, end)
        ):
            if s > expect:
                out.append((expect, s))
            expect = s + 1
        if expect < end:
            out.append((expect, end))
        return out

    def rejects(self, meter_id: Optional[str] = None) -> List[Dict[str, Any]]:
        q = "SELECT meter_id, slot, reason, at FROM rejects"
        rows = self.db.execute(
            q + (" WHERE meter_id=?" if meter_id else "") + " ORDER BY id", (meter_id,) if meter_id else ()
        ).fetchall()
        return [{"meter_id": m, "slot": s, "reason": r, "at": a} for m, s, r, a in rows]

    def integrity(self) -> str:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0]


def iter_chunks(xs: List[Any], n: int) -> Iterator[List[Any]]:
    for i in range(0, len(xs), n):
        yield xs[i : i + n]
