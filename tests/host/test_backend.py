# SPDX-License-Identifier: MIT
"""The one modexp backend switch (veriwatt.backend): every layer follows it, and the
environment variable VERIWATT_MODEXP gives its initial choice."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from veriwatt import backend, fastexp
from vwcore import modexp

pytestmark = pytest.mark.host
ROOT = Path(__file__).resolve().parents[2]
P = (1 << 127) - 1  # an odd prime modulus


@pytest.fixture
def restore():
    prev = backend.CHOICE
    yield
    backend.use(prev)


@pytest.mark.parametrize(
    "name, core, zk",
    [("pow", "pow", "pow"), ("vwcrypto", "cffi", "vwcrypto"), ("auto", "cffi", "vwcrypto"), ("gmpy2", "cffi", "gmpy2")],
)
def test_every_layer_follows_the_switch(restore, name, core, zk):
    if name == "gmpy2" and backend.GMP is None:
        pytest.skip("gmpy2 not installed (extra 'fast')")
    assert backend.use(name) == zk and backend.CHOICE == name
    assert modexp.BACKEND == core  # secrets: constant-time unless "pow"
    public = "gmpy2" if name == "gmpy2" or (name == "auto" and backend.GMP) else zk
    assert backend.PUBLIC == public and fastexp.available() == (public == "gmpy2")
    a, b = 0x1234567890ABCDEF1234567890ABCDEF % P, (1 << 100) + 7
    assert backend.powmod(3, a, P) == pow(3, a, P)
    assert backend.powmod2(3, a, 5, b, P) == pow(3, a, P) * pow(5, b, P) % P
    assert fastexp.powmod(3, a, P) == pow(3, a, P)
    assert modexp.powmod2(3, a, 5, b, P) == pow(3, a, P) * pow(5, b, P) % P


def test_unknown_backend_is_refused(restore):
    before = (backend.CHOICE, backend.BACKEND, modexp.BACKEND)
    with pytest.raises(ValueError, match="unknown modexp backend"):
        backend.use("gmp")
    assert (backend.CHOICE, backend.BACKEND, modexp.BACKEND) == before


def _initial(env_value):
    env = dict(os.environ)
    env.pop("VERIWATT_MODEXP", None)
    if env_value is not None:
        env["VERIWATT_MODEXP"] = env_value
    code = (
        "from veriwatt import backend; from vwcore import modexp; "
        "print(backend.CHOICE, backend.BACKEND, backend.PUBLIC, modexp.BACKEND)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_environment_gives_the_initial_choice():
    assert _initial("pow") == ["pow", "pow", "pow", "pow"]
    assert _initial("vwcrypto") == ["vwcrypto", "vwcrypto", "vwcrypto", "cffi"]
    assert _initial("no-such-backend") == ["pow", "pow", "pow", "pow"]  # as on the meter
    auto = _initial(None)
    assert auto[:2] == ["auto", "vwcrypto"] and auto[3] == "cffi"
    if backend.GMP is not None:
        # GMP for public values only: the secrets' layer stays constant-time
        assert _initial("gmpy2") == ["gmpy2", "gmpy2", "gmpy2", "cffi"]


def test_no_other_switch():
    """Nothing but veriwatt.backend (and, below it, vwcore.modexp for the meter) chooses a
    backend: no other `def use(` in the host package, and nobody else reads VERIWATT_MODEXP."""
    for f in sorted((ROOT / "host" / "veriwatt").rglob("*.py")):
        text = f.read_text()
        if f.name != "backend.py":
            assert not re.search(r"^def use\(", text, re.M), f
        assert "VERIWATT_MODEXP" not in text or f.name == "backend.py", f
