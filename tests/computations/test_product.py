# SPDX-License-Identifier: MIT
"""Product and square proofs (veriwatt.zk.product): completeness and soundness properties
(hypothesis, on a small insecure group for speed), then the real 2048-bit group."""

from __future__ import annotations

import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veriwatt.zk import ProofError, groups, product

pytestmark = pytest.mark.computations

TOY = groups.toy_group(512, 160, seed=3)
values = st.integers(min_value=0, max_value=65535)
rands = st.integers(min_value=1, max_value=TOY.q - 1)  # r = 0 with m = 0 gives the identity (refused)


@settings(max_examples=40, deadline=None)
@given(m=values, r=rands, s=rands, ctx=st.binary(max_size=40))
def test_square_complete(m, r, s, ctx):
    C = TOY.commit(m, r)
    S = TOY.commit(m * m, s)
    product.verify_square(C, S, product.prove_square(C, m, r, S, s, ctx, TOY), ctx, TOY)


@pytest.mark.security
@settings(max_examples=40, deadline=None)
@given(m=values, r=rands, s=rands, d=st.integers(min_value=1, max_value=1 << 40))
def test_square_sound_against_a_wrong_square(m, r, s, d):
    """S commits to m^2 + d: the prover's algorithm (any t it can compute) gives a proof that
    fails, and neither the honest proof for the real square nor the wrong one pass for S."""
    C = TOY.commit(m, r)
    bad = TOY.commit(m * m + d, s)
    proof = product.prove_square(C, m, r, bad, s, b"", TOY)
    with pytest.raises(ProofError):
        product.verify_square(C, bad, proof, b"", TOY)
    good = TOY.commit(m * m, s)
    honest = product.prove_square(C, m, r, good, s, b"", TOY)
    with pytest.raises(ProofError):
        product.verify_square(C, bad, honest, b"", TOY)


@pytest.mark.security
@settings(max_examples=25, deadline=None)
@given(m=values, r=rands, s=rands, ctx=st.binary(min_size=1, max_size=20))
def test_square_bound_to_context_and_commitment(m, r, s, ctx):
    C = TOY.commit(m, r)
    S = TOY.commit(m * m, s)
    proof = product.prove_square(C, m, r, S, s, ctx, TOY)
    with pytest.raises(ProofError):
        product.verify_square(C, S, proof, ctx + b"x", TOY)
    C2 = TOY.commit(m + 1, r)  # another commitment the same S is not the square of
    with pytest.raises(ProofError):
        product.verify_square(C2, S, proof, ctx, TOY)


@settings(max_examples=30, deadline=None)
@given(m1=values, m2=values, r1=rands, r2=rands, r3=rands, d=st.integers(min_value=0, max_value=3))
def test_product_complete_and_sound(m1, m2, r1, r2, r3, d):
    C1, C2 = TOY.commit(m1, r1), TOY.commit(m2, r2)
    C3 = TOY.commit(m1 * m2 + d, r3)
    proof = product.prove_product(C1, m1, r1, C2, m2, r2, C3, r3, b"ctx", TOY)
    if d == 0:
        product.verify_product(C1, C2, C3, proof, b"ctx", TOY)
    else:
        with pytest.raises(ProofError):
            product.verify_product(C1, C2, C3, proof, b"ctx", TOY)


@pytest.mark.security
def test_malformed_square_proofs_refused():
    G = groups.default_group()
    m, r = 1234, secrets.randbelow(G.q)
    C = G.commit(m, r)
    S, s = product.square_commit(m, G)
    proof = product.prove_square(C, m, r, S, s, b"meter", G)
    product.verify_square(C, S, proof, b"meter", G)
    assert len(proof) == 6 + 4 * G.qlen
    bad = [
        proof[:-1],
        proof + b"\0",  # truncated, trailing bytes
        proof[:6] + G.q.to_bytes(G.qlen, "big") + proof[6 + G.qlen :],  # a scalar >= q
        proof[:5] + bytes([product.KIND_PRODUCT]) + proof[6:],  # another kind of proof
        proof[:-1] + bytes([proof[-1] ^ 1]),
    ]  # one response changed
    for b in bad:
        with pytest.raises(ProofError):
            product.verify_square(C, S, b, b"meter", G)
    with pytest.raises(ProofError, match="subgroup"):
        product.verify_square(C, G.p - 1, proof, b"meter", G)  # -1 has order 2: not a member
