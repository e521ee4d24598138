# SPDX-License-Identifier: MIT
"""The meter tariff file and the meter's BILL on the host, without a meter: compiling, signing,
the strict checks of `install-tariff` before anything is sent, the CLI's exit codes and --json,
and a BILL made with vwcore (the code the meter runs) turned into a bill verify_bill accepts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hosthelpers import with_cycle
from vwcore import meterbill as mb

from veriwatt import bill, jsonio, keys, meterbill, records, tariff
from veriwatt.errors import InvalidError, VeriwattError

pytestmark = pytest.mark.computations
VERIWATT = [sys.executable, "-m", "veriwatt.cli"]
A = 1796126400 // 1800 + 8  # 2026-12-01T16:00Z: the cycle crosses the peak band
B = A + 12


@pytest.fixture
def files(tmp_path, supplier):
    jsonio.write(str(tmp_path / "sup.key.json"), supplier, private=True)
    jsonio.write(str(tmp_path / "sup.pub.json"), keys.public(supplier))
    jsonio.write(str(tmp_path / "t.json"), tariff.sign(with_cycle(tariff.example(), (A, B)), supplier))
    return tmp_path


def run(*args):
    return subprocess.run(VERIWATT + [str(a) for a in args], capture_output=True, text=True, timeout=120)


def make_mt(d: Path, mid="4d42494c4c303031"):
    r = run(
        "meter-tariff",
        "--tariff",
        d / "t.json",
        "--key",
        d / "sup.key.json",
        "--meter-id",
        mid,
        "--period",
        "%d:%d" % (A, B),
        "--out",
        d / "mt.json",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_meter_tariff_is_the_run_length_form_of_the_signed_tariff(files, supplier):
    out = make_mt(files)
    mt = meterbill.parse_meter_tariff(jsonio.load(str(files / "mt.json"), "mt"))
    t = tariff.parse_signed(jsonio.load(str(files / "t.json"), "t"), keys.public(supplier))
    assert mb.expand(mt["points"], B - A) == t.prices(A, B)
    assert out["points"] == len(mt["points"]) >= 2 and out["tariff_digest"] == t.digest()
    meterbill.check_meter_tariff(mt, t, keys.public(supplier))
    # not one of the tariff's billing cycles: refused (exit 2)
    r = run(
        "meter-tariff",
        "--tariff",
        files / "t.json",
        "--key",
        files / "sup.key.json",
        "--meter-id",
        "00" * 8,
        "--period",
        "%d:%d" % (A, B + 1),
    )
    assert r.returncode == 2 and "cycle" in r.stderr


@pytest.mark.security
def test_install_tariff_refuses_a_changed_file_before_the_line(files, supplier, intruder):
    make_mt(files)
    mt = jsonio.load(str(files / "mt.json"), "mt")
    cases = {
        "price": dict(mt, points=[[o, p + 1] for o, p in mt["points"]]),
        "sig": dict(mt, sig="%0128x" % (int(mt["sig"], 16) ^ 1)),
        "digest": dict(mt, tariff_digest="sha256:" + "00" * 32),
    }
    for name, bad in cases.items():
        jsonio.write(str(files / "bad.json"), bad)
        # the port does not exist: a refusal before the line is the only way to exit 1
        r = run(
            "install-tariff",
            "/dev/nonexistent-veriwatt",
            files / "bad.json",
            "--tariff",
            files / "t.json",
            "--supplier-key",
            files / "sup.pub.json",
        )
        assert r.returncode == 1, (name, r.stderr)
    # signed by someone else (the intruder) but otherwise right: refused
    t = tariff.parse_signed(jsonio.load(str(files / "t.json"), "t"), keys.public(supplier))
    forged = meterbill.parse_meter_tariff(meterbill.sign_meter_tariff(t, intruder, bytes.fromhex(mt["meter_id"]), A, B))
    with pytest.raises(InvalidError):
        meterbill.check_meter_tariff(forged, t, keys.public(supplier))
    # malformed: points out of order, too many, unknown field
    for bad in (dict(mt, points=[[0, 1], [0, 2]]), dict(mt, points=[[i, 1] for i in range(257)]), dict(mt, x=1)):
        with pytest.raises(VeriwattError):
            meterbill.parse_meter_tariff(bad)


def test_bill_from_a_meter_bill_verifies_and_a_changed_one_does_not(meter_a, supplier):
    """The meter's arithmetic (vwcore, as vwmeter.billing runs it) on records made with vwcore."""
    t = tariff.parse_signed(tariff.sign(with_cycle(tariff.example(), (A, B)), supplier), keys.public(supplier))
    recs = [records.decode(meter_a.record(s).encode()) for s in range(A, B)]
    ops = [(meter_a.reading(s), meter_a.keys.r_for(s)) for s in range(A, B)]
    prices = t.prices(A, B)
    q = keys.group_of(meter_a.pub).q
    total = sum(p * m for p, (m, _) in zip(prices, ops))
    R = sum(p * r for p, (_, r) in zip(prices, ops)) % q
    d = meterbill.digest_bytes(t)
    e_s = meter_a.keys.signer.sign(mb.bill_bytes(meter_a.mid, A, B, d, total, R))
    from vwcore import sig

    frame = mb.decode_bill(mb.encode_bill(meter_a.mid, A, B, d, total, R, sig.encode_sig(e_s)))
    B_ = meterbill.bill_from_meter(frame, recs, t, meter_a.pub)
    assert bill.verify_bill(B_, t, meter_a.pub)["valid"]
    with pytest.raises(InvalidError):
        meterbill.bill_from_meter(dict(frame, total=total + 1), recs, t, meter_a.pub)
    with pytest.raises(VeriwattError):
        meterbill.bill_from_meter(frame, recs[:-1], t, meter_a.pub)
    # a BILL priced under another (e.g. an older, replayed) tariff, validly signed by the meter
    d2 = bytes(32)
    e_s2 = meter_a.keys.signer.sign(mb.bill_bytes(meter_a.mid, A, B, d2, total, R))
    other = mb.decode_bill(mb.encode_bill(meter_a.mid, A, B, d2, total, R, sig.encode_sig(e_s2)))
    meterbill.check_bill_frame(other, meter_a.pub)
    with pytest.raises(InvalidError, match="another|not the given"):
        meterbill.bill_from_meter(other, recs, t, meter_a.pub)


@pytest.mark.security
def test_meter_billing_decoders_raise_only_valueerror():
    """What the meter decodes from the line (wire.decode_payload): any bytes give a dict or a
    ValueError (the meter answers ERROR 3), never another exception."""
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from vwcore import wire

    @settings(deadline=None, max_examples=400)
    @given(st.sampled_from([wire.SUPPLIER_KEY, wire.TARIFF_SET, wire.BILL_FETCH, wire.BILL]), st.binary(max_size=1100))
    def check(mtype, payload):
        try:
            wire.decode_payload(mtype, payload)
        except ValueError:
            pass

    check()
    for op in (1, 2, 3):  # the op byte with lengths around the right ones
        for n in range(0, 110):
            try:
                wire.decode_payload(wire.TARIFF_SET, bytes([op]) + bytes(n))
            except ValueError:
                pass
