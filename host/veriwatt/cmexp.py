# SPDX-License-Identifier: MIT
"""Multi-exponentiation in C for verifiers: prod b_i^e_i mod p over GMP (issue 14).

    available() -> bool                      the C function is compiled into vwcrypto
    multiexp(bases, exps, p) -> int          prod bases[i]^exps[i] mod p
    multiexp_packed(bases, exps, elen, p)    the same from little-endian byte strings
    product(bases, p) -> int                 prod bases[i] mod p

The C code (crypto_c/cpython/vw_multiexp.c, in the CPython extension vwcrypto._vwcrypto, host
only) uses Montgomery multiplication (Montgomery 1985, REDC as GMP's mpn_redc_1) on GMP's mpn
layer, Bos-Coster's method for exponents of up to 64 bits (de Rooij, EUROCRYPT '94) and
Pippenger's bucket method above (HAC 14.5; Bernstein et al., INDOCRYPT 2012, sec. 4).

PUBLIC INPUTS ONLY: the running time and the memory touched depend on the bases and the
exponents (variable time). Verifiers only handle public values (commitments, signature
commitments R_t, prices) and their own fresh random batch weights, so that is fine there;
never pass a secret (the meter's and customer's secrets go through vwcrypto.powmod, which is
constant time). p must be odd and above 1 (every group modulus is); exponents >= 0.
"""

from __future__ import annotations

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


def window(count: int, bits: int) -> int:
    """The bucket width the C code uses for count exponents of `bits` bits (the rule of
    batchverify.window_for: fewest multiplications)."""
    return int(_lib.vw_mexp_window(count, bits)) if _OK else 0
