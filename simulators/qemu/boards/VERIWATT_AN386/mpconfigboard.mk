# SPDX-License-Identifier: MIT
# veriwatt meter board for MicroPython's qemu port (v1.25), built out of tree:
#   make -C build/micropython/ports/qemu BOARD=VERIWATT_AN386 BOARD_DIR=<this dir> ...
# (tools/build_qemu does this). QEMU machine: mps2-an386 (ARM MPS2 FPGA image AN386,
# Cortex-M4, CMSDK UART0 at 0x40004000, same memory map as the stock MPS2_AN385 board).
QEMU_ARCH = arm
QEMU_MACHINE = mps2-an386

# Float ABI. Default: soft-float (the port's stock startup code does not enable the FPU);
# the firmware's native arch is then armv7em, so armv6m/armv7m/armv7em natmods load (e.g.
# build/natmod/armv7m/vwcrypto.mpy), armv7emsp ones do not ("incompatible .mpy arch").
# VW_HARDFP=1 (tools/build_qemu variant hardfp): -mfloat-abi=hard -mfpu=fpv4-sp-d16 (the
# Cortex-M4F FPU, which QEMU's mps2-an386 emulates); py/persistentcode.h derives the native
# arch from __ARM_FP, so the firmware is armv7emsp and accepts armv6m..armv7emsp natmods,
# including build/natmod/armv7emsp/vwcrypto.mpy. board.c then enables the FPU at reset
# (CPACR, through its own vector table placed first by veriwatt_an386.ld).
ifeq ($(VW_HARDFP),1)
CFLAGS += -mthumb -mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16 -DVW_HARDFP=1
else
CFLAGS += -mthumb -mcpu=cortex-m4 -mfloat-abi=soft
endif
CFLAGS += -DQEMU_SOC_MPS2
CFLAGS += -DMICROPY_HW_MCU_NAME='"Cortex-M4"'
# Board configuration header: the port's mpconfigport.h plus this board's changes
# (sys.stdin.buffer, MICROPY_PORT_INIT_FUNC hook).
CFLAGS += -DMP_CONFIGFILE='"$(BOARD_DIR)/mpconfigboard.h"'

LDSCRIPT = $(BOARD_DIR)/veriwatt_an386.ld

SRC_BOARD_O = shared/runtime/gchelper_native.o shared/runtime/gchelper_thumb2.o
# time module (SysTick), vwboard module (virtual clock, semihosted block device), boot.
SRC_C += $(BOARD_DIR)/board.c

# Writable filesystem: LittleFS v2 (lib/littlefs is part of the Debian source).
MICROPY_VFS_LFS2 = 1

# Heap for 2048/4096-bit bignum work (measured: see README.md). Override with
# `tools/build_qemu HEAP=...`.
MICROPY_HEAP_SIZE ?= 262144

# Frozen code hook: manifest.py in this folder freezes nothing yet (micropython-lib is
# absent from the Debian source, so the port's default manifest cannot be used).
FROZEN_MANIFEST ?= $(BOARD_DIR)/manifest.py
# The build insists on $(MPY_LIB_DIR)/README.md before reading any manifest.
MPY_LIB_DIR = $(BOARD_DIR)/micropython-lib-absent

# Native code in frozen .mpy files (mpy-cross -march): within what the firmware accepts.
ifeq ($(VW_HARDFP),1)
MPY_CROSS_FLAGS += -march=armv7emsp
else
MPY_CROSS_FLAGS += -march=armv7m
endif
