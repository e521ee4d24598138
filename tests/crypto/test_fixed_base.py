# SPDX-License-Identifier: MIT
"""Fixed-base comb exponentiation (crypto_c/vw_fixedbase.c over the generated tables of
crypto_c/vw_fbtables.c) through the cffi binding and vwcore.modexp, against Python's pow.
Lim & Lee, CRYPTO '94; HAC 14.6.3. The C known-answer runner (kat32/kat64) and the ctgrind
check cover the same path in tests/crypto/test_c_library.py."""

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from vwtest import ROOT
from veriwatt import vwcrypto
from vwcore import group, modexp, params, reading, sig

pytestmark = pytest.mark.crypto

G = group.GROUPS["2048"]
G3 = group.GROUPS["3072"]
Q = G.q
scalars = st.one_of(st.just(0), st.just(1), st.just(Q - 1), st.just((1 << 256) - 1), st.integers(0, (1 << 256) - 1))
readings = st.one_of(st.just(0), st.just(1), st.just(0xFFFF), st.integers(0, 0xFFFF))
SLOW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_tables_are_reproducible():
    """crypto_c/vw_fbtables.c is exactly what tools/gen_fb_tables.py writes from params.py."""
    r = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_fb_tables.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_tables_are_built_in():
    assert vwcrypto.FB_TABLES == 3


@SLOW
@given(e=scalars)
def test_g_and_h_full_exponents_match_pow(e):
    assert vwcrypto.powmod_fb(G.g, e, G.p, 256) == pow(G.g, e, G.p)
    assert vwcrypto.powmod_fb(G.h, e, G.p, 256) == pow(G.h, e, G.p)


@SLOW
@given(m=readings, r=scalars)
def test_commitment_of_a_reading_matches_pow(m, r):
    want = pow(G.g, m, G.p) * pow(G.h, r, G.p) % G.p
    assert vwcrypto.powmod_fb(G.g, m, G.p, 16) == pow(G.g, m, G.p)
    assert vwcrypto.powmod2_fb(G.g, m, 16, G.h, r, 256, G.p) == want
    assert vwcrypto.powmod2_fb(G.g, m, 256, G.h, r, 256, G.p) == want  # the wide g table
    assert group.commit(m, r, G, reading.READING_BITS) == want


@pytest.mark.parametrize("ebits", [1, 8, 15, 17, 100, 255])
def test_other_public_bounds(ebits):
    e = (1 << ebits) - 1
    assert vwcrypto.powmod_fb(G.g, e, G.p, ebits) == pow(G.g, e, G.p)
    assert vwcrypto.powmod2_fb(G.g, e, ebits, G.h, e, ebits, G.p) == pow(G.g, e, G.p) * pow(G.h, e, G.p) % G.p


def test_no_table_means_none():
    """Other bases, moduli and longer bounds have no table: None, and modexp falls back."""
    assert vwcrypto.powmod_fb(3, 5, G.p, 256) is None
    assert vwcrypto.powmod_fb(G3.g, 5, G3.p, 256) is None  # the 3072 group: no tables
    assert vwcrypto.powmod_fb(G.g, 5, G.p, 257) is None  # over the tables' 256 bits
    assert vwcrypto.powmod2_fb(G.g, 5, 16, 7, 5, 256, G.p) is None
    assert modexp.powmod_fb(G3.g, 5, G3.p, 256) == pow(G3.g, 5, G3.p)
    assert modexp.powmod2_fb(G3.g, 7, 16, G3.h, 9, 256, G3.p) == pow(G3.g, 7, G3.p) * pow(G3.h, 9, G3.p) % G3.p


@pytest.mark.parametrize(
    "args, message",
    [
        ((G.g, 1 << 16, G.p, 16), "exponent above its bound"),
        ((G.g, -1, G.p, 16), "exponent must be non-negative"),
        ((G.g, 1, G.p, 0), "exponent bound out of range"),
        ((G.g, 1, G.p - 1, 16), "modulus must be odd"),
    ],
)
def test_bad_input_raises_valueerror(args, message):
    with pytest.raises(ValueError, match=message):
        vwcrypto.powmod_fb(*args)


@pytest.mark.parametrize("backend", ["pow", "cffi"])
def test_modexp_fixed_base_is_identical_on_every_backend(backend):
    """vwcore.modexp.powmod_fb/powmod2_fb give pow's results with and without tables, and
    refuse an exponent above its bound on every backend alike."""
    before = modexp.BACKEND
    try:
        assert modexp.use(backend) == backend
        x, m, r = Q - 12345, 54321, Q // 3
        assert modexp.powmod_fb(G.g, x, G.p, 256) == pow(G.g, x, G.p)
        assert modexp.powmod2_fb(G.g, m, 16, G.h, r, 256, G.p) == pow(G.g, m, G.p) * pow(G.h, r, G.p) % G.p
        assert sig.public_key(x, G) == pow(G.g, x, G.p)
        with pytest.raises(ValueError, match="above its bound"):
            modexp.powmod_fb(G.g, 1 << 16, G.p, 16)
        with pytest.raises(ValueError, match="above its bound"):
            group.commit(0x10000, 1, G, reading.READING_BITS)
    finally:
        modexp.use(before)


def test_params_match_the_tables_group():
    """The tables are for the published 2048/256 generators (params.py, FIPS 186-4 A.2.3)."""
    assert (G.p, G.g, G.h) == (params.P2048["p"], params.P2048["g"], params.P2048["h"])
