# SPDX-License-Identifier: MIT
"""The scale-out through the library API (docs/API.md): api.population, api.verify_bills and
api.aggregate_run take plain arguments, report progress(done, total), return the summary the
CLI prints, and refuse bad argument combinations with the CLI's messages (exit code 2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from veriwatt import aggrun, api

pytestmark = [pytest.mark.scale, pytest.mark.slow]


def test_verify_bills_reports_progress_and_the_bad_bill(pop_dir, tmp_path):
    d = tmp_path / "pop"
    shutil.copytree(pop_dir, d)
    first = sorted((d / "bills").glob("*.bill.json"))[0]
    b = json.loads(first.read_text())
    b["total"] += 1
    first.write_text(json.dumps(b))
    seen = []
    s = api.verify_bills(str(d), db=str(tmp_path / "checks.db"), workers=1, progress=lambda k, n: seen.append((k, n)))
    assert (s["bills"], s["valid"], s["invalid"]) == (3, 2, 1), s
    assert [p["name"] for p in s["problems"]] == [first.name] and s["problems"][0]["reason"]
    assert seen and seen[-1] == (3, 3) and all(n == 3 for _, n in seen)
    assert [k for k, _ in seen] == sorted(k for k, _ in seen)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({}, "give a FOLDER (with --db), or --database"),
        ({"folder": "x", "unchecked": True}, "give a FOLDER (with --db), or --database"),
        ({"folder": "x", "supplier_key": "k"}, "give a FOLDER (with --db), or --database"),
        ({"database": "sqlite:///x.db"}, "give --supplier-key"),
        ({"database": "sqlite:///x.db", "db": "y.db", "supplier_key": "k"}, "no FOLDER and no --db"),
        ({"folder": "no-such-folder"}, "has no bills/ folder"),
    ],
)
def test_verify_bills_refuses_bad_arguments(kw, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(api.VeriwattError) as e:
        api.verify_bills(**kw)
    assert message in str(e.value) and e.value.exit_code == 2


def test_population_refuses_to_overwrite_and_bad_seeds(pop_dir, tmp_path):
    with pytest.raises(api.VeriwattError, match="already holds a population"):
        api.population(1, str(pop_dir))
    with pytest.raises(api.VeriwattError, match="16..64 bytes"):
        api.population(1, str(tmp_path / "p"), seed=b"short")
    assert not (tmp_path / "p" / "population.json").exists()


def test_aggregate_run_reports_progress(tmp_path):
    d = tmp_path / "agg"
    aggrun.synthetic(str(d), 3, 4, [10, 11])
    n = len(aggrun.group_names(str(d)))
    seen = []
    s = api.aggregate_run(str(d), workers=1, progress=lambda k, t: seen.append((k, t)))
    assert s["groups"] == n and s["refused"] == 0 and s["accepted"] == s["shares"] > 0
    assert seen[-1] == (n, n) and len(list(Path(d, "results").glob("*.result.json"))) == n
