# SPDX-License-Identifier: MIT
"""Sampling for settlement: the beacon fixes the selection; a sampled disclosure opens exactly
it. Honest run through the CLI (real store), and every refusal: omitted or added slot,
another beacon, period, rate or meter, an unsigned / untrusted / early beacon."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import pytest

from comphelpers import NOV, opened, store_with

from veriwatt import bill, jsonio, keys, sampling, tariff
from veriwatt.errors import InvalidError, VeriwattError

pytestmark = pytest.mark.computations
AFTER = "2026-12-01T00:00:00Z"  # NOV has ended by then


def cli(*argv, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "veriwatt.cli", *map(str, argv)], capture_output=True, text=True, timeout=timeout
    )


def signed_tariff(supplier, rate=None):
    body = tariff.example()
    if rate is not None:
        body["sample_rate"] = rate
    return tariff.parse_signed(tariff.sign(body, supplier), keys.public(supplier))


def beacon(supplier, a=NOV[0], b=NOV[1], value=b"\x11" * 32, published=AFTER):
    return sampling.parse_signed(
        sampling.sign(sampling.new_beacon(a, b, "test", value, published), supplier), keys.public(supplier)
    )


@pytest.fixture(scope="module")
def month(meter_a):
    return opened(meter_a, *NOV)


@pytest.fixture(scope="module")
def rate10(supplier):
    return signed_tariff(supplier, 10)


@pytest.fixture(scope="module")
def honest(month, supplier, meter_a, rate10):
    return sampling.make_sample(*month, beacon(supplier), rate10, meter_a.pub)


def refused(doc, be, src, pub, match, err=InvalidError):
    with pytest.raises(err, match=match):
        sampling.verify_sample(doc, be, src, pub)


# ------------------------------------------------------------------ the selection
def test_selection_is_the_hash_rule_and_has_the_rate(meter_a, meter_b, supplier):
    be = beacon(supplier)
    n = NOV[1] - NOV[0]
    sel = sampling.selection(be, meter_a.pub["meter_id"], 10)
    assert 0.06 * n < len(sel) < 0.14 * n  # 1 in 10 of 1440: 144 expected, a 5-sigma band
    mid = bytes.fromhex(meter_a.pub["meter_id"])
    import hashlib

    for t in (sel[0], sel[0] + 1):
        h = hashlib.sha256(
            len(sampling.DST).to_bytes(4, "big") + sampling.DST + be.value + mid + t.to_bytes(4, "big")
        ).digest()
        assert sampling.selected(be.value, mid, t, 10) == (int.from_bytes(h, "big") % 10 == 0) == (t in sel)
    assert sampling.selection(be, meter_b.pub["meter_id"], 10) != sel  # each meter its own sample
    assert sampling.selection(beacon(supplier, value=b"\x12" * 32), meter_a.pub["meter_id"], 10) != sel
    assert sampling.selection(be, meter_a.pub["meter_id"], 1) == list(range(*NOV))
    default = sampling.selection(be, meter_a.pub["meter_id"], 100)
    assert set(default) <= set(sel)  # h mod 100 == 0 implies h mod 10 == 0: nested samples


def test_rate_comes_from_the_signed_source(supplier):
    assert sampling.rate_of(signed_tariff(supplier))[0] == sampling.DEFAULT_RATE
    assert sampling.rate_of(signed_tariff(supplier, 25))[0] == 25
    for bad in (0, -1, 10**7, 2.5, True):
        body = dict(tariff.example(), sample_rate=bad)
        with pytest.raises(VeriwattError, match="sample_rate|integer"):
            tariff.sign(body, supplier)
    zk = dict(tariff.example("step"), sample_rate=50)  # non-linear kinds accept it too
    assert sampling.rate_of(tariff.parse_signed(tariff.sign(zk, supplier), keys.public(supplier)))[0] == 50


def test_honest_sample_verifies(honest, supplier, meter_a, rate10, month):
    be = beacon(supplier)
    rep = sampling.verify_sample(honest, be, rate10, meter_a.pub)
    want = sampling.selection(be, meter_a.pub["meter_id"], 10)
    assert [s["slot"] for s in rep["slots"]] == want
    assert [s["reading"] for s in rep["slots"]] == [meter_a.reading(t) for t in want]
    assert rep["estimate_wh"] == 10 * sum(meter_a.reading(t) for t in want)
    est = sampling.estimate([rep])
    truth = sum(m for m, _ in month[1])
    assert abs(est["estimate_wh"] - truth) < 5 * est["stderr_wh"]


# ------------------------------------------------------------------ refusals
@pytest.mark.security
def test_omitted_slot(honest, supplier, meter_a, rate10):
    d = copy.deepcopy(honest)
    dropped = d["disclosure"]["slots"].pop(3)
    refused(d, beacon(supplier), rate10, meter_a.pub, "omits 1 selected slot.*first %d" % dropped["slot"])


@pytest.mark.security
def test_added_slot(honest, supplier, meter_a, rate10, month):
    be = beacon(supplier)
    sel = set(sampling.selection(be, meter_a.pub["meter_id"], 10))
    extra = next(t for t in range(*NOV) if t not in sel)
    recs, ops = month
    d = copy.deepcopy(honest)
    d["disclosure"] = bill.make_disclosure(
        recs, ops, sorted(sel | {extra}), meter_a.pub, honest["disclosure"]["note"]
    )  # a genuine opening, not selected
    refused(d, be, rate10, meter_a.pub, "did not select.*first %d" % extra)
    d["disclosure"]["slots"] = [s for s in d["disclosure"]["slots"] if s["slot"] != extra]
    sampling.verify_sample(d, be, rate10, meter_a.pub)  # without it: valid again


@pytest.mark.security
def test_another_beacon(month, supplier, meter_a, rate10, honest):
    other = beacon(supplier, value=b"\x22" * 32)
    # the customer picks the beacon whose selection suits them: refused against the published one
    d = sampling.make_sample(*month, other, rate10, meter_a.pub)
    refused(d, beacon(supplier), rate10, meter_a.pub, "drawn with beacon")
    # relabelled with the published beacon's digest: the slots are not its selection
    d["beacon"] = beacon(supplier).digest
    refused(d, beacon(supplier), rate10, meter_a.pub, "omits|did not select")
    # a beacon for another period
    refused(honest, beacon(supplier, a=NOV[0] + 48), rate10, meter_a.pub, "drawn with beacon")


@pytest.mark.security
def test_beacon_must_be_signed_by_the_pinned_key_and_after_the_period(supplier, intruder, tmp_path):
    body = sampling.new_beacon(*NOV, "x", b"\x11" * 32, AFTER)
    with pytest.raises(InvalidError, match="not by the trusted supplier key"):
        sampling.parse_signed(sampling.sign(body, intruder), keys.public(supplier))
    with pytest.raises(InvalidError, match="not signed"):
        sampling.parse_signed(body, keys.public(supplier))
    s = sampling.sign(body, supplier)
    s["beacon"]["value"] = "22" * 32  # the value swapped after signing
    with pytest.raises(InvalidError, match="digest does not match"):
        sampling.parse_signed(s, keys.public(supplier))
    s["digest"] = sampling.signedfile.digest(s["beacon"])
    with pytest.raises(InvalidError, match="signature does not verify"):
        sampling.parse_signed(s, keys.public(supplier))
    early = dict(body, published="2026-11-20T00:00:00Z")  # before the period ended
    with pytest.raises(InvalidError, match="before its period ended"):
        sampling.parse_signed(sampling.signedfile.sign(sampling.KIND, early, supplier), keys.public(supplier))
    with pytest.raises(VeriwattError, match="has not ended"):
        sampling.new_beacon(NOV[0], NOV[1] + 48 * 366, "x")
    for bad in ("2026-13-45T99:99:99Z", "2026-12-01 00:00:00", 1764547200):
        with pytest.raises(VeriwattError, match="published"):
            sampling.Beacon(dict(body, published=bad))
    for bad in ("11" * 31, "AB" * 32, "0x" + "11" * 31):
        with pytest.raises(VeriwattError, match="value"):
            sampling.Beacon(dict(body, value=bad))


@pytest.mark.security
def test_another_rate_or_meter(honest, supplier, meter_a, meter_b):
    be = beacon(supplier)
    refused(honest, be, signed_tariff(supplier, 20), meter_a.pub, "rate 1 in 10")
    d = copy.deepcopy(honest)
    d["rate"] = 20
    refused(d, be, signed_tariff(supplier, 10), meter_a.pub, "rate 1 in 20")
    refused(honest, be, signed_tariff(supplier, 10), meter_b.pub, "for meter")


@pytest.mark.security
def test_tampered_reading_or_encoding(honest, supplier, meter_a, rate10):
    be = beacon(supplier)
    d = copy.deepcopy(honest)
    d["disclosure"]["slots"][0]["reading"] += 1
    refused(d, be, rate10, meter_a.pub, "does not open")
    d = copy.deepcopy(honest)
    d["disclosure"]["slots"][0]["r"] = d["disclosure"]["slots"][0]["r"].upper()
    refused(d, be, rate10, meter_a.pub, "hex", VeriwattError)
    d = copy.deepcopy(honest)
    d["extra"] = 1
    refused(d, be, rate10, meter_a.pub, "unknown field", VeriwattError)
    d = copy.deepcopy(honest)
    d["period"]["start_slot"] = float(d["period"]["start_slot"])
    refused(d, be, rate10, meter_a.pub, "is for period")


# ------------------------------------------------------------------ the CLI
def test_sample_through_the_cli(tmp_path, meter_a, supplier):
    skey, spub, mpub = tmp_path / "s.key.json", tmp_path / "s.pub.json", tmp_path / "m.pub.json"
    jsonio.write(str(skey), supplier, private=True)
    jsonio.write(str(spub), keys.public(supplier))
    jsonio.write(str(mpub), meter_a.pub)
    assert oct(os.stat(skey).st_mode & 0o777) == "0o600"
    t = tmp_path / "tariff.json"
    jsonio.write(str(t), tariff.sign(dict(tariff.example(), sample_rate=20), supplier))
    db = store_with(tmp_path / "v.db", meter_a, *NOV)
    b = tmp_path / "beacon.json"
    r = cli("beacon", "make", "--period", "2026-11", "--key", skey, "--out", b)
    assert r.returncode == 0, r.stderr
    r = cli("beacon", "make", "--period", "2027-01", "--key", skey, "--out", tmp_path / "early.json")
    assert r.returncode == 2 and "has not ended" in r.stderr
    assert cli("beacon", "verify", b, "--supplier-key", spub).returncode == 0
    out = tmp_path / "sample.json"
    r = cli(
        "sample",
        "--store",
        db,
        "--code",
        meter_a.code,
        "--beacon",
        b,
        "--tariff",
        t,
        "--supplier-key",
        spub,
        "--out",
        out,
    )
    assert r.returncode == 0, r.stderr
    r = cli("verify-sample", out, "--beacon", b, "--tariff", t, "--meter-key", mpub, "--supplier-key", spub, "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    be = sampling.load_signed(str(b), str(spub))
    assert [s["slot"] for s in rep["slots"]] == sampling.selection(be, meter_a.pub["meter_id"], 20)
    doc = json.loads(out.read_text())
    doc["disclosure"]["slots"].pop()
    out.write_text(json.dumps(doc))
    r = cli("verify-sample", out, "--beacon", b, "--tariff", t, "--meter-key", mpub, "--supplier-key", spub)
    assert r.returncode == 1 and "omits" in r.stderr


@pytest.mark.security
def test_rate_from_a_profile_set(month, supplier, meter_a, rate10):
    from veriwatt import profiles

    body = dict(profiles.example("profiles", *NOV), sample_rate=25)
    ps = profiles.parse_signed(profiles.sign(body, supplier), keys.public(supplier))
    be = beacon(supplier)
    d = sampling.make_sample(*month, be, ps, meter_a.pub)
    assert d["rate"] == 25 and d["rate_source"] == {"kind": "profiles", "digest": ps.digest}
    rep = sampling.verify_sample(d, be, ps, meter_a.pub)
    assert [s["slot"] for s in rep["slots"]] == sampling.selection(be, meter_a.pub["meter_id"], 25)
    refused(d, be, rate10, meter_a.pub, "signed tariff says")  # checked against another source
