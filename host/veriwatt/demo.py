"""`veriwatt demo --out DIR`: the main job end to end on simulated meters, no hardware.

1. start N simulated meters (the real firmware on the unix MicroPython, each behind a pty);
2. the supplier makes a signing key and signs a time-of-use tariff (and a settlement index);
3. provision each meter over serial (keys, clock at the start of the month, customer code);
4. let a month of half hours pass on the accelerated clock, fetching over serial as it goes
   (resumable, acknowledged, CRC-checked frames);
5. verify every reading's signature and the month's completeness;
6. the customer bills the month with its proof (plus a settlement, a total and a plot);
7. the supplier verifies the bill from the files alone, exactly as `veriwatt verify-bill`.

Leaves in DIR: bill.json, tariff.json, meter.pub.json, supplier.pub.json, settlement.json,
total.json, disclosure.json, consumption.png (if matplotlib is there), summary.json, the
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
from typing import Any, Dict, List

from .errors import EXIT_INVALID, EXIT_OK, InvalidError, VeriwattError

SPEED = 300000  # simulated seconds per second: a month of half hours passes in about 9 s


def ensure_natmod(quiet: bool) -> bool:
    """The simulated meters certify about five times faster with the vwcrypto natmod: build it
    for x64 once if it is missing (tools/build_natmods, a few seconds), else go on with pow()."""
    from .device import ROOT

    if os.environ.get("VERIWATT_SIM_NATMOD") == "0":
        return False
    mpy = ROOT / "build" / "natmod" / "x64" / "vwcrypto.mpy"
    if mpy.exists():
        return True
    script = ROOT / "tools" / "build_natmods"
    if not script.exists():
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


def _say(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, flush=True)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the main job on simulated meters (no hardware needed): provision, a month of readings,
    fetch over serial, verify, bill with proof, and the supplier's check of the bill."""
    from . import bill, device, keys, records, serial_client, slots, tariff, verify
    from .progress import Progress
    from .store import Store

    quiet = bool(args.json)
    t_all = time.monotonic()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    timings: Dict[str, float] = {}
    # files from an earlier run of the demo are replaced (new meters get new keys)
    for name in ("veriwatt.db", "veriwatt.db-wal", "veriwatt.db-shm"):
        try:
            (out / name).unlink()
        except FileNotFoundError:
            pass
    shutil.rmtree(out / "sim", ignore_errors=True)

    # 2. supplier: key and signed tariffs
    t0 = time.monotonic()
    sk = keys.new_supplier_key(name="Example Energy Ltd")
    tariff.write_json(str(out / "supplier.key.json"), sk)
    os.chmod(out / "supplier.key.json", 0o600)
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
        deadline = time.monotonic() + max(120.0, (b - a) * 1800 / SPEED * 8)
        while True:
            have = 0
            for i, (link, res) in enumerate(zip(links, meters)):
                info = link.hello()
                if info["last_slot"] != 0xFFFFFFFF and info["last_slot"] >= a:
                    link.info = info
                    s = serial_client.fetch(link, st, res["meter_id"], checkers[i].check_raw, to_slot=b, batch=64)
                    fs = fetch_stats[i]
                    fs["added"] += s["added"]
                    fs["seconds"] += s["seconds"]
                have += len(st.records(res["meter_id"], a, b))
            bar.update(have - bar.done)
            if have >= need:
                break
            if time.monotonic() > deadline:
                raise VeriwattError("the simulated meters did not produce a month of readings in time "
                                    "(have %d of %d): see %s/sim/meter*/stderr.log" % (have, need, out))
            time.sleep(0.5)
        bar.close()
        for i, link in enumerate(links):
            fetch_stats[i].update(rx_bytes=link.stats.rx_bytes, tx_bytes=link.stats.tx_bytes,
                                  bad_frames=link.stats.rejects, retries=link.stats.retries)
        timings["month_and_fetch_s"] = time.monotonic() - t0
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
    bill.verify_bill(tariff.load_json(str(out / "settlement.json"), "bill"), TI, Pf)
    bill.verify_bill(tariff.load_json(str(out / "total.json"), "bill"), None, Pf)
    bill.verify_disclosure(D, Pf)
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
        "settlement": {"file": str(out / "settlement.json"), "total": S["total"], "amount": TI.amount(S["total"])},
        "total_wh": TT["total"], "disclosed_slots": peak, "plot": plot_file,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "reverify": "veriwatt verify-bill %s --tariff %s --meter-key %s" % (out / "bill.json", out / "tariff.json", out / "meter.pub.json"),
    }
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
    print("  also       settlement %s, total %d Wh, %d slots disclosed%s" % (
        TI.amount(S["total"]), TT["total"], len(peak), ", plot %s" % plot_file if plot_file else ""))
    print("  time       %.1f s in all (month on the meters + fetch %.1f s, bill %.2f s)" % (
        timings["total_s"], timings["month_and_fetch_s"], timings["bill_s"]))
    print("")
    print("re-verify as the supplier would:")
    print("  veriwatt verify-bill %s --tariff %s --meter-key %s" % (out / "bill.json", out / "tariff.json", out / "meter.pub.json"))
    if shutil.which("veriwatt") is None:
        print("  (veriwatt is %s)" % (Path(sys.executable).parent / "veriwatt"))
    return EXIT_OK if rep["valid"] else EXIT_INVALID
