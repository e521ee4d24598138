# SPDX-License-Identifier: MIT
"""Client side of `veriwatt serve` for tools (docs/WEB.md): upload records, register meters,
publish tariffs. Plain HTTP(S) with the standard library (urllib), JSON bodies.

    upload(server, raws)                                   -> intake counts (records are self-authenticating)
    register(server, token, meter_pub, access_verifier)    -> {"meter_id", "registered"}
    publish(server, token, signed_tariff)                  -> {"digest", "published"}
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Dict, Optional, Sequence

from .errors import DeviceError, VeriwattError
from .webservice import encode_upload

BATCH = 1000  # records per request (about 520 KB of JSON for the 2048-bit group)


def _url(server: str, path: str) -> str:
    if not server.startswith(("http://", "https://")):
        raise VeriwattError("--server must be an http:// or https:// URL (got %r)" % server)
    return server.rstrip("/") + path


def call(
    server: str,
    method: str,
    path: str,
    body: Optional[bytes] = None,
    headers: Optional[Dict[str, str]] = None,
    timeout: float = 300.0,
) -> Dict[str, Any]:
    """One request; the JSON answer, or VeriwattError (4xx: the service's reason; exit 2),
    DeviceError (no answer, 5xx: exit 3)."""
    h = {"content-type": "application/json", "accept": "application/json"}
    h.update(headers or {})
    req = urllib.request.Request(_url(server, path), data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read().decode())
    except urllib.error.HTTPError as e:
        try:
            j = json.loads(e.read().decode())
        except ValueError:
            j = {}
        if isinstance(j, dict) and "error" not in j and e.code in (409, 422):
            return j  # a verdict (e.g. a bill refused), not an error of the request
        reason = j.get("error") if isinstance(j, dict) else None
        if e.code >= 500:
            raise DeviceError("server %s: HTTP %d %s" % (server, e.code, reason or e.reason))
        raise VeriwattError("server %s refused: HTTP %d: %s" % (server, e.code, reason or e.reason))
    except (urllib.error.URLError, OSError) as e:
        raise DeviceError("cannot reach %s: %s" % (server, getattr(e, "reason", e)))


def upload(server: str, raws: Sequence[bytes], batch: int = BATCH) -> Dict[str, Any]:
    """Send records in batches; the summed intake counts and the first refusals' reasons."""
    tot: Dict[str, Any] = {"sent": 0, "added": 0, "duplicates": 0, "rejected": 0, "reasons": []}
    for i in range(0, len(raws), batch):
        part = list(raws[i : i + batch])
        r = call(server, "POST", "/api/records", encode_upload(part))
        tot["sent"] += len(part)
        for k in ("added", "duplicates", "rejected"):
            tot[k] += int(r.get(k, 0))
        tot["reasons"] += r.get("reasons", [])[:20]
    return tot


def upload_store(
    server: str, store: Any, meter_ids: Sequence[str], start: Optional[int] = None, end: Optional[int] = None
) -> Dict[str, Any]:
    """Upload the stored records of these meters (a veriwatt.store.Store), optionally only the
    slots [start, end): `veriwatt upload` and `veriwatt fetch --upload`."""
    raws = [r for m in meter_ids for _, r in store.records(m, start, end)]
    res = upload(server, raws)
    res["meters"] = list(meter_ids)
    return res


def _bearer(token: str) -> Dict[str, str]:
    return {"authorization": "Bearer " + token}


def register(server: str, token: str, meter_pub: Dict[str, Any], access_verifier: str) -> Dict[str, Any]:
    body = json.dumps({"pubkey": meter_pub, "access_verifier": access_verifier}).encode()
    return call(server, "POST", "/api/meters", body, _bearer(token))


def publish(server: str, token: str, signed: Dict[str, Any]) -> Dict[str, Any]:
    return call(server, "POST", "/api/tariffs", json.dumps(signed).encode(), _bearer(token))


def read_token(path: str) -> str:
    try:
        tok = open(path).read().strip()
    except OSError as e:
        raise VeriwattError("token file %s: %s" % (path, e.strerror or e))
    if len(tok) != 64:
        raise VeriwattError("token file %s does not hold the service's 64-hex-digit token" % path)
    return tok
