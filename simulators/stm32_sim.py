# SPDX-License-Identifier: MIT
"""The meter on MicroPython's real stm32 port under QEMU (simulators/stm32/run: board
VERIWATT_NETDUINO_PLUS_2 on -M netduinoplus2, the meter and hal/stm32 frozen in).  Two ptys:
`repl` (USART1, mpremote) and `line` (USART2, the meter's machine.UART wire, veriwatt CLI).
The /flash filesystem is a host file, so a board can be killed (a power cut) and restarted
on the same storage.  Shared by tests/stm32 and tools/bench_stm32.py (simulators/ on sys.path).

    with Stm32Board(tmp_path) as b:          # QEMU started, REPL ready, always killed after
        b.mpremote("exec", "print(1)")
        b.install_meter(speed=18000, seed=3)  # :vwdata/vwhal.json + :main.py, then power cycle
        b.wait_ready()                        # the meter's banner on the line pty
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import serial

from qemu_sim import MPREMOTE, READY, ROOT

RUN = ROOT / "simulators" / "stm32" / "run"
ELF = ROOT / "build" / "stm32" / "emu" / "firmware.elf"
PTY = re.compile(r"char device redirected to (/dev/pts/\d+) \(label serial(\d)\)")
MAIN_PY = "import vwmeter.main as m\nm.main()\n"
BALLAST_PY = "# shrink the free heap to the %s's (simulators/stm32_sim.py)\n_ballast = bytearray(%d)\n"


def heap_bytes(elf: Path) -> int:
    """The MicroPython heap of an stm32-port image: _heap_end - _heap_start (linker symbols)."""
    out = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    sym = {ln.split()[2]: int(ln.split()[0], 16) for ln in out.splitlines() if len(ln.split()) == 3}
    return sym["_heap_end"] - sym["_heap_start"]


def ballast_for(board: str) -> int:
    """Bytes to allocate first on the emulation board so that the meter gets no more heap than
    on the Nucleo `board` (e.g. nucleo_f401re: 80 KB RAM for MicroPython)."""
    other = _built(ROOT / "build" / "stm32" / board / "firmware.elf")
    return heap_bytes(firmware()) - heap_bytes(other)


def _built(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(
            "%s is missing: run `make stm32` (or `make test`, which builds everything)" % path.relative_to(ROOT)
        )
    return path


def firmware() -> Path:
    """The emulation board's image; FileNotFoundError (with the command to run) without it or QEMU."""
    if not shutil.which("qemu-system-arm"):
        raise FileNotFoundError("qemu-system-arm is not installed: run `make setup`")
    return _built(ELF)


class Stm32Board:
    def __init__(self, tmp_path: Path, safe: bool = False, icount: bool = False, meter_on: str = "line"):
        """meter_on: "line" (USART2, the emulation board's default) or "repl" (USART1, with
        {"serial": "stdio"} in vwhal.json: the Nucleo's default, meter line = REPL UART)."""
        firmware()
        self.meter_on = meter_on
        self.fs = tmp_path / "flash.img"
        self.tmp = tmp_path
        self.safe = safe
        self.icount = icount
        self.proc: subprocess.Popen | None = None
        self.repl = self.line = ""
        self.line_ser: serial.Serial | None = None
        self.boot_text = ""

    # --- power
    def start(self, wait_repl: bool = True) -> None:
        args = (
            [str(RUN), "--fs", str(self.fs)] + (["--safe"] if self.safe else []) + (["--icount"] if self.icount else [])
        )
        # QEMU's output goes to a file, not a pipe nobody drains (a full pipe would stall it)
        self.log = self.tmp / "qemu.log"
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        ptys: dict[str, str] = {}
        deadline = time.time() + 30
        while len(ptys) < 2 and time.time() < deadline and self.proc.poll() is None:
            ptys = {m.group(2): m.group(1) for m in PTY.finditer(self.log.read_text())}
            time.sleep(0.02)
        assert len(ptys) == 2, "qemu did not report its two ptys (exit %r): %s" % (
            self.proc.poll(),
            self.log.read_text(),
        )
        self.repl, self.line = ptys["0"], ptys["1"]
        # open the meter's port at once: QEMU drops what a pty's guest writes while nobody reads it
        self.line_ser = serial.Serial(self.meter_port, 115200, timeout=0.1)
        if wait_repl:
            self.wait_repl()

    def kill(self) -> None:
        """Power cut: SIGKILL, nothing is flushed (the storage file holds what was written)."""
        if self.line_ser is not None:
            self.line_ser.close()
            self.line_ser = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self, wait_repl: bool = False) -> None:
        self.kill()
        self.start(wait_repl)

    def __enter__(self) -> "Stm32Board":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.kill()

    @property
    def meter_port(self) -> str:
        return self.repl if self.meter_on == "repl" else self.line

    # --- REPL (USART1)
    def wait_repl(self, timeout: float = 60) -> str:
        """Wait for the boot banner's prompt; returns what the board printed."""
        if self.meter_on == "repl":
            self.release_line()
        buf = b""
        deadline = time.time() + timeout
        while b">>> " not in buf and time.time() < deadline:
            # reopen now and then: QEMU notices a newly opened pty only on its next poll and
            # meanwhile drops what the guest writes
            s = serial.Serial(self.repl, 115200, timeout=0.2)
            try:
                until = time.time() + 5
                while b">>> " not in buf and time.time() < until:
                    s.write(b"\r")
                    buf += s.read(500)
            finally:
                s.close()
        self.boot_text = buf.decode(errors="replace")
        assert ">>> " in self.boot_text, "no REPL prompt on USART1: %r (qemu: %s)" % (
            self.boot_text,
            self.log.read_text(),
        )
        return self.boot_text

    def mpremote(self, *args: str, timeout: float = 120) -> str:
        r = subprocess.run([MPREMOTE, "connect", self.repl, *args], capture_output=True, text=True, timeout=timeout)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    def install_meter(self, speed: int, seed: int = 3, extra: dict | None = None, heap_of: str | None = None) -> None:
        """Copy :vwdata/vwhal.json (speed, seed) and a one-line :main.py (the meter is frozen),
        then power-cycle: the board boots, mounts /flash and runs main.py.  heap_of: a Nucleo
        board name whose (smaller) heap the meter must fit in: main.py first allocates the
        difference."""
        cfg = self.tmp / "vwhal.json"
        cfg.write_text(json.dumps({"speed": speed, "seed": seed, **(extra or {})}))
        main = self.tmp / "main.py"
        main.write_text((BALLAST_PY % (heap_of, ballast_for(heap_of)) if heap_of else "") + MAIN_PY)
        self.mpremote(
            "fs",
            "mkdir",
            ":vwdata",
            "+",
            "fs",
            "cp",
            str(cfg),
            ":vwdata/vwhal.json",
            "+",
            "fs",
            "cp",
            str(main),
            ":main.py",
        )
        self.restart()

    # --- the meter's port (USART2, or USART1 with meter_on="repl")
    def wait_ready(self, timeout: float = 120) -> str:
        buf = b""
        deadline = time.time() + timeout
        while not READY.search(buf) and time.time() < deadline:
            buf += self.line_ser.read(200)
        text = buf.decode(errors="replace")
        assert READY.search(buf), "no meter banner on %s: %r" % (self.meter_port, text)
        return text

    def release_line(self) -> None:
        """Close the test's own handle on the line pty so that the CLI can open it (after
        the banner: the meter only answers requests from now on)."""
        if self.line_ser is not None:
            self.line_ser.close()
            self.line_ser = None
