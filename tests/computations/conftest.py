# SPDX-License-Identifier: MIT
"""Fixtures for the computations tests (issue 15: profiles, suspect patterns, sampling):
certified records made with vwcore (the code the firmware runs), keys, signed files."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "host"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from hosthelpers import meter_a, meter_b, supplier, supplier_fixture  # noqa: E402, F401 (fixtures)


intruder = supplier_fixture("intruder", 0x06, "not the supplier")
