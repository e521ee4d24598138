# SPDX-License-Identifier: MIT
# veriwatt: one command for the demo, one for the tests.
#   make demo    simulated meters -> fetch -> verify -> bill -> supplier check (no hardware)
#   make test    install what is missing (apt, MicroPython source, venv), lint, build everything, run every test
#   make bench   benchmarks (host ratios, instruction counts under QEMU); results in build/bench/
#                (ZK_BENCH_ARGS="--slots 96" for a quick zero-knowledge run; default a month)
# Both install their own prerequisites through tools/setup (root or sudo for apt).

PY      := .venv/bin/python
PYTEST  := $(PY) -m pytest
CC      ?= gcc
CFLAGS  := -std=c99 -O2 -g -Wall -Wextra -Icrypto_c
CSRC    := crypto_c/vw_mont.c crypto_c/vw_powmod.c crypto_c/vw_fixedbase.c crypto_c/vw_fbtables.c
CHDR    := crypto_c/vw_modexp.h crypto_c/vw_internal.h crypto_c/vw_fixedbase.h
OUT     ?= out/demo

.PHONY: help setup demo test test-fast lint bench build ctests natmods qemu rp2 unix stm32 clean distclean

# Every build below is a real file target with its sources as prerequisites, so a second
# `make build` / `make test` rebuilds nothing that did not change (tools/setup, which only
# checks, still runs; it is an order-only prerequisite and never forces a rebuild).
MPY_SRC   := build/micropython/py/mpconfig.h
# the C library and its MicroPython binding (user C module, natmod)
CRYPTO_DEPS := $(wildcard crypto_c/*.c crypto_c/*.h) $(wildcard crypto_c/micropython/*.cmake crypto_c/micropython/vwcrypto/*)
# the meter and the HALs, frozen into the qemu `meter` variant and the stm32 images
FW_DEPS   := $(shell find firmware hal -name '*.py' -o -name '*.json' 2>/dev/null)
# the QEMU board and the semihosting code it shares with the stm32 emulation board
BOARD_DEPS := $(wildcard simulators/common/*) $(shell find simulators/qemu/boards -type f 2>/dev/null)
QEMU_VARIANTS := vwcrypto plain stock-an385 meter rv32 hardfp
QEMU_ELFS := $(foreach v,$(QEMU_VARIANTS),build/qemu/$(v)/firmware.elf)
NATMOD_ARCHS := x64 armv7m armv7emsp rv32imc
STM32_BOARDS := emu nucleo_f446re nucleo_f401re
STM32_ELFS := $(foreach b,$(STM32_BOARDS),build/stm32/$(b)/firmware.elf)

# the MicroPython source (tools/setup unpacks it): a prerequisite of the firmware builds
$(MPY_SRC):
	@bash tools/setup

help:
	@sed -n '2,7p' Makefile

setup:
	@bash tools/setup

# --- C library on the host: known-answer runner and ctgrind check, 32- and 64-bit limbs
CTESTS := build/ctest/kat32 build/ctest/kat64 build/ctest/ctgrind32 build/ctest/ctgrind64
ctests: $(CTESTS)
build/ctest/kat%: crypto_c/tests/kat.c $(CSRC) $(CHDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DVW_LIMB_BITS=$* $(CSRC) $< -o $@
build/ctest/ctgrind%: crypto_c/tests/ctgrind.c $(CSRC) $(CHDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DVW_LIMB_BITS=$* $(CSRC) $< -o $@

# --- MicroPython builds (natmods for x64/armv7m/armv7emsp/rv32imc; qemu firmware + bare metal)
# tools/build_natmods builds every arch (and build/natmod/sizes.txt) in one go: one stamp.
natmods: build/natmod/.built
build/natmod/.built: $(CRYPTO_DEPS) crypto_c/natmod/Makefile tools/build_natmods | setup
	@bash tools/build_natmods
	@touch $@

qemu: $(QEMU_ELFS)
	@$(MAKE) -s -C crypto_c/baremetal
build/qemu/%/firmware.elf: $(CRYPTO_DEPS) $(BOARD_DEPS) tools/build_qemu $(MPY_SRC) | setup
	@bash tools/build_qemu $*
	@touch $@
build/qemu/meter/firmware.elf: $(FW_DEPS)

# --- rp2 port (Raspberry Pi Pico) with vwcrypto through its CMake file: built and inspected, not run
rp2: build/rp2/RPI_PICO/firmware.elf
build/rp2/RPI_PICO/firmware.elf: $(CRYPTO_DEPS) tools/build_rp2 tools/rp2_manifest.py $(MPY_SRC) | setup
	@bash tools/build_rp2 RPI_PICO
	@touch $@

# --- the unix port of the same MicroPython 1.25 source (shared code and x64 natmod tested on it too)
unix: build/unix/micropython
build/unix/micropython: tools/build_unix $(MPY_SRC) | setup
	@bash tools/build_unix
	@touch $@

# --- MicroPython's real stm32 port: the QEMU netduinoplus2 emulation board (simulators/stm32)
#     and the flashable NUCLEO_F446RE / NUCLEO_F401RE images, vwcrypto + the frozen meter.
#     Needs lib/stm32lib from a vendored archive (STM32LIB_ARCHIVE, see tools/build_stm32).
stm32: $(STM32_ELFS)
build/stm32/%/firmware.elf: $(CRYPTO_DEPS) $(FW_DEPS) $(wildcard simulators/common/* simulators/stm32/boards/*/*) tools/build_stm32 $(MPY_SRC) | setup
	@bash tools/build_stm32 $*
	@touch $@

build: setup ctests natmods qemu rp2 unix stm32

# --- lint: ruff lint and format check (rules in pyproject.toml), codespell (.codespellrc) and the
#     SPDX licence tag of every source file; `.venv/bin/ruff format .` fixes the formatting
RUFF := .venv/bin/ruff
lint: | setup
	$(RUFF) check .
	$(RUFF) format --check .
	.venv/bin/codespell
	$(PY) tools/spdx_headers.py --check

test: lint build
	$(PYTEST)

# the host-only suites, without rebuilding the firmware
test-fast: lint setup ctests natmods unix
	$(PYTEST) -m "not qemu and not sim and not slow"

# the simulated meters load the x64 natmod (vwcrypto); on builtin pow they are ~10x slower
demo: setup natmods
	$(PY) -m veriwatt.cli demo --out $(OUT)

bench: build
	@mkdir -p build/bench
	$(PY) tools/bench_host.py
	$(PY) tools/bench_web.py
	$(PY) tools/bench_qemu
	$(PY) tools/bench_meter.py
	$(PY) tools/bench_meter_heap.py
	$(PY) tools/bench_stm32.py
	$(PY) tools/bench_agg.py
	$(PY) tools/bench_host_fetch.py
	$(PY) tools/bench_zk.py $(ZK_BENCH_ARGS)
	$(PY) tools/bench_computations.py
	$(PY) -m veriwatt.cli demo --out build/bench/demo --json > build/bench/demo.json
	@$(PY) -c "import json; t = json.load(open('build/bench/demo.json'))['timings_s']; print('demo: %.1f s in all (month on the meters + fetch %.1f s)' % (t['total_s'], t['month_and_fetch_s']))"

clean:
	rm -rf build/ctest build/natmod build/qemu build/rp2 build/rp2.*.log build/unix build/unix.log build/stm32 build/stm32.*.log build/bench out

distclean: clean
	rm -rf build .venv
