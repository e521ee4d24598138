# SPDX-License-Identifier: MIT
"""The aggregation wire messages (vwcore.wire) and the meter-side streamed enrollment
(vwcore.agg.EnrollBuilder, PackedEnrollment): same bytes as Enrollment.create."""

import pytest

from toygroup import TOY
from vwcore import agg, aggwire, group, wire

pytestmark = [pytest.mark.aggregation]


def _members(n, G):
    xs = [agg.secret_scalar(b"s%d" % i, G) for i in range(n)]
    ids = [b"MTR%05d" % (n - i) for i in range(n)]  # not in id order
    return xs, ids, [(mid, agg.public_key(x, G)) for mid, x in zip(ids, xs)]


def test_builder_matches_create_and_packed_shares_match():
    G = TOY
    xs, ids, mem = _members(6, G)
    ya = agg.public_key(agg.secret_scalar(b"agg", G), G)
    for k in range(6):
        e = agg.Enrollment.create(xs[k], ids[k], b"feeder", mem, ya, G)
        b = agg.EnrollBuilder(xs[k], ids[k], b"feeder", ya, 6, G)
        for mid, y in sorted(mem):
            b.add(mid, y)
        blob = b.finish()
        assert blob == e.to_bytes() and len(blob) == 58 + 41 * 5
        p = agg.PackedEnrollment(blob)
        assert p.share(9, 1234) == e.share(9, 1234)
        assert p.reduced_share(9, 1234, [ids[(k + 2) % 6]]) == e.reduced_share(9, 1234, [ids[(k + 2) % 6]])
        assert b.ghash[:16] == e.gid


def test_builder_rejects_bad_lists():
    G = TOY
    xs, ids, mem = _members(3, G)
    ya = agg.public_key(7, G)
    s = sorted(mem)
    b = agg.EnrollBuilder(xs[0], ids[0], b"l", ya, 3, G)
    b.add(*s[1])
    with pytest.raises(agg.AggError, match="increasing"):
        b.add(*s[0])
    b = agg.EnrollBuilder(xs[0], ids[0], b"l", ya, 3, G)
    for m in s[:2]:
        b.add(*m)
    with pytest.raises(agg.AggError, match="announced"):
        b.finish()
    with pytest.raises(agg.AggError, match="at least 3 members"):
        agg.EnrollBuilder(xs[0], ids[0], b"l", ya, 2, G)
    xs4, ids4, mem4 = _members(4, G)
    b = agg.EnrollBuilder(xs4[0], ids4[0], b"l", ya, 3, G)
    others = sorted(m for m in mem4 if m[0] != ids4[0])
    with pytest.raises(agg.AggError, match="not in the group"):
        for m in others:
            b.add(*m)
        b.finish()
    b = agg.EnrollBuilder(xs[0], ids[0], b"l", ya, 3, G)
    with pytest.raises(agg.AggError, match="another public key"):
        b.add(ids[0], G.g)


def test_messages_round_trip():
    G = group.get(None)
    p = aggwire.encode_agg_begin(G.id, b"feeder 7", G.g, 50, 500, 2000)
    d = wire.decode_payload(wire.AGG_ENROLL, p)
    assert (d["op"], d["group_id"], d["n_members"], d["eps_milli"], d["sensitivity_wh"], d["label"], d["agg_pub"]) == (
        wire.AGG_OP_BEGIN,
        G.id,
        50,
        500,
        2000,
        b"feeder 7",
        G.g,
    )
    k = aggwire.agg_members_per_frame(G.id)
    assert k == 3
    mem = [(b"M%07d" % i, G.g + i) for i in range(k)]
    f = wire.encode_frame(wire.AGG_ENROLL, 1, aggwire.encode_agg_members(G.id, 6, mem))
    (fr,) = wire.Decoder().feed(f)
    d = wire.decode_payload(fr.mtype, fr.payload)
    assert d["first_index"] == 6 and aggwire.split_agg_members(d["raw"], G.id) == mem
    with pytest.raises(ValueError):
        aggwire.encode_agg_members(G.id, 0, mem + mem[:1])  # over MAX_PAYLOAD
    assert wire.decode_payload(wire.AGG_ENROLL, aggwire.encode_agg_commit(b"T" * 16)) == {
        "op": wire.AGG_OP_COMMIT,
        "tag": b"T" * 16,
    }
    with pytest.raises(ValueError):
        wire.decode_payload(wire.AGG_ENROLL, bytes((wire.AGG_OP_COMMIT,)))  # untagged COMMIT
    ids = [b"AAAAAAAA", b"BBBBBBBB"]
    assert wire.decode_payload(wire.AGG_RECOVER, aggwire.encode_agg_recover(99, ids)) == {"slot": 99, "missing": ids}
    assert wire.decode_payload(wire.AGG_ENROLLED, aggwire.encode_agg_enrolled(bytes(range(16)), 4)) == {
        "gid": bytes(range(16)),
        "n_members": 4,
    }
    for bad_type, bad in (
        (wire.AGG_ENROLL, b"\x09"),
        (wire.AGG_ENROLL, p[:-1]),
        (wire.AGG_RECOVER, b"\0\0\0\1\2" + ids[0]),
        (wire.AGG_SHARE, bytes(59)),
        (wire.AGG_ENROLL, b""),
    ):
        with pytest.raises(ValueError):
            wire.decode_payload(bad_type, bad)
    with pytest.raises(ValueError):
        aggwire.encode_agg_begin(G.id, b"", G.g, 3)
    with pytest.raises(ValueError):
        aggwire.encode_agg_begin(G.id, b"x", G.g, 2)


def test_new_types_do_not_collide():
    from vwcore import meterbill  # noqa: F401  (registers the meter billing type names: 4 more)

    names = [k for k in dir(wire) if k.isupper() and isinstance(getattr(wire, k), int)]
    types = [getattr(wire, k) for k in wire.TYPE_NAMES.values()]
    assert len(set(types)) == len(types) == 21
    assert len({getattr(wire, k) for k in names if k.startswith("E_")}) == len([k for k in names if k.startswith("E_")])
