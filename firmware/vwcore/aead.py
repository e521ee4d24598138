# SPDX-License-Identifier: MIT
"""Authenticated encryption of readings and other small payloads under the customer key.

No dependency on cryptolib: everything is HMAC-SHA256 (RFC 2104, FIPS 198-1).

Keys (RFC 5869 HKDF-SHA256; its expand step is NIST SP 800-108 feedback-mode KDF):
    prk   = HKDF-Extract(salt = "veriwatt/aead/v1", ikm = customer_key)
    k_enc = HKDF-Expand(prk, "veriwatt/aead/v1 enc", 32)
    k_mac = HKDF-Expand(prk, "veriwatt/aead/v1 mac", 32)
HKDF (not PBKDF2) because the customer key is already a uniformly random 120-bit code
(below), not a password: stretching would cost the meter seconds and add nothing worth it.

Encrypt-then-MAC (Bellare & Namprempre 2000; the composition of ISO/IEC 19772 mech. 5):
    keystream block i = HMAC(k_enc, nonce || uint32_be(i)), i = 0, 1, ...  (HMAC as a
                        PRF in counter mode, NIST SP 800-108 sec. 5.1 / SP 800-38A CTR)
    ct  = pt XOR keystream
    tag = HMAC(k_mac, uint32(len ad) || ad || uint32(len nonce) || nonce || ct)[:16]
    output ct || tag; decrypt checks the tag (constant-time) BEFORE decrypting and raises
    AuthError (a ValueError) on mismatch, never returning any plaintext.

NONCE REQUIREMENT: a (key, nonce) pair must never encrypt two different plaintexts
(keystream reuse). Readings use record_nonce(meter_id, slot) = 0x01 || meter_id || slot;
the meter certifies each slot exactly once (storage refuses a second reading for a slot),
and a re-encryption of the same slot must be of the same (m, r) (which is deterministic).
Other payload kinds must use another first byte (purpose) in their nonce.

Customer code (printed on the meter label / shown on its display): 15 random bytes
(120 bits) as 24 characters of Crockford base32 (0-9, A-Z without I L O U; on input
I/L read as 1, O as 0, case and '-'/' ' ignored) plus one check character (Luhn mod N
algorithm with N = 32, detects every single-character error and almost every adjacent
transposition), shown as 5 groups of 5: "XXXXX-XXXXX-XXXXX-XXXXX-XXXXC".
The customer key is the 15 decoded bytes.
"""

from vwcore import kdf

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_BYTES = 15
CODE_CHARS = 25
TAG_LEN = 16
P_READING = 1  # nonce purpose byte for certified readings


class AuthError(ValueError):
    pass


def derive_keys(customer_key):
    prk = kdf.hkdf_extract(b"veriwatt/aead/v1", customer_key)
    return (kdf.hkdf_expand(prk, b"veriwatt/aead/v1 enc", 32), kdf.hkdf_expand(prk, b"veriwatt/aead/v1 mac", 32))


def _l4(n):
    return n.to_bytes(4, "big")


class AEAD:
    """AEAD under one customer key (keys derived once): encrypt/decrypt(nonce, data, ad)."""

    def __init__(self, customer_key):
        ke, km = derive_keys(customer_key)
        self._enc = kdf.HMAC(ke)
        self._mac = kdf.HMAC(km)

    def _xor(self, nonce, data):
        out = bytearray(len(data))
        i = 0
        ctr = 0
        while i < len(data):
            ks = self._enc.mac_parts(nonce, _l4(ctr))
            for j in range(min(32, len(data) - i)):
                out[i + j] = data[i + j] ^ ks[j]
            i += 32
            ctr += 1
        return bytes(out)

    def _tag(self, nonce, ct, ad):
        return self._mac.mac_parts(_l4(len(ad)), ad, _l4(len(nonce)), nonce, ct)[:TAG_LEN]

    def encrypt(self, nonce, pt, ad=b""):
        ct = self._xor(nonce, pt)
        return ct + self._tag(nonce, ct, ad)

    def decrypt(self, nonce, data, ad=b""):
        if len(data) < TAG_LEN:
            raise AuthError("ciphertext shorter than the tag")
        ct = data[:-TAG_LEN]
        if not kdf.ct_equal(self._tag(nonce, ct, ad), data[-TAG_LEN:]):
            raise AuthError("authentication failed: wrong customer key or tampered data")
        return self._xor(nonce, ct)


def encrypt(customer_key, nonce, pt, ad=b""):
    return AEAD(customer_key).encrypt(nonce, pt, ad)


def decrypt(customer_key, nonce, data, ad=b""):
    return AEAD(customer_key).decrypt(nonce, data, ad)


def record_nonce(meter_id, slot):
    return bytes((P_READING,)) + bytes(meter_id) + slot.to_bytes(4, "big")


# ---------------------------------------------------------------- customer code
def _luhn_check(vals):
    """Luhn mod 32 check value for a list of digit values."""
    factor = 2
    total = 0
    for v in reversed(vals):
        a = factor * v
        factor = 1 if factor == 2 else 2
        total += a // 32 + a % 32
    return (32 - total % 32) % 32


def format_customer_code(key):
    """15 bytes -> 'XXXXX-XXXXX-XXXXX-XXXXX-XXXXC' (24 base32 chars + check char)."""
    if len(key) != CODE_BYTES:
        raise ValueError("customer key must be %d bytes" % CODE_BYTES)
    n = int.from_bytes(key, "big")
    vals = [(n >> (5 * (23 - i))) & 31 for i in range(24)]
    vals.append(_luhn_check(vals))
    s = "".join(ALPHABET[v] for v in vals)
    return "-".join(s[i : i + 5] for i in range(0, CODE_CHARS, 5))


def parse_customer_code(s):
    """Customer code string -> 15-byte customer key. ValueError (with the reason) on a
    wrong length, a character outside the alphabet or a failed check character."""
    vals = []
    for ch in s.upper():
        if ch in "- \t":
            continue
        if ch == "O":
            ch = "0"
        elif ch in "IL":
            ch = "1"
        i = ALPHABET.find(ch)
        if i < 0:
            raise ValueError("invalid character %r in customer code" % ch)
        vals.append(i)
    if len(vals) != CODE_CHARS:
        raise ValueError("customer code must have %d characters, got %d" % (CODE_CHARS, len(vals)))
    if _luhn_check(vals[:24]) != vals[24]:
        raise ValueError("customer code check character does not match (typo?)")
    n = 0
    for v in vals[:24]:
        n = (n << 5) | v
    return n.to_bytes(CODE_BYTES, "big")
