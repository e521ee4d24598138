# SPDX-License-Identifier: MIT
"""The dynamic native modules build/natmod/{armv7m,armv7emsp}/vwcrypto.mpy loaded into
firmware that does NOT have the vwcrypto user C module (armv7m unless stated):
  - build/qemu/plain (VERIWATT_AN386, Cortex-M4): copied onto its LittleFS with `mpremote cp`;
  - build/qemu/stock-an385 (the port's own MPS2_AN385 board, Cortex-M3, no writable
    filesystem): through `mpremote mount`, and through a RAM-held VFS loader script.
  - build/qemu/hardfp (VERIWATT_AN386 built -mfloat-abi=hard, native arch armv7emsp, FPU
    enabled at reset): build/natmod/armv7emsp/vwcrypto.mpy (the Cortex-M4F / STM32F4-class
    build, UMAAL) and the armv7m one, each copied on with `mpremote cp`.
Each runs every known-answer vector and the bad-input checks of tests/crypto/mp_vectors.py."""

import shutil
import subprocess
import sys

import pytest

from qemu_board import (
    MP_VECTORS,
    NATMOD,
    NATMOD_ARMV7EMSP,
    VECTORS,
    firmware_path,  # noqa: F401
    qemu_board,  # noqa: F401
    require_file,
)
from test_qemu_vwcrypto import SUMMARY, expected_vectors, run_kat_on_board

pytestmark = [pytest.mark.qemu, pytest.mark.crypto]

BUILD_NATMOD = "run `tools/build_natmods` (part of `make qemu` / `make test`)"


def n_error_cases():
    sys.path.insert(0, str(MP_VECTORS.parent))
    try:
        import mp_vectors

        return len(mp_vectors.ERROR_CASES)
    finally:
        sys.path.pop(0)


def test_natmod_cp_onto_plain_firmware(qemu_board):
    require_file(NATMOD, BUILD_NATMOD)
    b = qemu_board("plain")
    with pytest.raises(Exception, match="ImportError"):
        b.exec("import vwcrypto")  # no user C module in this firmware
    b.mpremote("cp", str(NATMOD), ":vwcrypto.mpy")
    assert b.exec("import vwcrypto; print(vwcrypto.powmod(3, 5, 7))").strip() == "5"
    passed, failed, out = run_kat_on_board(b)
    assert failed == 0, out
    assert passed == expected_vectors() + n_error_cases(), out


# `mpremote mount` runs a RemoteFS client on the board that needs `select.poll` and the
# binary streams sys.stdin.buffer / sys.stdout.buffer. The stock qemu port has neither
# (MICROPY_PY_SELECT 0, MICROPY_PY_SYS_STDIO_BUFFER 0; its text-mode stdin turns CR into
# LF, so it cannot carry binary data). This pure-Python shim, run first in the same
# session, gives the client binary I/O straight on the MPS2 CMSDK UART0 registers through
# machine.mem32, and a select.poll that always reports "ready" (reads then block).
STOCK_MOUNT_SHIM = """import sys, machine
_m32 = machine.mem32
class _UartIn:
    def readinto(self, buf, n=-1):
        if n < 0:
            n = len(buf)
        for i in range(n):
            while not (_m32[0x40004004] & 2):
                pass
            buf[i] = _m32[0x40004000] & 0xff
        return n
class _UartOut:
    def write(self, buf, n=-1):
        if n < 0:
            n = len(buf)
        for i in range(n):
            while _m32[0x40004004] & 1:
                pass
            _m32[0x40004000] = buf[i]
        return n
class _Std:
    def __init__(self, b):
        self.buffer = b
class _Sys:
    stdin = _Std(_UartIn())
    stdout = _Std(_UartOut())
    def __getattr__(self, name):
        return getattr(sys, name)
class _Poll:
    def register(self, *a): pass
    def unregister(self, *a): pass
    def modify(self, *a): pass
    def poll(self, *a): return [(None, 1)]
    def ipoll(self, *a): return self.poll()
class _Select:
    POLLIN = 1
    POLLOUT = 4
    def poll(self): return _Poll()
sys.modules['select'] = _Select()
sys.modules['sys'] = _Sys()
"""

KAT_CMD = (
    "import vwcrypto, mp_vectors\n"
    "mp_vectors.run_file('modexp.txt', vwcrypto)\n"
    "mp_vectors.check_errors(vwcrypto)\nmp_vectors.summary()"
)


def _mount_dir(tmp_path):
    for f in (NATMOD, MP_VECTORS, VECTORS):
        shutil.copy(f, tmp_path / f.name)
    return str(tmp_path)


def _check_summary(r):
    m = SUMMARY.search(r.stdout)
    assert m, r.stdout + r.stderr
    assert (int(m.group(1)), int(m.group(2))) == (expected_vectors() + n_error_cases(), 0), r.stdout


def test_natmod_mpremote_mount_on_stock_an385(qemu_board, tmp_path):
    require_file(NATMOD, BUILD_NATMOD)
    b = qemu_board("stock-an385")
    r = b.mpremote("exec", "import vwcrypto", check=False)
    assert "ImportError" in r.stdout + r.stderr
    r = b.mpremote("mount", _mount_dir(tmp_path), "exec", "print(1)", check=False)
    assert "no module named 'select'" in r.stdout + r.stderr  # why the shim is needed
    r = b.mpremote("exec", STOCK_MOUNT_SHIM, "mount", str(tmp_path), "exec", KAT_CMD, timeout=900)
    _check_summary(r)


def test_natmod_mpremote_mount_on_plain_firmware(qemu_board, tmp_path):
    """The VERIWATT_AN386 board has a real select.poll on the UART: plain mpremote mount."""
    require_file(NATMOD, BUILD_NATMOD)
    b = qemu_board("plain")
    r = b.mpremote("mount", _mount_dir(tmp_path), "exec", KAT_CMD, timeout=900)
    _check_summary(r)


def run_kat_via_ram_loader(board, natmod_path):
    """Load a natmod with no filesystem (mp_vectors.loader_script() mounts the .mpy bytes as a
    RAM VFS), run every vector and bad-input check in chunks (mp_vectors.embed()) in the same
    session, and assert the summary: all passed, none failed."""
    sys.path.insert(0, str(MP_VECTORS.parent))
    try:
        import mp_vectors
    finally:
        sys.path.pop(0)
    out = board.exec(mp_vectors.loader_script(natmod_path.read_bytes()))
    assert "loaded vwcrypto" in out, out
    text = ""
    for script in mp_vectors.embed(VECTORS.read_text(), source=MP_VECTORS.read_text()):
        text += board.exec(script, timeout=300)
    m = SUMMARY.search(text)
    assert m, text
    assert (int(m.group(1)), int(m.group(2))) == (expected_vectors() + n_error_cases(), 0), text


def test_natmod_ram_loader_on_stock_an385(qemu_board):
    """No filesystem at all on the port's own Cortex-M3 board."""
    require_file(NATMOD, BUILD_NATMOD)
    run_kat_via_ram_loader(qemu_board("stock-an385"), NATMOD)


# ---- armv7emsp (Cortex-M4F / STM32F4-class) natmod on the hard-float firmware variant

ARCH_ARMV7EM, ARCH_ARMV7EMSP = 6, 7  # sys.implementation._mpy >> 10 (py/persistentcode.h)
SCB_CPACR = 0xE000ED88
CPACR_CP10_CP11 = 0xF << 20


def test_armv7emsp_natmod_rejected_by_soft_float_firmware(qemu_board):
    """Why the hardfp variant exists: soft-float VERIWATT_AN386 is armv7em and refuses it."""
    require_file(NATMOD_ARMV7EMSP, BUILD_NATMOD)
    b = qemu_board("plain")
    assert b.eval("__import__('sys').implementation._mpy >> 10") == ARCH_ARMV7EM
    assert b.eval("__import__('machine').mem32[%#x] & %#x" % (SCB_CPACR, CPACR_CP10_CP11)) == 0
    b.mpremote("cp", str(NATMOD_ARMV7EMSP), ":vwcrypto.mpy")
    with pytest.raises(Exception, match="incompatible .mpy arch"):
        b.exec("import vwcrypto")


def test_hardfp_firmware_has_fpu_on(qemu_board):
    """hardfp: native arch armv7emsp, CP10/CP11 enabled at reset, float arithmetic runs on
    the FPU (no __aeabi_fmul in the image; with the FPU left disabled it faults at boot)."""
    b = qemu_board("hardfp")
    # the image does float in hardware: no soft-float multiply linked in (plain has one)
    syms = subprocess.run(
        ["arm-none-eabi-nm", str(firmware_path("hardfp"))], capture_output=True, text=True, check=True
    ).stdout
    assert "__aeabi_fmul" not in syms and " vw_isr_vector" in syms
    assert b.eval("__import__('sys').implementation._mpy >> 10") == ARCH_ARMV7EMSP
    assert b.eval("__import__('machine').mem32[%#x] & %#x" % (SCB_CPACR, CPACR_CP10_CP11)) == CPACR_CP10_CP11
    assert b.eval("1.5 * 2.25") == 3.375
    assert b.eval("'%.6f' % (__import__('math').sqrt(2.0) / 3.0)") == "0.471405"
    with pytest.raises(Exception, match="ImportError"):
        b.exec("import vwcrypto")  # no user C module: the natmod is what gets loaded


@pytest.mark.parametrize("natmod", [NATMOD_ARMV7EMSP, NATMOD], ids=["armv7emsp", "armv7m"])
def test_natmod_on_hardfp_firmware(qemu_board, natmod):
    """build/natmod/armv7emsp/vwcrypto.mpy, unmodified, on hardfp: every vector and bad-input
    check; float still works after the natmod's code has run. armv7m is within what armv7emsp
    firmware accepts: the M3-class natmod loads and passes too."""
    require_file(natmod, BUILD_NATMOD)
    b = qemu_board("hardfp")
    b.mpremote("cp", str(natmod), ":vwcrypto.mpy")
    assert b.exec("import vwcrypto; print(vwcrypto.powmod(3, 5, 7))").strip() == "5"
    passed, failed, out = run_kat_on_board(b)
    assert failed == 0, out
    assert passed == expected_vectors() + n_error_cases(), out
    assert b.eval("1.5 * 2.25") == 3.375
