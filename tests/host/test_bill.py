# SPDX-License-Identifier: MIT
"""Bills with proofs: the supplier's check accepts an honest bill and rejects every tampering
with a specific reason (and the CLI exits 1 with that reason)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from hosthelpers import WEEK, WEEKS, with_cycle

from veriwatt import bill, keys, linear, records, tariff
from veriwatt.errors import InvalidError, VeriwattError

pytestmark = pytest.mark.host


@pytest.fixture(scope="module")
def honest(meter_a, tariff_obj):
    recs = meter_a.records(*WEEK)
    ops = records.open_all(recs, meter_a.customer_key)
    return bill.make_bill(recs, ops, tariff_obj, WEEK[0], WEEK[1], meter_a.pub)


def expect(b, t, pub, match):
    with pytest.raises(InvalidError, match=match):
        bill.verify_bill(b, t, pub)


def test_honest_bill_verifies(honest, tariff_obj, meter_a):
    rep = bill.verify_bill(honest, tariff_obj, meter_a.pub)
    assert rep["valid"]
    expected = sum(tariff_obj.price(t) * meter_a.reading(t) for t in range(*WEEK))
    assert honest["total"] == expected
    # the slow path (vwcrypto powmod2, no tables) agrees
    assert bill.verify_bill(honest, tariff_obj, meter_a.pub, fast=False)["valid"]


def test_bill_with_a_changed_reading(meter_a, tariff_obj):
    recs = meter_a.records(*WEEK)
    ops = records.open_all(recs, meter_a.customer_key)
    ops[5] = (ops[5][0] - 40, ops[5][1])  # the customer claims 40 Wh less in one slot
    b = bill.make_bill(recs, ops, tariff_obj, WEEK[0], WEEK[1], meter_a.pub)
    expect(b, tariff_obj, meter_a.pub, "do not match the signed commitments")


def test_changed_commitment(honest, tariff_obj, meter_a):
    b = copy.deepcopy(honest)
    c = b["commitments"][10]
    c["C"] = "%x" % (int(c["C"], 16) * 2 % (1 << 2040) + 1)
    expect(b, tariff_obj, meter_a.pub, r"slot %d .*signature does not verify" % (WEEK[0] + 10))


def test_changed_total(honest, tariff_obj, meter_a):
    b = copy.deepcopy(honest)
    b["total"] -= 1000
    expect(b, tariff_obj, meter_a.pub, "total and its proof do not match")


def test_changed_proof(honest, tariff_obj, meter_a):
    b = copy.deepcopy(honest)
    b["proof"]["R"] = "%064x" % ((int(b["proof"]["R"], 16) + 1) % (1 << 255))
    expect(b, tariff_obj, meter_a.pub, "total and its proof do not match")


def test_other_tariff(honest, meter_a, supplier):
    body = with_cycle(tariff.example(), *WEEKS)
    body["seasons"][1]["bands"][1]["price"] = 41
    t2 = tariff.parse_signed(tariff.sign(body, supplier), keys.public(supplier))
    expect(honest, t2, meter_a.pub, "computed with tariff sha256:.* but the given tariff is")


def test_bill_claiming_other_tariff_digest(honest, tariff_obj, meter_a):
    b = copy.deepcopy(honest)
    b["tariff"]["digest"] = "sha256:" + "0" * 64
    expect(b, tariff_obj, meter_a.pub, "different or altered tariff")


def test_other_meter_key(honest, tariff_obj, meter_b):
    expect(honest, tariff_obj, meter_b.pub, "bill is for meter .* but the meter key file is for meter")


def test_replaced_meter_key_same_id(honest, tariff_obj, meter_a, meter_b):
    fake = keys.meter_public(meter_a.mid, meter_b.keys.y)
    expect(honest, tariff_obj, fake, "wrong or replaced meter key")
    b = copy.deepcopy(honest)
    b["meter_key_id"] = fake["key_id"]
    expect(b, tariff_obj, fake, "signature does not verify")
    b.pop("meter_key_id")
    with pytest.raises(VeriwattError, match="lacks field.* meter_key_id"):
        bill.verify_bill(b, tariff_obj, fake)


def test_dropped_slot(honest, tariff_obj, meter_a):
    b = copy.deepcopy(honest)
    del b["commitments"][100]
    expect(
        b,
        tariff_obj,
        meter_a.pub,
        r"1 slot\(s\) missing from the period: %d\.\.%d .*dropped" % (WEEK[0] + 100, WEEK[0] + 100),
    )


def test_duplicated_slot(honest, tariff_obj, meter_a):
    b = copy.deepcopy(honest)
    b["commitments"].insert(51, b["commitments"][50])
    expect(b, tariff_obj, meter_a.pub, r"slot %d .*appears more than once \(duplicated\)" % (WEEK[0] + 50))


def test_duplicate_replacing_a_slot(honest, tariff_obj, meter_a):
    b = copy.deepcopy(honest)
    b["commitments"][51] = b["commitments"][50]
    expect(b, tariff_obj, meter_a.pub, "duplicated")


def test_reordered_slots(honest, tariff_obj, meter_a):
    b = copy.deepcopy(honest)
    cs = b["commitments"]
    cs[20], cs[21] = cs[21], cs[20]
    expect(b, tariff_obj, meter_a.pub, "out of order")


def test_spliced_from_another_meter(honest, tariff_obj, meter_a, meter_b):
    b = copy.deepcopy(honest)
    r = meter_b.record(WEEK[0] + 7)
    b["commitments"][7] = {"slot": r.slot, "C": "%x" % r.C, "sig": "%064x%064x" % (r.e, r.s)}
    expect(b, tariff_obj, meter_a.pub, r"slot %d .*signature does not verify .*another meter" % (WEEK[0] + 7))


def test_spliced_from_another_month(honest, tariff_obj, meter_a):
    b = copy.deepcopy(honest)
    r = meter_a.record(WEEK[0] - 48 * 31)  # same meter, a month earlier
    b["commitments"][0] = {"slot": r.slot, "C": "%x" % r.C, "sig": "%064x%064x" % (r.e, r.s)}
    expect(b, tariff_obj, meter_a.pub, "outside the period .*replayed from another period")
    # relabelled with the right slot number: the signature no longer matches
    b["commitments"][0]["slot"] = WEEK[0]
    expect(b, tariff_obj, meter_a.pub, "signature does not verify")


def test_absurd_slot_numbers_are_reported_not_crashing(honest, tariff_obj, meter_a):
    for bad in (2**70, -5, 2**32):
        b = copy.deepcopy(honest)
        b["commitments"][0]["slot"] = bad
        with pytest.raises(VeriwattError, match=r"commitments\[0\]\.slot .* out of range"):
            bill.verify_bill(b, tariff_obj, meter_a.pub)
    b = copy.deepcopy(honest)
    b["commitments"][0]["slot"] = WEEK[1] + 5
    expect(b, tariff_obj, meter_a.pub, "outside the period")


def test_shifted_period(honest, tariff_obj, meter_a):
    b = copy.deepcopy(honest)
    b["period"]["start_slot"] += 48
    with pytest.raises(VeriwattError, match="bill.period"):  # its redundant fields disagree
        bill.verify_bill(b, tariff_obj, meter_a.pub)
    b["period"]["slots"] -= 48
    b["period"]["start"] = bill._iso(b["period"]["start_slot"])
    expect(b, tariff_obj, meter_a.pub, "not one billing cycle")  # refused before the records are looked at


def test_malformed_bill_is_a_usage_error(honest, tariff_obj, meter_a):
    for mutate in (
        lambda b: b.pop("proof"),
        lambda b: b.__setitem__("total", "12"),
        lambda b: b["commitments"][0].__setitem__("sig", "zz"),
        lambda b: b.__setitem__("format", "x"),
        lambda b: b["period"].__setitem__("end_slot", 2**70),  # must not try to list 2^70 slots
        lambda b: b["period"].__setitem__("start_slot", -10),
        lambda b: b["period"].__setitem__("end_slot", b["period"]["start_slot"] + 48 * 366 * 6),
    ):
        b = copy.deepcopy(honest)
        mutate(b)
        with pytest.raises(VeriwattError) as ei:
            bill.verify_bill(b, tariff_obj, meter_a.pub)
        assert not isinstance(ei.value, InvalidError)


def test_settlement_with_negative_index(meter_a, supplier):
    t = tariff.parse_signed(tariff.sign(with_cycle(tariff.example("index"), WEEK), supplier), keys.public(supplier))
    recs = meter_a.records(*WEEK)
    ops = records.open_all(recs, meter_a.customer_key)
    s = bill.make_bill(recs, ops, t, WEEK[0], WEEK[1], meter_a.pub)
    assert s["kind"] == "settlement"
    assert bill.verify_bill(s, t, meter_a.pub)["valid"]
    assert any(p < 0 for p in t.prices(*WEEK))
    s2 = copy.deepcopy(s)
    s2["total"] += 1
    expect(s2, t, meter_a.pub, "do not match")


def test_period_total(meter_a):
    recs = meter_a.records(*WEEK)
    ops = records.open_all(recs, meter_a.customer_key)
    tb = bill.make_bill(recs, ops, None, WEEK[0], WEEK[1], meter_a.pub)
    assert tb["kind"] == "total" and tb["total"] == sum(meter_a.reading(t) for t in range(*WEEK))
    assert bill.verify_bill(tb, None, meter_a.pub)["valid"]


def test_selective_disclosure(meter_a):
    recs = meter_a.records(*WEEK)
    ops = records.open_all(recs, meter_a.customer_key)
    chosen = [WEEK[0] + 3, WEEK[0] + 40]
    d = bill.make_disclosure(recs, ops, chosen, meter_a.pub)
    rep = bill.verify_disclosure(d, meter_a.pub)
    assert [s["reading"] for s in rep["slots"]] == [meter_a.reading(t) for t in chosen]
    d["slots"][1]["reading"] += 1
    with pytest.raises(InvalidError, match="does not open the signed commitment"):
        bill.verify_disclosure(d, meter_a.pub)


def test_open_all_finds_a_bad_opening(meter_a):
    from vwcore import aead, reading, wire

    recs = meter_a.records(WEEK[0], WEEK[0] + 10)
    r = recs[4]
    pt = (123).to_bytes(4, "big") + (5).to_bytes(32, "big")  # a ciphertext of a wrong opening
    ct = aead.AEAD(meter_a.customer_key).encrypt(
        aead.record_nonce(r.meter_id, r.slot), pt, reading.record_ad(r.group_id, r.meter_id, r.slot)
    )
    bad = list(recs)
    bad[4] = wire.Record(r.meter_id, r.slot, r.C, r.e, r.s, ct, r.group_id)
    with pytest.raises(InvalidError, match="slot %d: the decrypted reading does not match" % r.slot):
        records.open_all(bad, meter_a.customer_key)
    with pytest.raises(InvalidError, match="wrong customer code"):
        records.open_all(recs, b"\x00" * 15)


def test_linear_check_properties():
    from vwcore import group

    G = group.DEFAULT
    ops = [(5, 11), (7, 13), (0, 17)]
    Cs = [group.commit(m, r) for m, r in ops]
    for w in ([1, 2, 3], [-4, 0, 9], [0, 0, 0]):
        tot, R = linear.prove(ops, w, G.q)
        assert linear.check(Cs, w, tot, R, G.p, G.q, G.g, G.h)
        assert not linear.check(Cs, w, tot + 1, R, G.p, G.q, G.g, G.h)


def test_cli_verify_bill_exit_codes(tmp_path, honest, signed_tariff, meter_a):
    (tmp_path / "bill.json").write_text(json.dumps(honest))
    (tmp_path / "tariff.json").write_text(json.dumps(signed_tariff))
    (tmp_path / "meter.pub.json").write_text(json.dumps(meter_a.pub))
    bad = copy.deepcopy(honest)
    bad["total"] += 1
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    (tmp_path / "supplier.pub.json").write_text(json.dumps(signed_tariff["supplier_key"]))
    cmd = [
        sys.executable,
        "-m",
        "veriwatt.cli",
        "verify-bill",
        "--tariff",
        str(tmp_path / "tariff.json"),
        "--meter-key",
        str(tmp_path / "meter.pub.json"),
        "--supplier-key",
        str(tmp_path / "supplier.pub.json"),
    ]
    ok = subprocess.run(cmd + [str(tmp_path / "bill.json")], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "VALID" in ok.stdout
    no = subprocess.run(cmd + [str(tmp_path / "bad.json")], capture_output=True, text=True)
    assert no.returncode == 1
    assert "INVALID" in no.stderr and "do not match" in no.stderr and "Traceback" not in no.stderr
    js = subprocess.run(cmd + [str(tmp_path / "bad.json"), "--json"], capture_output=True, text=True)
    assert js.returncode == 1 and json.loads(js.stdout)["valid"] is False
