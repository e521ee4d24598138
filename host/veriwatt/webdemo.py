# SPDX-License-Identifier: MIT
"""The demo's web step (`veriwatt demo`, `make demo`; `veriwatt demo --serve` keeps it up):
start the supplier's service on the demo's files, register the demo meters (public key and
access-token verifier: the customer codes stay in the demo), upload their month over HTTP as
`veriwatt upload` does, check that a meter's page would get its cycle, and print the address a
person opens to bill the month in a browser (docs/WEB.md)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, Sequence

from . import jsonio, keys, webaccess, webclient
from .errors import VeriwattError


def run(
    out: Path,
    meters: Sequence[Dict[str, Any]],
    serve: bool = False,
    port: int = 0,
    host: str = "127.0.0.1",
    say: Any = print,
) -> Dict[str, Any]:
    """meters: the demo's provisioning results (meter_id, pub, customer_key, customer_code)."""
    from . import webserve
    from .store import Store

    spub = keys.load_public(str(out / "supplier.pub.json"), "supplier")
    signed = jsonio.load(str(out / "tariff.json"), "tariff")
    for name in ("service.db", "service.db-wal", "service.db-shm"):
        (out / name).unlink(missing_ok=True)
    verifiers = [
        (
            m["pub"],
            webaccess.verifier_of(webaccess.token_from_key(m["customer_key"], bytes.fromhex(m["meter_id"])).hex()),
        )
        for m in meters
    ]
    srv = webserve.Server(str(out / "service.db"), spub, out / "supplier.token", [signed], verifiers)
    url = srv.start(host, port if serve else 0)
    try:
        with Store(str(out / "veriwatt.db")) as st:
            raws = [r for m in meters for _, r in st.records(m["meter_id"])]
        t0 = time.monotonic()
        up = webclient.upload(url, raws)
        secs = time.monotonic() - t0
        if up["rejected"] or up["added"] != len(raws):
            raise VeriwattError("the demo's upload to the service was refused: %s" % up["reasons"][:3])
        m = meters[-1]
        tok = webaccess.token_from_key(m["customer_key"], bytes.fromhex(m["meter_id"])).hex()
        cyc = webclient.call(url, "GET", "/api/meters/%s/cycles" % m["meter_id"], headers={"x-veriwatt-access": tok})
        complete = [c["cycle"] for c in cyc["cycles"] if c["records"] == c["slots"]]
        res = {
            "url": url,
            "database": str(out / "service.db"),
            "token_file": str(out / "supplier.token"),
            "uploaded": up["added"],
            "upload_records_per_s": round(len(raws) / secs, 1) if secs else None,
            "page": "%s?meter=%s" % (url, m["meter_id"]),
            "meter_id": m["meter_id"],
            "complete_cycles": complete,
        }
        say(
            "  web        service %s: %d records uploaded over HTTP (%.0f records/s), cycle %s ready to bill in a browser"
            % (url, up["added"], res["upload_records_per_s"] or 0, ", ".join(complete) or "none")
        )
        if serve:
            say("")
            say(
                "open %s and type the customer code %s (meter %s); Ctrl-C stops the service"
                % (res["page"], m["customer_code"], m["meter_id"])
            )
            _wait(srv)
        return res
    finally:
        srv.stop()


def _wait(srv: Any) -> None:
    try:
        while srv.thread is not None and srv.thread.is_alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass


def available() -> bool:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401

        return True
    except ImportError:
        return False
