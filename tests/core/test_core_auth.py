# SPDX-License-Identifier: MIT
"""vwcore.auth: the authorisation tags, recomputed here from the standards with CPython's own
hmac/hashlib (RFC 2104 HMAC-SHA256, RFC 5869 HKDF), so a change of any tag's bytes (domain,
key derivation, field order, truncation) fails: the tags are part of the wire protocol."""

import hashlib
import hmac
import struct

import pytest

from vwcore import agg, auth

MID, CH = b"METER-01", b"\x00\x00\x00\x07\x00\x00\x00\x02"


def hkdf(ikm: bytes, info: bytes, n: int = 32) -> bytes:
    prk = hmac.new(b"\x00" * 32, ikm, hashlib.sha256).digest()  # RFC 5869 2.2, empty salt
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes((i,)), hashlib.sha256).digest()
        out, i = out + t, i + 1
    return out[:n]


def tag(secret: bytes, info: bytes, msg: bytes) -> bytes:
    return hmac.new(hkdf(secret, info), msg, hashlib.sha256).digest()[:16]


def test_tags_are_the_documented_constructions():
    adm, ck = bytes(range(32)), b"k" * 15
    assert auth.reset_tag(adm, MID, CH) == tag(adm, b"veriwatt admin v1", b"veriwatt/reset/v1\x00" + MID + CH)
    assert auth.clock_tag(adm, MID, CH, 1767225600) == tag(
        adm, b"veriwatt admin v1", b"veriwatt/set-clock/v1\x00" + MID + CH + struct.pack(">I", 1767225600)
    )
    assert auth.ack_tag(ck, MID, CH, 981234) == tag(
        ck, b"veriwatt ack v1", b"veriwatt/ack/v1\x00" + MID + CH + struct.pack(">I", 981234)
    )
    d = hashlib.sha256(b"digest").digest()
    want = tag(ck, b"veriwatt agg-enroll v1", b"veriwatt/agg-enroll/v1\x00" + MID + CH + d)
    assert auth.enroll_tag(ck, MID, CH, d) == want == agg.enroll_tag(ck, MID, CH, d)


def test_tags_are_separated():
    """The same secret, meter and challenge never give the same tag for two purposes."""
    s = b"s" * 32
    tags = {
        auth.reset_tag(s, MID, CH),
        auth.clock_tag(s, MID, CH, 0),
        auth.ack_tag(s, MID, CH, 0),
        auth.enroll_tag(s, MID, CH, bytes(32)),
    }
    assert len(tags) == 4 and all(len(t) == auth.TAG_LEN == 16 for t in tags)


@pytest.mark.security
def test_bad_arguments_are_refused():
    for mid in (b"short", b"M" * 9, "METER-01"):
        with pytest.raises(ValueError):
            auth.reset_tag(b"s" * 32, mid, CH)
        with pytest.raises(agg.AggError):  # the aggregation module keeps its own error
            agg.enroll_tag(b"k", mid, CH, bytes(32))
    for v in (-1, 1 << 32):
        with pytest.raises(ValueError):
            auth.clock_tag(b"s" * 32, MID, CH, v)
        with pytest.raises(ValueError):
            auth.ack_tag(b"k", MID, CH, v)
