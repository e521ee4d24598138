# SPDX-License-Identifier: MIT
"""vwcore.aead: encrypt-then-MAC with HMAC-SHA256, tamper tests, customer codes."""

import pytest
from hypothesis import given, settings, strategies as st

from vwcore import aead

pytestmark = pytest.mark.crypto
K = bytes(range(15))


@settings(deadline=None)
@given(st.binary(max_size=200), st.binary(max_size=40), st.binary(min_size=1, max_size=20))
def test_roundtrip(pt, ad, nonce):
    a = aead.AEAD(K)
    ct = a.encrypt(nonce, pt, ad)
    assert len(ct) == len(pt) + aead.TAG_LEN
    assert a.decrypt(nonce, ct, ad) == pt
    assert aead.decrypt(K, nonce, ct, ad) == pt


@settings(deadline=None, max_examples=60)
@given(st.binary(min_size=1, max_size=64), st.data())
def test_any_bit_flip_rejected(pt, data):
    a = aead.AEAD(K)
    ct = bytearray(a.encrypt(b"n", pt, b"ad"))
    bit = data.draw(st.integers(0, len(ct) * 8 - 1))
    ct[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(aead.AuthError):
        a.decrypt(b"n", bytes(ct), b"ad")


def test_wrong_key_ad_nonce_truncation():
    a = aead.AEAD(K)
    ct = a.encrypt(b"nonce", b"secret reading", b"ad")
    for args in (
        (b"nonce", ct, b"ae"),
        (b"nonc3", ct, b"ad"),
        (b"nonce", ct[:-1], b"ad"),
        (b"nonce", ct[:5], b"ad"),
        (b"nonce", ct + b"\x00", b"ad"),
    ):
        with pytest.raises(aead.AuthError):
            a.decrypt(*args)
    with pytest.raises(aead.AuthError):
        aead.AEAD(bytes(15)).decrypt(b"nonce", ct, b"ad")
    # ad/nonce boundary is length-prefixed: moving a byte between them changes the tag
    assert a.encrypt(b"ab", b"x", b"c")[-16:] != a.encrypt(b"b", b"x", b"ac")[-16:]
    assert issubclass(aead.AuthError, ValueError)


def test_keystream_differs_per_nonce():
    a = aead.AEAD(K)
    assert a.encrypt(aead.record_nonce(b"M" * 8, 1), bytes(36)) != a.encrypt(aead.record_nonce(b"M" * 8, 2), bytes(36))


@settings(deadline=None)
@given(st.binary(min_size=15, max_size=15))
def test_customer_code_roundtrip(key):
    code = aead.format_customer_code(key)
    assert len(code) == 29 and code.count("-") == 4
    assert aead.parse_customer_code(code) == key
    assert aead.parse_customer_code(code.lower().replace("-", " ")) == key
    assert aead.parse_customer_code(code.replace("0", "o").replace("1", "l")) == key


def test_customer_code_single_errors_all_detected():
    code = aead.format_customer_code(bytes.fromhex("0123456789abcdef0123456789abcd"))
    chars = code.replace("-", "")
    for i in range(len(chars)):
        for c in aead.ALPHABET:
            if c == chars[i]:
                continue
            with pytest.raises(ValueError):
                aead.parse_customer_code(chars[:i] + c + chars[i + 1 :])


def test_customer_code_transpositions_mostly_detected():
    import random

    rnd = random.Random(1)
    undetected = total = 0
    for _ in range(200):
        chars = aead.format_customer_code(bytes(rnd.randrange(256) for _ in range(15))).replace("-", "")
        for i in range(len(chars) - 1):
            if chars[i] == chars[i + 1]:
                continue
            total += 1
            sw = chars[:i] + chars[i + 1] + chars[i] + chars[i + 2 :]
            try:
                aead.parse_customer_code(sw)
                undetected += 1
            except ValueError:
                pass
    assert undetected / total < 0.01


def test_customer_code_bad_input():
    for s in ("", "ABCDE", "U" * 25, "0" * 26, "!" * 25):
        with pytest.raises(ValueError):
            aead.parse_customer_code(s)
    with pytest.raises(ValueError):
        aead.format_customer_code(bytes(16))
