# SPDX-License-Identifier: MIT
"""The per-meter access token of the web service (docs/WEB.md): who may download a meter's
encrypted records from `veriwatt serve`.

The customer's browser derives the token from the customer code (web/static/vwpage.py runs the
same derivation under MicroPython WebAssembly); the service stores only its verifier, published
at provisioning (`veriwatt provision` output / `veriwatt web-token`), so the supplier never
learns the code, and the token opens nothing (the readings are encrypted under the customer key):

    token    = HKDF-SHA256(ikm = customer key (15 bytes), salt = "veriwatt/web-access/v1",
                           info = "veriwatt/web-access/v1 token" || meter_id (8 bytes), L = 32)
                                                                   (RFC 5869, vwcore.kdf.hkdf)
    verifier = SHA-256(token)                                        (FIPS 180-4)

A distinct HKDF label keeps the token independent of the AEAD keys (vwcore.aead uses the salt
"veriwatt/aead/v1"). The code has 120 random bits, so the verifier cannot be inverted by search.
"""

from __future__ import annotations

import hashlib
import hmac

from vwcore import kdf as _kdf

from . import records as _records
from .errors import VeriwattError

LABEL = b"veriwatt/web-access/v1"


def token_from_key(customer_key: bytes, meter_id: bytes) -> bytes:
    """The 32-byte access token of a meter for the holder of its customer key."""
    if len(meter_id) != 8:
        raise VeriwattError("meter id must be 8 bytes")
    return _kdf.hkdf(customer_key, LABEL + b" token" + bytes(meter_id), 32, LABEL)


def token(code: str, meter_id_hex: str) -> str:
    """The access token (64 hex digits) from the code printed on the meter label."""
    return token_from_key(_records.customer_key(code), _records.meter_id_bytes(meter_id_hex)).hex()


def verifier_of(token_hex: str) -> str:
    """SHA-256 of the token, 64 hex digits: what the service stores and compares against."""
    try:
        raw = bytes.fromhex(token_hex)
    except (TypeError, ValueError):
        raise VeriwattError("access token must be 64 hex digits")
    if len(raw) != 32:
        raise VeriwattError("access token must be 64 hex digits")
    return hashlib.sha256(raw).hexdigest()


def verifier(code: str, meter_id_hex: str) -> str:
    """The verifier to register with the service for a meter (from its customer code)."""
    return verifier_of(token(code, meter_id_hex))


def matches(token_hex: str, stored_verifier: str) -> bool:
    """Constant-time comparison of a presented token with the stored verifier."""
    try:
        v = verifier_of(token_hex)
    except VeriwattError:
        return False
    return hmac.compare_digest(v.encode(), stored_verifier.encode())
