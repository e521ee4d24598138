# SPDX-License-Identifier: MIT
"""Bills computed in the meter: the host's side (docs/COMPUTATIONS.md section 6).

The supplier compiles its signed JSON tariff, for one meter and one billing cycle, into the
compact meter tariff of vwcore.meterbill (the cycle's per-slot prices, run-length encoded) and
signs it (`sign_meter_tariff`, file format `veriwatt-meter-tariff/1`). The engineer installs the
supplier key once (`send_supplier_key`, authorised by the meter's admin secret) and the
meter tariff before its cycle starts (`send_meter_tariff`). The meter sums p_t m_t and
p_t r_t mod q as it certifies the cycle's slots and, once the cycle is over, answers BILL_FETCH
with a BILL signed by its own key (`fetch_meter_bill`). `check_bill_frame` checks that
signature (what an in-home display does); `bill_from_meter` turns the BILL, with the cycle's
certified records, into an ordinary `veriwatt-bill/1` file that `bill.verify_bill` checks
unchanged: `proof.R` is the meter's R.

Every check is strict: a meter tariff file is compared, point by point, with a fresh
compilation of the signed JSON tariff it names (`check_meter_tariff`), and a BILL must carry
the meter's valid signature, its id, the cycle and the digest of that tariff.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from vwcore import meterbill as mb
from vwcore import sig as _sig
from vwcore import wire

from . import jsonio
from . import keys as _keys
from .errors import DeviceError, InvalidError, VeriwattError
from .serial_client import DEFAULT_BAUD, DEFAULT_RETRIES, DEFAULT_TIMEOUT

FORMAT = "veriwatt-meter-tariff/1"
FIELDS = ("format", "meter_id", "start_slot", "end_slot", "tariff_digest", "points", "supplier_key_id", "sig")
Point = Tuple[int, int]


# ------------------------------------------------------------------ the meter tariff
def digest_bytes(t: Any) -> bytes:
    """The 32 bytes of a tariff's digest ("sha256:<hex>" of tariff.digest)."""
    return bytes.fromhex(t.digest().split(":", 1)[1])


def digest_text(d: bytes) -> str:
    return "sha256:" + d.hex()


def compile_points(t: Any, start: int, end: int) -> List[Point]:
    """The compact form of tariff t (a parsed linear tariff.Tariff) over the cycle [start, end):
    (offset, price) wherever the price changes. Refused: a non-linear tariff, a period that is not
    one of the tariff's billing cycles, more than vwcore.meterbill.MAX_POINTS price changes."""
    from . import bill as _bill
    from .tariff import Tariff

    if not isinstance(t, Tariff):
        raise VeriwattError(
            "a %s tariff is not linear: the meter computes only time-of-use and index bills; bill it "
            "on the customer's device" % getattr(t, "kind", "?")
        )
    try:
        mb.check_cycle(start, end)
    except ValueError as e:
        raise VeriwattError("meter tariff: %s" % e)
    _bill.check_cycle(t, start, end, VeriwattError)
    points = mb.run_length(t.prices(start, end))
    if len(points) > mb.MAX_POINTS:
        raise VeriwattError(
            "tariff %r changes price %d times in this cycle: a meter tariff holds at most %d price points "
            "(bill this cycle on the customer's device)" % (t.name, len(points), mb.MAX_POINTS)
        )
    mb.check_points(points, start, end)
    return points


def sign_meter_tariff(t: Any, supplier_key: Dict[str, Any], meter_id: bytes, start: int, end: int) -> Dict[str, Any]:
    """The signed meter tariff (a `veriwatt-meter-tariff/1` object) of tariff t for one meter and
    cycle, signed with the supplier's secret key (the key that signed the JSON tariff)."""
    points = compile_points(t, start, end)
    digest = digest_bytes(t)
    msg = mb.tariff_bytes(meter_id, start, end, digest, points)
    return {
        "format": FORMAT,
        "meter_id": meter_id.hex(),
        "start_slot": start,
        "end_slot": end,
        "tariff_digest": digest_text(digest),
        "points": [[o, p] for o, p in points],
        "supplier_key_id": _keys.key_id(supplier_key),
        "sig": _keys.sign(supplier_key, msg),
    }


def parse_meter_tariff(obj: Any, where: str = "meter tariff") -> Dict[str, Any]:
    """Every field of a `veriwatt-meter-tariff/1` object, strictly: {"meter_id" (bytes),
    "start_slot", "end_slot", "digest" (bytes), "points" [(offset, price)], "sig" (64 bytes)}."""
    jsonio.only_keys(obj, where, FIELDS)
    if obj["format"] != FORMAT:
        raise VeriwattError("%s: format must be %r" % (where, FORMAT))
    a = jsonio.integer(obj["start_slot"], where + ".start_slot", 0, wire.NO_SLOT - 1)
    b = jsonio.integer(obj["end_slot"], where + ".end_slot", 0, wire.NO_SLOT - 1)
    pts = obj["points"]
    if not isinstance(pts, list) or not all(isinstance(x, list) and len(x) == 2 for x in pts):
        raise VeriwattError("%s.points must be a list of [offset, price]" % where)
    points = [
        (jsonio.integer(o, where + ".points", 0), jsonio.integer(p, where + ".points", mb.PRICE_MIN, mb.PRICE_MAX))
        for o, p in pts
    ]
    try:
        mb.check_cycle(a, b)
        mb.check_points(points, a, b)
    except ValueError as e:
        raise VeriwattError("%s: %s" % (where, e))
    if not isinstance(obj["supplier_key_id"], str):
        raise VeriwattError("%s.supplier_key_id must be a string" % where)
    return {
        "meter_id": jsonio.hex_bytes(obj["meter_id"], where + ".meter_id", 8),
        "start_slot": a,
        "end_slot": b,
        "digest": _digest_field(obj["tariff_digest"], where + ".tariff_digest"),
        "points": points,
        "sig": jsonio.hex_bytes(obj["sig"], where + ".sig", 64),
    }


def _digest_field(v: Any, where: str) -> bytes:
    if not isinstance(v, str) or not v.startswith("sha256:"):
        raise VeriwattError("%s must be \"sha256:\" and 64 hex digits" % where)
    return jsonio.hex_bytes(v[7:], where, 32)


def check_meter_tariff(mt: Dict[str, Any], t: Any, supplier_pub: Dict[str, Any]) -> None:
    """InvalidError unless the parsed meter tariff mt (parse_meter_tariff) is signed by
    supplier_pub and is exactly the compilation of the signed JSON tariff t for its cycle."""
    msg = mb.tariff_bytes(mt["meter_id"], mt["start_slot"], mt["end_slot"], mt["digest"], mt["points"])
    if not _keys.verify(supplier_pub, msg, mt["sig"].hex()):
        raise InvalidError("meter tariff: the supplier's signature does not verify (changed, or another supplier)")
    if mt["digest"] != digest_bytes(t):
        raise InvalidError("meter tariff was compiled from another tariff (digest %s)" % digest_text(mt["digest"])[:23])
    if compile_points(t, mt["start_slot"], mt["end_slot"]) != mt["points"]:
        raise InvalidError("meter tariff: its prices are not those of the signed tariff it names")


# ------------------------------------------------------------------ the serial side
def send_supplier_key(link: Any, admin_secret: bytes, supplier_pub: Dict[str, Any]) -> Dict[str, Any]:
    """SUPPLIER_KEY: install the supplier's public key on the meter of `link` (a
    serial_client.MeterLink), authorised by the engineer's admin secret for the INFO challenge."""
    info = link.hello()
    G = _keys.group_of(supplier_pub)
    if G.id != info["group_id"]:
        raise VeriwattError("the supplier key is in group %s, the meter in group %d" % (G.name, info["group_id"]))
    yb = G.elem_bytes(_keys.y_of(supplier_pub))
    tag = mb.supplier_key_tag(admin_secret, info["meter_id"], info["challenge"], yb)
    link.request(wire.SUPPLIER_KEY, mb.encode_supplier_key(info["challenge"], tag, yb), (wire.OK,), timeout=60.0)
    return {"meter_id": info["meter_id"].hex(), "supplier_key_id": _keys.key_id(supplier_pub)}


def send_meter_tariff(link: Any, mt: Dict[str, Any]) -> Dict[str, Any]:
    """TARIFF_SET BEGIN, POINTS (up to vwcore.meterbill.POINTS_PER_FRAME per frame), COMMIT of the
    parsed meter tariff mt; the meter verifies the supplier's signature at COMMIT."""
    info = link.hello()
    if info["meter_id"] != mt["meter_id"]:
        raise VeriwattError(
            "this meter tariff is for meter %s, the meter on %s is %s"
            % (mt["meter_id"].hex(), link.name, info["meter_id"].hex())
        )
    pts = mt["points"]
    link.request(wire.TARIFF_SET, mb.encode_tariff_begin(mt["start_slot"], mt["end_slot"], len(pts)), (wire.OK,))
    k = mb.POINTS_PER_FRAME
    for i in range(0, len(pts), k):
        link.request(wire.TARIFF_SET, mb.encode_tariff_points(i, pts[i : i + k]), (wire.OK,))
    link.request(wire.TARIFF_SET, mb.encode_tariff_commit(mt["digest"], mt["sig"]), (wire.OK,), timeout=60.0)
    return {
        "meter_id": info["meter_id"].hex(),
        "start_slot": mt["start_slot"],
        "end_slot": mt["end_slot"],
        "points": len(pts),
        "tariff_digest": digest_text(mt["digest"]),
    }


def fetch_meter_bill(link: Any, start: int) -> Dict[str, Any]:
    """BILL_FETCH: the meter's BILL of the finished cycle starting at slot `start` (decoded,
    NOT yet checked: check_bill_frame)."""
    f = link.request(wire.BILL_FETCH, mb.encode_bill_fetch(start), (wire.BILL,), timeout=60.0)
    try:
        return mb.decode_bill(f.payload)
    except ValueError as e:
        raise DeviceError("%s: malformed BILL from the meter: %s" % (link.name, e))


def check_bill_frame(b: Dict[str, Any], meter_pub: Dict[str, Any]) -> None:
    """InvalidError unless the decoded BILL is from the meter of meter_pub and carries its valid
    signature over vwcore.meterbill.bill_bytes (what an in-home display checks)."""
    G = _keys.group_of(meter_pub)
    if b["meter_id"].hex() != meter_pub.get("meter_id"):
        raise InvalidError("the BILL is from meter %s, not %s" % (b["meter_id"].hex(), meter_pub.get("meter_id")))
    if not 0 <= b["R"] < G.q:
        raise InvalidError("the BILL's proof R is not a scalar (>= q)")
    try:
        e_s = _sig.decode_sig(b["sig"])
        msg = mb.bill_bytes(b["meter_id"], b["start_slot"], b["end_slot"], b["digest"], b["total"], b["R"])
    except ValueError as e:
        raise InvalidError("malformed BILL: %s" % e)
    if not _sig.verify(_keys.y_of(meter_pub), msg, e_s, G):
        raise InvalidError("the BILL's signature does not verify under the meter's key: the frame was altered")


# ------------------------------------------------------------------ the bill file
def bill_from_meter(b: Dict[str, Any], recs: Sequence[Any], t: Any, meter_pub: Dict[str, Any]) -> Dict[str, Any]:
    """An ordinary `veriwatt-bill/1` object (bill.verify_bill checks it unchanged) from the checked
    BILL b of the meter, the cycle's certified records (records.Record, slot order, one per slot)
    and the signed JSON tariff t the meter tariff was compiled from."""
    from . import bill as _bill
    from . import slots as _slots

    check_bill_frame(b, meter_pub)
    a, e = b["start_slot"], b["end_slot"]
    if b["digest"] != digest_bytes(t):
        raise InvalidError("the BILL is priced under tariff %s, not the given one" % digest_text(b["digest"])[:23])
    compile_points(t, a, e)  # the same cycle rules as for the meter tariff
    if [r.slot for r in recs] != list(range(a, e)):
        raise VeriwattError(
            "cannot make the bill of %s: the store lacks some of the cycle's readings; fetch them first "
            "(veriwatt fetch)" % _slots.describe(a, e)
        )
    G = _keys.group_of(meter_pub)
    sig_r = _bill.signature_commitments(recs, meter_pub) if e - a <= _bill.SIG_R_MAX_SLOTS else None
    kind = _bill.kind_for(t)
    out: Dict[str, Any] = {
        "format": _bill.FORMAT,
        "kind": kind,
        "meter_id": meter_pub["meter_id"],
        "meter_key_id": _keys.key_id(meter_pub),
        "group": G.name,
        "period": {"start_slot": a, "end_slot": e, "slots": e - a, "start": _bill._iso(a), "end": _bill._iso(e)},
        "tariff": {"digest": t.digest(), "name": t.name, "supplier": t.supplier, "kind": t.kind},
        "total": b["total"],
        "amount": _bill.display_amount(kind, t, b["total"]),
        "proof": {"R": "%064x" % b["R"]},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commitments": [{"slot": r.slot, "C": "%x" % r.C, "sig": "%064x%064x" % (r.e, r.s)} for r in recs],
    }
    if sig_r is not None:
        out["sig_R"] = ["%x" % x for x in sig_r]
    return out


def frame_summary(b: Dict[str, Any]) -> Dict[str, Any]:
    """The BILL's fields as JSON-friendly values."""
    return {
        "meter_id": b["meter_id"].hex(),
        "start_slot": b["start_slot"],
        "end_slot": b["end_slot"],
        "tariff_digest": digest_text(b["digest"]),
        "total": b["total"],
        "R": "%064x" % b["R"],
    }


# ------------------------------------------------------------------ on files and ports (veriwatt.api)
def _signed_tariff(path: str, supplier_key: Optional[str]) -> Tuple[Any, Dict[str, Any]]:
    """(parsed signed tariff, the trusted supplier public key it verified under)."""
    from . import tariff, trust

    obj = jsonio.load(path, "tariff")
    pub = trust.supplier_for(obj, supplier_key, path)
    return tariff.parse_signed(obj, pub, path), pub


def meter_tariff(tariff: str, key: str, meter_id: str, period: str, out: str) -> Dict[str, Any]:
    """Compile the signed tariff file `tariff` for meter `meter_id` (16 hex digits) and the billing
    cycle `period` (as for `bill`) and sign it with the supplier secret key file `key`; writes the
    `veriwatt-meter-tariff/1` file `out`. Returns {"file", "meter_id", "start_slot", "end_slot",
    "points", "tariff_digest"}."""
    from . import api, keys

    sk = keys.load_secret(key, "supplier")
    t, _pub = _signed_tariff_by_key(tariff, sk)
    mid = jsonio.hex_bytes(meter_id, "meter id", 8)
    a, b = api.billing_period(period, t)
    mt = sign_meter_tariff(t, sk, mid, a, b)
    jsonio.write(out, mt)
    return {
        "file": out,
        "meter_id": mt["meter_id"],
        "start_slot": a,
        "end_slot": b,
        "points": len(mt["points"]),
        "tariff_digest": mt["tariff_digest"],
    }


def _signed_tariff_by_key(path: str, sk: Dict[str, Any]) -> Tuple[Any, Dict[str, Any]]:
    """The signed tariff file, which must verify under the public key of secret key sk."""
    from . import keys, tariff

    pub = keys.public(sk)
    return tariff.parse_signed(jsonio.load(path, "tariff"), pub, path), pub


def install_supplier_key(
    port: str,
    admin: str,
    supplier_pub: str,
    baud: int = DEFAULT_BAUD,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
) -> Dict[str, Any]:
    """Install the supplier public key file `supplier_pub` on the meter on `port`, authorised by
    the meter's admin file (NAME.admin.json): {"port", "meter_id", "supplier_key_id"}."""
    from . import keys, serial_client
    from .device import load_admin_file

    mid, secret = load_admin_file(admin)
    pub = keys.load_public(supplier_pub, "supplier")
    with serial_client.MeterLink(port, baud, timeout, retries) as link:
        info = link.hello()
        if info["meter_id"] != mid:
            raise VeriwattError(
                "the admin file is for meter %s, the meter on %s is %s" % (mid.hex(), port, info["meter_id"].hex())
            )
        r = send_supplier_key(link, secret, pub)
    return dict(r, port=port)


def install_tariff(
    port: str,
    file: str,
    tariff: str,
    supplier_key: Optional[str] = None,
    baud: int = DEFAULT_BAUD,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
) -> Dict[str, Any]:
    """Send the meter tariff file `file` to the meter on `port`, after checking that it is the
    signed compilation of the signed tariff file `tariff` (check_meter_tariff); then check that
    the meter's INFO shows it. {"port", "meter_id", "start_slot", "end_slot", "points", "tariff_digest"}."""
    from . import serial_client

    mt = parse_meter_tariff(jsonio.load(file, "meter tariff"), file)
    t, pub = _signed_tariff(tariff, supplier_key)
    check_meter_tariff(mt, t, pub)
    with serial_client.MeterLink(port, baud, timeout, retries) as link:
        r = send_meter_tariff(link, mt)
        shown = link.hello().get("tariff")
    if shown is not None and shown["start_slot"] == mt["start_slot"] and shown["digest"] != mt["digest"]:
        raise DeviceError("the meter accepted the tariff but INFO shows another one for its cycle")
    return dict(r, port=port)


def meter_bill(
    port: str,
    tariff: str,
    period: str,
    out: str = "bill.json",
    store: str = "veriwatt.db",
    supplier_key: Optional[str] = None,
    meter_key: Optional[str] = None,
    baud: int = DEFAULT_BAUD,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    note: Any = None,
) -> Dict[str, Any]:
    """The bill the meter on `port` computed for the billing cycle `period` of the signed tariff:
    fetch the cycle's readings into `store` (no ACK), fetch and check the BILL, and write it as an
    ordinary veriwatt-bill/1 file `out`, checked with bill.verify_bill before it is written.
    {"file", "meter_id", "period", "total", "amount", "tariff_digest", "valid"}."""
    from . import api
    from . import bill as _bill
    from . import serial_client

    t, _pub = _signed_tariff(tariff, supplier_key)
    a, e = api.billing_period(period, t)
    api.fetch(port, store, None, meter_key, a, e, baud=baud, timeout=timeout, retries=retries, note=note)
    with api._open_store(store) as st:
        with serial_client.MeterLink(port, baud, timeout, retries) as link:
            info = link.hello()
            pub = api._pin_key(info, st, meter_key, port, note)
            b = fetch_meter_bill(link, a)
        recs = api._records(st, pub, a, e)
    if (b["start_slot"], b["end_slot"]) != (a, e):
        raise InvalidError(
            "the meter's BILL is for slots %d..%d, not the cycle asked for" % (b["start_slot"], b["end_slot"])
        )
    B = bill_from_meter(b, recs, t, pub)
    rep = _bill.verify_bill(B, t, pub)
    jsonio.write(out, B)
    return {
        "file": out,
        "meter_id": B["meter_id"],
        "period": B["period"],
        "total": B["total"],
        "amount": B["amount"],
        "tariff_digest": B["tariff"]["digest"],
        "valid": rep["valid"],
    }
