# SPDX-License-Identifier: MIT
"""`veriwatt flash --board nucleo_f446re|nucleo_f401re IMAGE`: the probe commands (pyocd,
st-flash, dfu-util) chosen from the image type, checked with --dry-run (no board here), and
the one-line errors for what cannot work."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = [pytest.mark.host, pytest.mark.stm32]


def run(*argv):
    return subprocess.run([sys.executable, "-m", "veriwatt.cli", *argv], capture_output=True, text=True, timeout=60)


def one_line_error(r, code, needle):
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.returncode == code and len(lines) == 1 and needle in lines[0], (r.returncode, r.stdout, r.stderr)


@pytest.mark.parametrize("board,target", [("nucleo_f446re", "stm32f446retx"), ("nucleo_f401re", "stm32f401retx")])
def test_flash_dry_run_per_tool(board, target, tmp_path):
    hexf, binf, dfu = (tmp_path / ("firmware" + e) for e in (".hex", "0.bin", ".dfu"))
    bin1 = str(tmp_path / "firmware1.bin")
    r = run("flash", "--board", board, str(hexf), "--dry-run")
    assert r.returncode == 0, r.stderr
    cmd = r.stdout.split()
    assert cmd[0].endswith("pyocd") and cmd[1:4] == ["flash", "--target", target] and cmd[-1] == str(hexf)
    # the port's two pieces, never one .bin across the filesystem sectors 1-4
    r = run("flash", "--board", board, "--image", str(binf), "--dry-run")
    assert r.stdout.splitlines() == [
        "st-flash write %s 0x08000000" % binf,
        "st-flash --reset write %s 0x08020000" % bin1,
    ], r.stdout + r.stderr
    r = run("flash", "--board", board, str(hexf), "--tool", "st-flash", "--dry-run")
    assert r.stdout.split() == ["st-flash", "--reset", "--format", "ihex", "write", str(hexf)], r.stdout + r.stderr
    r = run("flash", "--board", board, str(binf), "--tool", "pyocd", "--dry-run")
    lines = [ln.split()[-3:] for ln in r.stdout.splitlines()]
    assert lines == [["--base-address", "0x08000000", str(binf)], ["--base-address", "0x08020000", bin1]], r.stdout
    r = run("flash", "--board", board, str(dfu), "--dry-run")
    assert r.stdout.split() == ["dfu-util", "--alt", "0", "--download", str(dfu)], r.stdout + r.stderr


def test_flash_refuses_what_cannot_work(tmp_path):
    one_line_error(
        run("flash", "--board", "nucleo_f446re", str(tmp_path / "fw.elf"), "--dry-run"), 2, ".hex, .bin or .dfu"
    )
    one_line_error(
        run("flash", "--board", "nucleo_f446re", str(tmp_path / "whole.bin"), "--dry-run"),
        2,
        "filesystem sectors between them survive",
    )
    one_line_error(
        run("flash", "--board", "nucleo_f446re", str(tmp_path / "fw.hex"), "--tool", "dfu-util", "--dry-run"),
        2,
        "dfu-util cannot write a .hex",
    )
    one_line_error(run("flash", "--board", "nucleo_f401re", str(tmp_path / "missing.hex")), 2, "not found")
    one_line_error(run("flash", "--board", "nucleo_f401re"), 2, "give the firmware image")
    r = run("flash", "--board", "nucleo_f999", "x.hex")
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_flash_without_the_tool_is_a_device_error(tmp_path, monkeypatch):
    img = tmp_path / "firmware.dfu"
    img.write_bytes(b"DfuSe")
    monkeypatch.setenv("PATH", str(tmp_path))  # no dfu-util anywhere
    r = subprocess.run(
        [sys.executable, "-m", "veriwatt.cli", "flash", "--board", "nucleo_f446re", str(img)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 3 and "dfu-util is not installed" in r.stderr, r.stderr
