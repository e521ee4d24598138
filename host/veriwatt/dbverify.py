# SPDX-License-Identifier: MIT
"""Audit the bills the supplier's service recorded, on Dask (issue 14): `verify_database(url, supplier_pub)`.

    summary = verify_database("sqlite:///srv/veriwatt.db", supplier_pub)          # or postgresql://...
    summary = verify_database(url, supplier_pub, cycle="2026-12", unchecked=True)  # one cycle, new bills only

The service (veriwatt serve, veriwatt.webservice) verifies every bill it receives and records
it in the ledger table `bills` of its database (veriwatt.supplierdb: SQLite file or PostgreSQL).
This re-verifies those bills with the same verifier as `verify-bills FOLDER`
(veriwatt.batchverify.verify_many: the same verdicts and reasons) and writes every verdict into
the same database's table `bill_checks` (veriwatt.scale.ResultsDB), idempotent by bill digest.

What is trusted: the supplier's public key given by the caller (every tariff the bills name is
read from the `tariffs` table and its signature checked under that key; a tariff that does
not verify makes its bills "malformed"), and the `meters` table's public keys (the registry
the service itself checks bills against) unless the caller gives its own registry
(`meter_keys`, `registry(folder)`): then each worker compares the table's key of every
bill's meter with the registry's SHA-256 fingerprint (shipped per batch, about 90 bytes a
meter), and a swapped key or an unknown meter makes the bill "invalid" (problem "meter key"). What is checked beyond the bill: the ledger row of a
valid bill must match it (bill digest = SHA-256 of the stored text, meter, kind, period,
cycle, charge, total, amount, tariff), else the verdict is "invalid" with problem "ledger"
(a row altered after it was recorded).

Bytes moved: a month bill with `sig_R` is about 1.8 MB of JSON, verified in about 80 ms.
Each Dask task carries the DATABASE URL and a few hundred bill ids (a few kB); its worker
reads the bills itself (veriwatt.supplierdb, one connection per worker process) and returns
small verdicts (about 500 bytes per bill). Shipping the bytes from the client instead would
move every bill three times (database -> client -> scheduler -> worker, 360 MB per task of
200) and hold them in the client's memory; reading by id moves them once, database -> worker.
The price: every worker must reach the database (the same SQLite path, e.g. on a shared
mount, or the PostgreSQL server), and a password in a postgresql:// URL travels in the task
to the scheduler and the workers: give it through libpq's ~/.pgpass / PGPASSFILE on each
machine instead.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import batchverify, jsonio, keys, ledger, scale
from . import tariff as _tariff
from .errors import InvalidError, VeriwattError
from .supplierdb import SupplierDB, redact

ROW_COLUMNS = (
    "id",
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
    "bill",
)
Batch = Tuple[str, List[int]]  # (tariff digest, bill ids)
MAX_BATCH = 1000  # bills per task: about 1.8 GB of month bills in a worker's memory at most


# ------------------------------------------------------------------ where
def open_existing(url: str) -> SupplierDB:
    """The service's database; refuses a SQLite path that does not exist (SupplierDB.open
    would create an empty one, and the audit would find nothing)."""
    if not url.startswith(("postgresql://", "postgres://")):
        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else url
        if path and "://" not in path and not path.startswith("sqlite:") and not os.path.isfile(path):
            raise VeriwattError("--database %s: no such database file (veriwatt serve --database creates it)" % path)
    return SupplierDB.open(url)


def worker_url(url: str) -> str:
    """The URL a worker opens: an absolute sqlite:/// path (workers do not share our directory)."""
    if url.startswith(("postgresql://", "postgres://")):
        return url
    path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else url
    return "sqlite:///" + os.path.abspath(path)


# ------------------------------------------------------------------ worker side
_W: Dict[Any, Any] = {}


def _db(url: str) -> SupplierDB:
    """One connection per worker process and database."""
    db = _W.get(("db", url))
    if db is None:
        db = _W[("db", url)] = open_existing(url)  # a worker without the SQLite file must not create one
        batchverify.group_table_ready()
    return db


def warm(url: str) -> None:
    """Open this process's connection to `url` and build the g table now (client.run(warm,
    url) on every worker before timing a run)."""
    _db(url)


def _tariff_of(db: SupplierDB, digest: str, supplier_pub: Dict[str, Any]) -> Any:
    """The tariff `digest` from the tariffs table, its signature checked under supplier_pub
    (cached per process by digest and key); VeriwattError when missing or not verifying."""
    key = ("tariff", db.url, digest, json.dumps(supplier_pub, sort_keys=True))
    t = _W.get(key)
    if t is None:
        signed = db.tariff(digest)
        if signed is None:
            raise VeriwattError("the bill's tariff %s is not in the database's tariffs table" % digest[:80])
        t = _tariff.parse_signed(signed, supplier_pub, "tariff %s of the database" % digest[:24])
        if t.digest() != digest:
            raise VeriwattError("the tariffs table holds tariff %s under digest %s" % (t.digest(), digest[:80]))
        _W[key] = t
    return t


def _rows(db: SupplierDB, ids: Sequence[int]) -> List[Dict[str, Any]]:
    marks = ", ".join("?" * len(ids))
    q = "SELECT %s FROM bills WHERE id IN (%s) ORDER BY id" % (", ".join(ROW_COLUMNS), marks)
    return [dict(zip(ROW_COLUMNS, r)) for r in db.query(q, [int(i) for i in ids])]


def _meter_keys(db: SupplierDB, meter_ids: Sequence[str]) -> Dict[str, str]:
    ids = sorted(set(meter_ids))
    if not ids:
        return {}
    q = "SELECT meter_id, pubkey FROM meters WHERE meter_id IN (%s)" % ", ".join("?" * len(ids))
    return {m: text for m, text in db.query(q, ids)}


def pinned_key(meter_id: str, pub: Dict[str, Any], pins: Dict[str, Optional[str]]) -> None:
    """InvalidError (problem "meter key") unless the meters table's key `pub` of meter_id is the
    one the supplier's registry pins: the database alone must not decide which key signs."""
    want = pins.get(meter_id)
    got = keys.fingerprint(pub)
    if want is None:
        why = "meter %s is not in the supplier's registry of meter keys (--meter-keys)" % meter_id[:32]
    elif got != want:
        why = "the database's key of meter %s (key %s) is not the registry's (key %s): replaced in the database?" % (
            meter_id[:32],
            got[:16],
            want[:16],
        )
    else:
        return
    e = InvalidError(why)
    e.report = {"problems": [{"kind": "meter key", "slot": None}]}
    raise e


def registry(folder: str) -> Dict[str, str]:
    """The supplier's own registry of meter keys: meter id -> key fingerprint of every
    *.pub.json meter public key file in `folder` (as provisioning writes them). VeriwattError
    for an empty folder, a file that is not a meter public key, or two keys for one meter."""
    import glob

    out: Dict[str, str] = {}
    paths = sorted(glob.glob(os.path.join(folder, "*.pub.json")))
    if not paths:
        raise VeriwattError("--meter-keys %s: no *.pub.json meter key files there" % folder)
    for path in paths:
        pub = keys.load_public(path, "meter")
        fp = keys.fingerprint(pub)
        if out.setdefault(pub["meter_id"], fp) != fp:
            raise VeriwattError("--meter-keys %s: two different keys for meter %s" % (folder, pub["meter_id"]))
    return out


def _pins_of(db: SupplierDB, chosen: Sequence[Tuple[int, str]]) -> Dict[int, str]:
    """bill id -> meter id of the chosen bills (to ship each batch its meters' pins)."""
    want = {i for i, _ in chosen}
    return {int(i): str(m) for i, m in db.query("SELECT id, meter_id FROM bills", []) if int(i) in want}


def row_name(row: Dict[str, Any]) -> str:
    """A ledger row's name in bill_checks and the summary: METER/CHARGE/CYCLE#ID."""
    return "%s/%s/%s#%d" % (row["meter_id"], row["charge"], row["cycle"], int(row["id"]))


def verify_db_batch(
    url: str,
    supplier_pub: Dict[str, Any],
    tariff_digest: str,
    ids: Sequence[int],
    pins: Optional[Dict[str, Optional[str]]] = None,
) -> List[Dict[str, Any]]:
    """Verdicts (batchverify.Result as dicts, plus the ledger check) of the ledger's bills
    `ids`, all recorded under `tariff_digest`. pins: meter id -> the key fingerprint of the
    supplier's registry (None: not in it) for the batch's meters; given, the meters table's
    key must be the pinned one (registry()). A Dask task; also callable directly."""
    db = _db(url)
    rows = _rows(db, ids)
    if len(rows) != len(set(ids)):
        gone = sorted(set(int(i) for i in ids) - {int(r["id"]) for r in rows})
        raise VeriwattError(
            "bills %s are not in the database %s (deleted since they were selected, or this worker "
            "sees another database)" % (", ".join(map(str, gone[:5])), redact(url))
        )
    texts = _meter_keys(db, [r["meter_id"] for r in rows])

    pubs: Dict[str, Dict[str, Any]] = {}

    def pub_for(meter_id: str) -> Dict[str, Any]:
        if meter_id not in texts:
            raise VeriwattError("meter %s is not registered in the database" % str(meter_id)[:32])
        if meter_id not in pubs:
            try:
                pub = json.loads(texts[meter_id])
            except ValueError:
                raise VeriwattError("the meters table's key of %s is not JSON" % meter_id)
            pub = keys.check_public(pub, "meter", "meters table, %s" % meter_id)
            if pins is not None:
                pinned_key(meter_id, pub, pins)
            pubs[meter_id] = pub
        return pubs[meter_id]

    items = [(row_name(r), str(r["bill"]).encode("utf-8")) for r in rows]
    try:
        t = _tariff_of(db, tariff_digest, supplier_pub)
    except VeriwattError as e:
        return [_unreadable(name, raw, r, str(e)) for (name, raw), r in zip(items, rows)]
    res = [x.as_dict() for x in batchverify.verify_many(items, t, pub_for)]
    for r, row in zip(res, rows):
        why = ledger_problem(row, r, t) if r["status"] == "valid" else None
        if why:
            r.update(status="invalid", reason=why, problem="ledger", slot=None)
    return res


def _unreadable(name: str, raw: bytes, row: Dict[str, Any], why: str) -> Dict[str, Any]:
    out = batchverify.Result(ledger.bill_digest(raw), name, "malformed", reason=why).as_dict()
    out.update({k: row[k] for k in ("meter_id", "kind")})
    out.update({k: int(row[k]) for k in ("start_slot", "end_slot")})
    return out


def ledger_problem(row: Dict[str, Any], res: Dict[str, Any], t: Any) -> Optional[str]:
    """Why the ledger row of a VALID bill does not match the bill (None when it does)."""
    try:
        charge = ledger.charge_of(res["kind"])
    except VeriwattError as e:
        return str(e)
    want = {
        "bill_digest": res["bill_digest"],
        "meter_id": res["meter_id"],
        "kind": res["kind"],
        "charge": charge,
        "start_slot": res["start_slot"],
        "end_slot": res["end_slot"],
        "cycle": t.cycle.label(res["start_slot"], res["end_slot"]),
        "cycle_def": t.cycle.canonical(),
        "timezone": t.tzname,
        "tariff_digest": t.digest(),
        "total": res["total"],
        "amount": res["amount"],
    }
    for k, v in want.items():
        if str(row[k]) != str(v):
            return (
                "the ledger row's %s is %s but the stored bill's is %s (the row was altered after it was recorded)"
                % (
                    k,
                    str(row[k])[:80],
                    str(v)[:80],
                )
            )
    return None


# ------------------------------------------------------------------ client side
def select(db: SupplierDB, cycle: Optional[str] = None, unchecked: bool = False) -> List[Tuple[int, str]]:
    """(id, tariff_digest) of the ledger's bills, in id order: all, or one cycle label, or
    only those whose digest has no verdict in bill_checks yet."""
    q, where, args = "SELECT b.id, b.tariff_digest FROM bills b", [], []  # type: Tuple[str, List[str], List[Any]]
    if unchecked:
        q += " LEFT JOIN %s c ON c.bill_digest = b.bill_digest" % scale.TABLE
        where.append("c.bill_digest IS NULL")
    if cycle is not None:
        where.append("b.cycle = ?")
        args.append(cycle)
    if where:
        q += " WHERE " + " AND ".join(where)
    return [(int(i), str(d)) for i, d in db.query(q + " ORDER BY b.id", args)]


def batches(selected: Sequence[Tuple[int, str]], size: int) -> List[Batch]:
    """Batches of at most `size` ids, each of one tariff (verify_many takes one tariff)."""
    by: Dict[str, List[int]] = {}
    for i, d in selected:
        by.setdefault(d, []).append(i)
    return [(d, ids[k : k + size]) for d, ids in sorted(by.items()) for k in range(0, len(ids), size)]


def results_db(db: SupplierDB) -> scale.ResultsDB:
    """bill_checks in the service's own database, on its connection."""
    return scale.ResultsDB(db.conn, "format" if db.pg else "qmark")


def verify_database(
    url: str,
    supplier_pub: Dict[str, Any],
    scheduler: Optional[str] = None,
    workers: int = 2,
    batch: int = scale.DEFAULT_BATCH,
    cycle: Optional[str] = None,
    unchecked: bool = False,
    client: Any = None,
    progress: Optional[Callable[[int], None]] = None,
    selected: Optional[Callable[[int], None]] = None,
    meter_keys: Optional[Dict[str, str]] = None,
) -> Dict[str, Any]:
    """Verify the ledger's bills of the service database `url` on Dask (an embedded
    LocalCluster of `workers` processes, `scheduler`, or the given `client`); verdicts into its
    table bill_checks. selected(n) is called with the number of bills chosen, progress(k) as
    batches complete. meter_keys: the supplier's registry (registry(): meter id -> key
    fingerprint); given, a bill whose meter's key in the database is not the registry's is
    invalid (problem "meter key"). Returns the summary (docs/FORMATS.md, "Bill checks")."""
    t0 = time.perf_counter()
    if not 1 <= batch <= MAX_BATCH:
        raise VeriwattError("--batch %d: give 1..%d bills per task (a month bill is about 1.8 MB)" % (batch, MAX_BATCH))
    supplier_pub = keys.check_public(supplier_pub, "supplier", "supplier key")
    with scale.database_trouble(redact(url)):
        db = open_existing(url)
        try:
            rdb = results_db(db)
            chosen = select(db, cycle, unchecked)
            if selected:
                selected(len(chosen))
            owners = _pins_of(db, chosen) if meter_keys is not None else None
            res = _run(
                chosen,
                worker_url(url),
                supplier_pub,
                scheduler,
                workers,
                batch,
                rdb,
                client,
                progress,
                owners,
                meter_keys,
            )
        finally:
            db.close()
    return scale.summarize(
        res, time.perf_counter() - t0, source="database", results=redact(url), cycle=cycle, unchecked=unchecked
    )


def _run(
    chosen: List[Tuple[int, str]],
    url: str,
    supplier_pub: Dict[str, Any],
    scheduler: Optional[str],
    workers: int,
    batch: int,
    rdb: scale.ResultsDB,
    client: Any,
    progress: Optional[Callable[[int], None]],
    owners: Optional[Dict[int, str]] = None,
    reg: Optional[Dict[str, str]] = None,
) -> List[Dict[str, Any]]:
    if not chosen:
        return []
    c = client or scale.make_client(scheduler, workers)

    def pins(ids: List[int]) -> Optional[Dict[str, Optional[str]]]:
        if owners is None or reg is None:
            return None
        return {owners[i]: reg.get(owners[i]) for i in ids if i in owners}

    try:
        run = uuid.uuid4().hex[:12]
        futs = [
            c.submit(
                verify_db_batch,
                url,
                supplier_pub,
                d,
                ids,
                pins(ids),
                key="verify-db-%s-%d-%d" % (run, k, ids[0]),
                retries=2,
            )
            for k, (d, ids) in enumerate(batches(chosen, batch))
        ]
        return scale.collect(futs, rdb, progress)
    finally:
        if client is None:
            scale._close(c)


# ------------------------------------------------------------------ tests and benchmarks
def record_population(folder: str, url: str) -> int:
    """Put a `veriwatt population` folder into a service database as the service would hold
    it (for tests and benchmarks): its meters registered (a random access verifier: no one can
    sign in as them), its tariff published, and its bills recorded in the ledger, each one
    verified first (batchverify.verify_many; an invalid bill raises). Returns the bills recorded."""
    from .population import Population

    pop = Population(folder)
    names = scale.bill_names(folder)
    items = [(n, (pop.dir / "bills" / n).read_bytes()) for n in names]
    bad = [r for r in batchverify.verify_many(items, pop.tariff, pop.meter_pub) if r.status != "valid"]
    if bad:
        raise VeriwattError("%s: %s (only valid bills are recorded)" % (bad[0].name, bad[0].reason))
    db = SupplierDB.open(url)
    try:
        for m in sorted(set(_ids(items))):
            db.add_meter(pop.meter_pub(m), os.urandom(32).hex())
        db.add_tariff(jsonio.load(str(pop.dir / "tariff.json"), "tariff"), pop.tariff)
        for _, raw in items:
            db.record_bill(json.loads(raw), raw, pop.tariff)
    finally:
        db.close()
    return len(items)


def _ids(items: Sequence[Tuple[str, bytes]]) -> List[str]:
    return [json.loads(raw)["meter_id"] for _, raw in items]
