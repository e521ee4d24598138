# SPDX-License-Identifier: MIT
"""veriwatt.cchal (a bill's Schnorr challenges in C, crypto_c/cpython/vw_challenges.c) against
Python's hashlib and integer reduction on generated inputs, and against batchverify's hashlib
path on a real bill's records with each field of one record tampered (first, middle, last)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veriwatt import batchverify, bill, cchal
from vwcore import group as _group

pytestmark = [pytest.mark.scale]

Q = _group.DEFAULT.q


def test_built_with_the_c_function():
    # tools/setup installs libssl-dev: without it batchverify hashes through hashlib
    assert cchal.available(), "vwcrypto was built without vw_challenges: rerun bash tools/setup"


def _hashes(pre0, pre1, mid, rs, slots, cs, elen):
    out = []
    for t in range(len(slots) // 4):
        tail = rs[t * elen : (t + 1) * elen] + mid + slots[4 * t : 4 * t + 4] + cs[t * elen : (t + 1) * elen]
        out.append(hashlib.sha256(pre0 + tail).digest() + hashlib.sha256(pre1 + tail).digest())
    return out


@st.composite
def inputs(draw):
    plen = draw(st.integers(0, 200))
    pre0, pre1 = draw(st.binary(min_size=plen, max_size=plen)), draw(st.binary(min_size=plen, max_size=plen))
    mid = draw(st.binary(max_size=300))
    elen = draw(st.sampled_from([1, 2, 31, 32, 33, 64, 255, 256]))
    n = draw(st.integers(0, 12))
    rs, cs = (
        draw(st.binary(min_size=n * elen, max_size=n * elen)),
        draw(st.binary(min_size=n * elen, max_size=n * elen)),
    )
    slots = draw(st.binary(min_size=4 * n, max_size=4 * n))
    return pre0, pre1, mid, rs, slots, cs, elen


@settings(max_examples=200, deadline=None)
@given(args=inputs())
def test_digests_are_hashlib_sha256(args):
    want = _hashes(*args)
    assert cchal.digests(*args) == b"".join(want)


@settings(max_examples=200, deadline=None)
@given(
    args=inputs(),
    q=st.one_of(st.sampled_from([Q, 1, 2, 3, 2**255 + 95, 2**512 - 1]), st.integers(1, 2**512 - 1)),
    data=st.data(),
)
def test_first_mismatch_is_python_reduction(args, q, data):
    hs = [int.from_bytes(d, "big") % q for d in _hashes(*args)]
    n = len(hs)
    es = list(hs)
    bad = data.draw(st.one_of(st.none(), st.integers(0, max(0, n - 1)))) if n else None
    if bad is not None:
        es[bad] = data.draw(st.integers(0, q - 1).filter(lambda e: e != hs[bad])) if q > 1 else None
        if es[bad] is None:  # q == 1: every challenge is 0, nothing can differ
            es[bad], bad = 0, None
    qlen = (q.bit_length() + 7) // 8
    eb = b"".join(e.to_bytes(qlen, "big") for e in es)
    assert cchal.first_mismatch(*args, eb, q) == (n if bad is None else bad)


def test_refuses_inconsistent_lengths():
    with pytest.raises(ValueError):
        cchal.first_mismatch(b"a", b"ab", b"", b"", b"", b"", 32, b"", Q)
    with pytest.raises(ValueError):
        cchal.first_mismatch(b"", b"", b"", b"x" * 31, b"\0" * 4, b"x" * 32, 32, b"\0" * 32, Q)
    with pytest.raises(ValueError):
        cchal.first_mismatch(b"", b"", b"", b"x" * 32, b"\0" * 4, b"x" * 32, 32, b"\0" * 31, Q)
    with pytest.raises(ValueError):  # q of more than 512 bits: the C code's limit
        cchal.first_mismatch(b"", b"", b"", b"", b"", b"", 32, b"", 2**512)


@pytest.mark.security
@pytest.mark.parametrize("where", [0, "mid", -1])
@pytest.mark.parametrize("field", ["slot", "C", "e", "R"])
def test_tampered_record_same_answer_as_hashlib(day_bill, day_meter, monkeypatch, where, field):
    """records_ok with the C challenges refuses exactly what the hashlib path refuses: a
    record with its slot, commitment, challenge or R_t changed (a valid element still)."""
    G = _group.DEFAULT
    entries = bill.parse_entries(day_bill, G)
    rs = bill.parse_sig_rs(day_bill, G, len(entries))
    chk = batchverify.FastChecker.from_pub(day_meter.pub)
    k = len(entries) // 2 if where == "mid" else where
    slot, C, e, s = entries[k]
    ents, rr = list(entries), list(rs)
    if field == "slot":
        ents[k] = (slot ^ 1, C, e, s)
    elif field == "C":
        ents[k] = (slot, C * G.g % G.p, e, s)
    elif field == "e":
        ents[k] = (slot, C, (e + 1) % G.q, s)
    else:
        rr[k] = rr[k] * G.g % G.p
    answers = []
    for on in (True, False):
        monkeypatch.setattr(batchverify, "USE_C_HASH", on)
        answers.append((chk.records_ok(entries, rs), chk.records_ok(ents, rr)))
    assert answers[0] == answers[1] == (True, False)
