# SPDX-License-Identifier: MIT
"""Transcript, Sigma toolkit (opening, equality, one-of, range): completeness, soundness in
practice, transcript binding, malformed input."""

from __future__ import annotations

import secrets

import pytest
from hypothesis import given, settings, strategies as st

from veriwatt.zk import basic, range as zrange
from veriwatt.zk.encoding import ProofError
from veriwatt.zk.transcript import Transcript

from zkfixtures import lying, real, tiny, toy  # noqa: F401  (fixtures)

pytestmark = pytest.mark.zk
FAST = settings(max_examples=25, deadline=None)


def test_transcript_is_injective_and_domain_separated(toy):
    def ch(*items, proto=b"p"):
        t = Transcript(proto)
        for lab, d in items:
            t.absorb(lab, d)
        return t.challenge(b"c", toy.q)

    base = ch((b"a", b"bc"))
    assert base == ch((b"a", b"bc"))
    assert base != ch((b"a", b"b"), (b"", b"c"))
    assert base != ch((b"ab", b"c"))
    assert base != ch((b"a", b"bc"), proto=b"q")
    t = Transcript(b"p")
    c1, c2 = t.challenge(b"c", toy.q), t.challenge(b"c", toy.q)
    assert c1 != c2 and 0 <= c1 < toy.q and 0 <= c2 < toy.q


def test_signed_and_element_absorption_distinct(toy):
    a, b = Transcript(b"x"), Transcript(b"x")
    a.absorb_signed(b"n", 5)
    b.absorb_signed(b"n", -5)
    assert a.challenge(b"c", toy.q) != b.challenge(b"c", toy.q)


@FAST
@given(m=st.integers(0, 2**40), ctx=st.binary(max_size=16))
def test_opening_complete(toy, m, ctx):
    r = secrets.randbelow(toy.q)
    C = toy.commit(m, r)
    basic.verify_opening(C, basic.prove_opening(C, m, r, ctx, toy), ctx, toy)


def test_opening_needs_opening(toy, lying):
    C = toy.commit(3, 4)
    pr = basic.prove_opening(C, 3, 5, b"", toy)  # wrong r
    with pytest.raises(ProofError):
        basic.verify_opening(C, pr, b"", toy)


@FAST
@given(m=st.integers(0, 2**20))
def test_equal_complete_and_sound(toy, m):
    r1, r2 = secrets.randbelow(toy.q), secrets.randbelow(toy.q)
    C1, C2 = toy.commit(m, r1), toy.commit(m, r2)
    basic.verify_equal(C1, C2, basic.prove_equal(C1, r1, C2, r2, grp=toy), grp=toy)
    C3 = toy.commit(m + 1, r2)
    with pytest.raises(ProofError):  # honest algebra on unequal values cannot verify
        basic.verify_equal(C1, C3, basic.prove_equal(C1, r1, C3, r2, grp=toy), grp=toy)


@FAST
@given(vals=st.lists(st.integers(0, 1000), min_size=1, max_size=6, unique=True), data=st.data())
def test_one_of_complete(toy, vals, data):
    m = data.draw(st.sampled_from(vals))
    r = secrets.randbelow(toy.q)
    C = toy.commit(m, r)
    basic.verify_one_of(C, vals, basic.prove_one_of(C, m, r, vals, grp=toy), grp=toy)


def test_one_of_lying(toy, lying):
    C = toy.commit(7, 9)
    pr = basic.prove_one_of(C, 7, 9, [1, 2, 3], grp=toy)
    with pytest.raises(ProofError):
        basic.verify_one_of(C, [1, 2, 3], pr, grp=toy)


@pytest.mark.parametrize("w", [1, 2, 3, 5, 8, 9, 100, 1000, 65536])
def test_coefficients_cover_exactly(w):
    co = zrange.coefficients(w)
    reach = {0}
    for c in co:
        reach |= {x + c for x in reach}
    assert reach == set(range(w))
    for v in (0, w - 1, w // 2):
        assert sum(c * b for c, b in zip(co, zrange.decompose(v, w))) == v
        plan = zrange.digits_plan(w)
        ds = zrange.digits(v, w)
        assert sum(c * d for (c, _), d in zip(plan, ds)) == v
        assert all(0 <= d < n for (_, n), d in zip(plan, ds))
    reach = {0}
    for c, n in zrange.digits_plan(w):
        reach = {x + c * d for x in reach for d in range(n)}
    assert reach == set(range(w))


@FAST
@given(w=st.integers(1, 2**24), data=st.data())
def test_range_complete(toy, w, data):
    v = data.draw(st.integers(0, w - 1))
    r = secrets.randbelow(toy.q)
    C = toy.commit(v, r)
    pr = basic.prove_range(C, v, r, w, b"ctx", toy)
    basic.verify_range(C, w, pr, b"ctx", toy)
    assert len(pr) == 6 + zrange.proof_size(w, toy.plen, toy.qlen) + toy.qlen


def test_range_honest_prover_refuses_out_of_range(toy):
    with pytest.raises(ValueError):
        basic.prove_range(toy.commit(8, 1), 8, 1, 8, grp=toy)


@pytest.mark.parametrize("v,w", [(8, 8), (100, 8), (-1, 8), (2**20, 2**16), (1, 1)])
def test_range_lying_prover_rejected(toy, lying, v, w):
    r = secrets.randbelow(toy.q)
    C = toy.commit(v, r)
    pr = basic.prove_range(C, v, r, w, grp=toy)
    with pytest.raises(ProofError):
        basic.verify_range(C, w, pr, grp=toy)


def test_range_binding_to_width_and_context(toy):
    r = secrets.randbelow(toy.q)
    C = toy.commit(5, r)
    pr = basic.prove_range(C, 5, r, 16, b"a", toy)
    basic.verify_range(C, 16, pr, b"a", toy)
    for args in [(C, 16, pr, b"b"), (C, 17, pr, b"a"), (toy.commit(5, r + 1), 16, pr, b"a")]:
        with pytest.raises(ProofError):
            basic.verify_range(*args, grp=toy)


def test_every_byte_flip_rejected_range(tiny):
    r = secrets.randbelow(tiny.q)
    C = tiny.commit(11, r)
    pr = basic.prove_range(C, 11, r, 13, grp=tiny)
    basic.verify_range(C, 13, pr, grp=tiny)
    for i in range(len(pr)):
        for mask in (0x01, 0x80):
            bad = bytearray(pr)
            bad[i] ^= mask
            with pytest.raises(ProofError):
                basic.verify_range(C, 13, bytes(bad), grp=tiny)


def test_malformed(toy):
    r = secrets.randbelow(toy.q)
    C = toy.commit(1, r)
    pr = basic.prove_opening(C, 1, r, grp=toy)
    qlen, plen = toy.qlen, toy.plen
    bad_inputs = [
        pr[:-1],
        pr + b"\x00",
        b"",
        b"XXXX" + pr[4:],
        pr[:4] + b"\x02" + pr[5:],
        pr[:5] + b"\x02" + pr[6:],  # other kind
        pr[:6] + toy.q.to_bytes(qlen, "big") + pr[6 + qlen :],  # e = q
        pr[:-qlen] + (toy.q + 1).to_bytes(qlen, "big"),  # response >= q
        "not bytes",
    ]
    for b in bad_inputs:
        with pytest.raises(ProofError):
            basic.verify_opening(C, b, grp=toy)
    for badC in (0, 1, toy.p - 1, toy.p, toy.p + 1, 2, -C, True):
        with pytest.raises(ProofError):
            basic.verify_opening(badC, pr, grp=toy)
    # an element field that is not in the subgroup (range proof bit commitment)
    rp = basic.prove_range(C, 1, r, 4, grp=toy)
    for x in (0, 1, toy.p - 1, toy.p):
        bad = rp[:6] + x.to_bytes(plen, "big") + rp[6 + plen :]
        with pytest.raises(ProofError):
            basic.verify_range(C, 4, bad, grp=toy)


def test_real_group_opening_and_range(real):
    r = secrets.randbelow(real.q)
    C = real.commit(1234, r)
    basic.verify_opening(C, basic.prove_opening(C, 1234, r), grp=None)
    pr = basic.prove_range(C, 1234, r, 1 << 16, grp=real)
    basic.verify_range(C, 1 << 16, pr, grp=real)
    assert len(pr) == 6 + 9 * 256 + (7 * 7 + 2 * 3) * 32 + 32 == 4102


def test_malformed_statement_parameters(toy):
    r = secrets.randbelow(toy.q)
    C = toy.commit(1, r)
    pr = basic.prove_range(C, 1, r, 4, grp=toy)
    for w in (0, -1, 1 << 200, 4.0, None):
        with pytest.raises(ProofError):
            basic.verify_range(C, w, pr, grp=toy)
    po = basic.prove_one_of(C, 1, r, [1, 2], grp=toy)
    for vals in ([], [-1, 1], [1.0], None):
        with pytest.raises(ProofError):
            basic.verify_one_of(C, vals, po, grp=toy)
