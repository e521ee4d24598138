# SPDX-License-Identifier: MIT
"""A bill's hex columns checked and decoded in one call each (issue 14).

    available() -> bool                        vwcrypto was built with vw_billhex.c
    elems(xs, width, p) -> (be, le) or None    group elements (commitments' C, `sig_R`)
    sigs(xs, qlen, q) -> (es, ss) or None      signatures e || s
    weighted_sum(w, v, width) -> int           sum of w_t * v_t (the batch test's sums)

`elems` and `sigs` answer only when EVERY entry is in its one canonical encoding
(docs/FORMATS.md): an element is minimal lowercase hex ("%x": no leading zero, no upper case,
no whitespace, no sign, ASCII only) with 1 < x < p; a signature exactly 4 * qlen lowercase hex
digits e || s with e, s < q. Otherwise they return None and the caller parses the list element
by element (bill.parse_entries, bill.parse_sig_rs), which names what is wrong. The values come
back packed, as the C challenges (veriwatt.cchal) and the C multi-exponentiation
(veriwatt.cmexp.multiexp_packed) read them: width bytes per value, big-endian (`be`, `es`,
`ss`) and little-endian (`le`), without one Python integer per value.

The C code (crypto_c/cpython/vw_billhex.c: one table lookup per hex digit, GMP for the sums)
sees public values only (bills are public). Without it the same answers come from
bytes.fromhex and int (`_elems_py`, `_sigs_py`, `_weighted_sum_py`; tests compare the two).
"""

from __future__ import annotations

import struct
from operator import mul
from typing import Any, List, Optional, Sequence, Tuple

try:
    from vwcrypto._vwcrypto import ffi as _ffi
    from vwcrypto._vwcrypto import lib as _lib

    _OK = hasattr(_lib, "vw_hex_elems")
except ImportError:  # pragma: no cover - the extension is built by every install
    _ffi = _lib = None
    _OK = False

SEP = ","  # joins the strings for C: never a hex digit, so a string holding it is refused


def available() -> bool:
    """True when vwcrypto was built with the C column decoder."""
    return _OK


def _joined(xs: Sequence[Any]) -> Optional[bytes]:
    """The strings joined by SEP as ASCII bytes, or None when one is not a str or not ASCII."""
    try:
        return SEP.join(xs).encode("ascii")
    except (TypeError, UnicodeEncodeError):
        return None


def elems(xs: Sequence[Any], width: int, p: int, native: bool = True) -> Optional[Tuple[bytes, bytes]]:
    """(be, le): every element of xs as width bytes big-endian and little-endian, concatenated,
    when each is a str in minimal lowercase hex with 1 < x < p; else None. native=False: the
    pure-Python answer (the same)."""
    n = len(xs)
    if not n or width <= 0 or p.bit_length() > 8 * width:
        return None
    if not (native and _OK):
        return _elems_py(xs, width, p)
    text = _joined(xs)
    if text is None:
        return None
    be, le = bytearray(n * width), bytearray(n * width)
    got = _lib.vw_hex_elems(
        _ffi.from_buffer(be), _ffi.from_buffer(le), text, len(text), ord(SEP), n, width, p.to_bytes(width, "big")
    )
    return (bytes(be), bytes(le)) if got == n else None


def sigs(xs: Sequence[Any], qlen: int, q: int, native: bool = True) -> Optional[Tuple[bytes, bytes]]:
    """(es, ss): the e and the s of every signature in xs, qlen bytes big-endian each,
    concatenated, when each is a str of exactly 4 * qlen lowercase hex digits with e, s < q;
    else None. native=False: the pure-Python answer (the same)."""
    n = len(xs)
    if not n or not 0 < qlen <= 64 or q.bit_length() > 8 * qlen:
        return None
    if not (native and _OK):
        return _sigs_py(xs, qlen, q)
    text = _joined(xs)
    if text is None or len(text) != n * (4 * qlen + 1) - 1:
        return None
    es, ss = bytearray(n * qlen), bytearray(n * qlen)
    got = _lib.vw_hex_sigs(
        _ffi.from_buffer(es), _ffi.from_buffer(ss), text, len(text), ord(SEP), n, qlen, q.to_bytes(qlen, "big")
    )
    return (bytes(es), bytes(ss)) if got == n else None


def weighted_sum(w: bytes, v: bytes, width: int, native: bool = True) -> int:
    """sum of w_t * v_t over t, w_t the 8-byte little-endian weights of w, v_t the width-byte
    big-endian values of v (as many)."""
    n = len(w) // 8
    if len(w) != 8 * n or width <= 0 or len(v) != n * width:
        raise ValueError("weighted_sum: %d weight bytes and %d value bytes of width %d" % (len(w), len(v), width))
    if not (native and _OK) or width > 1024:
        return _weighted_sum_py(w, v, width)
    out = bytearray(width + 16)
    if _lib.vw_weighted_sum(_ffi.from_buffer(out), len(out), w, v, width, n):
        raise ValueError("weighted_sum: lengths out of range")
    return int.from_bytes(out, "big")


def _canonical(x: Any, digits: int, minimal: bool) -> Optional[bytes]:
    """The bytes of x (right-aligned in digits // 2 bytes) when x is lowercase hex: exactly
    `digits` digits, or with minimal 1..digits digits and no leading zero; else None."""
    if type(x) is not str or not x.isascii():
        return None
    if minimal and not (0 < len(x) <= digits and x[0] != "0") or not minimal and len(x) != digits:
        return None
    h = x if len(x) % 2 == 0 else "0" + x
    try:
        b = bytes.fromhex(h)
    except ValueError:
        return None
    return b.rjust(digits // 2, b"\x00") if b.hex() == h else None


def _elems_py(xs: Sequence[Any], width: int, p: int) -> Optional[Tuple[bytes, bytes]]:
    out: List[bytes] = []
    for x in xs:
        b = _canonical(x, 2 * width, True)
        if b is None or not 1 < int.from_bytes(b, "big") < p:
            return None
        out.append(b)
    return b"".join(out), b"".join([b[::-1] for b in out])


def _sigs_py(xs: Sequence[Any], qlen: int, q: int) -> Optional[Tuple[bytes, bytes]]:
    es, ss = [], []
    for x in xs:
        b = _canonical(x, 4 * qlen, False)
        if b is None:
            return None
        e, s = b[:qlen], b[qlen:]
        if int.from_bytes(e, "big") >= q or int.from_bytes(s, "big") >= q:
            return None
        es.append(e)
        ss.append(s)
    return b"".join(es), b"".join(ss)


def _weighted_sum_py(w: bytes, v: bytes, width: int) -> int:
    n = len(w) // 8
    vals = [int.from_bytes(v[i : i + width], "big") for i in range(0, n * width, width)]
    return sum(map(mul, struct.unpack("<%dQ" % n, w), vals))
