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


# ---- the quick path (jsonio._quick): the plain C parser plus a key count, or _UNSURE
KEYS = ["a", "b", ":", " :", '":', "x:y", "é", "\\", "", "k"]
WS = ["", " ", "\n", "\t ", "\r\n"]


def strict(text):
    """What the strict parse alone gives: ("ok", object) or ("refused", message)."""
    try:
        obj = json.loads(
            text,
            object_pairs_hook=jsonio._pairs,
            parse_int=jsonio._int,
            parse_float=jsonio._float,
            parse_constant=jsonio._constant,
        )
    except (ValueError, RecursionError) as e:
        return ("refused", type(e).__name__)
    return ("ok", obj) if jsonio._depth_ok(obj) else ("refused", "depth")


def canon(obj):
    return json.dumps(obj, ensure_ascii=False)  # keeps order, ints vs floats, nesting


@st.composite
def texts(draw, depth=0):
    """JSON text with duplicate keys allowed, whitespace anywhere JSON allows it, escaped or
    raw non-ASCII, floats, long integers, NaN."""
    ws = lambda: draw(st.sampled_from(WS))  # noqa: E731
    kind = draw(st.sampled_from(["leaf"] * 3 + (["list", "obj", "obj"] if depth < 4 else [])))
    if kind == "leaf":
        leaf = draw(
            st.one_of(
                st.sampled_from(["null", "true", "false", "NaN", "-Infinity", "1.5", "1e400", "-0", "0"]),
                st.integers(-(10**45), 10**45).map(str),
                st.sampled_from(KEYS).flatmap(lambda s: st.booleans().map(lambda a: json.dumps(s, ensure_ascii=a))),
            )
        )
        return leaf
    if kind == "list":
        items = [draw(texts(depth + 1)) for _ in range(draw(st.integers(0, 3)))]
        return "[" + ws() + ("," + ws()).join(items) + ws() + "]"
    pairs = []
    for _ in range(draw(st.integers(0, 4))):
        k = json.dumps(draw(st.sampled_from(KEYS)), ensure_ascii=draw(st.booleans()))
        pairs.append(k + ws() + ":" + ws() + draw(texts(depth + 1)))
    return "{" + ws() + ("," + ws()).join(pairs) + ws() + "}"


@settings(max_examples=1500, deadline=None)
@given(text=texts())
def test_quick_path_is_the_strict_parse_or_steps_aside(text):
    """Whenever the quick path answers, the strict parse accepts the same text and gives the
    same object (order and number types included); whenever the strict parse refuses
    (duplicate keys among them), the quick path steps aside; and loads() is the strict parse."""
    q = jsonio._quick(text)
    ref = strict(text)
    if q is not jsonio._UNSURE:
        assert ref[0] == "ok", (text, ref)
        assert canon(q) == canon(ref[1])
    try:
        got = ("ok", jsonio.loads(text))
    except VeriwattError:
        got = ("refused",)
    assert got[0] == ref[0]
    if got[0] == "ok":
        assert canon(got[1]) == canon(ref[1])


@settings(max_examples=500, deadline=None)
@given(text=texts())
def test_key_marks_c_equals_python(text):
    if jsonio._scan is None:
        pytest.skip("vwcrypto was built without vw_jsonscan.c: only the Python count runs")
    assert jsonio._key_marks(text) == jsonio._key_marks_py(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"a":1,"a":2}',  # plain duplicate
        '{"a":1,"b" :2,"a":3}',  # a key with whitespace before its colon next to a duplicate
        '{"a":1,"a":2,"x":":y"}',  # a string starting with ':' (its opening quote before ':')
        '{"a":1,"a":2,"x":"\\u003a"}',  # an escaped colon
        '{"a":{"b":1,"b":2}}',
        '[{"k":1},{"k":1,"k":1}]',
        '{"a":NaN}',
        '{"a":1e400}',
        '{"a":%s}' % ("9" * 41),
        '{"a":%s}' % ("9" * 5000),
        "[" * 33 + "]" * 33,
    ],
)
def test_quick_path_steps_aside_for_what_the_strict_parse_refuses(text):
    assert jsonio._quick(text) is jsonio._UNSURE
    with pytest.raises(VeriwattError):
        jsonio.loads(text)


def test_quick_path_taken_for_a_bill_like_document():
    doc = {
        "format": "veriwatt-bill/1",
        "created": "2026-12-01T12:00:00Z",
        "commitments": [{"slot": 100 + i, "C": "%x" % (7**40 + i), "sig": "ab" * 32} for i in range(50)],
        "sig_R": ["%x" % (3**90 + i) for i in range(50)],
        "total": 12345678901234567890,
    }
    for text in (json.dumps(doc), json.dumps(doc, separators=(",", ":")), json.dumps(doc, indent=1)):
        got = jsonio._quick(text)
        assert got is not jsonio._UNSURE and canon(got) == canon(doc)
