# SPDX-License-Identifier: MIT
# veriwatt emulation board for MicroPython's stm32 port (v1.25), built out of tree by
# tools/build_stm32:  make -C ports/stm32 BOARD=VERIWATT_NETDUINO_PLUS_2 BOARD_DIR=<this dir>
# QEMU machine: netduinoplus2 (STM32F405RG).  See simulators/README.md.
MCU_SERIES = f4
CMSIS_MCU = STM32F405xx
AF_FILE = boards/stm32f405_af.csv
# boards/stm32f405.ld with the CCMRAM region moved into QEMU's SRAM (see the file)
LD_FILES = $(BOARD_DIR)/veriwatt_f405_qemu.ld boards/common_ifs.ld
TEXT0_ADDR = 0x08000000
TEXT1_ADDR = 0x08020000

# The Debian source has no micropython-lib: the manifest freezes only veriwatt code.
FROZEN_MANIFEST ?= $(BOARD_DIR)/manifest.py
MPY_LIB_DIR = $(BOARD_DIR)/../../micropython-lib-absent
