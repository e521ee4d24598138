"""Registry of the subcommands implemented in their own modules (meters, bills, tariffs, devices).

`register(sub, epilog)` adds them to the argparse subparsers of veriwatt.cli. Handlers take
the parsed arguments and return an exit code; user errors are VeriwattError (one line).
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from .errors import EXIT_INVALID, EXIT_OK, DeviceError, InvalidError, VeriwattError

DEFAULT_STORE = os.environ.get("VERIWATT_STORE", "veriwatt.db")


def _out(args: argparse.Namespace, obj: Dict[str, Any], text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(obj, indent=1, sort_keys=True))
    else:
        print(text)


# ------------------------------------------------------------------ shared argument helpers
def customer_key(args: argparse.Namespace) -> bytes:
    from .records import customer_key as parse

    code = getattr(args, "code", None) or os.environ.get("VERIWATT_CODE")
    if not code and getattr(args, "code_file", None):
        try:
            code = Path(args.code_file).read_text().strip()
        except OSError as e:
            raise VeriwattError("cannot read the customer code file %s: %s" % (args.code_file, e.strerror or e))
    if not code:
        if sys.stdin.isatty():
            code = getpass.getpass("customer code (from the meter label): ")
        else:
            raise VeriwattError("the customer code is needed to decrypt the readings: give --code XXXXX-XXXXX-..., "
                                "--code-file FILE or set VERIWATT_CODE")
    return parse(code)


def open_store(args: argparse.Namespace, must_exist: bool = True):
    from .store import Store

    path = args.store
    if must_exist and not Path(path).exists():
        raise VeriwattError("store %s does not exist: fetch readings first (veriwatt fetch PORT --store %s)" % (path, path))
    return Store(path)


def meter_key(args: argparse.Namespace, st: Any = None) -> Dict[str, Any]:
    """The meter's public key: --meter-key FILE, else the store's key for --meter (or its only meter)."""
    from . import keys

    if getattr(args, "meter_key", None):
        return keys.load_public(args.meter_key, "meter")
    if st is None:
        raise VeriwattError("give the meter's public key: --meter-key meter.pub.json")
    mid = getattr(args, "meter", None)
    if not mid:
        ms = st.meters()
        if len(ms) != 1:
            raise VeriwattError("the store holds %d meters (%s): choose one with --meter ID or --meter-key FILE"
                                % (len(ms), ", ".join(ms) or "none"))
        mid = ms[0]
    k = st.meter_key(mid)
    if k is None:
        raise VeriwattError("meter %s is not in the store %s: fetch from it first" % (mid, st.path))
    return k


def period_of(args: argparse.Namespace, tz: str = "UTC") -> Tuple[int, int]:
    from . import slots

    tz = getattr(args, "tz", None) or tz
    if not getattr(args, "period", None):
        raise VeriwattError("give the period: --period YYYY-MM, START:END (slots) or YYYY-MM-DD..YYYY-MM-DD")
    return slots.parse_period(args.period, tz)


def load_tariff(path: Optional[str], supplier_key: Optional[str] = None):
    """A signed tariff whose signature verifies under a trusted supplier key (--supplier-key,
    else the trust store: veriwatt.trust). Unsigned tariffs and untrusted signers are refused."""
    from . import jsonio, tariff, trust

    if not path:
        return None
    obj = jsonio.load(path, "tariff")
    return tariff.parse_signed(obj, trust.supplier_for(obj, supplier_key, path), path)


def billing_period(args: argparse.Namespace, t: Any) -> Tuple[int, int]:
    """The --period of a bill: months are read in the tariff's cycle zone (calendar-month
    cycles) or time zone; a period that is not exactly one billing cycle of the signed tariff
    is refused here, naming the cycle(s) that would be accepted (exit 2)."""
    from . import bill

    cyc = getattr(t, "cycle", None) if t is not None else None
    tz = cyc.zone_name if cyc is not None and cyc.kind == "calendar-month" else (t.tzname if t else "UTC")
    a, b = period_of(args, tz)
    why = bill.cycle_problem(t, a, b)
    if why:
        raise VeriwattError("cannot bill: %s" % why)
    return a, b


def period_records(st: Any, pub: Dict[str, Any], start: int, end: int):
    from . import records

    return [records.decode(raw) for _, raw in st.records(pub["meter_id"], start, end)]


# ------------------------------------------------------------------ keys and tariffs
def cmd_keygen(args: argparse.Namespace) -> int:
    """Make a supplier signing key (for tariffs): writes NAME.key.json (keep private) and NAME.pub.json."""
    from . import keys, tariff

    out = args.out
    base = out[:-len(".key.json")] if out.endswith(".key.json") else out
    if Path(base + ".key.json").exists() and not args.force:
        raise VeriwattError("%s.key.json exists: use --force to replace it (the old key is then lost)" % base)
    k = keys.new_supplier_key(args.group, name=args.name or "")
    tariff.write_json(base + ".key.json", k, private=True)
    tariff.write_json(base + ".pub.json", keys.public(k))
    _out(args, {"secret_key": base + ".key.json", "public_key": base + ".pub.json", "key_id": k["key_id"]},
         "wrote %s.key.json (private) and %s.pub.json (key id %s)" % (base, base, k["key_id"]))
    return EXIT_OK


def cmd_tariff(args: argparse.Namespace) -> int:
    """Tariffs of every kind: example, sign, verify, show (format: docs/TARIFF.md).

Kinds: tariff (time-of-use prices), index (settlement), and the non-linear kinds whose bills
carry a zero-knowledge proof (docs/ZK.md): step (price by each half-hour's block),
cumulative (rising blocks over the period), threshold (demand-response limit in peak
windows, penalty per excess Wh) and rebate (progressive reward for savings below a
baseline). All are signed the same way with the supplier key from `veriwatt keygen`.

  veriwatt tariff example --kind step --out step.json
  veriwatt tariff sign step.json --key supplier.key.json
  veriwatt tariff show step.json --period 2026-12"""
    from . import keys, slots, tariff

    if args.action == "example":
        kind = "index" if args.index else (args.kind or "tariff")
        body = tariff.example(kind)
        text = json.dumps(body, indent=1)
        if args.out:
            tariff.write_json(args.out, body)
            print("wrote %s (unsigned): edit it, then `veriwatt tariff sign %s --key supplier.key.json`" % (args.out, args.out))
        else:
            print(text)
        return EXIT_OK
    if not args.file:
        raise VeriwattError("give the tariff file: veriwatt tariff %s FILE" % args.action)
    if args.action == "sign":
        if not args.key:
            raise VeriwattError("signing needs the supplier's secret key: --key supplier.key.json (make one with veriwatt keygen)")
        sk = keys.load_secret(args.key, "supplier")
        obj = tariff.load_json(args.file, "tariff")
        body = obj.get("tariff") if isinstance(obj, dict) and obj.get("format") == tariff.SIGNED_FORMAT else obj
        signed = tariff.sign(body, sk)
        signed["supplier_key"] = keys.public(sk)
        out = args.out or args.file
        tariff.write_json(out, signed)
        _out(args, {"file": out, "digest": signed["digest"], "key_id": signed["signature"]["key_id"]},
             "signed %s -> %s (digest %s, supplier key %s)" % (args.file, out, signed["digest"], signed["signature"]["key_id"]))
        return EXIT_OK
    if args.action == "verify":
        t = load_tariff(args.file, args.supplier_key)
        kid = t.signed["signature"]["key_id"]
        src = "--supplier-key" if args.supplier_key else "your trust store"
        _out(args, {"valid": True, "digest": t.digest(), "key_id": kid, "name": t.name},
             "tariff %s: valid signature by trusted supplier key %s (from %s); digest %s" % (args.file, kid, src, t.digest()))
        return EXIT_OK
    if args.action == "show":
        t = load_tariff(args.file, args.supplier_key)
        a, b = _show_period(args, t)
        if not getattr(t, "linear", True):
            res = {"name": t.name, "kind": t.kind, "digest": t.digest(), "timezone": t.tzname,
                   "period": {"start_slot": a, "end_slot": b}, "parameters": t.zk(a, b).body()}
            lines = ["%s (%s, zero-knowledge proof), %s, digest %s" % (t.name, t.kind, t.tzname, t.digest()),
                     slots.describe(a, b)] + t.describe()
            if t.kind == "threshold":
                res["dr_slots"] = len(t.zk(a, b).slots)
                lines.append("  %d demand-response slot(s) in this period" % res["dr_slots"])
            _show_cycle(t, a, b, res, lines)
            _out(args, res, "\n".join(lines))
            return EXIT_OK
        bands: Dict[str, Dict[str, Any]] = {}
        for s in range(a, b):
            bd = t.band(s)
            d = bands.setdefault(bd.name, {"price": bd.price, "slots": 0})
            d["slots"] += 1
        res = {"name": t.name, "kind": t.kind, "digest": t.digest(), "timezone": t.tzname,
               "period": {"start_slot": a, "end_slot": b}, "bands": bands}
        lines = ["%s (%s), %s, digest %s" % (t.name, t.kind, t.tzname, t.digest()), slots.describe(a, b)]
        lines += ["  %-14s price %6d  %5d slots" % (k, v["price"], v["slots"]) for k, v in sorted(bands.items())]
        _show_cycle(t, a, b, res, lines)
        _out(args, res, "\n".join(lines))
        return EXIT_OK
    raise VeriwattError("unknown tariff action %r" % args.action)


def _show_period(args: argparse.Namespace, t: Any) -> Tuple[int, int]:
    """`tariff show --period`: default the cycle containing 2026-12-01 (or the first listed period)."""
    from . import slots

    cyc = t.cycle
    tz = cyc.zone_name if cyc.kind == "calendar-month" else t.tzname
    if args.period:
        return slots.parse_period(args.period, tz)
    if cyc.kind == "periods":
        return cyc.periods[0]
    return slots.month_range("2026-12", tz)


def _show_cycle(t: Any, a: int, b: int, res: Dict[str, Any], lines: List[str]) -> None:
    cyc = t.cycle
    why = cyc.problem(a, b)
    res["cycle"] = cyc.as_json()
    res["period_is_cycle"] = why is None
    lines.append("  billing cycle: %s; %s" % (
        cyc.text(), "this period is the cycle %s" % cyc.label(a, b) if why is None else "this period is NOT one cycle "
        "(a bill for it would be refused)"))
    if cyc.kind == "periods":
        lines += ["    %s" % cyc.suggest(p0, p1) for p0, p1 in cyc.periods[:12]]
        if len(cyc.periods) > 12:
            lines.append("    ... %d more" % (len(cyc.periods) - 12))


def cmd_trust(args: argparse.Namespace) -> int:
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
        _out(args, {"file": str(trust.path()), "suppliers": ks},
             "\n".join(["trust store %s: %d supplier key(s)" % (trust.path(), len(ks))] +
                       ["  %s  %s (group %s)" % (k["key_id"], k.get("name", ""), k["group"]) for k in ks]))
        return EXIT_OK
    if not args.what:
        raise VeriwattError("give %s: veriwatt trust %s %s" % (
            "the supplier's public key file" if args.action == "add" else "the key id",
            args.action, "supplier.pub.json" if args.action == "add" else "KEYID"))
    if args.action == "add":
        pub = keys.load_public(args.what, "supplier")
        new = trust.add(pub)
        _out(args, {"file": str(trust.path()), "key_id": pub["key_id"], "added": new},
             "%s supplier key %s %r (trust store %s)" % ("now trusting" if new else "already trusted:", pub["key_id"],
                                                          pub.get("name", ""), trust.path()))
        return EXIT_OK
    if not trust.remove(args.what):
        raise VeriwattError("key %s is not in the trust store %s (veriwatt trust list)" % (args.what[:32], trust.path()))
    _out(args, {"file": str(trust.path()), "key_id": args.what, "removed": True},
         "removed supplier key %s from %s" % (args.what, trust.path()))
    return EXIT_OK


# ------------------------------------------------------------------ fetching and checking
def cmd_fetch(args: argparse.Namespace) -> int:
    """Fetch certified readings from a meter over serial into the local store (resumable)."""
    from . import keys, records, serial_client
    from .progress import Progress

    have_code = args.code or args.code_file or os.environ.get("VERIWATT_CODE")
    ack_key = customer_key(args) if have_code and not args.no_ack else None
    # the port and the meter first: a missing port or a wrong code creates and stores nothing
    with serial_client.MeterLink(args.port, args.baud, args.timeout, args.retries) as link:
        info = link.hello()
        if not info["provisioned"]:
            raise VeriwattError("meter on %s is not provisioned: run veriwatt provision %s first" % (args.port, args.port))
        mid = info["meter_id"].hex()
        if ack_key is not None and serial_client.code_opens(link, info, ack_key) is False:
            raise VeriwattError("the customer code does not open the readings of meter %s on %s: it belongs to "
                                "another meter (or is mistyped); nothing was stored or acknowledged. Give the code "
                                "on this meter's label" % (mid, args.port))
        st = open_store(args, must_exist=False)
        if args.meter_key:
            pub = keys.load_public(args.meter_key, "meter")
            if pub["meter_id"] != mid:
                raise InvalidError("the meter on %s is %s, but --meter-key is for meter %s" % (args.port, mid, pub["meter_id"]))
            if keys.y_of(pub) != info["sig_pub"]:
                raise InvalidError("meter %s reports a public key that differs from %s: re-provisioned or impostor meter"
                                   % (mid, args.meter_key))
        else:
            pub = st.meter_key(mid)
            if pub is None:
                if info["sig_pub"] is None:
                    raise DeviceError("meter %s reports no public key: is it provisioned?" % mid)
                pub = keys.meter_public(info["meter_id"], info["sig_pub"], info["group_id"])
                print("veriwatt: note: trusting the public key meter %s reports (key id %s); pin it with --meter-key"
                      % (mid, pub["key_id"]), file=sys.stderr)
            elif keys.y_of(pub) != info["sig_pub"]:
                raise InvalidError("meter %s now reports a different public key than the one in the store" % mid)
        st.add_meter(mid, pub, {"fw_version": info["fw_version"]})
        if info.get("clock_unverified"):
            print("veriwatt: warning: meter %s's clock was set without the engineer's tag after it lost it "
                  "(power cut): readings since then are in slots by that clock; check it against real time "
                  "(veriwatt info), then veriwatt set-clock %s --admin meter.admin.json" % (mid, args.port), file=sys.stderr)
        checker = records.Checker.from_pub(pub)
        bar = Progress(0, "fetch %s" % mid, enabled=None if not args.json else False)
        summary = serial_client.fetch(link, st, mid, checker.check_raw, args.from_slot, args.to_slot,
                                      batch=args.batch, customer_key=ack_key, progress=bar)
        bar.close()
    summary["store"] = args.store
    summary["clock_unverified"] = bool(info.get("clock_unverified"))
    summary["stored"] = st.count(mid)
    if args.upload:  # the meter's stored records to the supplier's service (docs/WEB.md)
        from . import webclient, web_cli
        summary["upload"] = webclient.upload_store(args.upload, st, [mid])
        print(web_cli.upload_text(args.upload, summary["upload"]), file=sys.stderr)
    line = summary["line"]
    text = ("fetched from meter %s on %s: %d new, %d already stored, %d rejected; %d stored in %s; "
            "%d bytes received, %d bad frames, %d retries, %.2f s"
            % (mid, args.port, summary["added"], summary["duplicates"], summary["rejected"], summary["stored"],
               args.store, line["rx_bytes"], line["rejected_frames"], line["retries"], summary["seconds"]))
    for r in summary["reject_reasons"][:5]:
        text += "\n  rejected: " + r
    if ack_key is None and not args.no_ack and summary["from_slot"] is not None:
        print("veriwatt: note: readings not acknowledged: the meter keeps them (and pauses metering when its log "
              "is full); fetch with the customer code (--code, --code-file or VERIWATT_CODE) to let it reuse "
              "their space", file=sys.stderr)
    _out(args, summary, text)
    return EXIT_INVALID if summary["rejected"] or summary.get("upload", {}).get("rejected") else EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    """Check the stored readings of a period: every signature, meter id, slot, completeness."""
    from . import records, slots, verify

    with open_store(args) as st:
        pub = meter_key(args, st)
        a, b = period_of(args)
        rows = st.records(pub["meter_id"], a, b)
        recs = [records.decode(raw) for _, raw in rows]
        checker = records.Checker.from_pub(pub)
        probs = verify.check_period([(r.slot, r.C, r.e, r.s) for r in recs], a, b, checker)
        for r in recs:
            if r.meter_id.hex() != pub["meter_id"]:
                probs.append(verify.Problem("foreign", r.slot, "slot %d: record from meter %s" % (r.slot, r.meter_id.hex())))
        rej = st.rejects(pub["meter_id"])
    res = {"valid": not probs, "meter_id": pub["meter_id"], "period": {"start_slot": a, "end_slot": b},
           "records": len(recs), "problems": [p.as_dict() for p in probs], "rejected_at_fetch": len(rej)}
    text = "meter %s, %s: %d records, %s" % (pub["meter_id"], slots.describe(a, b), len(recs),
                                             "complete and every signature valid" if not probs else
                                             "%d problem(s):\n  " % len(probs) + "\n  ".join(p.message for p in probs[:10]))
    if rej:
        text += "\n%d record(s) were rejected when fetched (see --json)" % len(rej)
    _out(args, res, text)
    return EXIT_OK if not probs else EXIT_INVALID


def cmd_readings(args: argparse.Namespace) -> int:
    """Decrypt a period's readings with the customer code (shown locally, never sent anywhere)."""
    from . import records, slots

    with open_store(args) as st:
        pub = meter_key(args, st)
        a, b = period_of(args)
        recs = period_records(st, pub, a, b)
    key = customer_key(args)
    ops = records.open_all(recs, key)
    rows = [{"slot": r.slot, "start": slots.slot_start(r.slot).strftime("%Y-%m-%dT%H:%MZ"), "wh": m}
            for r, (m, _) in zip(recs, ops)]
    if args.csv:
        print("slot,start_utc,wh")
        for x in rows:
            print("%d,%s,%d" % (x["slot"], x["start"], x["wh"]))
        return EXIT_OK
    total = sum(x["wh"] for x in rows)
    _out(args, {"meter_id": pub["meter_id"], "readings": rows, "total_wh": total},
         "meter %s, %s: %d readings, total %.3f kWh (use --csv for every slot)"
         % (pub["meter_id"], slots.describe(a, b), len(rows), total / 1000))
    return EXIT_OK


# ------------------------------------------------------------------ bills
def cmd_bill(args: argparse.Namespace) -> int:
    """Compute the bill (or settlement, or total) for a period with its proof; write a bill file.

The proof follows the tariff's kind: time-of-use and index tariffs give a linear proof (the
combined commitment randomness, instant); step, cumulative, threshold and rebate tariffs give
a zero-knowledge proof (docs/ZK.md). Cumulative and rebate proofs take about a second for a
month; threshold proofs about 50 ms per demand-response slot; step proofs 50-200 ms per slot
(a month: about 1.5 minutes on two busy cores; progress on stderr, --workers N spreads the work)."""
    from . import bill, records, slots, tariff as tmod
    from .progress import Progress

    t = None if args.total else load_tariff(args.tariff, args.supplier_key)
    if t is None and not args.total:
        raise VeriwattError("give the signed tariff (--tariff tariff.json), or --total for the period's total consumption")
    a, b = billing_period(args, t)  # refused before any work when it is not one billing cycle
    with open_store(args) as st:
        pub = meter_key(args, st)
        recs = period_records(st, pub, a, b)
    checker = records.Checker.from_pub(pub)
    for r in recs:  # the store checked them once; a bill is worth checking again
        why = checker.problem(r)
        if why:
            raise InvalidError("stored record invalid: %s" % why)
    key = customer_key(args)
    ops = records.open_all(recs, key)
    bar = None
    if t is not None and not getattr(t, "linear", True):
        n = len(t.zk(a, b).slots) if t.kind == "threshold" else len(recs)
        if t.kind in ("step", "threshold"):
            print("veriwatt: proving the %s bill in zero knowledge over %d slot(s) of %s with %d worker(s) "
                  "(about %s per slot; this can take minutes for a month)..."
                  % (t.kind, n, slots.describe(a, b), args.workers, "50-200 ms" if t.kind == "step" else "50 ms"),
                  file=sys.stderr, flush=True)
            bar = Progress(n, "prove %s" % t.kind, milestones=True)
        else:
            print("veriwatt: proving the %s bill in zero knowledge (%d slots)..." % (t.kind, n), file=sys.stderr, flush=True)
    import time
    t0 = time.perf_counter()
    B = bill.make_bill(recs, ops, t, a, b, pub, workers=args.workers, progress=bar.update if bar else None)
    seconds = time.perf_counter() - t0
    if bar:
        bar.close()
    tmod.write_json(args.out, B)
    res = {"file": args.out, "kind": B["kind"], "meter_id": B["meter_id"], "period": B["period"],
           "total": B["total"], "amount": B["amount"], "tariff_digest": (B["tariff"] or {}).get("digest")}
    what = {"tariff": "bill", "settlement": "settlement", "total": "total consumption"}.get(B["kind"], B["kind"] + " bill")
    text = "%s for meter %s, %s: %s -> %s" % (what, B["meter_id"], slots.describe(a, b),
                                              B["amount"] + (" Wh" if B["kind"] == "total" else ""), args.out)
    if B["kind"] in bill.ZK_KINDS:
        res.update({"proof_bytes": B["proof"]["bytes"], "proof_seconds": round(seconds, 2)})
        text += " (zero-knowledge proof: %d bytes, %.2f s)" % (B["proof"]["bytes"], seconds)
    _out(args, res, text)
    return EXIT_OK


def cmd_verify_bill(args: argparse.Namespace) -> int:
    """Check a bill file as the supplier: tariff digest, completeness, every signature, the proof.

Linear bills are checked with one product over the commitments; bills for step, cumulative,
threshold and rebate tariffs carry a zero-knowledge proof bound to the meter id, the period
and the tariff digest, checked here (step: about as long as proving; --workers N).
Exit 0 valid, 1 invalid (with the reason), 2 bad input."""
    from . import bill, keys, slots, tariff as tmod
    from .progress import Progress

    B = tmod.load_json(args.bill, "bill")
    if not args.tariff and not args.total:
        raise VeriwattError("give the signed tariff the bill was priced with (--tariff tariff.json), or --total "
                            "to check a total-consumption file")
    if args.tariff and args.total:
        raise VeriwattError("--total checks a total-consumption file, which has no tariff: drop --tariff")
    pub = keys.load_public(args.meter_key, "meter") if args.meter_key else None
    if pub is None:
        raise VeriwattError("give the meter's public key: --meter-key meter.pub.json")
    t = load_tariff(args.tariff, args.supplier_key)
    bar = None
    if isinstance(B, dict) and t is not None and B.get("kind") == t.kind and t.kind in ("step", "threshold"):
        try:
            p = B.get("period") or {}
            slots.check_range(p["start_slot"], p["end_slot"])  # never evaluate a hostile period's windows
            n = len(t.zk(p["start_slot"], p["end_slot"]).slots) if t.kind == "threshold" else len(B.get("commitments") or [])
        except (KeyError, TypeError, VeriwattError):
            n = 0
        if n:
            print("veriwatt: verifying the %s zero-knowledge proof over %d slot(s) with %d worker(s)..."
                  % (t.kind, n, args.workers), file=sys.stderr, flush=True)
            bar = Progress(n, "verify %s" % t.kind, milestones=True)
    try:
        rep = bill.verify_bill(B, t, pub, workers=args.workers, progress=bar.update if bar else None)
    except InvalidError as e:
        rep = getattr(e, "report", {"valid": False, "reason": str(e)})
        if args.json:
            print(json.dumps(rep, indent=1, sort_keys=True))
            return EXIT_INVALID
        print("bill %s: INVALID: %s" % (args.bill, e), file=sys.stderr)
        return EXIT_INVALID
    finally:
        if bar:
            bar.close()
    if rep["kind"] == "total":
        _out(args, rep, "total %s: VALID: meter %s, %d slots, total consumption %d Wh, every signature and the proof "
             "check out (%.2f s)" % (args.bill, rep["meter_id"], rep["period"]["end_slot"] - rep["period"]["start_slot"],
                                     rep["total"], rep["seconds"]))
        return EXIT_OK
    what = "" if B.get("kind") not in bill.ZK_KINDS else " (%s tariff, zero-knowledge proof of %s bytes)" % (B["kind"], rep.get("proof_bytes"))
    _out(args, rep, "bill %s: VALID: meter %s, %d slots, total %s (%d), every signature and the proof check out%s (%.2f s)"
         % (args.bill, rep["meter_id"], rep["period"]["end_slot"] - rep["period"]["start_slot"],
            rep["amount"], rep["total"], what, rep["seconds"]))
    return EXIT_OK


SLOTS_HELP = ("slots to open, comma-separated; every range includes both ends: 995000 (a slot), 995000:995047 "
              "(slots 995000 to 995047, 48 slots), 2026-12-01 (a day), 2026-12-01..2026-12-02 (both days, 96 "
              "slots), 2026-12 (a month); dates in UTC")


def _slot_list(text: str, tz: str = "UTC") -> List[int]:
    """The slots named by disclose --slots (SLOTS_HELP): ranges include both ends."""
    import datetime as _dt
    import re

    from . import slots

    out: List[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"(\d+):(\d+)", part)
        d = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:\.\.(\d{4}-\d{2}-\d{2}))?", part)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            if b < a:
                raise VeriwattError("bad slot range %s: the last slot is before the first" % part)
            slots.check_range(a, b + 1)
            out.extend(range(a, b + 1))
        elif d:
            first, last = d.group(1), d.group(2) or d.group(1)
            try:
                after = (_dt.date.fromisoformat(last) + _dt.timedelta(days=1)).isoformat()
                _dt.date.fromisoformat(first)
            except ValueError as e:
                raise VeriwattError("bad date in %r: %s" % (part, e))
            if last < first:
                raise VeriwattError("bad date range %s: the last day is before the first" % part)
            a, b = slots.parse_period("%s..%s" % (first, after), tz)
            out.extend(range(a, b))
        elif re.fullmatch(r"\d{4}-\d{2}", part):
            a, b = slots.parse_period(part, tz)
            out.extend(range(a, b))
        else:
            try:
                out.append(int(part))
            except ValueError:
                raise VeriwattError("bad slot %r: %s" % (part, SLOTS_HELP))
    if not out:
        raise VeriwattError("no slots chosen: --slots 995000,995001 or 995000:995047")
    return out


def cmd_disclose(args: argparse.Namespace) -> int:
    """Open chosen slots for the supplier (with the customer's consent): readings and openings."""
    from . import bill, records, tariff as tmod

    chosen = _slot_list(args.slots)
    with open_store(args) as st:
        pub = meter_key(args, st)
        rows = [st.records(pub["meter_id"], t, t + 1) for t in sorted(set(chosen))]
    recs = [records.decode(r[0][1]) for r in rows if r]
    if len(recs) != len(set(chosen)):
        have = {r.slot for r in recs}
        missing = sorted(set(chosen) - have)
        raise VeriwattError("%d chosen slot(s) are not in the store (first %d): fetch them first" % (len(missing), missing[0]))
    ops = records.open_all(recs, customer_key(args))
    d = bill.make_disclosure(recs, ops, chosen, pub, args.note or "")
    tmod.write_json(args.out, d)
    _out(args, {"file": args.out, "slots": len(recs)}, "disclosed %d slot(s) of meter %s -> %s" % (len(recs), pub["meter_id"], args.out))
    return EXIT_OK


def cmd_verify_disclosure(args: argparse.Namespace) -> int:
    """Check disclosed readings against the meter's signed commitments."""
    from . import bill, keys, tariff as tmod

    d = tmod.load_json(args.file, "disclosure")
    pub = keys.load_public(args.meter_key, "meter")
    try:
        rep = bill.verify_disclosure(d, pub)
    except InvalidError as e:
        print("disclosure %s: INVALID: %s" % (args.file, e), file=sys.stderr)
        return EXIT_INVALID
    text = "disclosure %s: VALID: %d slot(s) of meter %s\n" % (args.file, len(rep["slots"]), rep["meter_id"])
    text += "\n".join("  %s  %6d Wh" % (s["start"], s["reading"]) for s in rep["slots"][:48])
    _out(args, rep, text)
    return EXIT_OK


def cmd_plot(args: argparse.Namespace) -> int:
    """Draw the customer's consumption with the tariff bands (PNG, computed locally)."""
    from . import plot, records

    t = load_tariff(args.tariff, args.supplier_key) if args.tariff else None
    with open_store(args) as st:
        pub = meter_key(args, st)
        a, b = period_of(args, t.tzname if t else "UTC")
        recs = period_records(st, pub, a, b)
    ops = records.open_all(recs, customer_key(args))
    if t is not None and not getattr(t, "linear", True):
        t = None  # no per-slot bands to shade for a non-linear tariff
    plot.plot_consumption([r.slot for r in recs], [m for m, _ in ops], t, args.out, title="meter %s" % pub["meter_id"])
    _out(args, {"file": args.out}, "wrote %s" % args.out)
    return EXIT_OK


# ------------------------------------------------------------------ registration
def _store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", default=DEFAULT_STORE, help="local store (SQLite file; default %s or $VERIWATT_STORE)" % DEFAULT_STORE)


def _meter_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--meter-key", help="the meter's public key file (meter.pub.json)")
    p.add_argument("--meter", help="meter id (16 hex digits) when the store holds several meters")


def _code_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--code", help="customer code from the meter label (or set VERIWATT_CODE; asked for if omitted)")
    p.add_argument("--code-file", help="file holding the customer code")


def _json_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print a JSON object instead of text")


def _workers(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= 256:
        raise argparse.ArgumentTypeError("--workers must be an integer from 1 to 256 (got %r)" % text)
    return n


def register(sub: Any, epilog: str) -> None:
    def add(name: str, fn: Any, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=fn.__doc__, epilog=epilog,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=fn)
        return p

    from . import demo, device

    d = add("demo", demo.cmd_demo, "the main job on simulated meters, no hardware needed")
    d.add_argument("--out", default="out/demo", help="folder for the results (default out/demo)")
    d.add_argument("--meters", type=int, default=3, help="simulated meters (default 3; the aggregation step needs at least 3)")
    d.add_argument("--month", default="2026-12", help="month to simulate and bill (default 2026-12)")
    d.add_argument("--noise", type=float, default=0.0, help="corrupt this fraction of bytes on the serial lines (e.g. 1e-3)")
    d.add_argument("--stall", type=float, default=demo.STALL_S,
                   help="give up when no reading arrives and no meter certifies a slot for this many seconds "
                        "(default %.0f; there is no overall time limit: a loaded machine only takes longer)" % demo.STALL_S)
    d.add_argument("--serve", action="store_true", help="keep the web service up at the end and print the page's address (docs/WEB.md)")
    d.add_argument("--port", type=int, default=8080, help="the web service's port with --serve (default 8080)")
    _json_arg(d)

    p = add("keygen", cmd_keygen, "make a supplier signing key (for tariffs)")
    p.add_argument("--out", default="supplier", help="file name stem: writes STEM.key.json and STEM.pub.json")
    p.add_argument("--name", help="supplier name stored in the key files")
    p.add_argument("--group", default="2048", choices=["2048", "3072"], help="group (default 2048)")
    p.add_argument("--force", action="store_true", help="overwrite an existing key")
    _json_arg(p)

    p = add("trust", cmd_trust, "the supplier keys whose signed tariffs you accept (trust store)")
    p.add_argument("action", choices=["add", "list", "remove"])
    p.add_argument("what", nargs="?", help="add: supplier public key file (supplier.pub.json); remove: its key id")
    _json_arg(p)

    p = add("tariff", cmd_tariff, "tariffs of every kind (time-of-use, index, step, cumulative, threshold, rebate)")
    p.add_argument("action", choices=["example", "sign", "verify", "show"])
    p.add_argument("file", nargs="?", help="tariff file")
    p.add_argument("--key", help="supplier secret key for `sign` (supplier.key.json)")
    p.add_argument("--supplier-key", help="supplier public key the tariff must be signed with for `verify` and "
                   "`show` (default: your trust store, see veriwatt trust)")
    p.add_argument("--out", help="output file (sign: default overwrites FILE; example: default stdout)")
    p.add_argument("--index", action="store_true", help="example: a grid value-of-energy index (same as --kind index)")
    p.add_argument("--kind", choices=["tariff", "index", "step", "cumulative", "threshold", "rebate"],
                   help="example: the kind of tariff (default tariff: time-of-use prices)")
    p.add_argument("--period", help="show: the period to summarise (default 2026-12)")
    _json_arg(p)

    p = add("fetch", cmd_fetch, "fetch certified readings from a meter into the local store")
    p.add_argument("port", help="serial port: /dev/ttyUSB0, a simulated meter's pty, or a pyserial URL")
    _store_args(p)
    p.add_argument("--meter-key", help="the meter's public key file: refuse a meter with another key")
    p.add_argument("--baud", type=int, default=115200, help="baud rate (default 115200)")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds without an answer before a retry (default 2)")
    p.add_argument("--retries", type=int, default=6, help="retries per request (default 6)")
    p.add_argument("--batch", type=int, default=64, help="readings per request (default 64)")
    p.add_argument("--from-slot", type=int, help="first slot to fetch (default: resume after the last stored)")
    p.add_argument("--to-slot", type=int, help="stop before this slot")
    p.add_argument("--no-ack", action="store_true", help="do not tell the meter it may forget fetched readings")
    p.add_argument("--code", help="customer code: with it the fetched readings are acknowledged (ACK needs the "
                   "customer's tag), without it the meter keeps them; or set VERIWATT_CODE")
    p.add_argument("--code-file", help="file holding the customer code")
    p.add_argument("--upload", metavar="URL", help="then send the meter's stored records to this service (veriwatt serve)")
    _json_arg(p)

    p = add("verify", cmd_verify, "check the stored readings of a period: signatures, completeness")
    _store_args(p)
    _meter_args(p)
    p.add_argument("--period", required=True, help="YYYY-MM, START:END slots or YYYY-MM-DD..YYYY-MM-DD")
    p.add_argument("--tz", help="time zone for months and dates in --period (default UTC), e.g. Europe/London")
    _json_arg(p)

    p = add("readings", cmd_readings, "decrypt a period's readings with the customer code")
    _store_args(p)
    _meter_args(p)
    _code_args(p)
    p.add_argument("--period", required=True, help="YYYY-MM, START:END slots or YYYY-MM-DD..YYYY-MM-DD")
    p.add_argument("--tz", help="time zone for months and dates in --period (default UTC), e.g. Europe/London")
    p.add_argument("--csv", action="store_true", help="print every slot as CSV")
    _json_arg(p)

    p = add("bill", cmd_bill, "compute a bill (or settlement, or total) with its proof")
    _store_args(p)
    _meter_args(p)
    _code_args(p)
    p.add_argument("--tariff", help="signed tariff file (a tariff of kind index gives a settlement)")
    p.add_argument("--supplier-key", help="supplier public key the tariff must be signed with (default: your trust "
                   "store, see veriwatt trust)")
    p.add_argument("--total", action="store_true", help="prove the period's total consumption instead (weights 1)")
    p.add_argument("--period", required=True, help="YYYY-MM (in the tariff's time zone), START:END slots, or DATE..DATE")
    p.add_argument("--out", default="bill.json", help="bill file to write (default bill.json)")
    p.add_argument("--workers", type=_workers, default=1,
                   help="processes for the per-slot work of step and threshold proofs (default 1)")
    _json_arg(p)

    p = add("verify-bill", cmd_verify_bill, "check a bill file with the tariff and the meter's public key")
    p.add_argument("bill", help="bill file (bill.json)")
    p.add_argument("--tariff", help="the signed tariff the bill claims")
    p.add_argument("--total", action="store_true", help="the file is a total consumption (veriwatt bill --total), not a bill")
    p.add_argument("--meter-key", required=True, help="the meter's public key (meter.pub.json)")
    p.add_argument("--supplier-key", help="the supplier public key the tariff must be signed with "
                   "(default: your trust store, see veriwatt trust)")
    p.add_argument("--workers", type=_workers, default=1,
                   help="processes for checking step and threshold proofs (default 1)")
    _json_arg(p)

    p = add("disclose", cmd_disclose, "open chosen slots for the supplier (customer's consent)")
    _store_args(p)
    _meter_args(p)
    _code_args(p)
    p.add_argument("--slots", required=True, help=SLOTS_HELP)
    p.add_argument("--note", help="free text stored in the disclosure (e.g. the reason)")
    p.add_argument("--out", default="disclosure.json", help="file to write (default disclosure.json)")
    _json_arg(p)

    p = add("verify-disclosure", cmd_verify_disclosure, "check disclosed readings against the signed commitments")
    p.add_argument("file", help="disclosure file")
    p.add_argument("--meter-key", required=True, help="the meter's public key (meter.pub.json)")
    _json_arg(p)

    p = add("plot", cmd_plot, "PNG of the consumption with the tariff bands (local)")
    _store_args(p)
    _meter_args(p)
    _code_args(p)
    p.add_argument("--tariff", help="signed tariff: shade its bands")
    p.add_argument("--supplier-key", help="supplier public key the tariff must be signed with (default: your trust "
                   "store, see veriwatt trust)")
    p.add_argument("--period", required=True, help="YYYY-MM, START:END slots or DATE..DATE")
    p.add_argument("--out", default="consumption.png", help="PNG file (default consumption.png)")
    _json_arg(p)

    device.register(add, _json_arg, _store_args)
    from . import aggregate_cli
    aggregate_cli.register(add, _json_arg)
    from . import ledger_cli
    ledger_cli.register(add, _json_arg, _workers)
