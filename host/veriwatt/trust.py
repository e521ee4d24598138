# SPDX-License-Identifier: MIT
"""The verifier's trust store: the supplier public keys whose tariffs it accepts.

A tariff's prices are trusted only when the tariff carries a valid signature by a supplier
key the user chose: `--supplier-key FILE` on the command line, or a key added once to the
trust store with `veriwatt trust add supplier.pub.json`. A key carried inside the tariff
file itself is never trusted (anyone can sign a tariff with their own key).

The store is the JSON file TRUST_FILE in $VERIWATT_HOME (default ~/.config/veriwatt),
written with mode 0600 (docs/FORMATS.md):

    {"format": "veriwatt-trust/1", "suppliers": [<supplier.pub.json object>, ...]}
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Optional

from . import jsonio, keys
from .errors import InvalidError, VeriwattError

FORMAT = "veriwatt-trust/1"
TRUST_FILE = "trust.json"


def home() -> Path:
    h = os.environ.get("VERIWATT_HOME")
    return Path(h) if h else Path.home() / ".config" / "veriwatt"


def path() -> Path:
    return home() / TRUST_FILE


def load() -> List[Dict[str, Any]]:
    """The trusted supplier keys (empty when there is no trust store yet)."""
    p = path()
    if not p.exists():
        return []
    obj = jsonio.load(str(p), "trust store", "trust")
    jsonio.only_keys(obj, "trust store %s:" % p, ("format", "suppliers"))
    if obj["format"] != FORMAT or not isinstance(obj["suppliers"], list):
        raise VeriwattError("trust store %s: format must be %r with a `suppliers` list" % (p, FORMAT))
    return [keys.check_public(k, "supplier", "%s (suppliers[%d])" % (p, i)) for i, k in enumerate(obj["suppliers"])]


def save(suppliers: List[Dict[str, Any]]) -> None:
    jsonio.write(str(path()), {"format": FORMAT, "suppliers": suppliers}, private=True)


def add(pub: Dict[str, Any]) -> bool:
    """Add a supplier public key; False when it was already trusted."""
    ks = load()
    if any(k["key_id"] == pub["key_id"] for k in ks):
        return False
    save(ks + [keys.public(pub)])
    return True


def remove(key_id: str) -> bool:
    ks = load()
    keep = [k for k in ks if k["key_id"] != key_id]
    if len(keep) == len(ks):
        return False
    save(keep)
    return True


def supplier_for(obj: Any, supplier_key: Optional[str], where: str) -> Dict[str, Any]:
    """The trusted supplier key to check the signed tariff `obj` against: the --supplier-key
    file if given, else the trust store's key with the id the tariff's signature names.
    InvalidError when the tariff is unsigned or signed by a key that is not trusted."""
    from . import tariff

    if not isinstance(obj, dict):
        raise VeriwattError("tariff file %s: expected a JSON object" % where)
    if obj.get("format") == tariff.FORMAT:
        raise InvalidError(
            "tariff %s is not signed: its prices cannot be trusted; the supplier signs it with "
            "`veriwatt tariff sign`" % where
        )
    if obj.get("format") != tariff.SIGNED_FORMAT:
        raise VeriwattError("tariff file %s: format must be %r" % (where, tariff.SIGNED_FORMAT))
    if supplier_key:
        return keys.load_public(supplier_key, "supplier")
    trusted = load()
    if not trusted:
        raise VeriwattError(
            "no trusted supplier key to check tariff %s against: give --supplier-key "
            "supplier.pub.json, or add your supplier's key once with `veriwatt trust add "
            "supplier.pub.json` (trust store %s)" % (where, path())
        )
    kid = tariff.signer_key_id(obj)
    if kid is None:
        raise InvalidError("tariff %s has no supplier signature naming its key: its prices cannot be trusted" % where)
    for k in trusted:
        if k["key_id"] == kid:
            return k
    raise InvalidError(
        "tariff %s is signed by key %s, which is not in your trust store %s (a tariff from "
        "someone else?); if it really is your supplier's key: veriwatt trust add supplier.pub.json"
        % (where, str(kid)[:16], path())
    )
