# SPDX-License-Identifier: MIT
"""Fixtures for the scale tests (issue 14): a small synthetic population (veriwatt.population)
and one meter's day and week bills made with vwcore (the meter's own code, tests/host)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "host"))

from hosthelpers import DAY, POPULATION_SEED, meter_fixture, parsed_tariff, supplier_fixture  # noqa: E402

from veriwatt import bill, population, records  # noqa: E402


@pytest.fixture(scope="session")
def pop_dir(tmp_path_factory) -> Path:
    """Three synthetic meters' December 2026 (real month bills), made once per session."""
    d = tmp_path_factory.mktemp("population")
    population.generate(str(d), 3, "2026-12", seed=POPULATION_SEED, workers=1)
    return d


day_meter = meter_fixture("day_meter", b"METER-D1", 31)
other_meter = meter_fixture("other_meter", b"METER-D2", 41)
day_supplier = supplier_fixture("day_supplier", 0x0D, "Scale Supplier")


@pytest.fixture(scope="session")
def day_tariff(day_supplier):
    return parsed_tariff(day_supplier, DAY)


@pytest.fixture(scope="session")
def day_bill(day_meter, day_tariff):
    recs = day_meter.records(*DAY)
    ops = records.open_all(recs, day_meter.customer_key)
    return bill.make_bill(recs, ops, day_tariff, DAY[0], DAY[1], day_meter.pub)
