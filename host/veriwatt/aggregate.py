# SPDX-License-Identifier: MIT
"""Privacy-friendly aggregation over a group of meters (a library: `veriwatt aggregate` wraps it).

    enroll(["/dev/ttyUSB0", ...], label="feeder 7", codes={PORT_OR_METER_ID: CODE}, out="group.json")
    collect(["/dev/ttyUSB0", ...], group="group.json", period="2026-12-01", out="agg.json")
    share(group="group.json", secret="meter.secret.json", store="v.db", period="2026-12", customer_key=K)

`meters` are serial ports (opened and closed here) or open serial_client.MeterLink objects
(used as they are, left open). The protocol (Kursawe, Danezis & Kohlweiss, PETS 2011) is in
firmware/vwcore/agg.py, the wire messages in docs/PROTOCOL.md, the files and the workflow in
docs/AGGREGATION.md.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import jsonio
from .errors import DeviceError, VeriwattError
from .serial_client import DEFAULT_BAUD, DEFAULT_RETRIES, DEFAULT_TIMEOUT

GROUP_FORMAT = "veriwatt-agg-group/1"
RESULT_FORMAT = "veriwatt-aggregate/1"
SHARES_FORMAT = "veriwatt-agg-shares/1"
Meter = Union[str, Any]  # a port, or an open MeterLink
Progress = Optional[Callable[[int, int], None]]


def _load_json(path: str, what: str) -> Any:
    return jsonio.load(path, what, "aggregation")


class _Links:
    """The meters of one run: ports are opened (and closed by close()); given links are kept open."""

    def __init__(self, baud: int, timeout: float, retries: int) -> None:
        self.opts = (baud, timeout, retries)
        self.opened: List[Any] = []

    def open(self, meter: Meter) -> Any:
        from . import serial_client

        if not isinstance(meter, str):
            return meter
        link = serial_client.MeterLink(meter, baud=self.opts[0], timeout=self.opts[1], retries=self.opts[2], name=meter)
        self.opened.append(link)
        return link

    def drop(self, link: Any) -> None:
        if link in self.opened:
            self.opened.remove(link)
            link.close()

    def close(self) -> None:
        for link in self.opened:
            link.close()
        self.opened = []

    def reach(self, meters: Sequence[Meter]) -> Tuple[List[Tuple[Any, Dict[str, Any]]], List[Tuple[str, str]]]:
        """(link, INFO) of the meters that answer; (port, why) of those that do not."""
        got, failed = [], []
        for m in meters:
            link = None
            try:
                link = self.open(m)
                got.append((link, link.hello()))
            except DeviceError as e:
                if link is not None:
                    self.drop(link)
                failed.append((m if isinstance(m, str) else getattr(m, "name", "?"), str(e)))
        return got, failed


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
            raise VeriwattError(
                "group file: its members and keys give group id %s, the file says %s (edited?)"
                % (A.gid.hex(), self.gid.hex())
            )
        return A


# ------------------------------------------------------------------ enroll
def load_codes(codes_file: Optional[str] = None, pairs: Sequence[str] = ()) -> Dict[str, str]:
    """Customer codes by port or meter id (hex): a JSON file {"PORT or METER_ID": "CODE", ...}
    and PORT=CODE (or METER_ID=CODE) pairs, the pairs winning."""
    codes: Dict[str, str] = {}
    if codes_file:
        d = _load_json(codes_file, "codes")
        if not isinstance(d, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in d.items()):
            raise VeriwattError("codes file %s: expected {\"PORT or METER_ID\": \"CODE\", ...}" % codes_file)
        codes.update(d)
    for c in pairs:
        port, sep, code = c.rpartition("=")
        if not sep or not port or not code:
            raise VeriwattError("--code %r: expected PORT=CODE (or METER_ID=CODE)" % c)
        codes[port] = code
    return codes


def _members(got: List[Tuple[Any, Dict[str, Any]]]) -> Any:
    """The group parameters of the answering meters (at least MIN_MEMBERS, one group, no meter twice)."""
    from vwcore import agg, group

    for link, inf in got:
        if not inf["provisioned"] or inf["agg_pub"] is None:
            raise DeviceError("meter on %s is not provisioned: provision it first" % link.name)
    if len(got) < agg.MIN_MEMBERS:
        raise VeriwattError(
            "a group needs at least %d meters (with 2, each learns the other's reading); %d answered"
            % (agg.MIN_MEMBERS, len(got))
        )
    gids = {i["group_id"] for _, i in got}
    if len(gids) != 1:
        raise VeriwattError("the meters use different group parameters (%s): one group per aggregation" % sorted(gids))
    ids = [i["meter_id"] for _, i in got]
    if len(set(ids)) != len(ids):
        raise VeriwattError(
            "two ports lead to the same meter (%s)" % ", ".join(sorted({m.hex() for m in ids if ids.count(m) > 1}))
        )
    return group.get(gids.pop())


def _consent_key(codes: Dict[str, Union[str, bytes]], link: Any, inf: Dict[str, Any]) -> bytes:
    """The customer key of this member (its code, or the key itself) by port name or meter id."""
    from . import records

    code = codes.get(link.name) or codes.get(inf["meter_id"].hex())
    if code is None:
        raise VeriwattError(
            "no customer code for meter %s on %s: the customer consents to the group with it; give "
            "--code %s=CODE or a --codes file" % (inf["meter_id"].hex(), link.name, link.name)
        )
    return code if isinstance(code, bytes) else records.customer_key(code)


def _send_group(
    got: List[Tuple[Any, Dict[str, Any]]],
    keys: List[bytes],
    A: Any,
    G: Any,
    label: bytes,
    eps_milli: int,
    sensitivity: int,
    progress: Progress,
) -> List[Dict[str, Any]]:
    """AGG_ENROLL on every member with its customer's tag; every meter must report the group id."""
    from vwcore import agg

    members = [(i["meter_id"], i["agg_pub"]) for _, i in got]
    digest = agg.enroll_digest(agg.group_hash(label, members, A.pub, G), len(members), eps_milli, sensitivity)
    per_meter = []
    for k, ((link, inf), ck) in enumerate(zip(got, keys)):
        t1 = time.monotonic()
        # a fresh challenge (INFO) per meter: challenges expire after wire.CHALLENGE_TTL_S of uptime
        tag = agg.enroll_tag(ck, inf["meter_id"], link.hello()["challenge"], digest)
        r = link.agg_enroll(G.id, label, A.pub, members, eps_milli, sensitivity, tag)
        if r["gid"] != A.gid:
            raise DeviceError(
                "meter %s on %s reports group id %s, expected %s: firmware fault or a changed member list"
                % (inf["meter_id"].hex(), link.name, r["gid"].hex(), A.gid.hex())
            )
        per_meter.append(
            {"meter_id": inf["meter_id"].hex(), "port": link.name, "seconds": round(time.monotonic() - t1, 3)}
        )
        if progress:
            progress(k + 1, len(got))
    return per_meter


def enroll(
    meters: Sequence[Meter],
    label: str,
    codes: Dict[str, Union[str, bytes]],
    out: str = "group.json",
    epsilon: float = 0.0,
    sensitivity: int = 0,
    allow_partial: bool = False,
    baud: int = DEFAULT_BAUD,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    progress: Progress = None,
    note: Optional[Callable[[str], None]] = None,
) -> Dict[str, Any]:
    """Make an aggregation group of `meters` (ports or open links): read each meter's aggregation
    public key (INFO), make the aggregator key, send the group to every meter (AGG_ENROLL; each
    computes its pair keys once) with its customer's consent (a tag made with the customer code
    or key in `codes`, by port or meter id), check that every meter reports the same group id.
    At least 3 meters; a meter that does not answer is a DeviceError unless `allow_partial`.
    Writes the group file `out` (mode 0600 from creation: it holds the aggregator's secret) and
    returns {"group_file", "gid", "members", "label", "epsilon", "sensitivity_wh", "meters", "seconds"}."""
    from vwcore import agg

    from .aggregation import Aggregator

    if epsilon < 0 or sensitivity < 0 or (epsilon > 0) != (sensitivity > 0):
        raise VeriwattError("--epsilon and --sensitivity go together, both positive (or both 0: no noise)")
    t0 = time.monotonic()
    links = _Links(baud, timeout, retries)
    try:
        got, failed = links.reach(meters)
        if failed and not allow_partial:
            raise DeviceError(
                "no meter answered on %s (%s): check the port%s, or give --allow-partial to make the group "
                "of the %d meters that answered"
                % (failed[0][0], failed[0][1], "s" if len(failed) > 1 else "", len(got))
            )
        for port, why in failed:
            (note or _quiet)("  skipped %s: %s (--allow-partial)" % (port, why))
        G = _members(got)
        keys = [_consent_key(codes, link, inf) for link, inf in got]
        members = [(i["meter_id"], i["agg_pub"]) for _, i in got]
        x_agg = agg.secret_scalar(os.urandom(32), G)
        A = Aggregator(label.encode(), members, x_agg, G)
        per_meter = _send_group(got, keys, A, G, label.encode(), int(round(epsilon * 1000)), sensitivity, progress)
    finally:
        links.close()
    jsonio.write(
        out, group_doc(label, G, A, x_agg, members, [link.name for link, _ in got], epsilon, sensitivity), private=True
    )
    return {
        "group_file": out,
        "gid": A.gid.hex(),
        "members": len(members),
        "label": label,
        "epsilon": epsilon,
        "sensitivity_wh": sensitivity,
        "meters": per_meter,
        "seconds": round(time.monotonic() - t0, 3),
    }


def _quiet(msg: str) -> None:
    pass


def group_doc(
    label: str,
    G: Any,
    A: Any,
    x_agg: int,
    members: List[Tuple[bytes, int]],
    ports: List[str],
    epsilon: float = 0.0,
    sensitivity: int = 0,
) -> Dict[str, Any]:
    """The group file (docs/AGGREGATION.md): the aggregator's copy, with its secret."""
    return {
        "format": GROUP_FORMAT,
        "label": label,
        "group": G.name,
        "gid": A.gid.hex(),
        "epsilon": epsilon,
        "sensitivity_wh": sensitivity,
        "aggregator_pub": "%x" % A.pub,
        "aggregator_secret": "%x" % x_agg,
        "members": [{"meter_id": mid.hex(), "agg_pub": "%x" % y, "port": p} for (mid, y), p in zip(members, ports)],
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "note": "aggregator_secret checks the meters' share MACs: keep this file private",
    }


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
        raise VeriwattError(
            "feeder file %s: expected {\"slots\": {\"SLOT\": WH, ...}} or [{\"slot\": S, \"wh\": W}]: %s" % (path, e)
        )


def _load_shares(path: str) -> List[bytes]:
    d = _load_json(path, "shares")
    if isinstance(d, dict):
        d = d.get("shares", [])
    try:
        return [bytes.fromhex(s) for s in d]
    except (ValueError, TypeError) as e:
        raise VeriwattError("shares file %s: expected {\"shares\": [HEX, ...]}: %s" % (path, e))


def _period(
    period: Optional[str], from_slot: Optional[int], to_slot: Optional[int]
) -> Tuple[Optional[int], Optional[int]]:
    from . import slots

    if period:
        return slots.parse_period(period)
    return from_slot, to_slot


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


class _Run:
    """The state of one collection: the shares accepted, rejected, and slots that cannot close."""

    def __init__(self, A: Any, progress: Progress, total: int) -> None:
        self.A, self.progress, self.total = A, progress, total
        self.shares, self.recovery, self.done = 0, 0, 0
        self.saved: List[str] = []
        self.rejected: List[Dict[str, Any]] = []
        self.unreachable: List[Dict[str, str]] = []
        self.unresolved: Dict[int, str] = {}
        self.failed: set = set()
        self.t_recovery = 0.0

    def add(self, share: bytes, source: str) -> None:
        from vwcore import agg

        try:
            if self.A.add_share(share):
                self.shares += 1
                self.saved.append(share.hex())
        except agg.AggError as e:
            slot = int.from_bytes(share[24:28], "big") if len(share) >= 28 else None
            self.rejected.append({"source": source, "slot": slot, "reason": str(e)})

    def full(self, links: Dict[bytes, Any], lo: int, hi: int) -> None:
        """Every member present: each connected meter's full shares of [lo, hi) (AGG_FETCH)."""
        for mid, link in links.items():
            if mid in self.failed:
                continue
            try:
                got = link.agg_fetch(lo, hi)
            except DeviceError as e:
                self.failed.add(mid)
                self.unreachable.append({"port": link.name, "meter_id": mid.hex(), "reason": str(e)})
                continue
            for slot in sorted(got):
                self.add(got[slot], mid.hex())
            self.done += hi - lo
            if self.progress:
                self.progress(self.done, self.total)

    def recover(self, links: Dict[bytes, Any], slot: int, missing: List[bytes]) -> None:
        """One slot without the missing members: each present meter sends ONE reduced share (AGG_RECOVER)."""
        from vwcore import agg

        t1 = time.monotonic()
        try:
            miss = self.A.start_recovery(slot, missing)
        except agg.AggError as e:
            self.unresolved[slot] = str(e)
            return
        for mid in self.A.ids:
            if mid in miss:
                continue
            link = links.get(mid)
            if link is None or mid in self.failed:
                self.unresolved[slot] = "member %s cannot send a reduced share (not connected)" % mid.hex()
                break
            try:
                if self.A.add_recovery(link.agg_recover(slot, miss)):
                    self.recovery += 1
            except (agg.AggError, DeviceError) as e:
                self.unresolved[slot] = str(e)
                break
        self.t_recovery += time.monotonic() - t1

    def close(
        self,
        a: int,
        b: int,
        threshold: Optional[int],
        feeder: Optional[Dict[int, int]],
        tolerance: int,
        tolerance_rel: float,
    ) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
        """(per-slot results, unresolved slots) of [a, b), with the feeder and threshold checks."""
        from vwcore import agg

        from .aggregation import demand_exceeded, feeder_check

        results, unresolved = [], []
        for slot in range(a, b):
            why = self.unresolved.get(slot)
            if why is None and not self.A.present(slot) and self.A._slot(slot).recovered_without is None:
                why = "no shares"
            if why is None:
                try:
                    r = self.A.close(slot)
                except agg.AggError as e:
                    why = str(e)
            if why is not None:
                unresolved.append({"slot": slot, "reason": why})
                continue
            j = r.as_json()
            if threshold is not None:
                j["demand_exceeded"] = demand_exceeded(r, threshold)
            if feeder is not None and slot in feeder:
                j["feeder"] = feeder_check(r, feeder[slot], tolerance, tolerance_rel)
            results.append(j)
        return results, unresolved


def _connect(
    links: _Links, meters: Sequence[Meter], G: GroupFile, run: _Run
) -> Tuple[Dict[bytes, Any], Dict[bytes, Any]]:
    """The members that answer, by meter id (links, INFOs); a meter of another group is an error."""
    member_ids = {m for m, _ in G.members}
    got, failed = links.reach(meters)
    run.unreachable += [{"port": port, "reason": why} for port, why in failed]
    by_id, infos = {}, {}
    for link, inf in got:
        if inf["meter_id"] not in member_ids:
            raise VeriwattError(
                "the meter on %s (%s) is not a member of group %s" % (link.name, inf["meter_id"].hex(), G.gid.hex())
            )
        by_id[inf["meter_id"]], infos[inf["meter_id"]] = link, inf
    return by_id, infos


def _noise(G: GroupFile) -> Optional[Dict[str, Any]]:
    from vwcore import agg

    if not (G.epsilon and G.sensitivity):
        return None
    return {
        "epsilon": G.epsilon,
        "sensitivity_wh": G.sensitivity,
        "member_stddev_wh": round(agg.noise_stddev(G.epsilon, G.sensitivity), 3),
        "note": "every member adds exact discrete Laplace noise (a = exp(-epsilon/sensitivity)); a sum of n "
        "members has standard deviation sqrt(n) x member_stddev_wh; sum of squares with "
        "sensitivity^2; 2 epsilon in all",
    }


def collect(
    meters: Sequence[Meter],
    group: str,
    period: Optional[str] = None,
    from_slot: Optional[int] = None,
    to_slot: Optional[int] = None,
    out: Optional[str] = None,
    feeder: Union[None, str, Dict[int, int]] = None,
    tolerance: int = 0,
    tolerance_rel: float = 0.0,
    threshold: Optional[int] = None,
    shares: Optional[str] = None,
    save_shares: Optional[str] = None,
    baud: int = DEFAULT_BAUD,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    progress: Progress = None,
) -> Dict[str, Any]:
    """Collect the shares of a period from `meters` (AGG_FETCH), aggregate them per slot: the group's
    sum, mean and variance (docs/AGGREGATION.md). Which meters are present per slot is decided
    first (INFO: who answers and which slots it stores); a slot with missing meters is asked of
    the present ones as reduced shares (AGG_RECOVER): the exact statistics of the present meters
    (at least 2). A meter releases one value per slot. `feeder` (a file or {slot: Wh}) and
    `threshold` add per-slot checks. Returns the result (format veriwatt-aggregate/1), also
    written to `out`; "rejected" or "feeder_flagged" non-empty means trouble (the CLI exits 1)."""
    t0 = time.monotonic()
    G = GroupFile(_load_json(group, "group"), group)
    A = G.aggregator()
    a, b = _period(period, from_slot, to_slot)
    feed = _load_feeder(feeder) if isinstance(feeder, str) else feeder
    links = _Links(baud, timeout, retries)
    run = _Run(A, progress, 0)
    try:
        by_id, infos = _connect(links, meters, G, run)
        if not by_id and not shares:
            raise DeviceError(
                "no meter answered on %s" % ", ".join(m if isinstance(m, str) else m.name for m in meters)
            )
        if b is None:
            last = [i["last_slot"] for i in infos.values() if i["last_slot"] != 0xFFFFFFFF]
            b = max(last) + 1 if last else None
        if a is None or b is None or b <= a:
            raise VeriwattError(
                "give the period: --period YYYY-MM / START:END / DATE..DATE, or --from-slot [--to-slot]"
            )
        for sh in _load_shares(shares) if shares else []:
            run.add(sh, shares)
        run.total = len(by_id) * (b - a)
        t_fetch = time.monotonic()
        for kind, lo, hi, missing in _plan(A, infos, a, b):
            run.full(by_id, lo, hi) if kind == "full" else run.recover(by_id, lo, missing)
        t_fetch = time.monotonic() - t_fetch - run.t_recovery
        t_rec = time.monotonic()
        results, unresolved = run.close(a, b, threshold, feed, tolerance, tolerance_rel)
        t_rec = time.monotonic() - t_rec
    finally:
        links.close()
    if save_shares:
        jsonio.write(save_shares, {"format": SHARES_FORMAT, "gid": G.gid.hex(), "shares": run.saved})
    res = {
        "format": RESULT_FORMAT,
        "gid": G.gid.hex(),
        "label": G.label.decode(),
        "period": [a, b],
        "members": len(G.members),
        "meters_reached": sorted(m.hex() for m in by_id),
        "meters_unreachable": run.unreachable,
        "shares": run.shares,
        "recovery_messages": run.recovery,
        "rejected": run.rejected,
        "slots": results,
        "unresolved": unresolved,
        "threshold_wh": threshold,
        "threshold_exceeded": [r["slot"] for r in results if r.get("demand_exceeded")]
        if threshold is not None
        else None,
        "feeder_flagged": [r["slot"] for r in results if r.get("feeder", {}).get("flagged")]
        if feed is not None
        else None,
        "noise": _noise(G),
        "seconds": {
            "fetch": round(t_fetch, 3),
            "recovery_and_sums": round(t_rec + run.t_recovery, 3),
            "total": round(time.monotonic() - t0, 3),
        },
    }
    if out:
        jsonio.write(out, res)
    return res


def _member(G: GroupFile, secret: str) -> Tuple[bytes, bytes, Any]:
    """(meter id, agg_secret, its enrollment) from the member's secret file, checked against the group."""
    from vwcore import agg

    sec = _load_json(secret, "member secret")
    try:
        mid = bytes.fromhex(sec["meter_id"])
        agg_secret = bytes.fromhex(sec["agg_secret"])
    except (KeyError, ValueError, TypeError) as e:
        raise VeriwattError("member secret file %s: needs meter_id and agg_secret (hex): %s" % (secret, e))
    x = agg.secret_scalar(agg_secret, G.grp)
    if dict(G.members).get(mid) != agg.public_key(x, G.grp):
        raise VeriwattError("meter %s is not a member of this group with that aggregation key" % mid.hex())
    e = agg.Enrollment.create(x, mid, G.label, G.members, G.pub, G.grp)
    if e.gid != G.gid:
        raise VeriwattError(
            "group file: its members and keys give group id %s, the file says %s (edited?)" % (e.gid.hex(), G.gid.hex())
        )
    return mid, agg_secret, e


def share(
    group: str, secret: str, store: str, period: str, customer_key: Any, out: str = "shares.json"
) -> Dict[str, Any]:
    """Build a member's shares on the customer's device, from the readings in the local store
    decrypted with the customer key, for a meter that only certifies (no aggregation firmware):
    the same 60-byte shares the meter would send (same masks, same noise). Needs the member's
    agg_secret (its secret file) and the group file (not the aggregator's secret). Writes `out`
    (for `aggregate collect --shares`); returns {"file", "shares", "gid", "meter_id"}."""
    from vwcore import agg

    from . import records, slots
    from .store import Store

    G = GroupFile(_load_json(group, "group"), group)
    mid, agg_secret, e = _member(G, secret)
    a, b = slots.parse_period(period)
    with Store(store) as st:
        raw = st.records(mid.hex(), a, b)
    if not raw:
        raise VeriwattError("no readings of meter %s in %s for %s: fetch them first" % (mid.hex(), store, period))
    if callable(customer_key):
        customer_key = customer_key()
    if customer_key is None:
        raise VeriwattError(
            "the customer code is needed to decrypt the readings: give --code XXXXX-XXXXX-..., "
            "--code-file FILE or set VERIWATT_CODE"
        )
    recs = [records.decode(r) for _, r in raw]
    ops = records.open_all(recs, customer_key)
    eps_milli = int(round(G.epsilon * 1000))
    nkey = agg.noise_key(agg_secret, G.gid, mid) if eps_milli and G.sensitivity else None
    shares = []
    for r, (m, _) in zip(recs, ops):
        n1, n2 = agg.member_noise(nkey, r.slot, eps_milli, G.sensitivity) if nkey else (0, 0)
        shares.append(e.share(r.slot, m, n1, n2).hex())
    jsonio.write(out, {"format": SHARES_FORMAT, "gid": G.gid.hex(), "meter_id": mid.hex(), "shares": shares})
    return {"file": out, "shares": len(shares), "gid": G.gid.hex(), "meter_id": mid.hex()}
