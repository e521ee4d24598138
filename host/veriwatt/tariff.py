# SPDX-License-Identifier: MIT
"""Time-of-use tariffs: the JSON format (docs/TARIFF.md), schedule evaluation, supplier signatures.

A tariff maps every half-hour slot to an integer price. Bills are linear in the readings,
`bill = sum(price_t * m_t)`, so the supplier can check them against the meter's signed
commitments without seeing a reading. The same format serves settlement (a grid
value-of-energy index instead of prices, `kind: "index"`): prices may be negative there.

Non-linear kinds (`step`, `cumulative`, `threshold`, `rebate`) share the envelope (format,
name, supplier, currency, divisor, timezone, the supplier signature) and carry the
parameters of veriwatt.zk.tariffs (to_json / from_json); their bills carry a
zero-knowledge proof (ZkTariff below, docs/ZK.md). `parse_body` gives either class.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from typing import Any, Dict, List, Optional, Tuple

from . import cycles as _cycles
from . import slots as _slots
from .errors import InvalidError, VeriwattError

FORMAT = "veriwatt-tariff/1"
SIGNED_FORMAT = "veriwatt-signed-tariff/1"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_SETS = {"all": set(range(7)), "weekday": set(range(5)), "weekend": {5, 6}}
MAX_ABS_PRICE = 1 << 31
LINEAR_KINDS = ("tariff", "index")
ZK_KINDS = ("step", "cumulative", "threshold", "rebate")
KINDS = LINEAR_KINDS + ZK_KINDS
COMMON_FIELDS = {
    "format",
    "kind",
    "name",
    "supplier",
    "currency",
    "unit",
    "divisor",
    "timezone",
    "cycle",
    "sample_rate",
}
MAX_SAMPLE_RATE = 1000000


def _sample_rate(body: Dict[str, Any]) -> None:
    """`sample_rate` (optional): one reading in N is disclosed for settlement (veriwatt.sampling)."""
    r = body.get("sample_rate", 100)
    if not isinstance(r, int) or isinstance(r, bool) or not 1 <= r <= MAX_SAMPLE_RATE:
        raise VeriwattError("tariff.sample_rate must be an integer from 1 to %d (one reading in N)" % MAX_SAMPLE_RATE)


def canonical(obj: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, no spaces, ASCII, integers only (floats are refused)."""

    def check(o: Any, where: str) -> None:
        if isinstance(o, float):
            raise VeriwattError("%s: %r is not an integer: tariffs use integer prices only" % (where, o))
        if isinstance(o, dict):
            for k, v in o.items():
                check(v, "%s.%s" % (where, k))
        elif isinstance(o, list):
            for i, v in enumerate(o):
                check(v, "%s[%d]" % (where, i))

    check(obj, "tariff")
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def digest(tariff: Dict[str, Any]) -> str:
    """ "sha256:<hex>" of the canonical JSON of the tariff body (the part the supplier signs)."""
    return "sha256:" + hashlib.sha256(canonical(tariff)).hexdigest()


def _hhmm(s: Any, where: str) -> int:
    """'HH:MM' on a half-hour boundary -> minutes after midnight (24:00 allowed as an end)."""
    if not isinstance(s, str) or not re.fullmatch(r"\d{2}:\d{2}", s):
        raise VeriwattError("%s: %r is not a time HH:MM" % (where, s))
    h, m = int(s[:2]), int(s[3:])
    if m not in (0, 30) or h > 24 or (h == 24 and m):
        raise VeriwattError("%s: %s is not on a half-hour boundary between 00:00 and 24:00" % (where, s))
    return h * 60 + m


def _date(s: Any, where: str) -> _dt.date:
    try:
        return _dt.date.fromisoformat(s)
    except (TypeError, ValueError):
        raise VeriwattError("%s: %r is not a date YYYY-MM-DD" % (where, s))


def _price(p: Any, where: str, signed: bool) -> int:
    if not isinstance(p, int) or isinstance(p, bool):
        raise VeriwattError("%s: price %r must be an integer" % (where, p))
    if abs(p) >= MAX_ABS_PRICE:
        raise VeriwattError("%s: price %d is out of range (|price| < 2^31)" % (where, p))
    if p < 0 and not signed:
        raise VeriwattError("%s: negative price %d (only `kind: \"index\"` schedules may be negative)" % (where, p))
    return p


def _days(d: Any, where: str) -> frozenset:
    if d is None:
        return frozenset(DAY_SETS["all"])
    if isinstance(d, str):
        if d in DAY_SETS:
            return frozenset(DAY_SETS[d])
        d = [d]
    if not isinstance(d, list) or not d:
        raise VeriwattError(
            "%s: days must be \"all\", \"weekday\", \"weekend\" or a list like [\"sat\", \"sun\"]" % where
        )
    out = set()
    for x in d:
        if x not in DAYS:
            raise VeriwattError("%s: unknown day %r (use %s)" % (where, x, ", ".join(DAYS)))
        out.add(DAYS.index(x))
    return frozenset(out)


class Band:
    __slots__ = ("name", "days", "start", "end", "price")

    def __init__(self, name: str, days: frozenset, start: int, end: int, price: int) -> None:
        self.name, self.days, self.start, self.end, self.price = name, days, start, end, price

    def matches(self, weekday: int, minute: int) -> bool:
        if weekday not in self.days:
            return False
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end  # wraps past midnight (e.g. 23:00-07:00)


class Season:
    __slots__ = ("start", "end", "bands", "default")

    def __init__(
        self, start: Optional[_dt.date], end: Optional[_dt.date], bands: List[Band], default: Optional[int]
    ) -> None:
        self.start, self.end, self.bands, self.default = start, end, bands, default

    def contains(self, d: _dt.date) -> bool:
        return (self.start is None or self.start <= d) and (self.end is None or d < self.end)


class Tariff:
    """A parsed and validated tariff body. `price(slot)` and `prices(start, end)` evaluate it."""

    def __init__(self, body: Dict[str, Any]) -> None:
        self.body = body
        if not isinstance(body, dict):
            raise VeriwattError("tariff: expected a JSON object")
        if body.get("format") != FORMAT:
            raise VeriwattError("tariff: format must be %r (got %r)" % (FORMAT, body.get("format")))
        self.kind = body.get("kind", "tariff")
        if self.kind not in LINEAR_KINDS:
            raise VeriwattError("tariff: kind must be one of %s (got %r)" % (", ".join(KINDS), self.kind))
        signed = self.kind == "index"
        self.name = str(body.get("name", ""))
        self.supplier = str(body.get("supplier", ""))
        self.currency = str(body.get("currency", ""))
        self.divisor = body.get("divisor", 1)
        if not isinstance(self.divisor, int) or self.divisor <= 0:
            raise VeriwattError("tariff: divisor must be a positive integer")
        self.tzname = body.get("timezone", "UTC")
        self.tz = _slots.zone(self.tzname)
        self.cycle = _cycles.parse(body.get("cycle"), self.tzname)
        _sample_rate(body)
        default = body.get("default_price")
        if default is not None:
            default = _price(default, "tariff.default_price", signed)
        seasons = body.get("seasons")
        if not isinstance(seasons, list) or not seasons:
            raise VeriwattError("tariff: `seasons` must be a non-empty list (see docs/TARIFF.md)")
        self.seasons: List[Season] = []
        for i, s in enumerate(seasons):
            w = "tariff.seasons[%d]" % i
            if not isinstance(s, dict):
                raise VeriwattError("%s: expected an object" % w)
            a = _date(s["from"], w + ".from") if s.get("from") is not None else None
            b = _date(s["to"], w + ".to") if s.get("to") is not None else None
            if a and b and b <= a:
                raise VeriwattError("%s: `to` must be after `from`" % w)
            bands = []
            raw_bands = s.get("bands", [])
            if not isinstance(raw_bands, list):
                raise VeriwattError("%s.bands must be a list of bands" % w)
            for j, bd in enumerate(raw_bands):
                wb = "%s.bands[%d]" % (w, j)
                if not isinstance(bd, dict):
                    raise VeriwattError("%s: expected an object" % wb)
                for k in ("start", "end", "price"):
                    if k not in bd:
                        raise VeriwattError("%s: missing %r" % (wb, k))
                st, en = _hhmm(bd["start"], wb + ".start"), _hhmm(bd["end"], wb + ".end")
                if st == en or st == 24 * 60:
                    raise VeriwattError("%s: empty band %s-%s" % (wb, bd["start"], bd["end"]))
                bands.append(
                    Band(
                        str(bd.get("name", "band%d" % j)),
                        _days(bd.get("days"), wb + ".days"),
                        st,
                        en % (24 * 60) if en != 24 * 60 else 24 * 60,
                        _price(bd["price"], wb, signed),
                    )
                )
            d = s.get("default_price", default)
            if d is not None:
                d = _price(d, w + ".default_price", signed)
            self.seasons.append(Season(a, b, bands, d))

    def band(self, slot: int) -> Band:
        """The band (or a synthetic "default" band) that prices `slot`; error if none does."""
        local = _slots.slot_start(slot).astimezone(self.tz)
        d, wd, minute = local.date(), local.weekday(), local.hour * 60 + local.minute
        for s in self.seasons:
            if s.contains(d):
                for b in s.bands:
                    if b.matches(wd, minute):
                        return b
                if s.default is not None:
                    return Band("default", frozenset(range(7)), 0, 24 * 60, s.default)
                raise VeriwattError(
                    "tariff %r has no price for %s (no band matches and no default_price)"
                    % (self.name, local.isoformat())
                )
        raise VeriwattError("tariff %r does not cover %s (no season contains that date)" % (self.name, d.isoformat()))

    def price(self, slot: int) -> int:
        return self.band(slot).price

    def prices(self, start: int, end: int) -> List[int]:
        """Price of every slot of [start, end) (the last few periods asked are remembered: a
        supplier verifies a month of bills under one tariff, veriwatt.batchverify)."""
        memo: Dict[Tuple[int, int], Tuple[int, ...]] = self.__dict__.setdefault("_prices_memo", {})
        got = memo.get((start, end))
        if got is None:
            got = tuple(self.band(t).price for t in range(start, end))
            if len(memo) >= 4:
                memo.clear()
            memo[(start, end)] = got
        return list(got)

    def band_names(self, start: int, end: int) -> List[str]:
        return [self.band(t).name for t in range(start, end)]

    def amount(self, total: int) -> str:
        """A bill total in the tariff's units as text with two decimals, e.g. "84.12 GBP"."""
        if self.divisor == 1:
            return ("%d %s" % (total, self.currency)).strip()
        cents = (abs(total) * 100 + self.divisor // 2) // self.divisor
        return ("%s%d.%02d %s" % ("-" if total < 0 else "", cents // 100, cents % 100, self.currency)).strip()

    def digest(self) -> str:
        return digest(self.body)


def _common(self: Any, body: Dict[str, Any]) -> None:
    self.name = str(body.get("name", ""))
    self.supplier = str(body.get("supplier", ""))
    self.currency = str(body.get("currency", ""))
    self.divisor = body.get("divisor", 1)
    if not isinstance(self.divisor, int) or isinstance(self.divisor, bool) or self.divisor <= 0:
        raise VeriwattError("tariff: divisor must be a positive integer")
    self.tzname = body.get("timezone", "UTC")
    self.tz = _slots.zone(self.tzname)
    self.cycle = _cycles.parse(body.get("cycle"), self.tzname)
    _sample_rate(body)


ZK_FIELDS = {
    "step": ("bands",),
    "cumulative": ("thresholds", "prices"),
    "threshold": ("windows", "limit", "price"),
    "rebate": ("baseline", "thresholds", "rates"),
}


class ZkTariff:
    """A non-linear tariff (kind step, cumulative, threshold or rebate): the common envelope
    plus the parameters of veriwatt.zk.tariffs. `zk(start, end)` is the proof-layer tariff for
    a billing period (the threshold kind names its demand-response slots by local-time
    windows, turned into indices into the period here)."""

    linear = False

    def __init__(self, body: Dict[str, Any]) -> None:
        from .zk import tariffs as _zt

        if not isinstance(body, dict):
            raise VeriwattError("tariff: expected a JSON object")
        if body.get("format") != FORMAT:
            raise VeriwattError("tariff: format must be %r (got %r)" % (FORMAT, body.get("format")))
        self.body = body
        self.kind = body.get("kind")
        if self.kind not in ZK_KINDS:
            raise VeriwattError("tariff: kind must be one of %s (got %r)" % (", ".join(KINDS), self.kind))
        canonical(body)  # integers only
        _common(self, body)
        need = set(ZK_FIELDS[self.kind])
        allowed = COMMON_FIELDS | need | {"max_reading"}
        extra = sorted(set(body) - allowed)
        if extra:
            raise VeriwattError(
                "tariff (kind %s): unknown field(s) %s; allowed: %s"
                % (self.kind, ", ".join(extra), ", ".join(sorted(allowed)))
            )
        missing = sorted(need - set(body))
        if missing:
            raise VeriwattError(
                "tariff (kind %s): missing field(s) %s (see docs/TARIFF.md)" % (self.kind, ", ".join(missing))
            )
        self.max_reading = body.get("max_reading", _zt.MAX_READING)
        self.windows: List[Band] = []
        if self.kind == "threshold":
            ws = body["windows"]
            if not isinstance(ws, list) or not ws:
                raise VeriwattError("tariff.windows must be a non-empty list of {days, start, end}")
            for j, w in enumerate(ws):
                wb = "tariff.windows[%d]" % j
                if not isinstance(w, dict) or "start" not in w or "end" not in w:
                    raise VeriwattError("%s: expected an object with start and end" % wb)
                st, en = _hhmm(w["start"], wb + ".start"), _hhmm(w["end"], wb + ".end")
                if st == en or st == 24 * 60:
                    raise VeriwattError("%s: empty window %s-%s" % (wb, w["start"], w["end"]))
                self.windows.append(
                    Band(str(w.get("name", "window%d" % j)), _days(w.get("days"), wb + ".days"), st, en, 0)
                )
        # validate the kind-specific parameters with the proof layer's own parser
        self._params(None)

    def _params(self, slots_: Optional[List[int]]) -> Dict[str, Any]:
        from .zk import tariffs as _zt

        obj = {"format": _zt.FORMAT, "kind": self.kind, "max_reading": self.max_reading}
        for k in ZK_FIELDS[self.kind]:
            if k != "windows":
                obj[k] = self.body[k]
        if self.kind == "threshold":
            obj["slots"] = slots_ if slots_ is not None else [0]
        try:
            return {"zk": _zt.from_json(obj)}
        except ValueError as e:
            raise VeriwattError("tariff (kind %s): %s" % (self.kind, e))

    def dr_slots(self, start: int, end: int) -> List[int]:
        """Indices into [start, end) of the slots in a demand-response window (threshold kind)."""
        out = []
        for i, t in enumerate(range(start, end)):
            local = _slots.slot_start(t).astimezone(self.tz)
            if any(w.matches(local.weekday(), local.hour * 60 + local.minute) for w in self.windows):
                out.append(i)
        return out

    def zk(self, start: int, end: int) -> Any:
        """The veriwatt.zk.tariffs object for billing the slots [start, end)."""
        if self.kind != "threshold":
            return self._params(None)["zk"]
        idx = self.dr_slots(start, end)
        if not idx:
            raise VeriwattError(
                "tariff %r: no slot of %s falls in a demand-response window" % (self.name, _slots.describe(start, end))
            )
        return self._params(idx)["zk"]

    def describe(self) -> List[str]:
        b = self.body
        if self.kind == "step":
            ups = [lo for lo, _ in b["bands"][1:]] + [self.max_reading + 1]
            return [
                "  %5d..%-5d Wh per half-hour: price %d per Wh" % (lo, up - 1, pr)
                for (lo, pr), up in zip(b["bands"], ups)
            ]
        if self.kind == "cumulative":
            lows = [0] + list(b["thresholds"])
            return [
                "  %s Wh of the period: price %d per Wh"
                % (("from %d" % lo) if i == len(b["thresholds"]) else "%d..%d" % (lo, b["thresholds"][i] - 1), pr)
                for i, (lo, pr) in enumerate(zip(lows, b["prices"]))
            ]
        if self.kind == "threshold":
            return ["  limit %d Wh per half-hour in the windows, %d per excess Wh" % (b["limit"], b["price"])] + [
                "  window %s: %s %s-%s" % (w.get("name", "window%d" % j), w.get("days", "all"), w["start"], w["end"])
                for j, w in enumerate(b["windows"])
            ]
        lows = [0] + list(b["thresholds"])
        return ["  baseline %d Wh; savings below it rewarded:" % b["baseline"]] + [
            "  savings %s Wh: rate %d per Wh"
            % (("from %d" % lo) if i == len(b["thresholds"]) else "%d..%d" % (lo, b["thresholds"][i] - 1), r)
            for i, (lo, r) in enumerate(zip(lows, b["rates"]))
        ]

    amount = Tariff.amount

    def digest(self) -> str:
        return digest(self.body)


Tariff.linear = True  # type: ignore[attr-defined]


def parse_body(body: Any) -> Any:
    """A validated tariff object for a body of any kind: Tariff (linear) or ZkTariff."""
    if isinstance(body, dict) and body.get("kind") in ZK_KINDS:
        return ZkTariff(body)
    return Tariff(body)


def sign(body: Dict[str, Any], supplier_key: Dict[str, Any]) -> Dict[str, Any]:
    """Validate the tariff body and wrap it with the supplier's Schnorr signature over its digest."""
    from . import keys

    parse_body(body)  # validate before signing
    d = digest(body)
    sig = keys.sign(supplier_key, SIG_DOMAIN + d.encode())
    return {
        "format": SIGNED_FORMAT,
        "tariff": body,
        "digest": d,
        "signature": {"alg": keys.ALG, "key_id": keys.key_id(supplier_key), "sig": sig},
    }


SIGNED_FIELDS = ("format", "tariff", "digest", "signature")
SIG_FIELDS = ("alg", "key_id", "sig")
SIG_DOMAIN = b"veriwatt-tariff/1\x00"


def load_signed(path: str, supplier_pub: Dict[str, Any]) -> Any:
    """Load a signed tariff file and check its signature against the trusted supplier key."""
    from . import jsonio

    return parse_signed(jsonio.load(path, "tariff"), supplier_pub, path)


def parse_signed(obj: Any, supplier_pub: Dict[str, Any], path: str = "tariff") -> Any:
    """The tariff of a signed tariff file, after checking every field and the supplier's
    signature under `supplier_pub` (the key the verifier trusts: never one from the file).
    Unsigned tariffs are refused: a verifier has no reason to trust their prices."""
    from . import jsonio, keys

    if not isinstance(obj, dict):
        raise VeriwattError("tariff file %s: expected a JSON object" % path)
    if not isinstance(supplier_pub, dict):
        raise VeriwattError(
            "tariff %s: no trusted supplier key to check it against: give --supplier-key "
            "supplier.pub.json or add the key once with `veriwatt trust add supplier.pub.json`" % path
        )
    if obj.get("format") == FORMAT:
        raise InvalidError(
            "tariff %s is not signed: its prices cannot be trusted; the supplier signs it with "
            "`veriwatt tariff sign`" % path
        )
    if obj.get("format") != SIGNED_FORMAT:
        raise VeriwattError("tariff file %s: format must be %r" % (path, SIGNED_FORMAT))
    if not isinstance(obj.get("signature"), dict):
        raise InvalidError("tariff %s has no supplier signature: its prices cannot be trusted" % path)
    jsonio.only_keys(obj, "tariff file %s:" % path, ("format", "tariff", "signature"), ("digest", "supplier_key"))
    if not isinstance(obj.get("tariff"), dict):
        raise VeriwattError("tariff file %s: `tariff` must be an object" % path)
    t = parse_body(obj["tariff"])
    d = t.digest()
    if "digest" in obj and obj["digest"] != d:
        raise InvalidError(
            "tariff %s: its stated digest does not match its contents (the tariff was changed after signing)" % path
        )
    verify_signature(obj, supplier_pub, path)
    if "supplier_key" in obj:
        # informational copy of the signer's public key: never trusted, but it must be the trusted key
        if obj["supplier_key"] != keys.public(supplier_pub) and obj["supplier_key"] != supplier_pub:
            raise InvalidError(
                "tariff %s carries supplier key %s, not the trusted supplier key %s (a tariff signed "
                "by someone else)" % (path, _kid(obj["supplier_key"]), keys.key_id(supplier_pub))
            )
    t.signed = obj  # type: ignore[attr-defined]
    return t


def _kid(k: Any) -> str:
    return str(k.get("key_id"))[:16] if isinstance(k, dict) else "?"


def signer_key_id(obj: Any) -> Optional[str]:
    """The key id a signed tariff names as its signer (to look up a trusted key), or None."""
    sig = obj.get("signature") if isinstance(obj, dict) else None
    kid = sig.get("key_id") if isinstance(sig, dict) else None
    return kid if isinstance(kid, str) else None


def verify_signature(obj: Dict[str, Any], supplier_pub: Dict[str, Any], path: str = "tariff") -> None:
    """Schnorr signature (vwcore.sig) by supplier_pub over SIG_DOMAIN || digest (ASCII)."""
    from . import jsonio, keys

    sig = obj.get("signature")
    if not isinstance(sig, dict) or "sig" not in sig:
        raise InvalidError("tariff %s has no supplier signature" % path)
    jsonio.only_keys(sig, "tariff %s: signature" % path, SIG_FIELDS)
    if sig["alg"] != keys.ALG:
        raise InvalidError("tariff %s: signature alg must be %r" % (path, keys.ALG))
    if sig["key_id"] != keys.key_id(supplier_pub):
        raise InvalidError(
            "tariff %s was signed by key %s, not by the trusted supplier key %s"
            % (path, str(sig["key_id"])[:16], keys.key_id(supplier_pub))
        )
    try:
        keys.parse_sig(sig["sig"], keys.group_of(supplier_pub), "signature")
    except VeriwattError as e:
        raise InvalidError("tariff %s: malformed supplier signature: %s" % (path, e))
    d = digest(obj["tariff"])
    if not keys.verify(supplier_pub, SIG_DOMAIN + d.encode(), sig["sig"]):
        raise InvalidError(
            "tariff %s: the supplier's signature does not verify (tariff changed, or wrong supplier key)" % path
        )


def example(kind: str = "tariff") -> Dict[str, Any]:
    """The example tariff of a kind (time-of-use by default) used by the demo and the docs."""
    common = {
        "format": FORMAT,
        "kind": kind,
        "supplier": "Example Energy Ltd",
        "currency": "GBP",
        "divisor": 100000,
        "timezone": "Europe/London",
        "cycle": dict(_cycles.EXAMPLE),
    }
    if kind == "step":
        return dict(
            common,
            name="Example step tariff (per half-hour blocks)",
            unit="price in pence per kWh of each half-hour's block; readings in Wh; total in 1/100000 GBP",
            bands=[[0, 10], [250, 14], [1000, 20]],
            max_reading=65535,
        )
    if kind == "cumulative":
        return dict(
            common,
            name="Example cumulative (rising block) tariff",
            unit="price in pence per kWh; thresholds in Wh of the whole period; total in 1/100000 GBP",
            thresholds=[100000, 300000],
            prices=[20, 25, 30],
            max_reading=65535,
        )
    if kind == "threshold":
        return dict(
            common,
            name="Example demand-response event: evening peak",
            unit="penalty in pence per kWh above the limit (per half-hour in a window); total in 1/100000 GBP",
            windows=[{"name": "evening-peak", "days": "weekday", "start": "16:00", "end": "20:00"}],
            limit=1000,
            price=50,
            max_reading=65535,
        )
    if kind == "rebate":
        return dict(
            common,
            name="Example progressive savings rebate",
            unit="reward in pence per kWh saved below the baseline (Wh of the period); total in 1/100000 GBP",
            baseline=400000,
            thresholds=[20000, 60000],
            rates=[2, 3, 5],
            max_reading=65535,
        )
    if kind == "index":
        return {
            "format": FORMAT,
            "kind": "index",
            "name": "Grid value-of-energy index (example)",
            "supplier": "Example Grid Operator",
            "currency": "GBP",
            "divisor": 100000,
            "timezone": "Europe/London",
            "cycle": dict(_cycles.EXAMPLE),
            "seasons": [
                {
                    "from": None,
                    "to": None,
                    "default_price": 8,
                    "bands": [
                        {"name": "solar-surplus", "days": "all", "start": "11:00", "end": "15:00", "price": -2},
                        {"name": "evening-peak", "days": "weekday", "start": "17:00", "end": "20:00", "price": 30},
                        {"name": "night", "days": "all", "start": "23:00", "end": "06:00", "price": 4},
                    ],
                }
            ],
        }
    return {
        "format": FORMAT,
        "kind": "tariff",
        "name": "Example Time-of-Use 2026",
        "supplier": "Example Energy Ltd",
        "currency": "GBP",
        "unit": "price in pence per kWh; readings in Wh; total in 1/100000 GBP",
        "divisor": 100000,
        "timezone": "Europe/London",
        "cycle": dict(_cycles.EXAMPLE),
        "seasons": [
            {
                "from": "2026-04-01",
                "to": "2026-10-01",
                "default_price": 24,
                "bands": [
                    {"name": "night", "days": "all", "start": "00:00", "end": "07:00", "price": 12},
                    {"name": "peak", "days": "weekday", "start": "16:00", "end": "19:00", "price": 38},
                ],
            },
            {
                "from": "2026-10-01",
                "to": "2027-04-01",
                "default_price": 27,
                "bands": [
                    {"name": "night", "days": "all", "start": "23:30", "end": "07:00", "price": 13},
                    {"name": "peak", "days": "weekday", "start": "16:00", "end": "19:30", "price": 42},
                    {"name": "weekend-day", "days": "weekend", "start": "07:00", "end": "23:30", "price": 22},
                ],
            },
        ],
    }
