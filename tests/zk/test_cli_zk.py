# SPDX-License-Identifier: MIT
"""Non-linear tariffs through the CLI: `veriwatt tariff` for every kind (one signed format, the
supplier key files of `veriwatt keygen`), `veriwatt bill --tariff T` proving in zero knowledge
by the tariff's kind over a store's records, `veriwatt verify-bill` accepting honest bills and
rejecting tampered ones with exit 1 and the reason.

Records are made in CPython with vwcore (tests/host/hosthelpers.py, the code the firmware
runs) and stored as `veriwatt fetch` would. Periods: the month 2026-12 (Europe/London, 1488
slots) for cumulative and rebate, a week for threshold, a day for step (slow)."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import zkfixtures  # noqa: F401  (puts host/ and firmware/ on sys.path)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host"))
from hosthelpers import MONTH, Meter, with_cycle  # noqa: E402

from veriwatt import records, slots, tariff as tmod  # noqa: E402
from veriwatt.store import Store  # noqa: E402
from veriwatt.zk import tariffs as T  # noqa: E402

pytestmark = pytest.mark.zk

MA, MB = slots.month_range(MONTH, "Europe/London")
WEEK = (MA, MA + 7 * 48)
DAY = (MA + 3 * 48, MA + 4 * 48)  # Friday 2026-12-04 (the evening window is weekdays)
WEEKS = [(MA + 336 * i, MA + 336 * (i + 1)) for i in range(4)]  # weekly billing cycles (WEEK first)


def run(*argv, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "veriwatt.cli", *map(str, argv)], capture_output=True, text=True, timeout=timeout
    )


def ok(r):
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r


def invalid(r, *needles):
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert "INVALID" in r.stderr, r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr
    return r


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("zkcli")
    ok(run("keygen", "--out", d / "supplier", "--name", "Example Energy"))
    ok(run("keygen", "--out", d / "other", "--name", "Someone else"))
    ma, mb = Meter(b"METER-A1", 7), Meter(b"METER-B2", 9)
    st = Store(str(d / "v.db"))
    for m in (ma, mb):
        st.add_meter(m.pub["meter_id"], m.pub)
        st.add(list(m.raw(MA, MB).values()), records.Checker.from_pub(m.pub).check_raw, m.pub["meter_id"])
        (d / ("%s.pub.json" % m.pub["meter_id"])).write_text(json.dumps(m.pub))
    st.close()
    return {
        "dir": d,
        "a": ma,
        "b": mb,
        "db": d / "v.db",
        "key_a": d / ("%s.pub.json" % ma.pub["meter_id"]),
        "key_b": d / ("%s.pub.json" % mb.pub["meter_id"]),
    }


def signed(env, name, body, key="supplier"):
    d = env["dir"]
    (d / name).write_text(json.dumps(body))
    ok(run("tariff", "sign", d / name, "--key", d / ("%s.key.json" % key)))
    return d / name


def bill(env, tariff_file, period, out, meter=None, *extra):
    m = meter or env["a"]
    return run(
        "bill",
        "--store",
        env["db"],
        "--meter",
        m.pub["meter_id"],
        "--tariff",
        tariff_file,
        "--supplier-key",
        env["dir"] / "supplier.pub.json",
        "--period",
        period,
        "--code",
        m.code,
        "--out",
        env["dir"] / out,
        "--json",
        *extra,
    )


def verify(env, bill_file, tariff_file, key=None, *extra):
    return run(
        "verify-bill",
        bill_file,
        "--tariff",
        tariff_file,
        "--meter-key",
        key or env["key_a"],
        "--supplier-key",
        env["dir"] / "supplier.pub.json",
        *extra,
    )


def readings(m, a, b):
    return [m.reading(t) for t in range(a, b)]


def tampered(env, src, name, fn):
    b = json.loads(Path(src).read_text())
    fn(b)
    p = env["dir"] / name
    p.write_text(json.dumps(b))
    return p


def flip(b, pos=None):
    data = bytearray(base64.b64decode(b["proof"]["base64"]))
    i = len(data) // 2 if pos is None else pos
    data[i] ^= 0x01
    b["proof"]["base64"] = base64.b64encode(bytes(data)).decode()
    b["proof"]["sha256"] = hashlib.sha256(bytes(data)).hexdigest()  # as a cheat would


EXAMPLE_DIGEST = "e3d4d98f"


def period(a, b):
    return "%d:%d" % (a, b)


# ------------------------------------------------------------------ help and tariff files


def test_help_texts():
    out = ok(run("bill", "--help")).stdout
    assert "zero-knowledge" in out and "--workers" in out and "step" in out and "minutes" in out
    out = ok(run("verify-bill", "--help")).stdout
    assert "zero-knowledge" in out and "--workers" in out and "tariff digest" in out
    out = ok(run("tariff", "--help")).stdout
    for k in ("--kind", "step", "cumulative", "threshold", "rebate", "keygen"):
        assert k in out
    r = run("bill", "--workers", "0", "--period", "2026-12")
    assert r.returncode == 2 and "--workers must be an integer from 1 to 256" in r.stderr


@pytest.mark.parametrize("kind", ["step", "cumulative", "threshold", "rebate"])
def test_tariff_kinds_example_sign_verify_show(env, kind):
    d = env["dir"]
    body = json.loads(ok(run("tariff", "example", "--kind", kind)).stdout)
    assert body["kind"] == kind and body["format"] == tmod.FORMAT
    f = signed(env, "t-%s.json" % kind, body)
    s = json.loads(f.read_text())
    assert s["format"] == tmod.SIGNED_FORMAT and s["tariff"]["kind"] == kind and s["digest"] == tmod.digest(body)
    r = ok(run("tariff", "verify", f, "--supplier-key", d / "supplier.pub.json", "--json"))
    assert json.loads(r.stdout)["digest"] == s["digest"]
    r = ok(run("tariff", "show", f, "--period", "2026-12", "--json", "--supplier-key", d / "supplier.pub.json"))
    shown = json.loads(r.stdout)
    assert shown["kind"] == kind and shown["digest"] == s["digest"]
    if kind == "threshold":
        assert shown["dr_slots"] == 23 * 8  # weekdays of December 2026, 16:00-20:00
    # the other supplier's key does not verify it
    r = run("tariff", "verify", f, "--supplier-key", d / "other.pub.json")
    assert r.returncode == 1 and "signed by key" in r.stderr
    # a parameter changed after signing
    s2 = json.loads(f.read_text())
    s2["tariff"]["max_reading"] = 60000
    (d / "t2.json").write_text(json.dumps(s2))
    r = run("tariff", "verify", d / "t2.json", "--supplier-key", d / "supplier.pub.json")
    assert r.returncode == 1 and "changed after signing" in r.stderr
    # bad bodies are refused before signing, naming the problem
    for mutate, msg in (
        (lambda b: b.__setitem__("surprise", 1), "unknown field"),
        (lambda b: b.__setitem__("max_reading", 1.5), "not an integer"),
        (lambda b: b.pop(tmod.ZK_FIELDS[kind][0]), "missing field"),
    ):
        b = json.loads(json.dumps(body))
        mutate(b)
        (d / "bad.json").write_text(json.dumps(b))
        r = run("tariff", "sign", d / "bad.json", "--key", d / "supplier.key.json")
        assert r.returncode == 2 and msg in r.stderr, r.stderr


def test_tariff_parameters_validated_by_the_proof_layer():
    body = tmod.example("step")
    body["bands"] = [[10, 5], [250, 14]]
    with pytest.raises(tmod.VeriwattError, match="lowers must start at 0"):
        tmod.parse_body(body)
    body = tmod.example("cumulative")
    body["thresholds"] = [300000, 100000]
    with pytest.raises(tmod.VeriwattError, match="strictly increasing"):
        tmod.parse_body(body)
    t = tmod.parse_body(tmod.example("threshold"))
    # a weekend day has no weekday evening window
    sat = MA + 4 * 48
    with pytest.raises(tmod.VeriwattError, match="no slot .* demand-response window"):
        t.zk(sat, sat + 48)
    assert t.zk(*DAY).slots == tuple(range(32, 40))


def test_linear_kinds_unchanged():
    """The time-of-use and index examples are still parsed as linear tariffs; their digest
    changed once, when the billing cycle became part of every tariff (docs/TARIFF.md)."""
    assert tmod.digest(tmod.example("tariff")).startswith("sha256:%s" % EXAMPLE_DIGEST)
    assert tmod.parse_body(tmod.example("index")).kind == "index"


# ------------------------------------------------------------------ bills and their checks


@pytest.fixture(scope="module")
def cumulative(env):
    t = signed(env, "cumulative.json", tmod.example("cumulative"))
    r = ok(bill(env, t, "2026-12", "cum-bill.json"))
    return t, env["dir"] / "cum-bill.json", json.loads(r.stdout)


def test_cumulative_month(env, cumulative):
    t, bf, res = cumulative
    ms = readings(env["a"], MA, MB)
    assert len(ms) == 1488
    ref = T.CumulativeTariff((100000, 300000), (20, 25, 30)).cost(ms)
    assert res["total"] == ref and res["kind"] == "cumulative" and res["proof_bytes"] > 10000
    b = json.loads(bf.read_text())
    assert b["proof"]["alg"] == "veriwatt-zk/1" and b["proof"]["kind"] == "cumulative"
    assert len(base64.b64decode(b["proof"]["base64"])) == b["proof"]["bytes"]
    assert b["amount"] == tmod.parse_body(tmod.example("cumulative")).amount(ref)
    assert "reading" not in json.dumps(b) and len(b["commitments"]) == 1488
    r = ok(verify(env, bf, t, None, "--json"))
    rep = json.loads(r.stdout)
    assert rep["valid"] and rep["total"] == ref and rep["kind"] == "cumulative"
    r = ok(verify(env, bf, t, None, "--supplier-key", env["dir"] / "supplier.pub.json"))
    assert "VALID" in r.stdout and "zero-knowledge" in r.stdout


def test_cumulative_tampering(env, cumulative):
    t, bf, res = cumulative
    tar = tmod.parse_body(tmod.example("cumulative"))
    # proof bytes flipped (several places: an element, the middle, the last response)
    n = json.loads(bf.read_text())["proof"]["bytes"]
    for pos in (10, n // 2, n - 1):
        invalid(
            verify(env, tampered(env, bf, "x.json", lambda b: flip(b, pos)), t),
            "zero-knowledge cumulative proof does not verify",
        )

    # the amount changed (total and its display both, as a cheat would)
    def cheaper(b):
        b["total"] -= 2000
        b["amount"] = tar.amount(b["total"])

    invalid(verify(env, tampered(env, bf, "x.json", cheaper), t), "proof does not verify")
    # only the displayed amount changed
    invalid(
        verify(env, tampered(env, bf, "x.json", lambda b: b.__setitem__("amount", "1.00 GBP")), t), "displayed amount"
    )
    # the proof is not base64 any more / was cut
    invalid(
        verify(
            env,
            tampered(env, bf, "x.json", lambda b: b["proof"].__setitem__("base64", "@@" + b["proof"]["base64"][2:])),
            t,
        ),
        "not valid base64",
    )

    def cut(b):
        data = base64.b64decode(b["proof"]["base64"])[:-32]
        b["proof"]["base64"] = base64.b64encode(data).decode()
        b["proof"]["bytes"] -= 32
        b["proof"]["sha256"] = hashlib.sha256(data).hexdigest()

    invalid(verify(env, tampered(env, bf, "x.json", cut), t), "proof does not verify")
    # another tariff of the same kind, signed by the same supplier
    body = tmod.example("cumulative")
    body["prices"] = [20, 25, 31]
    other = signed(env, "cumulative-other.json", body)
    invalid(verify(env, bf, other), "different or altered tariff")
    # ... even when the bill is edited to name that tariff's digest: the proof is bound to it
    od = json.loads(other.read_text())["digest"]
    invalid(
        verify(env, tampered(env, bf, "x.json", lambda b: b["tariff"].__setitem__("digest", od)), other),
        "proof does not verify",
    )
    # same parameters, another name: a different digest, and the proof does not carry over
    body = tmod.example("cumulative")
    body["name"] = "Renamed"
    renamed = signed(env, "cumulative-renamed.json", body)
    rd = json.loads(renamed.read_text())["digest"]
    invalid(
        verify(env, tampered(env, bf, "x.json", lambda b: b["tariff"].update(digest=rd, name="Renamed")), renamed),
        "proof does not verify",
    )
    # the other meter's key
    invalid(verify(env, bf, t, env["key_b"]), "wrong meter key")
    # a tariff of another kind
    invalid(
        verify(env, bf, signed(env, "rebate-kind.json", tmod.example("rebate"))), "needs a tariff of kind cumulative"
    )


def test_proof_bound_to_meter_and_period(env, cumulative):
    """Meter B's honest bill relabelled as meter A's, and a bill for a shorter period whose proof
    is moved onto another period with the same commitments count, are rejected."""
    t = signed(env, "cumulative-weekly.json", with_cycle(tmod.example("cumulative"), *WEEKS))
    ok(bill(env, t, period(*WEEK), "cum-week-b.json", env["b"]))
    ok(verify(env, env["dir"] / "cum-week-b.json", t, env["key_b"]))
    ok(bill(env, t, period(*WEEK), "cum-week-a.json"))
    # B's proof in A's (valid, signed) bill for the same week: the commitments differ
    pb = json.loads((env["dir"] / "cum-week-b.json").read_text())

    def swap(b):
        b["proof"], b["total"], b["amount"] = pb["proof"], pb["total"], pb["amount"]

    invalid(verify(env, tampered(env, env["dir"] / "cum-week-a.json", "x.json", swap), t), "proof does not verify")
    # week 2 of A with week 1's proof
    ok(bill(env, t, period(WEEK[1], WEEK[1] + 336), "cum-week2-a.json"))
    pa = json.loads((env["dir"] / "cum-week-a.json").read_text())

    def move(b):
        b["proof"], b["total"], b["amount"] = pa["proof"], pa["total"], pa["amount"]

    invalid(verify(env, tampered(env, env["dir"] / "cum-week2-a.json", "x.json", move), t), "proof does not verify")

    # a completeness problem is reported as for linear bills, before the proof
    def drop(b):
        del b["commitments"][7]

    invalid(verify(env, tampered(env, env["dir"] / "cum-week-a.json", "x.json", drop), t), "missing", "dropped")


def test_rebate_month_and_week(env):
    body = tmod.example("rebate")
    body["baseline"] = 1100000  # above this meter's month (about 970 kWh): a reward
    t = signed(env, "rebate.json", body)
    res = json.loads(ok(bill(env, t, "2026-12", "rebate-bill.json")).stdout)
    ms = readings(env["a"], MA, MB)
    ref = T.RebateTariff(1100000, (20000, 60000), (2, 3, 5)).cost(ms)
    assert ref > 0 and res["total"] == ref and res["kind"] == "rebate"
    bf = env["dir"] / "rebate-bill.json"
    ok(verify(env, bf, t))
    invalid(verify(env, tampered(env, bf, "x.json", flip), t), "zero-knowledge rebate proof does not verify")
    tar = tmod.parse_body(body)

    def more(b):
        b["total"] += 5
        b["amount"] = tar.amount(b["total"])

    invalid(verify(env, tampered(env, bf, "x.json", more), t), "proof does not verify")
    invalid(verify(env, bf, t, env["key_b"]), "wrong meter key")
    body2 = dict(body, baseline=1000000)
    invalid(verify(env, bf, signed(env, "rebate-other.json", body2)), "different or altered tariff")
    # the example (baseline 400 kWh) over a month above it: reward 0, still proven
    t0 = signed(env, "rebate0.json", tmod.example("rebate"))
    assert json.loads(ok(bill(env, t0, "2026-12", "rebate0-bill.json")).stdout)["total"] == 0
    ok(verify(env, env["dir"] / "rebate0-bill.json", t0))


def test_threshold_week(env):
    t = signed(env, "threshold.json", with_cycle(tmod.example("threshold"), *WEEKS))
    r = ok(bill(env, t, period(*WEEK), "thr-bill.json"))
    assert "proving the threshold bill" in r.stderr and "40 slot(s)" in r.stderr
    res = json.loads(r.stdout)
    ms = readings(env["a"], *WEEK)
    idx = tmod.parse_body(tmod.example("threshold")).dr_slots(*WEEK)
    assert len(idx) == 40
    ref = T.ThresholdTariff(tuple(idx), 1000, 50).cost(ms)
    assert ref > 0 and res["total"] == ref
    bf = env["dir"] / "thr-bill.json"
    r = ok(verify(env, bf, t, None, "--workers", "2"))
    assert "verifying the threshold zero-knowledge proof over 40 slot(s) with 2 worker(s)" in r.stderr
    invalid(verify(env, tampered(env, bf, "x.json", flip), t), "zero-knowledge threshold proof does not verify")
    tar = tmod.parse_body(tmod.example("threshold"))

    def compliant(b):  # claim no excess at all
        b["total"] = 0
        b["amount"] = tar.amount(0)

    invalid(verify(env, tampered(env, bf, "x.json", compliant), t), "proof does not verify")
    body = with_cycle(tmod.example("threshold"), *WEEKS)
    body["limit"] = 1100
    invalid(verify(env, bf, signed(env, "thr-other.json", body)), "different or altered tariff")
    invalid(verify(env, bf, t, env["key_b"]), "wrong meter key")


def test_step_day(env):
    t = signed(env, "step.json", with_cycle(tmod.example("step"), DAY))
    r = ok(bill(env, t, period(*DAY), "step-bill.json", None, "--workers", "2"))
    assert "proving the step bill in zero knowledge over 48 slot(s)" in r.stderr
    assert "prove step: 48/48 (100%)" in r.stderr
    res = json.loads(r.stdout)
    ref = T.StepTariff((0, 250, 1000), (10, 14, 20)).cost(readings(env["a"], *DAY))
    assert res["total"] == ref and res["proof_bytes"] == 48 * 9248 + 2 * 32 + 6
    bf = env["dir"] / "step-bill.json"
    r = ok(verify(env, bf, t))
    assert "verify step: 48/48 (100%)" in r.stderr
    n = res["proof_bytes"]
    invalid(
        verify(env, tampered(env, bf, "x.json", lambda b: flip(b, n - 40)), t),
        "zero-knowledge step proof does not verify",
    )
    tar = tmod.parse_body(tmod.example("step"))

    def cheaper(b):
        b["total"] -= 14
        b["amount"] = tar.amount(b["total"])

    invalid(verify(env, tampered(env, bf, "x.json", cheaper), t), "proof does not verify")
    body = with_cycle(tmod.example("step"), DAY)
    body["bands"] = [[0, 10], [250, 14], [1000, 21]]
    invalid(verify(env, bf, signed(env, "step-other.json", body)), "different or altered tariff")
    invalid(verify(env, bf, t, env["key_b"]), "wrong meter key")


def test_readings_above_max_reading_refused(env):
    body = with_cycle(tmod.example("cumulative"), DAY)
    body["max_reading"] = 1000  # this meter reads up to 1249 Wh per half-hour
    t = signed(env, "cum-small.json", body)
    r = bill(env, t, period(*DAY), "never.json")
    assert r.returncode == 2 and "above the tariff's max_reading 1000" in r.stderr


@pytest.mark.security
def test_period_must_be_one_cycle_of_the_signed_tariff(env, cumulative):
    """The prover does not choose the period (issue Security, part 2): a week under the monthly
    tariff is refused by `bill` before any proving, and a week's bill under a weekly tariff of
    the same supplier, relabelled with the monthly tariff's digest, by `verify-bill`."""
    t, _, _ = cumulative
    r = bill(env, t, period(*WEEK), "never-week.json")
    assert r.returncode == 2 and "not one billing cycle" in r.stderr and "--period 2026-12" in r.stderr
    assert "proving" not in r.stderr and not (env["dir"] / "never-week.json").exists()
    weekly = signed(env, "cumulative-weekly2.json", with_cycle(tmod.example("cumulative"), *WEEKS))
    ok(bill(env, weekly, period(*WEEK), "cum-weekly2.json"))
    md = json.loads(Path(t).read_text())["digest"]
    relabelled = tampered(
        env, env["dir"] / "cum-weekly2.json", "x.json", lambda b: b["tariff"].__setitem__("digest", md)
    )
    invalid(verify(env, relabelled, t), "not one billing cycle", "calendar months in Europe/London")
    r = verify(env, relabelled, t, None, "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["problems"][0]["kind"] == "cycle"
