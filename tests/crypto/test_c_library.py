# SPDX-License-Identifier: MIT
"""The C library itself: known-answer vectors on the host (32- and 64-bit limbs) and the
ctgrind constant-time check under valgrind memcheck, with a negative control."""

import shutil
import subprocess
import sys

import pytest

from vwtest import ROOT, VECTORS, require_artifact

pytestmark = pytest.mark.crypto
CTEST = ROOT / "build" / "ctest"


def run(*args, **kw):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, **kw)


@pytest.mark.parametrize("limb", [32, 64])
def test_known_answer_vectors(limb):
    exe = require_artifact(CTEST / ("kat%d" % limb), "ctests")
    r = run(exe, VECTORS)
    assert r.returncode == 0, r.stdout + r.stderr
    assert ", 0 failed" in r.stdout
    passed = int(r.stdout.split(":")[1].split()[0])
    assert passed >= 400, r.stdout


def test_vector_file_is_reproducible():
    r = run(sys.executable, ROOT / "crypto_c" / "vectors" / "gen_vectors.py", "--check")
    assert r.returncode == 0, r.stdout + r.stderr


def _valgrind():
    if not shutil.which("valgrind"):
        pytest.fail("valgrind is missing: run `make setup`", pytrace=False)
    return "valgrind"


@pytest.mark.parametrize("limb", [32, 64])
def test_constant_time_under_memcheck(limb):
    """Secret base and exponents marked undefined: no branch or index may depend on them."""
    exe = require_artifact(CTEST / ("ctgrind%d" % limb), "ctests")
    r = run(_valgrind(), "--error-exitcode=1", exe)
    assert r.returncode == 0, "secret-dependent branch or index:\n" + r.stderr
    assert "ctgrind: done" in r.stdout


def test_ctgrind_catches_a_leaky_exponentiation():
    """Negative control: square-and-multiply branching on exponent bits must be reported."""
    exe = require_artifact(CTEST / "ctgrind64", "ctests")
    r = run(_valgrind(), "--error-exitcode=1", exe, "--leaky")
    assert r.returncode == 1
    assert "depends on uninitialised value" in r.stderr
