# SPDX-License-Identifier: MIT
"""Supplier-signed JSON files other than tariffs (profile sets, sampling beacons), with the
tariff conventions (veriwatt/tariff.py, docs/TARIFF.md):

    {"format": SIGNED_FORMAT, FIELD: <body>, "digest": "sha256:<hex>",
     "signature": {"alg": "schnorr-vw1", "key_id": <16 hex>, "sig": <128 hex>}}

digest = SHA-256 of the canonical JSON of the body (tariff.canonical: sorted keys, no
spaces, ASCII, integers only); the Schnorr signature (vwcore.sig) covers DOMAIN || digest,
with a domain per kind of file, so a signature on a tariff never passes for a profile set
or a beacon. The key checked against is the one the verifier pins (--supplier-key, else
the trust store entry with the key id the signature names: veriwatt.trust), never a key
carried by the file.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Generic, Optional, TypeVar

from . import jsonio, keys, trust
from . import tariff as _tariff
from .errors import InvalidError, VeriwattError


class Kind:
    """One kind of signed file: its body format, signed format, body field and domain."""

    def __init__(self, what: str, fmt: str, signed_fmt: str, field: str, domain: bytes, cap_kind: str) -> None:
        self.what, self.fmt, self.signed_fmt, self.field = what, fmt, signed_fmt, field
        self.domain, self.cap_kind = domain, cap_kind


def digest(body: Dict[str, Any]) -> str:
    return _tariff.digest(body)


def sign(kind: Kind, body: Dict[str, Any], supplier_key: Dict[str, Any]) -> Dict[str, Any]:
    d = digest(body)
    sig = keys.sign(supplier_key, kind.domain + d.encode())
    return {
        "format": kind.signed_fmt,
        kind.field: body,
        "digest": d,
        "signature": {"alg": keys.ALG, "key_id": keys.key_id(supplier_key), "sig": sig},
    }


def pinned_key(kind: Kind, obj: Any, supplier_key_path: Optional[str], where: str) -> Dict[str, Any]:
    """The trusted supplier key for a signed file: --supplier-key, else the trust store's key
    that the signature names. InvalidError when unsigned or signed by an untrusted key."""
    if not isinstance(obj, dict):
        raise VeriwattError("%s file %s: expected a JSON object" % (kind.what, where))
    if obj.get("format") == kind.fmt:
        raise InvalidError(
            "%s %s is not signed: it cannot be trusted; the supplier signs it first" % (kind.what, where)
        )
    if obj.get("format") != kind.signed_fmt:
        raise VeriwattError("%s file %s: format must be %r" % (kind.what, where, kind.signed_fmt))
    if supplier_key_path:
        return keys.load_public(supplier_key_path, "supplier")
    trusted = trust.load()
    if not trusted:
        raise VeriwattError(
            "no trusted supplier key to check %s %s against: give --supplier-key supplier.pub.json "
            "or `veriwatt trust add supplier.pub.json`" % (kind.what, where)
        )
    kid = _tariff.signer_key_id(obj)
    for k in trusted:
        if k["key_id"] == kid:
            return k
    raise InvalidError(
        "%s %s is signed by key %s, which is not in your trust store %s"
        % (kind.what, where, str(kid)[:16], trust.path())
    )


def parse(kind: Kind, obj: Any, supplier_pub: Dict[str, Any], where: str) -> Dict[str, Any]:
    """The body of a signed file after checking its fields and the signature by supplier_pub."""
    if not isinstance(obj, dict):
        raise VeriwattError("%s file %s: expected a JSON object" % (kind.what, where))
    if obj.get("format") == kind.fmt:
        raise InvalidError("%s %s is not signed: it cannot be trusted" % (kind.what, where))
    if obj.get("format") != kind.signed_fmt:
        raise VeriwattError("%s file %s: format must be %r" % (kind.what, where, kind.signed_fmt))
    jsonio.only_keys(obj, "%s file %s:" % (kind.what, where), ("format", kind.field, "digest", "signature"))
    body = obj[kind.field]
    if not isinstance(body, dict):
        raise VeriwattError("%s file %s: `%s` must be an object" % (kind.what, where, kind.field))
    d = digest(body)
    if obj["digest"] != d:
        raise InvalidError(
            "%s %s: its stated digest does not match its contents (changed after signing)" % (kind.what, where)
        )
    sig = obj["signature"]
    jsonio.only_keys(sig, "%s %s: signature" % (kind.what, where), ("alg", "key_id", "sig"))
    if sig["alg"] != keys.ALG:
        raise InvalidError("%s %s: signature alg must be %r" % (kind.what, where, keys.ALG))
    if sig["key_id"] != keys.key_id(supplier_pub):
        raise InvalidError(
            "%s %s was signed by key %s, not by the trusted supplier key %s"
            % (kind.what, where, str(sig["key_id"])[:16], keys.key_id(supplier_pub))
        )
    try:
        keys.parse_sig(sig["sig"], keys.group_of(supplier_pub), "signature")
    except VeriwattError as e:
        raise InvalidError("%s %s: malformed supplier signature: %s" % (kind.what, where, e))
    if not keys.verify(supplier_pub, kind.domain + d.encode(), sig["sig"]):
        raise InvalidError(
            "%s %s: the supplier's signature does not verify (changed, or wrong supplier key)" % (kind.what, where)
        )
    return body


def load(kind: Kind, path: str, supplier_key_path: Optional[str]) -> Dict[str, Any]:
    """Read (size cap of its kind), pin the supplier key, check, return the body."""
    obj = jsonio.load(path, kind.what, kind.cap_kind)
    return parse(kind, obj, pinned_key(kind, obj, supplier_key_path, path), path)


T = TypeVar("T")


class Typed(Generic[T]):
    """sign / parse_signed / load_signed of one kind of signed file whose body is validated
    by `cls(body, where)` (a profile set, a beacon): one implementation for every kind."""

    def __init__(self, kind: Kind, cls: Callable[..., T]) -> None:
        self.kind, self.cls = kind, cls

    def sign(self, body: Dict[str, Any], supplier_key: Dict[str, Any]) -> Dict[str, Any]:
        """Validate a body and wrap it with the supplier's signature."""
        self.cls(body)
        return sign(self.kind, body, supplier_key)

    def parse_signed(self, obj: Any, supplier_pub: Dict[str, Any], where: Optional[str] = None) -> T:
        """The validated body of a signed file whose signature verifies under supplier_pub."""
        where = where or self.kind.what
        return self.cls(parse(self.kind, obj, supplier_pub, where), where)

    def load_signed(self, path: str, supplier_key_path: Optional[str] = None) -> T:
        """The validated body of a signed file whose signature verifies under the pinned supplier key."""
        return self.cls(load(self.kind, path, supplier_key_path), path)
