# SPDX-License-Identifier: MIT
"""Fixtures for the host tests: meters' records made with vwcore (the same code the firmware runs)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hosthelpers import WEEKS, Meter, with_cycle  # noqa: E402

from veriwatt import keys, tariff  # noqa: E402


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
    s = tariff.sign(with_cycle(tariff.example(), *WEEKS), supplier)  # weekly cycles: tests bill WEEK
    s["supplier_key"] = keys.public(supplier)
    return s


@pytest.fixture(scope="session")
def tariff_obj(signed_tariff, supplier):
    return tariff.parse_signed(signed_tariff, keys.public(supplier))
