# SPDX-License-Identifier: MIT
"""Profile sets and suspect patterns: an honest month end to end through the CLI (a real
SQLite store of records certified with vwcore), and every refusal of issue 15 (tampered
scores and proofs, another meter / period / profile set, unsigned or untrusted sets,
non-canonical encodings, no consent)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import subprocess
import sys

import pytest

from comphelpers import DAY, NOV, opened, store_with

from veriwatt import jsonio, keys, profiles
from veriwatt.errors import InvalidError, VeriwattError

pytestmark = pytest.mark.computations


def cli(*argv, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "veriwatt.cli", *map(str, argv)], capture_output=True, text=True, timeout=timeout
    )


def expected(meter, ps):
    ms = [meter.reading(t) for t in range(ps.start, ps.end)]
    out = []
    for name, ws in ps.categories:
        out.append({"category": name, "distance": sum((m - p) ** 2 for m, p in zip(ms, ws))})
        if ps.kind == "profiles":
            out[-1]["inner"] = sum(m * p for m, p in zip(ms, ws))
    return sum(ms), out


@pytest.fixture(scope="module")
def day_set(supplier):
    signed = profiles.sign(profiles.example("profiles", *DAY), supplier)
    return signed, profiles.parse_signed(signed, keys.public(supplier))


@pytest.fixture(scope="module")
def honest(meter_a, day_set):
    recs, ops = opened(meter_a, *DAY)
    return profiles.make_scores(recs, ops, day_set[1], meter_a.pub, consent=True)


def refused(doc, ps, pub, match, err=InvalidError):
    with pytest.raises(err, match=match):
        profiles.verify_scores(doc, ps, pub)


# ------------------------------------------------------------------ honest runs
def test_honest_month_through_the_cli(tmp_path, meter_a, supplier):
    """A whole certified month: profile set signed by the supplier, scores computed with
    --consent from the store, verified by the recipient; the scores are the true ones."""
    skey, spub = tmp_path / "s.key.json", tmp_path / "s.pub.json"
    jsonio.write(str(skey), supplier, private=True)
    jsonio.write(str(spub), keys.public(supplier))
    mpub = tmp_path / "meter.pub.json"
    jsonio.write(str(mpub), meter_a.pub)
    db = store_with(tmp_path / "v.db", meter_a, *NOV)
    ps_file = tmp_path / "profiles.json"
    assert cli("profiles", "example", "--period", "2026-11", "--out", ps_file).returncode == 0
    assert cli("profiles", "sign", ps_file, "--key", skey).returncode == 0
    r = cli("profiles", "verify", ps_file, "--supplier-key", spub, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["period"] == {"start_slot": NOV[0], "end_slot": NOV[1]}
    out = tmp_path / "scores.json"
    r = cli(
        "scores",
        "--store",
        db,
        "--code",
        meter_a.code,
        "--profiles",
        ps_file,
        "--supplier-key",
        spub,
        "--consent",
        "--out",
        out,
    )
    assert r.returncode == 0, r.stderr
    r = cli("verify-scores", out, "--profiles", ps_file, "--meter-key", mpub, "--supplier-key", spub, "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    ps = profiles.load_signed(str(ps_file), str(spub))
    total, want = expected(meter_a, ps)
    assert rep["valid"] and rep["total"] == total and rep["scores"] == want
    assert rep["nearest"] == min(want, key=lambda s: s["distance"])["category"]
    doc = json.loads(out.read_text())
    assert doc["consent"]["opt_in"] is True and doc["consent"]["text"] == profiles.CONSENT_TEXT
    assert '"reading"' not in out.read_text() and '"r"' not in out.read_text()  # no reading, no opening
    assert all(set(c) == {"slot", "C", "sig"} for c in doc["commitments"])
    # the recipient with a changed score: exit 1 with the reason
    doc["scores"][1]["inner"] += 1
    out.write_text(json.dumps(doc))
    r = cli("verify-scores", out, "--profiles", ps_file, "--meter-key", mpub, "--supplier-key", spub)
    assert r.returncode == 1 and "does not verify" in r.stderr


def test_scores_need_consent(tmp_path, meter_a, supplier, day_set):
    spub = tmp_path / "s.pub.json"
    jsonio.write(str(spub), keys.public(supplier))
    ps_file = tmp_path / "p.json"
    jsonio.write(str(ps_file), day_set[0])
    db = store_with(tmp_path / "v.db", meter_a, *DAY)
    out = tmp_path / "scores.json"
    r = cli(
        "scores", "--store", db, "--code", meter_a.code, "--profiles", ps_file, "--supplier-key", spub, "--out", out
    )
    assert r.returncode == 2 and "opt-in" in r.stderr and "--consent" in r.stderr
    assert not out.exists()
    assert "opt-in" in cli("scores", "--help").stdout
    recs, ops = opened(meter_a, *DAY)
    with pytest.raises(VeriwattError, match="opt-in"):
        profiles.make_scores(recs, ops, day_set[1], meter_a.pub, consent=False)


def test_suspect_pattern_gives_only_the_match_score(meter_a, supplier):
    signed = profiles.sign(profiles.example("suspect", *DAY), supplier)
    ps = profiles.parse_signed(signed, keys.public(supplier))
    recs, ops = opened(meter_a, *DAY)
    doc = profiles.make_scores(recs, ops, ps, meter_a.pub, consent=True)
    assert "total" not in doc and list(doc["scores"][0]) == ["category", "distance"]
    rep = profiles.verify_scores(doc, ps, meter_a.pub)
    assert rep["scores"] == expected(meter_a, ps)[1]
    d = copy.deepcopy(doc)
    d["total"] = 5  # a total smuggled in: not part of a suspect-pattern result
    refused(d, ps, meter_a.pub, "unknown field", VeriwattError)


# ------------------------------------------------------------------ refusals
@pytest.mark.security
def test_profile_set_not_signed_by_the_pinned_key(tmp_path, supplier, intruder, day_set):
    body = day_set[0]["profiles"]
    with pytest.raises(InvalidError, match="not by the trusted supplier key"):
        profiles.parse_signed(profiles.sign(body, intruder), keys.public(supplier))
    with pytest.raises(InvalidError, match="not signed"):
        profiles.parse_signed(body, keys.public(supplier))
    changed = copy.deepcopy(day_set[0])
    changed["profiles"]["categories"][0]["weights"][3] += 1
    with pytest.raises(InvalidError, match="digest does not match"):
        profiles.parse_signed(changed, keys.public(supplier))
    changed["digest"] = profiles.signedfile.digest(changed["profiles"])
    with pytest.raises(InvalidError, match="signature does not verify"):
        profiles.parse_signed(changed, keys.public(supplier))
    # a tariff signature does not pass for a profile set (domain separation)
    from veriwatt import tariff

    forged = copy.deepcopy(day_set[0])
    forged["signature"]["sig"] = keys.sign(supplier, tariff.SIG_DOMAIN + forged["digest"].encode())
    with pytest.raises(InvalidError, match="signature does not verify"):
        profiles.parse_signed(forged, keys.public(supplier))
    # through the CLI: the trust store does not hold the intruder's key
    f = tmp_path / "p.json"
    jsonio.write(str(f), profiles.sign(body, intruder))
    spub = tmp_path / "s.pub.json"
    jsonio.write(str(spub), keys.public(supplier))
    r = cli("profiles", "verify", f, "--supplier-key", spub)
    assert r.returncode == 1 and "not by the trusted supplier key" in r.stderr
    r = cli("profiles", "verify", f)
    assert r.returncode == 2 and "no trusted supplier key" in r.stderr


@pytest.mark.security
def test_score_file_for_another_meter(honest, day_set, meter_b):
    refused(honest, day_set[1], meter_b.pub, "is for meter")


@pytest.mark.security
def test_score_file_for_another_period_or_profile_set(honest, supplier, meter_a, day_set):
    a, b = DAY
    other_period = profiles.parse_signed(
        profiles.sign(profiles.example("profiles", a + 48, b + 48), supplier), keys.public(supplier)
    )
    refused(honest, other_period, meter_a.pub, "is for period")
    body = copy.deepcopy(day_set[0]["profiles"])
    body["categories"][0]["weights"][0] += 100
    other_set = profiles.parse_signed(profiles.sign(body, supplier), keys.public(supplier))
    refused(honest, other_set, meter_a.pub, "computed for profile set")
    # relabelled to the other set: the proof is bound to the digest
    d = copy.deepcopy(honest)
    d["profiles"]["digest"] = other_set.digest
    refused(d, other_set, meter_a.pub, "does not verify")


@pytest.mark.security
@pytest.mark.parametrize("where", ["total", "inner", "distance", "swap"])
def test_tampered_score(honest, day_set, meter_a, where):
    d = copy.deepcopy(honest)
    if where == "total":
        d["total"] -= 1
    elif where == "swap":
        d["scores"][0]["distance"], d["scores"][1]["distance"] = d["scores"][1]["distance"], d["scores"][0]["distance"]
    else:
        d["scores"][2][where] += 1
    refused(d, day_set[1], meter_a.pub, "does not verify")


@pytest.mark.security
def test_score_wrapped_around_q_is_refused(honest, day_set, meter_a):
    d = copy.deepcopy(honest)
    d["scores"][0]["distance"] += profiles._keys.group_of(meter_a.pub).q
    refused(d, day_set[1], meter_a.pub, "out of range", VeriwattError)


def _reproof(d, data):
    d["proof"].update(base64=base64.b64encode(data).decode(), bytes=len(data), sha256=hashlib.sha256(data).hexdigest())


@pytest.mark.security
@pytest.mark.parametrize("what", ["response", "square", "square-nonmember", "truncated", "digest-only"])
def test_tampered_proof(honest, day_set, meter_a, what):
    from veriwatt.zk.groups import view

    G = view(profiles._keys.group_of(meter_a.pub))
    d = copy.deepcopy(honest)
    data = bytearray(base64.b64decode(d["proof"]["base64"]))
    if what == "digest-only":
        data[-1] ^= 1
        d["proof"]["base64"] = base64.b64encode(bytes(data)).decode()
        return refused(d, day_set[1], meter_a.pub, "SHA-256")
    if what == "response":
        data[-5] ^= 1
        match = "does not verify"
    elif what == "square":  # replace S_0 by the commitment to another value (a subgroup element)
        data[6 : 6 + G.plen] = G.commit(7, 11).to_bytes(G.plen, "big")
        match = "does not verify"
    elif what == "square-nonmember":
        data[6 : 6 + G.plen] = (G.p - 1).to_bytes(G.plen, "big")
        match = "subgroup"
    else:
        data = data[:-32]
        match = "statement needs"
    _reproof(d, bytes(data))
    refused(d, day_set[1], meter_a.pub, match)


@pytest.mark.security
def test_consent_is_recorded_and_bound(honest, day_set, meter_a):
    d = copy.deepcopy(honest)
    d["consent"]["given"] = "2020-01-01T00:00:00Z"
    refused(d, day_set[1], meter_a.pub, "does not verify")
    d = copy.deepcopy(honest)
    d["consent"]["opt_in"] = False
    refused(d, day_set[1], meter_a.pub, "consent")
    d = copy.deepcopy(honest)
    del d["consent"]
    refused(d, day_set[1], meter_a.pub, "lacks field", VeriwattError)


@pytest.mark.security
def test_changed_or_missing_commitment(honest, day_set, meter_a):
    d = copy.deepcopy(honest)
    d["commitments"][4]["C"] = "%x" % (int(d["commitments"][4]["C"], 16) + 1)
    refused(d, day_set[1], meter_a.pub, "signature does not verify")
    d = copy.deepcopy(honest)
    del d["commitments"][7]
    refused(d, day_set[1], meter_a.pub, "missing")


@pytest.mark.security
@pytest.mark.parametrize(
    "edit", ["upper-hex", "leading-zero", "b64-padding", "float-score", "bool-score", "extra-field", "string-score"]
)
def test_non_canonical_encodings(honest, day_set, meter_a, edit):
    d = copy.deepcopy(honest)
    if edit == "upper-hex":
        d["commitments"][0]["C"] = d["commitments"][0]["C"].upper()
    elif edit == "leading-zero":
        d["commitments"][0]["C"] = "0" + d["commitments"][0]["C"]
    elif edit == "b64-padding":
        d["proof"]["base64"] = (
            d["proof"]["base64"].rstrip("=") if d["proof"]["base64"].endswith("=") else d["proof"]["base64"] + "="
        )
    elif edit == "float-score":
        d["scores"][0]["inner"] = float(d["scores"][0]["inner"])
    elif edit == "bool-score":
        d["total"] = True
    elif edit == "string-score":
        d["scores"][0]["distance"] = str(d["scores"][0]["distance"])
    else:
        d["scores"][0]["note"] = "x"
    with pytest.raises(VeriwattError):
        profiles.verify_scores(d, day_set[1], meter_a.pub)


@pytest.mark.security
def test_duplicate_keys_refused_when_reading():
    with pytest.raises(VeriwattError, match="duplicate key"):
        jsonio.loads('{"total": 1, "total": 2}', "score file", "x")


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda b: b["categories"][0]["weights"].__setitem__(0, 65536), "weights"),
        (lambda b: b["categories"][0]["weights"].__setitem__(0, -1), "weights"),
        (lambda b: b["categories"][0]["weights"].__setitem__(0, 1.5), "not an integer"),
        (lambda b: b["categories"][0]["weights"].pop(), "exactly 48"),
        (lambda b: b.__setitem__("categories", b["categories"] * 6), "1 to 16"),
        (lambda b: b["categories"].append(dict(b["categories"][0])), "twice"),
        (lambda b: b.__setitem__("kind", "other"), "kind"),
        (lambda b: b.__setitem__("sample_rate", 0), "sample_rate"),
        (lambda b: b.__setitem__("extra", 1), "unknown field"),
    ],
)
def test_profile_set_bounds(edit, match, supplier):
    body = profiles.example("profiles", *DAY)
    edit(body)
    with pytest.raises(VeriwattError, match=match):
        profiles.sign(body, supplier)


def test_suspect_pattern_has_one_category(supplier):
    body = profiles.example("suspect", *DAY)
    body["categories"].append({"name": "second", "weights": [1] * 48})
    with pytest.raises(VeriwattError, match="exactly one category"):
        profiles.sign(body, supplier)
