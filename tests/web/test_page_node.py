# SPDX-License-Identifier: MIT
"""The customer page's computation (web/static/vwpage.py + firmware/vwcore) under the official
MicroPython WebAssembly build in Node: the bill it makes is the host's bill, and the supplier's
verifier (veriwatt.bill.verify_bill) accepts it; wrong codes and altered records are refused."""

from __future__ import annotations

import pytest

from webhelpers import (
    C_OFFSET,
    CT_OFFSET,
    SIG_OFFSET,
    WEEK,
    Meter,
    month_request,
    run_node_page,
    signed_tariff,
    supplier_key,
    tamper,
)

from veriwatt import bill as _bill
from veriwatt import keys, records, tariff, webaccess

pytestmark = pytest.mark.web


@pytest.fixture(scope="module")
def month():
    m = Meter(b"WEBPAGE1", 21)
    sk = supplier_key()
    st = signed_tariff(sk, [list(WEEK)])
    return m, sk, st, m.raw(*WEEK)


def host_bill(m, sk, st):
    t = tariff.parse_signed(st, keys.public(sk))
    recs = m.records(*WEEK)
    ops = records.open_all(recs, m.customer_key)
    return _bill.make_bill(recs, ops, t, WEEK[0], WEEK[1], m.pub), t


def test_page_bill_equals_host_bill_and_verifies(month):
    m, sk, st, raw = month
    out = run_node_page(m.code, m.pub["meter_id"], month_request(m, sk, st, *WEEK, raw))
    assert out["unlock"]["ok"], out["unlock"]
    assert out["unlock"]["token"] == webaccess.token(m.code, m.pub["meter_id"])
    res = out["bill"]
    assert res["ok"], res.get("error")
    page = res["bill"]
    hb, t = host_bill(m, sk, st)
    # the page leaves out the optional sig_R (the signatures' commitments that let a supplier
    # batch-verify; 1488 exponentiations in the browser): every other field is the host's
    assert "sig_R" not in page and "sig_R" in hb
    for k in hb:
        if k not in ("created", "sig_R"):
            assert page[k] == hb[k], k
    rep = _bill.verify_bill(page, t, m.pub)
    assert rep["valid"] and rep["total"] == hb["total"]
    assert res["readings"] == [m.reading(x) for x in range(*WEEK)]
    assert res["prices"] == t.prices(*WEEK)


def test_page_wrong_code_is_a_clear_message(month):
    m, sk, st, raw = month
    other = Meter(b"WEBPAGE2", 40)
    out = run_node_page(other.code, m.pub["meter_id"], month_request(m, sk, st, *WEEK, raw))
    assert out["unlock"]["ok"]  # a well-formed code: only decryption can tell
    assert not out["bill"]["ok"]
    assert "does not open the meter's readings" in out["bill"]["error"]
    typo = m.code[:-1] + ("0" if m.code[-1] != "0" else "1")
    out = run_node_page(typo, m.pub["meter_id"], month_request(m, sk, st, *WEEK, raw))
    assert not out["unlock"]["ok"] and "check character" in out["unlock"]["error"]


@pytest.mark.security
@pytest.mark.parametrize(
    "where,offset,expect",
    [
        ("C", C_OFFSET, "commitment for"),
        ("ciphertext", CT_OFFSET, "does not decrypt"),
        ("signature", SIG_OFFSET, "signature on the reading"),
    ],
)
def test_page_detects_altered_record(month, where, offset, expect):
    m, sk, st, raw = month
    bad = dict(raw)
    slot = WEEK[0] + 5 if where != "signature" else WEEK[0]  # the first record's signature is always checked
    bad[slot] = tamper(raw[slot], offset)
    out = run_node_page(m.code, m.pub["meter_id"], month_request(m, sk, st, *WEEK, bad))
    assert not out["bill"]["ok"], where
    assert expect in out["bill"]["error"], out["bill"]["error"]


@pytest.mark.security
def test_page_detects_dropped_and_swapped_records(month):
    m, sk, st, raw = month
    bad = dict(raw)
    del bad[WEEK[0] + 7]
    out = run_node_page(m.code, m.pub["meter_id"], month_request(m, sk, st, *WEEK, bad))
    assert not out["bill"]["ok"] and "records for a period" in out["bill"]["error"]
    req = month_request(m, sk, st, *WEEK, raw)
    req["records"][3], req["records"][4] = req["records"][4], req["records"][3]
    out = run_node_page(m.code, m.pub["meter_id"], req)
    assert not out["bill"]["ok"] and "out of order" in out["bill"]["error"]


@pytest.mark.security
def test_page_refuses_a_tariff_changed_after_signing(month):
    m, sk, st, raw = month
    forged = dict(st, tariff=dict(st["tariff"], divisor=50000))
    forged.pop("digest")
    out = run_node_page(m.code, m.pub["meter_id"], month_request(m, sk, forged, *WEEK, raw))
    assert not out["bill"]["ok"] and "signature on the tariff does not verify" in out["bill"]["error"]
