# SPDX-License-Identifier: MIT
"""Dependencies flow one way (docs/ARCHITECTURE.md): crypto_c <- firmware/hal <- host, and
tools/ use the project (simulators/, the packages) but never tests/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.packaging
IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import|import\s+([\w.]+))", re.M)


def _imports(path: Path) -> set:
    return {(a or b).split(".")[0] for a, b in IMPORT.findall(path.read_text())}


def _sources(*dirs: str):
    for d in dirs:
        for p in sorted((ROOT / d).rglob("*")):
            if (
                p.is_file()
                and "__pycache__" not in p.parts
                and (p.suffix == ".py" or p.read_bytes()[:40].startswith(b"#!/usr/bin/env python"))
            ):
                yield p


def test_firmware_and_hal_never_import_the_host():
    for p in _sources("firmware", "hal"):
        assert "veriwatt" not in _imports(p), p


def test_hal_takes_only_the_constants_from_vwcore():
    for p in _sources("hal"):
        for m in re.findall(r"^\s*from\s+(vwcore[\w.]*)\s+import", p.read_text(), re.M):
            assert m == "vwcore.consts", (p, m)


def test_tools_do_not_import_tests():
    test_modules = {p.stem for p in (ROOT / "tests").rglob("*.py")}
    for p in _sources("tools"):
        text = p.read_text()
        assert not re.search(r"sys\.path.*[\"']tests[\"']", text), p
        assert not (_imports(p) & test_modules), (p, _imports(p) & test_modules)
