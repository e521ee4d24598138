"""`veriwatt ledger ...`: the supplier's ledger of billed cycles (veriwatt.ledger).

    veriwatt ledger record BILL --ledger L.db --tariff T --supplier-key K --meter-key M
    veriwatt ledger gaps --ledger L.db --meter METER_ID --from 2026-10 --to 2026-12 [--tariff T]
    veriwatt ledger list --ledger L.db [--meter METER_ID]

Exit codes: 0 ok (recorded; no gap), 1 refused (invalid bill, cycle already billed or
overlapping, gaps found), 2 bad input. JSON outputs: docs/FORMATS.md.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List

from .errors import EXIT_INVALID, EXIT_OK, InvalidError, VeriwattError

DEFAULT_LEDGER = "ledger.db"


def _out(args: argparse.Namespace, obj: Any, text: str) -> None:
    print(json.dumps(obj, indent=1, sort_keys=True) if getattr(args, "json", False) else text)


def _read_bill(path: str) -> tuple:
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise VeriwattError("bill file %s not found" % path)
    except IsADirectoryError:
        raise VeriwattError("bill path %s is a folder, not a file" % path)
    except OSError as e:
        raise VeriwattError("cannot read bill file %s: %s" % (path, e.strerror or e))
    try:
        return raw, json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise VeriwattError("bill file %s is not valid JSON: %s" % (path, e))


def cmd_record(args: argparse.Namespace) -> int:
    from . import bill, keys, ledger
    from .commands import load_tariff

    if not args.supplier_key:
        raise VeriwattError("give the supplier's own public key: --supplier-key supplier.pub.json (the ledger records "
                            "bills under tariffs you signed)")
    raw, B = _read_bill(args.bill)
    pub = keys.load_public(args.meter_key, "meter")
    t = load_tariff(args.tariff, args.supplier_key)
    if isinstance(B, dict) and B.get("kind") == "total":
        raise VeriwattError("%s is a total (no tariff, no billing cycle): the ledger records bills" % args.bill)
    try:
        bill.verify_bill(B, t, pub, workers=args.workers)
        with ledger.Ledger(args.ledger) as L:
            row = L.record(B, raw, t)
    except InvalidError as e:
        if args.json:
            print(json.dumps({"recorded": False, "bill": args.bill, "reason": str(e)}, indent=1, sort_keys=True))
        else:
            print("bill %s: REFUSED: %s" % (args.bill, e), file=sys.stderr)
        return EXIT_INVALID
    res = dict(row, recorded=True, bill=args.bill, ledger=args.ledger)
    res.pop("cycle_def", None)
    _out(args, res, "recorded %s: meter %s, %s charge, cycle %s (%s), %s, in %s"
         % (args.bill, row["meter_id"], row["charge"], row["cycle"], _describe(row), row["amount"], args.ledger))
    return EXIT_OK


def _describe(row: Dict[str, Any]) -> str:
    from . import slots
    return slots.describe(row["start_slot"], row["end_slot"])


def cmd_gaps(args: argparse.Namespace) -> int:
    from . import ledger, slots
    from .commands import load_tariff

    t = load_tariff(args.tariff, args.supplier_key) if args.tariff else None
    with ledger.Ledger(args.ledger, create=False) as L:
        if t is not None:
            todo = [(ledger.charge_of({"index": "settlement"}.get(t.kind, t.kind)), t.cycle)]
        else:
            charges = [args.charge] if args.charge else L.charges(args.meter)
            todo = []
            for c in charges:
                lc = L.latest_cycle(args.meter, c)
                if lc is None:
                    raise VeriwattError("no %s bill of meter %s is in %s: give --tariff T to know its billing cycle"
                                        % (c, args.meter, args.ledger))
                todo.append((c, lc[0]))
            if not todo:
                raise VeriwattError("no bill of meter %s is in %s: give --tariff T to know its billing cycle"
                                    % (args.meter, args.ledger))
        reports: List[Dict[str, Any]] = []
        for charge, cyc in todo:
            a = slots.month_range(args.from_month, cyc.zone_name)[0]
            b = slots.month_range(args.to_month, cyc.zone_name)[1]
            if b <= a:
                raise VeriwattError("--to %s is before --from %s" % (args.to_month, args.from_month))
            reports.append(L.gaps(args.meter, charge, cyc, a, b))
    gaps = [g for r in reports for g in r["gaps"]]
    res = {"meter_id": args.meter, "from": args.from_month, "to": args.to_month, "charges": reports, "gaps": gaps}
    lines = ["meter %s, %s .. %s: %s" % (args.meter, args.from_month, args.to_month,
                                        "no gap" if not gaps else "%d cycle(s) not billed" % len(gaps))]
    for r in reports:
        lines.append("  %s charge: %d cycle(s) checked" % (r["charge"], r["cycles_checked"]))
    lines += ["  gap: %s charge, cycle %s (%s)%s" % (g["charge"], g["cycle"], _describe(g),
              "" if not g["billed_slots"] else ", %d of %d slots billed" % (g["billed_slots"], g["slots"])) for g in gaps]
    _out(args, res, "\n".join(lines))
    return EXIT_INVALID if gaps else EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    from . import ledger

    with ledger.Ledger(args.ledger, create=False) as L:
        rows = L.rows(args.meter)
    for r in rows:
        r.pop("cycle_def", None)
    lines = ["%d bill(s) in %s" % (len(rows), args.ledger)]
    lines += ["  %s %-15s %-9s %-12s %s  %s" % (r["meter_id"], r["charge"], r["cycle"], r["kind"], r["amount"], r["bill_digest"][:23])
              for r in rows]
    _out(args, {"ledger": args.ledger, "bills": rows}, "\n".join(lines))
    return EXIT_OK


def cmd_ledger(args: argparse.Namespace) -> int:
    """The supplier's ledger of billed cycles (one SQLite file): each cycle of a meter is billed once.

  veriwatt ledger record bill.json --ledger ledger.db --tariff tariff.json \\
      --supplier-key supplier.pub.json --meter-key meter.pub.json
  veriwatt ledger gaps --ledger ledger.db --meter METER_ID --from 2026-10 --to 2026-12
  veriwatt ledger list --ledger ledger.db

record verifies the bill first (as verify-bill), then records it; it refuses a second bill of
the same meter and charge for the same cycle (even a different bill) or an overlapping
period. gaps lists the cycles with no recorded bill (exit 1 when there are some)."""
    return {"record": cmd_record, "gaps": cmd_gaps, "list": cmd_list}[args.action](args)


def register(add: Callable[..., argparse.ArgumentParser], json_arg: Callable[[argparse.ArgumentParser], None],
             workers: Callable[[str], int]) -> None:
    p = add("ledger", cmd_ledger, "the supplier's ledger of billed cycles: record, gaps, list")
    p.add_argument("action", choices=["record", "gaps", "list"])
    p.add_argument("bill", nargs="?", help="record: the bill file")
    p.add_argument("--ledger", default=DEFAULT_LEDGER, help="ledger file (SQLite; default %s)" % DEFAULT_LEDGER)
    p.add_argument("--tariff", help="record: the signed tariff of the bill; gaps: take the cycle from it")
    p.add_argument("--supplier-key", help="the supplier's public key (record: required)")
    p.add_argument("--meter-key", help="record: the meter's public key (meter.pub.json)")
    p.add_argument("--meter", help="gaps (required), list: the meter id")
    p.add_argument("--charge", choices=["energy", "settlement", "demand-response", "rebate"],
                   help="gaps: only this charge (default: every charge recorded for the meter)")
    p.add_argument("--from", dest="from_month", help="gaps: first month YYYY-MM (in the cycle's time zone)")
    p.add_argument("--to", dest="to_month", help="gaps: last month YYYY-MM, included")
    p.add_argument("--workers", type=workers, default=1, help="record: processes for step and threshold proofs")
    json_arg(p)
    p.set_defaults(func=_checked)


def _checked(args: argparse.Namespace) -> int:
    need = {"record": ("bill", "tariff", "meter_key"), "gaps": ("meter", "from_month", "to_month"), "list": ()}
    flag = {"bill": "BILL", "tariff": "--tariff", "meter_key": "--meter-key", "meter": "--meter",
            "from_month": "--from", "to_month": "--to"}
    missing = [flag[k] for k in need[args.action] if not getattr(args, k, None)]
    if missing:
        raise VeriwattError("ledger %s needs %s (veriwatt ledger --help)" % (args.action, ", ".join(missing)))
    return cmd_ledger(args)
