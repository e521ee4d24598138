# SPDX-License-Identifier: MIT
"""Payloads of the aggregation messages of protocol version 1 (additive; docs/PROTOCOL.md,
"Aggregation messages"). Part of the wire definition: message types, op codes and error
codes are in vwcore/wire.py, which imports this module on first use.

AGG_ENROLL carries an op byte: the member list of a group (up to 255 members of 8 + plen
bytes each) does not fit one frame, so it is sent in parts (BEGIN, MEMBERS..., COMMIT)
and the meter streams it (vwcore.agg.EnrollBuilder)."""

import struct

from vwcore.wire import (
    AGG_ENROLL,
    AGG_ENROLLED,
    AGG_FETCH,
    AGG_LABEL_MAX,
    AGG_MAX_MEMBERS,
    AGG_MIN_MEMBERS,
    AGG_OP_BEGIN,
    AGG_OP_COMMIT,
    AGG_OP_MEMBERS,
    AGG_RECOVER,
    AGG_RECOVERY,
    AGG_SHARE,
    AGG_SHARE_LEN,
    GROUP_PLEN,
    MAX_PAYLOAD,
    METER_ID_LEN,
    _mid,
    _need,
    _u32,
    decode_fetch,
    encode_fetch,
    int_to_bytes,
)

encode_agg_fetch = encode_fetch
_AGG_BEGIN = ">BBHIIB"  # op, group_id, n_members, eps_milli, sensitivity_wh, len(label)
_AGG_BEGIN_LEN = 13


def agg_members_per_frame(group_id=1):
    return (MAX_PAYLOAD - 3) // (METER_ID_LEN + GROUP_PLEN[group_id])


def encode_agg_begin(group_id, label, agg_pub, n_members, eps_milli=0, sensitivity_wh=0):
    plen = GROUP_PLEN.get(group_id)
    if plen is None:
        raise ValueError("unknown group id %d" % group_id)
    if not (1 <= len(label) <= AGG_LABEL_MAX):
        raise ValueError("label must be 1..%d bytes" % AGG_LABEL_MAX)
    if not (AGG_MIN_MEMBERS <= n_members <= AGG_MAX_MEMBERS):
        raise ValueError("a group has %d..%d members" % (AGG_MIN_MEMBERS, AGG_MAX_MEMBERS))
    return (
        struct.pack(
            _AGG_BEGIN,
            AGG_OP_BEGIN,
            group_id,
            n_members,
            _u32(eps_milli, "eps_milli"),
            _u32(sensitivity_wh, "sensitivity"),
            len(label),
        )
        + bytes(label)
        + int_to_bytes(agg_pub, plen)
    )


def encode_agg_members(group_id, first_index, members):
    """members: [(id 8 bytes, Y int)], in increasing id order, at most agg_members_per_frame()."""
    plen = GROUP_PLEN[group_id]
    parts = [struct.pack(">BH", AGG_OP_MEMBERS, first_index)]
    for mid, y in members:
        parts.append(_mid(mid))
        parts.append(int_to_bytes(y, plen))
    out = b"".join(parts)
    if len(out) > MAX_PAYLOAD or not members:
        raise ValueError("1..%d members per AGG_ENROLL frame" % agg_members_per_frame(group_id))
    return out


ENROLL_TAG_LEN = 16


def encode_agg_commit(tag):
    """COMMIT carries the customer's consent: agg.enroll_tag(customer_key, meter_id, challenge,
    agg.enroll_digest(...)), 16 bytes."""
    if len(tag) != ENROLL_TAG_LEN:
        raise ValueError("enrollment tag must be %d bytes" % ENROLL_TAG_LEN)
    return bytes((AGG_OP_COMMIT,)) + bytes(tag)


def decode_agg_enroll(p):
    """dict with op and, for COMMIT: tag; for BEGIN: group_id, n_members, eps_milli, sensitivity_wh, label,
    agg_pub (int); for MEMBERS: first_index, members [(id, Y)] (group size from the length,
    checked against the BEGIN by the meter)."""
    if len(p) < 1:
        raise ValueError("AGG_ENROLL payload empty")
    op = p[0]
    if op == AGG_OP_BEGIN:
        if len(p) < _AGG_BEGIN_LEN:
            raise ValueError("AGG_ENROLL begin too short")
        _op, gid, n, eps, sens, ln = struct.unpack_from(_AGG_BEGIN, p, 0)
        plen = GROUP_PLEN.get(gid)
        if plen is None:
            raise ValueError("unknown group id %d" % gid)
        if not (1 <= ln <= AGG_LABEL_MAX) or len(p) != _AGG_BEGIN_LEN + ln + plen:
            raise ValueError("AGG_ENROLL begin length wrong")
        o = _AGG_BEGIN_LEN + ln
        return {
            "op": op,
            "group_id": gid,
            "n_members": n,
            "eps_milli": eps,
            "sensitivity_wh": sens,
            "label": bytes(p[_AGG_BEGIN_LEN:o]),
            "agg_pub": int.from_bytes(p[o:], "big"),
        }
    if op == AGG_OP_MEMBERS:
        if len(p) < 3:
            raise ValueError("AGG_ENROLL members too short")
        first = struct.unpack_from(">H", p, 1)[0]
        return {"op": op, "first_index": first, "raw": bytes(p[3:])}
    if op == AGG_OP_COMMIT:
        _need(p, 1 + ENROLL_TAG_LEN, "AGG_ENROLL commit")
        return {"op": op, "tag": bytes(p[1:])}
    raise ValueError("unknown AGG_ENROLL op %d" % op)


def split_agg_members(raw, group_id):
    """[(id, Y)] from the raw member bytes of an AGG_ENROLL MEMBERS frame."""
    w = METER_ID_LEN + GROUP_PLEN[group_id]
    if not raw or len(raw) % w:
        raise ValueError("member bytes must be a multiple of %d" % w)
    return [(bytes(raw[i : i + 8]), int.from_bytes(raw[i + 8 : i + w], "big")) for i in range(0, len(raw), w)]


def encode_agg_enrolled(gid, n_members):
    if len(gid) != 16:
        raise ValueError("gid must be 16 bytes")
    return bytes(gid) + struct.pack(">H", n_members)


def decode_agg_enrolled(p):
    _need(p, 18, "AGG_ENROLLED")
    return {"gid": bytes(p[:16]), "n_members": struct.unpack_from(">H", p, 16)[0]}


def encode_agg_recover(slot, missing):
    if not (1 <= len(missing) <= AGG_MAX_MEMBERS):
        raise ValueError("1..%d missing members" % AGG_MAX_MEMBERS)
    return struct.pack(">IB", _u32(slot, "slot"), len(missing)) + b"".join(_mid(m) for m in missing)


def decode_agg_recover(p):
    if len(p) < 5:
        raise ValueError("AGG_RECOVER too short")
    slot, n = struct.unpack_from(">IB", p, 0)
    if n < 1 or len(p) != 5 + 8 * n:
        raise ValueError("AGG_RECOVER member count does not match its length")
    return {"slot": slot, "missing": [bytes(p[5 + 8 * i : 13 + 8 * i]) for i in range(n)]}


def _dec_share(p):
    _need(p, AGG_SHARE_LEN, "AGG_SHARE")
    return {"share": bytes(p)}


def _dec_recovery(p):
    if len(p) < 62:
        raise ValueError("AGG_RECOVERY too short")
    return {"recovery": bytes(p)}


DECODERS = {
    AGG_ENROLL: decode_agg_enroll,
    AGG_FETCH: decode_fetch,
    AGG_RECOVER: decode_agg_recover,
    AGG_ENROLLED: decode_agg_enrolled,
    AGG_SHARE: _dec_share,
    AGG_RECOVERY: _dec_recovery,
}
