# SPDX-License-Identifier: MIT
"""Helpers for the computations tests (imported by name)."""

from __future__ import annotations

from pathlib import Path

from hosthelpers import Meter

from veriwatt import records, slots

NOV = slots.month_range("2026-11", "UTC")  # a month that has ended (beacons come after the period)
DAY = (NOV[0], NOV[0] + 48)


def opened(meter: Meter, a: int, b: int):
    recs = meter.records(a, b)
    return recs, records.open_all(recs, meter.customer_key)


def store_with(path: Path, meter: Meter, a: int, b: int) -> Path:
    """A real SQLite store holding the meter's certified records of [a, b)."""
    from veriwatt.store import Store

    st = Store(str(path))
    st.add_meter(meter.pub["meter_id"], meter.pub)
    st.add(list(meter.raw(a, b).values()), records.Checker.from_pub(meter.pub).check_raw, meter.pub["meter_id"])
    st.close()
    return path
