"""vwcore on the QEMU Cortex-M4 meter board (MicroPython 1.25, 32-bit): the same
mp_selftest, deployed as .mpy files (mpy-cross) onto the board's LittleFS, once with the
vwcrypto C module and once with builtin pow forced. Under -icount shift=0 the BENCH
"_ms" figures are millions of instructions."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
pytestmark = [pytest.mark.qemu, pytest.mark.slow]


def _board_module():
    sys.path.insert(0, str(ROOT / "tests" / "qemu"))
    try:
        import qemu_board
    finally:
        sys.path.pop(0)
    return qemu_board


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    qb = _board_module()
    msg = qb.missing_firmware_message("vwcrypto")
    if msg:
        pytest.fail(msg, pytrace=False)
    with qb.QemuBoard("vwcrypto") as b:
        qb.deploy_vwcore_selftest(b, tmp_path_factory.mktemp("mpy"))
        yield b


def _run(b, args):
    bench, lines = _board_module().run_vwcore_selftest(b, args)
    return bench, [line for line in lines if line.startswith("BENCH ")]


@pytest.mark.parametrize("backend", ["vwcrypto", "pow"])
def test_selftest_on_qemu(board, backend):
    b, lines = _run(board, ["--pow"] if backend == "pow" else [])
    assert b["backend"] == backend and b["record_bytes"] == "386"
    d = ROOT / "build" / "bench"
    d.mkdir(parents=True, exist_ok=True)
    (d / ("vwcore_qemu_an386_%s.txt" % backend)).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
