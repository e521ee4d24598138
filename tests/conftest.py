# SPDX-License-Identifier: MIT
"""Root pytest configuration: puts tests/ on sys.path (prepend import mode) so that test
modules can `from vwtest import ...`, and simulators/ so that they can import the board
drivers tools/ share (qemu_sim, stm32_sim); provides the session fixtures shared by all."""

import sys
from pathlib import Path

import pytest

from vwtest import ROOT  # noqa: F401

if str(ROOT / "simulators") not in sys.path:
    sys.path.insert(0, str(ROOT / "simulators"))


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(autouse=True)
def _veriwatt_home(tmp_path_factory, monkeypatch):
    """Every test (and the CLI subprocesses it starts) gets its own empty $VERIWATT_HOME, so no
    test reads or writes the user's trust store (~/.config/veriwatt)."""
    monkeypatch.setenv("VERIWATT_HOME", str(tmp_path_factory.mktemp("veriwatt-home")))
