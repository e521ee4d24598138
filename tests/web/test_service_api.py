# SPDX-License-Identifier: MIT
"""`veriwatt serve`'s API (veriwatt.webapp over veriwatt.webservice) with SQLite and with a real
PostgreSQL server: registration, intake, the customer's download, bills verified and recorded
once, and every bad request a clear 4xx."""

from __future__ import annotations

import base64
import json

import pytest
import httpx

from webhelpers import C_OFFSET, Meter, tamper

from veriwatt import bill as _bill
from veriwatt import keys, records, tariff
from veriwatt.supplierdb import SupplierDB
from veriwatt import webserve
from veriwatt.webapp import Limits
from veriwatt.webservice import Service, encode_upload

pytestmark = pytest.mark.web
TOKEN = "ab" * 32


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "svc.db")
    return request.getfixturevalue("pg_fresh")


@pytest.fixture
def client_for(tmp_path):
    """A live `veriwatt serve` (uvicorn in a thread, real HTTP) on a database URL, and an HTTP
    client for it; the supplier token file holds TOKEN (mode 0600). Stopped after the test."""
    servers = []

    def make(url, world, limits=None):
        tok = tmp_path / ("token%d" % len(servers))
        tok.write_text(TOKEN + "\n")
        tok.chmod(0o600)
        srv = webserve.Server(url, world.spub, tok, limits=limits)
        servers.append(srv)
        return httpx.Client(base_url=srv.start().rstrip("/"), timeout=120), srv.service

    yield make
    for srv in servers:
        srv.stop()


SUP = {"Authorization": "Bearer " + TOKEN}


def setup_service(c, world):
    r = c.post("/api/tariffs", json=world.tariff, headers=SUP)
    assert r.status_code == 201, r.text
    r = c.post("/api/meters", json={"pubkey": world.meter.pub, "access_verifier": world.verifier}, headers=SUP)
    assert r.status_code == 201, r.text


def host_bill(world, start, end):
    t = tariff.parse_signed(world.tariff, world.spub)
    recs = world.meter.records(start, end)
    return _bill.make_bill(recs, records.open_all(recs, world.meter.customer_key), t, start, end, world.meter.pub)


def test_intake_download_bill_ledger(db_url, world, client_for):
    c, svc = client_for(db_url, world)
    setup_service(c, world)
    raws = [world.raw[t] for t in sorted(world.raw)]
    r = c.post("/api/records", content=encode_upload(raws), headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["added"] == len(raws) and r.json()["rejected"] == 0, r.text
    r = c.post("/api/records", content=encode_upload(raws[:10]), headers={"content-type": "application/json"})
    assert r.json()["duplicates"] == 10 and r.json()["added"] == 0  # idempotent
    acc = {"X-Veriwatt-Access": world.token}
    cy = c.get("/api/meters/%s/cycles" % world.meter.pub["meter_id"], headers=acc).json()
    assert cy["cycles"][0]["records"] == world.end - world.start and cy["cycles"][0]["bill"] is None
    q = "?start=%d&end=%d" % (world.start, world.end)
    m = c.get("/api/meters/%s/month%s" % (world.meter.pub["meter_id"], q), headers=acc)
    assert m.status_code == 200
    assert [base64.b64decode(x) for x in m.json()["records"]] == raws
    b = host_bill(world, world.start, world.end)
    raw_bill = json.dumps(b).encode()
    r = c.post(
        "/api/meters/%s/bills" % world.meter.pub["meter_id"],
        content=raw_bill,
        headers=dict(acc, **{"content-type": "application/json"}),
    )
    assert r.status_code == 201 and r.json()["recorded"] and r.json()["total"] == b["total"], r.text
    led = c.get("/api/ledger", headers=SUP).json()["bills"]
    assert len(led) == 1 and led[0]["amount"] == b["amount"] and led[0]["start_slot"] == world.start
    # the same cycle again (another bill file of it): verified, but refused by the ledger
    b2 = dict(b, created="2027-01-02T00:00:00Z")
    r = c.post(
        "/api/meters/%s/bills" % world.meter.pub["meter_id"],
        content=json.dumps(b2).encode(),
        headers=dict(acc, **{"content-type": "application/json"}),
    )
    assert r.status_code == 409 and not r.json()["recorded"] and "already billed" in r.json()["reason"]
    gaps = c.get("/api/ledger/gaps?meter=%s%s" % (world.meter.pub["meter_id"], q.replace("?", "&")), headers=SUP).json()
    assert gaps["gaps"] == []


@pytest.mark.security
def test_intake_refuses_with_reasons(db_url, world, client_for):
    c, svc = client_for(db_url, world)
    setup_service(c, world)
    t0 = world.start
    good = world.raw[t0]
    forged = tamper(world.raw[t0 + 1], C_OFFSET)
    foreign = world.other.raw(t0, t0 + 1)[t0]
    different = world.meter.keys and Meter(b"WEBSRV01", 77).raw(t0, t0 + 1)[t0]  # same id, other key
    body = encode_upload([good, forged, foreign, b"\x01\x02", different])
    r = c.post("/api/records", content=body, headers={"content-type": "application/json"})
    j = r.json()
    assert r.status_code == 200 and j["added"] == 1 and j["rejected"] == 4, j
    text = " | ".join(j["reasons"])
    assert "signature does not verify" in text and "not registered" in text and "malformed" in text
    rej = c.get("/api/rejects", headers=SUP).json()["rejects"]
    assert any("signature" in x["reason"] for x in rej)


@pytest.mark.security
def test_access_token_and_supplier_auth(db_url, world, client_for):
    c, svc = client_for(db_url, world)
    setup_service(c, world)
    mid = world.meter.pub["meter_id"]
    q = "?start=%d&end=%d" % (world.start, world.end)
    other_token = "%064x" % 1
    for hdr in ({}, {"X-Veriwatt-Access": other_token}, {"X-Veriwatt-Access": "zz"}):
        r = c.get("/api/meters/%s/month%s" % (mid, q), headers=hdr)
        assert r.status_code == 403 and "access token" in r.json()["error"]
    r = c.get("/api/meters/%s/cycles" % ("00" * 8), headers={"X-Veriwatt-Access": world.token})
    assert r.status_code == 403  # an unknown meter looks the same as a wrong token
    for hdr in ({}, {"Authorization": "Bearer " + "cd" * 32}, {"Authorization": TOKEN}):
        assert c.get("/api/ledger", headers=hdr).status_code == 401
        r = c.post("/api/meters", json={"pubkey": world.other.pub, "access_verifier": "00" * 32}, headers=hdr)
        assert r.status_code == 401
    # a second key for a registered meter id is refused
    r = c.post("/api/meters", json={"pubkey": Meter(b"WEBSRV01", 77).pub, "access_verifier": "00" * 32}, headers=SUP)
    assert r.status_code == 409 and "another public key" in r.json()["error"]
    # a tariff signed by someone else is not published
    rogue = tariff.sign(world.tariff["tariff"], keys.new_supplier_key(secret=b"\x09" * 32))
    r = c.post("/api/tariffs", json=rogue, headers=SUP)
    assert r.status_code == 422 and "not by the trusted supplier key" in r.json()["error"]


@pytest.mark.security
def test_bad_requests_are_clear_4xx(tmp_path, world, client_for):
    c, svc = client_for(str(tmp_path / "s.db"), world, Limits(upload_body=4096, bills_per_minute=0.001, bill_burst=2))
    setup_service(c, world)
    mid = world.meter.pub["meter_id"]
    acc = {"X-Veriwatt-Access": world.token, "content-type": "application/json"}
    cases = [
        (c.post("/api/records", content=b"{}", headers={"content-type": "text/plain"}), 415, "application/json"),
        (
            c.post("/api/records", content=b"{\"records\": [1]}", headers={"content-type": "application/json"}),
            400,
            "base64",
        ),
        (
            c.post(
                "/api/records",
                content=b"{\"records\": [], \"records\": []}",
                headers={"content-type": "application/json"},
            ),
            400,
            "strict JSON",
        ),
        (c.post("/api/records", content=b"x" * 5000, headers={"content-type": "application/json"}), 413, "larger than"),
        (
            c.post(
                "/api/records",
                content=b"{}",
                headers={"content-type": "application/json", "origin": "https://evil.example"},
            ),
            403,
            "cross-origin",
        ),
        (c.get("/api/meters/XYZ/cycles", headers=acc), 400, "16 lowercase hex"),
        (c.get("/api/meters/%s/month?start=a&end=b" % mid, headers=acc), 400, "?start=SLOT"),
        (
            c.get("/api/meters/%s/month?start=%d&end=%d" % (mid, world.start, world.end + 1), headers=acc),
            400,
            "not one billing cycle",
        ),
        (
            c.get("/api/meters/%s/month?start=%d&end=%d" % (mid, world.start, world.end), headers=acc),
            409,
            "have not been uploaded",
        ),
        (c.get("/nope"), 404, "no such path"),
        (c.delete("/api/ledger", headers=SUP), 405, "not allowed"),
        (c.post("/api/meters/%s/bills" % mid, content=b"[1,", headers=acc), 400, "strict JSON"),
        (
            c.post("/api/meters/%s/bills" % mid, content=b"{\"meter_id\": \"%s\"}" % mid.encode(), headers=acc),
            422,
            "not published",
        ),
        (c.post("/api/meters/%s/bills" % mid, content=b"{}", headers=acc), 429, "too many bills"),
    ]
    for r, code, text in cases:
        assert r.status_code == code and text in r.json()["error"], (code, r.status_code, r.text)
    assert cases[-1][0].headers.get("retry-after", "").isdigit()


def test_headers_and_openapi(tmp_path, world, client_for):
    c, svc = client_for(str(tmp_path / "s.db"), world)
    r = c.get("/openapi.json")
    doc = r.json()
    assert doc["openapi"].startswith("3.") and "/api/meters/{meter_id}/bills" in doc["paths"]
    assert doc["paths"]["/api/ledger"]["get"]["security"] == [{"supplierBearer": []}]
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
    assert r.headers["x-content-type-options"] == "nosniff" and "access-control-allow-origin" not in r.headers
    assert c.get("/api/info").headers["cache-control"] == "no-store"
    page = c.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert c.get("/py/vwcore/aead.py").status_code == 200
    assert c.get("/py/vwcore/../params.py").status_code == 404
    assert c.get("/npm/micropython/micropython.wasm").headers["content-type"] == "application/wasm"


@pytest.mark.security
def test_concurrent_bills_for_one_cycle_record_once(db_url, world, client_for):
    """Two service processes (two connections) receive two valid bills for the same cycle at
    the same moment: the ledger's write lock lets exactly one be recorded."""
    import threading

    c, svc = client_for(db_url, world)
    setup_service(c, world)
    svc.intake([world.raw[t] for t in sorted(world.raw)])
    b = host_bill(world, world.start, world.end)
    bodies = [json.dumps(dict(b, created="2027-01-0%dT00:00:00Z" % i)).encode() for i in (1, 2)]
    svcs = [Service(SupplierDB.open(db_url), world.spub) for _ in bodies]
    out = [None, None]
    go = threading.Barrier(2)

    def send(i):
        go.wait()
        out[i] = svcs[i].receive_bill(world.meter.pub["meter_id"], world.token, bodies[i])

    ts = [threading.Thread(target=send, args=(i,)) for i in (0, 1)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert all(o is not None and o["valid"] for o in out), out
    assert sorted(o["recorded"] for o in out) == [False, True], out
    assert len(svc.db.bills(world.meter.pub["meter_id"])) == 1
    for s in svcs:
        s.db.close()
