"""Fixtures for tests that run firmware under qemu-system-arm (see qemu_board.py)."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from qemu_board import ROOT, QemuBoard, firmware_path, missing_firmware_message  # noqa: E402

VECTORS = ROOT / "crypto_c" / "vectors" / "modexp.txt"
MP_VECTORS = ROOT / "tests" / "crypto" / "mp_vectors.py"
NATMOD = ROOT / "build" / "natmod" / "armv7m" / "vwcrypto.mpy"


def require_firmware(variant: str) -> Path:
    """Fail (not skip) with the command to run when a firmware image is missing."""
    if shutil.which("qemu-system-arm") is None:
        pytest.fail("qemu-system-arm is not installed: run `make setup`", pytrace=False)
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
