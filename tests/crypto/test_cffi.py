# SPDX-License-Identifier: MIT
"""The CPython binding `veriwatt.vwcrypto` (cffi over crypto_c) against Python's own pow."""

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from vwtest import read_vectors
from veriwatt import vwcrypto

pytestmark = pytest.mark.crypto


def test_shared_vectors():
    n = 0
    for kind, v in read_vectors():
        if kind == "powmod":
            assert vwcrypto.powmod(v[0], v[1], v[2]) == v[3]
        else:
            assert vwcrypto.powmod2(*v[:5]) == v[5]
        n += 1
    assert n >= 390


@st.composite
def odd_moduli(draw):
    bits = draw(st.integers(2, 4096))
    m = draw(st.integers(1 << (bits - 1), (1 << bits) - 1)) | 1
    return m


exponents = st.one_of(st.just(0), st.just(1), st.integers(0, (1 << 256) - 1), st.integers(0, (1 << 600) - 1))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(m=odd_moduli(), e=exponents, data=st.data())
def test_powmod_matches_pow(m, e, data):
    b = data.draw(
        st.one_of(
            st.just(0),
            st.just(m),
            st.just(m + 1),
            st.integers(0, m - 1),
            st.integers(0, m * m * 7),
            st.integers(-(m * 3), -1),
        )
    )
    assert vwcrypto.powmod(b, e, m) == pow(b, e, m)


@settings(max_examples=150, deadline=None)
@given(m=odd_moduli(), a=exponents, b=exponents, data=st.data())
def test_powmod2_matches_pow(m, a, b, data):
    g = data.draw(st.integers(0, 2 * m))
    h = data.draw(st.integers(-m, m))
    assert vwcrypto.powmod2(g, a, h, b, m) == pow(g, a, m) * pow(h, b, m) % m


@pytest.mark.parametrize("m", [1, 3])
def test_tiny_moduli(m):
    for b in range(0, 8):
        for e in range(0, 6):
            assert vwcrypto.powmod(b, e, m) == pow(b, e, m)


@pytest.mark.parametrize(
    "args, message",
    [
        ((2, 3, 0), "modulus must be positive"),
        ((2, 3, -7), "modulus must be positive"),
        ((2, 3, 10), "modulus must be odd"),
        ((2, 3, (1 << 4096) + 1), "modulus larger than 4096 bits"),
        ((2, -1, 7), "exponent must be non-negative"),
        ((2, 1 << 4096, 7), "exponent larger than 4096 bits"),
    ],
)
def test_bad_input_raises_clear_valueerror(args, message):
    with pytest.raises(ValueError, match=message):
        vwcrypto.powmod(*args)
    with pytest.raises(ValueError, match=message):
        vwcrypto.powmod2(args[0], args[1], 3, 1, args[2])


def test_non_int_is_a_typeerror():
    with pytest.raises(TypeError):
        vwcrypto.powmod(2.0, 3, 7)
    with pytest.raises(TypeError):
        vwcrypto.powmod(2, 3, True)


def test_largest_sizes():
    m = (1 << 4096) - 1 - (1 << 64)  # odd, 4096 bits
    e = (1 << 4096) - 1
    assert vwcrypto.powmod(3, e, m) == pow(3, e, m)


def test_work_argument_is_accepted_like_on_the_meter():
    """Same signature as the MicroPython module: an optional workspace buffer and work_bytes()."""
    p = (1 << 2048) - 1942289
    w = bytearray(vwcrypto.work_bytes(2048))
    assert len(w) == (22 * 32 + 4) * 8  # 64-bit limbs on the host
    assert vwcrypto.powmod(3, 12345, p, w) == pow(3, 12345, p)
    assert vwcrypto.powmod2(3, 5, 7, 11, p, w) == pow(3, 5, p) * pow(7, 11, p) % p
    with pytest.raises(ValueError, match="4096"):
        vwcrypto.work_bytes(4097)


def test_the_build_script_by_hand_compiles_outside_the_tree(tmp_path):
    """`python crypto_c/cpython/vwcrypto_build.py` from any folder builds the extension in a
    temporary folder (cffi changes into it: the sources must not be relative) and leaves the
    checkout as it was: no module there that would shadow the installed one."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    pkg = root / "crypto_c" / "cpython" / "vwcrypto"
    before = sorted(p.name for p in pkg.iterdir())
    r = subprocess.run(
        [sys.executable, str(root / "crypto_c" / "cpython" / "vwcrypto_build.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    built = Path(r.stdout.split()[1])
    assert built.is_file() and built.name.startswith("_vwcrypto") and root not in built.parents
    assert sorted(p.name for p in pkg.iterdir()) == before
    assert not (root / "crypto_c" / "cpython" / "crypto_c").exists()
    import shutil

    shutil.rmtree(built.parent.parent)  # the script's temporary folder
