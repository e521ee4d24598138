# SPDX-License-Identifier: MIT
"""The rv32imc dynamic native module (build/natmod/rv32imc/vwcrypto.mpy, ESP32-C3 class)
loaded into the qemu port's own VIRT_RV32 board under qemu-system-riscv32, with no
filesystem: every known-answer vector and bad-input check of tests/crypto/mp_vectors.py."""

import pytest

from qemu_board import ROOT, qemu_board, require_file, require_firmware  # noqa: F401 (fixture)
from test_qemu_natmod import run_kat_via_ram_loader

pytestmark = [pytest.mark.qemu, pytest.mark.crypto]
NATMOD_RV32 = ROOT / "build" / "natmod" / "rv32imc" / "vwcrypto.mpy"


def test_rv32imc_natmod_on_virt_rv32(qemu_board):
    require_firmware("rv32")
    require_file(NATMOD_RV32, "run `tools/build_natmods` (part of `make qemu` / `make test`)")
    b = qemu_board("rv32")
    assert "rv32" in b.exec("import sys; print(sys.implementation._machine)")
    run_kat_via_ram_loader(b, NATMOD_RV32)
