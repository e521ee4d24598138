# SPDX-License-Identifier: MIT
"""Store unit tests: the same cases under CPython and under the unix micropython."""

from __future__ import annotations

import subprocess

import pytest

from fwhelpers import HERE, MICROPYTHON, cpython_paths, mp_env

cpython_paths()
import store_cases  # noqa: E402

pytestmark = pytest.mark.sim
NAMES = [name for name, _ in store_cases.CASES]


@pytest.mark.parametrize("name", NAMES)
def test_store_cpython(name, tmp_path):
    dict(store_cases.CASES)[name](str(tmp_path))


@pytest.fixture(scope="module")
def mp_results(tmp_path_factory):
    d = tmp_path_factory.mktemp("mpstore")
    r = subprocess.run(
        [str(MICROPYTHON), str(HERE / "mp_store_runner.py"), str(d)],
        env=mp_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "done" in r.stdout, r.stdout + r.stderr
    res = {}
    for line in r.stdout.splitlines():
        parts = line.split(" ", 2)
        if parts[0] in ("ok", "FAIL"):
            res[parts[1]] = line
    return res


@pytest.mark.parametrize("name", NAMES)
def test_store_micropython(name, mp_results):
    assert mp_results.get(name, "missing").startswith("ok"), mp_results.get(name)
