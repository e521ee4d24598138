# SPDX-License-Identifier: MIT
"""The supplier's month of bills on Dask (issue 14): `verify_bills(folder, db)`.

A folder in the population layout (veriwatt.population: tariff.json signed by supplier.pub.json,
meters/<meter_id>.pub.json, bills/*.bill.json) is cut into batches of `batch` bills; each batch
is one Dask task (veriwatt.scale.verify_batch, run by a worker: it reads the files itself, so
only file names and small verdicts cross the network) verified with veriwatt.batchverify on one
core. The client writes every verdict into a results table (ResultsDB) keyed by the bill's
digest (SHA-256 of its bytes, as the ledger): writing the same verdict twice changes nothing,
so a batch that is run again -- because its worker died mid-batch and the scheduler gave it to
another worker, or because the command was started again -- loses and duplicates nothing.
Results are written by the client only when a batch is complete.

Where it runs: an embedded `distributed.LocalCluster` (processes, one thread each) by default;
`scheduler="tcp://HOST:8786"` connects to a running `dask scheduler` with its `dask worker`s
(every worker needs veriwatt installed and the folder at the same path, e.g. a shared mount).

The tariff is trusted through the folder's supplier key (the supplier verifies its own
tariffs); the meter keys come from meters/. Both are loaded once per worker process.
"""

from __future__ import annotations

import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence

from . import batchverify
from .errors import VeriwattError

DEFAULT_BATCH = 200
TABLE = "bill_checks"
COLUMNS = (
    "bill_digest",
    "name",
    "status",
    "meter_id",
    "kind",
    "start_slot",
    "end_slot",
    "total",
    "amount",
    "reason",
    "problem",
    "slot",
    "checked_at",
)


class ResultsDB:
    """The verdicts table behind a DB-API 2.0 connection: sqlite3 (paramstyle "qmark") or
    psycopg 3 (paramstyle "format"), autocommit or not (veriwatt.supplierdb's connections are
    autocommit: each write here is still one explicit transaction). Idempotent by digest."""

    def __init__(self, conn: Any, paramstyle: str = "qmark") -> None:
        self.conn = conn
        self.ph = "?" if paramstyle == "qmark" else "%s"
        with self._tx() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS %s (bill_digest TEXT PRIMARY KEY, name TEXT NOT NULL, "
                "status TEXT NOT NULL, meter_id TEXT, kind TEXT, start_slot BIGINT, end_slot BIGINT, "
                "total TEXT, amount TEXT, reason TEXT, problem TEXT, slot BIGINT, checked_at TEXT NOT NULL)" % TABLE
            )

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        """One transaction: psycopg's conn.transaction(); sqlite3: an explicit BEGIN when the
        connection is in autocommit mode (isolation_level None), then commit or rollback."""
        if hasattr(self.conn, "transaction"):
            with self.conn.transaction():
                yield self.conn.cursor()
            return
        cur = self.conn.cursor()
        if getattr(self.conn, "isolation_level", "") is None and not self.conn.in_transaction:
            cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            self.conn.rollback()
            raise
        self.conn.commit()

    def put_many(self, results: Iterable[Dict[str, Any]]) -> int:
        """Insert verdicts not yet recorded (ON CONFLICT: SQLite >= 3.24, PostgreSQL); one
        transaction. A recorded verdict is kept, except that a `valid` one becomes a new
        verdict with problem `ledger` (veriwatt.dbverify: the bill's ledger row was altered
        after the bill was checked); both rules make a rerun change nothing. Returns the
        number of rows given."""
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        rows = [
            tuple(
                str(r["total"]) if c == "total" and r.get(c) is not None else (now if c == "checked_at" else r.get(c))
                for c in COLUMNS
            )
            for r in results
        ]
        sql = "INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (bill_digest) DO UPDATE SET %s WHERE %s" % (
            TABLE,
            ", ".join(COLUMNS),
            ", ".join([self.ph] * len(COLUMNS)),
            ", ".join("%s = excluded.%s" % (c, c) for c in COLUMNS[1:]),
            "%s.status = 'valid' AND excluded.problem = 'ledger'" % TABLE,
        )
        if rows:
            with self._tx() as cur:
                cur.executemany(sql, rows)
        return len(rows)

    def counts(self) -> Dict[str, int]:
        cur = self.conn.cursor()
        cur.execute("SELECT status, COUNT(*) FROM %s GROUP BY status" % TABLE)
        return {s: n for s, n in cur.fetchall()}

    def rows(self, status: Optional[str] = None) -> List[Dict[str, Any]]:
        cur = self.conn.cursor()
        if status is None:
            cur.execute("SELECT %s FROM %s ORDER BY name" % (", ".join(COLUMNS), TABLE))
        else:
            cur.execute(
                "SELECT %s FROM %s WHERE status = %s ORDER BY name" % (", ".join(COLUMNS), TABLE, self.ph), (status,)
            )
        return [dict(zip(COLUMNS, r)) for r in cur.fetchall()]


def db_errors() -> tuple:
    """The DB-API error classes of the drivers in use (sqlite3, psycopg when installed)."""
    import sqlite3

    try:
        import psycopg

        return (sqlite3.Error, psycopg.Error)
    except ImportError:
        return (sqlite3.Error,)


@contextmanager
def database_trouble(where: str) -> Iterator[None]:
    """A database error (server gone, disk full, locked too long) as a one-line VeriwattError
    naming `where` (a redacted URL): exit 2, not an internal error; what was committed stays."""
    try:
        yield
    except db_errors() as e:
        raise VeriwattError("database %s: %s" % (where, (str(e).splitlines() or [type(e).__name__])[0][:300]))


def open_sqlite(path: str) -> ResultsDB:
    import sqlite3

    conn = sqlite3.connect(path, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    return ResultsDB(conn)


def open_results(url: str) -> ResultsDB:
    """The results table in a database given as veriwatt serve's --database: a file path or
    sqlite:///PATH (SQLite), or postgresql://... (psycopg 3; user and password as libpq takes
    them, preferably from ~/.pgpass or PGPASSFILE rather than the URL)."""
    from .supplierdb import _connect_pg, redact

    if url.startswith(("postgresql://", "postgres://")):
        return ResultsDB(_connect_pg(url), "format")
    path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else url
    if not path or "://" in path or path.startswith("sqlite:"):
        raise VeriwattError("--db %s: give a file path, sqlite:///PATH or postgresql://..." % redact(url))
    import sqlite3

    try:
        return open_sqlite(path)
    except sqlite3.DatabaseError as e:
        raise VeriwattError("--db %s: cannot open it (SQLite: %s)" % (path, e))


# ------------------------------------------------------------------ worker side
_CTX: Dict[str, Any] = {}


def _context(folder: str) -> Any:
    """The folder's Population (tariff verified under its supplier key), once per process."""
    from .population import Population

    pop = _CTX.get(folder)
    if pop is None:
        _CTX.clear()
        pop = _CTX[folder] = Population(folder)
        batchverify.group_table_ready()
    return pop


def verify_batch(folder: str, names: Sequence[str]) -> List[Dict[str, Any]]:
    """Verdicts (batchverify.Result as dicts) of the bill files bills/<name> of the folder. A
    Dask task; also callable directly (single process)."""
    pop = _context(folder)

    def pub_for(meter_id: str) -> Dict[str, Any]:
        if not isinstance(meter_id, str) or len(meter_id) != 16 or not all(c in "0123456789abcdef" for c in meter_id):
            raise VeriwattError("bill names no valid meter id")
        if not (pop.dir / "meters" / (meter_id + ".pub.json")).exists():
            raise VeriwattError("no key for meter %s in %s/meters" % (meter_id, folder))
        return pop.meter_pub(meter_id)

    items = [(n, (pop.dir / "bills" / n).read_bytes()) for n in names]
    return [r.as_dict() for r in batchverify.verify_many(items, pop.tariff, pub_for)]


# ------------------------------------------------------------------ client side
def bill_names(folder: str) -> List[str]:
    d = Path(folder) / "bills"
    if not d.is_dir():
        raise VeriwattError("%s has no bills/ folder (the layout of `veriwatt population`)" % folder)
    return sorted(p.name for p in d.glob("*.bill.json"))


def batches(names: Sequence[str], size: int) -> List[List[str]]:
    return [list(names[i : i + size]) for i in range(0, len(names), size)]


def make_client(scheduler: Optional[str] = None, workers: int = 2) -> Any:
    """A distributed.Client: to `scheduler` (tcp://HOST:PORT) or to a new LocalCluster of
    `workers` processes with one thread each."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise VeriwattError("verify-bills needs Dask: pip install 'veriwatt[scale]' (dask, distributed)")
    if scheduler:
        try:
            return Client(scheduler, timeout=20)
        except (OSError, TimeoutError) as e:
            raise VeriwattError("cannot reach the Dask scheduler %s: %s" % (scheduler, e))
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
    )
    return Client(cluster)


def run_batches(
    client: Any, folder: str, parts: List[List[str]], db: ResultsDB, progress: Optional[Callable[[int], None]] = None
) -> List[Dict[str, Any]]:
    """Submit every batch, write each batch's verdicts as it completes (progress(bills));
    returns every verdict of this run."""
    folder = str(Path(folder).resolve())
    run = uuid.uuid4().hex[:12]
    futs = [
        client.submit(verify_batch, folder, p, key="verify-bills-%s-%d-%s" % (run, i, p[0]), retries=2)
        for i, p in enumerate(parts)
    ]
    return collect(futs, db, progress)


def collect(futs: List[Any], db: ResultsDB, progress: Optional[Callable[[int], None]] = None) -> List[Dict[str, Any]]:
    """Wait for the batches' futures in completion order; write each batch's verdicts (one
    transaction, idempotent by digest) before counting it done."""
    from distributed import as_completed

    out: List[Dict[str, Any]] = []
    for fut in as_completed(futs):
        res = fut.result()
        db.put_many(res)
        out.extend(res)
        if progress:
            progress(len(res))
    return out


def summarize(verdicts: Sequence[Dict[str, Any]], seconds: float, **where: Any) -> Dict[str, Any]:
    """The run's summary (docs/FORMATS.md, "Bill checks"): counts of this run's verdicts and
    every bill that is not valid, in name order; `where` adds source fields."""
    counts = {k: sum(r["status"] == k for r in verdicts) for k in ("valid", "invalid", "malformed")}
    bad = [
        {k: r.get(k) for k in ("name", "status", "meter_id", "reason", "problem", "slot")}
        for r in sorted(verdicts, key=lambda r: r["name"])
        if r["status"] != "valid"
    ]
    out: Dict[str, Any] = dict(where, bills=len(verdicts), seconds=round(seconds, 3), problems=bad)
    out.update(counts)
    return out


def verify_bills(
    folder: str,
    db: str,
    scheduler: Optional[str] = None,
    workers: int = 2,
    batch: int = DEFAULT_BATCH,
    client: Any = None,
    progress: Optional[Callable[[int], None]] = None,
) -> Dict[str, Any]:
    """Verify every bill of the folder on Dask, verdicts into the table bill_checks of `db`
    (a SQLite file, sqlite:///PATH or postgresql://...: open_results); returns the summary
    (counts, the bad bills with their reasons)."""
    t0 = time.perf_counter()
    names = bill_names(folder)
    from .population import Population
    from .supplierdb import redact

    Population(folder)  # the tariff and the supplier key are checked here first: a clear error, not per task
    with database_trouble(redact(db)):
        rdb = open_results(db)
        own = client is None
        c = client or make_client(scheduler, workers)
        try:
            res = run_batches(c, folder, batches(names, batch), rdb, progress)
        finally:
            if own:
                _close(c)
    return summarize(res, time.perf_counter() - t0, source="folder", folder=folder, results=redact(db))


def verify_bills_local(folder: str) -> List[Dict[str, Any]]:
    """The single-process reference: every bill's verdict, in name order."""
    return verify_batch(str(Path(folder).resolve()), bill_names(folder))


def _close(client: Any) -> None:
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()
