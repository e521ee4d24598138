# SPDX-License-Identifier: MIT
"""Billing cycles: the part of a signed tariff that fixes WHICH periods can be billed.

Without it the prover (the customer) chooses the period of a bill, and a tariff that is not
additive over time (rebate, cumulative, threshold) is worth more or less depending on how the
month is cut: a rebate worth 0 for a month can be worth hundreds as 31 daily bills. So the
tariff body carries a `cycle` (docs/TARIFF.md) and every verifier refuses a bill whose period
is not EXACTLY one cycle; the supplier's ledger (veriwatt.ledger) refuses a second bill for a
cycle.

Two kinds, each with one canonical form:

    {"kind": "calendar-month", "zone": "Europe/London"}
        every calendar month in that IANA time zone: [local midnight of the 1st,
        local midnight of the next 1st), as slots (slots.month_range)
    {"kind": "periods", "periods": [[START, END], ...]}
        the listed periods only, as protocol slot numbers [START, END): integers,
        0 <= START < END < 2^32, strictly ordered and non-overlapping (END_i <= START_i+1)
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any, Dict, List, Optional, Tuple

from . import slots as _slots
from .errors import VeriwattError

KINDS = ("calendar-month", "periods")
MAX_PERIODS = 1200  # a hundred years of monthly periods: more is certainly a mistake
EXAMPLE = {"kind": "calendar-month", "zone": "Europe/London"}

Period = Tuple[int, int]


def _int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


class Cycle:
    """A parsed billing cycle. `problem(start, end)` says why [start, end) is not one cycle
    (None when it is); `around(start, end)` lists the cycles a period touches."""

    def __init__(self, body: Dict[str, Any], kind: str, zone_name: str, periods: Optional[List[Period]] = None) -> None:
        self.body, self.kind, self.zone_name = body, kind, zone_name
        self.periods = periods or []

    # ---------------------------------------------------------------- what a cycle is
    def containing(self, slot: int) -> Optional[Period]:
        """The cycle [start, end) that contains `slot`, or None (outside every listed period)."""
        if self.kind == "periods":
            for a, b in self.periods:
                if a <= slot < b:
                    return (a, b)
            return None
        local = _slots.slot_start(slot).astimezone(_slots.zone(self.zone_name))
        y, m = local.year, local.month
        for _ in range(3):  # the floor of a local midnight can be in the previous local month
            a, b = _slots.month_range("%04d-%02d" % (y, m), self.zone_name)
            if a <= slot < b:
                return (a, b)
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return None

    def around(self, start: int, end: int, limit: int = 4) -> List[Period]:
        """The cycles that overlap [start, end) (at most `limit`), else the nearest ones."""
        out: List[Period] = []
        if self.kind == "periods":
            out = [p for p in self.periods if p[0] < end and start < p[1]][:limit]
            if not out:
                before = [p for p in self.periods if p[1] <= start][-1:]
                after = [p for p in self.periods if p[0] >= end][:1]
                out = before + after
            return out
        t = start
        while t < end and len(out) < limit:
            c = self.containing(t)
            if c is None:
                break
            out.append(c)
            t = c[1]
        return out

    def within(self, start: int, end: int) -> List[Period]:
        """Every cycle that overlaps [start, end), in order (for the ledger's gap report)."""
        if self.kind == "periods":
            return [p for p in self.periods if p[0] < end and start < p[1]]
        out: List[Period] = []
        t = start
        while t < end:
            c = self.containing(t)
            if c is None:
                break
            out.append(c)
            t = c[1]
        return out

    def problem(self, start: int, end: int) -> Optional[str]:
        """None if [start, end) is exactly one cycle, else a one-line reason naming the cycles
        that would be accepted."""
        c = self.containing(start) if _int(start) and 0 <= start < _slots.NO_SLOT else None
        if c == (start, end):
            return None
        near = self.around(start, end)
        if c is None:
            what = "no cycle contains its start"
        elif c[0] != start:
            what = "it starts inside cycle %s" % self.label(*c)
        elif end < c[1]:
            what = "it ends before cycle %s does (a partial cycle)" % self.label(*c)
        else:
            what = "it is longer than cycle %s" % self.label(*c)
        hint = (", e.g. " + " or ".join(self.suggest(a, b) for a, b in near)) if near else ""
        return (
            "the period %s is not one billing cycle of the tariff (%s): %s; a bill must cover exactly one cycle%s"
            % (_slots.describe(start, end), self.text(), what, hint)
        )

    # ---------------------------------------------------------------- names
    def label(self, start: int, end: int) -> str:
        """A short name of the cycle [start, end): "2026-12" for a calendar month, else "START:END"."""
        if self.kind == "calendar-month":
            local = _slots.slot_start(start).astimezone(_slots.zone(self.zone_name))
            for d in (local, local + _dt.timedelta(minutes=30)):
                ym = "%04d-%02d" % (d.year, d.month)
                if _slots.month_range(ym, self.zone_name) == (start, end):
                    return ym
        return "%d:%d" % (start, end)

    def suggest(self, start: int, end: int) -> str:
        lab = self.label(start, end)
        if lab == "%d:%d" % (start, end):
            return "--period %s (%s)" % (lab, _slots.describe(start, end))
        return "--period %s (slots %d:%d)" % (lab, start, end)

    def text(self) -> str:
        if self.kind == "calendar-month":
            return "calendar months in %s" % self.zone_name
        return "%d listed period(s)" % len(self.periods)

    def as_json(self) -> Dict[str, Any]:
        return self.body

    def canonical(self) -> str:
        return json.dumps(self.body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def parse(obj: Any, tz_name: str = "UTC", where: str = "tariff.cycle") -> Cycle:
    """Validate a `cycle` object (one canonical form per kind); errors name the field."""
    if obj is None:
        raise VeriwattError(
            "%s is missing: a tariff must fix its billing cycle, e.g. \"cycle\": %s "
            "(calendar months) or {\"kind\": \"periods\", \"periods\": [[START, END], ...]}; "
            "add it and sign again (docs/TARIFF.md)" % (where, json.dumps(EXAMPLE))
        )
    if not isinstance(obj, dict):
        raise VeriwattError("%s must be an object such as %s" % (where, json.dumps(EXAMPLE)))
    kind = obj.get("kind")
    if kind == "calendar-month":
        extra = sorted(set(obj) - {"kind", "zone"})
        if extra:
            raise VeriwattError(
                "%s: unknown field(s) %s (a calendar-month cycle has kind and zone)" % (where, ", ".join(extra))
            )
        z = obj.get("zone")
        if not isinstance(z, str) or not z:
            raise VeriwattError("%s.zone must be an IANA time-zone name such as Europe/London (or UTC)" % where)
        _slots.zone(z)
        return Cycle(obj, kind, z)
    if kind == "periods":
        extra = sorted(set(obj) - {"kind", "periods"})
        if extra:
            raise VeriwattError(
                "%s: unknown field(s) %s (a periods cycle has kind and periods)" % (where, ", ".join(extra))
            )
        ps = obj.get("periods")
        if not isinstance(ps, list) or not ps:
            raise VeriwattError("%s.periods must be a non-empty list of [START, END] slot pairs" % where)
        if len(ps) > MAX_PERIODS:
            raise VeriwattError("%s.periods: %d periods is more than %d" % (where, len(ps), MAX_PERIODS))
        out: List[Period] = []
        for i, p in enumerate(ps):
            w = "%s.periods[%d]" % (where, i)
            if not isinstance(p, list) or len(p) != 2 or not all(_int(x) for x in p):
                raise VeriwattError("%s must be a pair [START, END] of integer slot numbers" % w)
            _slots.check_range(p[0], p[1], w)
            if out and p[0] < out[-1][1]:
                raise VeriwattError(
                    "%s starts at slot %d, before the previous period ends (%d): periods must be "
                    "in order and must not overlap" % (w, p[0], out[-1][1])
                )
            out.append((p[0], p[1]))
        return Cycle(obj, kind, tz_name, out)
    raise VeriwattError("%s.kind must be one of %s (got %r)" % (where, ", ".join(KINDS), kind))


def from_canonical(text: str, tz_name: str = "UTC") -> Cycle:
    """A cycle stored by the ledger (its canonical JSON) back as a Cycle."""
    return parse(json.loads(text), tz_name, "ledger cycle")
