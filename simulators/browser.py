# SPDX-License-Identifier: MIT
"""The customer's browser for tests and benchmarks (imported by tests/web and tools/bench_web.py):
headless Chromium (Debian's chromium + chromium-driver) driven by Selenium, and a live
`veriwatt serve` in a thread whose traffic is recorded (every request and body it received)."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

from veriwatt import webserve


class Recorder:
    """ASGI middleware: keeps every request the server received (method, path, query, headers, body)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: List[Dict[str, Any]] = []

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        entry = {
            "method": scope["method"],
            "path": scope["path"],
            "query": scope.get("query_string", b"").decode(),
            "headers": {k.decode(): v.decode("latin-1") for k, v in scope["headers"]},
            "body": b"",
        }
        self.seen.append(entry)

        async def rec() -> Dict[str, Any]:
            msg = await receive()
            if msg["type"] == "http.request":
                entry["body"] += msg.get("body", b"")
            return msg

        await self.app(scope, rec, send)


class LiveService:
    def __init__(self, world: Any, tmp: Path, database: str = "") -> None:
        holder: Dict[str, Recorder] = {}

        def wrap(app: Any) -> Recorder:
            holder["r"] = Recorder(app)
            return holder["r"]

        self.server = webserve.Server(
            database or str(tmp / "svc.db"),
            world.spub,
            tmp / "supplier.token",
            [world.tariff],
            [(world.meter.pub, world.verifier)],
            wrap=wrap,
        )
        self.recorder = holder["r"]
        self.url = self.server.start()
        self.db = self.server.service.db

    def upload(self, raws: List[bytes]) -> Dict[str, Any]:
        return self.server.service.intake(raws)

    def stop(self) -> None:
        self.server.stop()


def chrome() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as CService

    drv = shutil.which("chromedriver")
    assert drv and shutil.which("chromium"), "chromium/chromium-driver not installed: run `bash tools/setup`"
    o = webdriver.ChromeOptions()
    o.binary_location = shutil.which("chromium")
    for a in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1100,1500",
        "--user-data-dir=" + tempfile.mkdtemp(prefix="vw-chrome-"),
    ):
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    return webdriver.Chrome(service=CService(drv), options=o)


def wait_state(d: Any, states: tuple, timeout: float = 300) -> str:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        s = d.execute_script("return window.veriwatt && window.veriwatt.state")
        if s in states:
            return s
        time.sleep(0.1)
    raise AssertionError(
        "page stayed in state %r; error: %r"
        % (d.execute_script("return window.veriwatt && window.veriwatt.state"), d.find_element("id", "error").text)
    )


def open_and_bill(d: Any, url: str, meter_id: str, code: str) -> str:
    d.get(url)
    wait_state(d, ("ready", "error"), 120)
    d.find_element("id", "meter").send_keys(meter_id)
    d.find_element("id", "code").send_keys(code)
    d.find_element("id", "go").click()
    if wait_state(d, ("unlocked", "error")) == "error":
        return "error"
    d.find_element("id", "bill").click()
    return wait_state(d, ("done", "error"))


def browser_requests(d: Any) -> List[Dict[str, Any]]:
    """Every request the browser sent (Chrome DevTools Network.requestWillBeSent events)."""
    out = []
    for e in d.get_log("performance"):
        m = json.loads(e["message"])["message"]
        if m.get("method") == "Network.requestWillBeSent":
            r = m["params"]["request"]
            out.append(
                {"url": r["url"], "method": r["method"], "headers": r.get("headers", {}), "body": r.get("postData", "")}
            )
    return out
