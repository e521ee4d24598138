# SPDX-License-Identifier: MIT
"""vwcore.group / params / modexp: verifiable parameters, commitments, hashing to scalars."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from vwcore import group, modexp, params, wire

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.crypto


@pytest.mark.slow
def test_gen_params_check():
    """tools/gen_params.py --check re-derives p, q, g, h from the published seed string."""
    r = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_params.py"), "--check"], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2048: OK" in r.stdout and "3072: OK" in r.stdout


@pytest.mark.slow
def test_gen_params_detects_tampering():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import gen_params
    finally:
        sys.path.pop(0)
    bad = dict(params.P2048, h=params.P2048["g"], seed_index=params.P2048["seed_index"] + 1)
    errs = gen_params.check_one(bad, 2048, 256, full=False)
    assert any("h not re-derived" in e for e in errs)
    assert any("p, q, counter" in e for e in errs)


@pytest.mark.parametrize("name", ["2048", "3072"])
def test_group_structure(name):
    G = group.GROUPS[name]
    assert G.p.bit_length() == int(name) and G.q.bit_length() == 256
    assert (G.p - 1) % G.q == 0
    assert wire.GROUP_PLEN[G.id] == G.plen
    for x in (G.g, G.h):
        assert group.is_element(x, G)
    assert G.g != G.h
    assert group.by_id(G.id) is G and group.get(name) is G
    assert not group.is_element(1, G) and not group.is_element(G.p - 1, G)  # order 2
    assert not group.is_element(0, G) and not group.is_element(G.p, G)
    assert not group.is_element(G.p + G.g, G)


def test_default_group():
    assert group.DEFAULT is group.GROUPS["2048"] and group.get() is group.DEFAULT
    with pytest.raises(ValueError):
        group.by_id(9)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**256), st.integers(0, 2**32 - 1), st.integers(0, 2**256))
def test_commit_homomorphic(m1, r1, m2, r2):
    G = group.DEFAULT
    c1, c2 = group.commit(m1, r1), group.commit(m2, r2)
    assert c1 * c2 % G.p == group.commit(m1 + m2, r1 + r2)
    assert pow(c1, G.q, G.p) == 1


def test_commit_binding_sanity():
    assert group.commit(5, 7) != group.commit(6, 7) != group.commit(5, 8)


def test_hash_to_scalar():
    G = group.DEFAULT
    a = group.hash_to_scalar(b"d", b"x", b"y")
    assert 0 <= a < G.q
    assert a != group.hash_to_scalar(b"d", b"xy")
    assert a != group.hash_to_scalar(b"e", b"x", b"y")
    assert group.hash_to_scalar(b"d", b"x", b"y", grp="3072") < group.GROUPS["3072"].q


def test_modexp_backends_agree():
    G = group.DEFAULT
    before = modexp.BACKEND
    try:
        assert modexp.use("pow") == "pow"
        a = modexp.powmod2(G.g, 12345, G.h, 67890, G.p)
        b = modexp.powmod(G.g, G.q - 1, G.p)
        assert modexp.use("auto") in ("cffi", "vwcrypto", "pow")
        assert modexp.powmod2(G.g, 12345, G.h, 67890, G.p) == a
        assert modexp.powmod(G.g, G.q - 1, G.p) == b
        with pytest.raises(ValueError):
            modexp.use("nope")
    finally:
        modexp.use("auto" if before != "pow" else "pow")


def test_modexp_uses_cffi_on_host():
    pytest.importorskip("veriwatt.vwcrypto")
    r = subprocess.run(
        [sys.executable, "-c", "from vwcore import modexp; print(modexp.BACKEND)"], capture_output=True, text=True
    )
    assert r.stdout.strip() == "cffi"
    env = dict(os.environ, VERIWATT_MODEXP="pow")
    r = subprocess.run(
        [sys.executable, "-c", "from vwcore import modexp; print(modexp.BACKEND)"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert r.stdout.strip() == "pow"
