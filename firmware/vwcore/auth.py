# SPDX-License-Identifier: MIT
"""Authorisation tags of the veriwatt protocol: who may make the meter do what.

The wire format (vwcore/wire.py) carries these tags; this module says how they are made, so the
meter (vwmeter) and the host (veriwatt) compute them from one definition.  Every tag is the first
16 bytes of HMAC-SHA256 (RFC 2104) under a key derived with HKDF-SHA256 (RFC 5869) from the
secret of whoever may authorise the request, over a fixed domain tag, the meter id, the meter's
current challenge (shown in INFO: '>II' boot epoch, counter) and the request's arguments:

    tag           key (HKDF info)                          authorises
    reset_tag     admin_secret ("veriwatt admin v1")       RESET (wipe readings and keys)
    clock_tag     admin_secret ("veriwatt admin v1")       SET_CLOCK beyond a drift trim
    ack_tag       customer_key ("veriwatt ack v1")         ACK (reuse the readings' space)
    enroll_tag    customer_key ("veriwatt agg-enroll v1")  AGG_ENROLL COMMIT (vwcore.agg)

The meter compares tags in constant time (kdf.ct_equal) and spends the challenge of an accepted
RESET, SET_CLOCK or COMMIT, so such a tag works once (docs/PROTOCOL.md, docs/SECURITY.md).
Written in the Python subset MicroPython (1.25+) and CPython (3.9+) both run.
"""

import struct

from vwcore import kdf

RESET_DOMAIN = b"veriwatt/reset/v1\x00"
CLOCK_DOMAIN = b"veriwatt/set-clock/v1\x00"
ACK_DOMAIN = b"veriwatt/ack/v1\x00"
ENROLL_TAG_DOMAIN = b"veriwatt/agg-enroll/v1\x00"
TAG_LEN = 16


def _mid(meter_id):
    if not isinstance(meter_id, (bytes, bytearray)) or len(meter_id) != 8:
        raise ValueError("meter_id must be 8 bytes")
    return bytes(meter_id)


def _u32(x, name):
    if not (0 <= x <= 0xFFFFFFFF):
        raise ValueError("%s out of uint32 range" % name)
    return struct.pack(">I", x)


def reset_tag(admin_secret, meter_id, challenge):
    """16-byte tag authorising RESET: HMAC-SHA256(k_admin, RESET_DOMAIN || meter_id ||
    challenge), k_admin = HKDF-SHA256(admin_secret, "veriwatt admin v1"). The challenge (INFO) expires after
    wire.CHALLENGE_TTL_S of meter uptime and changes at every boot and accepted tag."""
    k = kdf.hkdf(admin_secret, b"veriwatt admin v1", 32)
    return kdf.hmac_sha256(k, RESET_DOMAIN + _mid(meter_id) + bytes(challenge))[:TAG_LEN]


def clock_tag(admin_secret, meter_id, challenge, unix_seconds):
    """16-byte tag authorising SET_CLOCK to `unix_seconds` on a provisioned meter:
    HMAC-SHA256(k_admin, CLOCK_DOMAIN || meter_id || challenge || '>I' unix_seconds), the
    same k_admin as reset_tag (RFC 2104 HMAC, RFC 5869 HKDF)."""
    k = kdf.hkdf(admin_secret, b"veriwatt admin v1", 32)
    return kdf.hmac_sha256(k, CLOCK_DOMAIN + _mid(meter_id) + bytes(challenge) + _u32(unix_seconds, "clock"))[:TAG_LEN]


def ack_tag(customer_key, meter_id, challenge, up_to_slot):
    """16-byte tag authorising ACK up to `up_to_slot`: HMAC-SHA256(k_ack, ACK_DOMAIN || meter_id
    || challenge || '>I' up_to_slot), k_ack = HKDF-SHA256(customer_key, info="veriwatt ack v1")
    (key separation from the AEAD key). Whoever holds the customer code -- the customer's
    device that stores the readings -- may let the meter reuse their space; nobody else can
    make it drop readings. ACK is monotonic, so a replayed tag acknowledges nothing new; the
    challenge (changed by RESET) keeps old tags from touching a later log."""
    k = kdf.hkdf(customer_key, b"veriwatt ack v1", 32)
    return kdf.hmac_sha256(k, ACK_DOMAIN + _mid(meter_id) + bytes(challenge) + _u32(up_to_slot, "up_to_slot"))[:TAG_LEN]


def enroll_tag(customer_key, meter_id, challenge, digest):
    """16-byte tag authorising AGG_ENROLL COMMIT: HMAC-SHA256(k_enr, "veriwatt/agg-enroll/v1\\0"
    || meter_id || challenge || enroll_digest)[:16], k_enr = HKDF-SHA256(customer_key,
    info "veriwatt agg-enroll v1") (RFC 5869, RFC 2104; key separation from the AEAD and ACK
    keys). Only the holder of the customer code - the customer's device - can consent to the
    group; the meter spends its INFO challenge when it accepts, so a tag works once.
    `digest`: vwcore.agg.enroll_digest of the group and noise parameters."""
    k = kdf.hkdf(customer_key, b"veriwatt agg-enroll v1", 32)
    return kdf.hmac_sha256(k, ENROLL_TAG_DOMAIN + _mid(meter_id) + bytes(challenge) + bytes(digest))[:TAG_LEN]
