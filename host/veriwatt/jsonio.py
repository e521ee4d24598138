# SPDX-License-Identifier: MIT
"""Strict JSON files: the one place veriwatt reads and writes its JSON files (docs/FORMATS.md,
section "Encodings and limits").

Reading (`load`, `loads`) refuses, with a one-line VeriwattError (exit 2), before any
signature or proof is looked at:

- a file larger than the cap for its kind (CAPS; checked with fstat before reading a byte),
- text that is not UTF-8 or not JSON (RFC 8259), NaN/Infinity (also by overflow: 1e400), duplicate object keys
  (RFC 8259 leaves them undefined; Python would keep the last one),
- nesting deeper than MAX_DEPTH, integer literals longer than MAX_INT_DIGITS digits,
  number literals with a fraction or exponent longer than MAX_NUMBER_CHARS.

Values inside a file have exactly one accepted encoding each; the strict decoders below
turn a JSON value into a Python value or refuse it:

- `integer(v, where, lo, hi)`: a JSON integer (not a boolean, not a float) in [lo, hi];
- `hex_int(s, where, nbytes)`: lowercase hex digits only (no `0x`, no sign, no `_`, no
  spaces); with nbytes exactly 2*nbytes digits (leading zeros included), without nbytes the
  minimal form ("%x": no leading zero, "0" for zero);
- `hex_bytes(s, where, nbytes)`: exactly 2*nbytes lowercase hex digits;
- `b64(s, where)`: standard base64 (RFC 4648 sec. 4) with padding, canonical: decoding and
  re-encoding gives back the same text (no whitespace, no stray or missing padding, unused
  bits zero);
- `scalar(s, G, where)`: 64 hex digits (hex_int with the group's qlen), value in [0, q);
- `element(s, G, where)`: minimal hex, 1 < x < p and, unless member=False, x^q = 1 mod p.

Writing (`write`) goes through a temporary file in the same folder and os.replace, so a
reader never sees half a file; private files (secret keys) are created with mode 0600 from
the start (tempfile.mkstemp uses O_CREAT|O_EXCL and 0600) and never exist readable by others.
`create_private` makes a NEW private file (os.open with O_EXCL and mode 0600), never replacing one.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import tempfile
from itertools import chain
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from .errors import VeriwattError

MiB = 1 << 20
# Largest file accepted per kind, checked before reading (docs/FORMATS.md explains the margins):
# the largest legitimate bill is a step-tariff bill with its zero-knowledge proof (19.4 MB for
# a month in the 2048-bit group, about 28 MB in the 3072-bit group) or a linear bill over the
# longest allowed period (five years: about 62 MB in 2048, 79 MB in 3072).
CAPS: Dict[str, int] = {
    "bill": 96 * MiB,
    "disclosure": 96 * MiB,
    "tariff": 1 * MiB,
    "key": 64 * 1024,
    "trust": 1 * MiB,
    "profiles": 8 * MiB,  # a year of 16 categories of 5-digit weights: about 1.6 MB
    "scores": 48 * MiB,  # a year: commitments (~22 MB hex) plus squares and proof (~10 MB base64)
    "beacon": 64 * 1024,
}
DEFAULT_CAP = 16 * MiB
MAX_DEPTH = 32
MAX_INT_DIGITS = 40  # a bill total is at most ~20 digits; 40 leaves room, a 100000-digit number does not
MAX_NUMBER_CHARS = 40

_HEX = re.compile(r"[0-9a-f]+\Z")


class _Refused(ValueError):
    """Raised inside the JSON parser hooks; turned into a VeriwattError naming the file."""


def cap_for(kind: str) -> int:
    return CAPS.get(kind, DEFAULT_CAP)


def _pairs(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    d: Dict[str, Any] = dict(pairs)
    if len(d) == len(pairs):  # no key twice (the common case, in C); else name the first repeated one
        return d
    d = {}
    for k, v in pairs:
        if k in d:
            raise _Refused("duplicate key %r in an object (each key may appear once)" % k[:40])
        d[k] = v
    return d


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused("an integer of %d digits (at most %d allowed)" % (len(text.lstrip("-")), MAX_INT_DIGITS))
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused("a number of %d characters (at most %d allowed)" % (len(text), MAX_NUMBER_CHARS))
    v = float(text)
    if v in (_INF, -_INF):  # 1e400: not Infinity by name, but the same
        raise _Refused("the number %s is too large for a double" % text)
    return v


_INF = float("inf")


def _constant(text: str) -> Any:
    raise _Refused("%s is not a JSON number" % text)


def _depth_ok(obj: Any) -> bool:
    """No object or array nested deeper than MAX_DEPTH (the top level is depth 1): walked one
    level at a time (the parser makes exactly dict and list), each level's values gathered and
    their types collected in C; a level is filtered value by value only when it mixes
    containers with other values."""
    level = [obj] if type(obj) in (dict, list) else []
    d = 1
    while level:
        if d > MAX_DEPTH:
            return False
        vals = list(chain.from_iterable([o.values() if type(o) is dict else o for o in level]))
        types = set(map(type, vals))
        if dict not in types and list not in types:
            return True
        level = vals if types <= _CONTAINERS else [v for v in vals if type(v) is dict or type(v) is list]
        d += 1
    return True


_CONTAINERS = {dict, list}


def loads(text: str, what: str = "JSON", where: str = "input") -> Any:
    """Parse JSON text strictly (no duplicate keys, bounded numbers and depth)."""
    try:
        obj = json.loads(text, object_pairs_hook=_pairs, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except _Refused as e:
        raise VeriwattError("%s file %s refused: %s" % (what, where, e))
    except json.JSONDecodeError as e:
        raise VeriwattError(
            "%s file %s is not valid JSON: %s (line %d, column %d)" % (what, where, e.msg, e.lineno, e.colno)
        )
    except RecursionError:
        raise VeriwattError("%s file %s refused: nested deeper than %d levels" % (what, where, MAX_DEPTH))
    if not _depth_ok(obj):
        raise VeriwattError("%s file %s refused: nested deeper than %d levels" % (what, where, MAX_DEPTH))
    return obj


def read_bytes(path: str, what: str, kind: Optional[str] = None) -> bytes:
    """A file's bytes within the size cap of its kind (CAPS key, default: `what`), refused before
    reading when larger; one-line errors naming the file."""
    cap = cap_for(kind or what)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > cap:
                raise VeriwattError(
                    "%s file %s refused before reading: %d bytes, more than the %d-byte cap for a %s "
                    "(docs/FORMATS.md)" % (what, path, size, cap, kind or what)
                )
            data = f.read(cap + 1)
    except FileNotFoundError:
        raise VeriwattError("%s file %s not found" % (what, path))
    except IsADirectoryError:
        raise VeriwattError("%s path %s is a folder, not a file" % (what, path))
    except OSError as e:
        raise VeriwattError("cannot read %s file %s: %s" % (what, path, e.strerror or e))
    if len(data) > cap:
        raise VeriwattError("%s file %s refused: more than the %d-byte cap for a %s" % (what, path, cap, kind or what))
    return data


def load(path: str, what: str, kind: Optional[str] = None) -> Any:
    """Read a JSON file of a kind (CAPS key, default: `what`); one-line errors naming the file."""
    data = read_bytes(path, what, kind)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise VeriwattError("%s file %s is not UTF-8 text (is it the right file?)" % (what, path))
    return loads(text, what, path)


def write(path: str, obj: Any, private: bool = False) -> None:
    """Write obj as indented JSON, atomically; private: mode 0600 from creation (secrets)."""
    p = Path(path)
    if str(p.parent) and not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + p.name + ".", suffix=".tmp", dir=str(p.parent))
    try:
        if not private:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(obj, indent=1) + "\n")
        os.replace(tmp, str(p))
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def create_private(path: str, obj: Any) -> None:
    """Write obj as JSON to a NEW file created with mode 0600 (os.open O_CREAT|O_EXCL with the mode:
    never readable by others, not even for an instant, whatever the umask); an existing file is
    never overwritten (VeriwattError). For credentials that must not replace an older one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise VeriwattError("%s exists already: move it away or choose another name" % path)
    except OSError as e:
        raise VeriwattError("cannot create %s: %s" % (path, e.strerror))
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(obj, indent=1) + "\n")
        f.flush()
        os.fsync(f.fileno())


# ------------------------------------------------------------------ strict value decoders
def _err(where: str, msg: str) -> VeriwattError:
    return VeriwattError("%s %s" % (where, msg))


def integer(v: Any, where: str, lo: Optional[int] = None, hi: Optional[int] = None) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise _err(where, "must be a JSON integer")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise _err(where, "= %d is out of range [%s, %s]" % (v, lo, hi))
    return v


def hex_int(s: Any, where: str, nbytes: Optional[int] = None) -> int:
    """Lowercase hex: exactly 2*nbytes digits, or (nbytes None) the minimal form like "%x"."""
    if type(s) is str and s.isascii():  # fast path: s is canonical iff it is its value's own encoding
        try:  # (int(s, 16) is ten times slower on 512 digits; fromhex skips spaces: the comparison catches them)
            x = int.from_bytes(bytes.fromhex(s if len(s) % 2 == 0 else "0" + s), "big")
        except ValueError:
            x = -1
        if x >= 0 and (s == "%x" % x if nbytes is None else len(s) == 2 * nbytes and s == "%0*x" % (2 * nbytes, x)):
            return x
    if not isinstance(s, str) or not _HEX.match(s):
        raise _err(where, "must be lowercase hexadecimal digits (0-9a-f, no prefix, sign or spaces)")
    if nbytes is not None:
        if len(s) != 2 * nbytes:
            raise _err(where, "must be exactly %d hex digits (got %d)" % (2 * nbytes, len(s)))
    elif len(s) > 1 and s[0] == "0":
        raise _err(where, "must be minimal hex without leading zeros")
    return int(s, 16)


def hex_bytes(s: Any, where: str, nbytes: int) -> bytes:
    hex_int(s, where, nbytes)
    return bytes.fromhex(s)


def b64(s: Any, where: str, max_len: Optional[int] = None) -> bytes:
    """Canonical standard base64 with padding (RFC 4648 sec. 4)."""
    if not isinstance(s, str):
        raise _err(where, "must be a base64 string")
    if max_len is not None and len(s) > max_len:
        raise _err(where, "is longer than %d characters" % max_len)
    try:
        raw = s.encode("ascii")
        data = base64.b64decode(raw, validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise _err(where, "is not valid base64")
    if base64.b64encode(data) != raw:
        raise _err(where, "is not canonical base64 (padding, or unused bits not zero)")
    return data


def scalar(s: Any, G: Any, where: str) -> int:
    x = hex_int(s, where, G.qlen)
    if x >= G.q:
        raise _err(where, "is not a scalar: it must be less than the group order q")
    return x


def element(s: Any, G: Any, where: str, member: bool = True) -> int:
    """A group element: minimal hex, 1 < x < p, and (member) in the order-q subgroup."""
    from vwcore import group as _group

    if isinstance(s, str) and len(s) > 2 * G.plen:
        raise _err(where, "is longer than %d hex digits" % (2 * G.plen))
    x = hex_int(s, where)
    if not 1 < x < G.p:
        raise _err(where, "is not a group element: it must be in (1, p)")
    if member and not _group.is_element(x, G):
        raise _err(where, "is not in the order-q subgroup")
    return x


def only_keys(d: Any, where: str, required: Any, optional: Any = ()) -> Dict[str, Any]:
    """d must be a JSON object with every key of `required` and no key outside required+optional."""
    if not isinstance(d, dict):
        raise _err(where, "must be a JSON object")
    missing = [k for k in required if k not in d]
    if missing:
        raise _err(where, "lacks field(s) %s" % ", ".join(missing))
    extra = sorted(set(d) - set(required) - set(optional))
    if extra:
        raise _err(
            where,
            "has unknown field(s) %s (refused: every field must be checked)" % ", ".join(x[:40] for x in extra[:5]),
        )
    return d
