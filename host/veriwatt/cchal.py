# SPDX-License-Identifier: MIT
"""A bill's Schnorr challenges checked in C in one call (issue 14).

    available() -> bool        vwcrypto was built with vw_challenges.c (OpenSSL's headers)
    first_mismatch(...) -> int index of the first record t with e_t != H(R_t, y, M_t), or n
    digests(...) -> bytes      the 64 hash bytes of every record (tests)

Record t's challenge is group.hash_to_scalar's (vwcore/group.py): SHA-256 (FIPS 180-4) of
pre0 || R_t || mid || slot_t || C_t and of pre1 || the same, the 64 bytes read big-endian and
reduced mod q; batchverify.FastChecker lays out pre0, pre1 and mid once per bill. The C code
(crypto_c/cpython/vw_challenges.c: OpenSSL libcrypto's SHA-256, GMP's reduction) sees public
values only. Without it batchverify hashes through hashlib: the same verdicts.
"""

from __future__ import annotations

try:
    from vwcrypto._vwcrypto import ffi as _ffi
    from vwcrypto._vwcrypto import lib as _lib

    _OK = hasattr(_lib, "vw_challenges_check")
except ImportError:  # pragma: no cover - the extension is built by every install
    _ffi = _lib = None
    _OK = False


def available() -> bool:
    """True when vwcrypto was built with the C challenge check."""
    return _OK


def _lengths(pre0: bytes, pre1: bytes, rs: bytes, slots: bytes, cs: bytes, elen: int) -> int:
    n = len(slots) // 4
    if len(pre0) != len(pre1) or len(slots) != 4 * n or elen <= 0 or len(rs) != n * elen or len(cs) != n * elen:
        raise ValueError("packed challenge inputs of inconsistent lengths")
    return n


def first_mismatch(
    pre0: bytes, pre1: bytes, mid: bytes, rs: bytes, slots: bytes, cs: bytes, elen: int, es: bytes, q: int
) -> int:
    """The index of the first record whose e_t (es: big-endian, qlen = q's byte length each)
    differs from its hash mod q; n (the number of records) when every one matches. rs, cs:
    the R_t and C_t big-endian, elen bytes each; slots: 4 bytes big-endian each."""
    if not _OK:
        raise RuntimeError("vwcrypto has no C challenge check (rebuild it: bash tools/setup)")
    n = _lengths(pre0, pre1, rs, slots, cs, elen)
    qlen = (q.bit_length() + 7) // 8
    if q <= 0 or len(es) != n * qlen:
        raise ValueError("challenges: q must be positive and es hold %d bytes per record" % qlen)
    got = _lib.vw_challenges_check(
        pre0, pre1, len(pre0), mid, len(mid), rs, slots, cs, elen, es, q.to_bytes(qlen, "big"), qlen, n
    )
    if got < 0:
        raise ValueError("challenges: lengths out of range")
    return int(got)


def digests(pre0: bytes, pre1: bytes, mid: bytes, rs: bytes, slots: bytes, cs: bytes, elen: int) -> bytes:
    """SHA-256(pre0 || R_t || mid || slot_t || C_t) || SHA-256(pre1 || ...) for every t."""
    if not _OK:
        raise RuntimeError("vwcrypto has no C challenge check (rebuild it: bash tools/setup)")
    n = _lengths(pre0, pre1, rs, slots, cs, elen)
    out = _ffi.new("uint8_t[]", 64 * n + 1)
    if _lib.vw_challenges_digests(out, pre0, pre1, len(pre0), mid, len(mid), rs, slots, cs, elen, n):
        raise ValueError("challenges: lengths out of range")
    return bytes(_ffi.buffer(out, 64 * n))
