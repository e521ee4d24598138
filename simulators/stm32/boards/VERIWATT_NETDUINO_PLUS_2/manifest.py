# SPDX-License-Identifier: MIT
# Frozen code of the emulation board (tools/build_stm32 passes it as FROZEN_MANIFEST with
# VW_HAL=stm32): the meter exactly as on the Nucleo images, plus vwboardcfg, this board's
# hal configuration (what QEMU lacks: RTC, GPIO button; which USART is the meter line).
include("../../../../firmware/manifest.py")
module("vwboardcfg.py")
