"""Constant-time modular exponentiation for CPython, through cffi over crypto_c/.

Same interface as the MicroPython module ``vwcrypto`` on the meter::

    powmod(b, e, m[, work])          -> b**e mod m
    powmod2(g, a, h, b, m[, work])   -> g**a * h**b mod m   (one pass, for Pedersen commitments)
    work_bytes(bits)                 -> size of a reusable workspace for moduli up to bits

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

__all__ = ["powmod", "powmod2", "work_bytes", "LIMB_BITS", "MAX_MOD_BITS"]

LIMB_BITS: int = lib.VW_LIMB_BITS
MAX_MOD_BITS: int = lib.VW_MAX_MOD_BITS
_MAX_EXP_BITS = lib.VW_MAX_EXP_BYTES * 8
_EXP_PAD = 32  # bytes


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
