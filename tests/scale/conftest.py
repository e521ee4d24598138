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


@pytest.fixture(params=["c", "gmpy2"])
def mexp_path(request, monkeypatch):
    """Run a test on both multi-exponentiation paths of the batch verifier: C
    (veriwatt.cmexp, the products of batchverify.multiexp and linear.weighted_product; the
    challenges by veriwatt.cchal) and the gmpy2 / Python fallback (challenges by hashlib). The C one must be there (tools/setup builds it): a failure, not
    a skip, when it is not."""
    from veriwatt import batchverify, cmexp, linear

    use_c = request.param == "c"
    assert cmexp.available() or not use_c, "vwcrypto was built without vw_multiexp: rerun bash tools/setup"
    monkeypatch.setattr(batchverify, "USE_C", use_c)
    monkeypatch.setattr(linear, "USE_C", use_c)
    # the records' challenges: one C call (veriwatt.cchal) on the C path, hashlib on the other
    from veriwatt import cchal

    assert cchal.available() or not use_c, "vwcrypto was built without vw_challenges: rerun bash tools/setup"
    monkeypatch.setattr(batchverify, "USE_C_HASH", use_c)
    return request.param
