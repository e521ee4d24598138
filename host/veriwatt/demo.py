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

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

from .errors import EXIT_INVALID, EXIT_OK, DeviceError, InvalidError, VeriwattError

SPEED = 300000  # simulated seconds per second: a month of half hours passes in about 9 s
# The month is not bounded by the wall clock: what takes the time is CPU, the meters
# certifying 1488 slots each (a Pedersen commitment and a Schnorr signature per slot, about
# 10 ms in MicroPython with the vwcrypto natmod, 50 ms with pow()) and the host checking each
# reading's signature as it fetches (about 3 ms): some 60 CPU-seconds for 3 meters, 45 s on two
# idle cores, several minutes on a loaded machine.  The demo waits as long as readings arrive
# or a meter certifies a slot, and gives up after STALL_S seconds without either.
STALL_S = 120.0
AGG_MIN_METERS = 3  # aggregation over 2 meters would tell each one the other's reading


def ensure_natmod(quiet: bool) -> bool:
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
        print("veriwatt: note: no vwcrypto natmod for the simulated meters; they use pow() and the month "
              "takes several times longer", file=sys.stderr)
        return False
    _say("  building the vwcrypto natmod for the simulated meters (once): tools/build_natmods x64", quiet)
    log = ROOT / "build" / "natmod-demo.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    import subprocess
    with open(log, "w") as f:
        r = subprocess.run(["bash", str(script), "x64"], stdout=f, stderr=subprocess.STDOUT)
    if r.returncode != 0 or not mpy.exists():
        print("veriwatt: note: could not build the natmod (see %s); the meters use pow() and the month "
              "takes several times longer" % log, file=sys.stderr)
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


def _say(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, flush=True)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the main job on simulated meters (no hardware needed): provision, a month of readings,
    fetch over serial, verify, bill with proof, and the supplier's check of the bill."""
    from . import bill, device, keys, ledger, records, serial_client, slots, tariff, verify
    from .progress import Progress
    from .store import Store

    quiet = bool(args.json)
    if not getattr(args, "stall", STALL_S) > 0:
        raise VeriwattError("--stall must be a positive number of seconds")
    t_all = time.monotonic()
    if args.meters < AGG_MIN_METERS:
        _say("  (%d meters: the aggregation step needs %d, so %d simulated meters are started)"
             % (args.meters, AGG_MIN_METERS, AGG_MIN_METERS), quiet)
        args.meters = AGG_MIN_METERS
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    timings: Dict[str, float] = {}
    # files from an earlier run of the demo are replaced (new meters get new keys)
    for name in ("veriwatt.db", "veriwatt.db-wal", "veriwatt.db-shm", "ledger.db", "ledger.db-wal", "ledger.db-shm"):
        try:
            (out / name).unlink()
        except FileNotFoundError:
            pass
    shutil.rmtree(out / "sim", ignore_errors=True)
    # the earlier run's meters are gone with their simulated flash: so are their admin files
    # (provision never overwrites an admin file); old-format secret files are removed too
    for f in list(out.glob("meter*.admin.json")) + list(out.glob("meter*.secret.json")):
        f.unlink()

    # 2. supplier: key and signed tariffs
    t0 = time.monotonic()
    sk = keys.new_supplier_key(name="Example Energy Ltd")
    tariff.write_json(str(out / "supplier.key.json"), sk, private=True)
    spub = keys.public(sk)
    tariff.write_json(str(out / "supplier.pub.json"), spub)
    signed = tariff.sign(tariff.example("tariff"), sk)
    signed["supplier_key"] = spub
    tariff.write_json(str(out / "tariff.json"), signed)
    sidx = tariff.sign(tariff.example("index"), sk)
    sidx["supplier_key"] = spub
    tariff.write_json(str(out / "settlement-index.json"), sidx)
    T = tariff.parse_signed(signed, spub)
    TI = tariff.parse_signed(sidx, spub)
    a, b = slots.month_range(args.month, T.tzname)
    timings["supplier_keys_and_tariff_s"] = time.monotonic() - t0
    _say("veriwatt demo: %d simulated meters, billing %s (%s) under %r" % (args.meters, args.month, slots.describe(a, b), T.name), quiet)

    # 1 + 3. meters: start and provision
    t0 = time.monotonic()
    ensure_natmod(quiet)
    sim = device.start_sim(args.meters, str(out / "sim"), SPEED, "none")
    relays: List[Any] = []
    links: List[serial_client.MeterLink] = []
    try:
        from .ptyrelay import PtyRelay
        meters = []
        for m in sim.meters:
            port = m.port
            if args.noise:
                r = PtyRelay(m.port, noise=args.noise, seed=m.index + 1).start()
                relays.append(r)
                port = r.path
            link = serial_client.MeterLink(port, timeout=5.0, retries=8, name="meter %d (%s)" % (m.index, port))
            links.append(link)
            name = "meter" if m.index == 0 else "meter%d" % m.index
            mid = ("VWDEMO%02d" % m.index).encode()
            # the clock starts two half-hours before the month, so that its first slot is whole
            res = device.provision(link, mid, str(out), (a - 2) * slots.SLOT_SECONDS, name=name)
            meters.append(res)
            _say("  provisioned meter %d on %s: id %s, key %s, customer code %s"
                 % (m.index, port, res["meter_id"], res["key_id"], res["customer_code"]), quiet)
        timings["start_and_provision_s"] = time.monotonic() - t0

        # 4. a month passes; fetch as it goes
        t0 = time.monotonic()
        st = Store(str(out / "veriwatt.db"))
        checkers = []
        for res in meters:
            st.add_meter(res["meter_id"], res["pub"], {"demo": True})
            checkers.append(records.Checker.from_pub(res["pub"]))
        need = (b - a) * len(meters)
        bar = Progress(need, "  readings fetched", enabled=None if not quiet else False, milestones=not quiet)
        fetch_stats = [dict(added=0, rx_bytes=0, tx_bytes=0, bad_frames=0, retries=0, seconds=0.0) for _ in meters]
        watch = Stall(getattr(args, "stall", STALL_S))
        while True:
            have, marks = 0, []
            for i, (link, res) in enumerate(zip(links, meters)):
                info = link.hello()
                marks.append(info["last_slot"])
                if info["last_slot"] != 0xFFFFFFFF and info["last_slot"] >= a:
                    link.info = info
                    s = serial_client.fetch(link, st, res["meter_id"], checkers[i].check_raw, to_slot=b, batch=64,
                                              customer_key=res["customer_key"])
                    fs = fetch_stats[i]
                    fs["added"] += s["added"]
                    fs["seconds"] += s["seconds"]
                have += len(st.records(res["meter_id"], a, b))
            bar.update(have - bar.done)
            if have >= need:
                break
            dead = [m.index for m in sim.meters if m.proc.poll() is not None]
            if dead:
                raise DeviceError("simulated meter %s exited before the month was complete (have %d of %d "
                                  "readings): see %s/sim/meter%d/stderr.log" % (dead[0], have, need, out, dead[0]))
            if watch.stalled((have, tuple(marks))):
                raise VeriwattError("the simulated meters made no progress for %.0f s (have %d of %d readings, "
                                    "none new and no meter certified a slot): see %s/sim/meter*/stderr.log"
                                    % (watch.limit, have, need, out))
            time.sleep(0.5)
        bar.close()
        for i, link in enumerate(links):
            fetch_stats[i].update(rx_bytes=link.stats.rx_bytes, tx_bytes=link.stats.tx_bytes,
                                  bad_frames=link.stats.rejects, retries=link.stats.retries)
        timings["month_and_fetch_s"] = time.monotonic() - t0

        # 8a. aggregation over serial while the meters run: enroll, a day of shares, recovery
        t0 = time.monotonic()
        agg_run = _aggregate_day(links, [m["customer_key"] for m in meters], a, out, quiet)
        timings["aggregation_s"] = time.monotonic() - t0
    finally:
        for link in links:
            link.close()
        for r in relays:
            r.stop()
        sim.stop()

    # 5. verify the month of every meter
    t0 = time.monotonic()
    per_meter = []
    for i, res in enumerate(meters):
        recs = [records.decode(raw) for _, raw in st.records(res["meter_id"], a, b)]
        probs = verify.check_period([(r.slot, r.C, r.e, r.s) for r in recs], a, b, checkers[i])
        if probs:
            raise InvalidError("meter %s: %s" % (res["meter_id"], verify.summary(probs)))
        per_meter.append(recs)
    timings["verify_s"] = time.monotonic() - t0

    # 6. the customer of meter 0 bills the month (and settles, totals, discloses, plots)
    t0 = time.monotonic()
    res0, recs0 = meters[0], per_meter[0]
    ops0 = records.open_all(recs0, res0["customer_key"])
    B = bill.make_bill(recs0, ops0, T, a, b, res0["pub"])
    tariff.write_json(str(out / "bill.json"), B)
    timings["bill_s"] = time.monotonic() - t0
    S = bill.make_bill(recs0, ops0, TI, a, b, res0["pub"])
    tariff.write_json(str(out / "settlement.json"), S)
    TT = bill.make_bill(recs0, ops0, None, a, b, res0["pub"])
    tariff.write_json(str(out / "total.json"), TT)
    peak = [r.slot for r in recs0 if T.band(r.slot).name == "peak"][:2]
    D = bill.make_disclosure(recs0, ops0, peak, res0["pub"], "two peak half-hours, disclosed with consent")
    tariff.write_json(str(out / "disclosure.json"), D)
    for i in range(1, len(meters)):
        ops = records.open_all(per_meter[i], meters[i]["customer_key"])
        tariff.write_json(str(out / ("bill-meter%d.json" % i)), bill.make_bill(per_meter[i], ops, T, a, b, meters[i]["pub"]))
    plot_file = None
    try:
        from . import plot
        plot.plot_consumption([r.slot for r in recs0[:7 * 48]], [m for m, _ in ops0[:7 * 48]], T,
                              str(out / "consumption.png"), "meter %s, first week of %s" % (res0["meter_id"], args.month))
        plot_file = str(out / "consumption.png")
    except VeriwattError:
        pass

    # 7. the supplier: only the files, like `veriwatt verify-bill`
    t0 = time.monotonic()
    Bf = tariff.load_json(str(out / "bill.json"), "bill")
    Tf = tariff.load_signed(str(out / "tariff.json"), keys.load_public(str(out / "supplier.pub.json"), "supplier"))
    Pf = keys.load_public(str(out / "meter.pub.json"), "meter")
    rep = bill.verify_bill(Bf, Tf, Pf)
    timings["supplier_verify_s"] = time.monotonic() - t0
    with ledger.Ledger(str(out / "ledger.db")) as L:  # like `veriwatt ledger record`: the month is billed once
        lrow = L.record(Bf, (out / "bill.json").read_bytes(), Tf)
    bill.verify_bill(tariff.load_json(str(out / "settlement.json"), "bill"), TI, Pf)
    bill.verify_bill(tariff.load_json(str(out / "total.json"), "bill"), None, Pf)  # a total: no tariff
    bill.verify_disclosure(D, Pf)
    # 8b. the aggregates against the plaintext statistics of the decrypted readings
    t0 = time.monotonic()
    agg_summary = _check_aggregates(agg_run, meters, per_meter, out)
    timings["aggregation_check_s"] = time.monotonic() - t0
    timings["total_s"] = time.monotonic() - t_all
    st.close()

    kwh = sum(m for m, _ in ops0) / 1000
    wire_rx = sum(f["rx_bytes"] for f in fetch_stats)
    summary = {
        "month": args.month, "period": B["period"], "meters": [
            {"meter_id": r["meter_id"], "key_id": r["key_id"], "readings": len(per_meter[i]), **fetch_stats[i]}
            for i, r in enumerate(meters)],
        "bill": {"file": str(out / "bill.json"), "total": B["total"], "amount": B["amount"], "kwh": kwh,
                 "tariff_digest": B["tariff"]["digest"], "supplier_check": rep["valid"]},
        "ledger": {"file": str(out / "ledger.db"), "meter_id": lrow["meter_id"], "charge": lrow["charge"],
                   "cycle": lrow["cycle"], "bill_digest": lrow["bill_digest"]},
        "settlement": {"file": str(out / "settlement.json"), "total": S["total"], "amount": TI.amount(S["total"])},
        "total_wh": TT["total"], "disclosed_slots": peak, "plot": plot_file,
        "aggregation": agg_summary,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "reverify": _reverify(out),
    }
    summary["web"] = _web_step(args, out, meters, quiet, serve=False)
    tariff.write_json(str(out / "summary.json"), summary)
    if args.json:
        print(json.dumps(summary, indent=1))
        return EXIT_OK if rep["valid"] else EXIT_INVALID
    print("")
    print("  readings   %d meters x %d half-hours fetched over serial (%d bytes received, %d bad frames dropped), "
          "every signature valid, month complete" % (len(meters), b - a, wire_rx, sum(f["bad_frames"] for f in fetch_stats)))
    print("  bill       meter %s: %.1f kWh, %s under %r (%s)" % (res0["meter_id"], kwh, B["amount"], T.name, out / "bill.json"))
    print("  supplier   bill VALID: %d signatures, completeness and prod(C_t^price_t) == g^bill h^R checked in %.2f s"
          % (b - a, timings["supplier_verify_s"]))
    print("  ledger     cycle %s of meter %s recorded in %s (a second bill for it would be refused)"
          % (lrow["cycle"], lrow["meter_id"], out / "ledger.db"))
    print("  also       settlement %s, total %d Wh, %d slots disclosed%s" % (
        TI.amount(S["total"]), TT["total"], len(peak), ", plot %s" % plot_file if plot_file else ""))
    ag = agg_summary
    print("  aggregate  %d meters enrolled in group %s; %d half-hours of %s aggregated over serial, sum, mean and "
          "variance equal to the plaintext ones" % (ag["members"], ag["gid"][:12], ag["slots"], ag["day"]))
    for r in ag["examples"]:
        print("             slot %d: n=%d sum %d Wh, mean %.1f Wh, variance %.1f%s" % (
            r["slot"], r["count"], r["sum_wh"], r["mean_wh"], r["variance"],
            " (recovered without meter %s)" % ",".join(r["missing"]) if r["missing"] else ""))
    print("             feeder check: %d of %d slots flagged %s (%s)" % (
        len(ag["feeder_flagged"]), ag["slots"], ag["feeder_flagged"], out / "aggregate.json"))
    print("  time       %.1f s in all (month on the meters + fetch %.1f s, bill %.2f s)" % (
        timings["total_s"], timings["month_and_fetch_s"], timings["bill_s"]))
    print("")
    print("re-verify as the supplier would:")
    print("  " + _reverify(out))
    if shutil.which("veriwatt") is None:
        print("  (veriwatt is %s)" % (Path(sys.executable).parent / "veriwatt"))
    if getattr(args, "serve", False):
        _web_step(args, out, meters, quiet, serve=True)
    return EXIT_OK if rep["valid"] else EXIT_INVALID


def _web_step(args: argparse.Namespace, out: Path, meters: List[Dict[str, Any]], quiet: bool, serve: bool) -> Any:
    """The supplier's web service on the demo month (veriwatt.webdemo; docs/WEB.md): started,
    fed over HTTP and stopped; with serve (demo --serve) kept up until Ctrl-C."""
    from . import webdemo

    if not webdemo.available():
        _say("  web        skipped: the web extras are not installed (pip install 'veriwatt[web]')", quiet)
        return None
    return webdemo.run(out, meters, serve=serve, port=getattr(args, "port", 8080), say=lambda m: _say(m, quiet and not serve))


def _reverify(out: Path) -> str:
    """The command a supplier runs: the tariff must be signed by the supplier key they trust
    (here the demo's own supplier.pub.json; normally added once with `veriwatt trust add`)."""
    return "veriwatt verify-bill %s --tariff %s --meter-key %s --supplier-key %s" % (
        out / "bill.json", out / "tariff.json", out / "meter.pub.json", out / "supplier.pub.json")


# ------------------------------------------------------------------ 8. aggregation
def _aggregate_day(links: List[Any], ckeys: List[bytes], a: int, out: Path, quiet: bool) -> Dict[str, Any]:
    """Enroll the running meters in one group (with each customer's consent: the demo holds
    every customer key), collect the first day's shares over serial, and recover one slot
    without the last meter, as `veriwatt aggregate` does: the recovered slot is decided before
    anything is fetched (a meter releases either its full share or one reduced share per slot)."""
    from vwcore import agg, group

    from .aggregation import Aggregator

    infos = [link.hello() for link in links]
    G = group.get(infos[0]["group_id"])
    members = [(i["meter_id"], i["agg_pub"]) for i in infos]
    label = b"demo feeder"
    x_agg = agg.secret_scalar(os.urandom(32), G)
    A = Aggregator(label, members, x_agg, G)
    t0 = time.monotonic()
    digest = agg.enroll_digest(agg.group_hash(label, members, A.pub, G), len(members), 0, 0)
    for link, info, ck in zip(links, infos, ckeys):
        tag = agg.enroll_tag(ck, info["meter_id"], link.hello()["challenge"], digest)
        r = link.agg_enroll(G.id, label, A.pub, members, 0, 0, tag)
        if r["gid"] != A.gid:
            raise InvalidError("%s enrolled in group %s, expected %s" % (link.name, r["gid"].hex(), A.gid.hex()))
    t_enroll = time.monotonic() - t0
    gfile = out / "group.json"
    gfile.write_text(json.dumps({"format": "veriwatt-agg-group/1", "label": label.decode(), "group": G.name,
                                 "gid": A.gid.hex(), "epsilon": 0, "sensitivity_wh": 0,
                                 "aggregator_pub": "%x" % A.pub, "aggregator_secret": "%x" % x_agg,
                                 "members": [{"meter_id": m.hex(), "agg_pub": "%x" % y} for m, y in members]}, indent=1))
    os.chmod(gfile, 0o600)
    b = a + 48
    t0 = time.monotonic()
    # slot a + 20: pretend the last meter is missing; the others send reduced shares for it
    rec_slot = a + 20
    shares = [link.agg_fetch(a, rec_slot) for link in links]
    missing = A.start_recovery(rec_slot, [members[-1][0]])
    for link in links[:-1]:
        A.add_recovery(link.agg_recover(rec_slot, missing))
    for i, link in enumerate(links):
        shares[i].update(link.agg_fetch(rec_slot + 1, b))
    t_fetch = time.monotonic() - t0
    for got in shares:
        for slot in sorted(got):
            A.add_share(got[slot])
    results = {slot: A.close(slot) for slot in range(a, b)}
    _say("  aggregation: %d meters enrolled in %.2f s, %d shares fetched in %.2f s, slot %d recovered without meter %s"
         % (len(links), t_enroll, sum(len(s) for s in shares), t_fetch, rec_slot, missing[0].hex()), quiet)
    return {"gid": A.gid.hex(), "a": a, "b": b, "rec_slot": rec_slot, "results": results,
            "enroll_s": t_enroll, "fetch_s": t_fetch, "members": len(members)}


def _check_aggregates(run: Dict[str, Any], meters: List[Dict[str, Any]], per_meter: List[Any], out: Path) -> Dict[str, Any]:
    """The aggregator's sums against the plaintext of every meter's decrypted readings (only this
    demo, which holds every customer code, can do that), and a feeder check."""
    from fractions import Fraction

    from . import records, slots
    from .aggregation import feeder_check

    a, b = run["a"], run["b"]
    plain: Dict[str, Dict[int, int]] = {}
    for res, recs in zip(meters, per_meter):
        day = [r for r in recs if a <= r.slot < b]
        plain[res["meter_id"]] = {r.slot: m for r, (m, _) in zip(day, records.open_all(day, res["customer_key"]))}
    rows, flagged = [], []
    for slot in range(a, b):
        r = run["results"][slot]
        ids = [m.hex() for m in r.members]
        v = [plain[i][slot] for i in ids]
        n, s1, s2 = len(v), sum(v), sum(x * x for x in v)
        if (r.count, r.total, r.total_sq) != (n, s1, s2) or r.variance != Fraction(s2, n) - Fraction(s1, n) ** 2:
            raise InvalidError("aggregate of slot %d is wrong: %d/%d Wh from the shares, %d/%d Wh in plaintext"
                               % (slot, r.total, r.count, s1, n))
        if slot == run["rec_slot"] and (len(r.missing) != 1 or r.count != len(meters) - 1):
            raise InvalidError("slot %d was not recovered without one meter" % slot)
        # the feeder meter sees the whole group plus 2 % losses; at 19:00 someone bypasses a meter
        whole = sum(plain[i][slot] for i in plain)
        feeder = int(whole * 1.02) + (900 if slot == a + 38 else 0)
        if slot == run["rec_slot"]:
            feeder = int(s1 * 1.02)      # the feeder of the recovered slot: the present meters only
        fc = feeder_check(r, feeder, tolerance_wh=50, tolerance_rel=0.05)
        if fc["flagged"]:
            flagged.append(slot)
        j = r.as_json()
        j["feeder"] = fc
        rows.append(j)
    doc = {"format": "veriwatt-aggregate/1", "gid": run["gid"], "label": "demo feeder", "period": [a, b],
           "members": run["members"], "slots": rows, "feeder_flagged": flagged,
           "checked_against_plaintext": True}
    (out / "aggregate.json").write_text(json.dumps(doc, indent=1) + "\n")
    ex = [rows[i] for i in (0, 19 * 2 - 2, run["rec_slot"] - a)]
    return {"gid": run["gid"], "members": run["members"], "slots": b - a, "day": slots.slot_start(a).strftime("%Y-%m-%d"),
            "enroll_s": round(run["enroll_s"], 3), "fetch_s": round(run["fetch_s"], 3),
            "recovered_slot": run["rec_slot"], "feeder_flagged": flagged, "file": str(out / "aggregate.json"),
            "examples": [{k: e[k] for k in ("slot", "count", "sum_wh", "mean_wh", "variance", "missing")} for e in ex]}
