# SPDX-License-Identifier: MIT
"""veriwatt as a library: the documented Python API (docs/API.md), which the CLI wraps.

Every function takes plain typed arguments (paths, ports, keys, options), returns plain data
(JSON-ready dicts, the same objects `veriwatt COMMAND --json` prints), never prints, never
exits, and raises a VeriwattError subclass for anything the caller must hear about:

- InvalidError (exit code 1): a verification failed (signature, proof, completeness);
- VeriwattError (exit code 2): bad arguments or input files;
- DeviceError (exit code 3): serial or device trouble.

Long operations take `progress`, a callable `progress(done, total)`, and side remarks the
CLI prints as "veriwatt: note: ..." go to `note`, a callable taking one line (default:
errors.stderr_note, which writes it to stderr as a warning would be).

    from veriwatt import api
    rep = api.verify_bill("bill.json", meter_key="meter.pub.json", tariff="tariff.json",
                          supplier_key="supplier.pub.json")
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from . import jsonio
from .aggregate import collect, enroll, share
from .device import deploy, flash, info, provision_port as provision, reset, set_clock, wait
from .errors import DeviceError, InvalidError, VeriwattError, stderr_note
from .meterbill import install_supplier_key, install_tariff, meter_bill, meter_tariff
from .serial_client import DEFAULT_BAUD, DEFAULT_RETRIES, DEFAULT_TIMEOUT

__all__ = [
    "DEFAULT_BAUD",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "DEFAULT_STORE",
    "DeviceError",
    "InvalidError",
    "VeriwattError",
    "customer_key",
    "load_tariff",
    "keygen",
    "sign_tariff",
    "info",
    "provision",
    "wait",
    "set_clock",
    "reset",
    "deploy",
    "flash",
    "fetch",
    "verify",
    "readings",
    "bill",
    "verify_bill",
    "disclose",
    "verify_disclosure",
    "enroll",
    "collect",
    "share",
    "ledger_record",
    "ledger_gaps",
    "ledger_list",
    "meter_tariff",
    "install_supplier_key",
    "install_tariff",
    "meter_bill",
    "population",
    "verify_bills",
    "aggregate_run",
]

DEFAULT_STORE = "veriwatt.db"  # the CLI's --store default unless VERIWATT_STORE is set
Progress = Optional[Callable[[int, int], None]]
Key = Union[None, bytes, Callable[[], Optional[bytes]]]  # a customer key, or a callable that gives it when needed
Note = Optional[Callable[[str], None]]


def _note(note: Note, msg: str) -> None:
    (note or stderr_note)(msg)


# ------------------------------------------------------------------ keys, codes, tariffs
def customer_key(code: Optional[str] = None, code_file: Optional[str] = None) -> Optional[bytes]:
    """The customer key from the code on the meter label: `code`, else $VERIWATT_CODE, else the
    first line of `code_file`. None when none is given (the CLI then asks on a terminal)."""
    from .records import customer_key as parse

    code = code or os.environ.get("VERIWATT_CODE")
    if not code and code_file:
        try:
            code = Path(code_file).read_text().strip()
        except OSError as e:
            raise VeriwattError("cannot read the customer code file %s: %s" % (code_file, e.strerror or e))
    return parse(code) if code else None


def _need_key(key: Key) -> bytes:
    """The customer key: bytes, or a callable giving them (called only when the key is needed,
    e.g. after the store and the meter were found: the CLI asks for the code then)."""
    if callable(key):
        key = key()
    if key is None:
        raise VeriwattError(
            "the customer code is needed to decrypt the readings: give --code XXXXX-XXXXX-..., "
            "--code-file FILE or set VERIWATT_CODE"
        )
    return key


def load_tariff(path: Optional[str], supplier_key: Optional[str] = None) -> Any:
    """A signed tariff whose signature verifies under a trusted supplier key (`supplier_key`, a
    public key file, else the trust store: veriwatt.trust). Unsigned tariffs and untrusted
    signers are refused. None when `path` is None."""
    from . import tariff, trust

    if not path:
        return None
    obj = jsonio.load(path, "tariff")
    return tariff.parse_signed(obj, trust.supplier_for(obj, supplier_key, path), path)


def keygen(out: str = "supplier", name: str = "", group: str = "2048", force: bool = False) -> Dict[str, Any]:
    """Make a supplier signing key: OUT.key.json (mode 0600 from creation) and OUT.pub.json."""
    from . import keys

    base = out[: -len(".key.json")] if out.endswith(".key.json") else out
    if Path(base + ".key.json").exists() and not force:
        raise VeriwattError("%s.key.json exists: use --force to replace it (the old key is then lost)" % base)
    k = keys.new_supplier_key(group, name=name)
    jsonio.write(base + ".key.json", k, private=True)
    jsonio.write(base + ".pub.json", keys.public(k))
    return {"secret_key": base + ".key.json", "public_key": base + ".pub.json", "key_id": k["key_id"]}


def sign_tariff(path: str, key: str, out: Optional[str] = None) -> Dict[str, Any]:
    """Sign the tariff body in `path` (or re-sign a signed one) with the supplier secret key file
    `key`; writes `out` (default: `path`)."""
    from . import keys, tariff

    sk = keys.load_secret(key, "supplier")
    obj = jsonio.load(path, "tariff")
    body = obj.get("tariff") if isinstance(obj, dict) and obj.get("format") == tariff.SIGNED_FORMAT else obj
    signed = tariff.sign(body, sk)
    signed["supplier_key"] = keys.public(sk)
    out = out or path
    jsonio.write(out, signed)
    return {"file": out, "digest": signed["digest"], "key_id": signed["signature"]["key_id"]}


# ------------------------------------------------------------------ the local store
def _open_store(path: str, must_exist: bool = True) -> Any:
    from .store import Store

    if must_exist and not Path(path).exists():
        raise VeriwattError(
            "store %s does not exist: fetch readings first (veriwatt fetch PORT --store %s)" % (path, path)
        )
    return Store(path)


def _meter_key(st: Any, meter_key: Optional[str], meter: Optional[str]) -> Dict[str, Any]:
    """The meter's public key: the file `meter_key`, else the store's key for `meter` (or its only meter)."""
    from . import keys

    if meter_key:
        return keys.load_public(meter_key, "meter")
    mid = meter
    if not mid:
        ms = st.meters()
        if len(ms) != 1:
            raise VeriwattError(
                "the store holds %d meters (%s): choose one with --meter ID or --meter-key FILE"
                % (len(ms), ", ".join(ms) or "none")
            )
        mid = ms[0]
    k = st.meter_key(mid)
    if k is None:
        raise VeriwattError("meter %s is not in the store %s: fetch from it first" % (mid, st.path))
    return k


def _period(period: Optional[str], tz: str = "UTC") -> Tuple[int, int]:
    from . import slots

    if not period:
        raise VeriwattError("give the period: --period YYYY-MM, START:END (slots) or YYYY-MM-DD..YYYY-MM-DD")
    return slots.parse_period(period, tz)


def _records(st: Any, pub: Dict[str, Any], start: int, end: int) -> List[Any]:
    from . import records

    return [records.decode(raw) for _, raw in st.records(pub["meter_id"], start, end)]


def _stored(
    store: str, period: Optional[str], tz: str, meter_key: Optional[str], meter: Optional[str]
) -> Tuple[Dict[str, Any], int, int, List[Any]]:
    """(meter public key, period start, end, decoded records of the period) from the store."""
    with _open_store(store) as st:
        pub = _meter_key(st, meter_key, meter)
        a, b = _period(period, tz)
        return pub, a, b, _records(st, pub, a, b)


# ------------------------------------------------------------------ fetch
class _Tracker:
    """The progress object serial_client.fetch drives (total, done, update), reporting to a callback."""

    def __init__(self, cb: Progress) -> None:
        self.cb, self.total, self.done = cb, 0, 0

    def update(self, n: int = 1, extra: Optional[str] = None) -> None:
        self.done += n
        if self.cb:
            self.cb(self.done, self.total)


def _pin_key(info: Dict[str, Any], st: Any, meter_key: Optional[str], port: str, note: Note) -> Dict[str, Any]:
    """The meter's public key: --meter-key (must match what the meter reports), else the store's
    (must match too), else what the meter reports (trusted on first use, with a note)."""
    from . import keys

    mid = info["meter_id"].hex()
    if meter_key:
        pub = keys.load_public(meter_key, "meter")
        if pub["meter_id"] != mid:
            raise InvalidError("the meter on %s is %s, but --meter-key is for meter %s" % (port, mid, pub["meter_id"]))
        if keys.y_of(pub) != info["sig_pub"]:
            raise InvalidError(
                "meter %s reports a public key that differs from %s: re-provisioned or impostor meter"
                % (mid, meter_key)
            )
        return pub
    pub = st.meter_key(mid)
    if pub is None:
        if info["sig_pub"] is None:
            raise DeviceError("meter %s reports no public key: is it provisioned?" % mid)
        pub = keys.meter_public(info["meter_id"], info["sig_pub"], info["group_id"])
        _note(
            note,
            "note: trusting the public key meter %s reports (key id %s); pin it with --meter-key"
            % (mid, pub["key_id"]),
        )
    elif keys.y_of(pub) != info["sig_pub"]:
        raise InvalidError("meter %s now reports a different public key than the one in the store" % mid)
    return pub


def fetch(
    port: str,
    store: str = DEFAULT_STORE,
    customer_key: Optional[bytes] = None,
    meter_key: Optional[str] = None,
    from_slot: Optional[int] = None,
    to_slot: Optional[int] = None,
    batch: int = 64,
    baud: int = DEFAULT_BAUD,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    progress: Progress = None,
    note: Note = None,
) -> Dict[str, Any]:
    """Fetch the meter's certified readings on `port` into the SQLite `store` (resumable). With
    the customer key, what is durably stored is acknowledged (the meter may reuse its space);
    a key that does not open this meter's readings is refused before anything is stored.
    Returns the fetch summary (docs/FORMATS.md, "fetch output"); "rejected" > 0 means some
    records failed their checks (the CLI exits 1)."""
    from . import records, serial_client

    with serial_client.MeterLink(port, baud, timeout, retries) as link:
        inf = link.hello()
        if not inf["provisioned"]:
            raise VeriwattError("meter on %s is not provisioned: run veriwatt provision %s first" % (port, port))
        mid = inf["meter_id"].hex()
        if customer_key is not None and serial_client.code_opens(link, inf, customer_key) is False:
            raise VeriwattError(
                "the customer code does not open the readings of meter %s on %s: it belongs to "
                "another meter (or is mistyped); nothing was stored or acknowledged. Give the code "
                "on this meter's label" % (mid, port)
            )
        with _open_store(store, must_exist=False) as st:
            pub = _pin_key(inf, st, meter_key, port, note)
            st.add_meter(mid, pub, {"fw_version": inf["fw_version"]})
            if inf.get("clock_unverified"):
                _note(
                    note,
                    "warning: meter %s's clock was set without the engineer's tag after it lost it "
                    "(power cut): readings since then are in slots by that clock; check it against real time "
                    "(veriwatt info), then veriwatt set-clock %s --admin meter.admin.json" % (mid, port),
                )
            summary = serial_client.fetch(
                link,
                st,
                mid,
                records.Checker.from_pub(pub).check_raw,
                from_slot,
                to_slot,
                batch=batch,
                customer_key=customer_key,
                progress=_Tracker(progress),
            )
            summary["stored"] = st.count(mid)
    summary["store"] = store
    summary["clock_unverified"] = bool(inf.get("clock_unverified"))
    return summary


# ------------------------------------------------------------------ verify, readings
def verify(
    store: str = DEFAULT_STORE,
    period: Optional[str] = None,
    tz: str = "UTC",
    meter_key: Optional[str] = None,
    meter: Optional[str] = None,
) -> Dict[str, Any]:
    """Check the stored readings of a period: every signature, meter id, slot, completeness.
    Returns {"valid", "meter_id", "period", "records", "problems", "rejected_at_fetch"}; it
    does not raise for problems found (the caller decides: the CLI exits 1)."""
    from . import records, verify as vfy

    with _open_store(store) as st:
        pub = _meter_key(st, meter_key, meter)
        a, b = _period(period, tz)
        recs = _records(st, pub, a, b)
        probs = vfy.check_period([(r.slot, r.C, r.e, r.s) for r in recs], a, b, records.Checker.from_pub(pub))
        for r in recs:
            if r.meter_id.hex() != pub["meter_id"]:
                probs.append(
                    vfy.Problem("foreign", r.slot, "slot %d: record from meter %s" % (r.slot, r.meter_id.hex()))
                )
        rej = st.rejects(pub["meter_id"])
    return {
        "valid": not probs,
        "meter_id": pub["meter_id"],
        "period": {"start_slot": a, "end_slot": b},
        "records": len(recs),
        "problems": [p.as_dict() for p in probs],
        "rejected_at_fetch": len(rej),
    }


def readings(
    store: str = DEFAULT_STORE,
    period: Optional[str] = None,
    customer_key: Key = None,
    tz: str = "UTC",
    meter_key: Optional[str] = None,
    meter: Optional[str] = None,
) -> Dict[str, Any]:
    """Decrypt a period's readings with the customer key: {"meter_id", "readings": [{"slot",
    "start", "wh"}], "total_wh", "period"}."""
    from . import records, slots

    pub, a, b, recs = _stored(store, period, tz, meter_key, meter)
    ops = records.open_all(recs, _need_key(customer_key))
    rows = [
        {"slot": r.slot, "start": slots.slot_start(r.slot).strftime("%Y-%m-%dT%H:%MZ"), "wh": m}
        for r, (m, _) in zip(recs, ops)
    ]
    return {
        "meter_id": pub["meter_id"],
        "readings": rows,
        "total_wh": sum(x["wh"] for x in rows),
        "period": {"start_slot": a, "end_slot": b},
    }


# ------------------------------------------------------------------ bills
def billing_period(period: Optional[str], t: Any) -> Tuple[int, int]:
    """The period of a bill: months are read in the tariff's cycle zone (calendar-month cycles)
    or time zone; a period that is not exactly one billing cycle of the signed tariff is
    refused, naming the cycle(s) that would be accepted."""
    from . import bill as bmod

    cyc = getattr(t, "cycle", None) if t is not None else None
    tz = cyc.zone_name if cyc is not None and cyc.kind == "calendar-month" else (t.tzname if t else "UTC")
    a, b = _period(period, tz)
    why = bmod.cycle_problem(t, a, b)
    if why:
        raise VeriwattError("cannot bill: %s" % why)
    return a, b


def _counted(progress: Progress, total: int) -> Optional[Callable[[int], None]]:
    """bill.make_bill/verify_bill call progress(n) per n slots done: turn it into progress(done, total)."""
    if progress is None or not total:
        return None
    done = [0]
    progress(0, total)  # announced before the first slot: the caller may say what is coming

    def step(n: int = 1) -> None:
        done[0] += n
        progress(done[0], total)

    return step


def proof_slots(t: Any, a: int, b: int, n_records: int) -> int:
    """How many per-slot proofs a step or threshold bill carries (0 for the other kinds)."""
    if t is None or getattr(t, "linear", True) or t.kind not in ("step", "threshold"):
        return 0
    return len(t.zk(a, b).slots) if t.kind == "threshold" else n_records


def bill(
    store: str = DEFAULT_STORE,
    period: Optional[str] = None,
    customer_key: Key = None,
    tariff: Optional[str] = None,
    supplier_key: Optional[str] = None,
    total: bool = False,
    out: str = "bill.json",
    meter_key: Optional[str] = None,
    meter: Optional[str] = None,
    workers: int = 1,
    progress: Progress = None,
) -> Dict[str, Any]:
    """Compute the bill (or settlement for an index tariff, or with `total` the period's total
    consumption) of the stored readings with its proof and write it to `out`. The period must
    be one billing cycle of the signed tariff. Returns {"file", "kind", "meter_id", "period",
    "total", "amount", "tariff_digest"} (+ "proof_bytes", "proof_seconds" for zero-knowledge kinds)."""
    from . import bill as bmod, records

    t = None if total else load_tariff(tariff, supplier_key)
    if t is None and not total:
        raise VeriwattError(
            "give the signed tariff (--tariff tariff.json), or --total for the period's total consumption"
        )
    a, b = billing_period(period, t)  # refused before any work when it is not one billing cycle
    with _open_store(store) as st:
        pub = _meter_key(st, meter_key, meter)
        recs = _records(st, pub, a, b)
    checker = records.Checker.from_pub(pub)
    for r in recs:  # the store checked them once; a bill is worth checking again
        why = checker.problem(r)
        if why:
            raise InvalidError("stored record invalid: %s" % why)
    ops = records.open_all(recs, _need_key(customer_key))
    t0 = time.perf_counter()
    B = bmod.make_bill(
        recs, ops, t, a, b, pub, workers=workers, progress=_counted(progress, proof_slots(t, a, b, len(recs)))
    )
    seconds = time.perf_counter() - t0
    jsonio.write(out, B)
    res = {
        "file": out,
        "kind": B["kind"],
        "meter_id": B["meter_id"],
        "period": B["period"],
        "total": B["total"],
        "amount": B["amount"],
        "tariff_digest": (B["tariff"] or {}).get("digest"),
    }
    if B["kind"] in bmod.ZK_KINDS:
        res.update({"proof_bytes": B["proof"]["bytes"], "proof_seconds": round(seconds, 2)})
    return res


def verify_bill(
    bill: str,
    meter_key: str,
    tariff: Optional[str] = None,
    supplier_key: Optional[str] = None,
    total: bool = False,
    workers: int = 1,
    progress: Progress = None,
) -> Dict[str, Any]:
    """Check a bill file as the supplier: tariff digest, completeness, every signature, the proof.
    Returns the report ({"valid": True, "kind", "meter_id", "period", "total", "amount", ...});
    an invalid bill raises InvalidError whose `.report` is {"valid": False, "reason": ...}."""
    from . import bill as bmod, keys

    B = jsonio.load(bill, "bill")
    if not tariff and not total:
        raise VeriwattError(
            "give the signed tariff the bill was priced with (--tariff tariff.json), or --total "
            "to check a total-consumption file"
        )
    if tariff and total:
        raise VeriwattError("--total checks a total-consumption file, which has no tariff: drop --tariff")
    if not meter_key:
        raise VeriwattError("give the meter's public key: --meter-key meter.pub.json")
    pub = keys.load_public(meter_key, "meter")
    t = load_tariff(tariff, supplier_key)
    n = _proof_slots_of(B, t)
    try:
        return bmod.verify_bill(B, t, pub, workers=workers, progress=_counted(progress, n))
    except InvalidError as e:
        if not hasattr(e, "report"):
            e.report = {"valid": False, "reason": str(e)}  # type: ignore[attr-defined]
        raise


def _proof_slots_of(B: Any, t: Any) -> int:
    from . import slots

    if not isinstance(B, dict) or t is None or B.get("kind") != t.kind:
        return 0
    try:
        p = B.get("period") or {}
        slots.check_range(p["start_slot"], p["end_slot"])
        return proof_slots(t, p["start_slot"], p["end_slot"], len(B.get("commitments") or []))
    except (KeyError, TypeError, VeriwattError):
        return 0


# ------------------------------------------------------------------ disclosures
def disclose(
    slots: List[int],
    store: str = DEFAULT_STORE,
    customer_key: Key = None,
    out: str = "disclosure.json",
    note_text: str = "",
    meter_key: Optional[str] = None,
    meter: Optional[str] = None,
) -> Dict[str, Any]:
    """Open the chosen slots for the supplier (with the customer's consent): their readings and
    commitment openings, written to `out`. Every chosen slot must be in the store."""
    from . import bill as bmod, records

    chosen = sorted(set(slots))
    if not chosen:
        raise VeriwattError("no slots chosen: --slots 995000,995001 or 995000:995047")
    with _open_store(store) as st:
        pub = _meter_key(st, meter_key, meter)
        rows = [st.records(pub["meter_id"], t, t + 1) for t in chosen]
    recs = [records.decode(r[0][1]) for r in rows if r]
    if len(recs) != len(chosen):
        missing = sorted(set(chosen) - {r.slot for r in recs})
        raise VeriwattError(
            "%d chosen slot(s) are not in the store (first %d): fetch them first" % (len(missing), missing[0])
        )
    ops = records.open_all(recs, _need_key(customer_key))
    jsonio.write(out, bmod.make_disclosure(recs, ops, slots, pub, note_text))
    return {"file": out, "slots": len(recs), "meter_id": pub["meter_id"]}


def verify_disclosure(path: str, meter_key: str) -> Dict[str, Any]:
    """Check disclosed readings against the meter's signed commitments: {"valid", "meter_id",
    "slots": [{"slot", "start", "reading"}]}; InvalidError when they do not check out."""
    from . import bill as bmod, keys

    d = jsonio.load(path, "disclosure")
    return bmod.verify_disclosure(d, keys.load_public(meter_key, "meter"))


# ------------------------------------------------------------------ the supplier's ledger
def ledger_record(
    bill: str, ledger: str, tariff: str, supplier_key: str, meter_key: str, workers: int = 1
) -> Dict[str, Any]:
    """Verify the bill (as verify_bill) and record it in the supplier's ledger of billed cycles;
    a second bill of the same meter and charge for the same cycle, or an overlapping period, is
    refused (InvalidError). Returns the recorded row with "recorded": True."""
    from . import bill as bmod, keys, ledger as lmod

    if not supplier_key:
        raise VeriwattError(
            "give the supplier's own public key: --supplier-key supplier.pub.json (the ledger records "
            "bills under tariffs you signed)"
        )
    raw = jsonio.read_bytes(bill, "bill")
    B = jsonio.loads(raw.decode("utf-8", "replace"), "bill", bill)
    pub = keys.load_public(meter_key, "meter")
    t = load_tariff(tariff, supplier_key)
    if isinstance(B, dict) and B.get("kind") == "total":
        raise VeriwattError("%s is a total (no tariff, no billing cycle): the ledger records bills" % bill)
    bmod.verify_bill(B, t, pub, workers=workers)
    with lmod.Ledger(ledger) as L:
        row = L.record(B, raw, t)
    res = dict(row, recorded=True, bill=bill, ledger=ledger)
    res.pop("cycle_def", None)
    return res


def ledger_gaps(
    ledger: str,
    meter: str,
    from_month: str,
    to_month: str,
    tariff: Optional[str] = None,
    supplier_key: Optional[str] = None,
    charge: Optional[str] = None,
) -> Dict[str, Any]:
    """The billing cycles of `meter` from `from_month` to `to_month` (YYYY-MM, included) with no
    recorded bill: {"meter_id", "from", "to", "charges", "gaps"}."""
    from . import ledger as lmod, slots

    t = load_tariff(tariff, supplier_key) if tariff else None
    with lmod.Ledger(ledger, create=False) as L:
        if t is not None:
            todo = [(lmod.charge_of({"index": "settlement"}.get(t.kind, t.kind)), t.cycle)]
        else:
            todo = []
            for c in [charge] if charge else L.charges(meter):
                lc = L.latest_cycle(meter, c)
                if lc is None:
                    raise VeriwattError(
                        "no %s bill of meter %s is in %s: give --tariff T to know its billing cycle"
                        % (c, meter, ledger)
                    )
                todo.append((c, lc[0]))
            if not todo:
                raise VeriwattError(
                    "no bill of meter %s is in %s: give --tariff T to know its billing cycle" % (meter, ledger)
                )
        reports: List[Dict[str, Any]] = []
        for ch, cyc in todo:
            a = slots.month_range(from_month, cyc.zone_name)[0]
            b = slots.month_range(to_month, cyc.zone_name)[1]
            if b <= a:
                raise VeriwattError("--to %s is before --from %s" % (to_month, from_month))
            reports.append(L.gaps(meter, ch, cyc, a, b))
    gaps = [g for r in reports for g in r["gaps"]]
    return {"meter_id": meter, "from": from_month, "to": to_month, "charges": reports, "gaps": gaps}


def ledger_list(ledger: str, meter: Optional[str] = None) -> Dict[str, Any]:
    """The bills recorded in the ledger (of one meter): {"ledger", "bills": [rows]}."""
    from . import ledger as lmod

    with lmod.Ledger(ledger, create=False) as L:
        rows = L.rows(meter)
    for r in rows:
        r.pop("cycle_def", None)
    return {"ledger": ledger, "bills": rows}


# ------------------------------------------------------------------ scale: populations, Dask
def _steps(progress: Progress, total: int) -> Tuple[Optional[Callable[[int], None]], Callable[[int], None]]:
    """progress(n) per n items done (the scale modules' convention) as progress(done, total);
    also a setter for a total known only later (bills selected from a database)."""
    state = [0, total]

    def step(n: int = 1) -> None:
        state[0] += n
        if progress:
            progress(state[0], state[1])

    def set_total(n: int) -> None:
        state[1] = n
        if progress:
            progress(state[0], n)

    return step, set_total


def population(
    meters: int,
    out: str,
    month: str = "2026-12",
    seed: Optional[bytes] = None,
    workers: int = 1,
    force: bool = False,
    progress: Progress = None,
) -> Dict[str, Any]:
    """Generate `meters` synthetic meters' certified months and their bills under a signed
    tariff into folder `out` (benchmarks, tests; never real readings): the same seed (16..64
    bytes) gives the same meters. `workers` processes. A population already in `out` is
    refused unless `force`. Returns the manifest (docs/FORMATS.md, population.json)."""
    from . import population as pop

    if os.path.exists(os.path.join(out, "population.json")) and not force:
        raise VeriwattError("%s already holds a population (use --force to overwrite)" % out)
    if seed is not None and not 16 <= len(seed) <= 64:
        raise VeriwattError("the seed must be 16..64 bytes")
    step, _ = _steps(progress, meters)
    return pop.generate(out, meters, month, seed, workers, step)


def verify_bills(
    folder: Optional[str] = None,
    db: Optional[str] = None,
    database: Optional[str] = None,
    supplier_key: Optional[str] = None,
    cycle: Optional[str] = None,
    unchecked: bool = False,
    scheduler: Optional[str] = None,
    workers: int = 2,
    batch: int = 200,
    progress: Progress = None,
    meter_keys: Optional[str] = None,
) -> Dict[str, Any]:
    """Verify many bills on Dask (an embedded LocalCluster of `workers` processes, or the
    scheduler tcp://HOST:8786): every bill of `folder` (the population layout), verdicts into
    the table bill_checks of `db` (a SQLite file, sqlite:///PATH or postgresql://...; default
    ledger.db); or the ledger's bills of the service database `database`, whose tariffs must be
    signed by the public key file `supplier_key` (one `cycle`, or only `unchecked` bills),
    verdicts into its own bill_checks; with `meter_keys` (a folder of the supplier's own meter
    public key files) the meters table's keys must be those (else the bill is invalid, problem
    "meter key"): whoever can write the database cannot swap a meter's key. Idempotent by bill digest. Returns the summary
    (docs/FORMATS.md, "Bill checks"); bad bills are in it, not raised: the caller decides."""
    from . import keys

    if database is None:
        if folder is None or cycle is not None or unchecked or supplier_key or meter_keys:
            raise VeriwattError(
                "verify-bills: give a FOLDER (with --db), or --database URL --supplier-key KEY "
                "(--cycle, --unchecked and --meter-keys go with --database)"
            )
        from . import scale

        step, _ = _steps(progress, len(scale.bill_names(folder)))
        return scale.verify_bills(folder, db or "ledger.db", scheduler, workers, batch, progress=step)
    if folder is not None or db is not None:
        raise VeriwattError("verify-bills --database: no FOLDER and no --db (the verdicts go into that database)")
    if not supplier_key:
        raise VeriwattError("verify-bills --database: give --supplier-key supplier.pub.json (the tariffs' signer)")
    from . import dbverify

    step, set_total = _steps(progress, 0)
    return dbverify.verify_database(
        database,
        keys.load_public(supplier_key, "supplier"),
        scheduler,
        workers,
        batch,
        cycle=cycle,
        unchecked=unchecked,
        progress=step,
        selected=set_total,
        meter_keys=dbverify.registry(meter_keys) if meter_keys else None,
    )


def aggregate_run(
    folder: str, scheduler: Optional[str] = None, workers: int = 2, progress: Progress = None
) -> Dict[str, Any]:
    """Aggregate many groups on Dask: FOLDER/groups/NAME.group.json (the aggregator's group
    file) with FOLDER/shares/NAME.shares.json, one task per group; writes
    FOLDER/results/NAME.result.json and returns the summary {"groups", "shares", "accepted",
    "refused", "slots", "seconds", "problems"}; refused shares are in it, not raised."""
    from . import aggrun

    step, _ = _steps(progress, len(aggrun.group_names(folder)))
    return aggrun.run(folder, scheduler, workers, progress=step)
