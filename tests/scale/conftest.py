# SPDX-License-Identifier: MIT
"""Fixtures for the scale tests (issue 14): a small synthetic population (veriwatt.population)
and one meter's day and week bills made with vwcore (the meter's own code, tests/host)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "host"))

from hosthelpers import A, Meter, with_cycle  # noqa: E402

from veriwatt import bill, keys, population, records, tariff  # noqa: E402

DAY = (A, A + 48)
SEED = bytes(range(32))


@pytest.fixture(scope="session")
def pop_dir(tmp_path_factory) -> Path:
    """Three synthetic meters' December 2026 (real month bills), made once per session."""
    d = tmp_path_factory.mktemp("population")
    population.generate(str(d), 3, "2026-12", seed=SEED, workers=1)
    return d


@pytest.fixture(scope="session")
def day_meter() -> Meter:
    return Meter(b"METER-D1", 31)


@pytest.fixture(scope="session")
def other_meter() -> Meter:
    return Meter(b"METER-D2", 41)


@pytest.fixture(scope="session")
def day_supplier():
    return keys.new_supplier_key(secret=b"\x0d" * 32, name="Scale Supplier")


@pytest.fixture(scope="session")
def day_tariff(day_supplier):
    signed = tariff.sign(with_cycle(tariff.example(), DAY), day_supplier)
    return tariff.parse_signed(signed, keys.public(day_supplier))


@pytest.fixture(scope="session")
def day_bill(day_meter, day_tariff):
    recs = day_meter.records(*DAY)
    ops = records.open_all(recs, day_meter.customer_key)
    return bill.make_bill(recs, ops, day_tariff, DAY[0], DAY[1], day_meter.pub)
