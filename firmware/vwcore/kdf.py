# SPDX-License-Identifier: MIT
"""HMAC-SHA256, HKDF, deterministic scalars and nonces, constant-time comparison.

Standards followed:
  - HMAC: RFC 2104 / FIPS 198-1 with SHA-256 (FIPS 180-4); MicroPython has no hmac
    module, so it is written here on hashlib.sha256 (tested against CPython's hmac with
    the RFC 4231 vectors).
  - HKDF-SHA256: RFC 5869 (extract-then-expand; expand is the SP 800-108 feedback mode).
  - derive(): HMAC-SHA256 as a PRF in counter mode (NIST SP 800-108 sec. 5.1), 64 bytes
    reduced mod q, so the bias is below 2^-256 (cf. FIPS 186-4 B.2.1 "extra random bits").
  - rfc6979_nonce(): RFC 6979 sec. 3.2 (HMAC_DRBG with SHA-256), qlen = hlen = 256.

Everything is deterministic: the meter needs no RNG at run time.
"""

import hashlib

_BLOCK = 64
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


def _xlate(key, table):
    return bytes(table[b] for b in key)


def sha256(data=b""):
    return hashlib.sha256(data).digest()


class HMAC:
    """HMAC-SHA256 with a fixed key; .mac(msg) -> 32 bytes, .mac_parts(p1, p2, ...).
    The padded keys are computed once (useful on the meter, where keys are fixed)."""

    def __init__(self, key):
        if len(key) > _BLOCK:
            key = sha256(key)
        key = bytes(key) + bytes(_BLOCK - len(key))
        self._ik = _xlate(key, _IPAD)
        self._ok = _xlate(key, _OPAD)

    def mac_parts(self, *parts):
        h = hashlib.sha256(self._ik)
        for p in parts:
            h.update(p)
        return hashlib.sha256(self._ok + h.digest()).digest()

    def mac(self, msg):
        return self.mac_parts(msg)


def hmac_sha256(key, msg):
    """RFC 2104 HMAC with SHA-256."""
    return HMAC(key).mac_parts(msg)


def hkdf_extract(salt, ikm):
    return hmac_sha256(salt if salt else bytes(32), ikm)


def hkdf_expand(prk, info, length):
    if length > 255 * 32:
        raise ValueError("HKDF length too large")
    h = HMAC(prk)
    out = b""
    t = b""
    i = 1
    while len(out) < length:
        t = h.mac_parts(t, info, bytes((i,)))
        out += t
        i += 1
    return out[:length]


def hkdf(ikm, info, length=32, salt=b""):
    """HKDF-SHA256 (RFC 5869)."""
    return hkdf_expand(hkdf_extract(salt, ikm), info, length)


def encode_parts(*parts):
    """Injective encoding of a sequence of byte strings: 4-byte length || bytes each."""
    out = []
    for p in parts:
        out.append(len(p).to_bytes(4, "big"))
        out.append(bytes(p))
    return b"".join(out)


def _wide_mod(b0, b1, q):
    return int.from_bytes(b0 + b1, "big") % q


def derive(key, label, *parts, q=None):
    """Deterministic scalar in [0, q) from a secret key:
    int(HMAC(key, 0x00000001 || enc) || HMAC(key, 0x00000002 || enc)) mod q,
    enc = encode_parts(label, *parts). q defaults to the default group's order.
    Used for the per-reading commitment randomness r_t = derive(secret, b"commit r",
    slot) and for signing keys."""
    if q is None:
        from vwcore import group

        q = group.DEFAULT.q
    h = HMAC(key)
    enc = encode_parts(label, *parts)
    return _wide_mod(h.mac_parts(b"\x00\x00\x00\x01", enc), h.mac_parts(b"\x00\x00\x00\x02", enc), q)


def derive_bytes(key, label, n, *parts):
    """n pseudo-random bytes from key in SP 800-108 counter mode with HMAC-SHA256."""
    h = HMAC(key)
    enc = encode_parts(label, *parts)
    out = b""
    i = 1
    while len(out) < n:
        out += h.mac_parts(i.to_bytes(4, "big"), enc)
        i += 1
    return out[:n]


def rfc6979_nonce(x, h1, q, extra=b""):
    """RFC 6979 sec. 3.2 deterministic nonce k in [1, q) with HMAC-SHA256, for a 256-bit q:
    x = private key (int), h1 = H(m) (32 bytes). `extra` is the optional additional data
    of sec. 3.6 (we pass a domain tag). Rejection sampling as in step h."""
    qlen = _bitlen(q)
    rlen = (qlen + 7) // 8
    xb = x.to_bytes(rlen, "big")
    z = _bits2int(h1, qlen) % q
    hb = z.to_bytes(rlen, "big")
    V = b"\x01" * 32
    K = b"\x00" * 32
    K = hmac_sha256(K, V + b"\x00" + xb + hb + extra)
    V = hmac_sha256(K, V)
    K = hmac_sha256(K, V + b"\x01" + xb + hb + extra)
    V = hmac_sha256(K, V)
    while True:
        T = b""
        while len(T) < rlen:
            V = hmac_sha256(K, V)
            T += V
        k = _bits2int(T, qlen)
        if 1 <= k < q:
            return k
        K = hmac_sha256(K, V + b"\x00")
        V = hmac_sha256(K, V)


def _bitlen(x):
    n = 0
    while x >> (n + 32):
        n += 32
    while x >> n:
        n += 1
    return n


def _bits2int(b, qlen):
    v = int.from_bytes(b, "big")
    blen = len(b) * 8
    if blen > qlen:
        v >>= blen - qlen
    return v


def ct_equal(a, b):
    """Compare two byte strings in time depending only on their lengths."""
    if len(a) != len(b):
        return False
    r = 0
    for i in range(len(a)):
        r |= a[i] ^ b[i]
    return r == 0
