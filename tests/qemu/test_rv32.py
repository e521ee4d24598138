"""The rv32imc dynamic native module (build/natmod/rv32imc/vwcrypto.mpy, ESP32-C3 class)
loaded into the qemu port's own VIRT_RV32 board under qemu-system-riscv32, with no
filesystem: every known-answer vector and bad-input check of tests/crypto/mp_vectors.py."""
import sys

import pytest

from qemu_board import MP_VECTORS, ROOT, VECTORS, qemu_board, require_file, require_firmware  # noqa: F401
from test_qemu_natmod import n_error_cases
from test_qemu_vwcrypto import SUMMARY, expected_vectors

pytestmark = [pytest.mark.qemu, pytest.mark.crypto]
NATMOD_RV32 = ROOT / "build" / "natmod" / "rv32imc" / "vwcrypto.mpy"


def test_rv32imc_natmod_on_virt_rv32(qemu_board):
    require_firmware("rv32")
    require_file(NATMOD_RV32, "run `tools/build_natmods` (part of `make qemu` / `make test`)")
    sys.path.insert(0, str(MP_VECTORS.parent))
    try:
        import mp_vectors
    finally:
        sys.path.pop(0)
    b = qemu_board("rv32")
    assert "rv32" in b.exec("import sys; print(sys.implementation._machine)")
    out = b.exec(mp_vectors.loader_script(NATMOD_RV32.read_bytes()))
    assert "loaded vwcrypto" in out, out
    text = ""
    for script in mp_vectors.embed(VECTORS.read_text(), source=MP_VECTORS.read_text()):
        text += b.exec(script, timeout=300)
    m = SUMMARY.search(text)
    assert m, text
    assert (int(m.group(1)), int(m.group(2))) == (expected_vectors() + n_error_cases(), 0), text
