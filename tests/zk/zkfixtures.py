# SPDX-License-Identifier: MIT
"""Fixtures for the proof-layer tests: small insecure groups for speed, the real 2048/256 group
for a few end-to-end checks, and a "lying prover" harness.

A uniquely named module imported by the test modules, not a conftest.py: a second module
named `conftest` would replace tests/conftest.py in sys.modules for directories collected
later and break their `from vwtest import ...` (the convention of tests/qemu, tests/firmware)."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "host") not in sys.path:
    sys.path.insert(0, str(ROOT / "host"))
if str(ROOT / "firmware") not in sys.path:
    sys.path.insert(0, str(ROOT / "firmware"))

from veriwatt.zk import groups, sigma  # noqa: E402


@pytest.fixture(scope="session")
def toy():
    """512-bit p, 160-bit q: fast property tests."""
    return groups.toy_group(512, 160, seed=1)


@pytest.fixture(scope="session")
def tiny():
    """256-bit p, 128-bit q: byte-flip sweeps (every byte of a proof)."""
    return groups.toy_group(256, 128, seed=2)


@pytest.fixture(scope="session")
def real():
    return groups.default_group()


@pytest.fixture
def lying(monkeypatch):
    """Make the prover go through with false statements: an atom with no witness gets a
    random one, an OR with no true branch treats branch 0 as true. Whatever it outputs
    must then be rejected by the verifier."""
    orig = sigma._commit

    def commit(G, node, c, out):
        if c is None:
            if type(node) is sigma.Atom and node.wit is None:
                node.wit = [secrets.randbelow(G.q) for _ in node.bases]
            if type(node) is sigma.Or and node.real is None:
                node.real = 0
        return orig(G, node, c, out)

    monkeypatch.setattr(sigma, "_commit", commit)
    return commit
