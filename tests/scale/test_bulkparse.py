# SPDX-License-Identifier: MIT
"""bill.parse_entries / parse_sig_rs decode a bill's columns in bulk (bill._entries_bulk,
_elems_bulk: one bytes.fromhex per column) only when every entry is canonical: on generated
tamperings of one entry (case, leading zeros, whitespace, lengths, values out of range, types,
keys) the answer is the element-by-element parse's, value for value or refusal for refusal."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veriwatt import bill
from veriwatt.errors import VeriwattError
from vwcore import group as _group

pytestmark = [pytest.mark.scale, pytest.mark.security]

G = _group.DEFAULT


def elem_edits():
    return st.sampled_from(
        [
            lambda x: x.upper(),
            lambda x: x[:3].upper() + x[3:],
            lambda x: "0" + x,
            lambda x: "00" + x,
            lambda x: "0" + x[1:],
            lambda x: "0" + x[2:],
            lambda x: "00" + x[2:],
            lambda x: "02",
            lambda x: " " + x,
            lambda x: x[:10] + " " + x[11:],
            lambda x: x + "0",
            lambda x: x[:-1],
            lambda x: x[:-2],
            lambda x: x[:7] + "g" + x[8:],
            lambda x: x[:7] + "\u00e9" + x[8:],
            lambda x: "%x" % G.p,
            lambda x: "%x" % (G.p - 1),
            lambda x: "%x" % (G.p + 2),
            lambda x: "1",
            lambda x: "2",
            lambda x: "0",
            lambda x: "",
            lambda x: "f" * (2 * G.plen),
            lambda x: "f" * (2 * G.plen + 2),
            lambda x: int(x, 16),
            lambda x: None,
            lambda x: [x],
        ]
    )


def sig_edits():
    q = G.q
    return st.sampled_from(
        [
            lambda x: x.upper(),
            lambda x: x[:-1],
            lambda x: x + "0",
            lambda x: " " + x[1:],
            lambda x: "%064x" % q + x[64:],
            lambda x: x[:64] + "%064x" % q,
            lambda x: x[:64] + "%064x" % (q - 1),
            lambda x: "%064x" % (q - 1) + x[64:],
            lambda x: x[:5] + "G" + x[6:],
            lambda x: 5,
        ]
    )


def slot_edits():
    return st.sampled_from(
        [lambda s: True, lambda s: -1, lambda s: 2**32, lambda s: 0xFFFFFFFF, lambda s: float(s), lambda s: str(s)]
    )


def reference(fn, *args):
    """fn with the bulk decoders switched off (the element-by-element parse): value or error."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(bill, "_entries_bulk", lambda cs, G: None)
        m.setattr(bill, "_elems_bulk", lambda xs, G: None)
        try:
            return fn(*args)
        except VeriwattError as e:
            return ("refused", str(e))


def answer(fn, *args):
    try:
        return fn(*args)
    except VeriwattError as e:
        return ("refused", str(e))


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_tampered_commitment_same_answer(day_bill, data):
    b = copy.deepcopy(day_bill)
    cs = b["commitments"]
    i = data.draw(st.integers(0, len(cs) - 1))
    what = data.draw(st.sampled_from(["C", "sig", "slot", "extra key", "missing key", "not a dict", "none"]))
    if what == "C":
        cs[i]["C"] = data.draw(elem_edits())(cs[i]["C"])
    elif what == "sig":
        cs[i]["sig"] = data.draw(sig_edits())(cs[i]["sig"])
    elif what == "slot":
        cs[i]["slot"] = data.draw(slot_edits())(cs[i]["slot"])
    elif what == "extra key":
        cs[i]["R"] = "2"
    elif what == "missing key":
        del cs[i][data.draw(st.sampled_from(["slot", "C", "sig"]))]
    elif what == "not a dict":
        cs[i] = [cs[i]["slot"], cs[i]["C"], cs[i]["sig"]]
    want = reference(bill.parse_entries, b, G)
    assert answer(bill.parse_entries, b, G) == want
    if what == "none":
        assert want == bill._entries_bulk(cs, G)  # the bulk path gave it


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_tampered_sig_r_same_answer(day_bill, data):
    b = copy.deepcopy(day_bill)
    rs = b["sig_R"]
    i = data.draw(st.integers(0, len(rs) - 1))
    if data.draw(st.booleans()):
        rs[i] = data.draw(elem_edits())(rs[i])
        want = reference(bill.parse_sig_rs, b, G, len(rs))
        assert answer(bill.parse_sig_rs, b, G, len(rs)) == want
    else:
        assert bill._elems_bulk(rs, G) == reference(bill.parse_sig_rs, b, G, len(rs))


def test_bulk_is_taken_on_an_honest_bill(day_bill):
    ents = bill._entries_bulk(day_bill["commitments"], G)
    assert ents is not None and [t[0] for t in ents] == [c["slot"] for c in day_bill["commitments"]]
    assert bill._elems_bulk(day_bill["sig_R"], G) == [int(x, 16) for x in day_bill["sig_R"]]
    assert bill._elems_bulk([], G) == [] and bill.parse_sig_rs({"sig_R": []}, G, 0) == []
