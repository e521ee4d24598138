# SPDX-License-Identifier: MIT
"""Bills computed in the meter (protocol version 1, additive; docs/PROTOCOL.md "Meter
billing messages", docs/COMPUTATIONS.md section 6). One definition for the meter
(vwmeter/billing.py) and the host (veriwatt/meterbill.py):

* the compact **meter tariff** the supplier signs per meter and per cycle, compiled on the
  host from the signed JSON tariff (its per-slot prices, run-length encoded):

      tariff_bytes = "veriwatt/meter-tariff/v1\\0" || meter_id (8) || start_slot (4) ||
                     end_slot (4) || tariff digest (32) || n (2) ||
                     n x (offset from start_slot (2), price (4, signed))

  offsets strictly increasing, the first 0, all below end_slot - start_slot; 1 <= n <= 256;
  1 <= end_slot - start_slot <= 65536. Signed with the supplier's Schnorr key (vwcore.sig).
* the messages SUPPLIER_KEY, TARIFF_SET (BEGIN / POINTS / COMMIT), BILL_FETCH and the
  answer BILL, whose signed string is

      bill_bytes = "veriwatt/meter-bill/v1\\0" || meter_id (8) || start_slot (4) || end_slot (4)
                   || tariff digest (32) || total (8, signed) || R (32)

  signed with the meter's own signing key (the key of its readings).
* the admin tag of SUPPLIER_KEY: HMAC-SHA256(k_admin, "veriwatt/supplier-key/v1\\0" ||
  meter_id || challenge || Y)[:16], k_admin = HKDF-SHA256(admin_secret, "veriwatt admin v1")
  (RFC 2104, RFC 5869: the key of vwcore.auth's RESET and SET_CLOCK tags).

Written in the Python subset MicroPython (1.25+) and CPython (3.9+) both run. Message types
and error codes are in vwcore/wire.py, which imports this module on first use.
"""

import struct

from vwcore import kdf
from vwcore.wire import (
    BILL,
    BILL_FETCH,
    GROUP_PLEN,
    MAX_PAYLOAD,
    NO_SLOT,
    SUPPLIER_KEY,
    TARIFF_SET,
    TYPE_NAMES,
    _mid,
    _need,
    _u32,
)

# kept out of wire.py, which every meter image freezes (flash: docs/COMPUTATIONS.md section 6)
TYPE_NAMES.update({SUPPLIER_KEY: "SUPPLIER_KEY", TARIFF_SET: "TARIFF_SET", BILL_FETCH: "BILL_FETCH", BILL: "BILL"})

TARIFF_DOMAIN = b"veriwatt/meter-tariff/v1\x00"
BILL_DOMAIN = b"veriwatt/meter-bill/v1\x00"
SUPPLIER_KEY_DOMAIN = b"veriwatt/supplier-key/v1\x00"
MAX_POINTS = 256  # points of one meter tariff (6 bytes each: 1.5 KB in RAM at most)
MAX_CYCLE = 65536  # slots of one cycle (offsets are 2 bytes): about 3.7 years
PRICE_MIN = -(1 << 31)
PRICE_MAX = (1 << 31) - 1
OP_BEGIN = 1
OP_POINTS = 2
OP_COMMIT = 3
TAG_LEN = 16
DIGEST_LEN = 32
_BEGIN = ">BIIH"  # op, start_slot, end_slot, n
_BEGIN_LEN = 11
_POINTS_HEAD = ">BH"  # op, index of the first point
_POINT = ">Hi"  # offset, price
POINT_LEN = 6
_COMMIT = ">B32s64s"  # op, tariff digest, supplier signature (e || s)
_COMMIT_LEN = 97
_BILL = ">8sII32sq32s64s"  # meter_id, start, end, digest, total, R, meter signature
BILL_LEN = 152
POINTS_PER_FRAME = (MAX_PAYLOAD - 3) // POINT_LEN  # 170


def check_cycle(start, end):
    """ValueError unless [start, end) is a cycle a meter tariff can describe."""
    _u32(start, "start_slot")
    _u32(end, "end_slot")
    if not (start < end < NO_SLOT and end - start <= MAX_CYCLE):
        raise ValueError("cycle must be 1..%d slots (start_slot < end_slot)" % MAX_CYCLE)


def check_points(points, start, end):
    """ValueError unless points [(offset, price)] are 1..MAX_POINTS, offsets strictly increasing
    from 0 and inside the cycle, prices signed 32-bit."""
    if not (1 <= len(points) <= MAX_POINTS):
        raise ValueError("a meter tariff has 1..%d price points, not %d" % (MAX_POINTS, len(points)))
    prev = -1
    for off, price in points:
        if off <= prev or (prev < 0 and off != 0) or off >= end - start:
            raise ValueError("price points must start at offset 0 and increase inside the cycle")
        if not (PRICE_MIN <= price <= PRICE_MAX):
            raise ValueError("price %d is outside the signed 32-bit range" % price)
        prev = off


def run_length(prices):
    """[(offset, price)] of a list of per-slot prices: a point wherever the price changes."""
    out = []
    last = None
    for i, p in enumerate(prices):
        if i == 0 or p != last:
            out.append((i, p))
            last = p
    return out


def expand(points, n_slots):
    """The per-slot prices of [(offset, price)] over n_slots slots (host side: small cycles)."""
    out = []
    for i, (off, price) in enumerate(points):
        stop = points[i + 1][0] if i + 1 < len(points) else n_slots
        out.extend([price] * (stop - off))
    return out


def tariff_head(meter_id, start, end, digest, n):
    """The signed string's part before the points (TARIFF_DOMAIN included)."""
    check_cycle(start, end)
    if len(digest) != DIGEST_LEN:
        raise ValueError("tariff digest must be 32 bytes")
    return TARIFF_DOMAIN + _mid(meter_id) + struct.pack(">II32sH", start, end, bytes(digest), n)


def encode_points(points):
    return b"".join(struct.pack(_POINT, off, price) for off, price in points)


def tariff_bytes(meter_id, start, end, digest, points):
    """The string the supplier signs for one meter and one cycle (module docstring)."""
    check_points(points, start, end)
    return tariff_head(meter_id, start, end, digest, len(points)) + encode_points(points)


def bill_bytes(meter_id, start, end, digest, total, R):
    """The string the meter signs in a BILL (module docstring)."""
    check_cycle(start, end)
    if len(digest) != DIGEST_LEN or not (0 <= R < (1 << 256)):
        raise ValueError("bad tariff digest or R")
    return (
        BILL_DOMAIN + _mid(meter_id) + struct.pack(">II32sq", start, end, bytes(digest), total) + R.to_bytes(32, "big")
    )


def supplier_key_tag(admin_secret, meter_id, challenge, y_bytes):
    """16-byte tag authorising SUPPLIER_KEY (module docstring); the engineer's admin secret."""
    k = kdf.hkdf(admin_secret, b"veriwatt admin v1", 32)
    return kdf.hmac_sha256(k, SUPPLIER_KEY_DOMAIN + _mid(meter_id) + bytes(challenge) + bytes(y_bytes))[:TAG_LEN]


# ---------------------------------------------------------------- messages
def encode_supplier_key(challenge, tag, y_bytes):
    if len(challenge) != 8 or len(tag) != TAG_LEN:
        raise ValueError("challenge must be 8 bytes, tag 16")
    return bytes(challenge) + bytes(tag) + bytes(y_bytes)


def decode_supplier_key(p):
    if len(p) not in (24 + GROUP_PLEN[1], 24 + GROUP_PLEN[2]):
        raise ValueError("SUPPLIER_KEY payload must be 24 + a group's element size")
    return {"challenge": bytes(p[0:8]), "tag": bytes(p[8:24]), "y": bytes(p[24:])}


def encode_tariff_begin(start, end, n):
    check_cycle(start, end)
    return struct.pack(_BEGIN, OP_BEGIN, start, end, n)


def encode_tariff_points(first, points):
    if not (1 <= len(points) <= POINTS_PER_FRAME):
        raise ValueError("1..%d points per frame" % POINTS_PER_FRAME)
    return struct.pack(_POINTS_HEAD, OP_POINTS, first) + encode_points(points)


def encode_tariff_commit(digest, sig64):
    if len(digest) != DIGEST_LEN or len(sig64) != 64:
        raise ValueError("digest must be 32 bytes, signature 64")
    return struct.pack(_COMMIT, OP_COMMIT, bytes(digest), bytes(sig64))


def decode_tariff_set(p):
    """dict with `op` and its fields; POINTS: `first`, `points` [(offset, price)]. Only the
    encoding is checked here: order, count and size are the meter's (vwmeter/billing.py)."""
    if len(p) < 1:
        raise ValueError("TARIFF_SET payload empty")
    op = p[0]
    if op == OP_BEGIN:
        _need(p, _BEGIN_LEN, "TARIFF_SET BEGIN")
        _, a, b, n = struct.unpack(_BEGIN, p)
        return {"op": op, "start_slot": a, "end_slot": b, "n": n}
    if op == OP_POINTS:
        k = (len(p) - 3) // POINT_LEN
        if len(p) < 3 + POINT_LEN or len(p) != 3 + k * POINT_LEN:
            raise ValueError("TARIFF_SET POINTS: 3 + 6 bytes per point")
        first = struct.unpack_from(">H", p, 1)[0]
        pts = [struct.unpack_from(_POINT, p, 3 + i * POINT_LEN) for i in range(k)]
        return {"op": op, "first": first, "points": pts}
    if op == OP_COMMIT:
        _need(p, _COMMIT_LEN, "TARIFF_SET COMMIT")
        _, d, s = struct.unpack(_COMMIT, p)
        return {"op": op, "digest": bytes(d), "sig": bytes(s)}
    raise ValueError("TARIFF_SET op must be 1 (BEGIN), 2 (POINTS) or 3 (COMMIT)")


def encode_bill_fetch(start):
    return struct.pack(">I", _u32(start, "start_slot"))


def decode_bill_fetch(p):
    _need(p, 4, "BILL_FETCH")
    return {"start_slot": struct.unpack(">I", p)[0]}


def encode_bill(meter_id, start, end, digest, total, R, sig64):
    bill_bytes(meter_id, start, end, digest, total, R)  # checks the fields
    if len(sig64) != 64:
        raise ValueError("signature must be 64 bytes")
    return struct.pack(_BILL, _mid(meter_id), start, end, bytes(digest), total, R.to_bytes(32, "big"), bytes(sig64))


def decode_bill(p):
    """dict meter_id, start_slot, end_slot, digest, total, R, sig (64 bytes); the signature is
    the caller's to check (against bill_bytes of these fields, under the meter's key)."""
    _need(p, BILL_LEN, "BILL")
    mid, a, b, d, total, r, s = struct.unpack(_BILL, p)
    check_cycle(a, b)
    return {
        "meter_id": bytes(mid),
        "start_slot": a,
        "end_slot": b,
        "digest": bytes(d),
        "total": total,
        "R": int.from_bytes(r, "big"),
        "sig": bytes(s),
    }


def encode_info_tail(t):
    """The 40 bytes INFO ends with when the meter holds a meter tariff: '>32sII' digest, cycle."""
    check_cycle(t["start_slot"], t["end_slot"])
    return struct.pack(">32sII", t["digest"], t["start_slot"], t["end_slot"])


def decode_info_tail(b):
    d, a, e = struct.unpack(">32sII", b)
    return {"digest": bytes(d), "start_slot": a, "end_slot": e}


DECODERS = {
    SUPPLIER_KEY: decode_supplier_key,
    TARIFF_SET: decode_tariff_set,
    BILL_FETCH: decode_bill_fetch,
    BILL: decode_bill,
}
