# SPDX-License-Identifier: MIT
"""jsonio.loads's refusals after its faster hooks (issue 14): duplicate keys found by one
dict() call with the first repeated key named as before, nesting depth walked one level at a
time; checked against straightforward reference implementations on generated documents."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veriwatt import jsonio
from veriwatt.errors import VeriwattError

pytestmark = [pytest.mark.security]


def ref_depth(o) -> int:
    if isinstance(o, dict):
        return 1 + max([ref_depth(v) for v in o.values()] + [0])
    if isinstance(o, list):
        return 1 + max([ref_depth(v) for v in o] + [0])
    return 0


def ref_first_dup(pairs):
    seen = set()
    for k, _ in pairs:
        if k in seen:
            return k
        seen.add(k)
    return None


leaves = st.one_of(st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.text(max_size=4))
docs = st.recursive(
    leaves,
    lambda kids: st.one_of(st.lists(kids, max_size=3), st.dictionaries(st.text(max_size=3), kids, max_size=3)),
    max_leaves=40,
)


def nest(depth: int, inner) -> object:
    for i in range(depth):
        inner = [inner] if i % 2 else {"k": inner, "x": 1}
    return inner


@settings(max_examples=300, deadline=None)
@given(doc=docs, extra=st.integers(0, 40))
def test_depth_check_is_the_reference(doc, extra):
    deep = nest(extra, doc)
    assert jsonio._depth_ok(deep) == (ref_depth(deep) <= jsonio.MAX_DEPTH)
    text = json.dumps(deep)
    if ref_depth(deep) <= jsonio.MAX_DEPTH:
        assert jsonio.loads(text) == deep
    else:
        with pytest.raises(VeriwattError, match="nested deeper than 32 levels"):
            jsonio.loads(text)


def test_depth_limit_exactly():
    assert jsonio.loads("[" * 32 + "]" * 32) is not None
    assert jsonio.loads("[" * 31 + "{}" + "]" * 31) is not None  # an empty object at depth 32
    for text in ("[" * 33 + "]" * 33, '{"a":' * 33 + "1" + "}" * 33, "[" * 32 + "{}" + "]" * 32):
        with pytest.raises(VeriwattError, match="nested deeper"):
            jsonio.loads(text)


@settings(max_examples=300, deadline=None)
@given(keys=st.lists(st.sampled_from(["a", "b", "total", "C", "é", ""]), max_size=8), inner=st.booleans())
def test_duplicate_keys_refused_naming_the_first(keys, inner):
    body = ", ".join('"%s": %d' % (k, i) for i, k in enumerate(keys))
    text = '{"outer": [{%s}]}' % body if inner else "{%s}" % body
    dup = ref_first_dup([(k, 0) for k in keys])
    if dup is None:
        got = jsonio.loads(text)
        obj = got["outer"][0] if inner else got
        assert list(obj.items()) == [(k, i) for i, k in enumerate(keys)]
    else:
        with pytest.raises(VeriwattError, match="duplicate key %s in an object" % repr(dup).replace("\\", "\\\\")):
            jsonio.loads(text)


@pytest.mark.parametrize("text", ['{"a": NaN}', '{"a": -Infinity}', '{"a": 1e400}', '{"a": -1e400}', "[1E999]"])
def test_infinity_refused_by_name_and_by_overflow(text):
    """1e400 is a short, well-formed JSON number that Python reads as infinity: refused like
    Infinity (before: accepted as inf)."""
    with pytest.raises(VeriwattError, match="not a JSON number|too large for a double"):
        jsonio.loads(text)


def test_large_finite_floats_still_read():
    assert jsonio.loads("[1e308, -1.5e-300]") == [1e308, -1.5e-300]
