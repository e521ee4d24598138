# SPDX-License-Identifier: MIT
"""Attack: the prover chooses the billing period (issue "Security", part 2).

Before the fix the period of a bill came from the bill itself: a rebate worth 0 for December
was worth hundreds of pounds as 31 daily bills (each VALID), a cumulative tariff was cheaper
by the day, and a threshold bill could leave out the days with demand-response excess. Now
the billing cycle is part of the SIGNED tariff (veriwatt.cycles), every verifier refuses a bill
that is not exactly one cycle, `veriwatt bill` refuses such a period before any work, and the
supplier's ledger (veriwatt.ledger) refuses a cycle billed twice or an overlapping period.

The attacker's own tools are simulated by turning off the prover-side check
(bill.check_cycle): what matters is that the supplier's side refuses the result."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading

import pytest

from hosthelpers import with_cycle

from veriwatt import bill, cycles, keys, ledger, records, slots, tariff
from veriwatt.errors import InvalidError, VeriwattError
from veriwatt.zk import tariffs as T

pytestmark = [pytest.mark.host, pytest.mark.security]

DEC = slots.month_range("2026-12", "Europe/London")
NOV = slots.month_range("2026-11", "Europe/London")
DAYS = [(DEC[0] + 48 * i, DEC[0] + 48 * (i + 1)) for i in range(31)]


def run(*argv, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "veriwatt.cli", *map(str, argv)], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def dec(meter_a):
    recs = meter_a.records(*DEC)
    return recs, records.open_all(recs, meter_a.customer_key)


def signed(supplier, body):
    return tariff.parse_signed(tariff.sign(body, supplier), keys.public(supplier))


def cheat_bill(monkeypatch, recs, ops, t, a, b, pub, base=None):
    """A bill for [a, b) made by a prover that skips the cycle check (its own copy of the code)."""
    with monkeypatch.context() as m:
        m.setattr(bill, "check_cycle", lambda *x, **k: None)
        lo = 0 if base is None else a - base
        return bill.make_bill(recs[lo : lo + (b - a)], ops[lo : lo + (b - a)], t, a, b, pub)


def refused(b, t, pub, match="not one billing cycle"):
    with pytest.raises(InvalidError, match=match) as e:
        bill.verify_bill(b, t, pub)
    assert e.value.report["problems"][0]["kind"] in ("cycle", "tariff")
    return e


# ------------------------------------------------------------------ the verifier refuses
@pytest.mark.zk
@pytest.mark.slow
def test_31_daily_rebate_bills_each_refused(monkeypatch, dec, meter_a, supplier):
    recs, ops = dec
    t = signed(supplier, tariff.example("rebate"))  # calendar months in Europe/London
    ms = [m for m, _ in ops]
    rb = T.RebateTariff(400000, (20000, 60000), (2, 3, 5))
    assert rb.cost(ms) == 0 < sum(rb.cost(ms[a - DEC[0] : b - DEC[0]]) for a, b in DAYS)  # the attack's worth
    month = bill.make_bill(recs, ops, t, DEC[0], DEC[1], meter_a.pub)
    assert bill.verify_bill(month, t, meter_a.pub)["valid"] and month["total"] == 0
    for a, b in DAYS:
        daily = cheat_bill(monkeypatch, recs, ops, t, a, b, meter_a.pub, base=DEC[0])
        assert daily["total"] > 0
        e = refused(daily, t, meter_a.pub)
        assert "a bill must cover exactly one cycle, e.g. --period 2026-12" in str(e.value)


@pytest.mark.zk
def test_daily_cumulative_bill_refused(monkeypatch, dec, meter_a, supplier):
    recs, ops = dec
    t = signed(supplier, tariff.example("cumulative"))
    ms = [m for m, _ in ops]
    cu = T.CumulativeTariff((100000, 300000), (20, 25, 30))
    assert sum(cu.cost(ms[a - DEC[0] : b - DEC[0]]) for a, b in DAYS) < cu.cost(ms) * 0.8  # > 20 % cheaper by day
    for a, b in DAYS[:2]:
        refused(cheat_bill(monkeypatch, recs, ops, t, a, b, meter_a.pub, base=DEC[0]), t, meter_a.pub)


@pytest.mark.zk
def test_threshold_bill_leaving_out_days_refused(monkeypatch, dec, meter_a, supplier):
    """A demand-response bill over the one weekday the customer chose (not the month)."""
    recs, ops = dec
    t = signed(supplier, tariff.example("threshold"))
    a, b = DAYS[3]  # Friday 2026-12-04: 8 slots in the evening window
    refused(
        cheat_bill(monkeypatch, recs, ops, t, a, b, meter_a.pub, base=DEC[0]),
        t,
        meter_a.pub,
        "starts inside cycle 2026-12",
    )


def test_bill_over_two_months_refused(monkeypatch, meter_a, dec, supplier):
    t = signed(supplier, tariff.example())
    recs = meter_a.records(NOV[0], DEC[1])
    ops = records.open_all(recs[: NOV[1] - NOV[0]], meter_a.customer_key) + dec[1]
    b = cheat_bill(monkeypatch, recs, ops, t, NOV[0], DEC[1], meter_a.pub)
    refused(b, t, meter_a.pub, "is longer than cycle 2026-11")
    # a short period across the month boundary
    a = DEC[0] - 48
    b2 = cheat_bill(monkeypatch, recs, ops, t, a, DEC[0] + 48, meter_a.pub, base=NOV[0])
    refused(b2, t, meter_a.pub, "starts inside cycle 2026-11")


def test_bill_over_a_partial_month_refused(monkeypatch, dec, meter_a, supplier, tmp_path):
    recs, ops = dec
    t = signed(supplier, tariff.example())
    b = cheat_bill(monkeypatch, recs, ops, t, DEC[0], DEC[1] - 48, meter_a.pub)  # December without its last day
    refused(b, t, meter_a.pub, "ends before cycle 2026-12 does")
    # the customer's own tool refuses to make it
    with pytest.raises(VeriwattError, match="not one billing cycle"):
        bill.make_bill(recs[:-48], ops[:-48], t, DEC[0], DEC[1] - 48, meter_a.pub)
    # and `veriwatt verify-bill` says why, exit 1
    (tmp_path / "b.json").write_text(json.dumps(b))
    (tmp_path / "t.json").write_text(json.dumps(t.signed))
    (tmp_path / "m.json").write_text(json.dumps(meter_a.pub))
    (tmp_path / "s.json").write_text(json.dumps(keys.public(supplier)))
    sk = ("--supplier-key", tmp_path / "s.json")
    r = run(
        "verify-bill", tmp_path / "b.json", "--tariff", tmp_path / "t.json", "--meter-key", tmp_path / "m.json", *sk
    )
    assert r.returncode == 1 and "INVALID" in r.stderr and "not one billing cycle" in r.stderr, r.stderr
    r = run(
        "verify-bill",
        tmp_path / "b.json",
        "--tariff",
        tmp_path / "t.json",
        "--meter-key",
        tmp_path / "m.json",
        "--json",
        *sk,
    )
    rep = json.loads(r.stdout)
    assert r.returncode == 1 and not rep["valid"] and rep["problems"][0]["kind"] == "cycle"


def test_cli_bill_refuses_a_period_that_is_not_a_cycle_before_any_work(tmp_path, supplier):
    """No store, no code: the period is refused first, naming the cycle to bill."""
    s = tariff.sign(tariff.example("rebate"), supplier)
    (tmp_path / "t.json").write_text(json.dumps(s))
    (tmp_path / "s.json").write_text(json.dumps(keys.public(supplier)))
    r = run(
        "bill",
        "--store",
        tmp_path / "none.db",
        "--tariff",
        tmp_path / "t.json",
        "--period",
        "2026-12-01..2026-12-02",
        "--code",
        "x",
        "--supplier-key",
        tmp_path / "s.json",
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "not one billing cycle" in r.stderr and "--period 2026-12" in r.stderr and "does not exist" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "none.db").exists()


def test_cycle_edited_after_signing_refused(monkeypatch, dec, meter_a, supplier, tmp_path):
    """Editing the signed cycle to daily periods breaks the signature, and a daily bill
    relabelled with the genuine tariff's digest is refused for its period."""
    recs, ops = dec
    s = tariff.sign(tariff.example(), supplier)
    s["supplier_key"] = keys.public(supplier)
    forged = copy.deepcopy(s)
    forged["tariff"]["cycle"] = {"kind": "periods", "periods": [list(p) for p in DAYS]}
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    with pytest.raises(InvalidError, match="changed after signing"):
        tariff.load_signed(str(tmp_path / "forged.json"), keys.public(supplier))
    forged["digest"] = tariff.digest(forged["tariff"])  # the attacker fixes the digest too
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    with pytest.raises(InvalidError, match="signature does not verify"):
        tariff.load_signed(str(tmp_path / "forged.json"), keys.public(supplier))
    (tmp_path / "pub.json").write_text(json.dumps(keys.public(supplier)))
    r = run("tariff", "verify", tmp_path / "forged.json", "--supplier-key", tmp_path / "pub.json")
    assert r.returncode == 1 and "signature does not verify" in r.stderr
    # a daily bill under the forged tariff, relabelled with the genuine digest
    ft = tariff.parse_body(forged["tariff"])
    daily = bill.make_bill(recs[:48], ops[:48], ft, DAYS[0][0], DAYS[0][1], meter_a.pub)
    genuine = tariff.parse_signed(s, keys.public(supplier))
    daily["tariff"]["digest"] = genuine.digest()
    refused(daily, genuine, meter_a.pub)


def test_cycle_is_mandatory_and_canonical(tmp_path, supplier):
    for kind in ("tariff", "index", "step", "cumulative", "threshold", "rebate"):
        body = tariff.example(kind)
        assert body["cycle"] == {"kind": "calendar-month", "zone": "Europe/London"}
        assert tariff.parse_body(body).cycle.problem(*DEC) is None
        body.pop("cycle")
        with pytest.raises(VeriwattError, match="cycle is missing"):
            tariff.sign(body, supplier)
    (tmp_path / "k").mkdir()
    assert run("keygen", "--out", tmp_path / "k" / "sup").returncode == 0
    body = tariff.example("cumulative")
    body.pop("cycle")
    (tmp_path / "t.json").write_text(json.dumps(body))
    r = run("tariff", "sign", tmp_path / "t.json", "--key", tmp_path / "k" / "sup.key.json")
    assert r.returncode == 2 and "cycle is missing" in r.stderr
    bad = [
        ({"kind": "weekly"}, "kind must be one of"),
        ({"kind": "calendar-month"}, "zone must be"),
        ({"kind": "calendar-month", "zone": "Mars/Olympus"}, "unknown time zone"),
        ({"kind": "calendar-month", "zone": "UTC", "day": 15}, "unknown field"),
        ({"kind": "periods", "periods": []}, "non-empty"),
        ({"kind": "periods", "periods": [[10, 20], [15, 30]]}, "must not overlap"),
        ({"kind": "periods", "periods": [[20, 30], [10, 20]]}, "must not overlap"),
        ({"kind": "periods", "periods": [[10, 10]]}, "not a valid range"),
        ({"kind": "periods", "periods": [[10, 20.0]]}, "integer slot numbers"),
        ({"kind": "periods", "periods": [["2026-12-01", "2027-01-01"]]}, "integer slot numbers"),
        ({"kind": "periods", "periods": [[True, 20]]}, "integer slot numbers"),
        ("calendar-month", "must be an object"),
    ]
    for c, msg in bad:
        with pytest.raises(VeriwattError, match=msg):
            tariff.parse_body(dict(tariff.example(), cycle=c))
    with pytest.raises(VeriwattError, match="more than"):
        cycles.parse({"kind": "periods", "periods": [[i, i + 1] for i in range(cycles.MAX_PERIODS + 1)]})


@pytest.mark.parametrize("zone", ["UTC", "Europe/London", "Asia/Kathmandu", "America/St_Johns", "Australia/Lord_Howe"])
def test_calendar_months_tile_time(zone):
    """Consecutive months are contiguous cycles, each found from any of its slots and named by
    its month, also in zones whose midnight is not on a half-hour boundary (+05:45)."""
    c = cycles.parse({"kind": "calendar-month", "zone": zone})
    t = slots.month_range("2026-01", zone)[0]
    for _ in range(30):
        a, b = c.containing(t)
        assert a == t and c.problem(a, b) is None and slots.month_range(c.label(a, b), zone) == (a, b)
        assert c.containing(b - 1) == (a, b) and c.containing((a + b) // 2) == (a, b)
        assert c.problem(a, b - 1) and c.problem(a + 1, b) and c.problem(a, b + 1)
        t = b


def test_tariff_show_prints_the_cycle(tmp_path, supplier):
    s = tariff.sign(tariff.example("rebate"), supplier)
    (tmp_path / "t.json").write_text(json.dumps(s))
    (tmp_path / "s.json").write_text(json.dumps(keys.public(supplier)))
    run("trust", "add", tmp_path / "s.json")  # the trust store instead of --supplier-key
    r = run("tariff", "show", tmp_path / "t.json", "--period", "2026-12")
    assert (
        r.returncode == 0
        and "billing cycle: calendar months in Europe/London; this period is the cycle 2026-12" in r.stdout
    )
    r = run("tariff", "show", tmp_path / "t.json", "--period", "2026-12-01..2026-12-08", "--json")
    d = json.loads(r.stdout)
    assert d["cycle"] == {"kind": "calendar-month", "zone": "Europe/London"} and d["period_is_cycle"] is False


# ------------------------------------------------------------------ the supplier's ledger
@pytest.fixture(scope="module")
def files(tmp_path_factory, dec, meter_a, supplier):
    """Signed tariffs, honest December bills and the key files, as the supplier receives them."""
    d = tmp_path_factory.mktemp("ledger")
    recs, ops = dec
    pub = keys.public(supplier)
    (d / "supplier.pub.json").write_text(json.dumps(pub))
    (d / "meter.pub.json").write_text(json.dumps(meter_a.pub))
    out = {"dir": d}
    other = tariff.example()
    other["seasons"][1]["default_price"] = 28  # another energy tariff, the same calendar-month cycle
    mid = with_cycle(tariff.example(), (DEC[0] + 10 * 48, DEC[0] + 20 * 48))  # a cycle inside December
    for name, body, a, b in (
        ("tou", tariff.example(), DEC[0], DEC[1]),
        ("other", other, DEC[0], DEC[1]),
        ("mid", mid, DEC[0] + 10 * 48, DEC[0] + 20 * 48),
        ("index", tariff.example("index"), DEC[0], DEC[1]),
    ):
        s = tariff.sign(body, supplier)
        (d / ("%s.tariff.json" % name)).write_text(json.dumps(s))
        t = tariff.parse_signed(s, pub)
        B = bill.make_bill(recs[a - DEC[0] : b - DEC[0]], ops[a - DEC[0] : b - DEC[0]], t, a, b, meter_a.pub)
        (d / ("%s.bill.json" % name)).write_text(json.dumps(B))
        out[name] = (d / ("%s.tariff.json" % name), d / ("%s.bill.json" % name))
    return out


def record(files, name, db, *extra):
    t, b = files[name]
    d = files["dir"]
    return run(
        "ledger",
        "record",
        b,
        "--ledger",
        db,
        "--tariff",
        t,
        "--supplier-key",
        d / "supplier.pub.json",
        "--meter-key",
        d / "meter.pub.json",
        *extra,
    )


def test_ledger_refuses_the_same_cycle_twice_and_overlaps(files, tmp_path, meter_a):
    db = tmp_path / "ledger.db"
    r = record(files, "tou", db, "--json")
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)
    assert row["recorded"] and row["cycle"] == "2026-12" and row["charge"] == "energy"
    assert row["start_slot"] == DEC[0] and row["end_slot"] == DEC[1] and row["meter_id"] == meter_a.pub["meter_id"]
    assert row["bill_digest"] == ledger.bill_digest(files["tou"][1].read_bytes())
    # the same bill again
    r = record(files, "tou", db)
    assert r.returncode == 1 and "REFUSED" in r.stderr and "already recorded" in r.stderr
    # another bill for the same cycle (another energy tariff of the supplier's)
    r = record(files, "other", db, "--json")
    assert r.returncode == 1 and "same cycle 2026-12 is already billed" in json.loads(r.stdout)["reason"]
    # a bill for a period that overlaps December (a cycle of another signed tariff)
    r = record(files, "mid", db)
    assert r.returncode == 1 and "overlaps cycle 2026-12" in r.stderr
    # a settlement is another charge: recorded beside the bill
    assert record(files, "index", db).returncode == 0
    r = run("ledger", "list", "--ledger", db, "--json")
    rows = json.loads(r.stdout)["bills"]
    assert sorted((x["charge"], x["cycle"]) for x in rows) == [("energy", "2026-12"), ("settlement", "2026-12")]
    # an invalid bill is not recorded
    bad = json.loads(files["other"][1].read_text())
    bad["total"] -= 1000
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    d = files["dir"]
    r = run(
        "ledger",
        "record",
        tmp_path / "bad.json",
        "--ledger",
        tmp_path / "l2.db",
        "--tariff",
        files["other"][0],
        "--supplier-key",
        d / "supplier.pub.json",
        "--meter-key",
        d / "meter.pub.json",
    )
    assert r.returncode == 1 and "do not match" in r.stderr and not (tmp_path / "l2.db").exists()
    # the supplier's key is required
    r = run(
        "ledger",
        "record",
        files["tou"][1],
        "--ledger",
        db,
        "--tariff",
        files["tou"][0],
        "--meter-key",
        d / "meter.pub.json",
    )
    assert r.returncode == 2 and "--supplier-key" in r.stderr


def test_ledger_reports_gaps(files, tmp_path, meter_a):
    db = tmp_path / "ledger.db"
    assert record(files, "tou", db).returncode == 0
    mid = meter_a.pub["meter_id"]
    r = run("ledger", "gaps", "--ledger", db, "--meter", mid, "--from", "2026-10", "--to", "2026-12", "--json")
    assert r.returncode == 1, r.stderr
    g = json.loads(r.stdout)
    assert [(x["charge"], x["cycle"], x["billed_slots"]) for x in g["gaps"]] == [
        ("energy", "2026-10", 0),
        ("energy", "2026-11", 0),
    ]
    assert g["charges"][0]["cycles_checked"] == 3
    r = run("ledger", "gaps", "--ledger", db, "--meter", mid, "--from", "2026-12", "--to", "2026-12")
    assert r.returncode == 0 and "no gap" in r.stdout
    r = run("ledger", "gaps", "--ledger", db, "--meter", "00" * 8, "--from", "2026-10", "--to", "2026-12")
    assert r.returncode == 2 and "--tariff" in r.stderr
    r = run(
        "ledger",
        "gaps",
        "--ledger",
        db,
        "--meter",
        "00" * 8,
        "--from",
        "2026-10",
        "--to",
        "2026-12",
        "--tariff",
        files["tou"][0],
        "--supplier-key",
        files["dir"] / "supplier.pub.json",
        "--json",
    )
    assert r.returncode == 1 and len(json.loads(r.stdout)["gaps"]) == 3
    r = run("ledger", "gaps", "--ledger", tmp_path / "none.db", "--meter", mid, "--from", "2026-10", "--to", "2026-12")
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_ledger_two_concurrent_recordings_cannot_both_succeed(files, tmp_path):
    """Two suppliers' workers record two different bills of the same cycle at the same time."""
    db = tmp_path / "ledger.db"
    t1, b1 = files["tou"]
    t2, b2 = files["other"]
    d = files["dir"]
    common = [
        "--ledger",
        str(db),
        "--supplier-key",
        str(d / "supplier.pub.json"),
        "--meter-key",
        str(d / "meter.pub.json"),
    ]
    ps = [
        subprocess.Popen(
            [sys.executable, "-m", "veriwatt.cli", "ledger", "record", str(b), "--tariff", str(t), *common],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for t, b in ((t1, b1), (t2, b2))
    ]
    codes = sorted(p.wait(timeout=300) for p in ps)
    assert codes == [0, 1]
    # and in one process, racing threads on separate connections: exactly one wins
    db2 = tmp_path / "l2.db"
    ledger.Ledger(str(db2)).close()
    pub = json.loads((d / "supplier.pub.json").read_text())
    jobs = [
        (json.loads(b.read_text()), b.read_bytes(), tariff.load_signed(str(t), pub)) for t, b in ((t1, b1), (t2, b2))
    ] * 4
    go, results = threading.Barrier(len(jobs)), []

    def work(job):
        with ledger.Ledger(str(db2)) as L:
            go.wait()
            try:
                L.record(*job)
                results.append("ok")
            except InvalidError:
                results.append("refused")

    ths = [threading.Thread(target=work, args=(j,)) for j in jobs]
    for th in ths:
        th.start()
    for th in ths:
        th.join(60)
    assert sorted(results) == ["ok"] + ["refused"] * (len(jobs) - 1)
    with ledger.Ledger(str(db2)) as L:
        assert len(L.rows()) == 1


def test_ledger_file_errors(tmp_path):
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    r = run("ledger", "list", "--ledger", tmp_path / "junk.db")
    assert r.returncode == 2 and "not a veriwatt ledger" in r.stderr and "Traceback" not in r.stderr
    r = run("ledger", "list", "--ledger", tmp_path / "none.db")
    assert r.returncode == 2 and "does not exist" in r.stderr
    r = run("ledger", "record", "--ledger", tmp_path / "l.db")
    assert r.returncode == 2 and "BILL" in r.stderr
