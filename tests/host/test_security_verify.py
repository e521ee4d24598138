# SPDX-License-Identifier: MIT
"""Attacks on the host verifiers (issue "Security" part 1): each test reproduces a class of
input that `verify-bill`, `verify-disclosure`, `bill`, `tariff show` or the library accepted
or crashed on, and checks it is now refused with a one-line error (exit 1 or 2), through the
real CLI (a subprocess running `python -m veriwatt.cli`) and through the library.

Classes: (1) tariffs not signed by a trusted supplier key; (2) a file of another kind than the
one asked for (a total verified as a bill); (3) integers bound only mod q, readings above the
meter's maximum; (4) malleable encodings and duplicate JSON keys, unchecked fields;
(5) hostile files: huge numbers, deep nesting, non-hex signatures, oversized files, replayed
commitments that made the verifier check signatures it never needed."""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hosthelpers import DAY, meter_fixture, supplier_fixture, with_cycle
from vwcore import group as _group
from vwcore import reading as _reading
from vwcore import wire

from veriwatt import bill, keys, records, tariff
from veriwatt.errors import InvalidError, VeriwattError

pytestmark = [pytest.mark.host, pytest.mark.security]

G = _group.DEFAULT


def run(*argv, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "veriwatt.cli", *map(str, argv)], capture_output=True, text=True, timeout=timeout
    )


def refused(r, codes=(1, 2), *needles):
    """A one-line error with exit 1 (invalid) or 2 (bad input), never 0 and never a crash."""
    assert r.returncode in codes, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


meter = meter_fixture("meter", b"METER-S1", 21, scope="module")
supplier = supplier_fixture("supplier", 0x11, "Real Energy", scope="module")
attacker = supplier_fixture("attacker", 0x66, "Real Energy", scope="module")


@pytest.fixture(scope="module")
def files(tmp_path_factory, meter, supplier, attacker):
    """The honest files (signed tariff, bill, total, disclosure, keys) and the attacker's cheap
    tariff bodies, in one folder."""
    d = tmp_path_factory.mktemp("sec")
    recs = meter.records(*DAY)
    ops = records.open_all(recs, meter.customer_key)
    honest = tariff.sign(with_cycle(tariff.example(), DAY), supplier)
    honest["supplier_key"] = keys.public(supplier)
    T = tariff.parse_signed(honest, keys.public(supplier))
    cheap_body = with_cycle(tariff.example(), DAY)
    for s in cheap_body["seasons"]:  # every price 1 instead of 12..42 pence per kWh
        s["default_price"] = 1
        for b in s["bands"]:
            b["price"] = 1
    cheap = tariff.parse_body(cheap_body)
    out = {
        "dir": d,
        "T": T,
        "recs": recs,
        "ops": ops,
        "bill": bill.make_bill(recs, ops, T, *DAY, meter.pub),
        "cheap_bill": bill.make_bill(recs, ops, cheap, *DAY, meter.pub),
        "total": bill.make_bill(recs, ops, None, *DAY, meter.pub),
        "disclosure": bill.make_disclosure(recs, ops, [DAY[0] + 3, DAY[0] + 4], meter.pub),
    }
    attacker_signed = tariff.sign(cheap_body, attacker)
    attacker_signed["supplier_key"] = keys.public(attacker)  # "the key is in the file"
    stripped = dict(tariff.sign(cheap_body, supplier))
    stripped.pop("signature")
    garbage = tariff.sign(cheap_body, supplier)
    garbage["signature"]["sig"] = "ab" * 64
    writes = {
        "tariff.json": honest,
        "meter.pub.json": meter.pub,
        "supplier.pub.json": keys.public(supplier),
        "attacker.pub.json": keys.public(attacker),
        "bill.json": out["bill"],
        "cheap-bill.json": out["cheap_bill"],
        "total.json": out["total"],
        "disclosure.json": out["disclosure"],
        "t-unsigned.json": cheap_body,
        "t-stripped.json": stripped,
        "t-garbage.json": garbage,
        "t-attacker.json": attacker_signed,
    }
    for name, obj in writes.items():
        (d / name).write_text(json.dumps(obj))
    return out


def write(files, name, obj) -> Path:
    p = files["dir"] / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return p


def verify_bill_cli(files, bill_file, *extra, tariff_file="tariff.json"):
    d = files["dir"]
    return run("verify-bill", bill_file, "--tariff", d / tariff_file, "--meter-key", d / "meter.pub.json", *extra)


# ------------------------------------------------------------------ (1) untrusted tariffs
def test_prices_nobody_trusts_are_refused(files):
    d = files["dir"]
    cheap, honest = files["cheap_bill"], files["bill"]
    assert cheap["total"] < honest["total"] // 10  # the attack is worth it
    for t in ("t-unsigned.json", "t-stripped.json", "t-garbage.json", "t-attacker.json"):
        # no trusted key at all (no --supplier-key, empty trust store): refused, says what to do
        refused(verify_bill_cli(files, d / "cheap-bill.json", tariff_file=t))
        # with the real supplier's key, given or in the trust store: refused as invalid
        refused(
            verify_bill_cli(files, d / "cheap-bill.json", "--supplier-key", d / "supplier.pub.json", tariff_file=t),
            (1,),
        )
    assert run("trust", "add", d / "supplier.pub.json").returncode == 0
    line = refused(verify_bill_cli(files, d / "cheap-bill.json", tariff_file="t-attacker.json"), (1,))
    assert "not in your trust store" in line
    refused(verify_bill_cli(files, d / "cheap-bill.json", tariff_file="t-unsigned.json"), (1,), "not signed")
    r = verify_bill_cli(files, d / "bill.json")  # the honest bill under the trusted tariff
    assert r.returncode == 0 and "VALID" in r.stdout, r.stderr
    # the attacker's key in the trust store list is not the supplier's
    from veriwatt import trust

    assert [k["key_id"] for k in trust.load()] == [keys.key_id(tariff_key(files))]
    # every command that prices with a tariff refuses unsigned ones, even with the trusted key
    refused(run("tariff", "show", d / "t-unsigned.json", "--period", "2026-12"), (1,), "not signed")
    refused(run("tariff", "verify", d / "t-attacker.json"), (1,), "not in your trust store")
    refused(
        run("bill", "--store", d / "none.db", "--period", "2026-12", "--tariff", d / "t-unsigned.json", "--code", "x"),
        (1,),
        "not signed",
    )
    # the library: parse_signed needs the trusted key and refuses unsigned bodies
    with pytest.raises(InvalidError, match="not signed"):
        tariff.parse_signed(json.loads((d / "t-unsigned.json").read_text()), keys.public(tariff_key(files)))
    with pytest.raises(InvalidError):
        tariff.parse_signed(json.loads((d / "t-attacker.json").read_text()), keys.public(tariff_key(files)))


def tariff_key(files):
    return files["T"].signed["supplier_key"]


def test_trust_store_cli(files, tmp_path, monkeypatch):
    d = files["dir"]
    monkeypatch.setenv("VERIWATT_HOME", str(tmp_path / "home"))
    kid = keys.key_id(tariff_key(files))
    r = run("trust", "add", d / "supplier.pub.json", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["added"] is True
    assert (tmp_path / "home" / "trust.json").stat().st_mode & 0o777 == 0o600
    assert kid in run("trust", "list").stdout
    refused(run("trust", "add", d / "meter.pub.json"), (2,), "expected a supplier key")
    assert run("trust", "remove", kid).returncode == 0
    assert kid not in run("trust", "list").stdout
    refused(run("trust", "remove", kid), (2,), "not in the trust store")


# ------------------------------------------------------------------ (2) the kind asked for
def test_total_is_not_a_bill(files):
    d = files["dir"]
    r = verify_bill_cli(files, d / "total.json", "--supplier-key", d / "supplier.pub.json")
    refused(r, (1,), "total consumption")
    with pytest.raises(InvalidError, match="not a bill"):
        bill.verify_bill(copy.deepcopy(files["total"]), files["T"], _pub(files))
    # and a bill is not a total
    r = run("verify-bill", d / "bill.json", "--total", "--meter-key", d / "meter.pub.json")
    refused(r, (1,), "no tariff was given")
    r = run("verify-bill", d / "total.json", "--total", "--meter-key", d / "meter.pub.json")
    assert r.returncode == 0 and "total consumption" in r.stdout


def _pub(files):
    return json.loads((files["dir"] / "meter.pub.json").read_text())


# ------------------------------------------------------------------ (3) integers bound mod q only
def test_totals_and_readings_are_bounded_not_mod_q(files, meter):
    d = files["dir"]
    pub = _pub(files)
    for delta in (G.q, -G.q):
        b = copy.deepcopy(files["bill"])
        b["total"] += delta
        b["amount"] = files["T"].amount(b["total"])
        with pytest.raises(InvalidError, match="impossible"):
            bill.verify_bill(b, files["T"], pub)
        refused(verify_bill_cli(files, write(files, "q.json", b), "--supplier-key", d / "supplier.pub.json"))
        t = copy.deepcopy(files["total"])
        t["total"] += delta
        t["amount"] = str(t["total"])
        with pytest.raises(InvalidError, match="impossible"):
            bill.verify_bill(t, None, pub)
    for field, delta in (("reading", G.q), ("reading", -G.q), ("r", G.q)):
        x = copy.deepcopy(files["disclosure"])
        s = x["slots"][0]
        if field == "reading":
            s["reading"] += delta
        else:
            s["r"] = "%x" % (int(s["r"], 16) + G.q)
        with pytest.raises(VeriwattError):
            bill.verify_disclosure(x, pub)
        refused(run("verify-disclosure", write(files, "dq.json", x), "--meter-key", d / "meter.pub.json"))
    # a reading above the meter's maximum, even correctly committed and signed (a faulty meter):
    # the meter refuses to certify it, the verifier refuses it in a disclosure
    big = _reading.MAX_READING + 1
    with pytest.raises(ValueError):
        _reading.certify(meter.keys, DAY[0], big)
    slot, r_ = DAY[0] + 7, 12345
    C = _group.commit(big, r_, G)
    e, s_ = meter.keys.signer.sign(wire.signed_bytes(meter.mid, slot, C, G.id))
    x = copy.deepcopy(files["disclosure"])
    x["slots"] = [
        {
            "slot": slot,
            "start": bill._iso(slot),
            "reading": big,
            "r": "%064x" % r_,
            "C": "%x" % C,
            "sig": "%064x%064x" % (e, s_),
        }
    ]
    with pytest.raises(InvalidError, match="impossible"):
        bill.verify_disclosure(x, pub)
    refused(
        run("verify-disclosure", write(files, "big.json", x), "--meter-key", d / "meter.pub.json"), (1,), "impossible"
    )


# ------------------------------------------------------------------ (4) one encoding per value
def _mutations(b):
    R = b["proof"]["R"]
    c0 = b["commitments"][0]
    yield "R upper", lambda x: x["proof"].__setitem__("R", R.upper())
    yield "R 0x", lambda x: x["proof"].__setitem__("R", "0x" + R)
    yield "R padded", lambda x: x["proof"].__setitem__("R", "0" + R)
    yield "R underscore", lambda x: x["proof"].__setitem__("R", R[:8] + "_" + R[8:])
    yield "R space", lambda x: x["proof"].__setitem__("R", " " + R)
    yield "C upper", lambda x: x["commitments"][0].__setitem__("C", c0["C"].upper())
    yield "C zero", lambda x: x["commitments"][0].__setitem__("C", "0" + c0["C"])
    yield "sig upper", lambda x: x["commitments"][0].__setitem__("sig", c0["sig"].upper())
    yield "unknown field", lambda x: x.__setitem__("discount", "50%")
    yield "seconds", lambda x: x["proof"].__setitem__("seconds", 0.1)
    yield "tariff name", lambda x: x["tariff"].__setitem__("name", "Cheapest Ever")
    yield "period text", lambda x: x["period"].__setitem__("start", "2001-01-01T00:00:00Z")


def test_one_encoding_per_value(files):
    d = files["dir"]
    pub = _pub(files)
    ok = bill.verify_bill(copy.deepcopy(files["bill"]), files["T"], pub)
    assert ok["valid"]
    for name, mutate in _mutations(files["bill"]):
        b = copy.deepcopy(files["bill"])
        mutate(b)
        try:
            bill.verify_bill(b, files["T"], pub)
        except VeriwattError:
            continue
        pytest.fail("accepted: %s" % name)
    # through the CLI, a few of them
    for name, mutate in list(_mutations(files["bill"]))[:3]:
        b = copy.deepcopy(files["bill"])
        mutate(b)
        refused(verify_bill_cli(files, write(files, "enc.json", b), "--supplier-key", d / "supplier.pub.json"))
    # duplicate keys: the last would win in Python's json (the honest total after a fake one)
    text = json.dumps(files["bill"])
    dup = text.replace('"total": ', '"total": 400000, "total": ', 1)
    refused(
        verify_bill_cli(files, write(files, "dup.json", dup), "--supplier-key", d / "supplier.pub.json"),
        (2,),
        "duplicate key",
    )
    # a meter key file with y in upper case, a signature made of non-canonical hex
    k = dict(pub)
    k["y"] = k["y"].upper()
    refused(
        run(
            "verify-bill",
            d / "bill.json",
            "--tariff",
            d / "tariff.json",
            "--supplier-key",
            d / "supplier.pub.json",
            "--meter-key",
            write(files, "kup.json", k),
        ),
        (2,),
        "lowercase",
    )
    x = copy.deepcopy(files["disclosure"])
    x["slots"][0]["r"] = x["slots"][0]["r"].upper()
    refused(run("verify-disclosure", write(files, "dx.json", x), "--meter-key", d / "meter.pub.json"), (2,))
    # the tariff's signature in upper case hex
    s = json.loads((d / "tariff.json").read_text())
    s["signature"]["sig"] = s["signature"]["sig"].upper()
    refused(run("tariff", "verify", write(files, "tu.json", s), "--supplier-key", d / "supplier.pub.json"))


def test_zk_bill_fields_checked(files, meter):
    """A zero-knowledge bill's proof.sha256 is checked, its base64 canonical, `seconds` gone."""
    supplier = keys.new_supplier_key(secret=b"\x11" * 32, name="Real Energy")
    signed = tariff.sign(with_cycle(tariff.example("cumulative"), (DAY[0], DAY[0] + 4)), supplier)
    T = tariff.parse_signed(signed, keys.public(supplier))
    recs = files["recs"][:4]
    b = bill.make_bill(recs, files["ops"][:4], T, DAY[0], DAY[0] + 4, meter.pub)
    pub = _pub(files)
    assert "seconds" not in b["proof"] and bill.verify_bill(copy.deepcopy(b), T, pub)["valid"]
    x = copy.deepcopy(b)
    x["proof"]["sha256"] = "00" * 32
    with pytest.raises(InvalidError, match="SHA-256"):
        bill.verify_bill(x, T, pub)
    x = copy.deepcopy(b)
    x["proof"]["seconds"] = 1.0
    with pytest.raises(VeriwattError, match="unknown field"):
        bill.verify_bill(x, T, pub)
    data = base64.b64decode(b["proof"]["base64"])
    assert len(data) % 3  # padded: the last data character has unused bits
    x = copy.deepcopy(b)
    enc = x["proof"]["base64"].rstrip("=")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    x["proof"]["base64"] = enc[:-1] + alphabet[alphabet.index(enc[-1]) ^ 1] + "=" * (3 - len(data) % 3)
    assert base64.b64decode(x["proof"]["base64"]) == data  # same bytes, another text
    with pytest.raises(InvalidError, match="canonical"):
        bill.verify_bill(x, T, pub)


# ------------------------------------------------------------------ (5) hostile files
def test_hostile_files_fail_fast_with_one_line(files, tmp_path):
    from veriwatt import jsonio

    d = files["dir"]
    sk = ["--supplier-key", d / "supplier.pub.json"]
    huge = json.dumps(files["bill"]).replace('"total": %d' % files["bill"]["total"], '"total": ' + "9" * 100000, 1)
    refused(verify_bill_cli(files, write(files, "huge.json", huge), *sk), (2,), "digits")
    deep = "[" * 100000 + "]" * 100000
    refused(verify_bill_cli(files, write(files, "deep.json", deep), *sk), (2,), "nested deeper")
    refused(run("verify-disclosure", write(files, "deep.json", deep), "--meter-key", d / "meter.pub.json"), (2,))
    refused(
        run(
            "verify-bill",
            d / "bill.json",
            "--tariff",
            write(files, "deept.json", deep),
            "--meter-key",
            d / "meter.pub.json",
            *sk,
        ),
        (2,),
        "nested deeper",
    )
    x = copy.deepcopy(files["disclosure"])
    x["slots"][0]["sig"] = "zz" * 64
    refused(run("verify-disclosure", write(files, "zz.json", x), "--meter-key", d / "meter.pub.json"), (2,), "hex")
    # a 200 MB bill (sparse: takes no disk) is refused before a byte is read
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(200 * 1024 * 1024)
    line = refused(verify_bill_cli(files, big, *sk), (2,), "refused before reading")
    assert str(jsonio.CAPS["bill"]) in line
    big2 = tmp_path / "big-key.json"
    with open(big2, "wb") as f:
        f.truncate(10 * 1024 * 1024)
    refused(
        run("verify-bill", d / "bill.json", "--tariff", d / "tariff.json", "--meter-key", big2, *sk),
        (2,),
        "refused before reading",
    )


def test_signatures_checked_only_for_a_complete_period(files, monkeypatch):
    """A bill with replayed (valid) commitments must not make the verifier check a signature
    per copy: completeness first (the 200 MB bill took more than 45 s)."""
    b = copy.deepcopy(files["bill"])
    b["commitments"] = b["commitments"] + b["commitments"][:40]
    calls = []
    real = records.Checker.sig_ok
    monkeypatch.setattr(records.Checker, "sig_ok", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    with pytest.raises(InvalidError, match="more than once"):
        bill.verify_bill(b, files["T"], _pub(files))
    assert calls == []
    b["commitments"] = b["commitments"] * 30
    with pytest.raises(InvalidError, match="exactly once"):
        bill.verify_bill(b, files["T"], _pub(files))
    assert calls == []


# ------------------------------------------------------------------ strict decoders, fuzzed
@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789abcdefABCDEFx_ -+", max_size=12), st.one_of(st.none(), st.integers(1, 4)))
def test_hex_decoder_accepts_one_text_per_value(s, nbytes):
    from veriwatt import jsonio

    try:
        x = jsonio.hex_int(s, "v", nbytes)
    except VeriwattError:
        return
    assert s == ("%x" % x if nbytes is None else "%0*x" % (2 * nbytes, x))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ABCDabcd0123+/=\n ", max_size=12))
def test_base64_decoder_accepts_one_text_per_value(s):
    from veriwatt import jsonio

    try:
        data = jsonio.b64(s, "v")
    except VeriwattError:
        return
    assert base64.b64encode(data).decode() == s


@settings(max_examples=100, deadline=None)
@given(st.integers(-(2**300), 2**300))
def test_scalar_decoder_range(x):
    from veriwatt import jsonio

    text = "%064x" % x if 0 <= x < 16**64 else str(x)
    try:
        v = jsonio.scalar(text, G, "v")
    except VeriwattError:
        assert not 0 <= x < G.q
        return
    assert v == x and 0 <= x < G.q


def test_element_decoder():
    from veriwatt import jsonio

    assert jsonio.element("%x" % G.g, G, "g") == G.g
    for bad in ("1", "0", "%x" % G.p, "%x" % (G.p - 1), "%x" % (G.g + G.p), "0%x" % G.g, "%X" % G.g):
        with pytest.raises(VeriwattError):
            jsonio.element(bad, G, "x")


def test_private_files_are_0600_from_creation(tmp_path):
    from veriwatt import jsonio
    import os
    import stat

    p = tmp_path / "secret.json"
    jsonio.write(str(p), {"secret": "00"}, private=True)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    r = run("keygen", "--out", tmp_path / "sup")
    assert r.returncode == 0
    assert stat.S_IMODE(os.stat(tmp_path / "sup.key.json").st_mode) == 0o600
    assert jsonio.load(str(p), "x") == {"secret": "00"}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='{}[]":,0123456789-+.eE aNIfinty\\u', max_size=60))
def test_strict_json_reader_only_raises_one_line_errors(text):
    from veriwatt import jsonio

    try:
        jsonio.loads(text, "bill", "x.json")
    except VeriwattError as e:
        assert "\n" not in str(e)
