# SPDX-License-Identifier: MIT
"""pytest helpers around the QEMU board driver (simulators/qemu_sim.py, shared with tools/ and
simulators/qemu/run): the firmware and file requirements and the `qemu_board` fixture. Test
modules import the driver's names from here too."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from qemu_sim import (
    ROOT,
    BoardError,  # noqa: F401
    QemuBoard,
    deploy_vwcore_selftest,  # noqa: F401
    firmware_path,  # noqa: F401
    missing_firmware_message,
    run_vwcore_selftest,  # noqa: F401
)

# (tests/qemu has no conftest.py on purpose: a second module named `conftest` would replace
# tests/conftest.py in sys.modules for directories collected later, breaking their
# `from vwtest import ...`. Test modules import these names.)

VECTORS = ROOT / "crypto_c" / "vectors" / "modexp.txt"
MP_VECTORS = ROOT / "tests" / "crypto" / "mp_vectors.py"
NATMOD = ROOT / "build" / "natmod" / "armv7m" / "vwcrypto.mpy"
NATMOD_ARMV7EMSP = ROOT / "build" / "natmod" / "armv7emsp" / "vwcrypto.mpy"  # for variant hardfp


def require_firmware(variant: str) -> Path:
    """Fail (not skip) with the command to run when a firmware image is missing."""
    system = "qemu-system-riscv32" if variant == "rv32" else "qemu-system-arm"
    if shutil.which(system) is None:
        pytest.fail("%s is not installed: run `make setup`" % system, pytrace=False)
    msg = missing_firmware_message(variant)
    if msg:
        pytest.fail(msg, pytrace=False)
    return firmware_path(variant)


def require_file(path: Path, how: str) -> Path:
    if not path.exists():
        pytest.fail("%s is missing: %s" % (path.relative_to(ROOT), how), pytrace=False)
    return path


@pytest.fixture
def qemu_board():
    """Factory: qemu_board("vwcrypto", fs=..., ...) -> a started QemuBoard; all are
    killed at teardown, whatever happened in the test."""
    boards = []

    def start(variant="vwcrypto", **kw):
        require_firmware(variant)
        b = QemuBoard(variant, **kw)
        boards.append(b)
        return b.start()

    yield start
    for b in boards:
        b.close()
