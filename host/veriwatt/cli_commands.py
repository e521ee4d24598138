# SPDX-License-Identifier: MIT
"""The command table of the `veriwatt` CLI: thin handlers over veriwatt.api and the table.

A handler parses nothing itself (veriwatt.cli built the parser from COMMANDS), calls the
library, prints text or JSON and returns the exit code. Anything longer belongs in the library.
"""

from __future__ import annotations

import argparse
import getpass
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from . import api, computations_cli, meterbill_cli, scale_cli, web_cli
from .cli import Command, common, opt
from .cli_output import invalid, out
from .errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE, InvalidError, VeriwattError, stderr_note

A = argparse.Namespace


# ------------------------------------------------------------------ output helpers
def say(args: A, msg: str) -> None:
    if not getattr(args, "json", False):
        print(msg, flush=True)


def bar_for(label: str, args: A, milestones: bool = False) -> Any:
    """A stderr progress bar driven by the library's progress(done, total) callback."""
    from .progress import Progress

    bar = Progress(0, label, enabled=None if not getattr(args, "json", False) else False, milestones=milestones)

    def cb(done: int, total: int) -> None:
        bar.total = total
        if done > bar.done:
            bar.update(done - bar.done)

    bar.cb = cb
    return bar


def customer_key(args: A) -> bytes:
    """--code, $VERIWATT_CODE or --code-file; asked for on a terminal."""
    key = api.customer_key(getattr(args, "code", None), getattr(args, "code_file", None))
    if key is None and sys.stdin.isatty():
        from .records import customer_key as parse

        key = parse(getpass.getpass("customer code (from the meter label): "))
    return api._need_key(key)


def link_opts(args: A) -> Dict[str, Any]:
    return {"baud": args.baud, "timeout": args.timeout, "retries": args.retries}


def stored(args: A) -> Dict[str, Any]:
    return {"store": args.store, "meter_key": args.meter_key, "meter": args.meter}


# ------------------------------------------------------------------ crypto backend
def cmd_selftest(args: A) -> int:
    """Check the modexp backend against known answers and against Python's pow."""
    from . import selftest

    result = selftest.run(args.vectors, args.random, args.seed)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            "selftest: %s: %d checked, %d failed%s"
            % (
                result["backend"],
                result["checked"],
                result["failed"],
                "" if result["vectors"] else " (vector file not found; random cases only)",
            )
        )
    return EXIT_OK if result["failed"] == 0 else EXIT_INVALID


def cmd_bench(args: A) -> int:
    """Time the modexp backends in one run and print the ratios."""
    from . import bench

    result = bench.run(bits=args.bits, rounds=args.rounds)
    print(json.dumps(result, indent=2) if args.json else bench.report(result))
    return EXIT_OK


# ------------------------------------------------------------------ keys, trust, tariffs
def cmd_keygen(args: A) -> int:
    """Make a supplier signing key (for tariffs): writes NAME.key.json (keep private) and NAME.pub.json."""
    r = api.keygen(args.out, args.name or "", args.group, args.force)
    base = r["secret_key"][: -len(".key.json")]
    out(args, r, "wrote %s.key.json (private) and %s.pub.json (key id %s)" % (base, base, r["key_id"]))
    return EXIT_OK


def cmd_trust(args: A) -> int:
    """The trust store: supplier public keys whose signed tariffs verify-bill, bill, plot and
    tariff verify/show accept without --supplier-key. Stored in $VERIWATT_HOME/trust.json
    (default ~/.config/veriwatt/trust.json, mode 0600). A key inside a tariff file is never
    trusted: get your supplier's public key from them (their website, your contract) once.

      veriwatt trust add supplier.pub.json
      veriwatt trust list
      veriwatt trust remove KEYID"""
    from . import keys, trust

    if args.action == "list":
        ks = trust.load()
        out(
            args,
            {"file": str(trust.path()), "suppliers": ks},
            "\n".join(
                ["trust store %s: %d supplier key(s)" % (trust.path(), len(ks))]
                + ["  %s  %s (group %s)" % (k["key_id"], k.get("name", ""), k["group"]) for k in ks]
            ),
        )
        return EXIT_OK
    if not args.what:
        raise VeriwattError(
            "give %s: veriwatt trust %s %s"
            % (
                "the supplier's public key file" if args.action == "add" else "the key id",
                args.action,
                "supplier.pub.json" if args.action == "add" else "KEYID",
            )
        )
    if args.action == "add":
        pub = keys.load_public(args.what, "supplier")
        new = trust.add(pub)
        out(
            args,
            {"file": str(trust.path()), "key_id": pub["key_id"], "added": new},
            "%s supplier key %s %r (trust store %s)"
            % ("now trusting" if new else "already trusted:", pub["key_id"], pub.get("name", ""), trust.path()),
        )
        return EXIT_OK
    if not trust.remove(args.what):
        raise VeriwattError(
            "key %s is not in the trust store %s (veriwatt trust list)" % (args.what[:32], trust.path())
        )
    out(
        args,
        {"file": str(trust.path()), "key_id": args.what, "removed": True},
        "removed supplier key %s from %s" % (args.what, trust.path()),
    )
    return EXIT_OK


def cmd_tariff(args: A) -> int:
    """Tariffs of every kind: example, sign, verify, show (format: docs/TARIFF.md).

    Kinds: tariff (time-of-use prices), index (settlement), and the non-linear kinds whose bills
    carry a zero-knowledge proof (docs/ZK.md): step (price by each half-hour's block),
    cumulative (rising blocks over the period), threshold (demand-response limit in peak
    windows, penalty per excess Wh) and rebate (progressive reward for savings below a
    baseline). All are signed the same way with the supplier key from `veriwatt keygen`.

      veriwatt tariff example --kind step --out step.json
      veriwatt tariff sign step.json --key supplier.key.json
      veriwatt tariff show step.json --period 2026-12"""
    from . import jsonio, tariff

    if args.action == "example":
        body = tariff.example("index" if args.index else (args.kind or "tariff"))
        if not args.out:
            print(json.dumps(body, indent=1))
            return EXIT_OK
        jsonio.write(args.out, body)
        print(
            "wrote %s (unsigned): edit it, then `veriwatt tariff sign %s --key supplier.key.json`"
            % (args.out, args.out)
        )
        return EXIT_OK
    if not args.file:
        raise VeriwattError("give the tariff file: veriwatt tariff %s FILE" % args.action)
    if args.action == "sign":
        if not args.key:
            raise VeriwattError(
                "signing needs the supplier's secret key: --key supplier.key.json (make one with veriwatt keygen)"
            )
        r = api.sign_tariff(args.file, args.key, args.out)
        out(args, r, "signed %s -> %s (digest %s, supplier key %s)" % (args.file, r["file"], r["digest"], r["key_id"]))
        return EXIT_OK
    t = api.load_tariff(args.file, args.supplier_key)
    if args.action == "verify":
        kid = t.signed["signature"]["key_id"]
        src = "--supplier-key" if args.supplier_key else "your trust store"
        out(
            args,
            {"valid": True, "digest": t.digest(), "key_id": kid, "name": t.name},
            "tariff %s: valid signature by trusted supplier key %s (from %s); digest %s"
            % (args.file, kid, src, t.digest()),
        )
        return EXIT_OK
    res, lines = _tariff_summary(t, args.period)
    out(args, res, "\n".join(lines))
    return EXIT_OK


def _tariff_summary(t: Any, period: Optional[str]) -> Any:
    """`tariff show`: the tariff over a period (default: the cycle containing 2026-12-01, or the
    first listed period) and its billing cycle: (JSON object, text lines)."""
    from . import slots

    cyc = t.cycle
    tz = cyc.zone_name if cyc.kind == "calendar-month" else t.tzname
    a, b = (
        slots.parse_period(period, tz)
        if period
        else (cyc.periods[0] if cyc.kind == "periods" else slots.month_range("2026-12", tz))
    )
    res = {
        "name": t.name,
        "kind": t.kind,
        "digest": t.digest(),
        "timezone": t.tzname,
        "period": {"start_slot": a, "end_slot": b},
    }
    if not getattr(t, "linear", True):
        res["parameters"] = t.zk(a, b).body()
        lines = [
            "%s (%s, zero-knowledge proof), %s, digest %s" % (t.name, t.kind, t.tzname, t.digest()),
            slots.describe(a, b),
        ] + t.describe()
        if t.kind == "threshold":
            res["dr_slots"] = len(t.zk(a, b).slots)
            lines.append("  %d demand-response slot(s) in this period" % res["dr_slots"])
    else:
        bands: Dict[str, Dict[str, Any]] = {}
        for s in range(a, b):
            bd = t.band(s)
            bands.setdefault(bd.name, {"price": bd.price, "slots": 0})["slots"] += 1
        res["bands"] = bands
        lines = ["%s (%s), %s, digest %s" % (t.name, t.kind, t.tzname, t.digest()), slots.describe(a, b)]
        lines += ["  %-14s price %6d  %5d slots" % (k, v["price"], v["slots"]) for k, v in sorted(bands.items())]
    why = cyc.problem(a, b)
    res["cycle"] = cyc.as_json()
    res["period_is_cycle"] = why is None
    lines.append(
        "  billing cycle: %s; %s"
        % (
            cyc.text(),
            "this period is the cycle %s" % cyc.label(a, b)
            if why is None
            else "this period is NOT one cycle (a bill for it would be refused)",
        )
    )
    if cyc.kind == "periods":
        lines += ["    %s" % cyc.suggest(p0, p1) for p0, p1 in cyc.periods[:12]]
        if len(cyc.periods) > 12:
            lines.append("    ... %d more" % (len(cyc.periods) - 12))
    return res, lines


# ------------------------------------------------------------------ devices
def cmd_info(args: A) -> int:
    """Identify the meter on a serial port (HELLO -> INFO)."""
    from . import slots

    i = api.info(args.port, **link_opts(args))
    if args.json:
        print(json.dumps(i, indent=1, sort_keys=True))
        return EXIT_OK
    lines = [
        "meter on %s: firmware %s, protocol %d, group %d"
        % (args.port, i["fw_version"], i["proto_version"], i["group_id"])
    ]
    lines.append(
        "  meter id %s, key id %s" % (i["meter_id"], i.get("key_id"))
        if i["provisioned"]
        else "  not provisioned: run veriwatt provision %s" % args.port
    )
    lines.append(
        "  clock %s"
        % (time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(i["clock"])) if i["clock_set"] else "not set")
    )
    if i.get("clock_unverified"):
        lines.append(
            "  clock UNVERIFIED: set without the engineer's tag after the meter lost it; check it, then "
            "veriwatt set-clock %s --admin meter.admin.json" % args.port
        )
    if i["first_slot"] != 0xFFFFFFFF:
        lines.append(
            "  readings stored: %d of %d, slots %d..%d (%s .. %s), %d not acknowledged"
            % (
                i["used"],
                i["capacity"],
                i["first_slot"],
                i["last_slot"],
                slots.slot_start(i["first_slot"]).strftime("%Y-%m-%d %H:%M"),
                slots.slot_start(i["last_slot"]).strftime("%Y-%m-%d %H:%M"),
                i["unacked"],
            )
        )
    else:
        lines.append("  no readings stored (capacity %d)" % i["capacity"])
    print("\n".join(lines))
    return EXIT_OK


def cmd_provision(args: A) -> int:
    """Provision a meter: it makes its own keys; clock, customer code; writes meter.pub.json and meter.admin.json."""
    r = api.provision(
        args.port, args.out, args.meter_id, args.clock, args.group, args.name, args.save_code, **link_opts(args)
    )
    out(
        args,
        r,
        "provisioned meter %s on %s (key id %s); the meter made its own signing key\n"
        "  public key: %s (give to the supplier and the customer)\n"
        "  admin file: %s (reset / set-clock only; keep private)\n"
        "  customer code for the label: %s (shown once%s)\n"
        "  web access verifier: %s (for the supplier's service: veriwatt serve --register / web-register)"
        % (
            r["meter_id"],
            args.port,
            r["key_id"],
            r["public_key_file"],
            r["admin_file"],
            r["customer_code"],
            ", also in %s" % r["code_file"] if r["code_file"] else ": not stored on this computer",
            r["access_verifier"],
        ),
    )
    return EXIT_OK


def cmd_wait(args: A) -> int:
    """Wait until the meter has certified every slot of a period (HELLO -> INFO, polled): on a
    simulated meter a month passes in seconds, on a real one this waits for the period to end."""
    from . import slots

    r = api.wait(args.port, args.period, args.tz, args.max_wait, args.poll, **link_opts(args))
    print(
        "meter on %s has certified period %s (newest reading slot %d)"
        % (args.port, slots.describe(r["start_slot"], r["end_slot"]), r["last_slot"])
    )
    return EXIT_OK


def cmd_set_clock(args: A) -> int:
    """Set the meter's clock (UTC). On a provisioned meter the clock decides which slot, and so which
    price, a reading gets, so the meter only accepts a change with the engineer's admin file
    (--admin: an authenticated SET_CLOCK, challenge and tag as for reset), except a drift trim of
    at most 120 s (300 s in all since the meter booted) and, when the meter lost its clock (power
    cut on a board without battery-backed RTC), a time not before its newest reading, which INFO
    then flags as unverified until an authenticated set. An unprovisioned meter takes any clock."""
    r = api.set_clock(args.port, args.time, args.admin, **link_opts(args))
    fmt = "%Y-%m-%d %H:%M:%S UTC"
    out(
        args,
        r,
        "meter on %s: clock %s (was %s)%s%s"
        % (
            args.port,
            time.strftime(fmt, time.gmtime(r["clock"])),
            time.strftime(fmt, time.gmtime(r["previous"])) if r["previous"] is not None else "not set",
            ", authenticated" if r["authenticated"] else "",
            "; flagged UNVERIFIED until an authenticated set-clock (--admin)" if r["clock_unverified"] else "",
        ),
    )
    return EXIT_OK


def cmd_reset(args: A) -> int:
    """Wipe a meter back to unprovisioned (needs its admin file from provisioning)."""
    r = api.reset(args.port, args.admin, **link_opts(args))
    print("meter %s on %s reset: keys and readings wiped" % (r["meter_id"], args.port))
    return EXIT_OK


def cmd_deploy(args: A) -> int:
    """Copy the meter firmware and the vwcrypto natmod to a MicroPython board (mpremote; ampy fallback)."""
    r = api.deploy(args.port, args.board, args.force, args.tool, not args.no_natmod, args.dry_run, args.timeout)
    if r["detected"]:
        print("board on %s: sys.platform %r (%s): HAL %s" % (args.port, r["detected"][0], r["detected"][1], r["board"]))
    if args.dry_run:
        print("\n".join(r["commands"]))
    else:
        print(
            "deployed %d files to %s with %s; reset the board to start the meter" % (r["files"], args.port, r["tool"])
        )
    return EXIT_OK


def cmd_stop(args: A) -> int:
    """Stop the meter on a board whose meter line is its REPL's: send the interrupt sequence
    (CR, Ctrl-C; the meter stops between requests with every state change on flash) and wait
    for the REPL's prompt. mpremote sends the same sequence, so it needs no stop first."""
    from . import device

    device.stop(args.port, args.timeout)
    print("meter on %s stopped; the board's REPL is free (reset the board to restart the meter)" % args.port)
    return EXIT_OK


def cmd_flash(args: A) -> int:
    """Write a MicroPython firmware image: ESP32 with esptool, Nucleo STM32 boards (--board) with
    pyocd / st-flash / dfu-util."""
    from .device import STM32_BOARDS

    r = api.flash(
        args.port,
        args.image,
        args.board,
        args.chip,
        args.offset,
        args.baud,
        args.erase,
        args.tool,
        args.dry_run,
        echo=print,
    )
    if "help" in r:
        print(r["help"])
    elif r["flashed"] and args.board:
        print(
            "flashed %s to the %s; the meter is frozen in: open its serial port (ST-LINK virtual COM port), "
            "then veriwatt provision PORT" % (r["image"], STM32_BOARDS[args.board]["mcu"])
        )
    elif r["flashed"]:
        print("flashed %s; now: veriwatt deploy %s --board %s" % (args.image, args.port, args.chip))
    return EXIT_OK


def cmd_sim(args: A) -> int:
    """Start simulated meters (the real firmware on the unix MicroPython) and print their pty paths."""
    from . import device
    from .errors import DeviceError

    sim = device.start_sim(args.meters, args.storage, args.speed, args.start, args.seed, args.baud, not args.no_natmod)
    relays: List[Any] = []
    try:
        ports, relays = device.sim_ports(sim, args.noise, args.seed)
        if args.json:
            print(json.dumps({"meters": ports, "speed": args.speed}), flush=True)
        else:
            for p in ports:
                print(
                    "meter %d: %s  (pid %d, storage %s)" % (p["index"], p["port"], p["pid"], p["storage"]), flush=True
                )
            print(
                "%d simulated seconds per second%s; Ctrl-C to stop. Next: veriwatt provision %s"
                % (args.speed, ", %.0e of bytes corrupted" % args.noise if args.noise else "", ports[0]["port"]),
                flush=True,
            )
        deadline = time.monotonic() + args.duration if args.duration else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.5)
            if all(m.proc.poll() is not None for m in sim.meters):
                raise DeviceError("every simulated meter exited: see %s/meter*/stderr.log" % args.storage)
    except KeyboardInterrupt:
        pass
    finally:
        for r in relays:
            r.stop()
        sim.stop()
    return EXIT_OK


# ------------------------------------------------------------------ readings
def cmd_fetch(args: A) -> int:
    """Fetch certified readings from a meter over serial into the local store (resumable)."""
    import os

    have_code = args.code or args.code_file or os.environ.get("VERIWATT_CODE")
    ack_key = customer_key(args) if have_code and not args.no_ack else None
    bar = bar_for("fetch %s" % args.port, args)
    try:
        s = api.fetch(
            args.port,
            args.store,
            ack_key,
            args.meter_key,
            args.from_slot,
            args.to_slot,
            args.batch,
            progress=bar.cb,
            **link_opts(args),
        )
    finally:
        bar.close()
    line = s["line"]
    text = (
        "fetched from meter %s on %s: %d new, %d already stored, %d rejected; %d stored in %s; "
        "%d bytes received, %d bad frames, %d retries, %.2f s"
        % (
            s["meter_id"],
            args.port,
            s["added"],
            s["duplicates"],
            s["rejected"],
            s["stored"],
            args.store,
            line["rx_bytes"],
            line["rejected_frames"],
            line["retries"],
            s["seconds"],
        )
    )
    text += "".join("\n  rejected: " + r for r in s["reject_reasons"][:5])
    if args.upload:  # the meter's stored records to the supplier's service (docs/WEB.md)
        from . import webclient
        from .store import Store

        with Store(args.store) as st:
            s["upload"] = webclient.upload_store(args.upload, st, [s["meter_id"]])
        print(web_cli.upload_text(args.upload, s["upload"]), file=sys.stderr)
    if ack_key is None and not args.no_ack and s["from_slot"] is not None:
        stderr_note(
            "note: readings not acknowledged: the meter keeps them (and pauses metering when its log "
            "is full); fetch with the customer code (--code, --code-file or VERIWATT_CODE) to let it reuse "
            "their space"
        )
    out(args, s, text)
    return EXIT_INVALID if s["rejected"] or s.get("upload", {}).get("rejected") else EXIT_OK


def cmd_verify(args: A) -> int:
    """Check the stored readings of a period: every signature, meter id, slot, completeness."""
    from . import slots

    r = api.verify(period=args.period, tz=args.tz or "UTC", **stored(args))
    probs = r["problems"]
    p = r["period"]
    text = "meter %s, %s: %d records, %s" % (
        r["meter_id"],
        slots.describe(p["start_slot"], p["end_slot"]),
        r["records"],
        "complete and every signature valid"
        if not probs
        else "%d problem(s):\n  " % len(probs) + "\n  ".join(x["message"] for x in probs[:10]),
    )
    if r["rejected_at_fetch"]:
        text += "\n%d record(s) were rejected when fetched (see --json)" % r["rejected_at_fetch"]
    out(args, r, text)
    return EXIT_OK if r["valid"] else EXIT_INVALID


def cmd_readings(args: A) -> int:
    """Decrypt a period's readings with the customer code (shown locally, never sent anywhere)."""
    from . import slots

    r = api.readings(period=args.period, customer_key=lambda: customer_key(args), tz=args.tz or "UTC", **stored(args))
    if args.csv:
        print("slot,start_utc,wh")
        for x in r["readings"]:
            print("%d,%s,%d" % (x["slot"], x["start"], x["wh"]))
        return EXIT_OK
    p = r.pop("period")
    out(
        args,
        r,
        "meter %s, %s: %d readings, total %.3f kWh (use --csv for every slot)"
        % (r["meter_id"], slots.describe(p["start_slot"], p["end_slot"]), len(r["readings"]), r["total_wh"] / 1000),
    )
    return EXIT_OK


def cmd_plot(args: A) -> int:
    """Draw the customer's consumption with the tariff bands (PNG, computed locally)."""
    from . import plot, records

    t = api.load_tariff(args.tariff, args.supplier_key) if args.tariff else None
    pub, a, b, recs = api._stored(args.store, args.period, t.tzname if t else "UTC", args.meter_key, args.meter)
    ops = records.open_all(recs, customer_key(args))
    if t is not None and not getattr(t, "linear", True):
        t = None  # no per-slot bands to shade for a non-linear tariff
    plot.plot_consumption([r.slot for r in recs], [m for m, _ in ops], t, args.out, title="meter %s" % pub["meter_id"])
    out(args, {"file": args.out}, "wrote %s" % args.out)
    return EXIT_OK


# ------------------------------------------------------------------ bills
def _announce_proof(args: A, verb: str) -> Any:
    """A progress callback that says, on its first call, what a long zero-knowledge step does."""
    bar = bar_for("%s %s" % (verb, args.kind), args, milestones=True)
    cb = bar.cb

    def first(done: int, total: int) -> None:
        if done == 0 and not bar.total:
            print(args.announce % total, file=sys.stderr, flush=True)
        cb(done, total)

    bar.cb = first
    return bar


def cmd_bill(args: A) -> int:
    """Compute the bill (or settlement, or total) for a period with its proof; write a bill file.

    The proof follows the tariff's kind: time-of-use and index tariffs give a linear proof (the
    combined commitment randomness, instant); step, cumulative, threshold and rebate tariffs give
    a zero-knowledge proof (docs/ZK.md). Cumulative and rebate proofs take about a second for a
    month; threshold proofs about 50 ms per demand-response slot; step proofs 50-200 ms per slot
    (a month: about 1.5 minutes on two busy cores; progress on stderr, --workers N spreads the work)."""
    from . import bill, slots

    t = None if args.total else api.load_tariff(args.tariff, args.supplier_key)
    a, b = api.billing_period(args.period, t) if (t is not None or args.total) else (0, 0)
    args.kind = getattr(t, "kind", "")
    args.announce = (
        "veriwatt: proving the %s bill in zero knowledge over %%d slot(s) of %s with %d worker(s) "
        "(about %s per slot; this can take minutes for a month)..."
        % (args.kind, slots.describe(a, b), args.workers, "50-200 ms" if args.kind == "step" else "50 ms")
    )
    bar = _announce_proof(args, "prove")
    if t is not None and not getattr(t, "linear", True) and t.kind not in ("step", "threshold"):
        print(
            "veriwatt: proving the %s bill in zero knowledge (%d slots)..." % (t.kind, b - a),
            file=sys.stderr,
            flush=True,
        )
    try:
        r = api.bill(
            customer_key=lambda: customer_key(args),
            tariff=args.tariff,
            supplier_key=args.supplier_key,
            total=args.total,
            period=args.period,
            out=args.out,
            workers=args.workers,
            progress=bar.cb,
            **stored(args),
        )
    finally:
        bar.close()
    what = {"tariff": "bill", "settlement": "settlement", "total": "total consumption"}.get(
        r["kind"], r["kind"] + " bill"
    )
    p = r["period"]
    text = "%s for meter %s, %s: %s -> %s" % (
        what,
        r["meter_id"],
        slots.describe(p["start_slot"], p["end_slot"]),
        r["amount"] + (" Wh" if r["kind"] == "total" else ""),
        args.out,
    )
    if r["kind"] in bill.ZK_KINDS:
        text += " (zero-knowledge proof: %d bytes, %.2f s)" % (r["proof_bytes"], r["proof_seconds"])
    out(args, r, text)
    return EXIT_OK


def cmd_verify_bill(args: A) -> int:
    """Check a bill file as the supplier: tariff digest, completeness, every signature, the proof.

    Linear bills are checked with one product over the commitments; bills for step, cumulative,
    threshold and rebate tariffs carry a zero-knowledge proof bound to the meter id, the period
    and the tariff digest, checked here (step: about as long as proving; --workers N).
    Exit 0 valid, 1 invalid (with the reason), 2 bad input."""
    args.kind = "step/threshold"
    args.announce = (
        "veriwatt: verifying the %%s zero-knowledge proof over %%d slot(s) with %d worker(s)..." % args.workers
    )
    bar = _VerifyBar(args)
    try:
        rep = invalid(
            args,
            "bill",
            args.bill,
            lambda: api.verify_bill(
                args.bill, args.meter_key, args.tariff, args.supplier_key, args.total, args.workers, progress=bar.cb
            ),
        )
    finally:
        bar.close()
    if rep is None:
        return EXIT_INVALID
    n = rep["period"]["end_slot"] - rep["period"]["start_slot"]
    if rep["kind"] == "total":
        out(
            args,
            rep,
            "total %s: VALID: meter %s, %d slots, total consumption %d Wh, every signature and the proof "
            "check out (%.2f s)" % (args.bill, rep["meter_id"], n, rep["total"], rep["seconds"]),
        )
        return EXIT_OK
    from . import bill

    what = (
        ""
        if rep["kind"] not in bill.ZK_KINDS
        else " (%s tariff, zero-knowledge proof of %s bytes)" % (rep["kind"], rep.get("proof_bytes"))
    )
    out(
        args,
        rep,
        "bill %s: VALID: meter %s, %d slots, total %s (%d), every signature and the proof check out%s (%.2f s)"
        % (args.bill, rep["meter_id"], n, rep["amount"], rep["total"], what, rep["seconds"]),
    )
    return EXIT_OK


class _VerifyBar:
    """verify-bill's progress: the kind is known once the tariff is loaded (api.verify_bill)."""

    def __init__(self, args: A) -> None:
        self.args, self.bar = args, None

    def cb(self, done: int, total: int) -> None:
        if self.bar is None:
            kind = api.load_tariff(self.args.tariff, self.args.supplier_key).kind
            print(self.args.announce % (kind, total), file=sys.stderr, flush=True)
            self.bar = bar_for("verify %s" % kind, self.args, milestones=True)
        self.bar.cb(done, total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


SLOTS_HELP = (
    "slots to open, comma-separated; every range includes both ends: 995000 (a slot), 995000:995047 "
    "(slots 995000 to 995047, 48 slots), 2026-12-01 (a day), 2026-12-01..2026-12-02 (both days, 96 "
    "slots), 2026-12 (a month); dates in UTC"
)


def cmd_disclose(args: A) -> int:
    """Open chosen slots for the supplier (with the customer's consent): readings and openings."""
    from . import slots

    chosen = slots.slot_list(args.slots, help_text=SLOTS_HELP)
    r = api.disclose(
        chosen, customer_key=lambda: customer_key(args), out=args.out, note_text=args.note or "", **stored(args)
    )
    out(
        args,
        {"file": r["file"], "slots": r["slots"]},
        "disclosed %d slot(s) of meter %s -> %s" % (r["slots"], r["meter_id"], args.out),
    )
    return EXIT_OK


def cmd_verify_disclosure(args: A) -> int:
    """Check disclosed readings against the meter's signed commitments."""
    try:
        rep = api.verify_disclosure(args.file, args.meter_key)
    except InvalidError as e:
        print("disclosure %s: INVALID: %s" % (args.file, e), file=sys.stderr)
        return EXIT_INVALID
    text = "disclosure %s: VALID: %d slot(s) of meter %s\n" % (args.file, len(rep["slots"]), rep["meter_id"])
    text += "\n".join("  %s  %6d Wh" % (s["start"], s["reading"]) for s in rep["slots"][:48])
    out(args, rep, text)
    return EXIT_OK


# ------------------------------------------------------------------ the supplier's ledger
def cmd_ledger(args: A) -> int:
    """The supplier's ledger of billed cycles (one SQLite file): each cycle of a meter is billed once.

  veriwatt ledger record bill.json --ledger ledger.db --tariff tariff.json \\
      --supplier-key supplier.pub.json --meter-key meter.pub.json
  veriwatt ledger gaps --ledger ledger.db --meter METER_ID --from 2026-10 --to 2026-12
  veriwatt ledger list --ledger ledger.db

record verifies the bill first (as verify-bill), then records it; it refuses a second bill of
the same meter and charge for the same cycle (even a different bill) or an overlapping
period. gaps lists the cycles with no recorded bill (exit 1 when there are some)."""
    need = {"record": ("bill", "tariff", "meter_key"), "gaps": ("meter", "from_month", "to_month"), "list": ()}
    flag = {
        "bill": "BILL",
        "tariff": "--tariff",
        "meter_key": "--meter-key",
        "meter": "--meter",
        "from_month": "--from",
        "to_month": "--to",
    }
    missing = [flag[k] for k in need[args.action] if not getattr(args, k, None)]
    if missing:
        raise VeriwattError("ledger %s needs %s (veriwatt ledger --help)" % (args.action, ", ".join(missing)))
    return {"record": _ledger_record, "gaps": _ledger_gaps, "list": _ledger_list}[args.action](args)


def _describe(row: Dict[str, Any]) -> str:
    from . import slots

    return slots.describe(row["start_slot"], row["end_slot"])


def _ledger_record(args: A) -> int:
    try:
        row = api.ledger_record(args.bill, args.ledger, args.tariff, args.supplier_key, args.meter_key, args.workers)
    except InvalidError as e:
        if args.json:
            print(json.dumps({"recorded": False, "bill": args.bill, "reason": str(e)}, indent=1, sort_keys=True))
        else:
            print("bill %s: REFUSED: %s" % (args.bill, e), file=sys.stderr)
        return EXIT_INVALID
    out(
        args,
        row,
        "recorded %s: meter %s, %s charge, cycle %s (%s), %s, in %s"
        % (args.bill, row["meter_id"], row["charge"], row["cycle"], _describe(row), row["amount"], args.ledger),
    )
    return EXIT_OK


def _ledger_gaps(args: A) -> int:
    r = api.ledger_gaps(
        args.ledger, args.meter, args.from_month, args.to_month, args.tariff, args.supplier_key, args.charge
    )
    gaps = r["gaps"]
    lines = [
        "meter %s, %s .. %s: %s"
        % (args.meter, args.from_month, args.to_month, "no gap" if not gaps else "%d cycle(s) not billed" % len(gaps))
    ]
    lines += ["  %s charge: %d cycle(s) checked" % (c["charge"], c["cycles_checked"]) for c in r["charges"]]
    lines += [
        "  gap: %s charge, cycle %s (%s)%s"
        % (
            g["charge"],
            g["cycle"],
            _describe(g),
            "" if not g["billed_slots"] else ", %d of %d slots billed" % (g["billed_slots"], g["slots"]),
        )
        for g in gaps
    ]
    out(args, r, "\n".join(lines))
    return EXIT_INVALID if gaps else EXIT_OK


def _ledger_list(args: A) -> int:
    r = api.ledger_list(args.ledger, args.meter)
    lines = ["%d bill(s) in %s" % (len(r["bills"]), args.ledger)]
    lines += [
        "  %s %-15s %-9s %-12s %s  %s"
        % (x["meter_id"], x["charge"], x["cycle"], x["kind"], x["amount"], x["bill_digest"][:23])
        for x in r["bills"]
    ]
    out(args, r, "\n".join(lines))
    return EXIT_OK


# ------------------------------------------------------------------ aggregation
def cmd_aggregate(args: A) -> int:
    """Privacy-friendly aggregation: enroll a group of meters, collect per-slot sums, means and
    variances without learning any single meter's reading (docs/AGGREGATION.md)."""
    args.parser.print_help(sys.stderr)
    return EXIT_USAGE


def cmd_enroll(args: A) -> int:
    """Make an aggregation group of the meters on PORT...: read each meter's aggregation public key
    (INFO), make the aggregator key, send the group to every meter (AGG_ENROLL; each meter computes
    its pair keys once, one modexp per member) with its customer's consent (a tag made with the
    customer code: --code PORT=CODE per meter or --codes FILE), check that every meter reports the
    same group id. At least 3 meters; a port that does not answer is an error (exit 3) unless
    --allow-partial. Writes the group file (it holds the aggregator's secret: keep it private)."""
    from .aggregate import load_codes

    bar = bar_for("  meters enrolled", args)
    try:
        r = api.enroll(
            args.ports,
            args.label,
            load_codes(args.codes, args.code or []),
            args.out,
            args.epsilon,
            args.sensitivity,
            args.allow_partial,
            progress=bar.cb,
            note=lambda m: say(args, m),
            **link_opts(args),
        )
    finally:
        bar.close()
    out(
        args,
        r,
        "group %s (%r): %d meters enrolled in %.2f s, group id %s%s"
        % (
            args.out,
            args.label,
            r["members"],
            r["seconds"],
            r["gid"],
            ", noise epsilon %g / %d Wh" % (args.epsilon, args.sensitivity) if args.epsilon else "",
        ),
        sort_keys=False,
    )
    return EXIT_OK


def cmd_collect(args: A) -> int:
    """Collect the shares of a period from the meters on PORT... (AGG_FETCH), aggregate them per slot and
    print the group's sum, mean and variance. Which meters are present per slot is decided first
    (INFO: who answers and which slots it stores); a slot with missing meters is asked of the present
    ones as reduced shares (AGG_RECOVER), so it gives the exact statistics of the present meters
    (at least 2). A meter releases one value per slot: a slot collected once cannot be re-collected
    with another missing set. Optionally checks the sums against a feeder meter and a
    demand threshold. Exit 1 when a share was rejected or a feeder discrepancy is flagged."""
    bar = bar_for("  shares", args)
    try:
        r = api.collect(
            args.ports,
            args.group,
            args.period,
            args.from_slot,
            args.to_slot,
            args.out,
            args.feeder,
            args.tolerance,
            args.tolerance_rel,
            args.threshold,
            args.shares,
            args.save_shares,
            progress=bar.cb,
            **link_opts(args),
        )
    finally:
        bar.close()
    if args.json:
        print(json.dumps(r, indent=1))
    else:
        print("\n".join(collect_lines(r, args.show, args.out)))
    return EXIT_INVALID if r["rejected"] or r["feeder_flagged"] else EXIT_OK


def collect_lines(r: Dict[str, Any], show: int, out_file: Optional[str]) -> List[str]:
    """The text report of `aggregate collect`."""
    res = r["slots"]
    lines = [
        "group %s: %d of %d meters answered, %d shares, %d slots aggregated (%d recovered), %d unresolved, "
        "%d rejected, %.2f s"
        % (
            r["gid"][:12],
            len(r["meters_reached"]),
            r["members"],
            r["shares"],
            len(res),
            sum(1 for x in res if x["missing"]),
            len(r["unresolved"]),
            len(r["rejected"]),
            r["seconds"]["total"],
        )
    ]
    for x in res[:show]:
        extra = ""
        if "feeder" in x:
            extra += "  feeder %d%s" % (x["feeder"]["feeder_wh"], " FLAGGED" if x["feeder"]["flagged"] else " ok")
        if "demand_exceeded" in x:
            extra += "  over %d Wh: %s" % (r["threshold_wh"], "YES" if x["demand_exceeded"] else "no")
        lines.append(
            "  slot %d  n=%d  sum %d Wh  mean %.1f Wh  variance %.1f%s%s"
            % (
                x["slot"],
                x["count"],
                x["sum_wh"],
                x["mean_wh"],
                x["variance"],
                "  (without %s)" % ",".join(x["missing"]) if x["missing"] else "",
                extra,
            )
        )
    if len(res) > show:
        lines.append("  ... %d more slots in %s" % (len(res) - show, out_file or "--out FILE"))
    lines += [
        "  REJECTED share from %s (slot %s): %s" % (e["source"], e["slot"], e["reason"]) for e in r["rejected"][:5]
    ]
    lines += ["  unresolved slot %d: %s" % (e["slot"], e["reason"]) for e in r["unresolved"][:5]]
    if r["feeder_flagged"] is not None:
        fl = r["feeder_flagged"]
        lines.append("  feeder check: %d slot(s) flagged%s" % (len(fl), (": %s" % fl[:10]) if fl else ""))
    return lines


def cmd_share(args: A) -> int:
    """Build a member's shares on the customer's device, from the readings in the local store decrypted with
    the customer code, for a meter that only certifies (no aggregation firmware): the same 60-byte shares
    the meter would send (same masks, same noise). Needs the member's agg_secret (its secret file) and the
    group file (the aggregator's secret is not needed). Output for `aggregate collect --shares`."""
    r = api.share(args.group, args.secret, args.store, args.period, lambda: customer_key(args), args.out)
    if args.json:
        print(json.dumps(r))
    else:
        print(
            "%d shares of meter %s for group %s written to %s" % (r["shares"], r["meter_id"], r["gid"][:12], args.out)
        )
    return EXIT_OK


# ------------------------------------------------------------------ demo
def cmd_demo(args: A) -> int:
    """Run the main job on simulated meters (no hardware needed): provision, a month of readings,
    fetch over serial, verify, bill with proof, and the supplier's check of the bill."""
    from . import demo

    def report(summary: Dict[str, Any]) -> None:
        bar.close()
        if args.json:
            print(json.dumps(summary, indent=1), flush=True)
            return
        print("\n".join(demo.report_lines(summary)), flush=True)
        if shutil.which("veriwatt") is None:
            print("  (veriwatt is %s)" % (Path(sys.executable).parent / "veriwatt"), flush=True)

    bar = bar_for("  readings fetched", args, milestones=not args.json)
    try:
        summary = demo.run(
            args.out,
            args.meters,
            args.month,
            args.noise,
            args.stall,
            say=None if args.json else (lambda m: print(m, flush=True)),
            progress=bar.cb,
            serve_port=args.port if args.serve else None,
            report=report,
        )
    finally:
        bar.close()
    return EXIT_OK if summary["bill"]["supplier_check"] else EXIT_INVALID


# ------------------------------------------------------------------ the table
def _stall_default() -> float:
    from .demo import STALL_S

    return STALL_S


def _device_table() -> List[Command]:
    admin = opt(
        "--admin",
        "--secret",
        dest="admin",
        metavar="FILE",
        help="the meter's admin file from provisioning (NAME.admin.json): authenticates the change",
    )
    return [
        Command("info", cmd_info, "identify the meter on a serial port", ("line", "json")),
        Command(
            "provision",
            cmd_provision,
            "give a meter its keys, clock and customer code",
            (
                "line",
                opt("--meter-id", help="16 hex digits (default: random)"),
                opt("--clock", default="now", help="meter clock: unix seconds, YYYY-MM-DD[THH:MM:SS] UTC, or now"),
                opt("--group", default="2048", choices=["2048", "3072"], help="group (default 2048)"),
                opt("--out", default=".", help="folder for the key files (default .)"),
                opt("--name", default="meter", help="file name stem: NAME.pub.json, NAME.admin.json (default meter)"),
                opt(
                    "--save-code",
                    metavar="FILE",
                    help="also write the customer code to FILE (mode 0600); "
                    "by default it is only printed, for the meter label",
                ),
                "json",
            ),
        ),
        Command(
            "wait",
            cmd_wait,
            "wait until the meter has certified every slot of a period",
            (
                "line",
                common("period", help="YYYY-MM (a month), START:END slots or YYYY-MM-DD..YYYY-MM-DD"),
                opt("--tz", default="UTC", help="time zone of a month or dates (default UTC)"),
                opt(
                    "--max-wait",
                    type=float,
                    default=600,
                    help="give up after this many seconds (default 600; 0: no limit)",
                ),
                opt("--poll", type=float, default=0.5, help="seconds between two questions to the meter (default 0.5)"),
            ),
        ),
        Command(
            "set-clock",
            cmd_set_clock,
            "set a meter's clock (provisioned meters: needs its admin file beyond a drift trim)",
            (
                "line",
                opt("--time", default="now", help="unix seconds, YYYY-MM-DD[THH:MM:SS] UTC, or now (default now)"),
                admin,
                "json",
            ),
        ),
        Command(
            "reset",
            cmd_reset,
            "wipe a meter back to unprovisioned (needs its admin file)",
            (
                "line",
                opt(
                    "--admin",
                    "--secret",
                    dest="admin",
                    metavar="FILE",
                    required=True,
                    help="the meter's admin file from provisioning (NAME.admin.json)",
                ),
            ),
        ),
        Command(
            "deploy",
            cmd_deploy,
            "copy the firmware and natmod to a board (mpremote; ampy fallback)",
            (
                opt("port", help="the board's serial port (e.g. /dev/ttyUSB0)"),
                opt(
                    "--board",
                    default=None,
                    help="HAL profile: esp32, stm32, qemu, unix (default: the board's own, "
                    "from sys.platform asked through mpremote; needed with --dry-run)",
                ),
                opt("--force", action="store_true", help="deploy --board's HAL even onto a board detected as another"),
                opt(
                    "--tool",
                    default="auto",
                    choices=["auto", "mpremote", "ampy"],
                    help="copy tool (default: mpremote, then ampy)",
                ),
                opt("--no-natmod", action="store_true", help="do not copy the vwcrypto natmod"),
                opt("--dry-run", action="store_true", help="print the commands instead of running them"),
                opt("--timeout", type=int, default=120, help="seconds allowed for the copy (default 120)"),
            ),
        ),
        Command(
            "stop",
            cmd_stop,
            "stop the meter on a board and free its REPL (mpremote does it by itself)",
            (
                opt("port", help="the board's serial port"),
                opt("--timeout", type=int, default=10, help="seconds to wait for the REPL prompt (default 10)"),
            ),
        ),
    ]


def _board_table() -> List[Command]:
    from .device import STM32_BOARDS

    return [
        Command(
            "flash",
            cmd_flash,
            "write MicroPython to an ESP32 (esptool) or a Nucleo STM32 board (pyocd, st-flash, dfu-util)",
            (
                opt("port", nargs="?", help="ESP32: the board's serial port; with --board: the image"),
                opt(
                    "--image",
                    help="firmware image: ESP32 .bin; STM32 .hex, .dfu or firmware0.bin (+ firmware1.bin beside it)",
                ),
                opt(
                    "--board",
                    choices=sorted(STM32_BOARDS),
                    help="STM32 board: flash the image that `make stm32` builds (build/stm32/BOARD/firmware.hex)",
                ),
                opt(
                    "--tool",
                    default="auto",
                    choices=["auto", "pyocd", "st-flash", "dfu-util"],
                    help="STM32 flashing tool (default: pyocd for .hex, st-flash for .bin, dfu-util for .dfu)",
                ),
                opt("--chip", default="esp32", help="esp32, esp32s3, esp32c3, ... or stm32 (prints the STM32 path)"),
                opt("--offset", help="flash offset (default 0x1000 for esp32, 0x0 otherwise)"),
                opt("--baud", type=int, default=460800, help="flashing baud rate (default 460800)"),
                opt("--erase", action="store_true", help="erase the whole flash first"),
                opt("--dry-run", action="store_true", help="print the flashing commands only"),
            ),
        ),
        Command(
            "sim",
            cmd_sim,
            "start simulated meters and print their pty paths",
            (
                opt("--meters", "-n", type=int, default=1, help="number of meters (default 1)"),
                opt("--storage", default="sim-data", help="folder for the meters' flash (default sim-data)"),
                opt(
                    "--speed",
                    type=int,
                    default=1800,
                    help="simulated seconds per second (default 1800: a slot a second)",
                ),
                opt(
                    "--start",
                    default="none",
                    help="clock at first boot: YYYY-MM-DD, unix seconds, now, or none "
                    "(default: unset until provisioning)",
                ),
                opt("--seed", type=int, default=1, help="household seed of meter 0"),
                opt("--baud", type=int, default=0, help="throttle meter->host to this baud rate (default: no limit)"),
                opt("--noise", type=float, default=0.0, help="corrupt this fraction of bytes on each line (e.g. 1e-3)"),
                opt(
                    "--duration", type=float, default=0, help="stop after this many seconds (default: run until Ctrl-C)"
                ),
                opt("--no-natmod", action="store_true", help="do not load the vwcrypto natmod (use pow)"),
                "json",
            ),
        ),
    ]


def _aggregate_table() -> List[Command]:
    return [
        Command(
            "enroll",
            cmd_enroll,
            "make a group: send the member list to each meter, write group.json",
            (
                "lines",
                opt("--label", required=True, help="group label, e.g. the feeder's name (1..64 bytes)"),
                opt("--out", default="group.json", help="group file to write (default group.json; private)"),
                opt(
                    "--epsilon",
                    type=float,
                    default=0.0,
                    help="differential privacy: epsilon per published sum (default 0: off)",
                ),
                opt(
                    "--sensitivity",
                    type=int,
                    default=0,
                    help="differential privacy: largest reading one meter adds, Wh",
                ),
                opt(
                    "--code",
                    action="append",
                    metavar="PORT=CODE",
                    help="customer code of the meter on PORT (or METER_ID=CODE): the customer's consent; repeat per meter",
                ),
                opt("--codes", help="JSON file {\"PORT or METER_ID\": \"CODE\", ...} with the members' customer codes"),
                opt(
                    "--allow-partial",
                    action="store_true",
                    help="make the group of the meters that answer (default: a port that does not answer is an error, exit 3)",
                ),
                "json",
            ),
        ),
        Command(
            "collect",
            cmd_collect,
            "fetch shares, aggregate per slot (with recovery), feeder and threshold checks",
            (
                "lines",
                opt("--group", required=True, help="group file from `aggregate enroll`"),
                common("period", required=False, help="YYYY-MM, START:END slots (end exclusive) or DATE..DATE"),
                opt("--from-slot", type=int, help="first slot (instead of --period)"),
                opt("--to-slot", type=int, help="end slot, exclusive (default: after the newest reading)"),
                opt("--out", help="write the result JSON here (format in docs/AGGREGATION.md)"),
                opt("--feeder", help="feeder meter readings: JSON {\"slots\": {\"SLOT\": WH}}"),
                opt("--tolerance", type=int, default=0, help="feeder check: allowed difference, Wh (default 0)"),
                opt(
                    "--tolerance-rel",
                    type=float,
                    default=0.0,
                    help="feeder check: allowed relative difference (e.g. 0.02)",
                ),
                opt(
                    "--threshold",
                    type=int,
                    help="demand management: report per slot whether the sum exceeds this many Wh",
                ),
                opt(
                    "--shares",
                    help="add shares from a file ({\"shares\": [HEX...]}), e.g. built on a customer's device",
                ),
                opt("--save-shares", help="write every accepted share to this file"),
                opt("--show", type=int, default=6, help="slots to print (default 6)"),
                "json",
            ),
        ),
        scale_cli.aggregate_run(),
        Command(
            "share",
            cmd_share,
            "build a member's shares from decrypted readings (meters that only certify)",
            (
                opt("--group", required=True, help="group file (the aggregator's secret is not needed)"),
                opt(
                    "--secret", required=True, help="the member's secret file (meter.secret.json: meter_id, agg_secret)"
                ),
                common("store", help="local store with the fetched readings"),
                "code",
                common("period", help="YYYY-MM, START:END slots (end exclusive) or DATE..DATE"),
                opt("--out", default="shares.json", help="file to write (default shares.json)"),
                "json",
            ),
        ),
    ]


def _bill_table() -> List[Command]:
    period = common("period", help="YYYY-MM (in the tariff's time zone), START:END slots, or DATE..DATE")
    return [
        Command(
            "fetch",
            cmd_fetch,
            "fetch certified readings from a meter into the local store",
            (
                "line",
                "store",
                common("meter-key", help="the meter's public key file: refuse a meter with another key"),
                opt("--batch", type=int, default=64, help="readings per request (default 64)"),
                opt("--from-slot", type=int, help="first slot to fetch (default: resume after the last stored)"),
                opt("--to-slot", type=int, help="stop before this slot"),
                opt("--no-ack", action="store_true", help="do not tell the meter it may forget fetched readings"),
                common(
                    "code",
                    help="customer code: with it the fetched readings are acknowledged (ACK needs the "
                    "customer's tag), without it the meter keeps them; or set VERIWATT_CODE",
                ),
                opt(
                    "--upload",
                    metavar="URL",
                    help="then send the meter's stored records to this service (veriwatt serve)",
                ),
                "json",
            ),
        ),
        Command(
            "verify",
            cmd_verify,
            "check the stored readings of a period: signatures, completeness",
            ("stored", "period", "tz", "json"),
        ),
        Command(
            "readings",
            cmd_readings,
            "decrypt a period's readings with the customer code",
            (
                "stored",
                "code",
                "period",
                "tz",
                opt("--csv", action="store_true", help="print every slot as CSV"),
                "json",
            ),
        ),
        Command(
            "bill",
            cmd_bill,
            "compute a bill (or settlement, or total) with its proof",
            (
                "stored",
                "code",
                opt("--tariff", help="signed tariff file (a tariff of kind index gives a settlement)"),
                "supplier-key",
                opt("--total", action="store_true", help="prove the period's total consumption instead (weights 1)"),
                period,
                opt("--out", default="bill.json", help="bill file to write (default bill.json)"),
                "workers",
                "json",
            ),
        ),
        Command(
            "verify-bill",
            cmd_verify_bill,
            "check a bill file with the tariff and the meter's public key",
            (
                opt("bill", help="bill file (bill.json)"),
                opt("--tariff", help="the signed tariff the bill claims"),
                opt(
                    "--total",
                    action="store_true",
                    help="the file is a total consumption (veriwatt bill --total), not a bill",
                ),
                common("meter-key", required=True),
                "supplier-key",
                common("workers", help="processes for checking step and threshold proofs (default 1)"),
                "json",
            ),
        ),
        Command(
            "disclose",
            cmd_disclose,
            "open chosen slots for the supplier (customer's consent)",
            (
                "stored",
                "code",
                opt("--slots", required=True, help=SLOTS_HELP),
                opt("--note", help="free text stored in the disclosure (e.g. the reason)"),
                opt("--out", default="disclosure.json", help="file to write (default disclosure.json)"),
                "json",
            ),
        ),
        Command(
            "verify-disclosure",
            cmd_verify_disclosure,
            "check disclosed readings against the signed commitments",
            (opt("file", help="disclosure file"), common("meter-key", required=True), "json"),
        ),
        Command(
            "plot",
            cmd_plot,
            "PNG of the consumption with the tariff bands (local)",
            (
                "stored",
                "code",
                opt("--tariff", help="signed tariff: shade its bands"),
                "supplier-key",
                common("period", help="YYYY-MM, START:END slots or DATE..DATE"),
                opt("--out", default="consumption.png", help="PNG file (default consumption.png)"),
                "json",
            ),
        ),
        Command(
            "ledger",
            cmd_ledger,
            "the supplier's ledger of billed cycles: record, gaps, list",
            (
                opt("action", choices=["record", "gaps", "list"]),
                opt("bill", nargs="?", help="record: the bill file"),
                opt("--ledger", default="ledger.db", help="ledger file (SQLite; default ledger.db)"),
                opt("--tariff", help="record: the signed tariff of the bill; gaps: take the cycle from it"),
                common("supplier-key", help="the supplier's public key (record: required)"),
                common("meter-key", help="record: the meter's public key (meter.pub.json)"),
                common("meter", help="gaps (required), list: the meter id"),
                opt(
                    "--charge",
                    choices=["energy", "settlement", "demand-response", "rebate"],
                    help="gaps: only this charge (default: every charge recorded for the meter)",
                ),
                opt("--from", dest="from_month", help="gaps: first month YYYY-MM (in the cycle's time zone)"),
                opt("--to", dest="to_month", help="gaps: last month YYYY-MM, included"),
                common("workers", help="record: processes for step and threshold proofs"),
                "json",
            ),
        ),
    ]


def _table() -> List[Command]:
    return (
        [
            Command(
                "selftest",
                cmd_selftest,
                "check the crypto backend against known answers",
                (
                    opt(
                        "--vectors",
                        help="known-answer file (default: crypto_c/vectors/modexp.txt, which the installed package carries)",
                    ),
                    opt("--random", type=int, default=50, help="random cases checked against pow (default 50)"),
                    opt("--seed", type=int, default=1, help="seed for the random cases"),
                    "json",
                ),
            ),
            Command(
                "bench",
                cmd_bench,
                "time modexp: vwcrypto vs pow vs gmpy2",
                (
                    opt("--bits", type=int, default=2048, help="modulus size (default 2048)"),
                    opt("--rounds", type=int, default=7, help="rounds; the median is reported"),
                    common("json", help="print JSON"),
                ),
            ),
            Command(
                "demo",
                cmd_demo,
                "the main job on simulated meters, no hardware needed",
                (
                    opt("--out", default="out/demo", help="folder for the results (default out/demo)"),
                    opt(
                        "--meters",
                        type=int,
                        default=3,
                        help="simulated meters (default 3; the aggregation step needs at least 3)",
                    ),
                    opt("--month", default="2026-12", help="month to simulate and bill (default 2026-12)"),
                    opt(
                        "--noise",
                        type=float,
                        default=0.0,
                        help="corrupt this fraction of bytes on the serial lines (e.g. 1e-3)",
                    ),
                    opt(
                        "--stall",
                        type=float,
                        default=_stall_default(),
                        help="give up when no reading arrives and no meter certifies a slot for this many seconds "
                        "(default %.0f; there is no overall time limit: a loaded machine only takes longer)"
                        % _stall_default(),
                    ),
                    opt(
                        "--serve",
                        action="store_true",
                        help="keep the web service up at the end and print the page's address (docs/WEB.md)",
                    ),
                    opt("--port", type=int, default=8080, help="the web service's port with --serve (default 8080)"),
                    "json",
                ),
            ),
            Command(
                "keygen",
                cmd_keygen,
                "make a supplier signing key (for tariffs)",
                (
                    opt("--out", default="supplier", help="file name stem: writes STEM.key.json and STEM.pub.json"),
                    opt("--name", help="supplier name stored in the key files"),
                    opt("--group", default="2048", choices=["2048", "3072"], help="group (default 2048)"),
                    opt("--force", action="store_true", help="overwrite an existing key"),
                    "json",
                ),
            ),
            Command(
                "trust",
                cmd_trust,
                "the supplier keys whose signed tariffs you accept (trust store)",
                (
                    opt("action", choices=["add", "list", "remove"]),
                    opt(
                        "what", nargs="?", help="add: supplier public key file (supplier.pub.json); remove: its key id"
                    ),
                    "json",
                ),
            ),
            Command(
                "tariff",
                cmd_tariff,
                "tariffs of every kind (time-of-use, index, step, cumulative, threshold, rebate)",
                (
                    opt("action", choices=["example", "sign", "verify", "show"]),
                    opt("file", nargs="?", help="tariff file"),
                    opt("--key", help="supplier secret key for `sign` (supplier.key.json)"),
                    common(
                        "supplier-key",
                        help="supplier public key the tariff must be signed with for `verify` and "
                        "`show` (default: your trust store, see veriwatt trust)",
                    ),
                    opt("--out", help="output file (sign: default overwrites FILE; example: default stdout)"),
                    opt(
                        "--index",
                        action="store_true",
                        help="example: a grid value-of-energy index (same as --kind index)",
                    ),
                    opt(
                        "--kind",
                        choices=["tariff", "index", "step", "cumulative", "threshold", "rebate"],
                        help="example: the kind of tariff (default tariff: time-of-use prices)",
                    ),
                    opt("--period", help="show: the period to summarise (default 2026-12)"),
                    "json",
                ),
            ),
        ]
        + _bill_table()
        + _device_table()
        + _board_table()
        + [
            Command(
                "aggregate",
                cmd_aggregate,
                "privacy-friendly aggregation over a group of meters (enroll, collect)",
                sub=_aggregate_table(),
            ),
        ]
        + computations_cli.commands()
        + meterbill_cli.commands()
        + web_cli.commands()
        + scale_cli.commands()
    )


COMMANDS: List[Command] = _table()
