# SPDX-License-Identifier: MIT
"""veriwatt.cmexp (the C multi-exponentiation of crypto_c/cpython/vw_multiexp.c) against
Python's pow: prod b_i^e_i mod p for generated bases, exponents and odd moduli, with the
edge cases (no base, one base, exponent 0, base 0 and 1, bases >= p, exponents of very
different lengths, moduli of one limb and of the 2048-bit group)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veriwatt import batchverify, cmexp, linear
from vwcore import group as _group

pytestmark = [pytest.mark.scale]

P2048 = _group.DEFAULT.p


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
)
exponents = st.one_of(
    st.integers(0, 3), st.integers(0, 2**64 - 1), st.integers(0, 2**300), st.sampled_from([0, 1, 2**64 - 1, 2**256])
)


@settings(max_examples=300, deadline=None)
@given(p=moduli, data=st.data())
def test_multiexp_is_the_product_of_pows(p, data):
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


@settings(max_examples=25, deadline=None)
@given(n=st.integers(200, 3000), bits=st.sampled_from([1, 8, 64, 65, 256]), seed=st.integers(0, 2**32))
def test_many_bases_of_the_group(n, bits, seed):
    import random

    rnd = random.Random(seed)
    bases = [rnd.randrange(2, P2048) for _ in range(n)]
    exps = [rnd.getrandbits(bits) for _ in range(n)]
    got = cmexp.multiexp(bases, exps, P2048)
    assert got == batchverify.multiexp_gmpy2(bases, exps, P2048, max(bits, 1))
    assert got == reference(bases, exps, P2048)


def test_edge_cases():
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
def test_bad_arguments_refused(bases, exps, p, err):
    with pytest.raises(err):
        cmexp.multiexp(bases, exps, p)


@pytest.mark.parametrize("use_c", [True, False])
def test_weighted_product_both_paths(use_c, monkeypatch):
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


@settings(max_examples=60, deadline=None)
@given(p=moduli, data=st.data())
def test_packed_is_the_same(p, data):
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
