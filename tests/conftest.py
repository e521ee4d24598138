"""Root pytest configuration: puts tests/ on sys.path (prepend import mode) so that test
modules can `from vwtest import ...`, and provides the session fixtures shared by all."""
from pathlib import Path

import pytest

from vwtest import ROOT  # noqa: F401


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
