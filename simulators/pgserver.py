# SPDX-License-Identifier: MIT
"""A real PostgreSQL server in a temporary folder (Debian's postgresql: initdb, pg_ctl), on a
free port and a private socket folder. Run as root, the server runs as `nobody`. Used by the
web tests' fixture and tools/bench_web.py. Raises AssertionError when it cannot start."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import List


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pg_bin() -> Path:
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    assert cands, "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb): run `bash tools/setup`"
    return Path(cands[-1]).parent


class PgServer:
    def __init__(self) -> None:
        self.bin = pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="vw-pg-"))
        self.user = "nobody" if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(self.dir, self.user)
        self.port = free_port()
        self.url = "postgresql://veriwatt@127.0.0.1:%d/postgres" % self.port

    def _run(self, *cmd: str) -> subprocess.CompletedProcess:
        full: List[str] = list(cmd) if self.user is None else ["runuser", "-u", self.user, "--"] + list(cmd)
        return subprocess.run(full, capture_output=True, text=True, timeout=120, cwd="/")

    def start(self) -> str:
        d = self.dir
        r = self._run(
            str(self.bin / "initdb"), "-D", str(d / "data"), "-U", "veriwatt", "--auth=trust", "-E", "UTF8", "--no-sync"
        )
        assert r.returncode == 0, "initdb failed: %s" % (r.stderr or r.stdout)[-1500:]
        r = self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(d / "data"),
            "-l",
            str(d / "log"),
            "-w",
            "-t",
            "60",
            "-o",
            "-p %d -k %s -c listen_addresses=127.0.0.1" % (self.port, d),
            "start",
        )
        log = (d / "log").read_text()[-1500:] if (d / "log").exists() else ""
        assert r.returncode == 0, "pg_ctl start failed: %s %s" % (r.stderr, log)
        return self.url

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)
