"""Fixtures for the web tests: a meter's week, the supplier, services over SQLite and a real
PostgreSQL server (started in a temporary folder; the tests FAIL when it cannot start)."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from webhelpers import WEEK, Meter, signed_tariff, supplier_key  # noqa: E402

from veriwatt import keys, webaccess  # noqa: E402


class World:
    def __init__(self) -> None:
        self.meter = Meter(b"WEBSRV01", 31)
        self.other = Meter(b"WEBSRV02", 33)
        self.sk = supplier_key()
        self.spub = keys.public(self.sk)
        self.start, self.end = WEEK
        self.tariff = signed_tariff(self.sk, [list(WEEK)])
        self.raw = self.meter.raw(*WEEK)
        self.token = webaccess.token(self.meter.code, self.meter.pub["meter_id"])
        self.verifier = webaccess.verifier_of(self.token)


@pytest.fixture(scope="session")
def world() -> World:
    return World()


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pg_bin() -> Path:
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    assert cands, "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb): run `bash tools/setup`"
    return Path(cands[-1]).parent


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server in a temporary folder (initdb, pg_ctl), on a free port and a
    private socket folder; stopped at the end. Run as root, the server runs as `nobody`."""
    b = pg_bin()
    d = Path(tempfile.mkdtemp(prefix="vw-pg-"))
    port = free_port()
    user = None
    if os.geteuid() == 0:
        user = "nobody"
        shutil.chown(d, user)
    def run(*cmd: str) -> subprocess.CompletedProcess:
        full = list(cmd) if user is None else ["runuser", "-u", user, "--"] + list(cmd)
        return subprocess.run(full, capture_output=True, text=True, timeout=120, cwd="/")
    r = run(str(b / "initdb"), "-D", str(d / "data"), "-U", "veriwatt", "--auth=trust", "-E", "UTF8", "--no-sync")
    assert r.returncode == 0, "initdb failed: %s" % (r.stderr or r.stdout)[-1500:]
    r = run(str(b / "pg_ctl"), "-D", str(d / "data"), "-l", str(d / "log"), "-w", "-t", "60", "-o",
            "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off" % (port, d), "start")
    assert r.returncode == 0, "pg_ctl start failed: %s %s" % (r.stderr, (d / "log").read_text()[-1500:] if (d / "log").exists() else "")
    url = "postgresql://veriwatt@127.0.0.1:%d/postgres" % port
    try:
        yield url
    finally:
        run(str(b / "pg_ctl"), "-D", str(d / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def pg_fresh(postgres_url):
    """The PostgreSQL URL with the service's tables dropped (each test starts empty)."""
    import psycopg
    with psycopg.connect(postgres_url, autocommit=True) as c:
        for t in ("meta", "meters", "records", "rejects", "tariffs", "bills"):
            c.execute("DROP TABLE IF EXISTS %s" % t)
    return postgres_url
