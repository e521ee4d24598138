# veriwatt: one command for the demo, one for the tests.
#   make demo    simulated meters -> fetch -> verify -> bill -> supplier check (no hardware)
#   make test    install what is missing (apt, MicroPython source, venv), build everything, run every test
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

.PHONY: help setup demo test test-fast bench build ctests natmods qemu rp2 unix stm32 clean distclean

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
natmods: setup
	@bash tools/build_natmods

qemu: setup
	@bash tools/build_qemu
	@$(MAKE) -s -C crypto_c/baremetal

# --- rp2 port (Raspberry Pi Pico) with vwcrypto through its CMake file: built and inspected, not run
rp2: setup
	@bash tools/build_rp2

# --- the unix port of the same MicroPython 1.25 source (shared code and x64 natmod tested on it too)
unix: setup
	@bash tools/build_unix

# --- MicroPython's real stm32 port: the QEMU netduinoplus2 emulation board (simulators/stm32)
#     and the flashable NUCLEO_F446RE / NUCLEO_F401RE images, vwcrypto + the frozen meter.
#     Needs lib/stm32lib from a vendored archive (STM32LIB_ARCHIVE, see tools/build_stm32).
stm32: setup
	@bash tools/build_stm32

build: setup ctests natmods qemu rp2 unix stm32

test: build
	$(PYTEST)

# the host-only suites, without rebuilding the firmware
test-fast: setup ctests natmods unix
	$(PYTEST) -m "not qemu and not sim and not slow"

# the simulated meters load the x64 natmod (vwcrypto); on builtin pow they are ~10x slower
demo: setup natmods
	$(PY) -m veriwatt.cli demo --out $(OUT)

bench: build
	@mkdir -p build/bench
	$(PY) tools/bench_host.py
	$(PY) tools/bench_qemu
	$(PY) tools/bench_meter.py
	$(PY) tools/bench_meter_heap.py
	$(PY) tools/bench_stm32.py
	$(PY) tools/bench_agg.py
	$(PY) tools/bench_host_fetch.py
	$(PY) tools/bench_zk.py $(ZK_BENCH_ARGS)
	$(PY) -m veriwatt.cli demo --out build/bench/demo --json > build/bench/demo.json
	@$(PY) -c "import json; t = json.load(open('build/bench/demo.json'))['timings_s']; print('demo: %.1f s in all (month on the meters + fetch %.1f s)' % (t['total_s'], t['month_and_fetch_s']))"

clean:
	rm -rf build/ctest build/natmod build/qemu build/rp2 build/rp2.*.log build/unix build/unix.log build/stm32 build/stm32.*.log build/bench out

distclean: clean
	rm -rf build .venv
