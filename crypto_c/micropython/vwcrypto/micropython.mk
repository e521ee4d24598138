# vwcrypto as a MicroPython user C module (make-based ports: qemu, stm32, unix, ...).
#   make -C ports/qemu BOARD=MPS2_AN385 USER_C_MODULES=/path/to/veriwatt/crypto_c/micropython
# USER_C_MODULES is crypto_c/micropython, the folder that CONTAINS this module folder.
# The sources are the shared ones in crypto_c/ (../../ from here): the binding
# mod_vwcrypto.c (also the natmod's source) and the modexp library.

VWCRYPTO_MOD_DIR := $(USERMOD_DIR)
# crypto_c/, made absolute: py.mk strips only the $(USER_C_MODULES)/ prefix from source
# paths to name the objects, so a "vwcrypto/../../x.c" path would put x.o outside $(BUILD);
# an absolute path keeps the objects inside it ($(BUILD)/<abs path>/x.o).
VWCRYPTO_SRC_DIR := $(abspath $(VWCRYPTO_MOD_DIR)/../..)

# The binding has the module's qstrs: it goes through the qstr scan.
SRC_USERMOD_C += $(VWCRYPTO_SRC_DIR)/mod_vwcrypto.c
# The library has no MicroPython code: compile it, skip the qstr scan.
SRC_USERMOD_LIB_C += $(VWCRYPTO_SRC_DIR)/vw_mont.c $(VWCRYPTO_SRC_DIR)/vw_powmod.c

CFLAGS_USERMOD += -I$(VWCRYPTO_SRC_DIR)
# 32-bit limbs (default of vw_modexp.h); override with VWCRYPTO_LIMB_BITS=64 on 64-bit hosts.
VWCRYPTO_LIMB_BITS ?= 32
CFLAGS_USERMOD += -DVW_LIMB_BITS=$(VWCRYPTO_LIMB_BITS)

# The modexp library is the hot path: build it at -O2 rather than the port's -Os (the last
# -O wins). On the Cortex-M4 QEMU board this is about 40% fewer instructions per powmod for
# a few hundred bytes of Thumb-2 (numbers in docs/BENCHMARKS.md). Objects are named
# $(BUILD)/ + <absolute source path>.o (so a double slash), as explained above.
$(BUILD)/$(VWCRYPTO_SRC_DIR)/vw_mont.o $(BUILD)/$(VWCRYPTO_SRC_DIR)/vw_powmod.o: CFLAGS += -O2
