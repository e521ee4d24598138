# SPDX-License-Identifier: MIT
"""veriwatt.cmexp (the C multi-exponentiation of crypto_c/cpython/vw_multiexp.c) against
Python's pow: prod b_i^e_i mod p for generated bases, exponents and odd moduli, with the
edge cases (no base, one base, exponent 0, base 0 and 1, bases >= p, exponents of very
different lengths, moduli of one limb and of the 2048-bit group), each on both Montgomery
backends of the C code: "mpn" (GMP) and "ifma" (AVX-512 IFMA, crypto_c/cpython/vw_mont52.c;
skipped, saying why, only on a CPU without it)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veriwatt import batchverify, cmexp, linear
from vwcore import group as _group

pytestmark = [pytest.mark.scale]

P2048 = _group.DEFAULT.p


def cpu_has_ifma() -> bool:
    """Whether /proc/cpuinfo lists AVX-512 F and IFMA (Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read().split()
    except OSError:
        return False
    return "avx512f" in flags and "avx512ifma" in flags


@pytest.fixture(params=["mpn", "ifma"])
def backend(request):
    """Run a test on one Montgomery backend of the C code, forced for every modulus size."""
    if request.param not in cmexp.backends():
        assert not cpu_has_ifma(), "the CPU has AVX-512 IFMA but vwcrypto runs no IFMA backend"
        pytest.skip("this CPU has no AVX-512 IFMA (avx512f + avx512ifma): the ifma backend cannot run")
    cmexp.set_backend(request.param)
    yield request.param
    cmexp.set_backend("auto")


# the backend fixture is the same for every example
fixture_ok = [HealthCheck.function_scoped_fixture]


def reference(bases, exps, p):
    out = 1 % p
    for b, e in zip(bases, exps):
        out = out * pow(b, e, p) % p
    return out


def test_built_with_the_c_function():
    # tools/setup builds vwcrypto with it (libgmp-dev): without it the batch path falls back
    assert cmexp.available(), "vwcrypto was built without vw_multiexp: rerun bash tools/setup"


moduli = st.one_of(
    st.integers(3, 2**64).map(lambda x: x | 1),
    st.integers(2**64, 2**700).map(lambda x: x | 1),
    st.sampled_from([P2048, (1 << 2048) - 159, (1 << 192) - 237, 2**127 - 1, 3, 5]),
    # around the IFMA path's digit counts: 52 D bits with 4p < 2^(52 D), D a multiple of 8
    # (bits + 2 = 52 D exactly for 414 and 2078 bits; 8,192 bits: the largest, D = 160)
    st.sampled_from(
        [(1 << 414) - 1, (1 << 414) + 1, (1 << 416) - 1, (1 << 2078) - 1, (1 << 2081) + 5, (1 << 4096) - 1]
    ),
    st.just((1 << 8192) - 1),
    st.integers(2**1000, 2**1100).map(lambda x: x | 1),
)
exponents = st.one_of(
    st.integers(0, 3), st.integers(0, 2**64 - 1), st.integers(0, 2**300), st.sampled_from([0, 1, 2**64 - 1, 2**256])
)


@settings(max_examples=300, deadline=None, suppress_health_check=fixture_ok)
@given(p=moduli, data=st.data())
def test_multiexp_is_the_product_of_pows(backend, p, data):
    n = data.draw(st.integers(0, 40))
    bases = data.draw(
        st.lists(
            st.one_of(st.integers(0, p - 1), st.sampled_from([0, 1, p - 1]), st.integers(p, 4 * p)),
            min_size=n,
            max_size=n,
        )
    )
    exps = data.draw(st.lists(exponents, min_size=n, max_size=n))
    assert cmexp.multiexp(bases, exps, p) == reference(bases, exps, p)


@settings(max_examples=25, deadline=None, suppress_health_check=fixture_ok)
@given(n=st.integers(200, 3000), bits=st.sampled_from([1, 8, 64, 65, 256]), seed=st.integers(0, 2**32))
def test_many_bases_of_the_group(backend, n, bits, seed):
    import random

    rnd = random.Random(seed)
    bases = [rnd.randrange(2, P2048) for _ in range(n)]
    exps = [rnd.getrandbits(bits) for _ in range(n)]
    got = cmexp.multiexp(bases, exps, P2048)
    assert got == batchverify.multiexp_gmpy2(bases, exps, P2048, max(bits, 1))
    assert got == reference(bases, exps, P2048)


def test_edge_cases(backend):
    p = P2048
    assert cmexp.multiexp([], [], p) == 1
    assert cmexp.multiexp([5], [0], p) == 1
    assert cmexp.multiexp([1] * 10, [2**64 - 1] * 10, p) == 1
    assert cmexp.multiexp([0], [1], p) == 0
    assert cmexp.multiexp([0], [0], p) == 1  # 0^0 = 1, as pow
    assert cmexp.multiexp([7], [1], p) == 7
    assert cmexp.multiexp([p + 7, -1], [3, 1], p) == 343 * (p - 1) % p
    assert cmexp.multiexp([2, 3], [1 << 1000, 0], p) == pow(2, 1 << 1000, p)
    assert cmexp.product([2, 3, 5], 7) == 30 % 7
    # Bos-Coster (exponents <= 64 bits): one exponent far above the others, equal exponents
    for exps in ([2**64 - 1, 1], [2**64 - 1, 2**64 - 1], [0, 2**64 - 1], [2**63, 3, 0, 0], [1, 2**40 + 1, 2]):
        bases = [3, 5, 7, 11, 13][: len(exps)]
        assert cmexp.multiexp(bases, exps, p) == reference(bases, exps, p)


def mixed_weights(rnd, n):
    """n exponents of at most 64 bits for Bos-Coster's heap: random 64-bit ones, and among them
    zeros, ones, repeats, the largest, powers of two and small values (quotients e1 div e2
    above 1, equal keys in the heap, exponents reaching 0)."""
    exps = [rnd.getrandbits(64) for _ in range(n)]
    specials = [0, 1, 2, 3, 2**64 - 1, 2**63, 2**32 + 1, exps[0], exps[1]]
    for k in range(0, n, 7):
        exps[k] = rnd.choice(specials) if k % 2 else rnd.getrandbits(rnd.randrange(1, 64))
    return exps


@pytest.mark.parametrize("n", [2, 3, 4, 5, 17, 3000])
def test_bos_coster_heap(backend, n):
    """Bos-Coster's heap (vw_multiexp.c: (exponent, index) entries, bottom-up sift) over weights
    of mixed sizes, against gmpy2 and, for the small counts, pow."""
    import random

    rnd = random.Random(n)
    bases = [rnd.randrange(2, P2048) for _ in range(n)]
    exps = mixed_weights(rnd, n)
    got = cmexp.multiexp(bases, exps, P2048)
    assert got == batchverify.multiexp_gmpy2(bases, exps, P2048, 64)
    if n < 100:
        assert got == reference(bases, exps, P2048)


@pytest.mark.parametrize("n", [8191, 8192])
def test_batch_of_bills_weights(backend, n):
    """64-bit weights over as many bases as a batch of bills: from 8,192 bases the IFMA backend
    takes the buckets (BOS_COSTER_IFMA_MAX_COUNT), below and on mpn Bos-Coster; the same value
    on both sides of the line, against gmpy2."""
    import random

    rnd = random.Random(n)
    bases = [rnd.randrange(2, P2048) for _ in range(n - 2)] + [1, P2048 - 1]
    exps = mixed_weights(rnd, n)
    assert cmexp.multiexp(bases, exps, P2048) == batchverify.multiexp_gmpy2(bases, exps, P2048, 64)


@pytest.mark.parametrize(
    "bases, exps, p, err",
    [
        ([2], [1], 2**61, ValueError),  # even modulus: Montgomery needs an odd one
        ([2], [1], 1, ValueError),
        ([2], [-1], 101, ValueError),  # negative exponent
        ([2, 3], [1], 101, ValueError),  # lengths differ
        ([2], [1 << 9000], 101, ValueError),  # exponent above 8,192 bits
        (["2"], [1], 101, TypeError),
    ],
)
def test_bad_arguments_refused(backend, bases, exps, p, err):
    with pytest.raises(err):
        cmexp.multiexp(bases, exps, p)


@pytest.mark.parametrize("use_c", [True, False])
def test_weighted_product_both_paths(backend, use_c, monkeypatch):
    import random

    monkeypatch.setattr(linear, "USE_C", use_c)
    rnd = random.Random(7)
    cs = [rnd.randrange(2, P2048) for _ in range(300)]
    ws = [rnd.choice([0, 1, 2, 5, 31, -1, -4]) for _ in cs]
    pos = reference([c for c, w in zip(cs, ws) if w > 0], [w for w in ws if w > 0], P2048)
    neg = reference([c for c, w in zip(cs, ws) if w < 0], [-w for w in ws if w < 0], P2048)
    assert linear.weighted_product(cs, ws, P2048) == pos * pow(neg, -1, P2048) % P2048


@pytest.mark.parametrize("n, bits", [(1, 1), (1488, 64), (32 * 1488, 64), (100, 256), (5, 8), (300_000, 64)])
def test_window_rule_same_as_python(n, bits):
    assert cmexp.window(n, bits) == batchverify.window_for(n, bits)


@settings(max_examples=60, deadline=None, suppress_health_check=fixture_ok)
@given(p=moduli, data=st.data())
def test_packed_is_the_same(backend, p, data):
    n = data.draw(st.integers(0, 20))
    elen = data.draw(st.integers(1, 40))
    bases = data.draw(st.lists(st.integers(0, p - 1), min_size=n, max_size=n))
    exps = data.draw(st.lists(st.integers(0, 256**elen - 1), min_size=n, max_size=n))
    mlen = (p.bit_length() + 7) // 8
    packed = b"".join(b.to_bytes(mlen, "little") for b in bases)
    got = cmexp.multiexp_packed(packed, b"".join(e.to_bytes(elen, "little") for e in exps), elen, p)
    assert got == reference(bases, exps, p)
    if n:
        with pytest.raises(ValueError):  # a base >= p is refused, not reduced
            cmexp.multiexp_packed(p.to_bytes(mlen, "little") + packed[mlen:], b"\x01" * (n * elen), elen, p)
    with pytest.raises(ValueError):
        cmexp.multiexp_packed(packed + b"\x00", b"\x01" * (n * elen), elen, p)


@pytest.mark.parametrize("bits", [64, 256])
def test_backends_agree_on_a_bill(bits):
    """A month-bill's products on the project's group (1,488 bases: 64-bit batch weights go
    through Bos-Coster, 256-bit exponents through Pippenger): both backends, and gmpy2."""
    import random

    if "ifma" not in cmexp.backends():
        assert not cpu_has_ifma(), "the CPU has AVX-512 IFMA but vwcrypto runs no IFMA backend"
        pytest.skip("this CPU has no AVX-512 IFMA (avx512f + avx512ifma): nothing to compare")
    rnd = random.Random(bits)
    bases = [rnd.randrange(2, P2048) for _ in range(1488)] + [0, 1, P2048 - 1]
    exps = [rnd.getrandbits(bits) for _ in bases]
    got = {}
    try:
        for b in ("mpn", "ifma"):
            cmexp.set_backend(b)
            assert cmexp.backend(P2048.bit_length()) == b
            got[b] = cmexp.multiexp(bases[:-3], exps[:-3], P2048), cmexp.multiexp(bases, exps, P2048)
    finally:
        cmexp.set_backend("auto")
    assert got["mpn"] == got["ifma"]
    assert got["ifma"][0] == batchverify.multiexp_gmpy2(bases[:-3], exps[:-3], P2048, bits)
    assert got["ifma"][1] == 0  # the base 0 with a nonzero exponent
    assert got["mpn"][1] == 0


def test_backend_choice():
    """auto takes IFMA where the CPU has it for moduli of 640 bits and more, mpn below; mpn
    when forced; an unknown backend refused."""
    try:
        assert cmexp.backend(64) == "mpn"
        assert cmexp.backend(639) == "mpn"
        assert cmexp.backend(640) == ("ifma" if cpu_has_ifma() else "mpn")
        assert cmexp.backend(2048) == ("ifma" if cpu_has_ifma() else "mpn")
        assert ("ifma" in cmexp.backends()) == cpu_has_ifma()
        cmexp.set_backend("mpn")
        assert cmexp.backend(2048) == "mpn"
        with pytest.raises(ValueError):
            cmexp.set_backend("gmp")
        if not cpu_has_ifma():
            with pytest.raises(ValueError):
                cmexp.set_backend("ifma")
        else:
            cmexp.set_backend("ifma")
            assert cmexp.backend(64) == "ifma"
    finally:
        cmexp.set_backend("auto")
    assert cmexp.backend(2048) == ("ifma" if cpu_has_ifma() else "mpn")


def test_environment_forces_mpn():
    """VERIWATT_MEXP_IFMA=0 (read at import) makes the mpn backend the one used."""
    code = "from veriwatt import cmexp; print(cmexp.backend(2048), cmexp.multiexp([3], [5], 1000003))"
    env = dict(os.environ, VERIWATT_MEXP_IFMA="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["mpn", str(pow(3, 5, 1000003))]


@settings(max_examples=100, deadline=None, suppress_health_check=fixture_ok)
@given(p=moduli, data=st.data())
def test_montgomery_loop(backend, p, data):
    """The benchmark loop of single Montgomery products (cmexp.mul_loop): r = b, then reps times
    r = r b / R or r = r^2 / R, against Python's pow with the backend's radix R."""
    b = data.draw(st.one_of(st.integers(0, p - 1), st.sampled_from([0, 1, p - 1])))
    reps = data.draw(st.integers(0, 70))
    rinv = pow(1 << cmexp.radix_bits(p), -1, p)
    assert cmexp.mul_loop(b, reps, p) == pow(b, reps + 1, p) * pow(rinv, reps, p) % p
    # squarings: the Montgomery form of x = b / R goes to x^(2^reps), i.e. (b / R)^(2^reps) R
    assert cmexp.mul_loop(b, reps, p, square=True) == pow(b * rinv, 1 << reps, p) * pow(rinv, -1, p) % p
    with pytest.raises(ValueError):
        cmexp.mul_loop(p, 1, p)


# the IFMA backend's 2048-bit kernel (vw_mont52.c amm5: D = 40 digits, moduli of 1,663 to
# 2,078 bits) and the generic one beside it (D = 32 below, D = 48 above)
D40_MODULI = [
    P2048,
    (1 << 2078) - 1,  # the largest with D = 40 (4p < 2^(52 D)): every digit all ones
    (1 << 2077) + 1,  # sparse digits
    (1 << 2078) - (1 << 1040) - 1,
    (1 << 1662) + 3,  # the smallest with D = 40
    (1 << 1661) + 3,  # D = 32
    (1 << 2078) + 1,  # D = 48
]


@pytest.mark.parametrize("p", D40_MODULI, ids=lambda p: "%d-bit" % p.bit_length())
def test_ifma_kernel_digit_edges(p):
    """Chains of Montgomery products and squarings (outputs in [0, 2p) fed back as inputs)
    from bases with all-ones digits, p - 1, 1, 2 and random ones, against pow with R = 2^(52 D)."""
    import random

    if "ifma" not in cmexp.backends():
        assert not cpu_has_ifma(), "the CPU has AVX-512 IFMA but vwcrypto runs no IFMA backend"
        pytest.skip("this CPU has no AVX-512 IFMA (avx512f + avx512ifma): no IFMA kernel to test")
    rnd = random.Random(p.bit_length())
    ones = [((1 << (52 * k)) - 1) % p for k in (1, 8, 39, 40)]
    bases = [1, 2, p - 1, p - 2, p // 2, *ones, *(rnd.randrange(p) for _ in range(4))]
    try:
        cmexp.set_backend("ifma")
        rinv = pow(1 << cmexp.radix_bits(p), -1, p)
        for b in bases:
            for reps in (1, 2, 7, 64):
                assert cmexp.mul_loop(b, reps, p) == pow(b, reps + 1, p) * pow(rinv, reps, p) % p
                want = pow(b * rinv, 1 << reps, p) * pow(rinv, -1, p) % p
                assert cmexp.mul_loop(b, reps, p, square=True) == want
    finally:
        cmexp.set_backend("auto")
