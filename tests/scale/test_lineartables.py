# SPDX-License-Identifier: MIT
"""bill._powmod_gh (the linear check's g^total and h^R through fixed-base tables) against
Python's pow, for g, h and other bases, exponents at and beyond the tables' 256 bits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veriwatt import bill, fastexp
from vwcore import group as _group

pytestmark = [pytest.mark.scale]

G = _group.DEFAULT


@pytest.mark.skipif(not fastexp.available(), reason="gmpy2 is not installed: the tables need it")
@settings(max_examples=60, deadline=None)
@given(
    b=st.sampled_from([G.g, G.h, 2, G.p - 1, G.g + 1]),
    e=st.one_of(
        st.integers(0, 2**40),
        st.integers(0, G.q - 1),
        st.sampled_from([0, 1, G.q - 1, 2**256 - 1, 2**256, 2**300 + 5]),
    ),
)
def test_powmod_gh_is_pow(b, e):
    assert bill._powmod_gh(G)(b, e, G.p) == pow(b, e, G.p)
    assert bill._powmod_gh(G)(b, e, G.q) == pow(b, e, G.q)  # another modulus: no table
