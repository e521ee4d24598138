# SPDX-License-Identifier: MIT
"""Synthetic meters for tests and tools: a meter's keys and certified records made in CPython with
vwcore.reading (Meter), the weeks and months the tests bill, tariff cycles (with_cycle)."""

from __future__ import annotations

from typing import Dict, List

import pytest
from vwcore import aead, reading, wire

from veriwatt import keys, slots, tariff

MONTH = "2026-12"
A, _B = slots.month_range(MONTH, "Europe/London")
WEEK = (A, A + 7 * 48)  # the billing period most tests use (the demo test bills a whole month)
DAY = (A, A + 48)  # the first day of WEEK
WEEKS = [[A + 7 * 48 * i, A + 7 * 48 * (i + 1)] for i in range(4)]  # WEEK and the next three
POPULATION_SEED = bytes(range(32))  # the scale tests' synthetic population (veriwatt.population)


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


# ---------------------------------------------------------------- shared fixtures
def meter_fixture(name: str, mid: bytes, seed: int, scope: str = "session"):
    """A pytest fixture called `name` giving Meter(mid, seed) (assign it in a conftest or test module)."""

    def make() -> Meter:
        return Meter(mid, seed)

    return pytest.fixture(make, scope=scope, name=name)


def supplier_fixture(name: str, secret_byte: int, who: str, scope: str = "session"):
    """A pytest fixture called `name` giving a supplier key made from 32 bytes `secret_byte`."""

    def make() -> Dict:
        return keys.new_supplier_key(secret=bytes([secret_byte]) * 32, name=who)

    return pytest.fixture(make, scope=scope, name=name)


def parsed_tariff(supplier_key: Dict, *periods) -> tariff.Tariff:
    """The example tariff with billing cycle `periods`, signed by supplier_key and parsed."""
    signed = tariff.sign(with_cycle(tariff.example(), *periods), supplier_key)
    return tariff.parse_signed(signed, keys.public(supplier_key))


# the standard meters and supplier of the host and computations tests (their conftests import them)
meter_a = meter_fixture("meter_a", b"METER-A1", 7)
meter_b = meter_fixture("meter_b", b"METER-B2", 9)
supplier = supplier_fixture("supplier", 0x05, "test supplier")
