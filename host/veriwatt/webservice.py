# SPDX-License-Identifier: MIT
"""The supplier's web service, as a library (the HTTP layer is veriwatt.webapp; docs/WEB.md).

    svc = Service(SupplierDB.open(url), supplier_pub)
    svc.register_meter(meter_pub, access_verifier)          # supplier
    svc.publish_tariff(signed_tariff)                       # supplier (verified, then stored)
    svc.intake(raw_records)                                 # anyone: certified records only
    svc.month(meter_id, token, start, end)                  # the customer's page (access token)
    svc.receive_bill(meter_id, token, bill_bytes)           # the customer's page: verified, ledger

Nothing here sees a customer code, key or reading: records are stored and served encrypted,
bills carry commitments and a proof only (veriwatt.bill). Every refusal is a ServiceError with
an HTTP status and a one-line reason.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Dict, List, Optional, Sequence, Tuple

from vwcore import wire

from . import bill as _bill
from . import jsonio, keys
from . import records as _records
from . import tariff as _tariff
from . import webaccess
from .errors import InvalidError, VeriwattError
from .supplierdb import SupplierDB

MAX_RECORDS_PER_UPLOAD = 5000  # about 2 MB of 2048-bit records (3.4 days of slots for 20 meters)
MAX_CYCLE_SLOTS = 2976  # two months of slots: the page bills one cycle at a time


class ServiceError(Exception):
    """A refused request: HTTP status and a one-line reason (never a secret)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def _hex_id(text: Any, what: str = "meter id") -> str:
    if not isinstance(text, str) or len(text) != 16 or any(c not in "0123456789abcdef" for c in text):
        raise ServiceError(400, "%s must be 16 lowercase hex digits" % what)
    return text


class Service:
    """The service's operations over one SupplierDB and the supplier's public key."""

    def __init__(self, db: SupplierDB, supplier_pub: Dict[str, Any]) -> None:
        self.db = db
        self.supplier_pub = keys.check_public(supplier_pub, "supplier", "supplier key")
        self._checkers: Dict[str, _records.Checker] = {}

    # ---------------------------------------------------------------- supplier actions
    def register_meter(self, pub: Any, access_verifier: Any) -> Dict[str, Any]:
        try:
            pub = keys.check_public(pub, "meter", "meter key")
        except VeriwattError as e:
            raise ServiceError(400, str(e))
        if (
            not isinstance(access_verifier, str)
            or len(access_verifier) != 64
            or any(c not in "0123456789abcdef" for c in access_verifier)
        ):
            raise ServiceError(400, "access_verifier must be 64 lowercase hex digits (veriwatt web-verifier)")
        try:
            new = self.db.add_meter(pub, access_verifier)
        except InvalidError as e:
            raise ServiceError(409, str(e))
        self._checkers.pop(pub["meter_id"], None)
        return {"meter_id": pub["meter_id"], "key_id": pub["key_id"], "registered": new}

    def publish_tariff(self, signed: Any) -> Dict[str, Any]:
        try:
            t = _tariff.parse_signed(signed, self.supplier_pub, "the uploaded tariff")
        except InvalidError as e:
            raise ServiceError(422, str(e))
        except VeriwattError as e:
            raise ServiceError(400, str(e))
        new = self.db.add_tariff(signed, t)
        return {"digest": t.digest(), "name": t.name, "kind": t.kind, "published": new}

    # ---------------------------------------------------------------- intake
    def _checker(self, meter_id: str) -> Optional[_records.Checker]:
        c = self._checkers.get(meter_id)
        if c is None:
            m = self.db.meter(meter_id)
            if m is None:
                return None
            c = self._checkers[meter_id] = _records.Checker.from_pub(m["pubkey"])
        return c

    def intake(self, raws: Sequence[bytes]) -> Dict[str, Any]:
        """Store certified records that verify under their registered meter's key; refuse the
        rest with reasons. Idempotent: a record already stored counts as a duplicate."""
        if len(raws) > MAX_RECORDS_PER_UPLOAD:
            raise ServiceError(413, "%d records in one upload: at most %d" % (len(raws), MAX_RECORDS_PER_UPLOAD))
        by_meter: Dict[str, Tuple[List[Tuple[int, bytes]], List[Tuple[Optional[int], str]]]] = {}
        out: Dict[str, Any] = {"added": 0, "duplicates": 0, "rejected": 0, "reasons": []}
        for i, raw in enumerate(raws):
            mid, slot, why = self._check_one(raw)
            if mid is None:
                out["rejected"] += 1
                out["reasons"].append("record %d: %s" % (i, why))
                continue
            good, bad = by_meter.setdefault(mid, ([], []))
            if why:
                bad.append((slot, "record %d: %s" % (i, why)))
            else:
                good.append((slot, raw))
        for mid, (good, bad) in by_meter.items():
            r = self.db.add_records(mid, good, bad)
            for k in ("added", "duplicates", "rejected"):
                out[k] += r[k]
            out["reasons"] += r["reasons"]
        out["reasons"] = out["reasons"][:50]
        return out

    def _check_one(self, raw: bytes) -> Tuple[Optional[str], Optional[int], Optional[str]]:
        try:
            rec = _records.decode(raw)
        except ValueError as e:
            return None, None, "malformed record: %s" % e
        mid = rec.meter_id.hex()
        chk = self._checker(mid)
        if chk is None:
            return None, None, "meter %s is not registered with this service" % mid
        return mid, rec.slot, chk.problem(rec)

    # ---------------------------------------------------------------- the customer's side
    def authorize(self, meter_id: str, token: Any) -> Dict[str, Any]:
        """The meter's row if `token` is its access token (constant-time check of SHA-256(token)
        against the stored verifier); one answer for an unknown meter and a wrong token."""
        meter_id = _hex_id(meter_id)
        m = self.db.meter(meter_id)
        if not isinstance(token, str) or m is None or not webaccess.matches(token, m["access_verifier"]):
            raise ServiceError(
                403,
                "no such meter, or the access token does not match it (the page derives it "
                "from the customer code on the meter label)",
            )
        return m

    def current_tariff(self, digest: Optional[str] = None) -> Dict[str, Any]:
        ts = [t for t in self.db.tariffs() if digest is None or t["digest"] == digest]
        if not ts:
            raise ServiceError(
                404, "no such tariff is published" if digest else "the supplier has published no tariff yet"
            )
        return ts[-1]

    def _tariff_obj(self, signed: Dict[str, Any]) -> Any:
        return _tariff.parse_signed(signed, self.supplier_pub, "published tariff")

    def cycles(self, meter_id: str, token: Any) -> Dict[str, Any]:
        """The tariff's billing cycles that hold records of this meter, with their completeness
        and bill status (newest first)."""
        self.authorize(meter_id, token)
        info = next((m for m in self.db.meters() if m["meter_id"] == meter_id), None)
        cur = self.current_tariff()
        t = self._tariff_obj(cur["signed"])
        billed = {(b["start_slot"], b["end_slot"]): b for b in self.db.bills(meter_id)}
        out = []
        if info and info["records"]:
            for a, b in t.cycle.within(int(info["first_slot"]), int(info["last_slot"]) + 1)[-24:]:
                bl = billed.get((a, b))
                out.append(
                    {
                        "cycle": t.cycle.label(a, b),
                        "start_slot": a,
                        "end_slot": b,
                        "slots": b - a,
                        "records": self.db.count_records(meter_id, a, b),
                        "bill": None
                        if bl is None
                        else {k: bl[k] for k in ("amount", "total", "bill_digest", "recorded_at")},
                    }
                )
        return {"meter_id": meter_id, "tariff_digest": cur["digest"], "timezone": t.tzname, "cycles": out[::-1]}

    def month(self, meter_id: str, token: Any, start: int, end: int) -> Dict[str, Any]:
        """What the page needs to bill one cycle: the meter's and the supplier's public keys, the
        signed tariff, and the cycle's encrypted records (base64), all public or encrypted."""
        m = self.authorize(meter_id, token)
        cur = self.current_tariff()
        t = self._tariff_obj(cur["signed"])
        why = t.cycle.problem(start, end)
        if why:
            raise ServiceError(400, why)
        recs = self.db.records(meter_id, start, end)
        if len(recs) != end - start:
            raise ServiceError(
                409,
                "the service holds %d of the %d readings of cycle %s: the rest have not been "
                "uploaded yet" % (len(recs), end - start, t.cycle.label(start, end)),
            )
        return {
            "meter": m["pubkey"],
            "supplier_key": keys.public(self.supplier_pub),
            "tariff": cur["signed"],
            "cycle": t.cycle.label(start, end),
            "start_slot": start,
            "end_slot": end,
            "timezone": t.tzname,
            "records": [base64.b64encode(r).decode() for _, r in recs],
        }

    def receive_bill(self, meter_id: str, token: Any, raw: bytes) -> Dict[str, Any]:
        """Verify a bill with the library (veriwatt.bill.verify_bill: the meter's registered key,
        the published signed tariff it names) and record it in the billing-cycle ledger."""
        m = self.authorize(meter_id, token)
        try:
            b = jsonio.loads(raw.decode("utf-8"), "bill", "the uploaded bill")
        except (UnicodeDecodeError, VeriwattError) as e:
            raise ServiceError(400, "the bill is not strict JSON: %s" % e)
        if not isinstance(b, dict) or b.get("meter_id") != meter_id:
            raise ServiceError(400, "the bill is not a bill of meter %s" % meter_id)
        tinfo = b.get("tariff")
        digest = tinfo.get("digest") if isinstance(tinfo, dict) else None
        signed = self.db.tariff(digest) if isinstance(digest, str) else None
        if signed is None:
            raise ServiceError(422, "the bill names a tariff the supplier has not published (%s)" % str(digest)[:80])
        t = self._tariff_obj(signed)
        try:
            rep = _bill.verify_bill(b, t, m["pubkey"])
        except InvalidError as e:
            return {
                "valid": False,
                "recorded": False,
                "reason": str(e),
                "problems": getattr(e, "report", {}).get("problems", [])[:20],
            }
        except VeriwattError as e:
            raise ServiceError(400, "malformed bill: %s" % e)
        try:
            row = self.db.record_bill(b, raw, t)
        except InvalidError as e:
            return {"valid": True, "recorded": False, "reason": str(e), "total": rep["total"], "amount": rep["amount"]}
        return {
            "valid": True,
            "recorded": True,
            "total": rep["total"],
            "amount": rep["amount"],
            "seconds": rep.get("seconds"),
            "ledger": row,
        }

    def bills(self, meter_id: str, token: Any) -> Dict[str, Any]:
        self.authorize(meter_id, token)
        return {"meter_id": meter_id, "bills": self.db.bills(meter_id)}

    def gaps(self, meter_id: str, start: int, end: int) -> Dict[str, Any]:
        t = self._tariff_obj(self.current_tariff()["signed"])
        return self.db.gaps(_hex_id(meter_id), "energy", t.cycle, start, end)


def decode_upload(obj: Any) -> List[bytes]:
    """The records of an upload body {"records": [base64, ...]} (canonical base64 each)."""
    if not isinstance(obj, dict) or set(obj) != {"records"} or not isinstance(obj["records"], list):
        raise ServiceError(400, "an upload is {\"records\": [base64 RECORD, ...]} and nothing else")
    if len(obj["records"]) > MAX_RECORDS_PER_UPLOAD:
        raise ServiceError(413, "%d records in one upload: at most %d" % (len(obj["records"]), MAX_RECORDS_PER_UPLOAD))
    out = []
    for i, s in enumerate(obj["records"]):
        try:
            out.append(jsonio.b64(s, "records[%d]" % i, 4 * ((wire.record_len(2) + 2) // 3)))
        except VeriwattError as e:
            raise ServiceError(400, str(e))
    return out


def encode_upload(raws: Sequence[bytes]) -> bytes:
    return json.dumps({"records": [base64.b64encode(r).decode() for r in raws]}).encode()
