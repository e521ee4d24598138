# SPDX-License-Identifier: MIT
"""Shared test helpers: project paths and a clear failure when a build artifact is missing.

A plain module with a unique name (tests/ is on sys.path through tests/conftest.py): test
folders may have their own conftest.py, and `from conftest import ...` would then reach
whichever conftest module was imported last.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
VECTORS = ROOT / "crypto_c" / "vectors" / "modexp.txt"


def require_artifact(path: Path, make_target: str) -> Path:
    """Fail (not skip) with the command that builds `path` when it is missing."""
    if not path.exists():
        pytest.fail(
            "%s is missing: run `make %s` (or `make test`, which builds everything)"
            % (path.relative_to(ROOT) if path.is_relative_to(ROOT) else path, make_target),
            pytrace=False,
        )
    return path


def micropython_bin() -> str:
    exe = VENV_BIN / "micropython"
    if exe.exists():
        return str(exe)
    pytest.fail("the unix `micropython` is missing from the venv: run `make setup`", pytrace=False)


def read_vectors():
    """Yield (kind, ints) for each line of the shared known-answer file."""
    for line in VECTORS.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        kind, *nums = line.split()
        yield kind, [int(x, 16) for x in nums]


os.environ.setdefault("VERIWATT_ROOT", str(ROOT))
