# SPDX-License-Identifier: MIT
"""veriwatt.batchverify gives exactly veriwatt.bill.verify_bill's verdict (valid, or the same
exception with the same message) on honest bills and on every tampering: the ones of the host
test suites, and hypothesis-generated ones."""

from __future__ import annotations

import copy
import json

import pytest
from hosthelpers import DAY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veriwatt import backend, batchverify, bill, fastexp, keys
from veriwatt.errors import VeriwattError

pytestmark = [pytest.mark.scale, pytest.mark.security, pytest.mark.usefixtures("mexp_path")]


def outcome(fn, b, t, pub):
    try:
        rep = fn(b, t, pub)
    except VeriwattError as e:
        return (type(e).__name__, str(e), getattr(e, "report", {}).get("problems"))
    return ("valid", rep["total"], rep["amount"], rep["problems"])


def same(b, t, pub):
    ref = outcome(bill.verify_bill, b, t, pub)
    fast = outcome(batchverify.verify_bill, b, t, pub)
    assert fast == ref
    return ref


def _set_c(b, i, f):
    c = b["commitments"][i]
    c["C"] = f(c["C"])


def _flip(h, i):
    i %= len(h)
    d = "0123456789abcdef"[(int(h[i], 16) + 1) % 16]
    return h[:i] + d + h[i + 1 :]


def suite_tamperings(other):
    """The tamperings of tests/host/test_bill.py and test_security_verify.py, as functions."""
    r = other.record(DAY[0] + 7)
    foreign = {"slot": r.slot, "C": "%x" % r.C, "sig": "%064x%064x" % (r.e, r.s)}
    return {
        "honest": lambda b: None,
        "changed C": lambda b: _set_c(b, 10, lambda c: "%x" % (int(c, 16) * 2 % (1 << 2040) + 1)),
        "C not minimal": lambda b: _set_c(b, 3, lambda c: "0" + c),
        "C uppercase": lambda b: _set_c(b, 3, str.upper),
        "C = 1": lambda b: _set_c(b, 3, lambda c: "1"),
        "C >= p": lambda b: _set_c(b, 3, lambda c: "f" * 512),
        "changed e": lambda b: b["commitments"][4].update(sig=_flip(b["commitments"][4]["sig"], 5)),
        "changed s": lambda b: b["commitments"][4].update(sig=_flip(b["commitments"][4]["sig"], 100)),
        "s >= q": lambda b: b["commitments"][4].update(sig=b["commitments"][4]["sig"][:64] + "f" * 64),
        "changed total": lambda b: b.update(total=b["total"] - 1000),
        "total out of bounds": lambda b: b.update(total=10**30),
        "changed R": lambda b: b["proof"].update(R="%064x" % ((int(b["proof"]["R"], 16) + 1) % (1 << 255))),
        "other tariff digest": lambda b: b["tariff"].update(digest="sha256:" + "0" * 64),
        "dropped slot": lambda b: b["commitments"].pop(20),
        "duplicated slot": lambda b: b["commitments"].insert(11, b["commitments"][10]),
        "duplicate replacing": lambda b: b["commitments"].__setitem__(11, b["commitments"][10]),
        "reordered": lambda b: b["commitments"].insert(21, b["commitments"].pop(20)),
        "foreign meter's record": lambda b: b["commitments"].__setitem__(7, foreign),
        "slot relabelled": lambda b: b["commitments"][0].update(slot=DAY[0] - 48),
        "absurd slot": lambda b: b["commitments"][0].update(slot=2**70),
        "bool slot": lambda b: b["commitments"][0].update(slot=True),
        "extra field": lambda b: b["commitments"][0].update(R="00"),
        "amount changed": lambda b: b.update(amount="0.01"),
        "period shifted": lambda b: b["period"].update(start_slot=DAY[0] + 1),
        "meter id": lambda b: b.update(meter_id="00" * 8),
        "meter key id": lambda b: b.update(meter_key_id="00" * 8),
        "no commitments": lambda b: b.update(commitments={}),
        "created": lambda b: b.update(created="yesterday"),
        "kind": lambda b: b.update(kind="total"),
    }


def test_suite_tamperings_same_verdict(day_bill, day_tariff, day_meter, other_meter):
    verdicts = {}
    for name, f in suite_tamperings(other_meter).items():
        b = copy.deepcopy(day_bill)
        f(b)
        verdicts[name] = same(b, day_tariff, day_meter.pub)[0]
    assert verdicts.pop("honest") == "valid"
    assert all(v != "valid" for v in verdicts.values()), verdicts


def test_wrong_and_replaced_keys_same_verdict(day_bill, day_tariff, day_meter, other_meter):
    same(day_bill, day_tariff, other_meter.pub)
    fake = keys.meter_public(day_meter.mid, other_meter.keys.y)
    b = copy.deepcopy(day_bill)
    b["meter_key_id"] = fake["key_id"]
    assert same(b, day_tariff, fake)[0] == "InvalidError"


def test_real_month_bills(pop_dir):
    from veriwatt import population

    pop = population.Population(str(pop_dir))
    for i, path in enumerate(pop.bill_paths()):
        B = json.load(open(path))
        pub = pop.meter_pub(B["meter_id"])
        assert same(B, pop.tariff, pub)[0] == "valid"
        b = copy.deepcopy(B)
        b["commitments"][700 + i]["sig"] = _flip(b["commitments"][700 + i]["sig"], 70)
        ref = same(b, pop.tariff, pub)
        assert ref[0] == "InvalidError" and "slot %d" % (B["period"]["start_slot"] + 700 + i) in ref[1]


def test_without_gmpy2_same_verdict(day_bill, day_tariff, day_meter, monkeypatch):
    monkeypatch.setattr(backend, "PUBLIC", "vwcrypto")  # the public-value checks without gmpy2
    assert not fastexp.available()
    b = copy.deepcopy(day_bill)
    assert same(b, day_tariff, day_meter.pub)[0] == "valid"
    b["commitments"][2]["sig"] = _flip(b["commitments"][2]["sig"], 9)
    assert same(b, day_tariff, day_meter.pub)[0] == "InvalidError"


FIELDS = ("slot", "C", "sig")


@st.composite
def tampering(draw):
    """A list of edits to a bill: one or more of the commitments' fields, the order or count
    of the commitments, the total, the proof, the signatures' commitments `sig_R`."""
    n = draw(st.integers(1, 3))
    edits = []
    for _ in range(n):
        what = draw(st.sampled_from(["field", "drop", "dup", "swap", "total", "R", "sigR", "sigR swap", "sigR drop"]))
        i = draw(st.integers(0, 47))
        j = draw(st.integers(0, 47))
        pos = draw(st.integers(0, 1023))
        delta = draw(st.integers(-(2**40), 2**40))
        field = draw(st.sampled_from(FIELDS))
        edits.append((what, i, j, pos, delta, field))
    return edits


def apply(b, edits):
    cs = b["commitments"]
    for what, i, j, pos, delta, field in edits:
        i, j = i % len(cs), j % len(cs)
        if what == "field":
            c = cs[i]
            c[field] = c[field] + delta if field == "slot" else _flip(c[field], pos)
        elif what == "drop" and len(cs) > 1:
            cs.pop(i)
        elif what == "dup":
            cs.insert(j, dict(cs[i]))
        elif what == "swap":
            cs[i], cs[j] = cs[j], cs[i]
        elif what == "total":
            b["total"] += delta
        elif what == "R":
            b["proof"]["R"] = _flip(b["proof"]["R"], pos)
        elif what == "sigR" and b.get("sig_R"):
            rs = b["sig_R"]
            rs[i % len(rs)] = _flip(rs[i % len(rs)], pos)
        elif what == "sigR swap" and b.get("sig_R"):
            rs = b["sig_R"]
            rs[i % len(rs)], rs[j % len(rs)] = rs[j % len(rs)], rs[i % len(rs)]
        elif what == "sigR drop" and b.get("sig_R"):
            b["sig_R"].pop(i % len(b["sig_R"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=tampering())
def test_generated_tamperings_same_verdict(day_bill, day_tariff, day_meter, edits):
    b = copy.deepcopy(day_bill)
    apply(b, edits)
    same(b, day_tariff, day_meter.pub)
