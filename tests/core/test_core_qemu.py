# SPDX-License-Identifier: MIT
"""vwcore on the QEMU Cortex-M4 meter board (MicroPython 1.25, 32-bit): the same
mp_selftest, deployed as .mpy files (mpy-cross) onto the board's LittleFS, once with the
vwcrypto C module and once with builtin pow forced. Under -icount shift=0 the BENCH
"_ms" figures are millions of instructions."""

from pathlib import Path

import pytest
import qemu_sim  # simulators/ (tests/conftest.py puts it on sys.path)

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
pytestmark = [pytest.mark.qemu, pytest.mark.slow]


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    qb = qemu_sim
    msg = qb.missing_firmware_message("vwcrypto")
    if msg:
        pytest.fail(msg, pytrace=False)
    with qb.QemuBoard("vwcrypto") as b:
        qb.deploy_vwcore_selftest(b, tmp_path_factory.mktemp("mpy"), HERE / "mp_selftest.py")
        yield b


def _run(b, args):
    bench, lines = qemu_sim.run_vwcore_selftest(b, args)
    return bench, [line for line in lines if line.startswith("BENCH ")]


@pytest.mark.parametrize("backend", ["vwcrypto", "pow"])
def test_selftest_on_qemu(board, backend):
    b, lines = _run(board, ["--pow"] if backend == "pow" else [])
    assert b["backend"] == backend and b["record_bytes"] == "386"
    d = ROOT / "build" / "bench"
    d.mkdir(parents=True, exist_ok=True)
    (d / ("vwcore_qemu_an386_%s.txt" % backend)).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
