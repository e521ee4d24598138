#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Benchmarks of the web architecture (docs/WEB.md, results in docs/BENCHMARKS.md):

- the customer's page: time to decrypt, check and bill a month (1488 slots) inside headless
  Chromium (window.veriwatt.timings.bill_ms: base64 -> MicroPython WebAssembly -> bill), and the
  same computation under Node (the page's Python on the same wasm build);
- the service: intake of certified records over HTTP (records/s: each signature verified,
  then stored) and verified bills (bills/s: veriwatt.bill.verify_bill of a month, then the
  ledger), with SQLite and with a real PostgreSQL server started in a temporary folder.

    .venv/bin/python tools/bench_web.py [--meters 3] [--no-browser] [--no-postgres] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "simulators"))

import webhelpers as W  # noqa: E402
from pgserver import PgServer  # noqa: E402

from veriwatt import bill as _bill  # noqa: E402
from veriwatt import keys, records, tariff, webaccess, webclient, webserve  # noqa: E402
from veriwatt.webapp import Limits  # noqa: E402


def make_meters(n: int):
    out = []
    for i in range(n):
        m = W.Meter(b"BENCHW%02d" % i, 60 + 2 * i)
        t0 = time.perf_counter()
        raw = m.raw(W.M_START, W.M_END)
        out.append((m, raw))
        print("  meter %d: %d records certified in %.1f s" % (i, len(raw), time.perf_counter() - t0), file=sys.stderr)
    return out


def bench_service(url_db: str, meters, sk, signed, tmp: Path) -> dict:
    spub = keys.public(sk)
    regs = [(m.pub, webaccess.verifier(m.code, m.pub["meter_id"])) for m, _ in meters]
    srv = webserve.Server(
        url_db,
        spub,
        tmp / ("tok-%d" % time.monotonic_ns()),
        [signed],
        regs,
        limits=Limits(bills_per_minute=1e6, bill_burst=10**6, uploads_per_minute=1e6, upload_burst=10**6),
    )
    url = srv.start()
    try:
        raws = [r for _, raw in meters for _, r in sorted(raw.items())]
        t0 = time.perf_counter()
        up = webclient.upload(url, raws)
        t_up = time.perf_counter() - t0
        assert up["added"] == len(raws) and not up["rejected"], up
        t0 = time.perf_counter()
        webclient.upload(url, raws)
        t_dup = time.perf_counter() - t0
        T = tariff.parse_signed(signed, spub)
        bills = []
        for m, _ in meters:
            recs = m.records(W.M_START, W.M_END)
            bills.append(
                json.dumps(
                    _bill.make_bill(recs, records.open_all(recs, m.customer_key), T, W.M_START, W.M_END, m.pub)
                ).encode()
            )
        t0 = time.perf_counter()
        for (m, _), b in zip(meters, bills):
            r = webclient.call(
                url,
                "POST",
                "/api/meters/%s/bills" % m.pub["meter_id"],
                b,
                {"x-veriwatt-access": webaccess.token(m.code, m.pub["meter_id"])},
            )
            assert r["recorded"], r
        t_bills = time.perf_counter() - t0
        return {
            "records": len(raws),
            "intake_records_per_s": round(len(raws) / t_up, 1),
            "reupload_records_per_s": round(len(raws) / t_dup, 1),
            "bills": len(bills),
            "bill_slots": W.M_END - W.M_START,
            "bills_per_s": round(len(bills) / t_bills, 3),
            "seconds_per_bill": round(t_bills / len(bills), 3),
            "bill_bytes": len(bills[0]),
        }
    finally:
        srv.stop()


def bench_browser(meters, sk, signed, tmp: Path, runs: int) -> dict:
    from browser import chrome, open_and_bill  # simulators/browser.py

    m, raw = meters[0]
    spub = keys.public(sk)
    srv = webserve.Server(
        str(tmp / "browser.db"),
        spub,
        tmp / "tok-browser",
        [signed],
        [(m.pub, webaccess.verifier(m.code, m.pub["meter_id"]))],
    )
    url = srv.start()
    srv.service.intake([r for _, r in sorted(raw.items())])
    d = chrome()
    try:
        times, boots = [], []
        for _ in range(runs):
            st = open_and_bill(d, url, m.pub["meter_id"], m.code)
            assert st == "done", d.find_element("id", "error").text
            t = d.execute_script("return window.veriwatt.timings")
            assert t["slots"] == W.M_END - W.M_START
            times.append(t["bill_ms"] / 1000)
            boots.append(t["boot_ms"] / 1000)
        shots = ROOT / "build" / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        d.save_screenshot(str(shots / "web-page-month.png"))  # the month's page (docs/web-page.png)
        return {
            "slots": W.M_END - W.M_START,
            "runs": runs,
            "bill_s_median": round(statistics.median(times), 2),
            "bill_s": [round(x, 2) for x in times],
            "boot_s_median": round(statistics.median(boots), 2),
        }
    finally:
        d.quit()
        srv.stop()


def bench_node(meters, sk, signed) -> dict:
    m, raw = meters[0]
    out = W.run_node_page(m.code, m.pub["meter_id"], W.month_request(m, sk, signed, W.M_START, W.M_END, raw))
    assert out["bill"]["ok"], out["bill"]
    return {
        "slots": W.M_END - W.M_START,
        "bill_s": round(out["ms"]["bill"] / 1000, 2),
        "load_s": round(out["ms"]["load"] / 1000, 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--meters", type=int, default=3)
    ap.add_argument("--runs", type=int, default=2, help="browser runs (median)")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--json", default=str(ROOT / "build" / "bench" / "web.json"))
    a = ap.parse_args()
    sk = W.supplier_key()
    signed = W.signed_tariff(sk)  # the example tariff: calendar months in Europe/London
    meters = make_meters(a.meters)
    tmp = Path(tempfile.mkdtemp(prefix="vw-bench-web-"))
    res = {"month": W.MONTH, "meters": a.meters}
    res["sqlite"] = bench_service(str(tmp / "svc.db"), meters, sk, signed, tmp)
    print("sqlite:", res["sqlite"], file=sys.stderr)
    if not a.no_postgres:
        pg = PgServer()
        try:
            res["postgresql"] = bench_service(pg.start(), meters, sk, signed, tmp)
        finally:
            pg.stop()
        print("postgresql:", res["postgresql"], file=sys.stderr)
    res["node"] = bench_node(meters, sk, signed)
    print("node:", res["node"], file=sys.stderr)
    if not a.no_browser:
        res["chromium"] = bench_browser(meters, sk, signed, tmp, a.runs)
        print("chromium:", res["chromium"], file=sys.stderr)
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
