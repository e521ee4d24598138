# SPDX-License-Identifier: MIT
"""The customer's page in a real browser (headless Chromium, Selenium) against a live `veriwatt
serve`: type the code, get a bill the supplier verifies; wrong code -> clear message; records
altered by a malicious service are detected in the page; nothing secret is ever sent."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from browser import LiveService, browser_requests, chrome, open_and_bill
from webhelpers import C_OFFSET, Meter, tamper

from veriwatt.bill import BILL_FIELDS
from vwcore import aead, reading

pytestmark = [pytest.mark.web, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def shot(name: str) -> str:
    """Where a screenshot goes: build/screenshots (VERIWATT_SCREENSHOTS=docs refreshes docs/)."""
    d = ROOT / os.environ.get("VERIWATT_SCREENSHOTS", "build/screenshots")
    d.mkdir(parents=True, exist_ok=True)
    return str(d / name)


@pytest.fixture
def live(world, tmp_path):
    s = LiveService(world, tmp_path)
    s.upload([world.raw[t] for t in sorted(world.raw)])
    yield s
    s.stop()


@pytest.fixture(scope="module")
def driver():
    d = chrome()
    yield d
    d.quit()


def test_browser_bills_and_supplier_verifies(live, world, driver):
    st = open_and_bill(driver, live.url, world.meter.pub["meter_id"], world.meter.code)
    assert st == "done", driver.find_element("id", "error").text
    v = driver.execute_script("return window.veriwatt.verdict")
    assert v["valid"] and v["recorded"], v
    led = live.db.bills(world.meter.pub["meter_id"])
    assert len(led) == 1 and led[0]["start_slot"] == world.start and led[0]["amount"] == v["amount"]
    assert "Verified and recorded" in driver.find_element("id", "verdict").text
    logs = [e["message"] for e in driver.get_log("browser")]
    assert not [m for m in logs if "Content Security Policy" in m or "Refused to" in m], logs  # CSP holds, page works
    assert driver.execute_script("return !!window.veriwatt.chart")  # chart.js drew the month
    driver.save_screenshot(shot("web-page-week.png"))


def test_browser_wrong_code_is_a_clear_message(live, world, driver):
    other = Meter(b"WEBSRV09", 55)
    st = open_and_bill(driver, live.url, world.meter.pub["meter_id"], other.code)
    assert st == "error"
    msg = driver.find_element("id", "error").text
    assert "This code does not open meter %s" % world.meter.pub["meter_id"] in msg
    driver.save_screenshot(shot("web-page-wrong-code.png"))
    driver.find_element("id", "code").send_keys("ABCDE-FGHJK")
    driver.find_element("id", "go").click()
    assert "Customer code must have 25 characters" in driver.find_element("id", "error").text
    assert live.db.bills() == []


@pytest.mark.security
def test_browser_detects_records_altered_by_the_service(live, world, driver):
    mid, slot = world.meter.pub["meter_id"], world.start + 17
    bad = tamper(world.raw[slot], C_OFFSET)  # a malicious service changes a stored commitment
    with live.db.tx() as cur:
        live.db._ex(cur, "UPDATE records SET record = ? WHERE meter_id = ? AND slot = ?", (bad, mid, slot))
    st = open_and_bill(driver, live.url, mid, world.meter.code)
    assert st == "error"
    msg = driver.find_element("id", "error").text
    assert "does not match its reading: the record was altered" in msg, msg
    assert not any(r["method"] == "POST" for r in live.recorder.seen)  # no bill was sent
    driver.save_screenshot(shot("web-page-tampered.png"))


@pytest.mark.security
def test_browser_sends_no_code_key_or_reading(live, world, driver):
    m = world.meter
    driver.get_log("performance")  # drop earlier tests' events
    st = open_and_bill(driver, live.url, m.pub["meter_id"], m.code)
    assert st == "done", driver.find_element("id", "error").text
    ke, km = aead.derive_keys(m.customer_key)
    opens = [reading.open_record(m.record(t), m.customer_key) for t in range(world.start, world.end)]
    secrets = [m.code, m.code.replace("-", ""), m.code.lower(), m.customer_key.hex(), ke.hex(), km.hex()]
    secrets += ["%064x" % r for _, r in opens] + ["%x" % r for _, r in opens]
    readings = [mm for mm, _ in opens]
    sent = browser_requests(driver)
    got = live.recorder.seen
    assert any(r["method"] == "POST" for r in sent) and any(r["method"] == "POST" for r in got)
    texts = [json.dumps(r) for r in sent] + [json.dumps(dict(r, body=r["body"].decode("latin-1"))) for r in got]
    for t in texts:
        for s in secrets:
            assert s not in t, "a secret was sent: %s..." % s[:12]
    for r in got:  # the only bodies: the bill, with no reading or opening in it
        if r["body"]:
            b = json.loads(r["body"])
            assert set(b) == set(BILL_FIELDS)
            assert all(set(c) == {"slot", "C", "sig"} for c in b["commitments"])
            assert set(b["proof"]) == {"R"}
            assert str(readings)[1:-1] not in r["body"].decode()
        assert "token" not in r["query"] and m.code not in r["path"]
    assert all(r["headers"].get("cookie") is None for r in got)
