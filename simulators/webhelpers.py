# SPDX-License-Identifier: MIT
"""Shared by tests/web and tools/bench_web.py: a synthetic meter's month, the signed tariff,
and the customer's page run under Node (simulators/node_page.mjs)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

from hosthelpers import Meter, with_cycle  # noqa: F401

from veriwatt import keys, slots, tariff

ROOT = Path(__file__).resolve().parents[1]

MP_PKG = ROOT / "web" / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
MONTH = "2026-12"
M_START, M_END = slots.month_range(MONTH, "Europe/London")
WEEK = (M_START, M_START + 7 * 48)


def need_node() -> None:
    import shutil

    assert shutil.which("node"), "node is not installed: run `bash tools/setup`"
    assert (MP_PKG / "micropython.wasm").is_file(), "web/node_modules is missing: run `bash tools/setup` (npm ci)"


def supplier_key() -> Dict[str, Any]:
    return keys.new_supplier_key(secret=b"\x05" * 32, name="test supplier")


def signed_tariff(sk: Dict[str, Any], periods: Optional[List[List[int]]] = None) -> Dict[str, Any]:
    body = tariff.example()
    if periods:
        body = with_cycle(body, *periods)
    return tariff.sign(body, sk)


def offsets(tz: str, start: int, end: int) -> List[int]:
    """The zone's UTC offset (minutes) at each slot (the page gets these from the browser's Intl)."""
    z = slots.zone(tz)
    return [int(slots.slot_start(t).astimezone(z).utcoffset().total_seconds()) // 60 for t in range(start, end)]


def month_request(
    meter: Meter,
    sk: Dict[str, Any],
    signed: Dict[str, Any],
    start: int,
    end: int,
    raw: Optional[Dict[int, bytes]] = None,
) -> Dict[str, Any]:
    raw = raw if raw is not None else meter.raw(start, end)
    return {
        "meter": meter.pub,
        "supplier_key": keys.public(sk),
        "tariff": signed,
        "start_slot": start,
        "end_slot": end,
        "records": [base64.b64encode(raw[t]).decode() for t in sorted(raw)],
    }


def page_input(request: Dict[str, Any]) -> Dict[str, Any]:
    """What page.js hands to vwpage.bill_json: the service's month with its base64 records joined as hex."""
    out = dict(request)
    out["records_hex"] = "".join(base64.b64decode(r).hex() for r in out.pop("records"))
    return out


def run_node_page(
    code: str, meter_id: str, request: Dict[str, Any], tz: str = "Europe/London", now: int = 1796000000
) -> Dict[str, Any]:
    need_node()
    inp = {
        "code": code,
        "meter_id": meter_id,
        "request": page_input(request),
        "offsets": offsets(tz, request["start_slot"], request["end_slot"]),
        "seed": os.urandom(32).hex(),
        "now": now,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(inp, f)
    try:
        p = subprocess.run(
            ["node", str(ROOT / "simulators" / "node_page.mjs"), str(ROOT), f.name],
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        os.unlink(f.name)
    assert p.returncode == 0, "node failed: %s" % p.stderr[-2000:]
    return json.loads(p.stdout)


def tamper(raw: bytes, offset: int) -> bytes:
    b = bytearray(raw)
    b[offset] ^= 1
    return bytes(b)


C_OFFSET = 14 + 100  # a byte inside C of a 2048-bit record (wire: 14-byte head, then C)
CT_OFFSET = 14 + 256 + 64 + 3  # a byte inside the ciphertext
SIG_OFFSET = 14 + 256 + 10  # a byte inside e
