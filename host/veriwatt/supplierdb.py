# SPDX-License-Identifier: MIT
"""The supplier service's database (veriwatt serve): SQLite by default, PostgreSQL by URL.

    db = SupplierDB.open("sqlite:///srv/veriwatt.db")        # or a plain path
    db = SupplierDB.open("postgresql://user@host/dbname")   # psycopg 3

Tables (docs/WEB.md): `meters` (public key, access-token verifier), `records` (each certified
encrypted RECORD exactly as the meter sent it, checked before it is stored), `rejects` (what
intake refused and why), `tariffs` (signed tariffs as published), `bills` (the billing-cycle
ledger: the columns of veriwatt.ledger, one bill per meter, charge and cycle, plus the bill
text), `meta` (format). Every method is one transaction; recording a bill takes the table's
write lock first (SQLite BEGIN IMMEDIATE, PostgreSQL LOCK TABLE ... SHARE ROW EXCLUSIVE) so
that two concurrent recordings for one cycle cannot both succeed (as veriwatt.ledger.Ledger).
The database holds no secret: no customer code, key or reading (readings stay encrypted).
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from . import ledger as _ledger
from .errors import InvalidError, VeriwattError

FORMAT = "veriwatt-supplier-db/1"
BILL_COLUMNS = _ledger.COLUMNS

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meters (
    meter_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, pubkey TEXT NOT NULL,
    access_verifier TEXT NOT NULL, registered TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    meter_id TEXT NOT NULL, slot BIGINT NOT NULL, record {blob} NOT NULL, received TEXT NOT NULL,
    PRIMARY KEY (meter_id, slot));
CREATE TABLE IF NOT EXISTS rejects (
    id {serial}, meter_id TEXT, slot BIGINT, reason TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tariffs (
    digest TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, signed TEXT NOT NULL,
    published TEXT NOT NULL, seq {serial_unique});
CREATE TABLE IF NOT EXISTS bills (
    id {serial}, meter_id TEXT NOT NULL, charge TEXT NOT NULL, kind TEXT NOT NULL,
    start_slot BIGINT NOT NULL, end_slot BIGINT NOT NULL, cycle TEXT NOT NULL, cycle_def TEXT NOT NULL,
    timezone TEXT NOT NULL, tariff_digest TEXT NOT NULL, bill_digest TEXT NOT NULL UNIQUE,
    total TEXT NOT NULL, amount TEXT NOT NULL, recorded_at TEXT NOT NULL, bill TEXT NOT NULL,
    UNIQUE (meter_id, charge, start_slot), CHECK (start_slot < end_slot));
"""
SQLITE_TYPES = {"blob": "BLOB", "serial": "INTEGER PRIMARY KEY", "serial_unique": "INTEGER"}
PG_TYPES = {"blob": "BYTEA", "serial": "BIGSERIAL PRIMARY KEY", "serial_unique": "BIGINT"}


def redact(url: str) -> str:
    """A database URL without its user and password (for messages)."""
    return re.sub(r"//[^@/]*@", "//", url)


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class SupplierDB:
    """One connection (SQLite file or PostgreSQL server) behind a lock: safe to share between
    the service's worker threads. Use SupplierDB.open(url)."""

    def __init__(self, conn: Any, pg: bool, url: str) -> None:
        self.conn, self.pg, self.url = conn, pg, url
        self.lock = threading.RLock()
        types = PG_TYPES if pg else SQLITE_TYPES
        with self.tx() as cur:
            for stmt in SCHEMA.format(**types).split(";"):
                if stmt.strip():
                    cur.execute(stmt)
            self._ex(
                cur, "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", ("format", FORMAT)
            )
            row = self._ex(cur, "SELECT value FROM meta WHERE key = ?", ("format",)).fetchone()
        if not row or row[0] != FORMAT:
            raise VeriwattError("database %s has format %r, expected %r" % (self.where(), row and row[0], FORMAT))

    @classmethod
    def open(cls, url: str) -> "SupplierDB":
        """A database by URL: postgresql://... (or postgres://) for PostgreSQL through psycopg,
        sqlite:///PATH or a plain file path for SQLite (created if missing)."""
        if url.startswith(("postgresql://", "postgres://")):
            return cls(_connect_pg(url), True, url)
        if url.startswith("sqlite:///"):
            path = url[len("sqlite:///") :]
        elif "://" in url or url.startswith("sqlite:"):
            raise VeriwattError("--database %s: give a file path, sqlite:///PATH or postgresql://..." % redact(url))
        else:
            path = url
        if not path:
            raise VeriwattError("--database: give a file path, sqlite:///PATH or postgresql://...")
        try:
            conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as e:
            raise VeriwattError("database %s: cannot open it (SQLite: %s)" % (path, e))
        return cls(conn, False, path)

    def where(self) -> str:
        """The database for messages, without any password a URL may hold."""
        return redact(self.url)

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def _ex(self, cur: Any, sql: str, args: Sequence[Any] = ()) -> Any:
        cur.execute(sql.replace("?", "%s") if self.pg else sql, tuple(args))
        return cur

    @contextmanager
    def tx(self, lock_table: Optional[str] = None) -> Iterator[Any]:
        """One transaction; lock_table: take that table's write lock first (check-then-insert)."""
        with self.lock:
            cur = self.conn.cursor()
            if self.pg:
                cur.execute("BEGIN")
                if lock_table:
                    cur.execute("LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE" % lock_table)
            else:
                cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def query(self, sql: str, args: Sequence[Any] = ()) -> List[Tuple[Any, ...]]:
        with self.lock:
            cur = self.conn.cursor()
            return list(self._ex(cur, sql, args).fetchall())

    # ---------------------------------------------------------------- meters
    def add_meter(self, pub: Dict[str, Any], access_verifier: str) -> bool:
        """Register a meter's public key and the verifier of its access token; True if new.
        The same key again is accepted (the verifier is replaced: a new code after a
        re-provisioning keeps the key only if the meter kept it); another key for a known
        meter id is refused."""
        text = json.dumps(pub, sort_keys=True)
        with self.tx() as cur:
            row = self._ex(cur, "SELECT pubkey FROM meters WHERE meter_id = ?", (pub["meter_id"],)).fetchone()
            if row and row[0] != text:
                raise InvalidError(
                    "meter %s is registered with another public key (key id %s): refused"
                    % (pub["meter_id"], json.loads(row[0]).get("key_id"))
                )
            if row:
                self._ex(
                    cur, "UPDATE meters SET access_verifier = ? WHERE meter_id = ?", (access_verifier, pub["meter_id"])
                )
                return False
            self._ex(
                cur,
                "INSERT INTO meters (meter_id, key_id, pubkey, access_verifier, registered) VALUES (?,?,?,?,?)",
                (pub["meter_id"], pub["key_id"], text, access_verifier, now_iso()),
            )
            return True

    def meter(self, meter_id: str) -> Optional[Dict[str, Any]]:
        rows = self.query("SELECT pubkey, access_verifier, registered FROM meters WHERE meter_id = ?", (meter_id,))
        if not rows:
            return None
        return {"pubkey": json.loads(rows[0][0]), "access_verifier": rows[0][1], "registered": rows[0][2]}

    def meters(self) -> List[Dict[str, Any]]:
        rows = self.query(
            "SELECT m.meter_id, m.key_id, m.registered, COUNT(r.slot), MIN(r.slot), MAX(r.slot) "
            "FROM meters m LEFT JOIN records r ON r.meter_id = m.meter_id "
            "GROUP BY m.meter_id, m.key_id, m.registered ORDER BY m.meter_id"
        )
        return [
            {
                "meter_id": r[0],
                "key_id": r[1],
                "registered": r[2],
                "records": int(r[3]),
                "first_slot": r[4],
                "last_slot": r[5],
            }
            for r in rows
        ]

    # ---------------------------------------------------------------- records
    def add_records(
        self, meter_id: str, good: List[Tuple[int, bytes]], bad: List[Tuple[Optional[int], str]]
    ) -> Dict[str, Any]:
        """Store checked records (slot, raw) idempotently and log refusals. A record for a
        stored slot must be byte-identical (else it is refused: the first one is kept)."""
        res: Dict[str, Any] = {"added": 0, "duplicates": 0, "rejected": len(bad), "reasons": [why for _, why in bad]}
        at = now_iso()
        with self.tx() as cur:
            for slot, raw in good:
                old = self._ex(
                    cur, "SELECT record FROM records WHERE meter_id = ? AND slot = ?", (meter_id, slot)
                ).fetchone()
                if old is None:
                    self._ex(
                        cur,
                        "INSERT INTO records (meter_id, slot, record, received) VALUES (?,?,?,?)",
                        (meter_id, slot, raw, at),
                    )
                    res["added"] += 1
                elif bytes(old[0]) == raw:
                    res["duplicates"] += 1
                else:
                    why = (
                        "slot %d: a different signed record is already stored for this slot (the first is kept)" % slot
                    )
                    res["rejected"] += 1
                    res["reasons"].append(why)
                    bad = bad + [(slot, why)]
            for slot, why in bad:
                self._ex(
                    cur, "INSERT INTO rejects (meter_id, slot, reason, at) VALUES (?,?,?,?)", (meter_id, slot, why, at)
                )
        return res

    def records(self, meter_id: str, start: int, end: int) -> List[Tuple[int, bytes]]:
        rows = self.query(
            "SELECT slot, record FROM records WHERE meter_id = ? AND slot >= ? AND slot < ? ORDER BY slot",
            (meter_id, start, end),
        )
        return [(int(s), bytes(r)) for s, r in rows]

    def count_records(self, meter_id: str, start: int, end: int) -> int:
        return int(
            self.query(
                "SELECT COUNT(*) FROM records WHERE meter_id = ? AND slot >= ? AND slot < ?", (meter_id, start, end)
            )[0][0]
        )

    def rejects(self, meter_id: Optional[str] = None, limit: int = 100) -> List[Dict[str, Any]]:
        q, a = "SELECT meter_id, slot, reason, at FROM rejects", []  # type: Tuple[str, List[Any]]
        if meter_id:
            q, a = q + " WHERE meter_id = ?", [meter_id]
        rows = self.query(q + " ORDER BY id DESC LIMIT %d" % int(limit), a)
        return [{"meter_id": r[0], "slot": r[1], "reason": r[2], "at": r[3]} for r in rows]

    # ---------------------------------------------------------------- tariffs
    def add_tariff(self, signed: Dict[str, Any], t: Any) -> bool:
        """Publish a signed tariff (verified by the caller); True if new."""
        with self.tx() as cur:
            d = t.digest()
            if self._ex(cur, "SELECT 1 FROM tariffs WHERE digest = ?", (d,)).fetchone():
                return False
            seq = self._ex(cur, "SELECT COALESCE(MAX(seq), 0) + 1 FROM tariffs").fetchone()[0]
            self._ex(
                cur,
                "INSERT INTO tariffs (digest, name, kind, signed, published, seq) VALUES (?,?,?,?,?,?)",
                (d, t.name, t.kind, json.dumps(signed, sort_keys=True), now_iso(), int(seq)),
            )
            return True

    def tariffs(self) -> List[Dict[str, Any]]:
        rows = self.query("SELECT digest, name, kind, signed, published FROM tariffs ORDER BY seq")
        return [
            {"digest": r[0], "name": r[1], "kind": r[2], "signed": json.loads(r[3]), "published": r[4]} for r in rows
        ]

    def tariff(self, digest: str) -> Optional[Dict[str, Any]]:
        rows = self.query("SELECT signed FROM tariffs WHERE digest = ?", (digest,))
        return json.loads(rows[0][0]) if rows else None

    # ---------------------------------------------------------------- the billing-cycle ledger
    def record_bill(self, bill: Dict[str, Any], raw: bytes, t: Any) -> Dict[str, Any]:
        """Record a VERIFIED bill, as veriwatt.ledger.Ledger.record: refused (InvalidError,
        nothing written) when the same bill, or another bill of the meter and charge for an
        overlapping period, is recorded already."""
        row = _ledger.bill_row(bill, raw, t)
        with self.tx(lock_table="bills") as cur:
            _ledger.refuse_rebilling(lambda sql, args: self._ex(cur, sql, args).fetchone(), row)
            cols = BILL_COLUMNS + ("bill",)
            self._ex(
                cur,
                "INSERT INTO bills (%s) VALUES (%s)" % (", ".join(cols), ", ".join("?" * len(cols))),
                tuple(row[c] for c in BILL_COLUMNS) + (raw.decode(),),
            )
        return row

    def bills(self, meter_id: Optional[str] = None) -> List[Dict[str, Any]]:
        q, a = "SELECT %s FROM bills" % ", ".join(BILL_COLUMNS), []  # type: Tuple[str, List[Any]]
        if meter_id:
            q, a = q + " WHERE meter_id = ?", [meter_id]
        rows = self.query(q + " ORDER BY meter_id, charge, start_slot", a)
        return [
            dict(zip(BILL_COLUMNS, [int(v) if c in ("start_slot", "end_slot") else v for c, v in zip(BILL_COLUMNS, r)]))
            for r in rows
        ]

    def gaps(self, meter_id: str, charge: str, cyc: Any, start: int, end: int) -> Dict[str, Any]:
        """The cycles of `cyc` overlapping [start, end) not wholly covered by recorded bills
        (veriwatt.ledger.Ledger.gaps over this database)."""
        billed = [(r["start_slot"], r["end_slot"]) for r in self.bills(meter_id) if r["charge"] == charge]
        return _ledger.cycle_gaps(billed, charge, cyc, start, end)


def _connect_pg(url: str) -> Any:
    try:
        import psycopg
    except ImportError:
        raise VeriwattError("PostgreSQL needs psycopg 3: pip install 'veriwatt[web]'")
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as e:
        raise VeriwattError(
            "cannot connect to PostgreSQL at %s: %s" % (redact(url), str(e).splitlines()[0] if str(e) else e)
        )
