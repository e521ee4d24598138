# SPDX-License-Identifier: MIT
"""The flashable Nucleo images (tools/build_stm32, `make build`): meter billing frozen into
both (the NUCLEO_F446RE's build leaves out builtin modules the meter never imports to make room,
docs/COMPUTATIONS.md section 6), and a margin of program flash left, so that the next frozen
change is seen here before it breaks the link."""

from __future__ import annotations

import subprocess

import pytest

from vwtest import ROOT

pytestmark = [pytest.mark.stm32, pytest.mark.computations]

FLASH_END = 0x08080000  # both boards: 512 KB, the firmware's second piece ends there (stm32f411.ld)


def _symbols(elf) -> dict:
    out = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    return {f[2]: int(f[0], 16) for f in (line.split() for line in out.splitlines()) if len(f) == 3}


@pytest.mark.parametrize("board", ["nucleo_f446re", "nucleo_f401re"])
def test_nucleo_image_carries_meter_billing_with_flash_to_spare(board):
    elf = ROOT / "build" / "stm32" / board / "firmware.elf"
    assert elf.is_file(), "%s is missing: run `make build` (tools/build_stm32)" % elf
    data = elf.read_bytes()
    for name in (b"vwcore/meterbill.py", b"vwmeter/billing.py", b"vwmeter/meter.py"):
        assert name in data, "%s is not frozen into %s" % (name.decode(), board)
    sym = _symbols(elf)
    free = FLASH_END - (sym["_etext"] + (sym["_edata"] - sym["_sdata"]))
    print("%s: %d bytes of program flash free" % (board, free))
    assert free >= 1024, "%s: only %d bytes of flash left" % (board, free)
