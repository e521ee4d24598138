# SPDX-License-Identifier: MIT
"""Running the supplier's service (`veriwatt serve`, `veriwatt demo --serve`, the tests):
open the database, create or read the supplier token file (0600), publish tariffs, register
meters, then uvicorn in the foreground (`run`) or in a background thread (`start`/`stop`).
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

from .errors import VeriwattError


class Server:
    def __init__(
        self,
        database: str,
        supplier_pub: Dict[str, Any],
        token_file: Path,
        tariffs: Sequence[Dict[str, Any]] = (),
        meters: Sequence[Tuple[Dict[str, Any], str]] = (),
        limits: Any = None,
        wrap: Any = None,
    ) -> None:
        """wrap: an optional ASGI middleware factory around the app (tests record traffic with it)."""
        try:
            from . import webapp
            from .supplierdb import SupplierDB
            from .webservice import Service, ServiceError
        except ImportError as e:
            raise VeriwattError("veriwatt serve needs the web extras (%s): pip install 'veriwatt[web]'" % e)
        self.service = Service(SupplierDB.open(database), supplier_pub)
        self.token = webapp.ensure_token_file(token_file)
        for t in tariffs:
            try:
                self.service.publish_tariff(t)
            except ServiceError as e:
                raise VeriwattError("tariff refused: %s" % e.reason)
        for pub, verifier in meters:
            try:
                self.service.register_meter(pub, verifier)
            except ServiceError as e:
                raise VeriwattError("meter %s refused: %s" % (pub.get("meter_id"), e.reason))
        self.app = webapp.create_app(self.service, self.token, limits)
        if wrap is not None:
            self.app = wrap(self.app)
        self.sock: Optional[socket.socket] = None
        self.uv: Any = None
        self.thread: Optional[threading.Thread] = None

    def bind(self, host: str, port: int) -> int:
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise VeriwattError("cannot listen on %s:%d: %s" % (host, port, e.strerror or e))
        s.listen(128)
        self.sock = s
        return s.getsockname()[1]

    def url(self, host: str, port: int) -> str:
        if self.sock is None:
            port = self.bind(host, port)
        return "http://%s:%d/" % (host if ":" not in host else "[%s]" % host, self.sock.getsockname()[1])

    def _uvicorn(self) -> Any:
        import uvicorn

        cfg = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", server_header=False, timeout_keep_alive=5
        )
        self.uv = uvicorn.Server(cfg)
        return self.uv

    def run(self, host: str, port: int) -> None:
        if self.sock is None:
            self.bind(host, port)
        self._uvicorn().run(sockets=[self.sock])

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread; returns the URL once the server accepts connections."""
        url = self.url(host, port)
        srv = self._uvicorn()
        srv.config.install_signal_handlers = False  # not the main thread
        self.thread = threading.Thread(target=srv.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        t0 = time.monotonic()
        while not srv.started:
            if time.monotonic() - t0 > 30 or not self.thread.is_alive():
                raise VeriwattError("the web service did not start")
            time.sleep(0.02)
        return url

    def stop(self) -> None:
        if self.uv is not None:
            self.uv.should_exit = True
        if self.thread is not None:
            self.thread.join(10)
        self.service.db.close()
