# SPDX-License-Identifier: MIT
"""vwcore.reading: certify / verify_record / open_record, tamper and replay tests."""

import pytest
from hypothesis import given, settings, strategies as st

from vwcore import aead, group, reading, wire

pytestmark = pytest.mark.crypto
MID = b"MTR00042"
CK = bytes(range(15))
KEYS = reading.MeterKeys(MID, b"\x11" * 32, CK)
SLOT = 983000


@settings(max_examples=15, deadline=None)
@given(st.integers(0, reading.MAX_READING), st.integers(0, 2**31))
def test_certify_verify_open(m, slot):
    rec = reading.certify(KEYS, slot, m)
    b = wire.encode_record(rec)
    rec2 = wire.decode_record(b)
    assert reading.verify_record(rec2, KEYS.y, MID)
    got_m, r = reading.open_record(rec2, CK)
    assert got_m == m and group.commit(m, r) == rec2.C and r == KEYS.r_for(slot)


def test_reading_above_max_refused():
    """MAX_READING (65535 Wh per half-hour) is the one bound meter and verifiers share."""
    assert reading.MAX_READING == 0xFFFF
    for m in (reading.MAX_READING + 1, 2**32 - 1, -1):
        with pytest.raises(ValueError):
            reading.certify(KEYS, SLOT, m)


def test_deterministic():
    a = reading.certify(KEYS, SLOT, 500)
    assert wire.encode_record(a) == wire.encode_record(reading.certify(KEYS, SLOT, 500))


def test_tamper_every_byte_region():
    rec = reading.certify(KEYS, SLOT, 777)
    b = wire.encode_record(rec)
    for i in list(range(0, 40)) + list(range(len(b) - 140, len(b))) + [100, 200]:
        t = bytearray(b)
        t[i] ^= 0x01
        try:
            r2 = wire.decode_record(bytes(t))
        except ValueError:
            continue
        ok = reading.verify_record(r2, KEYS.y, MID)
        try:
            reading.open_record(r2, CK)
            opened = True
        except ValueError:
            opened = False
        # a changed byte breaks the signature, or the AEAD tag (ciphertext/tag region)
        assert not (ok and opened), i
        if i < 14 + 256 + 64:
            assert not ok, i


def test_replay_across_slot_meter_group():
    rec = reading.certify(KEYS, SLOT, 5)
    moved = wire.Record(rec.meter_id, SLOT + 1, rec.C, rec.e, rec.s, rec.ct)
    assert not reading.verify_record(moved, KEYS.y)
    other = wire.Record(b"MTR00043", SLOT, rec.C, rec.e, rec.s, rec.ct)
    assert not reading.verify_record(other, KEYS.y)
    assert not reading.verify_record(rec, KEYS.y, meter_id=b"MTR00043")
    with pytest.raises(aead.AuthError):
        reading.open_record(moved, CK)
    # another meter's key
    k2 = reading.MeterKeys(b"MTR00043", b"\x22" * 32, CK)
    assert not reading.verify_record(rec, k2.y)


def test_wrong_customer_key():
    rec = reading.certify(KEYS, SLOT, 5)
    with pytest.raises(aead.AuthError):
        reading.open_record(rec, bytes(15))
    assert reading.open_record(rec, aead.AEAD(CK))[0] == 5


def test_opening_must_match_commitment():
    # a meter (or a bug) encrypting an opening that does not match C is caught
    rec = reading.certify(KEYS, SLOT, 5)
    rec_other = reading.certify(KEYS, SLOT, 6)
    mixed = wire.Record(rec.meter_id, SLOT, rec.C, rec.e, rec.s, rec_other.ct)
    assert reading.verify_record(mixed, KEYS.y)
    with pytest.raises(ValueError, match="commitment"):
        reading.open_record(mixed, CK)


def test_bad_commitments_rejected():
    rec = reading.certify(KEYS, SLOT, 5)
    G = group.DEFAULT
    for C in (0, 1, G.p - 1, G.p, G.p - rec.C):
        bad = wire.Record(MID, SLOT, C, rec.e, rec.s, rec.ct)
        assert not reading.verify_record(bad, KEYS.y)
    bad = wire.Record(MID, SLOT, rec.C, rec.e, rec.s, rec.ct, 7)
    assert not reading.verify_record(bad, KEYS.y)


def test_ranges():
    with pytest.raises(ValueError):
        reading.certify(KEYS, SLOT, 2**32)
    with pytest.raises(ValueError):
        reading.certify(KEYS, wire.NO_SLOT, 1)
    with pytest.raises(ValueError):
        reading.MeterKeys(b"short", b"s" * 32, CK)


def test_group_3072():
    k = reading.MeterKeys(MID, b"\x33" * 32, CK, "3072")
    rec = reading.certify(k, SLOT, 99)
    b = wire.encode_record(rec)
    assert len(b) == 514
    rec2 = wire.decode_record(b)
    assert reading.verify_record(rec2, k.y) and reading.open_record(rec2, CK)[0] == 99
    assert not reading.verify_record(rec2, KEYS.y)
