# SPDX-License-Identifier: MIT
"""A bill's packed columns (issue 14): veriwatt.cbill (crypto_c/cpython/vw_billhex.c and its
pure-Python fallback) accepts exactly the canonical encodings, value for value, on generated
inputs; bill.verify_bill's packed path (bill.packed_records, linear.check_packed,
batchverify.FastChecker.packed_ok) is taken for honest bills and gives exactly the reference
verifier's verdict and message on every tampering, from objects and from the files' bytes
(verify_raw, verify_many)."""

from __future__ import annotations

import copy
import json
import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_batchverify import _flip, outcome

from veriwatt import batchverify, bill, cbill, records
from vwcore import group as _group

pytestmark = [pytest.mark.scale, pytest.mark.security]
G = _group.DEFAULT
P16, Q16 = 0xFFF1, 0xFF01  # small moduli (2 bytes): the range boundaries are hit often


def ref_elems(xs, width, p):
    """The spec (docs/FORMATS.md): x == "%x" % v (lowercase hex, no leading zero) and 1 < v < p."""
    vals = []
    for x in xs:
        if not isinstance(x, str) or not re.fullmatch(r"[0-9a-f]+", x):
            return None
        v = int(x, 16)
        if x != "%x" % v or not 1 < v < p:
            return None
        vals.append(v)
    if not vals:
        return None
    return b"".join(v.to_bytes(width, "big") for v in vals), b"".join(v.to_bytes(width, "little") for v in vals)


def ref_sigs(xs, qlen, q):
    """The spec: exactly 4 * qlen lowercase hex digits e || s, e < q and s < q."""
    es, ss = [], []
    for x in xs:
        if not isinstance(x, str) or not re.fullmatch(r"[0-9a-f]{%d}" % (4 * qlen), x):
            return None
        e, s = int(x[: 2 * qlen], 16), int(x[2 * qlen :], 16)
        if e >= q or s >= q:
            return None
        es.append(e.to_bytes(qlen, "big"))
        ss.append(s.to_bytes(qlen, "big"))
    return (b"".join(es), b"".join(ss)) if es else None


JUNK = st.text(alphabet="0123456789abcdefABCDEF ,x-+_\n\u0663\uff11\u00e9", max_size=12)


def elem_texts(p, width):
    canon = st.one_of(st.integers(0, p + 2), st.integers(p - 2, p + 2), st.integers(0, 3)).map(lambda v: "%x" % v)
    edit = st.sampled_from(
        [
            lambda x: x,
            lambda x: "0" + x,
            lambda x: x.upper(),
            lambda x: x + ",",
            lambda x: "," + x,
            lambda x: x[:1] + "," + x[1:],
            lambda x: " " + x,
            lambda x: x[:-1],
            lambda x: "",
            lambda x: "f" * (2 * width + 1),
            lambda x: "f" * (2 * width),
            lambda x: x[:1] + "\u0663" + x[2:],
        ]
    )
    item = st.one_of(
        canon,
        canon,
        canon,
        st.tuples(canon, edit).map(lambda t: t[1](t[0])),
        JUNK,
        st.sampled_from([None, 5, True, ["ab"], b"ab"]),
    )
    return st.lists(item, min_size=0, max_size=6)


@pytest.mark.parametrize("native", [True, False])
@settings(max_examples=400, deadline=None)
@given(xs=elem_texts(P16, 2))
def test_elems_small_modulus_is_the_spec(native, xs):
    assert not native or cbill.available(), "vwcrypto was built without vw_billhex: rerun bash tools/setup"
    assert cbill.elems(xs, 2, P16, native=native) == ref_elems(xs, 2, P16)


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("group", ["2048", "3072"])
@settings(max_examples=100, deadline=None)
@given(near=st.lists(st.integers(-4, 4), max_size=4), bits=st.lists(st.integers(0, 3072), max_size=3), data=st.data())
def test_elems_group_modulus_is_the_spec(native, group, near, bits, data):
    """Values near p and 0, of every length (the SSE2 blocks of 32 digits and the tails)."""
    Gx = _group.get(group)
    xs = [Gx.p + k for k in near] + [data.draw(st.integers(0, (1 << b) - 1)) for b in bits]
    texts = ["%x" % v for v in data.draw(st.permutations(xs))]
    if texts and data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(texts) - 1))
        texts[i] = data.draw(
            st.sampled_from(
                [lambda x: "0" + x, str.upper, lambda x: x[:-1] + "g", lambda x: x + "0", lambda x: x[:-33]]
            )
        )(texts[i])
    assert cbill.elems(texts, Gx.plen, Gx.p, native=native) == ref_elems(texts, Gx.plen, Gx.p)


def sig_texts(q, qlen):
    half = st.integers(0, (1 << (8 * qlen)) - 1).map(lambda v: "%0*x" % (2 * qlen, v))
    near = st.integers(0, 3).map(lambda k: "%0*x" % (2 * qlen, q - 2 + k))
    canon = st.tuples(st.one_of(half, near), st.one_of(half, near)).map("".join)
    edit = st.sampled_from(
        [
            lambda x: x,
            str.upper,
            lambda x: x[:-1],
            lambda x: x + "0",
            lambda x: x[:3] + "," + x[4:],
            lambda x: x[:-1] + ",",
            lambda x: " " + x[1:],
            lambda x: x[:2] + "\u0663" + x[3:],
        ]
    )
    item = st.one_of(canon, canon, st.tuples(canon, edit).map(lambda t: t[1](t[0])), JUNK, st.just(None))
    return st.lists(item, max_size=6)


@pytest.mark.parametrize("native", [True, False])
@settings(max_examples=400, deadline=None)
@given(xs=sig_texts(Q16, 2))
def test_sigs_small_order_is_the_spec(native, xs):
    assert cbill.sigs(xs, 2, Q16, native=native) == ref_sigs(xs, 2, Q16)


@pytest.mark.parametrize("native", [True, False])
@settings(max_examples=100, deadline=None)
@given(xs=sig_texts(G.q, G.qlen))
def test_sigs_group_order_is_the_spec(native, xs):
    assert cbill.sigs(xs, G.qlen, G.q, native=native) == ref_sigs(xs, G.qlen, G.q)


@pytest.mark.parametrize("native", [True, False])
@settings(max_examples=200, deadline=None)
@given(vals=st.lists(st.integers(0, (1 << 256) - 1), max_size=40), data=st.data())
def test_weighted_sum_is_the_sum(native, vals, data):
    ws = data.draw(st.lists(st.integers(0, (1 << 64) - 1), min_size=len(vals), max_size=len(vals)))
    w = b"".join(a.to_bytes(8, "little") for a in ws)
    v = b"".join(x.to_bytes(32, "big") for x in vals)
    assert cbill.weighted_sum(w, v, 32, native=native) == sum(a * x for a, x in zip(ws, vals))


def test_weighted_sum_refuses_inconsistent_lengths():
    with pytest.raises(ValueError):
        cbill.weighted_sum(b"\x00" * 8, b"\x00" * 31, 32)


# ------------------------------------------------------------ the verifier's packed path


def _set(i, key, f):
    def edit(b):
        b["commitments"][i][key] = f(b["commitments"][i][key])

    return edit


def _set_r(i, f):
    def edit(b):
        b["sig_R"][i] = f(b["sig_R"][i])

    return edit


def _pop(i):
    return lambda b: b["commitments"][i].pop("sig")


HEX_EDITS = {  # applied to a commitment's C and to an R_t
    "altered digit": lambda x: _flip(x, 17),
    "upper case": str.upper,
    "leading zero": lambda x: "0" + x,
    "two leading zeros": lambda x: "00" + x,
    "cut by one digit": lambda x: x[:-1],
    "one digit more": lambda x: x + "0",
    "odd length minimal (2)": lambda x: "2",
    "0": lambda x: "0",
    "1": lambda x: "1",
    "p - 1": lambda x: "%x" % (G.p - 1),
    "p": lambda x: "%x" % G.p,
    "p + 1": lambda x: "%x" % (G.p + 1),
    "2^2048 - 1": lambda x: "f" * 512,
    "513 digits": lambda x: "1" + "0" * 512,
    "non-hex": lambda x: x[:5] + "g" + x[6:],
    "comma inside": lambda x: x[:5] + "," + x[6:],
    "trailing comma": lambda x: x + ",",
    "space": lambda x: " " + x,
    "unicode digit": lambda x: x[:5] + "\u0663" + x[6:],
    "fullwidth digit": lambda x: x[:5] + "\uff11" + x[6:],
    "empty": lambda x: "",
    "integer": lambda x: int(x, 16),
    "null": lambda x: None,
}
SIG_EDITS = {
    "changed e": lambda x: _flip(x, 5),
    "changed s": lambda x: _flip(x, 100),
    "upper case": str.upper,
    "127 digits": lambda x: x[:-1],
    "129 digits": lambda x: x + "0",
    "e = q": lambda x: "%064x" % G.q + x[64:],
    "s = q": lambda x: x[:64] + "%064x" % G.q,
    "e = q - 1": lambda x: "%064x" % (G.q - 1) + x[64:],
    "comma inside": lambda x: x[:64] + "," + x[65:],
    "unicode digit": lambda x: x[:9] + "\u0663" + x[10:],
    "integer": lambda x: 5,
}
OTHER_EDITS = {
    "honest": lambda b: None,
    "missing sig": _pop(7),
    "extra field": lambda b: b["commitments"][7].update(extra=1),
    "slot True": lambda b: b["commitments"][0].update(slot=True),
    "slot float": _set(3, "slot", float),
    "slot string": _set(3, "slot", str),
    "reordered slots": lambda b: b["commitments"].insert(21, b["commitments"].pop(20)),
    "dropped slot": lambda b: b["commitments"].pop(20),
    "duplicated slot": lambda b: b["commitments"].insert(11, b["commitments"][10]),
    "sig_R one short": lambda b: b["sig_R"].pop(),
    "sig_R one more": lambda b: b["sig_R"].append(b["sig_R"][0]),
    "sig_R swapped": lambda b: b["sig_R"].insert(4, b["sig_R"].pop(3)),
    "sig_R missing": lambda b: b.pop("sig_R"),
    "sig_R a dict": lambda b: b.update(sig_R={"a": 1}),
    "commitments a dict": lambda b: b.update(commitments={}),
    "changed total": lambda b: b.update(total=b["total"] - 1),
    "changed proof R": lambda b: b["proof"].update(R="%064x" % ((int(b["proof"]["R"], 16) + 1) % G.q)),
    "amount": lambda b: b.update(amount="0.01"),
}


def _short(xs):
    """The index of the first value written with fewer than 2 * plen digits (room for a zero)."""
    i = next((i for i, x in enumerate(xs) if len(x) < 2 * G.plen), None)
    assert i is not None, "no short value in this bill: pick another test bill"
    return i


def _pad_c(b):
    i = _short([c["C"] for c in b["commitments"]])
    b["commitments"][i]["C"] = "0" + b["commitments"][i]["C"]


def _pad_r(b):
    i = _short(b["sig_R"])
    b["sig_R"][i] = "0" + b["sig_R"][i]


def tamperings():
    out = dict(OTHER_EDITS, **{"C short one zero-padded": _pad_c, "R short one zero-padded": _pad_r})
    for name, f in HEX_EDITS.items():
        out["C " + name] = _set(9, "C", f)
        out["R " + name] = _set_r(9, f)
    for name, f in SIG_EDITS.items():
        out["sig " + name] = _set(9, "sig", f)
    return out


def reference(b, t, pub):
    """bill.verify_bill with the one-by-one records.Checker: never the packed path."""
    return outcome(bill.verify_bill, b, t, pub)


@pytest.fixture
def packed_calls(monkeypatch):
    """How often the packed path answered "valid" (bill._packed_ok returning True)."""
    calls = []
    real = bill._packed_ok

    def spy(*a, **k):
        got = real(*a, **k)
        calls.append(got)
        return got

    monkeypatch.setattr(bill, "_packed_ok", spy)
    return calls


def test_packed_path_is_taken_for_an_honest_bill(day_bill, day_tariff, day_meter, packed_calls, monkeypatch):
    assert batchverify.FastChecker.from_pub(day_meter.pub).packs(), (
        "the C column decoder, hashes or products are missing"
    )
    monkeypatch.setattr(bill, "parse_entries", lambda *a, **k: pytest.fail("the usual parse ran for an honest bill"))
    assert outcome(batchverify.verify_bill, day_bill, day_tariff, day_meter.pub)[0] == "valid"
    assert packed_calls == [True]


@pytest.mark.parametrize("name", sorted(tamperings()))
def test_tampering_same_verdict_and_message(day_bill, day_tariff, day_meter, name, packed_calls):
    b = copy.deepcopy(day_bill)
    tamperings()[name](b)
    ref = reference(b, day_tariff, day_meter.pub)
    packed_calls.clear()
    assert outcome(batchverify.verify_bill, b, day_tariff, day_meter.pub) == ref
    assert (ref[0] == "valid") == (name in ("honest", "sig_R missing")), ref  # (the older format)
    if name == "honest":
        assert packed_calls == [True]
    elif name != "amount":  # (the amount is checked after the signatures and the proof)
        assert True not in packed_calls  # the packed path never accepts what the reference refuses


def _raw_items(day_bill):
    items = []
    for name, f in sorted(tamperings().items()):
        b = copy.deepcopy(day_bill)
        f(b)
        items.append((name, json.dumps(b).encode()))
    good = json.dumps(day_bill)
    i = good.index('"slot"')
    items.append(("duplicate key", (good[:i] + '"slot": 0, ' + good[i:]).encode()))
    items.append(("not json", b"{not json"))
    items.append(("deep", b"[" * 40 + b"]" * 40))
    items.append(("long integer", good.replace('"total": ', '"total": 1' + "0" * 50, 1).encode()))
    items.append(("honest again", good.encode()))
    return items


def test_raw_and_many_same_as_reference(day_bill, day_tariff, day_meter):
    """From the files' bytes (JSON strictness first): verify_raw and verify_many (joint batch
    equations) give the reference's status and reason for every item."""
    pubs = {day_meter.pub["meter_id"]: day_meter.pub}
    items = _raw_items(day_bill)
    plain = lambda pub: records.Checker.from_pub(pub)  # noqa: E731
    ref = [batchverify.verify_raw(raw, n, day_tariff, pubs.__getitem__, checker=plain) for n, raw in items]
    one = [batchverify.verify_raw(raw, n, day_tariff, pubs.__getitem__) for n, raw in items]
    many = batchverify.verify_many(items, day_tariff, pubs.__getitem__)
    key = lambda r: (r.name, r.status, r.reason, r.problem, r.slot, r.total, r.amount)  # noqa: E731
    assert [key(r) for r in one] == [key(r) for r in ref]
    assert [key(r) for r in many] == [key(r) for r in ref]
    assert {r.name for r in ref if r.status == "valid"} == {"honest", "honest again", "sig_R missing"}


def test_month_bill_one_bad_signature_among_1488(pop_dir):
    """A real month bill (1,488 records) with one signature's s changed (its hash still passes:
    only the batch equation sees it), and with one R_t changed: verify_many names the record
    exactly as the reference."""
    from veriwatt import population

    pop = population.Population(str(pop_dir))
    raws = [(os.path.basename(p), open(p, "rb").read()) for p in pop.bill_paths()]
    b = json.loads(raws[0][1])
    assert len(b["commitments"]) == 1488
    bad_s, bad_r = copy.deepcopy(b), copy.deepcopy(b)
    bad_s["commitments"][1000]["sig"] = _flip(bad_s["commitments"][1000]["sig"], 127)
    bad_r["sig_R"][1487] = _flip(bad_r["sig_R"][1487], 3)
    items = raws + [("bad_s", json.dumps(bad_s).encode()), ("bad_r", json.dumps(bad_r).encode())]
    plain = lambda pub: records.Checker.from_pub(pub)  # noqa: E731
    ref = [batchverify.verify_raw(raw, n, pop.tariff, pop.meter_pub, checker=plain) for n, raw in items]
    got = batchverify.verify_many(items, pop.tariff, pop.meter_pub)
    assert [(r.status, r.reason, r.slot) for r in got] == [(r.status, r.reason, r.slot) for r in ref]
    assert [r.status for r in got[-2:]] == ["invalid", "invalid"]
    assert got[-2].slot == b["commitments"][1000]["slot"] and got[-1].slot == b["commitments"][1487]["slot"]


@pytest.mark.parametrize("kind", ["settlement", "total"])
def test_settlement_and_total_bills_through_the_packed_path(day_meter, day_supplier, packed_calls, kind):
    """A settlement (index prices, some negative: one inversion in the linear check) and a
    total (every weight 1) go through the packed path, with the reference's verdict, honest
    and with the total changed."""
    from hosthelpers import DAY, with_cycle

    from veriwatt import keys, tariff

    t = None
    if kind == "settlement":
        body = with_cycle(tariff.example("index"), DAY)
        t = tariff.parse_signed(tariff.sign(body, day_supplier), keys.public(day_supplier))
        assert any(p < 0 for p in t.prices(*DAY)) and any(p > 0 for p in t.prices(*DAY))
    recs = day_meter.records(*DAY)
    b = bill.make_bill(recs, records.open_all(recs, day_meter.customer_key), t, DAY[0], DAY[1], day_meter.pub)
    assert b["kind"] == kind and "sig_R" in b
    for total in (b["total"], b["total"] - 1):
        c = dict(b, total=total)
        ref = reference(c, t, day_meter.pub)
        packed_calls.clear()
        assert outcome(batchverify.verify_bill, c, t, day_meter.pub) == ref
        assert (ref[0] == "valid") == (total == b["total"]) == (packed_calls == [True])
