# SPDX-License-Identifier: MIT
"""The HTTP layer of `veriwatt serve`: a Starlette ASGI application over veriwatt.webservice.

    app = create_app(service, supplier_token, Limits())
    uvicorn.run(app, host=..., port=...)

Routes, authentication and limits are documented in docs/WEB.md and served as OpenAPI 3.1 at
/openapi.json (built from ROUTES below, so the document and the routes cannot drift apart).

- Supplier actions need `Authorization: Bearer <token>` (the token file `veriwatt serve`
  creates with mode 0600); the customer's page shows `X-Veriwatt-Access: <access token>`
  (veriwatt.webaccess), never in a URL (URLs end up in logs).
- Hostile clients: request bodies are capped while they are read (413), JSON must be sent as
  application/json (415), verifications that cost real time (record intake, bills) are rate
  limited per client (429 with Retry-After), and a POST from another origin is refused (403:
  CSRF; no CORS header is ever sent, so other sites' scripts cannot read any answer).
  Every response carries a strict Content-Security-Policy ('self' only; 'wasm-unsafe-eval' for
  the MicroPython WebAssembly module), nosniff, no referrer, no framing, no caching of the API.
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from . import __version__, jsonio, resources
from .errors import VeriwattError
from .webservice import Service, ServiceError, decode_upload

CSP = (
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


class Limits:
    """Body caps (bytes) and rate limits (requests per minute per client, with a burst)."""

    def __init__(
        self,
        json_body: int = 1 << 20,
        upload_body: int = 4 << 20,
        bill_body: int = 8 << 20,
        bills_per_minute: float = 6,
        bill_burst: int = 3,
        uploads_per_minute: float = 20,
        upload_burst: int = 10,
    ) -> None:
        self.json_body, self.upload_body, self.bill_body = json_body, upload_body, bill_body
        self.bills = (bills_per_minute, bill_burst)
        self.uploads = (uploads_per_minute, upload_burst)


class RateLimiter:
    """A token bucket per client: `rate` per minute, at most `burst` at once. At most MAX_KEYS
    clients are tracked (full buckets are forgotten first: a flood of addresses cannot grow it)."""

    MAX_KEYS = 10000

    def __init__(self, per_minute: float, burst: int) -> None:
        self.rate, self.burst = per_minute / 60.0, float(burst)
        self.buckets: Dict[str, Tuple[float, float]] = {}
        self.lock = threading.Lock()

    def take(self, key: str) -> Optional[float]:
        """None if allowed, else the seconds until the next request would be."""
        now = time.monotonic()
        with self.lock:
            if len(self.buckets) >= self.MAX_KEYS and key not in self.buckets:
                self._prune(now)
            tokens, last = self.buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self.buckets[key] = (tokens - 1, now)
                return None
            self.buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate if self.rate > 0 else 3600.0

    def _prune(self, now: float) -> None:
        full = [k for k, (t, last) in self.buckets.items() if t + (now - last) * self.rate >= self.burst]
        for k in full or list(self.buckets)[: len(self.buckets) // 2]:
            del self.buckets[k]


def error(status: int, reason: str, headers: Optional[Dict[str, str]] = None) -> JSONResponse:
    return JSONResponse({"error": reason, "status": status}, status_code=status, headers=headers)


def ensure_token_file(path: Path) -> str:
    """The supplier's bearer token: read from `path`, or 32 random bytes (hex) written there with
    mode 0600 from creation (O_CREAT | O_EXCL)."""
    if path.exists():
        if path.stat().st_mode & 0o077:
            raise VeriwattError("token file %s is readable by others: chmod 600 it (or delete it for a new one)" % path)
        tok = path.read_text().strip()
        if len(tok) != 64:
            raise VeriwattError("token file %s does not hold a 64-hex-digit token (delete it for a new one)" % path)
        return tok
    tok = os.urandom(32).hex()
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(tok + "\n")
    return tok


def web_root() -> Path:
    """web/ of the checkout: static/ (the page) and node_modules/ (MicroPython wasm, chart.js)."""
    return resources.data_root() / "web"


def asset_table() -> Dict[str, Tuple[Path, str]]:
    """Every file the service serves besides the API (an allow-list: no path from a URL ever
    reaches the file system)."""
    w = web_root()
    mp = w / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
    out = {
        "/": (w / "static" / "index.html", "text/html; charset=utf-8"),
        "/static/page.js": (w / "static" / "page.js", "text/javascript; charset=utf-8"),
        "/static/tz.js": (w / "static" / "tz.js", "text/javascript; charset=utf-8"),
        "/static/page.css": (w / "static" / "page.css", "text/css; charset=utf-8"),
        "/py/vwpage.py": (w / "static" / "vwpage.py", "text/x-python; charset=utf-8"),
        "/npm/micropython/micropython.mjs": (mp / "micropython.mjs", "text/javascript; charset=utf-8"),
        "/npm/micropython/micropython.wasm": (mp / "micropython.wasm", "application/wasm"),
        "/npm/chart.js/chart.umd.js": (
            w / "node_modules" / "chart.js" / "dist" / "chart.umd.js",
            "text/javascript; charset=utf-8",
        ),
    }
    for f in sorted((resources.firmware_dir() / "vwcore").glob("*.py")):
        out["/py/vwcore/" + f.name] = (f, "text/x-python; charset=utf-8")
    return out


class SecurityHeaders:
    """ASGI middleware: the headers above on every response; no-store on the API."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope.get("path", "").startswith("/api/")

        async def send_with(msg: Dict[str, Any]) -> None:
            if msg["type"] == "http.response.start":
                hs = [h for h in msg.get("headers", []) if h[0].lower() not in {k for k, _ in SECURITY_HEADERS}]
                hs += SECURITY_HEADERS
                if api:
                    hs.append((b"cache-control", b"no-store"))
                msg = dict(msg, headers=hs)
            await send(msg)

        await self.app(scope, receive, send_with)


class App:
    """The routes' handlers over one Service."""

    def __init__(self, service: Service, supplier_token: str, limits: Limits) -> None:
        self.svc, self.token, self.limits = service, supplier_token, limits
        self.bill_rl = RateLimiter(*limits.bills)
        self.upload_rl = RateLimiter(*limits.uploads)
        self.assets = asset_table()

    # ---------------------------------------------------------------- request helpers
    def origin_ok(self, req: Request) -> bool:
        o = req.headers.get("origin")
        return o is None or o == "%s://%s" % (req.url.scheme, req.headers.get("host", ""))

    async def body(self, req: Request, cap: int, json_body: bool = True) -> bytes:
        if not self.origin_ok(req):
            raise ServiceError(403, "cross-origin request refused (CSRF): this API is only for its own page and tools")
        if json_body and req.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise ServiceError(415, "send the body as Content-Type: application/json")
        cl = req.headers.get("content-length")
        if cl is not None and (not cl.isdigit() or int(cl) > cap):
            raise ServiceError(413, "request body larger than %d bytes" % cap)
        chunks, n = [], 0
        async for c in req.stream():
            n += len(c)
            if n > cap:
                raise ServiceError(413, "request body larger than %d bytes" % cap)
            chunks.append(c)
        return b"".join(chunks)

    async def json(self, req: Request, cap: int) -> Any:
        raw = await self.body(req, cap)
        try:
            return jsonio.loads(raw.decode("utf-8"), "request", "request body")
        except (UnicodeDecodeError, VeriwattError) as e:
            raise ServiceError(400, "the body is not strict JSON: %s" % e)

    def supplier(self, req: Request) -> None:
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not hmac.compare_digest(auth[7:].strip().encode(), self.token.encode()):
            raise ServiceError(
                401, "supplier actions need Authorization: Bearer <token> (the token file of veriwatt serve)"
            )

    @staticmethod
    def access(req: Request) -> str:
        return req.headers.get("x-veriwatt-access", "")

    def limit(self, rl: RateLimiter, req: Request, what: str) -> None:
        wait = rl.take(req.client.host if req.client else "?")
        if wait is not None:
            e = ServiceError(429, "too many %s from this client: try again in %d s" % (what, int(wait) + 1))
            e.retry_after = int(wait) + 1  # type: ignore[attr-defined]
            raise e

    @staticmethod
    def slot_args(req: Request) -> Tuple[int, int]:
        try:
            a, b = int(req.query_params["start"]), int(req.query_params["end"])
        except (KeyError, ValueError):
            raise ServiceError(400, "give the cycle as ?start=SLOT&end=SLOT (integers)")
        if not 0 <= a < b < 1 << 32 or b - a > 100000:
            raise ServiceError(400, "start/end out of range")
        return a, b

    # ---------------------------------------------------------------- handlers
    async def asset(self, req: Request) -> Response:
        f = self.assets.get(req.url.path)
        if f is None or not f[0].is_file():
            return error(404, "no such file%s" % ("" if f is None else ": run `bash tools/setup` (npm packages)"))
        return FileResponse(f[0], media_type=f[1], headers={"cache-control": "no-cache"})

    async def openapi(self, req: Request) -> Response:
        return JSONResponse(openapi_doc())

    async def info(self, req: Request) -> Response:
        from . import keys

        ts = self.svc.db.tariffs()
        return JSONResponse(
            {
                "service": "veriwatt",
                "version": __version__,
                "supplier_key": keys.public(self.svc.supplier_pub),
                "tariff": ts[-1]["digest"] if ts else None,
                "database": "postgresql" if self.svc.db.pg else "sqlite",
            }
        )

    async def tariffs(self, req: Request) -> Response:
        return JSONResponse({"tariffs": [t["signed"] for t in await run_in_threadpool(self.svc.db.tariffs)]})

    async def publish_tariff(self, req: Request) -> Response:
        self.supplier(req)
        obj = await self.json(req, self.limits.json_body)
        return JSONResponse(await run_in_threadpool(self.svc.publish_tariff, obj), status_code=201)

    async def register_meter(self, req: Request) -> Response:
        self.supplier(req)
        obj = await self.json(req, self.limits.json_body)
        if not isinstance(obj, dict) or set(obj) != {"pubkey", "access_verifier"}:
            raise ServiceError(400, "register a meter with {\"pubkey\": meter.pub.json, \"access_verifier\": hex}")
        return JSONResponse(
            await run_in_threadpool(self.svc.register_meter, obj["pubkey"], obj["access_verifier"]), status_code=201
        )

    async def list_meters(self, req: Request) -> Response:
        self.supplier(req)
        return JSONResponse({"meters": await run_in_threadpool(self.svc.db.meters)})

    async def ledger(self, req: Request) -> Response:
        self.supplier(req)
        return JSONResponse({"bills": await run_in_threadpool(self.svc.db.bills, req.query_params.get("meter"))})

    async def gaps(self, req: Request) -> Response:
        self.supplier(req)
        a, b = self.slot_args(req)
        return JSONResponse(await run_in_threadpool(self.svc.gaps, req.query_params.get("meter", ""), a, b))

    async def rejects(self, req: Request) -> Response:
        self.supplier(req)
        return JSONResponse({"rejects": await run_in_threadpool(self.svc.db.rejects, req.query_params.get("meter"))})

    async def upload(self, req: Request) -> Response:
        self.limit(self.upload_rl, req, "uploads")
        raws = decode_upload(await self.json(req, self.limits.upload_body))
        return JSONResponse(await run_in_threadpool(self.svc.intake, raws))

    async def cycles(self, req: Request) -> Response:
        return JSONResponse(await run_in_threadpool(self.svc.cycles, req.path_params["meter_id"], self.access(req)))

    async def month(self, req: Request) -> Response:
        a, b = self.slot_args(req)
        return JSONResponse(
            await run_in_threadpool(self.svc.month, req.path_params["meter_id"], self.access(req), a, b)
        )

    async def submit_bill(self, req: Request) -> Response:
        mid = req.path_params["meter_id"]
        await run_in_threadpool(self.svc.authorize, mid, self.access(req))
        self.limit(self.bill_rl, req, "bills")
        raw = await self.body(req, self.limits.bill_body)
        out = await run_in_threadpool(self.svc.receive_bill, mid, self.access(req), raw)
        return JSONResponse(out, status_code=201 if out["recorded"] else (409 if out["valid"] else 422))

    async def meter_bills(self, req: Request) -> Response:
        return JSONResponse(await run_in_threadpool(self.svc.bills, req.path_params["meter_id"], self.access(req)))


# method, path, handler name, auth ("supplier", "access", None), summary
ROUTES: List[Tuple[str, str, str, Optional[str], str]] = [
    ("GET", "/api/info", "info", None, "The service: version, the supplier's public key, the current tariff's digest"),
    ("GET", "/api/tariffs", "tariffs", None, "Every published signed tariff (veriwatt-signed-tariff/1), oldest first"),
    ("POST", "/api/tariffs", "publish_tariff", "supplier", "Publish a signed tariff (verified under the supplier key)"),
    ("POST", "/api/meters", "register_meter", "supplier", "Register a meter: {pubkey, access_verifier}"),
    ("GET", "/api/meters", "list_meters", "supplier", "Registered meters with their record counts"),
    ("GET", "/api/ledger", "ledger", "supplier", "The billing-cycle ledger (?meter=ID)"),
    ("GET", "/api/ledger/gaps", "gaps", "supplier", "Cycles of a meter without a recorded bill (?meter=&start=&end=)"),
    ("GET", "/api/rejects", "rejects", "supplier", "Records intake refused, with reasons (?meter=ID)"),
    ("POST", "/api/records", "upload", None, "Intake of certified encrypted records {records: [base64]}; rate limited"),
    (
        "GET",
        "/api/meters/{meter_id}/cycles",
        "cycles",
        "access",
        "The meter's billing cycles, completeness, bill status",
    ),
    (
        "GET",
        "/api/meters/{meter_id}/month",
        "month",
        "access",
        "One cycle's encrypted records, keys and tariff (?start=&end=)",
    ),
    (
        "POST",
        "/api/meters/{meter_id}/bills",
        "submit_bill",
        "access",
        "Submit a bill: verified, then recorded; rate limited",
    ),
    ("GET", "/api/meters/{meter_id}/bills", "meter_bills", "access", "The meter's recorded bills"),
]


def openapi_doc() -> Dict[str, Any]:
    paths: Dict[str, Any] = {}
    for method, path, _h, auth, summary in ROUTES:
        op: Dict[str, Any] = {
            "summary": summary,
            "operationId": _h,
            "responses": {
                "200": {"description": "OK (201 when created)"},
                "4XX": {"description": "refused: {\"error\": one-line reason, \"status\": code}"},
            },
        }
        if auth:
            op["security"] = [{"supplierBearer": []}] if auth == "supplier" else [{"meterAccess": []}]
        if "{meter_id}" in path:
            op["parameters"] = [
                {
                    "name": "meter_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
                }
            ]
        if method == "POST":
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
        paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "veriwatt supplier service",
            "version": __version__,
            "description": "The customer's browser computes the bill; this service verifies it (docs/WEB.md).",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "supplierBearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the token in the file `veriwatt serve` creates (mode 0600)",
                },
                "meterAccess": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Veriwatt-Access",
                    "description": "HKDF-SHA256 of the customer code (veriwatt.webaccess)",
                },
            }
        },
    }


def _wrap(fn: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    async def handler(req: Request) -> Response:
        try:
            return await fn(req)
        except ServiceError as e:
            ra = getattr(e, "retry_after", None)
            hdr = {"retry-after": str(ra)} if ra is not None else None
            return error(e.status, e.reason, hdr)

    return handler


def create_app(service: Service, supplier_token: str, limits: Optional[Limits] = None) -> Any:
    a = App(service, supplier_token, limits or Limits())
    routes = [Route(path, _wrap(getattr(a, h)), methods=[m]) for m, path, h, _auth, _s in ROUTES]
    routes.append(Route("/openapi.json", _wrap(a.openapi), methods=["GET"]))
    routes += [Route(p, _wrap(a.asset), methods=["GET"]) for p in a.assets]

    async def not_found(req: Request, exc: Exception) -> Response:
        code = getattr(exc, "status_code", 404)
        return error(code, {404: "no such path", 405: "method not allowed"}.get(code, "bad request"))

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    return SecurityHeaders(app)
