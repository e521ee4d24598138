# SPDX-License-Identifier: MIT
"""Meter-side numbers in the unix micropython (printed; run with -s to see them):
certify time per reading, bytes per record, heap.  Asserts only generous bounds."""

from __future__ import annotations

import subprocess

import pytest

from fwhelpers import HERE, MICROPYTHON, mp_env

pytestmark = pytest.mark.sim


def test_certify_time_and_heap(tmp_path):
    r = subprocess.run(
        [str(MICROPYTHON), str(HERE / "mp_bench.py"), str(tmp_path), "5"],
        env=mp_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    vals = dict(line.split(" ", 1) for line in r.stdout.splitlines())
    print("\nmeter bench (unix micropython):", vals)
    assert int(vals["record_bytes"]) == 386
    assert int(vals["stored_bytes_per_record"]) == 394
    assert float(vals["certify_ms"]) < 1000
