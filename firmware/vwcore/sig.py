# SPDX-License-Identifier: MIT
"""Schnorr signatures in the veriwatt group, with deterministic nonces.

Scheme: Schnorr (J. Cryptology 1991, "Efficient signature generation by smart cards"),
in the (e, s) form of ISO/IEC 14888-3 (EC-SDSA-like, "Schnorr digital signature"),
made non-interactive with Fiat-Shamir over SHA-256, domain-separated and key-prefixed:

    keygen(secret):  x = derive(secret, "veriwatt/sig-key/v1") in [1, q),  y = g^x mod p
    sign(x, M):      k = RFC 6979 sec. 3.2 nonce (HMAC-SHA256) from x and SHA-256(M),
                     with additional data "veriwatt/schnorr/v1" (RFC 6979 sec. 3.6)
                     R = g^k mod p
                     e = hash_to_scalar("veriwatt/schnorr/v1", R, y, M)   (R, y: plen bytes)
                     s = k + e*x mod q
                     signature = (e, s), both in [0, q), 32 + 32 bytes on the wire
    verify(y, M, (e, s)):
                     require 0 <= e < q, 0 <= s < q, 1 < y < p and y^q = 1 (y in <g>)
                     R' = g^s * y^(q-e) mod p      (= g^s y^-e, one powmod2)
                     accept iff hash_to_scalar("veriwatt/schnorr/v1", R', y, M) == e

Deterministic nonces mean the meter needs no RNG; a fault during signing could leak x
(as for any deterministic scheme) -- the meter may verify its own signature if that
matters. Signing takes one modexp (g^k); verifying one double exponentiation plus a
membership check of y (cached per public key).
"""

import hashlib

from vwcore import group as _group
from vwcore import kdf
from vwcore import modexp

DOMAIN = b"veriwatt/schnorr/v1"
KEY_LABEL = b"veriwatt/sig-key/v1"


def secret_to_scalar(secret, grp=None):
    """Private scalar x in [1, q) from a provisioned secret (bytes)."""
    G = _group.get(grp)
    x = kdf.derive(secret, KEY_LABEL, q=G.q)
    return x if x else 1


def public_key(x, grp=None):
    G = _group.get(grp)
    return modexp.powmod_fb(G.g, x % G.q, G.p, G.N)


class SigningKey:
    """Signing key from a provisioned secret: .x, .y (public key), .grp; .sign(msg)."""

    def __init__(self, secret, grp=None):
        self.grp = _group.get(grp)
        self.x = secret_to_scalar(secret, self.grp)
        self.y = public_key(self.x, self.grp)

    def sign(self, msg):
        return sign(self.x, msg, self.grp, self.y)


def _challenge(G, R, y, msg):
    return _group.hash_to_scalar(DOMAIN, G.elem_bytes(R), G.elem_bytes(y), msg, grp=G)


def sign(x, msg, grp=None, y=None):
    """Return (e, s). y (the public key) is computed if not given."""
    G = _group.get(grp)
    if not (0 < x < G.q):
        raise ValueError("private key out of range")
    if y is None:
        y = public_key(x, G)
    k = kdf.rfc6979_nonce(x, hashlib.sha256(msg).digest(), G.q, DOMAIN)
    R = modexp.powmod_fb(G.g, k, G.p, G.N)
    e = _challenge(G, R, y, msg)
    return e, (k + e * x) % G.q


_checked = {}


def _pub_ok(y, G):
    key = (G.id, y)
    if key in _checked:
        return True
    if not _group.is_element(y, G):
        return False
    if len(_checked) >= 8:
        _checked.clear()
    _checked[key] = True
    return True


def verify(y, msg, sig, grp=None):
    """True iff sig = (e, s) is a valid signature on msg under public key y."""
    G = _group.get(grp)
    try:
        e, s = sig
    except (TypeError, ValueError):
        return False
    if not (isinstance(e, int) and isinstance(s, int)):
        return False
    if not (0 <= e < G.q and 0 <= s < G.q):
        return False
    if not _pub_ok(y, G):
        return False
    R = modexp.powmod2(G.g, s, y, G.q - e, G.p)
    return _challenge(G, R, y, msg) == e


def encode_sig(sig):
    e, s = sig
    return e.to_bytes(32, "big") + s.to_bytes(32, "big")


def decode_sig(b):
    if len(b) != 64:
        raise ValueError("signature must be 64 bytes")
    return int.from_bytes(b[:32], "big"), int.from_bytes(b[32:], "big")
