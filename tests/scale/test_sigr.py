# SPDX-License-Identifier: MIT
"""Bills with the signatures' commitments (`sig_R`, docs/FORMATS.md): the batch path of
veriwatt.batchverify (hashes + one Bellare-Garay-Rabin batch equation) gives exactly the verdict
of the one-by-one reference veriwatt.bill.verify_bill on honest bills and on every tampering of
sig_R, of the signatures and of the commitments; a bill without sig_R (the older format) is
checked as before."""

from __future__ import annotations

import copy
import os
import random
import re

import pytest
from hosthelpers import DAY
from hosthelpers import POPULATION_SEED as SEED_POP
from hypothesis import given, settings
from hypothesis import strategies as st
from test_batchverify import _flip, outcome, suite_tamperings

from veriwatt import batchverify, bill, jsonio, records
from veriwatt.errors import VeriwattError
from vwcore import group as _group
from vwcore import modexp
from vwcore import sig as _sig
from vwcore import wire

pytestmark = [pytest.mark.scale, pytest.mark.usefixtures("mexp_path")]
G = _group.DEFAULT


def stripped(b):
    return {k: v for k, v in b.items() if k != "sig_R"}


def same(b, t, pub, old_too=False):
    """The batch path's verdict is the reference's; old_too: and the old format's (sig_R removed)."""
    ref = outcome(bill.verify_bill, b, t, pub)
    assert outcome(batchverify.verify_bill, b, t, pub) == ref
    assert outcome(batchverify.verify_bill, b, t, pub) == ref  # fresh random weights: the same
    if old_too:
        assert outcome(bill.verify_bill, stripped(b), t, pub) == ref
        assert outcome(batchverify.verify_bill, stripped(b), t, pub) == ref
    return ref


def test_bill_carries_each_signatures_commitment(day_bill, day_meter):
    rs = day_bill["sig_R"]
    assert len(rs) == len(day_bill["commitments"]) == DAY[1] - DAY[0]
    for c, R in zip(day_bill["commitments"], rs):
        e, s = int(c["sig"][:64], 16), int(c["sig"][64:], 16)
        want = modexp.powmod2(G.g, s, day_meter.keys.y, G.q - e, G.p)  # the meter's own code
        assert R == "%x" % want


def test_honest_bill_goes_through_the_batch(day_bill, day_tariff, day_meter, monkeypatch):
    def no(*a, **k):
        raise AssertionError("a signature was checked one by one")

    made = []
    real = batchverify.FastChecker.from_pub
    monkeypatch.setattr(batchverify.FastChecker, "from_pub", lambda pub, **k: made.append(real(pub, **k)) or made[-1])
    monkeypatch.setattr(batchverify.FastChecker, "sig_problem", no)
    monkeypatch.setattr(batchverify.FastChecker, "sig_ok", no)
    assert batchverify.verify_bill(copy.deepcopy(day_bill), day_tariff, day_meter.pub)["valid"]
    assert made and made[0]._ytab is None  # no per-key table: nothing was checked one by one


def test_old_bill_without_sig_r(day_bill, day_tariff, day_meter):
    b = stripped(copy.deepcopy(day_bill))
    assert same(b, day_tariff, day_meter.pub)[0] == "valid"
    b["commitments"][5]["sig"] = _flip(b["commitments"][5]["sig"], 77)
    assert same(b, day_tariff, day_meter.pub)[0] == "InvalidError"


def _set_r(i, f):
    def edit(b):
        b["sig_R"][i] = f(b["sig_R"][i], b)

    return edit


def _swap(i, j):
    def edit(b):
        b["sig_R"][i], b["sig_R"][j] = b["sig_R"][j], b["sig_R"][i]

    return edit


def _times(k):
    return lambda r, b: "%x" % (int(r, 16) * k % G.p)


SIG_R_INVALID = {  # each: (edit, index of the first bad entry)
    "altered digit": (_set_r(9, lambda r, b: _flip(r, 200)), 9),
    "swapped 3 and 30": (_swap(3, 30), 3),
    "times p-1 (order 2)": (_set_r(12, _times(G.p - 1)), 12),
    "times g (in the subgroup)": (_set_r(12, _times(G.g)), 12),
    "order-2 element itself": (_set_r(0, lambda r, b: "%x" % (G.p - 1)), 0),
    "another record's R": (_set_r(47, lambda r, b: b["sig_R"][46]), 47),
}
SIG_R_MALFORMED = {
    "leading zero": _set_r(4, lambda r, b: "0" + r),
    "uppercase": _set_r(4, lambda r, b: r.upper()),
    "0x prefix": _set_r(4, lambda r, b: "0x" + r),
    "space": _set_r(4, lambda r, b: " " + r),
    "R = 1": _set_r(4, lambda r, b: "1"),
    "R = 0": _set_r(4, lambda r, b: "0"),
    "R = p": _set_r(4, lambda r, b: "%x" % G.p),
    "R = p + 1": _set_r(4, lambda r, b: "%x" % (G.p + 1)),
    "an integer": _set_r(4, lambda r, b: int(r, 16)),
    "null entry": _set_r(4, lambda r, b: None),
    "too long": _set_r(4, lambda r, b: "f" * 600),
    "missing one": lambda b: b["sig_R"].pop(17),
    "an extra one": lambda b: b["sig_R"].append(b["sig_R"][0]),
    "not a list": lambda b: b.update(sig_R={"0": b["sig_R"][0]}),
    "null": lambda b: b.update(sig_R=None),
    "empty": lambda b: b.update(sig_R=[]),
}


@pytest.mark.security
@pytest.mark.parametrize("name", sorted(SIG_R_INVALID))
def test_sig_r_tampered_named_as_such(day_bill, day_tariff, day_meter, name):
    edit, i = SIG_R_INVALID[name]
    b = copy.deepcopy(day_bill)
    edit(b)
    ref = same(b, day_tariff, day_meter.pub)
    assert ref[0] == "InvalidError" and ref[2][0]["kind"] == "sig_R", ref
    assert ref[2][0]["slot"] == DAY[0] + i and "sig_R[%d]" % i in ref[1]
    assert outcome(bill.verify_bill, stripped(b), day_tariff, day_meter.pub)[0] == "valid"  # the signatures are fine


@pytest.mark.security
@pytest.mark.parametrize("name", sorted(SIG_R_MALFORMED))
def test_sig_r_malformed_refused(day_bill, day_tariff, day_meter, name):
    b = copy.deepcopy(day_bill)
    SIG_R_MALFORMED[name](b)
    ref = same(b, day_tariff, day_meter.pub)
    assert ref[0] == "VeriwattError" and "sig_R" in ref[1], ref


@pytest.mark.security
def test_signature_and_commitment_tamperings_same_as_old_format(day_bill, day_tariff, day_meter, other_meter):
    """Every tampering of the host suites (C, e, s, slots, total, proof, ...), on a bill with
    sig_R: the same verdict on both paths, and the same as the bill without sig_R gets."""
    verdicts = {}
    for name, f in suite_tamperings(other_meter).items():
        b = copy.deepcopy(day_bill)
        f(b)
        verdicts[name] = same(b, day_tariff, day_meter.pub, old_too=True)[0]
    assert verdicts.pop("honest") == "valid"
    assert all(v != "valid" for v in verdicts.values()), verdicts


@pytest.mark.security
def test_records_and_sig_r_moved_together(day_bill, day_tariff, day_meter, other_meter):
    """A foreign meter's record with its own (correct) R, a record and its R swapped with
    another slot's: refused as the old format refuses them (signature / order)."""
    r = other_meter.record(DAY[0] + 7)
    b = copy.deepcopy(day_bill)
    b["commitments"][7] = {"slot": r.slot, "C": "%x" % r.C, "sig": "%064x%064x" % (r.e, r.s)}
    b["sig_R"][7] = "%x" % modexp.powmod2(G.g, r.s, other_meter.keys.y, G.q - r.e, G.p)
    assert same(b, day_tariff, day_meter.pub, old_too=True)[2][0]["kind"] == "signature"
    b = copy.deepcopy(day_bill)
    for k in ("commitments", "sig_R"):
        b[k][20], b[k][21] = b[k][21], b[k][20]
    assert same(b, day_tariff, day_meter.pub, old_too=True)[2][0]["kind"] == "order"


def _crafted(meter, slot, C, R_of_k, s_delta=0):
    """A record signed WITH the meter's key x whose hashed commitment is R_of_k(g^k): what only
    the key's holder can make (a test of the batch equation itself, past the hash check)."""
    x, y = meter.keys.signer.x, meter.keys.y
    k = random.Random(slot).randrange(1, G.q)
    R = R_of_k(modexp.powmod(G.g, k, G.p))
    msg = wire.signed_bytes(meter.mid, slot, C, G.id)
    e = _sig._challenge(G, R, y, msg)
    return R, e, (k + e * x + s_delta) % G.q


@pytest.mark.security
def test_batch_equation_catches_an_r_the_hash_accepts(day_bill, day_tariff, day_meter):
    """e = H(R) holds but g^s y^-e != R (R in the subgroup): only the batch equation can see it."""
    b = copy.deepcopy(day_bill)
    c = b["commitments"][30]
    R, e, s = _crafted(day_meter, c["slot"], int(c["C"], 16), lambda r: r, s_delta=1)
    c["sig"], b["sig_R"][30] = "%064x%064x" % (e, s), "%x" % R
    chk = batchverify.FastChecker.from_pub(day_meter.pub)
    entries = bill.parse_entries(b, G)
    assert not chk.batch_ok(entries, bill.parse_sig_rs(b, G, len(entries)))
    ref = same(b, day_tariff, day_meter.pub)
    assert ref[0] == "InvalidError" and ref[2][0]["kind"] == "signature" and ref[2][0]["slot"] == c["slot"]


@pytest.mark.security
def test_small_order_component_made_with_the_meter_key(day_bill, day_tariff, day_meter, monkeypatch):
    """The documented limit (docs/SECURITY.md): the key's holder hashes R = -g^k (order-2
    component) and signs; g^s y^-e = g^k != R. The reference refuses; the batch refuses unless
    the weight of that record is even (probability 1/2); subgroup_check refuses always."""
    b = copy.deepcopy(day_bill)
    c = b["commitments"][5]
    R, e, s = _crafted(day_meter, c["slot"], int(c["C"], 16), lambda r: G.p - r)
    c["sig"], b["sig_R"][5] = "%064x%064x" % (e, s), "%x" % R
    ref = outcome(bill.verify_bill, b, day_tariff, day_meter.pub)
    assert ref[0] == "InvalidError" and ref[2][0]["slot"] == c["slot"]

    real = os.urandom

    def weights(parity):
        def urandom(n):
            raw = bytearray(real(n))
            raw[8 * 5] = (raw[8 * 5] & 0xFE) | parity  # the lowest byte of a_5
            return bytes(raw)

        return urandom

    monkeypatch.setattr(batchverify.os, "urandom", weights(1))
    assert outcome(batchverify.verify_bill, b, day_tariff, day_meter.pub) == ref
    monkeypatch.setattr(batchverify.os, "urandom", weights(0))
    assert outcome(batchverify.verify_bill, b, day_tariff, day_meter.pub)[0] == "valid"  # the limit
    strict = outcome(lambda *a: batchverify.verify_bill(*a, subgroup_check=True), b, day_tariff, day_meter.pub)
    assert strict == ref


@pytest.mark.parametrize("n", [1, 7, 40, 400])
def test_multiexp_is_the_product(n):
    rnd = random.Random(n)
    bases = [rnd.randrange(2, G.p) for _ in range(n)]
    for exps in (
        [rnd.getrandbits(64) for _ in range(n)],
        [0] * n,
        [2**64 - 1] * n,
        [0] * (n - 1) + [1],
        [rnd.getrandbits(rnd.randrange(1, 65)) for _ in range(n)],
    ):
        want = 1
        for x, a in zip(bases, exps):
            want = want * pow(x, a, G.p) % G.p
        assert batchverify.multiexp(bases, exps, G.p) == want


def test_window_choice():
    assert batchverify.window_for(1488, 64) == 8
    assert batchverify.window_for(32 * 1488, 64) > 8


def test_many_bills_one_equation_same_verdicts(pop_dir, monkeypatch):
    """verify_many joins the bills' batch equations; every verdict is still verify_raw's, with
    bad bills among good ones: a changed sig_R (its hash fails), a changed s (hashes pass, the
    joint equation fails: all its bills are redone alone), an invalid amount after valid
    signatures, a malformed file."""
    import json

    from veriwatt import population

    pop = population.Population(str(pop_dir))
    raws = [(p.rsplit("/", 1)[-1], open(p, "rb").read()) for p in pop.bill_paths()]
    good = [json.loads(r) for _, r in raws]

    def variant(i, f):
        b = copy.deepcopy(good[i % len(good)])
        f(b)
        return ("v%d.bill.json" % len(items), json.dumps(b).encode())

    items = list(raws)
    items.append(variant(0, _set_r(100, lambda r, b: _flip(r, 7))))
    items.append(variant(1, lambda b: b["commitments"][3].update(sig=_flip(b["commitments"][3]["sig"], 90))))
    items.append(variant(2, lambda b: b.update(amount="1.00 GBP")))
    items.append(("junk.bill.json", b"{not json"))
    items += raws
    calls = []
    real_eq = batchverify.equation_ok
    monkeypatch.setattr(batchverify, "equation_ok", lambda it: calls.append(len(it)) or real_eq(it))
    ref = [batchverify.verify_raw(raw, n, pop.tariff, pop.meter_pub) for n, raw in items]
    calls.clear()
    got = batchverify.verify_many(items, pop.tariff, pop.meter_pub, combine=len(items))
    key = lambda r: (r.name, r.status, r.reason, r.problem, r.slot, r.total)  # noqa: E731
    assert [key(r) for r in got] == [key(r) for r in ref]
    assert [r.status for r in got].count("valid") == 2 * len(raws)
    # the amount bill redone alone; ONE equation for the valid bills and the one with a changed s
    # (its hashes pass: only an equation sees it), which fails; then each of those alone
    n = 2 * len(raws) + 1
    assert calls == [1, n] + [1] * n


@pytest.mark.security
def test_many_bills_joint_equation_fails_then_each_alone(pop_dir, monkeypatch):
    import json

    from veriwatt import population

    pop = population.Population(str(pop_dir))
    raws = [(p.rsplit("/", 1)[-1], open(p, "rb").read()) for p in pop.bill_paths()]
    b = json.loads(raws[0][1])
    m = _population_meter(pop_dir, b["meter_id"])
    c = b["commitments"][30]
    R, e, s = _crafted(m, c["slot"], int(c["C"], 16), lambda r: r, s_delta=1)
    c["sig"], b["sig_R"][30] = "%064x%064x" % (e, s), "%x" % R
    items = raws + [("crafted.bill.json", json.dumps(b).encode())]
    ref = [batchverify.verify_raw(raw, n, pop.tariff, pop.meter_pub) for n, raw in items]
    assert ref[-1].status == "invalid" and ref[-1].problem == "signature" and ref[-1].slot == c["slot"]
    got = batchverify.verify_many(items, pop.tariff, pop.meter_pub)
    assert [(r.status, r.reason) for r in got] == [(r.status, r.reason) for r in ref]


def _population_meter(pop_dir, meter_id):
    """The synthetic meter's keys (as hosthelpers.Meter: .keys, .mid) from its index."""
    import json
    import types

    from veriwatt import population
    from vwcore import reading

    n = json.loads((pop_dir / "population.json").read_text())["meters"]
    for i in range(n):
        mid, sig_secret, ckey = population.meter_secrets(SEED_POP, i)
        if mid.hex() == meter_id:
            mk = reading.MeterKeys(mid, sig_secret, ckey)
            return types.SimpleNamespace(keys=mk, mid=mid)
    raise AssertionError("meter not in the population")


_REF_HEX = re.compile(r"[0-9a-f]+\Z")


def _ref_hex(s, nbytes):
    if not isinstance(s, str) or not _REF_HEX.match(s):
        return None
    if nbytes is not None:
        return int(s, 16) if len(s) == 2 * nbytes else None
    return None if len(s) > 1 and s[0] == "0" else int(s, 16)


@settings(max_examples=400, deadline=None)
@given(
    s=st.one_of(
        st.text(alphabet="0123456789abcdefABx_ -+\n\u0661", max_size=12), st.integers(0, 2**80).map(lambda v: "%x" % v)
    ),
    nbytes=st.sampled_from([None, 1, 2, 3]),
)
def test_hex_fast_path_accepts_exactly_the_canonical(s, nbytes):
    want = _ref_hex(s, nbytes)
    try:
        got = jsonio.hex_int(s, "x", nbytes)
    except VeriwattError:
        got = None
    assert got == want


def test_population_bill_sig_r_is_the_meters_r(pop_dir):
    import json

    from veriwatt import population

    pop = population.Population(str(pop_dir))
    b = json.loads(open(pop.bill_paths()[0]).read())
    chk = records.Checker.from_pub(pop.meter_pub(b["meter_id"]))
    for i in (0, 700, len(b["commitments"]) - 1):
        e, s = int(b["commitments"][i]["sig"][:64], 16), int(b["commitments"][i]["sig"][64:], 16)
        assert b["sig_R"][i] == "%x" % chk.commitment(s, e)


def _slow_entry(c):
    from veriwatt import keys

    try:
        jsonio.only_keys(c, "c", ("slot", "C", "sig"))
        slot = jsonio.integer(c["slot"], "slot", 0, wire.NO_SLOT - 1)
        C = jsonio.element(c["C"], G, "C", member=False)
        return (slot, C) + tuple(keys.parse_sig(c["sig"], G, "sig"))
    except VeriwattError:
        return None


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_entry_fast_path_is_the_field_by_field_parse(day_bill, data):
    c = dict(data.draw(st.sampled_from(day_bill["commitments"][:5])))
    what = data.draw(st.sampled_from(["none", "C", "sig", "slot", "key"]))
    if what in ("C", "sig"):
        v = c[what]
        i = data.draw(st.integers(0, len(v)))
        ch = data.draw(st.sampled_from(list("0aF _x\n") + ["", "00"]))
        c[what] = v[:i] + ch + v[i + 1 :] if data.draw(st.booleans()) else v[:i] + ch + v[i:]
    elif what == "slot":
        c["slot"] = data.draw(st.one_of(st.integers(-2, 2**33), st.booleans(), st.text(max_size=3)))
    elif what == "key":
        c[data.draw(st.sampled_from(["R", "slot", "C"]))] = c.pop(data.draw(st.sampled_from(["slot", "C", "sig"])))
    fast = bill._entry_fast(c, G)
    assert fast is None or fast == _slow_entry(c)
    assert (fast or _slow_entry(c)) == _slow_entry(c)
    for x in (c.get("C"), c.get("sig")):
        assert (bill._hex_elem(x, G) or None) == (_slow_elem(x))


def _slow_elem(x):
    try:
        return jsonio.element(x, G, "x", member=False)
    except VeriwattError:
        return None


@settings(max_examples=500, deadline=None)
@given(
    s=st.one_of(
        st.text(alphabet="0123456789abcdefABCDEF \n\t_x+-\u0661", max_size=10),
        st.integers(0, G.p + 5).map(lambda v: "%x" % v),
        st.integers(0, G.p + 5).map(lambda v: "0%x" % v),
        st.integers(0, G.p + 5).map(lambda v: "%X" % v),
        st.integers(2, G.p - 1).map(lambda v: " %x" % v),
        st.sampled_from(["", "0", "1", "2", "00", "02", "%x" % (G.p - 1), "%x" % G.p, "1" * 513]),
    )
)
def test_hex_elem_accepts_exactly_the_canonical_elements(s):
    assert (bill._hex_elem(s, G) or None) == _slow_elem(s)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 20), bad=st.integers(0, 40))
def test_challenges_ok_is_the_per_record_challenge(day_meter, seed, n, bad):
    """FastChecker._challenges_ok (message laid out once per bill) hashes exactly what
    _challenge on wire.signed_bytes hashes: true on matching e_t, false when one differs."""
    rnd = random.Random(seed)
    chk = batchverify.FastChecker.from_pub(day_meter.pub)
    ents, rs = [], []
    for _ in range(n):
        slot, C, R = rnd.randrange(wire.NO_SLOT), rnd.randrange(2, G.p), rnd.randrange(2, G.p)
        ents.append((slot, C, chk._challenge(R, wire.signed_bytes(chk.meter_id, slot, C, G.id)), 1))
        rs.append(R)
    assert chk._challenges_ok(ents, rs)
    if bad < n:
        slot, C, e, s = ents[bad]
        ents[bad] = (slot, C, (e + 1) % G.q, s)
        assert not chk._challenges_ok(ents, rs)
