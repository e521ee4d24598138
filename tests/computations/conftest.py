# SPDX-License-Identifier: MIT
"""Fixtures for the computations tests (issue 15: profiles, suspect patterns, sampling):
certified records made with vwcore (the code the firmware runs), keys, signed files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "host"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from hosthelpers import Meter  # noqa: E402

from veriwatt import keys  # noqa: E402


@pytest.fixture(scope="session")
def meter_a() -> Meter:
    return Meter(b"METER-A1", 7)


@pytest.fixture(scope="session")
def meter_b() -> Meter:
    return Meter(b"METER-B2", 9)


@pytest.fixture(scope="session")
def supplier():
    return keys.new_supplier_key(secret=b"\x05" * 32, name="test supplier")


@pytest.fixture(scope="session")
def intruder():
    return keys.new_supplier_key(secret=b"\x06" * 32, name="not the supplier")
