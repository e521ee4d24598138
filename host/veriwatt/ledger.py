# SPDX-License-Identifier: MIT
"""The supplier's ledger of billed cycles: one SQLite file (default ledger.db).

A bill proves an amount for one billing cycle of a signed tariff (veriwatt.cycles); the ledger
makes sure that each cycle of a meter is billed ONCE. `record` is given a bill that was
verified (veriwatt.bill.verify_bill, done by `veriwatt ledger record` before it records) and
refuses, inside one write transaction (BEGIN IMMEDIATE: two concurrent recordings are
serialised by SQLite's write lock, so they cannot both succeed), a second bill of the same
charge for a period that overlaps one already recorded for that meter: the same cycle billed
again (even by a different bill), or an overlapping period under another tariff.

Charges (bill kind -> charge): tariff, step, cumulative -> "energy" (what the customer pays for
the energy, one per period whatever the tariff); settlement -> "settlement"; threshold ->
"demand-response"; rebate -> "rebate". A `total` (no tariff, no cycle) is not a bill and
is not recorded. Schema and JSON outputs: docs/FORMATS.md ("ledger.db").
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import cycles as _cycles
from . import slots as _slots
from .errors import InvalidError, VeriwattError

FORMAT = "veriwatt-ledger/1"
CHARGES = {
    "tariff": "energy",
    "step": "energy",
    "cumulative": "energy",
    "settlement": "settlement",
    "threshold": "demand-response",
    "rebate": "rebate",
}
BUSY_TIMEOUT_S = 30.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bills (
    id INTEGER PRIMARY KEY,
    meter_id TEXT NOT NULL,
    charge TEXT NOT NULL,
    kind TEXT NOT NULL,
    start_slot INTEGER NOT NULL,
    end_slot INTEGER NOT NULL,
    cycle TEXT NOT NULL,
    cycle_def TEXT NOT NULL,
    timezone TEXT NOT NULL,
    tariff_digest TEXT NOT NULL,
    bill_digest TEXT NOT NULL UNIQUE,
    total TEXT NOT NULL,
    amount TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    UNIQUE (meter_id, charge, start_slot),
    CHECK (start_slot < end_slot)
);
CREATE INDEX IF NOT EXISTS bills_meter ON bills (meter_id, charge, start_slot);
"""

COLUMNS = (
    "meter_id",
    "charge",
    "kind",
    "start_slot",
    "end_slot",
    "cycle",
    "cycle_def",
    "timezone",
    "tariff_digest",
    "bill_digest",
    "total",
    "amount",
    "recorded_at",
)


def bill_digest(raw: bytes) -> str:
    """ "sha256:<hex>" of the bill file's bytes (the file the supplier received)."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def charge_of(kind: str) -> str:
    if kind not in CHARGES:
        raise VeriwattError("a %r bill is not recorded in the ledger (it has no tariff and no billing cycle)" % kind)
    return CHARGES[kind]


def bill_row(bill: Dict[str, Any], raw: bytes, tariff: Any) -> Dict[str, Any]:
    """The ledger row (COLUMNS) of a VERIFIED bill under the tariff it was checked with.
    Raises InvalidError when the period is not one billing cycle of the tariff; VeriwattError
    when the kind has no charge (a `total`). Shared by Ledger and veriwatt.supplierdb."""
    kind = bill["kind"]
    charge = charge_of(kind)
    start, end = bill["period"]["start_slot"], bill["period"]["end_slot"]
    cyc = tariff.cycle
    why = cyc.problem(start, end)
    if why:
        raise InvalidError(why)
    return {
        "meter_id": bill["meter_id"],
        "charge": charge,
        "kind": kind,
        "start_slot": start,
        "end_slot": end,
        "cycle": cyc.label(start, end),
        "cycle_def": cyc.canonical(),
        "timezone": tariff.tzname,
        "tariff_digest": tariff.digest(),
        "bill_digest": bill_digest(raw),
        "total": str(bill["total"]),
        "amount": str(bill.get("amount")),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def refuse_rebilling(fetchone: Callable[[str, Tuple[Any, ...]], Any], row: Dict[str, Any]) -> None:
    """Raise InvalidError when `row` (bill_row) is recorded already, or another bill of its
    meter and charge covers an overlapping period. `fetchone(sql, args)` runs one query ("?"
    placeholders) inside the caller's write transaction and returns its first row or None."""
    same = fetchone("SELECT recorded_at FROM bills WHERE bill_digest = ?", (row["bill_digest"],))
    if same:
        raise InvalidError(
            "this bill (%s) is already recorded (at %s): a cycle is billed once" % (row["bill_digest"], same[0])
        )
    clash = fetchone(
        "SELECT cycle, start_slot, end_slot, bill_digest, recorded_at FROM bills "
        "WHERE meter_id = ? AND charge = ? AND start_slot < ? AND end_slot > ? ORDER BY start_slot LIMIT 1",
        (row["meter_id"], row["charge"], row["end_slot"], row["start_slot"]),
    )
    if clash:
        c_start, c_end = int(clash[1]), int(clash[2])
        what = (
            "the same cycle %s is already billed" % clash[0]
            if (c_start, c_end) == (row["start_slot"], row["end_slot"])
            else "its period overlaps cycle %s (%s), already billed" % (clash[0], _slots.describe(c_start, c_end))
        )
        raise InvalidError(
            "meter %s, %s charge: %s by bill %s (recorded %s); refused: each cycle is billed once"
            % (row["meter_id"], row["charge"], what, clash[3], clash[4])
        )


def cycle_gaps(
    billed: Sequence[Tuple[int, int]], charge: str, cyc: _cycles.Cycle, start: int, end: int
) -> Dict[str, Any]:
    """The cycles of `cyc` that overlap [start, end) and are not wholly covered by the
    `billed` (start_slot, end_slot) periods of one meter and charge."""
    out, cs = [], cyc.within(start, end)
    for a, b in cs:
        covered = sum(max(0, min(b, y) - max(a, x)) for x, y in billed)
        if covered < b - a:
            out.append(
                {
                    "charge": charge,
                    "cycle": cyc.label(a, b),
                    "start_slot": a,
                    "end_slot": b,
                    "slots": b - a,
                    "billed_slots": covered,
                }
            )
    return {"charge": charge, "cycle": cyc.as_json(), "cycles_checked": len(cs), "gaps": out}


class Ledger:
    """One SQLite file. Use as a context manager or call close()."""

    def __init__(self, path: str, create: bool = True) -> None:
        self.path = path
        p = Path(path)
        if not create and not p.exists():
            raise VeriwattError(
                "ledger %s does not exist: record a bill first (veriwatt ledger record BILL --ledger %s ...)"
                % (path, path)
            )
        if p.exists() and p.is_dir():
            raise VeriwattError("ledger path %s is a folder, not a file" % path)
        if not p.parent.is_dir():
            raise VeriwattError("ledger %s: folder %s does not exist" % (path, p.parent))
        try:
            self.db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
            self.db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('format', ?)", (FORMAT,))
            fmt = self.db.execute("SELECT value FROM meta WHERE key='format'").fetchone()
        except sqlite3.DatabaseError as e:
            raise VeriwattError("ledger %s is not a veriwatt ledger (SQLite: %s)" % (path, e))
        if not fmt or fmt[0] != FORMAT:
            raise VeriwattError("ledger %s has format %r, expected %r" % (path, fmt and fmt[0], FORMAT))

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    # ---------------------------------------------------------------- recording
    def record(self, bill: Dict[str, Any], raw: bytes, tariff: Any) -> Dict[str, Any]:
        """Record a VERIFIED bill (its parsed object, the file's bytes, the tariff it was checked
        under). Raises InvalidError when the meter already has a bill of the same charge for an
        overlapping period (the same cycle, or an overlapping one), or when the period is not
        one billing cycle of the tariff; nothing is written then."""
        row = bill_row(bill, raw, tariff)
        cur = self.db.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")  # the write lock first: check and insert are one step
            refuse_rebilling(lambda sql, args: cur.execute(sql, args).fetchone(), row)
            cur.execute(
                "INSERT INTO bills (%s) VALUES (%s)" % (", ".join(COLUMNS), ", ".join("?" * len(COLUMNS))),
                tuple(row[c] for c in COLUMNS),
            )
            cur.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                cur.execute("ROLLBACK")
            raise
        return row

    # ---------------------------------------------------------------- reading
    def rows(self, meter_id: Optional[str] = None, charge: Optional[str] = None) -> List[Dict[str, Any]]:
        q, args = "SELECT %s FROM bills" % ", ".join(COLUMNS), []  # type: Tuple[str, List[Any]]
        cond = []
        if meter_id:
            cond.append("meter_id = ?")
            args.append(meter_id)
        if charge:
            cond.append("charge = ?")
            args.append(charge)
        if cond:
            q += " WHERE " + " AND ".join(cond)
        q += " ORDER BY meter_id, charge, start_slot"
        return [dict(zip(COLUMNS, r)) for r in self.db.execute(q, args)]

    def charges(self, meter_id: str) -> List[str]:
        return [
            r[0]
            for r in self.db.execute(
                "SELECT DISTINCT charge FROM bills WHERE meter_id = ? ORDER BY charge", (meter_id,)
            )
        ]

    def latest_cycle(self, meter_id: str, charge: str) -> Optional[Tuple[_cycles.Cycle, str]]:
        r = self.db.execute(
            "SELECT cycle_def, timezone FROM bills WHERE meter_id = ? AND charge = ? ORDER BY start_slot DESC LIMIT 1",
            (meter_id, charge),
        ).fetchone()
        return None if r is None else (_cycles.from_canonical(r[0], r[1]), r[1])

    def gaps(self, meter_id: str, charge: str, cyc: _cycles.Cycle, start: int, end: int) -> Dict[str, Any]:
        """The cycles of `cyc` that overlap [start, end) and are not wholly covered by recorded
        bills of this meter and charge."""
        billed = [(r["start_slot"], r["end_slot"]) for r in self.rows(meter_id, charge)]
        return cycle_gaps(billed, charge, cyc, start, end)
