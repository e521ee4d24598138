# SPDX-License-Identifier: MIT
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
    """A public value in minimal lowercase hex (jsonio.hex_int: one encoding per value)."""
    from . import jsonio

    return jsonio.hex_int(s, where)


def group_of(key: Dict[str, Any]) -> "_group.Group":
    grp = key.get("group", "2048")
    if not isinstance(grp, str) or grp not in _group.GROUPS:
        raise VeriwattError("unknown group %r in key file (known: \"2048\", \"3072\")" % (grp,))
    try:
        return _group.get(grp)
    except ValueError:
        raise VeriwattError("unknown group %r in key file (known: 2048, 3072)" % key.get("group"))


def fingerprint(key: Dict[str, Any]) -> str:
    """64 hex digits: SHA-256(group name || 0 || y as a fixed-width element), the whole digest
    (pinning a key, e.g. the supplier's registry of meter keys); key_id is its first 16."""
    G = group_of(key)
    y = _hex_int(key.get("y"), "key y")
    return hashlib.sha256(G.name.encode() + b"\x00" + G.elem_bytes(y)).hexdigest()


def key_id(key: Dict[str, Any]) -> str:
    """16 hex digits identifying a public key: SHA-256(group name || y) truncated (fingerprint)."""
    return fingerprint(key)[:16]


def new_supplier_key(grp: str = "2048", secret: Optional[bytes] = None, name: str = "") -> Dict[str, Any]:
    secret = secret if secret is not None else os.urandom(32)
    sk = _sig.SigningKey(secret, grp)
    key = {
        "format": KEY_FORMAT,
        "role": "supplier",
        "name": name,
        "group": sk.grp.name,
        "secret": secret.hex(),
        "y": "%x" % sk.y,
    }
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
    out: Dict[str, Any] = {
        "format": PUB_FORMAT,
        "role": "meter",
        "group": G.name,
        "meter_id": meter_id.hex(),
        "y": "%x" % y,
    }
    if info:
        out.update({k: v for k, v in info.items() if k not in out})
    out["key_id"] = key_id(out)
    return out


PUB_FIELDS = ("format", "role", "group", "y", "key_id")
PUB_OPTIONAL = ("name", "meter_id", "fw_version")


def check_public(key: Any, role: Optional[str], path: str) -> Dict[str, Any]:
    """Validate a public-key file's contents strictly (docs/FORMATS.md); one-line errors naming
    the file. Every field is checked: format, role, group, y (minimal hex, an element of the
    order-q subgroup), key_id (16 hex digits, must match y), meter_id (meter keys: 16 hex)."""
    from . import jsonio

    w = "key file %s:" % path
    if not isinstance(key, dict):
        raise VeriwattError("key file %s: expected a JSON object" % path)
    if key.get("format") != PUB_FORMAT:
        raise VeriwattError("key file %s: format must be %r (got %r)" % (path, PUB_FORMAT, key.get("format")))
    if role and key.get("role") != role:
        raise VeriwattError("key file %s holds a %s key, expected a %s key" % (path, key.get("role"), role))
    if key.get("role") not in ("meter", "supplier"):
        raise VeriwattError("key file %s: role must be \"meter\" or \"supplier\"" % path)
    jsonio.only_keys(key, w, PUB_FIELDS + (("meter_id",) if key["role"] == "meter" else ()), PUB_OPTIONAL)
    G = group_of(key)
    jsonio.element(key.get("y"), G, "%s y" % w)
    if key["role"] == "meter":
        jsonio.hex_bytes(key.get("meter_id"), "%s meter_id" % w, 8)
    elif "meter_id" in key:
        raise VeriwattError("key file %s: a supplier key has no meter_id" % path)
    for k in ("name", "fw_version"):
        if k in key and not isinstance(key[k], str):
            raise VeriwattError("key file %s: %s must be a string" % (path, k))
    jsonio.hex_bytes(key.get("key_id"), "%s key_id" % w, 8)
    if key["key_id"] != key_id(key):
        raise VeriwattError("key file %s: key_id does not match y (file edited?)" % path)
    return key


def load_public(path: str, role: Optional[str]) -> Dict[str, Any]:
    from . import jsonio

    return check_public(jsonio.load(path, "%s key" % (role or "public"), "key"), role, path)


def load_secret(path: str, role: str = "supplier") -> Dict[str, Any]:
    from . import jsonio

    key = jsonio.load(path, "%s secret key" % role, "key")
    if not isinstance(key, dict) or key.get("format") != KEY_FORMAT or "secret" not in key:
        raise VeriwattError("%s is not a veriwatt secret key file (format %r with a `secret`)" % (path, KEY_FORMAT))
    jsonio.hex_bytes(key.get("secret"), "secret key file %s: secret" % path, 32)
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


def parse_sig(sig_hex: Any, G: Any, where: str = "signature") -> "tuple":
    """(e, s) from 128 lowercase hex digits e || s, each a scalar in [0, q); VeriwattError otherwise."""
    from . import jsonio

    if not isinstance(sig_hex, str) or len(sig_hex) != 4 * G.qlen:
        raise VeriwattError("%s must be %d lowercase hex digits (e || s)" % (where, 4 * G.qlen))
    return (
        jsonio.scalar(sig_hex[: 2 * G.qlen], G, where + " e"),
        jsonio.scalar(sig_hex[2 * G.qlen :], G, where + " s"),
    )


def verify(pub: Dict[str, Any], msg: bytes, sig_hex: Any) -> bool:
    """True iff sig_hex is a canonical signature (parse_sig) that verifies under pub."""
    G = group_of(pub)
    try:
        sig = parse_sig(sig_hex, G)
    except VeriwattError:
        return False
    return _sig.verify(y_of(pub), msg, sig, G)
