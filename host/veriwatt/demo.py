# SPDX-License-Identifier: MIT
"""`veriwatt demo --out DIR`: the main job end to end on simulated meters, no hardware.

1. start N simulated meters (the real firmware on the unix MicroPython, each behind a pty);
2. the supplier makes a signing key and signs a time-of-use tariff (and a settlement index);
3. provision each meter over serial (keys, clock at the start of the month, customer code);
4. let a month of half hours pass on the accelerated clock, fetching over serial as it goes
   (resumable, acknowledged, CRC-checked frames);
5. verify every reading's signature and the month's completeness;
6. the customer bills the month with its proof (plus a settlement, a total and a plot);
7. the supplier verifies the bill from the files alone, exactly as `veriwatt verify-bill`,
   and records it in its ledger of billed cycles (ledger.db: each month billed once);
8. aggregation (at least 3 meters): the meters are enrolled in a group (AGG_ENROLL), the
   aggregator collects a day of masked shares over serial (AGG_FETCH), recovers a slot
   without one meter (AGG_RECOVER), and the sums, means and variances are checked against
   the plaintext statistics of the decrypted readings; a feeder check flags a slot with
   energy unaccounted for.

Leaves in DIR: bill.json, tariff.json, meter.pub.json, supplier.pub.json, settlement.json,
total.json, disclosure.json, ledger.db, consumption.png (if matplotlib is there), aggregate.json,
group.json (the aggregator's key: private), summary.json, the
local store veriwatt.db, and the simulated meters' flash in sim/.
"""

from __future__ import annotations

import os
import shutil
import time
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import api, jsonio
from .errors import DeviceError, InvalidError, VeriwattError, stderr_note

Say = Callable[[str], None]

SPEED = 300000  # simulated seconds per second: a month of half hours passes in about 9 s
# The month is not bounded by the wall clock: what takes the time is CPU, the meters
# certifying 1488 slots each (a Pedersen commitment and a Schnorr signature per slot, about
# 10 ms in MicroPython with the vwcrypto natmod, 50 ms with pow()) and the host checking each
# reading's signature as it fetches (about 3 ms): some 60 CPU-seconds for 3 meters, 45 s on two
# idle cores, several minutes on a loaded machine.  The demo waits as long as readings arrive
# or a meter certifies a slot, and gives up after STALL_S seconds without either.
STALL_S = 120.0
AGG_MIN_METERS = 3  # aggregation over 2 meters would tell each one the other's reading


def ensure_natmod(say: Say) -> bool:
    """The simulated meters certify about five times faster with the vwcrypto natmod: the
    installed package carries it when it was built with one; in a checkout, build it for x64
    once if it is missing (tools/build_natmods, a few seconds); else go on with pow()."""
    from . import resources

    if os.environ.get("VERIWATT_SIM_NATMOD") == "0":
        return False
    mpy = resources.natmod_file("x64")
    if mpy.exists():
        return True
    ROOT = resources.checkout_root()
    script = ROOT / "tools" / "build_natmods" if ROOT is not None else None
    if script is None or not script.exists():
        stderr_note(
            "note: no vwcrypto natmod for the simulated meters; they use pow() and the month takes several times longer"
        )
        return False
    say("  building the vwcrypto natmod for the simulated meters (once): tools/build_natmods x64")
    log = ROOT / "build" / "natmod-demo.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    import subprocess

    with open(log, "w") as f:
        r = subprocess.run(["bash", str(script), "x64"], stdout=f, stderr=subprocess.STDOUT)
    if r.returncode != 0 or not mpy.exists():
        stderr_note(
            "note: could not build the natmod (see %s); the meters use pow() and the month "
            "takes several times longer" % log
        )
        return False
    return True


class Stall:
    """Progress watch: stalled(mark) is True once `mark` has not changed for `limit` seconds."""

    def __init__(self, limit: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._mark: Any = None
        self._since = clock()

    def stalled(self, mark: Any) -> bool:
        now = self._clock()
        if mark != self._mark:
            self._mark, self._since = mark, now
            return False
        return now - self._since > self.limit


def _quiet(msg: str) -> None:
    pass


def _clean(out: Path) -> None:
    """Files from an earlier run of the demo are replaced (new meters get new keys); the earlier
    run's meters are gone with their simulated flash, so are their admin files."""
    out.mkdir(parents=True, exist_ok=True)
    for name in ("veriwatt.db", "veriwatt.db-wal", "veriwatt.db-shm", "ledger.db", "ledger.db-wal", "ledger.db-shm"):
        try:
            (out / name).unlink()
        except FileNotFoundError:
            pass
    shutil.rmtree(out / "sim", ignore_errors=True)
    for f in list(out.glob("meter*.admin.json")) + list(out.glob("meter*.secret.json")):
        f.unlink()


def _supplier(out: Path) -> Tuple[Any, Any]:
    """2. The supplier's key and its two signed tariffs, through the API as `veriwatt keygen` and
    `veriwatt tariff sign` do; loaded back under the supplier's public key."""
    from . import tariff

    api.keygen(str(out / "supplier"), name="Example Energy Ltd", force=True)
    spub = str(out / "supplier.pub.json")
    for kind, name in (("tariff", "tariff.json"), ("index", "settlement-index.json")):
        jsonio.write(str(out / name), tariff.example(kind))
        api.sign_tariff(str(out / name), str(out / "supplier.key.json"))
    return api.load_tariff(str(out / "tariff.json"), spub), api.load_tariff(str(out / "settlement-index.json"), spub)


def _provision(
    sim: Any, out: Path, a: int, noise: float, links: List[Any], relays: List[Any], say: Say
) -> List[Dict[str, Any]]:
    """3. Provision every simulated meter over serial; the clock starts two half-hours before the month."""
    from . import device, serial_client, slots

    ports, new_relays = device.sim_ports(sim, noise, seed=1)
    relays += new_relays
    meters = []
    for p in ports:
        i = p["index"]
        link = serial_client.MeterLink(p["port"], timeout=5.0, retries=8, name="meter %d (%s)" % (i, p["port"]))
        links.append(link)
        res = device.provision(
            link,
            ("VWDEMO%02d" % i).encode(),
            str(out),
            (a - 2) * slots.SLOT_SECONDS,
            name="meter" if i == 0 else "meter%d" % i,
        )
        meters.append(res)
        say(
            "  provisioned meter %d on %s: id %s, key %s, customer code %s"
            % (i, p["port"], res["meter_id"], res["key_id"], res["customer_code"])
        )
    return meters


def _fetch_month(
    sim: Any,
    links: List[Any],
    meters: List[Dict[str, Any]],
    st: Any,
    a: int,
    b: int,
    out: Path,
    stall: float,
    progress: Optional[Callable[[int, int], None]],
) -> List[Dict[str, Any]]:
    """4. A month passes on the meters; fetch (acknowledged) as it goes until every reading is stored.
    No wall-clock deadline: waits as long as readings arrive or a meter certifies a slot."""
    from . import records, serial_client

    checkers = []
    for res in meters:
        st.add_meter(res["meter_id"], res["pub"], {"demo": True})
        checkers.append(records.Checker.from_pub(res["pub"]))
    need = (b - a) * len(meters)
    stats = [dict(added=0, rx_bytes=0, tx_bytes=0, bad_frames=0, retries=0, seconds=0.0) for _ in meters]
    watch = Stall(stall)
    while True:
        have, marks = 0, []
        for i, (link, res) in enumerate(zip(links, meters)):
            info = link.hello()
            marks.append(info["last_slot"])
            if info["last_slot"] != 0xFFFFFFFF and info["last_slot"] >= a:
                link.info = info
                s = serial_client.fetch(
                    link,
                    st,
                    res["meter_id"],
                    checkers[i].check_raw,
                    to_slot=b,
                    batch=64,
                    customer_key=res["customer_key"],
                )
                stats[i]["added"] += s["added"]
                stats[i]["seconds"] += s["seconds"]
            have += len(st.records(res["meter_id"], a, b))
        if progress:
            progress(have, need)
        if have >= need:
            break
        dead = [m.index for m in sim.meters if m.proc.poll() is not None]
        if dead:
            raise DeviceError(
                "simulated meter %s exited before the month was complete (have %d of %d "
                "readings): see %s/sim/meter%d/stderr.log" % (dead[0], have, need, out, dead[0])
            )
        if watch.stalled((have, tuple(marks))):
            raise VeriwattError(
                "the simulated meters made no progress for %.0f s (have %d of %d readings, "
                "none new and no meter certified a slot): see %s/sim/meter*/stderr.log" % (watch.limit, have, need, out)
            )
        time.sleep(0.5)
    for i, link in enumerate(links):
        stats[i].update(
            rx_bytes=link.stats.rx_bytes,
            tx_bytes=link.stats.tx_bytes,
            bad_frames=link.stats.rejects,
            retries=link.stats.retries,
        )
    return stats


def _plain_day(st: Any, meters: List[Dict[str, Any]], a: int, b: int) -> Dict[str, Dict[int, int]]:
    """The decrypted readings of [a, b) of every meter (only this demo holds every customer key)."""
    from . import records

    plain = {}
    for res in meters:
        recs = [records.decode(raw) for _, raw in st.records(res["meter_id"], a, b)]
        plain[res["meter_id"]] = {r.slot: m for r, (m, _) in zip(recs, records.open_all(recs, res["customer_key"]))}
    return plain


def _feeder(plain: Dict[str, Dict[int, int]], a: int, b: int, rec_slot: int, absent: str) -> Dict[int, int]:
    """The feeder meter sees the whole group plus 2 % losses; at 19:00 someone bypasses a meter
    (900 Wh unaccounted for); in the recovered slot it sees the present meters only."""
    feed = {}
    for slot in range(a, b):
        present = [m for m in plain if slot != rec_slot or m != absent]
        feed[slot] = int(sum(plain[m][slot] for m in present) * 1.02) + (900 if slot == a + 38 else 0)
    return feed


def _aggregate_day(
    links: List[Any], meters: List[Dict[str, Any]], plain: Dict[str, Dict[int, int]], a: int, out: Path, say: Say
) -> Dict[str, Any]:
    """8. `veriwatt aggregate` through the API: enroll the running meters (each customer's consent:
    the demo holds every customer key), collect the first day's shares over serial with a feeder
    check, and recover slot a + 20 without the last meter (it is left out of that collection)."""
    b, rec_slot, absent = a + 48, a + 20, meters[-1]["meter_id"]
    codes = {m["meter_id"]: m["customer_key"] for m in meters}
    group = str(out / "group.json")
    if os.path.exists(group):
        os.unlink(group)
    e = api.enroll(links, "demo feeder", codes, out=group)
    feed = _feeder(plain, a, b, rec_slot, absent)
    runs = [
        api.collect(links, group, from_slot=a, to_slot=rec_slot, feeder=feed, tolerance=50, tolerance_rel=0.05),
        api.collect(
            links[:-1], group, from_slot=rec_slot, to_slot=rec_slot + 1, feeder=feed, tolerance=50, tolerance_rel=0.05
        ),
        api.collect(links, group, from_slot=rec_slot + 1, to_slot=b, feeder=feed, tolerance=50, tolerance_rel=0.05),
    ]
    rows = [r for run in runs for r in run["slots"]]
    fetch_s = sum(run["seconds"]["total"] for run in runs)
    say(
        "  aggregation: %d meters enrolled in %.2f s, %d shares fetched in %.2f s, slot %d recovered without meter %s"
        % (len(links), e["seconds"], sum(run["shares"] for run in runs), fetch_s, rec_slot, absent)
    )
    return {
        "gid": e["gid"],
        "a": a,
        "b": b,
        "rec_slot": rec_slot,
        "rows": rows,
        "members": e["members"],
        "enroll_s": e["seconds"],
        "fetch_s": fetch_s,
        "unresolved": [u for run in runs for u in run["unresolved"]] + [r for run in runs for r in run["rejected"]],
    }


def _check_aggregates(run: Dict[str, Any], plain: Dict[str, Dict[int, int]], out: Path) -> Dict[str, Any]:
    """The aggregator's sums against the plaintext of every meter's decrypted readings, and the feeder flags."""
    from . import slots

    a, b = run["a"], run["b"]
    if run["unresolved"] or [r["slot"] for r in run["rows"]] != list(range(a, b)):
        raise InvalidError("the aggregation left slots unresolved or rejected shares: %s" % run["unresolved"][:3])
    for r in run["rows"]:
        v = [plain[m][r["slot"]] for m in plain if m not in r["missing"]]
        n, s1, s2 = len(v), sum(v), sum(x * x for x in v)
        if (r["count"], r["sum_wh"], r["sum_sq"]) != (n, s1, s2) or abs(
            r["variance"] - float(Fraction(s2, n) - Fraction(s1, n) ** 2)
        ) > 1e-6 * max(1.0, r["variance"]):
            raise InvalidError(
                "aggregate of slot %d is wrong: %d/%d Wh from the shares, %d/%d Wh in plaintext"
                % (r["slot"], r["sum_wh"], r["count"], s1, n)
            )
        if r["slot"] == run["rec_slot"] and (len(r["missing"]) != 1 or r["count"] != len(plain) - 1):
            raise InvalidError("slot %d was not recovered without one meter" % r["slot"])
    flagged = [r["slot"] for r in run["rows"] if r["feeder"]["flagged"]]
    jsonio.write(
        str(out / "aggregate.json"),
        {
            "format": "veriwatt-aggregate/1",
            "gid": run["gid"],
            "label": "demo feeder",
            "period": [a, b],
            "members": run["members"],
            "slots": run["rows"],
            "feeder_flagged": flagged,
            "checked_against_plaintext": True,
        },
    )
    ex = [run["rows"][i] for i in (0, 19 * 2 - 2, run["rec_slot"] - a)]
    return {
        "gid": run["gid"],
        "members": run["members"],
        "slots": b - a,
        "day": slots.slot_start(a).strftime("%Y-%m-%d"),
        "enroll_s": round(run["enroll_s"], 3),
        "fetch_s": round(run["fetch_s"], 3),
        "recovered_slot": run["rec_slot"],
        "feeder_flagged": flagged,
        "file": str(out / "aggregate.json"),
        "examples": [{k: e[k] for k in ("slot", "count", "sum_wh", "mean_wh", "variance", "missing")} for e in ex],
    }


def _on_meters(
    out: Path,
    n: int,
    a: int,
    b: int,
    noise: float,
    stall: float,
    say: Say,
    progress: Optional[Callable[[int, int], None]],
    timings: Dict[str, float],
) -> Tuple[Any, Any, Any]:
    """1 + 3 + 4 + 8a: start and provision the meters, a month of readings fetched into the store,
    then the aggregation over serial while the meters still run. Returns (meters, fetch stats, aggregation run)."""
    from . import device
    from .store import Store

    t0 = time.monotonic()
    ensure_natmod(say)
    sim = device.start_sim(n, str(out / "sim"), SPEED, "none")
    links: List[Any] = []
    relays: List[Any] = []
    try:
        meters = _provision(sim, out, a, noise, links, relays, say)
        timings["start_and_provision_s"] = time.monotonic() - t0
        t0 = time.monotonic()
        with Store(str(out / "veriwatt.db")) as st:
            stats = _fetch_month(sim, links, meters, st, a, b, out, stall, progress)
            timings["month_and_fetch_s"] = time.monotonic() - t0
            plain = _plain_day(st, meters, a, a + 48)
        t0 = time.monotonic()
        agg_run = _aggregate_day(links, meters, plain, a, out, say)
        agg_run["plain"] = plain
        timings["aggregation_s"] = time.monotonic() - t0
    finally:
        for link in links:
            link.close()
        for r in relays:
            r.stop()
        sim.stop()
    return meters, stats, agg_run


def _customer(out: Path, meters: List[Dict[str, Any]], month: str, T: Any, timings: Dict[str, float]) -> Dict[str, Any]:
    """5 + 6. Verify every meter's month (api.verify), then the customer of meter 0 bills it through
    the API (api.bill: bill, settlement, total; api.disclose), the other meters bill too; and a plot."""
    store = str(out / "veriwatt.db")
    t0 = time.monotonic()
    for m in meters:
        v = api.verify(store, month, T.tzname, meter=m["meter_id"])
        if not v["valid"]:
            raise InvalidError("meter %s: %s" % (m["meter_id"], v["problems"][:3]))
    timings["verify_s"] = time.monotonic() - t0
    m0, spub = meters[0], str(out / "supplier.pub.json")
    t0 = time.monotonic()
    B = api.bill(
        store,
        month,
        m0["customer_key"],
        str(out / "tariff.json"),
        spub,
        out=str(out / "bill.json"),
        meter=m0["meter_id"],
    )
    timings["bill_s"] = time.monotonic() - t0
    S = api.bill(
        store,
        month,
        m0["customer_key"],
        str(out / "settlement-index.json"),
        spub,
        out=str(out / "settlement.json"),
        meter=m0["meter_id"],
    )
    TT = api.bill(store, month, m0["customer_key"], total=True, out=str(out / "total.json"), meter=m0["meter_id"])
    for i, m in enumerate(meters[1:], 1):
        api.bill(
            store,
            month,
            m["customer_key"],
            str(out / "tariff.json"),
            spub,
            out=str(out / ("bill-meter%d.json" % i)),
            meter=m["meter_id"],
        )
    rd = api.readings(store, month, m0["customer_key"], T.tzname, meter=m0["meter_id"])["readings"]
    peak = [r["slot"] for r in rd if T.band(r["slot"]).name == "peak"][:2]
    api.disclose(
        peak,
        store,
        m0["customer_key"],
        str(out / "disclosure.json"),
        "two peak half-hours, disclosed with consent",
        meter=m0["meter_id"],
    )
    return {
        "bill": B,
        "settlement": S,
        "total": TT,
        "peak": peak,
        "readings": rd,
        "plot": _plot(out, rd, T, m0, month),
        "tariff_name": T.name,
    }


def _plot(out: Path, rd: List[Dict[str, Any]], T: Any, m0: Dict[str, Any], month: str) -> Optional[str]:
    try:
        from . import plot

        plot.plot_consumption(
            [r["slot"] for r in rd[: 7 * 48]],
            [r["wh"] for r in rd[: 7 * 48]],
            T,
            str(out / "consumption.png"),
            "meter %s, first week of %s" % (m0["meter_id"], month),
        )
        return str(out / "consumption.png")
    except VeriwattError:
        return None


def _supplier_checks(out: Path, timings: Dict[str, float]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """7. The supplier, from the files alone, exactly as `veriwatt verify-bill` and `veriwatt ledger
    record`: the month is billed once. The settlement, the total and the disclosure check too."""
    f = {
        k: str(out / k)
        for k in (
            "bill.json",
            "tariff.json",
            "meter.pub.json",
            "supplier.pub.json",
            "settlement.json",
            "settlement-index.json",
            "total.json",
            "disclosure.json",
        )
    }
    t0 = time.monotonic()
    rep = api.verify_bill(f["bill.json"], f["meter.pub.json"], f["tariff.json"], f["supplier.pub.json"])
    timings["supplier_verify_s"] = time.monotonic() - t0
    row = api.ledger_record(
        f["bill.json"], str(out / "ledger.db"), f["tariff.json"], f["supplier.pub.json"], f["meter.pub.json"]
    )
    api.verify_bill(f["settlement.json"], f["meter.pub.json"], f["settlement-index.json"], f["supplier.pub.json"])
    api.verify_bill(f["total.json"], f["meter.pub.json"], total=True)
    api.verify_disclosure(f["disclosure.json"], f["meter.pub.json"])
    return rep, row


def run(
    out_dir: str = "out/demo",
    n_meters: int = 3,
    month: str = "2026-12",
    noise: float = 0.0,
    stall: float = STALL_S,
    say: Optional[Say] = None,
    progress: Optional[Callable[[int, int], None]] = None,
    serve_port: Optional[int] = None,
    report: Optional[Callable[[Dict[str, Any]], None]] = None,
) -> Dict[str, Any]:
    """The main job on simulated meters, end to end, through the library API (module docstring);
    say(line) reports each step, progress(readings stored, readings of the month) the fetch.
    The web step feeds the supplier's service the month over HTTP; report(summary) is called
    with the summary, and then, with serve_port, the service stays up on that port until Ctrl-C.
    Returns the summary (also written to OUT/summary.json)."""
    from . import slots

    say = say or _quiet
    if not stall > 0:
        raise VeriwattError("--stall must be a positive number of seconds")
    t_all = time.monotonic()
    if n_meters < AGG_MIN_METERS:
        say(
            "  (%d meters: the aggregation step needs %d, so %d simulated meters are started)"
            % (n_meters, AGG_MIN_METERS, AGG_MIN_METERS)
        )
        n_meters = AGG_MIN_METERS
    out = Path(out_dir)
    _clean(out)
    timings: Dict[str, float] = {}
    t0 = time.monotonic()
    T, TI = _supplier(out)
    a, b = slots.month_range(month, T.tzname)
    timings["supplier_keys_and_tariff_s"] = time.monotonic() - t0
    say(
        "veriwatt demo: %d simulated meters, billing %s (%s) under %r" % (n_meters, month, slots.describe(a, b), T.name)
    )
    meters, stats, agg_run = _on_meters(out, n_meters, a, b, noise, stall, say, progress, timings)
    c = _customer(out, meters, month, T, timings)
    rep, row = _supplier_checks(out, timings)
    t0 = time.monotonic()
    agg_summary = _check_aggregates(agg_run, agg_run.pop("plain"), out)
    timings["aggregation_check_s"] = time.monotonic() - t0
    timings["total_s"] = time.monotonic() - t_all
    summary = _summary(out, month, meters, stats, c, rep, row, TI, agg_summary, timings, b - a)
    summary["web"] = _web_step(out, meters, say)
    jsonio.write(str(out / "summary.json"), summary)
    if report is not None:
        report(summary)
    if serve_port is not None:
        _web_step(out, meters, say, serve_port)
    return summary


def _summary(
    out: Path,
    month: str,
    meters: List[Dict[str, Any]],
    stats: List[Dict[str, Any]],
    c: Dict[str, Any],
    rep: Dict[str, Any],
    row: Dict[str, Any],
    TI: Any,
    agg_summary: Dict[str, Any],
    timings: Dict[str, float],
    n_slots: int,
) -> Dict[str, Any]:
    B, S, TT = c["bill"], c["settlement"], c["total"]
    return {
        "month": month,
        "period": B["period"],
        "meters": [
            {"meter_id": r["meter_id"], "key_id": r["key_id"], "readings": n_slots, **stats[i]}
            for i, r in enumerate(meters)
        ],
        "bill": {
            "file": str(out / "bill.json"),
            "total": B["total"],
            "amount": B["amount"],
            "kwh": sum(r["wh"] for r in c["readings"]) / 1000,
            "tariff_digest": B["tariff_digest"],
            "supplier_check": rep["valid"],
            "tariff_name": c["tariff_name"],
        },
        "ledger": {
            "file": str(out / "ledger.db"),
            "meter_id": row["meter_id"],
            "charge": row["charge"],
            "cycle": row["cycle"],
            "bill_digest": row["bill_digest"],
        },
        "settlement": {"file": str(out / "settlement.json"), "total": S["total"], "amount": TI.amount(S["total"])},
        "total_wh": TT["total"],
        "disclosed_slots": c["peak"],
        "plot": c["plot"],
        "aggregation": agg_summary,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "reverify": _reverify(out),
    }


def report_lines(s: Dict[str, Any]) -> List[str]:
    """The demo's closing text report from its summary."""
    out = Path(s["bill"]["file"]).parent
    t, ag, n = s["timings_s"], s["aggregation"], s["period"]["end_slot"] - s["period"]["start_slot"]
    lines = [
        "",
        "  readings   %d meters x %d half-hours fetched over serial (%d bytes received, %d bad frames dropped), "
        "every signature valid, month complete"
        % (len(s["meters"]), n, sum(m["rx_bytes"] for m in s["meters"]), sum(m["bad_frames"] for m in s["meters"])),
        "  bill       meter %s: %.1f kWh, %s under %r (%s)"
        % (
            s["meters"][0]["meter_id"],
            s["bill"]["kwh"],
            s["bill"]["amount"],
            s["bill"]["tariff_name"],
            s["bill"]["file"],
        ),
        "  supplier   bill VALID: %d signatures, completeness and prod(C_t^price_t) == g^bill h^R checked in %.2f s"
        % (n, t["supplier_verify_s"]),
        "  ledger     cycle %s of meter %s recorded in %s (a second bill for it would be refused)"
        % (s["ledger"]["cycle"], s["ledger"]["meter_id"], s["ledger"]["file"]),
        "  also       settlement %s, total %d Wh, %d slots disclosed%s"
        % (
            s["settlement"]["amount"],
            s["total_wh"],
            len(s["disclosed_slots"]),
            ", plot %s" % s["plot"] if s["plot"] else "",
        ),
        "  aggregate  %d meters enrolled in group %s; %d half-hours of %s aggregated over serial, sum, mean and "
        "variance equal to the plaintext ones" % (ag["members"], ag["gid"][:12], ag["slots"], ag["day"]),
    ]
    lines += [
        "             slot %d: n=%d sum %d Wh, mean %.1f Wh, variance %.1f%s"
        % (
            r["slot"],
            r["count"],
            r["sum_wh"],
            r["mean_wh"],
            r["variance"],
            " (recovered without meter %s)" % ",".join(r["missing"]) if r["missing"] else "",
        )
        for r in ag["examples"]
    ]
    lines += [
        "             feeder check: %d of %d slots flagged %s (%s)"
        % (len(ag["feeder_flagged"]), ag["slots"], ag["feeder_flagged"], ag["file"]),
        "  time       %.1f s in all (month on the meters + fetch %.1f s, bill %.2f s)"
        % (t["total_s"], t["month_and_fetch_s"], t["bill_s"]),
        "",
        "re-verify as the supplier would:",
        "  " + _reverify(out),
    ]
    return lines


def _web_step(out: Path, meters: List[Dict[str, Any]], say: Say, port: Optional[int] = None) -> Any:
    """The supplier's web service on the demo month (veriwatt.webdemo; docs/WEB.md): started,
    fed over HTTP and stopped; with a port (demo --serve) kept up on it until Ctrl-C."""
    from . import webdemo

    if not webdemo.available():
        say("  web        skipped: the web extras are not installed (pip install 'veriwatt[web]')")
        return None
    return webdemo.run(out, meters, serve=port is not None, port=port or 0, say=say)


def _reverify(out: Path) -> str:
    """The command a supplier runs: the tariff must be signed by the supplier key they trust
    (here the demo's own supplier.pub.json; normally added once with `veriwatt trust add`)."""
    return "veriwatt verify-bill %s --tariff %s --meter-key %s --supplier-key %s" % (
        out / "bill.json",
        out / "tariff.json",
        out / "meter.pub.json",
        out / "supplier.pub.json",
    )
