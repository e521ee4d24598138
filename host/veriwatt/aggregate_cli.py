"""`veriwatt aggregate ...`: privacy-friendly aggregation over a group of meters.

    veriwatt aggregate enroll PORT... --label L --code PORT=CODE... [--codes FILE] --out group.json
                       [--epsilon E --sensitivity WH] [--allow-partial]
    veriwatt aggregate collect PORT... --group group.json --period P --out agg.json
                       [--feeder FILE --tolerance WH --tolerance-rel R] [--threshold WH]
                       [--shares FILE] [--save-shares FILE]

The protocol (Kursawe, Danezis & Kohlweiss, PETS 2011) is in firmware/vwcore/agg.py, the
wire messages in docs/PROTOCOL.md, the files and the workflow in docs/AGGREGATION.md.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from .errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE, DeviceError, VeriwattError

GROUP_FORMAT = "veriwatt-agg-group/1"
RESULT_FORMAT = "veriwatt-aggregate/1"
SHARES_FORMAT = "veriwatt-agg-shares/1"


def _write_json(path: str, obj: Any, private: bool = False) -> None:
    from . import jsonio
    jsonio.write(path, obj, private)  # private: mode 0600 from creation


def _load_json(path: str, what: str) -> Any:
    from . import jsonio
    return jsonio.load(path, what, "aggregation")


def _say(args: argparse.Namespace, msg: str) -> None:
    if not getattr(args, "json", False):
        print(msg, flush=True)


def _open(port: str, args: argparse.Namespace) -> Any:
    from . import serial_client
    return serial_client.MeterLink(port, baud=args.baud, timeout=args.timeout, retries=args.retries, name=port)


# ------------------------------------------------------------------ group file
class GroupFile:
    def __init__(self, d: Dict[str, Any], path: str = "group.json") -> None:
        from vwcore import group
        try:
            if d.get("format") != GROUP_FORMAT:
                raise ValueError("format is %r, expected %r" % (d.get("format"), GROUP_FORMAT))
            self.label = d["label"].encode()
            self.grp = group.get(d["group"])
            self.gid = bytes.fromhex(d["gid"])
            self.x_agg = int(d["aggregator_secret"], 16) if d.get("aggregator_secret") else None
            self.pub = int(d["aggregator_pub"], 16)
            self.members = [(bytes.fromhex(m["meter_id"]), int(m["agg_pub"], 16)) for m in d["members"]]
            self.epsilon = float(d.get("epsilon", 0) or 0)
            self.sensitivity = int(d.get("sensitivity_wh", 0) or 0)
        except (KeyError, ValueError, TypeError, AttributeError) as e:
            raise VeriwattError("group file %s is malformed: %s" % (path, e))
        self.d = d

    def aggregator(self) -> Any:
        from .aggregation import Aggregator
        if self.x_agg is None:
            raise VeriwattError("this group file has no aggregator_secret: only the aggregator's copy can collect")
        A = Aggregator(self.label, self.members, self.x_agg, self.grp)
        if A.gid != self.gid:
            raise VeriwattError("group file: its members and keys give group id %s, the file says %s (edited?)"
                                % (A.gid.hex(), self.gid.hex()))
        return A


# ------------------------------------------------------------------ enroll
def _enroll_codes(args: argparse.Namespace) -> Dict[str, str]:
    """Customer codes by port or meter id (hex): --code PORT=CODE (repeated) and --codes FILE
    (JSON object {"PORT or METER_ID": "CODE", ...})."""
    codes: Dict[str, str] = {}
    if args.codes:
        d = _load_json(args.codes, "codes")
        if not isinstance(d, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in d.items()):
            raise VeriwattError("codes file %s: expected {\"PORT or METER_ID\": \"CODE\", ...}" % args.codes)
        codes.update(d)
    for c in args.code or []:
        port, sep, code = c.rpartition("=")
        if not sep or not port or not code:
            raise VeriwattError("--code %r: expected PORT=CODE (or METER_ID=CODE)" % c)
        codes[port] = code
    return codes


def cmd_enroll(args: argparse.Namespace) -> int:
    """Make an aggregation group of the meters on PORT...: read each meter's aggregation public key
    (INFO), make the aggregator key, send the group to every meter (AGG_ENROLL; each meter computes
    its pair keys once, one modexp per member) with its customer's consent (a tag made with the
    customer code: --code PORT=CODE per meter or --codes FILE), check that every meter reports the
    same group id. At least 3 meters; a port that does not answer is an error (exit 3) unless
    --allow-partial. Writes the group file (it holds the aggregator's secret: keep it private)."""
    from vwcore import agg, group

    from . import records
    from .aggregation import Aggregator

    if args.epsilon < 0 or args.sensitivity < 0 or (args.epsilon > 0) != (args.sensitivity > 0):
        raise VeriwattError("--epsilon and --sensitivity go together, both positive (or both 0: no noise)")
    codes = _enroll_codes(args)
    t0 = time.monotonic()
    links, infos, failed = [], [], []
    try:
        for port in args.ports:
            link = None
            try:
                link = _open(port, args)
                info = link.hello()
            except DeviceError as e:
                if link is not None:
                    link.close()
                failed.append((port, str(e)))
                continue
            links.append(link)
            if not info["provisioned"] or info["agg_pub"] is None:
                raise DeviceError("meter on %s is not provisioned: provision it first" % port)
            infos.append(info)
        if failed and not args.allow_partial:
            raise DeviceError("no meter answered on %s (%s): check the port%s, or give --allow-partial to make the group "
                              "of the %d meters that answered" % (failed[0][0], failed[0][1],
                                                                  "s" if len(failed) > 1 else "", len(links)))
        for port, why in failed:
            _say(args, "  skipped %s: %s (--allow-partial)" % (port, why))
        if len(links) < agg.MIN_MEMBERS:
            raise VeriwattError("a group needs at least %d meters (with 2, each learns the other's reading); %d answered"
                                % (agg.MIN_MEMBERS, len(links)))
        gids = {i["group_id"] for i in infos}
        if len(gids) != 1:
            raise VeriwattError("the meters use different group parameters (%s): one group per aggregation" % sorted(gids))
        G = group.get(gids.pop())
        ids = [i["meter_id"] for i in infos]
        if len(set(ids)) != len(ids):
            raise VeriwattError("two ports lead to the same meter (%s)" % ", ".join(sorted({m.hex() for m in ids if ids.count(m) > 1})))
        keys = []
        for link, info in zip(links, infos):
            code = codes.get(link.name) or codes.get(info["meter_id"].hex())
            if code is None:
                raise VeriwattError("no customer code for meter %s on %s: the customer consents to the group with it; give "
                                    "--code %s=CODE or a --codes file" % (info["meter_id"].hex(), link.name, link.name))
            keys.append(records.customer_key(code))
        members = [(i["meter_id"], i["agg_pub"]) for i in infos]
        x_agg = agg.secret_scalar(os.urandom(32), G)
        A = Aggregator(args.label.encode(), members, x_agg, G)
        eps_milli = int(round(args.epsilon * 1000))
        digest = agg.enroll_digest(agg.group_hash(args.label.encode(), members, A.pub, G), len(members), eps_milli,
                                   args.sensitivity)
        from .progress import Progress
        bar = Progress(len(links), "  meters enrolled", enabled=False if args.json else None)
        per_meter = []
        for link, info, ck in zip(links, infos, keys):
            t1 = time.monotonic()
            # a fresh challenge (INFO) per meter: challenges expire after wire.CHALLENGE_TTL_S of uptime
            tag = agg.enroll_tag(ck, info["meter_id"], link.hello()["challenge"], digest)
            r = link.agg_enroll(G.id, args.label.encode(), A.pub, members, eps_milli, args.sensitivity, tag)
            if r["gid"] != A.gid:
                raise DeviceError("meter %s on %s reports group id %s, expected %s: firmware fault or a changed member list"
                                  % (info["meter_id"].hex(), link.name, r["gid"].hex(), A.gid.hex()))
            per_meter.append({"meter_id": info["meter_id"].hex(), "port": link.name,
                              "seconds": round(time.monotonic() - t1, 3)})
            bar.update(1)
        bar.close()
    finally:
        for link in links:
            link.close()
    ports = [link.name for link in links]
    d = {"format": GROUP_FORMAT, "label": args.label, "group": G.name, "gid": A.gid.hex(),
         "epsilon": args.epsilon, "sensitivity_wh": args.sensitivity,
         "aggregator_pub": "%x" % A.pub, "aggregator_secret": "%x" % x_agg,
         "members": [{"meter_id": mid.hex(), "agg_pub": "%x" % y, "port": p}
                     for (mid, y), p in zip(members, ports)],
         "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
         "note": "aggregator_secret checks the meters' share MACs: keep this file private"}
    _write_json(args.out, d, private=True)
    out = {"group_file": args.out, "gid": A.gid.hex(), "members": len(members), "label": args.label,
           "epsilon": args.epsilon, "sensitivity_wh": args.sensitivity, "meters": per_meter,
           "seconds": round(time.monotonic() - t0, 3)}
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print("group %s (%r): %d meters enrolled in %.2f s, group id %s%s" % (
            args.out, args.label, len(members), out["seconds"], A.gid.hex(),
            ", noise epsilon %g / %d Wh" % (args.epsilon, args.sensitivity) if args.epsilon else ""))
    return EXIT_OK


# ------------------------------------------------------------------ collect
def _load_feeder(path: str) -> Dict[int, int]:
    d = _load_json(path, "feeder")
    if isinstance(d, dict) and "slots" in d:
        d = d["slots"]
    try:
        if isinstance(d, dict):
            return {int(k): int(v) for k, v in d.items()}
        return {int(e["slot"]): int(e["wh"]) for e in d}
    except (KeyError, ValueError, TypeError) as e:
        raise VeriwattError("feeder file %s: expected {\"slots\": {\"SLOT\": WH, ...}} or [{\"slot\": S, \"wh\": W}]: %s"
                            % (path, e))


def _load_shares(path: str) -> List[bytes]:
    d = _load_json(path, "shares")
    if isinstance(d, dict):
        d = d.get("shares", [])
    try:
        return [bytes.fromhex(s) for s in d]
    except (ValueError, TypeError) as e:
        raise VeriwattError("shares file %s: expected {\"shares\": [HEX, ...]}: %s" % (path, e))


def _period(args: argparse.Namespace) -> Tuple[Optional[int], Optional[int]]:
    from . import slots
    if args.period:
        return slots.parse_period(args.period)
    return args.from_slot, args.to_slot


def _plan(A: Any, infos: Dict[bytes, Dict[str, Any]], a: int, b: int) -> List[Tuple[str, int, int, List[bytes]]]:
    """Decide, BEFORE anything is fetched, how each slot of [a, b) is collected: ("full", lo, hi,
    []) runs where every member is present (a connected meter storing the slot, or a share from
    a file), ("recover", slot, slot + 1, missing) where some are not. A meter releases either the
    full share or one reduced share per slot, so this cannot be changed afterwards. In slot
    order (the meters refuse a reduced share at or below a slot they fetched in full)."""
    from vwcore import wire

    have: Dict[bytes, Tuple[int, int]] = {}
    for mid, i in infos.items():
        if i.get("last_slot") not in (None, wire.NO_SLOT):
            have[mid] = (i["first_slot"], i["last_slot"])
    plan: List[Tuple[str, int, int, List[bytes]]] = []
    for slot in range(a, b):
        files = set(A.present(slot))
        present = {m for m, (f, l) in have.items() if f <= slot <= l} | files
        missing = [m for m in A.ids if m not in present]
        if not missing:
            if plan and plan[-1][0] == "full" and plan[-1][2] == slot:
                plan[-1] = ("full", plan[-1][1], slot + 1, [])
            else:
                plan.append(("full", slot, slot + 1, []))
        elif present - files:
            plan.append(("recover", slot, slot + 1, missing))
    return plan


def cmd_collect(args: argparse.Namespace) -> int:
    """Collect the shares of a period from the meters on PORT... (AGG_FETCH), aggregate them per slot and
    print the group's sum, mean and variance. Which meters are present per slot is decided first
    (INFO: who answers and which slots it stores); a slot with missing meters is asked of the present
    ones as reduced shares (AGG_RECOVER), so it gives the exact statistics of the present meters
    (at least 2). A meter releases one value per slot: a slot collected once cannot be re-collected
    with another missing set. Optionally checks the sums against a feeder meter and a
    demand threshold. Exit 1 when a share was rejected or a feeder discrepancy is flagged."""
    from vwcore import agg

    from .aggregation import demand_exceeded, feeder_check
    from .progress import Progress

    t0 = time.monotonic()
    G = GroupFile(_load_json(args.group, "group"), args.group)
    A = G.aggregator()
    a, b = _period(args)
    feeder = _load_feeder(args.feeder) if args.feeder else None
    member_ids = {m for m, _ in G.members}
    links: Dict[bytes, Any] = {}
    unreachable: List[Dict[str, str]] = []
    rejected: List[Dict[str, Any]] = []
    saved: List[str] = []
    unresolved_early: Dict[int, str] = {}
    n_shares = 0

    def add(share: bytes, source: str) -> None:
        nonlocal n_shares
        try:
            if A.add_share(share):
                n_shares += 1
                saved.append(share.hex())
        except agg.AggError as e:
            slot = int.from_bytes(share[24:28], "big") if len(share) >= 28 else None
            rejected.append({"source": source, "slot": slot, "reason": str(e)})

    try:
        infos = {}
        for port in args.ports:
            link = None
            try:
                link = _open(port, args)
                info = link.hello()
            except DeviceError as e:
                if link is not None:
                    link.close()
                unreachable.append({"port": port, "reason": str(e)})
                continue
            mid = info["meter_id"]
            if mid not in member_ids:
                link.close()
                raise VeriwattError("the meter on %s (%s) is not a member of group %s" % (port, mid.hex(), G.gid.hex()))
            links[mid] = link
            infos[mid] = info
        if not links and not args.shares:
            raise DeviceError("no meter answered on %s" % ", ".join(args.ports))
        if b is None:
            last = [i["last_slot"] for i in infos.values() if i["last_slot"] != 0xFFFFFFFF]
            b = max(last) + 1 if last else None
        if a is None or b is None or b <= a:
            raise VeriwattError("give the period: --period YYYY-MM / START:END / DATE..DATE, or --from-slot [--to-slot]")
        if args.shares:
            for sh in _load_shares(args.shares):
                add(sh, args.shares)
        plan = _plan(A, infos, a, b)
        bar = Progress(len(links) * (b - a), "  shares", enabled=False if args.json else None)
        t_fetch = time.monotonic()
        t_rec_sum = 0.0
        n_recovery = 0
        failed: set = set()
        for kind, lo, hi, missing in plan:
            if kind == "full":
                for mid, link in links.items():
                    if mid in failed:
                        continue
                    try:
                        got = link.agg_fetch(lo, hi)
                    except DeviceError as e:
                        failed.add(mid)
                        unreachable.append({"port": link.name, "meter_id": mid.hex(), "reason": str(e)})
                        continue
                    for slot in sorted(got):
                        add(got[slot], mid.hex())
                    bar.update(hi - lo)
                continue
            # one slot without the missing members: each present meter sends ONE reduced share
            t1 = time.monotonic()
            try:
                miss = A.start_recovery(lo, missing)
            except agg.AggError as e:
                unresolved_early[lo] = str(e)
                continue
            for mid in A.ids:
                if mid in miss:
                    continue
                link = links.get(mid)
                if link is None or mid in failed:
                    unresolved_early[lo] = "member %s cannot send a reduced share (not connected)" % mid.hex()
                    break
                try:
                    if A.add_recovery(link.agg_recover(lo, miss)):
                        n_recovery += 1
                except (agg.AggError, DeviceError) as e:
                    unresolved_early[lo] = str(e)
                    break
            t_rec_sum += time.monotonic() - t1
        bar.close()
        t_fetch = time.monotonic() - t_fetch - t_rec_sum
        results, unresolved = [], []
        t_rec = time.monotonic()
        for slot in range(a, b):
            if slot in unresolved_early:
                unresolved.append({"slot": slot, "reason": unresolved_early[slot]})
                continue
            if not A.present(slot) and A._slot(slot).recovered_without is None:
                unresolved.append({"slot": slot, "reason": "no shares"})
                continue
            try:
                r = A.close(slot)
            except agg.AggError as e:
                unresolved.append({"slot": slot, "reason": str(e)})
                continue
            j = r.as_json()
            if args.threshold is not None:
                j["demand_exceeded"] = demand_exceeded(r, args.threshold)
            if feeder is not None and slot in feeder:
                j["feeder"] = feeder_check(r, feeder[slot], args.tolerance, args.tolerance_rel)
            results.append(j)
        t_rec = time.monotonic() - t_rec
    finally:
        for link in links.values():
            link.close()
    if args.save_shares:
        _write_json(args.save_shares, {"format": SHARES_FORMAT, "gid": G.gid.hex(), "shares": saved})
    flagged = [r["slot"] for r in results if r.get("feeder", {}).get("flagged")]
    exceeded = [r["slot"] for r in results if r.get("demand_exceeded")]
    noise = None
    if G.epsilon and G.sensitivity:
        noise = {"epsilon": G.epsilon, "sensitivity_wh": G.sensitivity,
                 "member_stddev_wh": round(agg.noise_stddev(G.epsilon, G.sensitivity), 3),
                 "note": "every member adds exact discrete Laplace noise (a = exp(-epsilon/sensitivity)); a sum of n "
                         "members has standard deviation sqrt(n) x member_stddev_wh; sum of squares with "
                         "sensitivity^2; 2 epsilon in all"}
    out = {"format": RESULT_FORMAT, "gid": G.gid.hex(), "label": G.label.decode(), "period": [a, b],
           "members": len(G.members), "meters_reached": sorted(m.hex() for m in links),
           "meters_unreachable": unreachable, "shares": n_shares, "recovery_messages": n_recovery,
           "rejected": rejected, "slots": results, "unresolved": unresolved,
           "threshold_wh": args.threshold, "threshold_exceeded": exceeded if args.threshold is not None else None,
           "feeder_flagged": flagged if feeder is not None else None, "noise": noise,
           "seconds": {"fetch": round(t_fetch, 3), "recovery_and_sums": round(t_rec + t_rec_sum, 3),
                       "total": round(time.monotonic() - t0, 3)}}
    if args.out:
        _write_json(args.out, out)
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print("group %s: %d of %d meters answered, %d shares, %d slots aggregated (%d recovered), %d unresolved, "
              "%d rejected, %.2f s" % (G.gid.hex()[:12], len(links), len(G.members), n_shares, len(results),
                                      sum(1 for r in results if r["missing"]), len(unresolved), len(rejected),
                                      out["seconds"]["total"]))
        for r in results[:args.show]:
            extra = ""
            if "feeder" in r:
                extra += "  feeder %d%s" % (r["feeder"]["feeder_wh"], " FLAGGED" if r["feeder"]["flagged"] else " ok")
            if "demand_exceeded" in r:
                extra += "  over %d Wh: %s" % (args.threshold, "YES" if r["demand_exceeded"] else "no")
            print("  slot %d  n=%d  sum %d Wh  mean %.1f Wh  variance %.1f%s%s" % (
                r["slot"], r["count"], r["sum_wh"], r["mean_wh"], r["variance"],
                "  (without %s)" % ",".join(r["missing"]) if r["missing"] else "", extra))
        if len(results) > args.show:
            print("  ... %d more slots in %s" % (len(results) - args.show, args.out or "--out FILE"))
        for e in rejected[:5]:
            print("  REJECTED share from %s (slot %s): %s" % (e["source"], e["slot"], e["reason"]))
        for e in unresolved[:5]:
            print("  unresolved slot %d: %s" % (e["slot"], e["reason"]))
        if feeder is not None:
            print("  feeder check: %d slot(s) flagged%s" % (len(flagged), (": %s" % flagged[:10]) if flagged else ""))
    return EXIT_INVALID if rejected or flagged else EXIT_OK


def cmd_share(args: argparse.Namespace) -> int:
    """Build a member's shares on the customer's device, from the readings in the local store decrypted with
    the customer code, for a meter that only certifies (no aggregation firmware): the same 60-byte shares
    the meter would send (same masks, same noise). Needs the member's agg_secret (its secret file) and the
    group file (the aggregator's secret is not needed). Output for `aggregate collect --shares`."""
    from vwcore import agg

    from . import records
    from .commands import customer_key
    from .store import Store

    G = GroupFile(_load_json(args.group, "group"), args.group)
    sec = _load_json(args.secret, "member secret")
    try:
        mid = bytes.fromhex(sec["meter_id"])
        agg_secret = bytes.fromhex(sec["agg_secret"])
    except (KeyError, ValueError, TypeError) as e:
        raise VeriwattError("member secret file %s: needs meter_id and agg_secret (hex): %s" % (args.secret, e))
    x = agg.secret_scalar(agg_secret, G.grp)
    members = dict(G.members)
    if members.get(mid) != agg.public_key(x, G.grp):
        raise VeriwattError("meter %s is not a member of this group with that aggregation key" % mid.hex())
    e = agg.Enrollment.create(x, mid, G.label, G.members, G.pub, G.grp)
    if e.gid != G.gid:
        raise VeriwattError("group file: its members and keys give group id %s, the file says %s (edited?)"
                            % (e.gid.hex(), G.gid.hex()))
    from . import slots
    a, b = slots.parse_period(args.period)
    with Store(args.store) as st:
        raw = st.records(mid.hex(), a, b)
    if not raw:
        raise VeriwattError("no readings of meter %s in %s for %s: fetch them first" % (mid.hex(), args.store, args.period))
    recs = [records.decode(r) for _, r in raw]
    ops = records.open_all(recs, customer_key(args))
    eps_milli = int(round(G.epsilon * 1000))
    nkey = agg.noise_key(agg_secret, G.gid, mid) if eps_milli and G.sensitivity else None
    shares = []
    for r, (m, _) in zip(recs, ops):
        n1, n2 = agg.member_noise(nkey, r.slot, eps_milli, G.sensitivity) if nkey else (0, 0)
        shares.append(e.share(r.slot, m, n1, n2).hex())
    _write_json(args.out, {"format": SHARES_FORMAT, "gid": G.gid.hex(), "meter_id": mid.hex(), "shares": shares})
    if args.json:
        print(json.dumps({"file": args.out, "shares": len(shares), "gid": G.gid.hex(), "meter_id": mid.hex()}))
    else:
        print("%d shares of meter %s for group %s written to %s" % (len(shares), mid.hex(), G.gid.hex()[:12], args.out))
    return EXIT_OK


def cmd_aggregate(args: argparse.Namespace) -> int:
    """Privacy-friendly aggregation: enroll a group of meters, collect per-slot sums, means and
    variances without learning any single meter's reading (docs/AGGREGATION.md)."""
    args.agg_parser.print_help(sys.stderr)
    return EXIT_USAGE


def register(add: Callable[..., argparse.ArgumentParser], json_arg: Callable) -> None:
    p = add("aggregate", cmd_aggregate, "privacy-friendly aggregation over a group of meters (enroll, collect)")
    p.set_defaults(agg_parser=p)
    sub = p.add_subparsers(title="aggregate commands", metavar="COMMAND")

    def line_args(q: argparse.ArgumentParser) -> None:
        q.add_argument("ports", nargs="+", metavar="PORT", help="serial ports of the meters (ttys, simulated ptys, pyserial URLs)")
        q.add_argument("--baud", type=int, default=115200, help="baud rate (default 115200)")
        q.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for an answer (default 2)")
        q.add_argument("--retries", type=int, default=3, help="retries per request (default 3)")

    e = sub.add_parser("enroll", help="make a group: send the member list to each meter, write group.json",
                       description=cmd_enroll.__doc__)
    e.set_defaults(func=cmd_enroll)
    line_args(e)
    e.add_argument("--label", required=True, help="group label, e.g. the feeder's name (1..64 bytes)")
    e.add_argument("--out", default="group.json", help="group file to write (default group.json; private)")
    e.add_argument("--epsilon", type=float, default=0.0, help="differential privacy: epsilon per published sum (default 0: off)")
    e.add_argument("--sensitivity", type=int, default=0, help="differential privacy: largest reading one meter adds, Wh")
    e.add_argument("--code", action="append", metavar="PORT=CODE",
                   help="customer code of the meter on PORT (or METER_ID=CODE): the customer's consent; repeat per meter")
    e.add_argument("--codes", help="JSON file {\"PORT or METER_ID\": \"CODE\", ...} with the members' customer codes")
    e.add_argument("--allow-partial", action="store_true",
                   help="make the group of the meters that answer (default: a port that does not answer is an error, exit 3)")
    json_arg(e)

    c = sub.add_parser("collect", help="fetch shares, aggregate per slot (with recovery), feeder and threshold checks",
                       description=cmd_collect.__doc__)
    c.set_defaults(func=cmd_collect)
    line_args(c)
    c.add_argument("--group", required=True, help="group file from `aggregate enroll`")
    c.add_argument("--period", help="YYYY-MM, START:END slots (end exclusive) or DATE..DATE")
    c.add_argument("--from-slot", type=int, help="first slot (instead of --period)")
    c.add_argument("--to-slot", type=int, help="end slot, exclusive (default: after the newest reading)")
    c.add_argument("--out", help="write the result JSON here (format in docs/AGGREGATION.md)")
    c.add_argument("--feeder", help="feeder meter readings: JSON {\"slots\": {\"SLOT\": WH}}")
    c.add_argument("--tolerance", type=int, default=0, help="feeder check: allowed difference, Wh (default 0)")
    c.add_argument("--tolerance-rel", type=float, default=0.0, help="feeder check: allowed relative difference (e.g. 0.02)")
    c.add_argument("--threshold", type=int, help="demand management: report per slot whether the sum exceeds this many Wh")
    c.add_argument("--shares", help="add shares from a file ({\"shares\": [HEX...]}), e.g. built on a customer's device")
    c.add_argument("--save-shares", help="write every accepted share to this file")
    c.add_argument("--show", type=int, default=6, help="slots to print (default 6)")
    json_arg(c)

    from . import scale_cli
    scale_cli.register_aggregate(sub)  # `aggregate run`: many groups on Dask

    s = sub.add_parser("share", help="build a member's shares from decrypted readings (meters that only certify)",
                       description=cmd_share.__doc__)
    s.set_defaults(func=cmd_share)
    s.add_argument("--group", required=True, help="group file (the aggregator's secret is not needed)")
    s.add_argument("--secret", required=True, help="the member's secret file (meter.secret.json: meter_id, agg_secret)")
    s.add_argument("--store", default=os.environ.get("VERIWATT_STORE", "veriwatt.db"), help="local store with the fetched readings")
    s.add_argument("--code", help="customer code (or VERIWATT_CODE)")
    s.add_argument("--code-file", help="file holding the customer code")
    s.add_argument("--period", required=True, help="YYYY-MM, START:END slots (end exclusive) or DATE..DATE")
    s.add_argument("--out", default="shares.json", help="file to write (default shares.json)")
    json_arg(s)
