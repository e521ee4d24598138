# SPDX-License-Identifier: MIT
"""Fixtures for the host tests: meters' records made with vwcore (the same code the firmware runs)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hosthelpers import WEEKS, meter_a, meter_b, supplier, with_cycle  # noqa: E402, F401 (fixtures)

from veriwatt import keys, tariff  # noqa: E402


@pytest.fixture(scope="session")
def signed_tariff(supplier):
    s = tariff.sign(with_cycle(tariff.example(), *WEEKS), supplier)  # weekly cycles: tests bill WEEK
    s["supplier_key"] = keys.public(supplier)
    return s


@pytest.fixture(scope="session")
def tariff_obj(signed_tariff, supplier):
    return tariff.parse_signed(signed_tariff, keys.public(supplier))
