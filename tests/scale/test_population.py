# SPDX-License-Identifier: MIT
"""`veriwatt population`: synthetic meters whose records are exactly the meter's records."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hosthelpers import POPULATION_SEED as SEED

from vwcore import group, reading, wire

from veriwatt import bill, population, records

pytestmark = pytest.mark.scale


def test_fast_certifier_is_the_meters_certify():
    tabs = population.Tables(group.DEFAULT)
    mid, sig_secret, ckey = population.meter_secrets(SEED, 5)
    mk = reading.MeterKeys(mid, sig_secret, ckey)
    fc = population.FastCertifier(mk, tabs)
    for slot, m in ((0, 0), (997824, 1), (997900, reading.MAX_READING), (2**32 - 2, 1234)):
        rec, (m2, r) = fc.certify(slot, m)
        ref = reading.certify(mk, slot, m)
        assert wire.encode_record(rec) == wire.encode_record(ref)
        assert (m2, r) == reading.open_record(ref, ckey)
    with pytest.raises(ValueError):
        fc.certify(1, reading.MAX_READING + 1)


def test_population_is_verifiable(pop_dir):
    pop = population.Population(str(pop_dir))
    man = pop.manifest
    assert man["meters"] == 3 and len(pop.bill_paths()) == 3
    assert oct(os.stat(pop_dir / "supplier.key.json").st_mode & 0o777) == "0o600"
    a, b = man["period"]["start_slot"], man["period"]["end_slot"]
    assert b - a == 31 * 48
    for path in pop.bill_paths():
        B = json.load(open(path))
        pub = pop.meter_pub(B["meter_id"])
        assert bill.verify_bill(B, pop.tariff, pub)["valid"]
        recs = pop.records(B["meter_id"])
        assert [r.slot for r in recs] == list(range(a, b))
        chk = records.Checker.from_pub(pub)
        for r in recs[::97]:
            assert chk.problem(r) is None
            assert reading.verify_record(r, int(pub["y"], 16))


def test_same_seed_same_meters(pop_dir, tmp_path):
    m = population.generate(str(tmp_path), 1, "2026-12", seed=SEED)
    first = population.Population(str(pop_dir)).manifest["meter_ids"]
    assert m["meter_ids"][0] in first
    mid = m["meter_ids"][0]
    assert (tmp_path / "records" / (mid + ".rec")).read_bytes() == (pop_dir / "records" / (mid + ".rec")).read_bytes()


def test_cli(tmp_path):
    out = tmp_path / "p"
    cmd = [
        sys.executable,
        "-m",
        "veriwatt.cli",
        "population",
        "--meters",
        "2",
        "--out",
        str(out),
        "--workers",
        "2",
        "--json",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["meters"] == 2
    assert len(list((out / "bills").glob("*.bill.json"))) == 2
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "already holds a population" in r.stderr
    r = subprocess.run(cmd[:5] + ["1", "--out", str(out), "--force"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert len(list((out / "bills").glob("*.bill.json"))) == 1  # the previous, larger population is gone
    assert len(list((out / "records").glob("*.rec"))) == 1
    r = subprocess.run(cmd[:5] + ["0", "--out", str(out)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "at least 1" in r.stderr
