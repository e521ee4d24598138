# SPDX-License-Identifier: MIT
"""verify-bills over the service's database (veriwatt.dbverify) on SQLite and on a real
PostgreSQL server (simulators/pgserver.py; the postgres tests FAIL when it cannot start), and
the folder path writing its verdicts into PostgreSQL: the same verdicts as the single-process
folder reference, a bad bill among good ones reported with its reason, a rerun that adds no
row, a worker killed mid-run losing nothing, an altered ledger row reported, and the CLI's
exit codes and --json summary."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from pgserver import PgServer

from veriwatt import dbverify, keys, scale
from veriwatt.supplierdb import SupplierDB

pytestmark = [pytest.mark.scale, pytest.mark.slow]
VOLATILE = ("seconds", "checked_at", "name")
GARBAGE = "not json {"


def _flip(h: str, i: int) -> str:
    return h[:i] + "0123456789abcdef"[(int(h[i], 16) + 1) % 16] + h[i + 1 :]


@pytest.fixture(scope="module")
def folder(pop_dir, tmp_path_factory) -> Path:
    """The session population plus one bill with a changed signature and one that is not JSON."""
    d = tmp_path_factory.mktemp("dbbills") / "pop"
    shutil.copytree(pop_dir, d)
    b = json.loads(sorted((d / "bills").glob("*.bill.json"))[0].read_text())
    bad = copy.deepcopy(b)
    bad["commitments"][300]["sig"] = _flip(bad["commitments"][300]["sig"], 40)
    (d / "bills" / "zz-tampered.bill.json").write_text(json.dumps(bad))
    (d / "bills" / "zz-garbage.bill.json").write_text(GARBAGE)
    return d


def _strip(r):
    """A verdict without its volatile fields and its name (a file name or a ledger row's): the
    name also leaves the reason, which quotes it for an unreadable bill."""
    out = {k: (int(v) if k == "total" and v is not None else v) for k, v in r.items() if k not in VOLATILE}
    if out["reason"]:
        out["reason"] = out["reason"].replace(r["name"], "BILL")
    return out


@pytest.fixture(scope="module")
def reference(folder):
    """The single-process folder verdicts, by bill digest."""
    return {r["bill_digest"]: _strip(r) for r in scale.verify_bills_local(str(folder))}


@pytest.fixture(scope="module")
def postgres_url():
    """A real PostgreSQL server for this module; FAILS (AssertionError) when it cannot start."""
    srv = PgServer()
    try:
        yield srv.start()
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def dask_client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def fresh_pg(postgres_url: str) -> str:
    """A new, empty database on the test server; its URL."""
    import psycopg

    name = "t" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_url, autocommit=True) as c:
        c.execute("CREATE DATABASE %s" % name)
    return postgres_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return "sqlite:///" + str(tmp_path / "svc.db")
    return fresh_pg(request.getfixturevalue("postgres_url"))


def insert_raw(url: str, text: str, like_id: int, charge: str) -> None:
    """What someone who can write the database (not the service) could add: a bills row with
    `text` as the bill, the other columns copied from row `like_id` (charge changed: unique)."""
    db = SupplierDB.open(url)
    cols = dbverify.ROW_COLUMNS[1:]
    row = dict(zip(cols, db.query("SELECT %s FROM bills WHERE id = ?" % ", ".join(cols), (like_id,))[0]))
    row.update(bill=text, charge=charge, bill_digest="sha256:" + hashlib.sha256(text.encode()).hexdigest())
    extra = ("recorded_at",)
    with db.tx() as cur:
        db._ex(
            cur,
            "INSERT INTO bills (%s) VALUES (%s)" % (", ".join(cols + extra), ", ".join("?" * (len(cols) + 1))),
            [row[c] for c in cols] + ["2026-12-31T00:00:00Z"],
        )
    db.close()


def service_db(url: str, pop_dir: Path, folder: Path) -> None:
    """The service's database holding the population's bills (verified and recorded as the
    service does) plus the folder's tampered bill and a garbage row written behind its back."""
    assert dbverify.record_population(str(pop_dir), url) == 3
    insert_raw(url, (folder / "bills" / "zz-tampered.bill.json").read_text(), 1, "tampered")
    insert_raw(url, GARBAGE, 2, "garbage")


def supplier(pop_dir):
    return keys.load_public(str(pop_dir / "supplier.pub.json"), "supplier")


def table(url: str):
    """bill_checks of the database, by digest (the list too: duplicates would show)."""
    rows = dbverify.results_db(SupplierDB.open(url)).rows()
    return rows, {r["bill_digest"]: _strip(r) for r in rows}


def check_against_reference(url, reference):
    """bill_checks holds the five verdicts of the folder reference, once each."""
    rows, got = table(url)
    assert len(rows) == 5 and got == reference
    assert sorted(r["status"] for r in rows) == ["invalid", "malformed", "valid", "valid", "valid"]


def test_database_path_equals_folder_path(db_url, pop_dir, folder, reference, dask_client):
    service_db(db_url, pop_dir, folder)
    s = dbverify.verify_database(db_url, supplier(pop_dir), client=dask_client, batch=2)
    assert (s["bills"], s["valid"], s["invalid"], s["malformed"], s["source"]) == (5, 3, 1, 1, "database")
    tampered = [p for p in s["problems"] if p["status"] == "invalid"][0]
    assert tampered["problem"] == "signature" and "signature does not verify" in tampered["reason"]
    assert tampered["name"].endswith("/tampered/2026-12#4")
    check_against_reference(db_url, reference)
    again = dbverify.verify_database(db_url, supplier(pop_dir), client=dask_client, batch=5)  # idempotent
    assert (again["bills"], again["valid"]) == (5, 3)
    check_against_reference(db_url, reference)
    assert dbverify.verify_database(db_url, supplier(pop_dir), client=dask_client, unchecked=True)["bills"] == 0
    assert dbverify.verify_database(db_url, supplier(pop_dir), client=dask_client, cycle="2026-11")["bills"] == 0


@pytest.mark.postgres
def test_folder_results_into_postgres(folder, reference, postgres_url, dask_client):
    url = fresh_pg(postgres_url)
    s = scale.verify_bills(str(folder), url, client=dask_client, batch=2)
    assert (s["bills"], s["valid"], s["invalid"], s["malformed"]) == (5, 3, 1, 1)
    scale.verify_bills(str(folder), url, client=dask_client, batch=3)  # a rerun adds nothing
    rdb = scale.open_results(url)
    assert {r["bill_digest"]: _strip(r) for r in rdb.rows()} == reference and len(rdb.rows()) == 5
    assert {r["name"] for r in rdb.rows("invalid")} == {"zz-tampered.bill.json"}


def test_worker_killed_mid_run_loses_nothing(db_url, pop_dir, folder, reference):
    from distributed import Client, LocalCluster

    service_db(db_url, pop_dir, folder)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    killed = []

    def progress(n):
        if not killed:  # first batch done: kill a worker that is in the middle of a batch
            pids = client.run(os.getpid)
            busy = [a for a, ks in client.processing().items() if ks and a in pids]
            victim = pids[busy[0]] if busy else sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(bool(busy))

    try:
        s = dbverify.verify_database(db_url, supplier(pop_dir), client=client, batch=1, progress=progress)
    finally:
        client.close()
        cluster.close()
    assert killed == [True], "no worker was busy when the first batch completed"
    assert (s["bills"], s["valid"]) == (5, 3)
    check_against_reference(db_url, reference)


@pytest.mark.security
def test_altered_ledger_rows_are_reported(pop_dir, tmp_path):
    """Someone who can write the database lowers a bill's amount in the ledger, and rewrites
    another bill's text (still a valid bill: the same JSON re-indented) under its old digest:
    both bills still verify, both rows are reported, with the column that differs."""
    url = str(tmp_path / "svc.db")
    dbverify.record_population(str(pop_dir), url)
    db = SupplierDB.open(url)
    db.query("UPDATE bills SET amount = '0.01' WHERE id = 1")
    text = db.query("SELECT bill FROM bills WHERE id = 2")[0][0]
    db.query("UPDATE bills SET bill = ? WHERE id = 2", (json.dumps(json.loads(text), indent=3),))
    db.close()
    got = {}
    for i, d in dbverify.select(SupplierDB.open(url)):
        got.update(
            {r["name"]: r for r in dbverify.verify_db_batch(dbverify.worker_url(url), supplier(pop_dir), d, [i])}
        )
    bad = {n.rsplit("#", 1)[1]: r for n, r in got.items() if r["status"] != "valid"}
    assert sorted(bad) == ["1", "2"] and len(got) == 3
    assert all(r["status"] == "invalid" and r["problem"] == "ledger" for r in bad.values())
    assert "amount is 0.01 but the stored bill's is" in bad["1"]["reason"]
    assert "bill_digest is sha256:" in bad["2"]["reason"]


def _check_all(url, spub):
    """One in-process run of the client's loop (select, verify each batch, write)."""
    db = SupplierDB.open(url)
    rdb = dbverify.results_db(db)
    for d, ids in dbverify.batches(dbverify.select(db), 2):
        rdb.put_many(dbverify.verify_db_batch(dbverify.worker_url(url), spub, d, ids))
    return {r["name"].rsplit("#", 1)[1]: (r["status"], r["problem"]) for r in rdb.rows()}, len(rdb.rows())


@pytest.mark.security
def test_a_ledger_row_altered_after_its_check_turns_its_verdict(pop_dir, tmp_path):
    """bill_checks keeps a bill's first verdict, but a row checked valid whose ledger amount
    is lowered afterwards is recorded as invalid (problem ledger) by the next full run; later
    runs change nothing, and the table never holds two rows of a bill."""
    url = str(tmp_path / "svc.db")
    dbverify.record_population(str(pop_dir), url)
    assert _check_all(url, supplier(pop_dir)) == ({k: ("valid", None) for k in "123"}, 3)
    SupplierDB.open(url).query("UPDATE bills SET amount = '0.01' WHERE id = 3")
    after = ({"1": ("valid", None), "2": ("valid", None), "3": ("invalid", "ledger")}, 3)
    assert _check_all(url, supplier(pop_dir)) == after
    SupplierDB.open(url).query("UPDATE bills SET amount = '0.02' WHERE id = 3")
    assert _check_all(url, supplier(pop_dir)) == after  # the first bad verdict stays
    reason = dbverify.results_db(SupplierDB.open(url)).rows("invalid")[0]["reason"]
    assert "amount is 0.01" in reason


@pytest.mark.security
def test_tariff_signed_by_another_key_makes_its_bills_malformed(pop_dir, tmp_path, day_supplier):
    """The tariffs table is not trusted: someone who can write it replaces the tariff's
    signature by one of their own key (the same tariff, so the same digest); every bill under
    it is refused, because the tariff does not verify under the given supplier key."""
    from veriwatt import tariff

    url = str(tmp_path / "svc.db")
    dbverify.record_population(str(pop_dir), url)
    db = SupplierDB.open(url)
    ((digest, signed),) = db.query("SELECT digest, signed FROM tariffs")
    forged = tariff.sign(json.loads(signed)["tariff"], day_supplier)
    assert forged["digest"] == digest
    db.query("UPDATE tariffs SET signed = ?", (json.dumps(forged, sort_keys=True),))
    ids = [i for i, _ in dbverify.select(db)]
    db.close()
    res = dbverify.verify_db_batch(dbverify.worker_url(url), supplier(pop_dir), digest, ids)
    assert [r["status"] for r in res] == ["malformed"] * 3
    assert all("signature" in r["reason"] or "key" in r["reason"] for r in res), res[0]["reason"]
    ok = dbverify.verify_db_batch(dbverify.worker_url(url), keys.public(day_supplier), digest, ids[:1])
    assert ok[0]["status"] == "valid"  # the same bills under the key that did sign: not a broken test


def test_a_batch_the_worker_cannot_read_is_an_error_not_a_gap(pop_dir, tmp_path):
    """A worker that does not find every bill of its batch (deleted since the selection, or
    another database: a SQLite path missing on that machine) fails the task with a reason,
    instead of returning fewer verdicts; it never creates an empty database."""
    from veriwatt.errors import VeriwattError

    url = str(tmp_path / "svc.db")
    dbverify.record_population(str(pop_dir), url)
    ((i, d),) = dbverify.select(SupplierDB.open(url))[:1]
    with pytest.raises(VeriwattError, match="bills 99 are not in the database"):
        dbverify.verify_db_batch(dbverify.worker_url(url), supplier(pop_dir), d, [i, 99])
    missing = tmp_path / "elsewhere" / "svc.db"
    with pytest.raises(VeriwattError, match="no such database file"):
        dbverify.verify_db_batch(dbverify.worker_url(str(missing)), supplier(pop_dir), d, [i])
    assert not missing.exists()


def _cli(*args, timeout=300):
    cmd = [sys.executable, "-m", "veriwatt.cli", "verify-bills"] + [str(a) for a in args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_cli_database_json_summary_and_exit_codes(pop_dir, folder, tmp_path):
    db = tmp_path / "svc.db"
    service_db(str(db), pop_dir, folder)
    key = pop_dir / "supplier.pub.json"
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database, " * 512)
    r = _cli("--database", "sqlite:///%s" % db, "--supplier-key", key, "--workers", "1", "--json")
    assert r.returncode == 1, r.stderr  # a tampered bill and a garbage row
    s = json.loads(r.stdout)
    assert set(s) == {"source", "results", "cycle", "unchecked", "bills", "valid", "invalid", "malformed"} | {
        "seconds",
        "problems",
    }
    assert (s["bills"], s["valid"], s["invalid"], s["malformed"], s["cycle"]) == (5, 3, 1, 1, None)
    assert all(set(p) == {"name", "status", "meter_id", "reason", "problem", "slot"} for p in s["problems"])
    ok = _cli("--database", db, "--supplier-key", key, "--unchecked", "--workers", "1")
    assert ok.returncode == 0 and ok.stdout.startswith("0 bills: 0 valid"), ok.stderr
    for args, msg in [
        (["--database", db], "give --supplier-key"),
        (["--database", tmp_path / "nope.db", "--supplier-key", key], "no such database file"),
        ([folder, "--database", db, "--supplier-key", key], "no FOLDER and no --db"),
        ([folder, "--unchecked"], "give a FOLDER (with --db), or --database"),
        (["--database", db, "--supplier-key", key, "--batch", "1001"], "give 1..1000 bills per task"),
        (["--database", junk, "--supplier-key", key], "file is not a database"),
        ([folder, "--db", junk], "file is not a database"),
        (["--database", "postgresql://vw:s3cret@127.0.0.1:1/x", "--supplier-key", key], "cannot connect"),
    ]:
        bad = _cli(*args, timeout=60)
        assert bad.returncode == 2 and msg in bad.stderr, (args, bad.stderr)
        assert "s3cret" not in bad.stderr and bad.stdout == ""


def _forged_month(pop_dir, meter_id):
    """(meter public key, bill) of a month that a forger certified for meter_id under a key of
    their own, every reading 0 Wh: a valid bill under the forger's key."""
    import os as _os

    from veriwatt import bill as _bill
    from veriwatt import population as P
    from vwcore import group as _group
    from vwcore import reading

    pop = P.Population(str(pop_dir))
    man = json.loads((Path(pop_dir) / "population.json").read_text())
    a, b = man["period"]["start_slot"], man["period"]["end_slot"]
    mk = reading.MeterKeys(bytes.fromhex(meter_id), _os.urandom(32), _os.urandom(15))
    fc = P.FastCertifier(mk, P.Tables(_group.DEFAULT))
    recs, ops, rs = [], [], []
    for t in range(a, b):
        rec, op = fc.certify(t, 0)
        recs.append(rec)
        ops.append(op)
        rs.append(fc.last_R)
    pub = keys.meter_public(mk.meter_id, mk.y)
    return pub, _bill.make_bill(recs, ops, pop.tariff, a, b, pub, sig_rs=rs)


def _swap_meter_key(url, pop_dir):
    """Someone who can write the service database replaces meter M's key with their own and M's
    ledger bill with a zero bill signed by it (the ledger row rewritten to match). Returns M."""
    db = SupplierDB.open(url)
    row_id, mid, cycle = db.query("SELECT id, meter_id, cycle FROM bills ORDER BY id")[0]
    pub, forged = _forged_month(pop_dir, mid)
    raw = json.dumps(forged).encode()
    db.query("UPDATE meters SET pubkey = ? WHERE meter_id = ?", (json.dumps(pub), mid))
    db.query(
        "UPDATE bills SET bill = ?, bill_digest = ?, total = ?, amount = ? WHERE id = ?",
        (raw.decode(), "sha256:" + hashlib.sha256(raw).hexdigest(), str(forged["total"]), forged["amount"], row_id),
    )
    db.close()
    return mid


@pytest.mark.security
def test_a_meter_key_swapped_in_the_database_is_caught_by_the_registry(pop_dir, tmp_path):
    """Without --meter-keys the database decides which key signs, and the forger's zero bill
    passes (the documented limit); with the supplier's own registry of meter keys it is invalid
    (problem "meter key"), the other bills keep their verdicts, and a meter missing from the
    registry is refused too."""
    from veriwatt import api

    url = str(tmp_path / "svc.db")
    dbverify.record_population(str(pop_dir), url)
    mid = _swap_meter_key(url, pop_dir)
    spub = str(Path(pop_dir) / "supplier.pub.json")
    trusting = api.verify_bills(database=url, supplier_key=spub, workers=1)
    assert trusting["valid"] == trusting["bills"] == 3, trusting["problems"]  # the limit without a registry

    db = SupplierDB.open(url)
    db.query("DELETE FROM bill_checks")
    db.close()
    s = api.verify_bills(database=url, supplier_key=spub, workers=1, meter_keys=str(Path(pop_dir) / "meters"))
    assert (s["bills"], s["valid"], s["invalid"]) == (3, 2, 1), s
    (p,) = s["problems"]
    assert p["meter_id"] == mid and p["problem"] == "meter key" and "not the registry's" in p["reason"]

    reg = tmp_path / "registry"
    shutil.copytree(Path(pop_dir) / "meters", reg)
    gone = sorted(m for m in json.loads((Path(pop_dir) / "population.json").read_text())["meter_ids"] if m != mid)[0]
    (reg / (gone + ".pub.json")).unlink()
    db = SupplierDB.open(url)
    db.query("DELETE FROM bill_checks")
    db.close()
    s = api.verify_bills(database=url, supplier_key=spub, workers=1, meter_keys=str(reg))
    why = {p["meter_id"]: p["reason"] for p in s["problems"]}
    assert s["valid"] == 1 and "not in the supplier's registry" in why[gone] and "not the registry's" in why[mid]


def test_meter_keys_registry_refusals(pop_dir, tmp_path):
    with pytest.raises(dbverify.VeriwattError, match="no \\*.pub.json"):
        dbverify.registry(str(tmp_path))
    reg = tmp_path / "reg"
    shutil.copytree(Path(pop_dir) / "meters", reg)
    first = sorted(reg.glob("*.pub.json"))[0]
    pub = json.loads(first.read_text())
    from vwcore import group as _group

    G = _group.DEFAULT
    other = keys.meter_public(bytes.fromhex(pub["meter_id"]), pow(G.g, 12345, G.p))
    (reg / "again.pub.json").write_text(json.dumps(other))
    with pytest.raises(dbverify.VeriwattError, match="two different keys for meter"):
        dbverify.registry(str(reg))
    (reg / "again.pub.json").write_text(json.dumps(keys.public(keys.new_supplier_key())))
    with pytest.raises(dbverify.VeriwattError):
        dbverify.registry(str(reg))
