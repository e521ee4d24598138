# SPDX-License-Identifier: MIT
"""Fixtures for the web tests: a meter's week, the supplier, services over SQLite and a real
PostgreSQL server (started in a temporary folder; the tests FAIL when it cannot start)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pgserver import PgServer  # noqa: E402
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


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server for the session (tests/web/pgserver.py); the tests FAIL when it
    cannot start."""
    srv = PgServer()
    try:
        yield srv.start()
    finally:
        srv.stop()


@pytest.fixture
def pg_fresh(postgres_url):
    """The PostgreSQL URL with the service's tables dropped (each test starts empty)."""
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as c:
        for t in ("meta", "meters", "records", "rejects", "tariffs", "bills"):
            c.execute("DROP TABLE IF EXISTS %s" % t)
    return postgres_url
