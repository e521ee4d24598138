# SPDX-License-Identifier: MIT
"""Constant-time modular exponentiation for CPython, through cffi over crypto_c/.

The module ``vwcrypto``: the same name and interface as the MicroPython module on the meter
(crypto_c/mod_vwcrypto.c), so code shared by both (firmware/vwcore) imports ``vwcrypto`` on
either interpreter and never the host package.  ``veriwatt.vwcrypto`` re-exports it::

    powmod(b, e, m[, work])          -> b**e mod m
    powmod2(g, a, h, b, m[, work])   -> g**a * h**b mod m   (one pass, for Pedersen commitments)
    work_bytes(bits)                 -> size of a reusable workspace for moduli up to bits
    powmod_fb(b, e, m, ebits[, work])            -> b**e mod m, or None
    powmod2_fb(g, a, abits, h, b, bbits, m[, work]) -> g**a * h**b mod m, or None
    FB_TABLES                        -> number of fixed-base tables compiled in

The *_fb functions use the fixed-base comb tables built into the library
(tools/gen_fb_tables.py: Lim & Lee, CRYPTO '94) for the group generators g, h of the
2048/256 group; they return None when no table serves that base, modulus and exponent
bound (the caller then uses powmod/powmod2). ``ebits`` is a PUBLIC bound: the exponent
must satisfy 0 <= e < 2**ebits (ValueError otherwise) and the running time depends on
ebits only, never on e.

`work` is accepted for API compatibility with the meter, where a workspace allocated once
spares a small heap; CPython allocates a fresh one per call (cheap here) and ignores it.

Arguments and results are Python ints. Bad input raises ValueError with the same messages
as the firmware module. Exponents are zero-padded to a multiple of 32 bytes before the C
call, so the running time reveals only that rounded length, never the exponent's value;
the modulus is public. (The conversion int -> bytes is CPython's own and not constant-time
in the bit length; secrets here are fixed-width scalars mod q, so that leaks nothing.)
"""

from __future__ import annotations

from ._vwcrypto import ffi, lib

__all__ = [
    "__version__",
    "powmod",
    "powmod2",
    "powmod_fb",
    "powmod2_fb",
    "work_bytes",
    "LIMB_BITS",
    "MAX_MOD_BITS",
    "FB_TABLES",
]

__version__ = "0.1.0"  # as the MicroPython module (VWC_VERSION in crypto_c/mod_vwcrypto.c)
LIMB_BITS: int = lib.VW_LIMB_BITS
MAX_MOD_BITS: int = lib.VW_MAX_MOD_BITS
_MAX_EXP_BITS = lib.VW_MAX_EXP_BYTES * 8
_EXP_PAD = 32  # bytes
FB_TABLES: int = lib.vw_fb_count


def _check_int(name: str, x: object) -> int:
    if not isinstance(x, int) or isinstance(x, bool):
        raise TypeError("%s must be an int, not %s" % (name, type(x).__name__))
    return x


def _modulus(m: object) -> bytes:
    m = _check_int("modulus", m)
    if m <= 0:
        raise ValueError("modulus must be positive")
    if not m & 1:
        raise ValueError("modulus must be odd")
    if m.bit_length() > MAX_MOD_BITS:
        raise ValueError("modulus larger than 4096 bits")
    return m.to_bytes((m.bit_length() + 7) // 8, "big")


def _exponent(e: object) -> bytes:
    e = _check_int("exponent", e)
    if e < 0:
        raise ValueError("exponent must be non-negative")
    if e.bit_length() > _MAX_EXP_BITS:
        raise ValueError("exponent larger than 4096 bits")
    n = (e.bit_length() + 7) // 8
    n = -(-n // _EXP_PAD) * _EXP_PAD
    return e.to_bytes(n, "big")


def _base(b: object, m: int) -> bytes:
    b = _check_int("base", b)
    if b < 0:
        b %= m
    return b.to_bytes((b.bit_length() + 7) // 8, "big")


def _call(fn, nwork: int, mb: bytes, *args: bytes) -> int:
    n = lib.vw_mod_limbs(mb, len(mb))
    work = ffi.new("vw_limb[]", nwork(n))
    out = ffi.new("uint8_t[]", len(mb))
    flat = []
    for a in args:
        flat += [a, len(a)]
    err = fn(out, len(mb), *flat, mb, len(mb), work, len(work))
    if err != 0:  # the checks above make this unreachable; keep the library's word
        raise ValueError(ffi.string(lib.vw_strerror(err)).decode())
    return int.from_bytes(ffi.buffer(out), "big")


def work_bytes(bits: int) -> int:
    """Bytes of workspace for any call with a modulus of up to `bits` bits."""
    if not 1 <= bits <= MAX_MOD_BITS:
        raise ValueError("modulus larger than 4096 bits")
    n = -(-bits // LIMB_BITS)
    return lib.vw_work_limbs_powmod2(n) * LIMB_BITS // 8


def powmod(b: int, e: int, m: int, work: object = None) -> int:
    """Return b**e mod m; constant-time in the values of b and e."""
    mb = _modulus(m)
    eb = _exponent(e)
    return _call(lib.vw_powmod, lib.vw_work_limbs_powmod, mb, _base(b, m), eb)


def powmod2(g: int, a: int, h: int, b: int, m: int, work: object = None) -> int:
    """Return g**a * h**b mod m in one pass; constant-time in all four values."""
    mb = _modulus(m)
    ab, bb = _exponent(a), _exponent(b)
    return _call(lib.vw_powmod2, lib.vw_work_limbs_powmod2, mb, _base(g, m), ab, _base(h, m), bb)


def _bounded(e: object, ebits: object) -> bytes:
    e = _check_int("exponent", e)
    ebits = _check_int("ebits", ebits)
    if not 1 <= ebits <= _MAX_EXP_BITS:
        raise ValueError("exponent bound out of range")
    if e < 0:
        raise ValueError("exponent must be non-negative")
    if e >> ebits:
        raise ValueError("exponent above its bound")
    return e.to_bytes((ebits + 7) // 8, "big")


def _fb(out_len: int, terms: list) -> int | None:
    """terms: [(base bytes, modulus bytes, exponent bytes)]; None when a table is missing."""
    tabs, exps = [], []
    for bb, mb, eb in terms:
        t = lib.vw_fb_find(bb, len(bb), mb, len(mb), len(eb))
        if t == ffi.NULL:
            return None
        tabs.append(t)
        exps.append(ffi.from_buffer(eb))
    work = ffi.new("vw_limb[]", lib.vw_fb_work_limbs(tabs[0]))
    out = ffi.new("uint8_t[]", out_len)
    err = lib.vw_fb_powmod(
        out,
        out_len,
        len(tabs),
        ffi.new("const vw_fb_table *[]", tabs),
        ffi.new("const uint8_t *[]", exps),
        ffi.new("size_t[]", [len(t[2]) for t in terms]),
        work,
        len(work),
    )
    if err != 0:  # the lookup matched shapes and lengths; keep the library's word
        raise ValueError(ffi.string(lib.vw_strerror(err)).decode())
    return int.from_bytes(ffi.buffer(out), "big")


def powmod_fb(b: int, e: int, m: int, ebits: int, work: object = None) -> int | None:
    """b**e mod m over the built-in fixed-base table of (b, m), for 0 <= e < 2**ebits
    (a public bound); None when there is no such table. Constant-time in e."""
    mb = _modulus(m)
    eb = _bounded(e, ebits)
    return _fb(len(mb), [(_base(b, m), mb, eb)])


def powmod2_fb(g: int, a: int, abits: int, h: int, b: int, bbits: int, m: int, work: object = None) -> int | None:
    """g**a * h**b mod m over the fixed-base tables of g and h (one loop, shared squarings);
    0 <= a < 2**abits, 0 <= b < 2**bbits (public bounds); None without tables."""
    mb = _modulus(m)
    ab, bb = _bounded(a, abits), _bounded(b, bbits)
    return _fb(len(mb), [(_base(g, m), mb, ab), (_base(h, m), mb, bb)])
