# SPDX-License-Identifier: MIT
"""Multi-exponentiation in C for verifiers: prod b_i^e_i mod p over GMP (issue 14).

    available() -> bool                      the C function is compiled into vwcrypto
    multiexp(bases, exps, p) -> int          prod bases[i]^exps[i] mod p
    multiexp_packed(bases, exps, elen, p)    the same from little-endian byte strings
    product(bases, p) -> int                 prod bases[i] mod p
    backends() -> list[str]                  the Montgomery backends this build and CPU run
    set_backend("auto" | "mpn" | "ifma")     choose one (process-wide; for tests and benchmarks)
    backend(bits=2048) -> str                the one used now for a modulus of `bits` bits

The C code (crypto_c/cpython/vw_multiexp.c, in the CPython extension vwcrypto._vwcrypto, host
only) uses Montgomery multiplication (Montgomery 1985) in one of two backends: "mpn" (REDC as
GMP's mpn_redc_1 on GMP's mpn layer, any CPU) and "ifma" (crypto_c/cpython/vw_mont52.c: radix
2^52 with AVX-512 IFMA, Gueron and Krasnov's almost Montgomery multiplication, WAIFI 2012 and
ARITH 2016), chosen at run time: "auto" (the default) takes "ifma" where the CPU has it for
moduli of at least 640 bits. The environment variable VERIWATT_MEXP_IFMA=0, read at import,
forces "mpn". Over either: Bos-Coster's method for exponents of up to 64 bits (de Rooij,
EUROCRYPT '94) and Pippenger's bucket method above (HAC 14.5; Bernstein et al., INDOCRYPT 2012,
sec. 4); on "ifma" the buckets also for 64-bit exponents from 8,192 bases (a batch of bills:
there they take less time than Bos-Coster's heap).

PUBLIC INPUTS ONLY: the running time and the memory touched depend on the bases and the
exponents (variable time). Verifiers only handle public values (commitments, signature
commitments R_t, prices) and their own fresh random batch weights, so that is fine there;
never pass a secret (the meter's and customer's secrets go through vwcrypto.powmod, which is
constant time). p must be odd and above 1 (every group modulus is); exponents >= 0.
"""

from __future__ import annotations

import os
from operator import index
from typing import Any, Sequence

try:
    from vwcrypto._vwcrypto import ffi as _ffi
    from vwcrypto._vwcrypto import lib as _lib

    _OK = hasattr(_lib, "vw_multiexp")
except ImportError:  # pragma: no cover - the extension is built by every install
    _ffi = _lib = None
    _OK = False

_ERRORS = {
    -1: "modulus or exponent too long for the C multi-exponentiation",
    -2: "the modulus must be odd and above 1",
    -3: "a base is not below the modulus",
    -4: "out of memory",
}


_BACKENDS = {"auto": 0, "mpn": 1, "ifma": 2}


def backends() -> list[str]:
    """The backends set_backend accepts here: "auto", "mpn", and "ifma" when the build and the
    CPU have AVX-512 IFMA (empty without the C code)."""
    if not _OK:
        return []
    return ["auto", "mpn"] + (["ifma"] if _lib.vw_mexp_ifma_supported() else [])


def set_backend(name: str) -> None:
    """Use the Montgomery backend `name` ("auto", "mpn" or "ifma") in every later call, in the
    whole process; "ifma" then serves every modulus size. ValueError when not in backends()."""
    if name not in backends():
        raise ValueError("unknown or unsupported multi-exponentiation backend %r (here: %s)" % (name, backends()))
    if _lib.vw_mexp_set_backend(_BACKENDS[name]):  # pragma: no cover - checked above
        raise ValueError("backend %r refused" % name)


def backend(bits: int = 2048) -> str:
    """The backend ("mpn" or "ifma") the C code uses now for a modulus of `bits` bits."""
    if not _OK:
        return ""
    return "ifma" if _lib.vw_mexp_backend(bits) == _BACKENDS["ifma"] else "mpn"


if _OK and os.environ.get("VERIWATT_MEXP_IFMA") == "0":
    set_backend("mpn")


def available() -> bool:
    """True when vwcrypto was built with the C multi-exponentiation (and GMP)."""
    return _OK


def _pack(xs: Sequence[int], width: int, what: str) -> bytes:
    try:
        return b"".join(x.to_bytes(width, "little") for x in xs)
    except OverflowError:
        raise ValueError("%s out of range (negative, or too long)" % what) from None


def multiexp(bases: Sequence[Any], exps: Sequence[int], p: int) -> int:
    """prod bases[i]^exps[i] mod p (int); bases are reduced mod p first, exponents >= 0 of
    any length (up to 8,192 bits). ValueError for an even modulus or a negative exponent."""
    if len(bases) != len(exps):
        raise ValueError("%d bases but %d exponents" % (len(bases), len(exps)))
    if not _OK:
        raise RuntimeError("vwcrypto has no C multi-exponentiation (rebuild it: bash tools/setup)")
    p = index(p)  # ints (or gmpy2's mpz): TypeError for anything else
    if p < 3 or not p & 1:
        raise ValueError(_ERRORS[-2])
    mlen = (p.bit_length() + 7) // 8
    bs = [index(b) for b in bases]
    if any(b < 0 or b >= p for b in bs):
        bs = [b % p for b in bs]
    es = [index(e) for e in exps]
    elen = max([(e.bit_length() + 7) // 8 for e in es] + [1])
    bb = _pack(bs, mlen, "bases")
    eb = _pack(es, elen, "exponents")
    out = _ffi.new("uint8_t[]", mlen)
    err = _lib.vw_multiexp(out, p.to_bytes(mlen, "little"), mlen, len(bs), bb, eb, elen)
    if err:
        raise ValueError(_ERRORS.get(err, "C multi-exponentiation failed (%d)" % err))
    return int.from_bytes(_ffi.buffer(out), "little")


def multiexp_packed(bases: bytes, exps: bytes, exp_len: int, p: int) -> int:
    """prod b_i^e_i mod p for bases and exponents already laid out as the C code reads them:
    `bases` the concatenation of little-endian (p.bit_length() + 7) // 8-byte strings, each
    below p (ValueError otherwise), `exps` of exp_len-byte little-endian strings, as many."""
    p = index(p)
    if p < 3 or not p & 1:
        raise ValueError(_ERRORS[-2])
    mlen = (p.bit_length() + 7) // 8
    n = len(bases) // mlen
    if len(bases) != n * mlen or exp_len < 1 or len(exps) != n * exp_len:
        raise ValueError("packed bases and exponents of the wrong lengths")
    if not _OK:
        raise RuntimeError("vwcrypto has no C multi-exponentiation (rebuild it: bash tools/setup)")
    out = _ffi.new("uint8_t[]", mlen)
    err = _lib.vw_multiexp(out, p.to_bytes(mlen, "little"), mlen, n, bases, exps, exp_len)
    if err:
        raise ValueError(_ERRORS.get(err, "C multi-exponentiation failed (%d)" % err))
    return int.from_bytes(_ffi.buffer(out), "little")


def product(bases: Sequence[Any], p: int) -> int:
    """prod bases[i] mod p: one Montgomery multiplication per base."""
    return multiexp(bases, [1] * len(bases), p)


def mul_loop(base: int, reps: int, p: int, square: bool = False) -> int:
    """For benchmarks and tests of the backends: r = base, then `reps` Montgomery products
    r = r * base / R (or r = r * r / R when `square`) mod p on the backend in use (R its radix:
    2^(64 limbs) on "mpn", 2^(52 D) on "ifma"); returns r in [0, p). 0 <= base < p."""
    if not _OK:
        raise RuntimeError("vwcrypto has no C multi-exponentiation (rebuild it: bash tools/setup)")
    p, base, reps = index(p), index(base), index(reps)
    if p < 3 or not p & 1:
        raise ValueError(_ERRORS[-2])
    if not 0 <= base < p or reps < 0:
        raise ValueError("base not in [0, p), or reps negative")
    mlen = (p.bit_length() + 7) // 8
    out = _ffi.new("uint8_t[]", mlen)
    err = _lib.vw_mexp_mul_loop(out, p.to_bytes(mlen, "little"), mlen, base.to_bytes(mlen, "little"), reps, square)
    if err:
        raise ValueError(_ERRORS.get(err, "C Montgomery loop failed (%d)" % err))
    return int.from_bytes(_ffi.buffer(out), "little")


def radix_bits(p: int) -> int:
    """log2 of the Montgomery radix R the backend in use takes for p: 64 x limbs on "mpn",
    52 x D on "ifma" (D: ceil((bits + 2) / 52) rounded up to a multiple of 8)."""
    bits = index(p).bit_length()
    if backend(bits) == "ifma":
        digits = -(-(bits + 2) // 52)
        return 52 * (-(-digits // 8) * 8)
    return 64 * -(-bits // 64)


def window(count: int, bits: int) -> int:
    """The bucket width the C code uses for count exponents of `bits` bits (the rule of
    batchverify.window_for: fewest multiplications)."""
    return int(_lib.vw_mexp_window(count, bits)) if _OK else 0
