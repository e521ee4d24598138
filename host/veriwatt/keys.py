"""Key files: supplier signing keys and meters' public keys (formats in docs/FORMATS.md).

    supplier.key.json  {"format": "veriwatt-key/1", "role": "supplier", "group": "2048",
                        "secret": hex(32 bytes), "y": hex}           (keep private)
    supplier.pub.json  {"format": "veriwatt-pubkey/1", "role": "supplier", "group": "2048",
                        "y": hex, "key_id": hex}
    meter.pub.json     {"format": "veriwatt-pubkey/1", "role": "meter", "group": "2048",
                        "meter_id": hex(8 bytes), "y": hex, "key_id": hex}

Signatures are vwcore.sig Schnorr signatures (e, s), written as 128 hex digits (e || s).
"""
from __future__ import annotations

import hashlib
import os
from typing import Any, Dict, Optional

from vwcore import group as _group
from vwcore import sig as _sig

from .errors import VeriwattError

ALG = "schnorr-vw1"
KEY_FORMAT = "veriwatt-key/1"
PUB_FORMAT = "veriwatt-pubkey/1"


def _hex_int(s: Any, where: str) -> int:
    if not isinstance(s, str):
        raise VeriwattError("%s must be a hex string" % where)
    try:
        return int(s, 16)
    except ValueError:
        raise VeriwattError("%s is not hexadecimal" % where)


def group_of(key: Dict[str, Any]) -> "_group.Group":
    try:
        return _group.get(str(key.get("group", "2048")))
    except ValueError:
        raise VeriwattError("unknown group %r in key file (known: 2048, 3072)" % key.get("group"))


def key_id(key: Dict[str, Any]) -> str:
    """16 hex digits identifying a public key: SHA-256(group name || y) truncated."""
    G = group_of(key)
    y = _hex_int(key.get("y"), "key y")
    return hashlib.sha256(G.name.encode() + b"\x00" + G.elem_bytes(y)).hexdigest()[:16]


def new_supplier_key(grp: str = "2048", secret: Optional[bytes] = None, name: str = "") -> Dict[str, Any]:
    secret = secret if secret is not None else os.urandom(32)
    sk = _sig.SigningKey(secret, grp)
    key = {"format": KEY_FORMAT, "role": "supplier", "name": name, "group": sk.grp.name,
           "secret": secret.hex(), "y": "%x" % sk.y}
    key["key_id"] = key_id(key)
    return key


def public(key: Dict[str, Any]) -> Dict[str, Any]:
    out = {"format": PUB_FORMAT, "role": key.get("role", "supplier"), "group": key.get("group", "2048"), "y": key["y"]}
    for k in ("name", "meter_id"):
        if key.get(k):
            out[k] = key[k]
    out["key_id"] = key_id(out)
    return out


def meter_public(meter_id: bytes, y: int, grp: Any = None, info: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    G = _group.get(grp)
    out: Dict[str, Any] = {"format": PUB_FORMAT, "role": "meter", "group": G.name, "meter_id": meter_id.hex(), "y": "%x" % y}
    if info:
        out.update({k: v for k, v in info.items() if k not in out})
    out["key_id"] = key_id(out)
    return out


def check_public(key: Any, role: Optional[str], path: str) -> Dict[str, Any]:
    """Validate a public-key file's contents; one-line errors naming the file."""
    if not isinstance(key, dict):
        raise VeriwattError("key file %s: expected a JSON object" % path)
    if key.get("format") not in (PUB_FORMAT, KEY_FORMAT):
        raise VeriwattError("key file %s: format must be %r (got %r)" % (path, PUB_FORMAT, key.get("format")))
    if role and key.get("role") != role:
        raise VeriwattError("key file %s holds a %s key, expected a %s key" % (path, key.get("role"), role))
    G = group_of(key)
    y = _hex_int(key.get("y"), "key file %s: y" % path)
    if not _group.is_element(y, G):
        raise VeriwattError("key file %s: y is not an element of the group (corrupted or wrong key)" % path)
    if role == "meter":
        mid = key.get("meter_id")
        if not isinstance(mid, str) or len(mid) != 16:
            raise VeriwattError("key file %s: meter_id must be 16 hex digits" % path)
        try:
            bytes.fromhex(mid)
        except ValueError:
            raise VeriwattError("key file %s: meter_id is not hexadecimal" % path)
    if key.get("key_id") not in (None, key_id(key)):
        raise VeriwattError("key file %s: key_id does not match y (file edited?)" % path)
    return key


def load_public(path: str, role: Optional[str]) -> Dict[str, Any]:
    from .tariff import load_json
    return check_public(load_json(path, "%s key" % (role or "public")), role, path)


def load_secret(path: str, role: str = "supplier") -> Dict[str, Any]:
    from .tariff import load_json
    key = load_json(path, "%s secret key" % role)
    if not isinstance(key, dict) or key.get("format") != KEY_FORMAT or "secret" not in key:
        raise VeriwattError("%s is not a veriwatt secret key file (format %r with a `secret`)" % (path, KEY_FORMAT))
    return key


def y_of(key: Dict[str, Any]) -> int:
    return _hex_int(key.get("y"), "key y")


def sign(key: Dict[str, Any], msg: bytes) -> str:
    G = group_of(key)
    try:
        secret = bytes.fromhex(key["secret"])
    except (KeyError, ValueError, TypeError):
        raise VeriwattError("secret key file has no valid `secret` (64 hex digits)")
    sk = _sig.SigningKey(secret, G)
    if "y" in key and sk.y != y_of(key):
        raise VeriwattError("secret key file is inconsistent: its secret does not give its public key y")
    return _sig.encode_sig(sk.sign(msg)).hex()


def verify(pub: Dict[str, Any], msg: bytes, sig_hex: Any) -> bool:
    G = group_of(pub)
    try:
        sig = _sig.decode_sig(bytes.fromhex(sig_hex))
    except (TypeError, ValueError):
        return False
    return _sig.verify(y_of(pub), msg, sig, G)
