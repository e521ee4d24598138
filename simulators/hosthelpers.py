# SPDX-License-Identifier: MIT
"""Synthetic meters for tests and tools: a meter's keys and certified records made in CPython with
vwcore.reading (Meter), the weeks and months the tests bill, tariff cycles (with_cycle)."""

from __future__ import annotations

from typing import Dict, List

from vwcore import aead, reading, wire

from veriwatt import keys, slots

MONTH = "2026-12"
A, _B = slots.month_range(MONTH, "Europe/London")
WEEK = (A, A + 7 * 48)  # the billing period most tests use (the demo test bills a whole month)
WEEKS = [[A + 7 * 48 * i, A + 7 * 48 * (i + 1)] for i in range(4)]  # WEEK and the next three


def with_cycle(body: Dict, *periods) -> Dict:
    """A copy of a tariff body whose billing cycle is the listed periods (docs/TARIFF.md):
    tests bill weeks or days, the examples' cycle is the calendar month."""
    return dict(body, cycle={"kind": "periods", "periods": [list(p) for p in periods]})


class Meter:
    """A meter's keys and certified records, made in CPython with vwcore.reading."""

    def __init__(self, mid: bytes, seed: int) -> None:
        self.mid = mid
        self.sig_secret = bytes([seed]) * 32
        self.customer_key = bytes([seed + 1]) * 15
        self.keys = reading.MeterKeys(mid, self.sig_secret, self.customer_key)
        self.pub = keys.meter_public(mid, self.keys.y)
        self.code = aead.format_customer_code(self.customer_key)
        self._recs: Dict[int, wire.Record] = {}

    def reading(self, t: int) -> int:
        return (t * 7919) % 1200 + 50

    def record(self, t: int) -> wire.Record:
        r = self._recs.get(t)
        if r is None:
            r = self._recs[t] = reading.certify(self.keys, t, self.reading(t))
        return r

    def records(self, a: int, b: int) -> List[wire.Record]:
        return [self.record(t) for t in range(a, b)]

    def raw(self, a: int, b: int) -> Dict[int, bytes]:
        return {t: wire.encode_record(self.record(t)) for t in range(a, b)}
