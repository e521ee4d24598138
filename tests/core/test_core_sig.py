# SPDX-License-Identifier: MIT
"""vwcore.sig: Schnorr signatures, strict verification, tamper tests."""

import pytest
from hypothesis import given, settings, strategies as st

from vwcore import group, sig

pytestmark = pytest.mark.crypto
G = group.DEFAULT
KEY = sig.SigningKey(b"\x01" * 32)


def test_sign_verify_and_determinism():
    s1 = KEY.sign(b"hello")
    assert s1 == KEY.sign(b"hello")
    assert sig.verify(KEY.y, b"hello", s1)
    assert KEY.sign(b"hello!") != s1
    assert 0 < KEY.x < G.q and KEY.y == pow(G.g, KEY.x, G.p)
    assert sig.decode_sig(sig.encode_sig(s1)) == s1


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 511))
def test_tamper_message(msg, bit):
    e, s = KEY.sign(msg)
    assert sig.verify(KEY.y, msg, (e, s))
    m2 = bytearray(msg + b"\x00")
    m2[(bit // 8) % len(m2)] ^= 1 << (bit % 8)
    assert not sig.verify(KEY.y, bytes(m2), (e, s))


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 2**256))
def test_tamper_signature(delta):
    e, s = KEY.sign(b"m")
    assert not sig.verify(KEY.y, b"m", ((e + delta) % G.q, s))
    assert not sig.verify(KEY.y, b"m", (e, (s + delta) % G.q))


def test_strict_checks():
    e, s = KEY.sign(b"m")
    y = KEY.y
    assert not sig.verify(y, b"m", (e + G.q, s))  # e out of range
    assert not sig.verify(y, b"m", (e, s + G.q))  # s out of range (same value mod q)
    assert not sig.verify(y, b"m", (-1, s))
    assert not sig.verify(y, b"m", (e, -1))
    assert not sig.verify(y, b"m", None)
    assert not sig.verify(y, b"m", (e,))
    assert not sig.verify(y, b"m", (b"e", s))
    for bad in (0, 1, G.p - 1, G.p, G.p + y, -y):  # not in the order-q subgroup
        assert not sig.verify(bad, b"m", (e, s))
    other = sig.SigningKey(b"\x02" * 32)
    assert not sig.verify(other.y, b"m", (e, s))
    with pytest.raises(ValueError):
        sig.sign(0, b"m")
    with pytest.raises(ValueError):
        sig.decode_sig(b"\x00" * 63)


def test_y_times_minus_one_rejected():
    # -y has order 2q: a verifier without the membership check might accept y^e sign flips
    e, s = KEY.sign(b"m")
    assert not sig.verify(G.p - KEY.y, b"m", (e, s))


def test_3072():
    k = sig.SigningKey(b"\x03" * 32, "3072")
    sg = k.sign(b"x")
    assert sig.verify(k.y, b"x", sg, "3072")
    assert not sig.verify(k.y, b"x", sg, "2048")
