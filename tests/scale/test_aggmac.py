# SPDX-License-Identifier: MIT
"""vwcrypto.aggmac, the C batch HMAC-SHA256 kernel of the aggregator (crypto_c/cpython/vw_aggmac.c):
RFC 4231's known answers, Python's hmac over random keys, prefixes and messages (hypothesis),
truncated-tag checks, and argument errors that name no secret."""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vwcore import agg
from vwcrypto import aggmac

pytestmark = [pytest.mark.scale, pytest.mark.aggregation]

# RFC 4231 section 4: HMAC-SHA-256 test cases 1, 2, 3, 4, 6, 7 (case 5 is a truncated output)
RFC4231 = [
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 20, b"\xdd" * 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (
        bytes(range(1, 26)),
        b"\xcd" * 50,
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
    ),
    (
        b"\xaa" * 131,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
    (
        b"\xaa" * 131,
        b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to"
        b" be hashed before being used by the HMAC algorithm.",
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    ),
]


def test_rfc4231_known_answers():
    assert aggmac.AVAILABLE, "vwcrypto built without OpenSSL (tools/setup installs libssl-dev)"
    S = aggmac.MacStates([k for k, _, _ in RFC4231])
    for i, (_, msg, want) in enumerate(RFC4231):
        assert S.macs([msg], [i])[0].hex() == want
    # the prefix is absorbed once: HMAC(key, prefix || msg) for a message split anywhere
    k, msg, want = RFC4231[5]
    for cut in (0, 1, 63, 64, 65, len(msg)):
        assert aggmac.MacStates([k], msg[:cut]).macs([msg[cut:]], [0])[0].hex() == want


@settings(max_examples=150, deadline=None)
@given(
    keys=st.lists(st.binary(min_size=0, max_size=150), min_size=1, max_size=5),
    prefix=st.binary(max_size=80),
    msgs=st.lists(st.binary(min_size=0, max_size=200), min_size=1, max_size=4),
    data=st.data(),
)
def test_macs_match_python_hmac(keys, prefix, msgs, data):
    S = aggmac.MacStates(keys, prefix)
    for m in msgs:
        rows = data.draw(st.lists(st.integers(0, len(keys) - 1), min_size=1, max_size=3))
        got = S.macs([m] * len(rows), rows)
        assert got == [hmac.new(keys[r], prefix + m, hashlib.sha256).digest() for r in rows]


@pytest.mark.security
@settings(max_examples=100, deadline=None)
@given(
    keys=st.lists(st.binary(min_size=1, max_size=80), min_size=1, max_size=4),
    body_len=st.integers(0, 130),
    tag_len=st.integers(1, 32),
    data=st.data(),
)
def test_check_truncated_tags(keys, body_len, tag_len, data):
    """ok exactly when the tag is the record's key's truncated HMAC: a flipped bit of body or
    tag, another member's key, or a record naming no member (row -1) give 0 (unless the
    truncated tags happen to agree, computed here with Python's hmac: 1/256 for 1-byte tags;
    keys equal after RFC 2104's zero padding are the same key)."""
    prefix = agg.DOMAIN + b"/share"
    n = data.draw(st.integers(1, 6))
    bodies = [data.draw(st.binary(min_size=body_len, max_size=body_len)) for _ in range(n)]
    rows = [data.draw(st.integers(0, len(keys) - 1)) for _ in range(n)]

    def tag(key: bytes, body: bytes) -> bytes:
        return hmac.new(key, prefix + body, hashlib.sha256).digest()[:tag_len]

    recs = [b + tag(keys[r], b) for b, r in zip(bodies, rows)]
    S = aggmac.MacStates(keys, prefix)
    rec_len = body_len + tag_len

    def check(rs, rw):
        return list(S.check(b"".join(rs), rec_len, body_len, np.array(rw, dtype=np.int64)))

    assert check(recs, rows) == [1] * n
    bit = data.draw(st.integers(0, 8 * rec_len - 1))
    bad = bytearray(recs[0])
    bad[bit // 8] ^= 1 << (bit % 8)
    want = int(tag(keys[rows[0]], bytes(bad[:body_len])) == bad[body_len:])
    assert check([bytes(bad)] + recs[1:], rows) == [want] + [1] * (n - 1)
    if tag_len >= 8:
        assert want == 0
    assert check(recs, [-1] + rows[1:]) == [0] + [1] * (n - 1)
    other = [(r + 1) % len(keys) for r in rows]
    assert check(recs, other) == [int(tag(keys[o], b) == t[body_len:]) for o, b, t in zip(other, bodies, recs)]


@pytest.mark.security
def test_bad_arguments_name_no_secret():
    key = bytes(range(32))
    S = aggmac.MacStates([key], b"p")
    rec = b"\x11" * 44 + hmac.new(key, b"p" + b"\x11" * 44, hashlib.sha256).digest()[:16]
    cases = [
        (lambda: S.check(rec, 60, 44, np.array([1])), "out of range"),
        (lambda: S.check(rec, 60, 44, np.array([0, 0])), "2 entries for 1 records"),
        (lambda: S.check(rec + b"x", 60, 44, np.array([0])), "not a multiple"),
        (lambda: S.check(rec, 60, 60, np.array([0])), "tag length"),
        (lambda: S.check(rec, 60, 20, np.array([0])), "tag length"),  # a 40-byte tag
        (lambda: S.macs([b"a", b"bb"], [0, 0]), "same length"),
        (lambda: S.macs([b"a"], [-1]), "out of range"),
    ]
    for call, words in cases:
        with pytest.raises(ValueError) as e:
            call()
        msg = str(e.value)
        assert words in msg
        for secret in (key, rec[44:]):
            assert secret.hex() not in msg and repr(secret)[2:-1] not in msg
    assert list(S.check(b"", 60, 44, np.zeros(0, dtype=np.int64))) == []
    assert list(S.check(rec, 60, 44, np.array([0]))) == [1]  # the state survived the refusals


@pytest.mark.security
def test_states_wiped_when_dropped():
    """The key states (key material) are zeroed before their memory is freed."""
    S = aggmac.MacStates([b"\x5a" * 32, b"\xa5" * 100], b"prefix")
    st = S._states  # keeps the memory alive past the object
    zero = bytes(len(st))
    assert bytes(aggmac.ffi.buffer(st)) != zero
    del S
    assert bytes(aggmac.ffi.buffer(st)) == zero
