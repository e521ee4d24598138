# SPDX-License-Identifier: MIT
"""Sampling for settlement: every meter discloses a random sample of its readings, chosen by a
supplier-signed beacon (docs/COMPUTATIONS.md, section 4).

Beacon: a signed file (signedfile conventions, domain "veriwatt-beacon/1") naming a period
[start_slot, end_slot), a 32-byte random value and its publication time, which must be at
or after the end of the period. A slot t of meter M is selected iff

    SHA-256(len || "veriwatt/sample/v1" || value || meter_id || t as 4 bytes BE) mod rate == 0

(the hash read as a 256-bit big-endian integer: bias below 2^-236 for rate <= 10^6), with
the rate from the signed tariff or profile set (`sample_rate`, default 100: one in 100).

A sampled disclosure wraps an ordinary disclosure (veriwatt-disclosure/1, bill.py) with the
beacon digest, the period, the rate and its signed source; the verifier recomputes the
selection and refuses a disclosure that omits or adds a slot, or was made for another
beacon, period, rate or meter.

Why neither party controls the sample: the meter certifies (signs) each reading at the end
of its half hour, before the beacon exists, so the customer cannot shape consumption around
the sample nor choose which slots to open (the verifier recomputes them). The supplier
publishes the beacon after the period, but one beacon serves every meter and every slot of
the period; the value is signed, so the supplier cannot show different beacons to
different meters without producing two signed beacons for one period (evidence). What the
supplier could still do is try many values before publishing one (grinding) to favour
particular slots of a particular meter; it cannot change how many slots are opened (the
rate is signed in the tariff). docs/COMPUTATIONS.md discusses a commit-before-the-period
variant that removes grinding.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import jsonio
from . import signedfile
from . import slots as _slots
from .errors import InvalidError, VeriwattError

FORMAT = "veriwatt-beacon/1"
SIGNED_FORMAT = "veriwatt-signed-beacon/1"
SAMPLE_FORMAT = "veriwatt-sample/1"
DST = b"veriwatt/sample/v1"
DEFAULT_RATE = 100
MAX_RATE = 1000000
KIND = signedfile.Kind("beacon", FORMAT, SIGNED_FORMAT, "beacon", b"veriwatt-beacon/1\x00", "beacon")
BEACON_FIELDS = ("format", "supplier", "period", "value", "published")
TIME_RE = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\Z"


def _valid_time(text: str) -> bool:
    try:
        _dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return False
    return True


class Beacon:
    """A validated beacon body."""

    def __init__(self, body: Any, where: str = "beacon") -> None:
        jsonio.only_keys(body, where + ":", BEACON_FIELDS)
        if body["format"] != FORMAT:
            raise VeriwattError("%s: format must be %r" % (where, FORMAT))
        if not isinstance(body["supplier"], str) or len(body["supplier"]) > 80:
            raise VeriwattError("%s.supplier must be a string of at most 80 characters" % where)
        p = jsonio.only_keys(body["period"], where + ".period", ("start_slot", "end_slot"))
        self.start = jsonio.integer(p["start_slot"], where + ".period.start_slot", 0, _slots.NO_SLOT - 1)
        self.end = jsonio.integer(p["end_slot"], where + ".period.end_slot", self.start + 1, _slots.NO_SLOT)
        _slots.check_range(self.start, self.end, where + ".period")
        self.value = jsonio.hex_bytes(body["value"], where + ".value", 32)
        pub = body["published"]
        if not isinstance(pub, str) or not re.match(TIME_RE, pub) or not _valid_time(pub):
            raise VeriwattError("%s.published must be a UTC time YYYY-MM-DDTHH:MM:SSZ" % where)
        self.published = pub
        end_time = _slots.slot_start(self.end).strftime("%Y-%m-%dT%H:%M:%SZ")
        if pub < end_time:
            raise InvalidError(
                "%s was published %s, before its period ended (%s): a sample must be chosen after "
                "the readings are certified" % (where, pub, end_time)
            )
        self.body = body
        self.digest = signedfile.digest(body)


def new_beacon(
    start: int, end: int, supplier: str, value: Optional[bytes] = None, published: Optional[str] = None
) -> Dict[str, Any]:
    """A beacon body for [start, end) with a fresh random value (os.urandom), published now."""
    _slots.check_range(start, end)
    now = published or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    end_time = _slots.slot_start(end).strftime("%Y-%m-%dT%H:%M:%SZ")
    if now < end_time:
        raise VeriwattError(
            "the period %s has not ended (it ends %s): a beacon is published after the readings "
            "are certified" % (_slots.describe(start, end), end_time)
        )
    body = {
        "format": FORMAT,
        "supplier": supplier,
        "period": {"start_slot": start, "end_slot": end},
        "value": (value if value is not None else os.urandom(32)).hex(),
        "published": now,
    }
    Beacon(body)
    return body


# sign(body, supplier_key) -> signed file; parse_signed(obj, supplier_pub, where) and
# load_signed(path, supplier_key_path) -> Beacon: veriwatt.signedfile.Typed
_SIGNED = signedfile.Typed(KIND, Beacon)
sign, parse_signed, load_signed = _SIGNED.sign, _SIGNED.parse_signed, _SIGNED.load_signed


# ------------------------------------------------------------------ the selection
def selected(value: bytes, meter_id: bytes, slot: int, rate: int) -> bool:
    """True iff slot `slot` of meter `meter_id` is in the sample fixed by the beacon value."""
    h = hashlib.sha256(
        len(DST).to_bytes(4, "big") + DST + bytes(value) + bytes(meter_id) + slot.to_bytes(4, "big")
    ).digest()
    return int.from_bytes(h, "big") % rate == 0


def selection(beacon: Beacon, meter_id: str, rate: int) -> List[int]:
    """The slots of the beacon's period that meter `meter_id` (16 hex digits) must disclose."""
    jsonio.integer(rate, "sample rate", 1, MAX_RATE)
    mid = jsonio.hex_bytes(meter_id, "meter id", 8)
    return [t for t in range(beacon.start, beacon.end) if selected(beacon.value, mid, t, rate)]


def rate_of(source: Any) -> Tuple[int, Dict[str, Any]]:
    """(rate, {kind, digest}) of a signed tariff (tariff.Tariff / ZkTariff) or profile set."""
    from . import profiles

    if isinstance(source, profiles.ProfileSet):
        return source.sample_rate, {"kind": "profiles", "digest": source.digest}
    body = getattr(source, "body", None)
    if not isinstance(body, dict):
        raise VeriwattError("the sample rate comes from a signed tariff or profile set")
    return profiles.sample_rate(body, "tariff"), {"kind": "tariff", "digest": source.digest()}


# ------------------------------------------------------------------ sampled disclosures
SAMPLE_FIELDS = ("format", "meter_id", "period", "beacon", "rate", "rate_source", "disclosure")


def make_sample(
    recs: Sequence[Any], openings: Sequence[Tuple[int, int]], beacon: Beacon, source: Any, meter_pub: Dict[str, Any]
) -> Dict[str, Any]:
    """Open exactly the selected slots of the beacon's period (recs/openings may hold more)."""
    from . import bill

    rate, src = rate_of(source)
    chosen = selection(beacon, meter_pub["meter_id"], rate)
    have = {r.slot for r in recs}
    missing = [t for t in chosen if t not in have]
    if missing:
        raise VeriwattError(
            "%d selected slot(s) are not in the store (first %d): fetch them first" % (len(missing), missing[0])
        )
    d = bill.make_disclosure(
        recs, openings, chosen, meter_pub, "settlement sample 1 in %d, beacon %s" % (rate, beacon.digest)
    )
    return {
        "format": SAMPLE_FORMAT,
        "meter_id": meter_pub["meter_id"],
        "period": {"start_slot": beacon.start, "end_slot": beacon.end},
        "beacon": beacon.digest,
        "rate": rate,
        "rate_source": src,
        "disclosure": d,
    }


def verify_sample(doc: Any, beacon: Beacon, source: Any, meter_pub: Dict[str, Any]) -> Dict[str, Any]:
    """Check a sampled disclosure: the signed beacon and rate source it names, the meter, every
    opened reading (bill.verify_disclosure), and that the opened slots are EXACTLY the
    selection. InvalidError for anything that does not match, VeriwattError when malformed."""
    from . import bill

    if not isinstance(doc, dict) or doc.get("format") != SAMPLE_FORMAT:
        raise VeriwattError("not a sampled disclosure: format must be %r" % SAMPLE_FORMAT)
    jsonio.only_keys(doc, "sample:", SAMPLE_FIELDS)
    if doc["beacon"] != beacon.digest:
        raise InvalidError(
            "the sample was drawn with beacon %s, the published (signed) beacon is %s"
            % (str(doc["beacon"])[:80], beacon.digest)
        )
    p = jsonio.only_keys(doc["period"], "sample: period", ("start_slot", "end_slot"))
    if [type(p["start_slot"]), type(p["end_slot"])] != [int, int] or (p["start_slot"], p["end_slot"]) != (
        beacon.start,
        beacon.end,
    ):
        raise InvalidError(
            "the sample is for period %s:%s, the beacon for %d:%d"
            % (str(p["start_slot"])[:12], str(p["end_slot"])[:12], beacon.start, beacon.end)
        )
    rate, src = rate_of(source)
    jsonio.integer(doc["rate"], "sample: rate", 1, MAX_RATE)
    if doc["rate"] != rate or doc["rate_source"] != src:
        raise InvalidError(
            "the sample uses rate 1 in %s from %s, the signed %s says 1 in %d (%s)"
            % (doc["rate"], str(doc["rate_source"])[:120], src["kind"], rate, src["digest"])
        )
    if doc["meter_id"] != meter_pub.get("meter_id"):
        raise InvalidError(
            "the sample is for meter %s, the meter key for meter %s"
            % (str(doc["meter_id"])[:16], meter_pub.get("meter_id"))
        )
    rep = bill.verify_disclosure(doc["disclosure"], meter_pub)
    got = [s["slot"] for s in rep["slots"]]
    want = selection(beacon, meter_pub["meter_id"], rate)
    omitted = sorted(set(want) - set(got))
    added = sorted(set(got) - set(want))
    if omitted:
        raise InvalidError(
            "the sample omits %d selected slot(s) (first %d): a sample must open exactly the slots "
            "the beacon selects" % (len(omitted), omitted[0])
        )
    if added:
        raise InvalidError("the sample opens %d slot(s) the beacon did not select (first %d)" % (len(added), added[0]))
    return {
        "valid": True,
        "meter_id": doc["meter_id"],
        "period": {"start_slot": beacon.start, "end_slot": beacon.end},
        "rate": rate,
        "beacon": beacon.digest,
        "slots": rep["slots"],
        "sampled_wh": sum(s["reading"] for s in rep["slots"]),
        "estimate_wh": rate * sum(s["reading"] for s in rep["slots"]),
    }


def estimate(samples: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """Settlement estimate from verified samples (reports of verify_sample): the
    Horvitz-Thompson estimator of the population's total, rate * sum of sampled readings,
    with its standard error sqrt(rate * (rate - 1) * sum m^2) (Poisson sampling)."""
    tot = 0
    var = 0
    n = 0
    for s in samples:
        rate = s["rate"]
        for x in s["slots"]:
            tot += rate * x["reading"]
            var += rate * (rate - 1) * x["reading"] ** 2
            n += 1
    return {"meters": len(samples), "sampled_slots": n, "estimate_wh": tot, "stderr_wh": round(var**0.5)}
