"""Fixtures for the host tests: meters' records made with vwcore (the same code the firmware runs)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, List

import pytest

from vwcore import reading, wire

from veriwatt import keys, slots, tariff

sys.path.insert(0, str(Path(__file__).resolve().parent))

MONTH = "2026-12"
A, _B = slots.month_range(MONTH, "Europe/London")
WEEK = (A, A + 7 * 48)  # the billing period most tests use (a month is in test_month_bill)


class Meter:
    """A meter's keys and certified records, made in CPython with vwcore.reading."""

    def __init__(self, mid: bytes, seed: int) -> None:
        self.mid = mid
        self.sig_secret = bytes([seed]) * 32
        self.customer_key = bytes([seed + 1]) * 15
        self.keys = reading.MeterKeys(mid, self.sig_secret, self.customer_key)
        self.pub = keys.meter_public(mid, self.keys.y)
        self.code = __import__("vwcore.aead", fromlist=["x"]).format_customer_code(self.customer_key)
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


@pytest.fixture(scope="session")
def meter_a() -> Meter:
    return Meter(b"METER-A1", 7)


@pytest.fixture(scope="session")
def meter_b() -> Meter:
    return Meter(b"METER-B2", 9)


@pytest.fixture(scope="session")
def supplier():
    k = keys.new_supplier_key(secret=b"\x05" * 32, name="test supplier")
    return k


@pytest.fixture(scope="session")
def signed_tariff(supplier):
    s = tariff.sign(tariff.example(), supplier)
    s["supplier_key"] = keys.public(supplier)
    return s


@pytest.fixture(scope="session")
def tariff_obj(signed_tariff, supplier):
    return tariff.parse_signed(signed_tariff, keys.public(supplier))
