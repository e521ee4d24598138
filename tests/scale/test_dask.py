# SPDX-License-Identifier: MIT
"""verify-bills on Dask: a LocalCluster of 2 workers gives the single-process verdicts, a bad
bill among good ones is reported with its reason, a worker killed mid-run loses nothing, and
--scheduler works against separately started `dask scheduler` + `dask worker` processes."""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from veriwatt import scale

pytestmark = [pytest.mark.scale, pytest.mark.slow]
DASK = str(Path(sys.executable).parent / "dask")
VOLATILE = ("seconds", "checked_at")


def _flip(h: str, i: int) -> str:
    return h[:i] + "0123456789abcdef"[(int(h[i], 16) + 1) % 16] + h[i + 1 :]


@pytest.fixture(scope="module")
def folder(pop_dir, tmp_path_factory) -> Path:
    """The session population plus one bill with a changed signature and one that is not JSON."""
    d = tmp_path_factory.mktemp("bills") / "pop"
    shutil.copytree(pop_dir, d)
    first = sorted((d / "bills").glob("*.bill.json"))[0]
    b = json.loads(first.read_text())
    bad = copy.deepcopy(b)
    bad["commitments"][300]["sig"] = _flip(bad["commitments"][300]["sig"], 40)
    (d / "bills" / "zz-tampered.bill.json").write_text(json.dumps(bad))
    (d / "bills" / "zz-garbage.bill.json").write_bytes(b"\xff not json")
    return d


@pytest.fixture(scope="module")
def reference(folder):
    return {r["name"]: {k: v for k, v in r.items() if k not in VOLATILE} for r in scale.verify_bills_local(str(folder))}


def db_rows(path):
    return {
        r["name"]: {k: (int(v) if k == "total" and v is not None else v) for k, v in r.items() if k not in VOLATILE}
        for r in scale.open_sqlite(str(path)).rows()
    }


def test_reference_names_the_bad_bills(reference, folder):
    assert len(reference) == 5
    t = reference["zz-tampered.bill.json"]
    start = json.loads((folder / "bills" / "zz-tampered.bill.json").read_text())["period"]["start_slot"]
    assert t["status"] == "invalid" and t["problem"] == "signature" and t["slot"] == start + 300
    assert "signature does not verify" in t["reason"]
    assert reference["zz-garbage.bill.json"]["status"] == "malformed"
    assert sum(r["status"] == "valid" for r in reference.values()) == 3


def test_local_cluster_of_two_equals_single_process(folder, reference, tmp_path):
    db = tmp_path / "r.db"
    s = scale.verify_bills(str(folder), str(db), workers=2, batch=1)
    assert (s["bills"], s["valid"], s["invalid"], s["malformed"]) == (5, 3, 1, 1)
    assert {p["name"] for p in s["problems"]} == {"zz-tampered.bill.json", "zz-garbage.bill.json"}
    assert db_rows(db) == reference
    again = scale.verify_bills(str(folder), str(db), workers=1, batch=5)  # idempotent by digest
    assert again["valid"] == 3 and len(db_rows(db)) == 5


def test_worker_killed_mid_run_loses_nothing(folder, reference, tmp_path):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    killed = []

    def progress(n):
        if not killed:  # first batch done: kill a worker that is in the middle of a batch
            pids = client.run(os.getpid)
            busy = [a for a, keys in client.processing().items() if keys and a in pids]
            victim = pids[busy[0]] if busy else sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(bool(busy))

    try:
        s = scale.verify_bills(str(folder), str(tmp_path / "r.db"), client=client, batch=1, progress=progress)
    finally:
        client.close()
        cluster.close()
    assert killed == [True], "no worker was busy when the first batch completed"
    assert s["bills"] == 5 and s["valid"] == 3
    assert db_rows(tmp_path / "r.db") == reference


def _start(cmd, log):
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _verify_bills_cli(folder, db, scheduler, *extra, timeout):
    """`veriwatt verify-bills FOLDER --db DB --scheduler SCHEDULER EXTRA...` in a subprocess."""
    cmd = [sys.executable, "-m", "veriwatt.cli", "verify-bills", str(folder), "--db", str(db), "--scheduler", scheduler]
    return subprocess.run(cmd + list(extra), capture_output=True, text=True, timeout=timeout)


def test_cli_with_a_separate_scheduler_and_worker(folder, reference, tmp_path):
    sfile = tmp_path / "scheduler.json"
    log = open(tmp_path / "dask.log", "w")
    procs = [
        _start(
            [DASK, "scheduler", "--scheduler-file", str(sfile), "--host", "127.0.0.1", "--port", "0", "--no-dashboard"],
            log,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not sfile.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sfile.exists(), (tmp_path / "dask.log").read_text()
        addr = json.loads(sfile.read_text())["address"]
        procs.append(_start([DASK, "worker", addr, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"], log))
        db = tmp_path / "r.db"
        r = _verify_bills_cli(folder, db, addr, "--batch", "2", "--json", timeout=600)
        assert r.returncode == 1, r.stderr  # two bad bills
        s = json.loads(r.stdout)
        assert (s["valid"], s["invalid"], s["malformed"]) == (3, 1, 1)
        assert db_rows(db) == reference
        bad = _verify_bills_cli(folder, db, "tcp://127.0.0.1:1", timeout=120)
        assert bad.returncode == 2 and "cannot reach the Dask scheduler" in bad.stderr
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        log.close()


def test_aggregate_run_two_workers_equals_single_process(tmp_path):
    from veriwatt import aggrun

    d = tmp_path / "agg"
    aggrun.synthetic(str(d), 3, 4, [10, 11])
    f = d / "shares" / "g001.shares.json"
    s = json.loads(f.read_text())
    s["shares"][5] = _flip(s["shares"][5], 60)  # a reading changed on the way: its MAC fails
    f.write_text(json.dumps(s))
    ref = {n: aggrun.run_group(str(d), n) for n in aggrun.group_names(str(d))}
    r = subprocess.run(
        [sys.executable, "-m", "veriwatt.cli", "aggregate", "run", str(d), "--workers", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 1, r.stderr  # one share refused
    summary = json.loads(r.stdout)
    assert (summary["groups"], summary["shares"], summary["accepted"], summary["refused"]) == (3, 24, 23, 1)
    assert "bad MAC" in summary["problems"][0]["reason"] and summary["problems"][0]["group"] == "g001"
    for n, want in ref.items():
        assert json.loads((d / "results" / (n + ".result.json")).read_text()) == want
    assert "waiting" in ref["g001"]["slots"][1]  # the slot with the refused share is not complete
    assert ref["g000"]["slots"][0]["count"] == 4
