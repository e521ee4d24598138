# SPDX-License-Identifier: MIT
# vwcrypto as a MicroPython user C module (CMake-based ports: rp2, esp32).
# USER_C_MODULES is the top-level crypto_c/micropython/micropython.cmake, which include()s
# this file (see crypto_c/micropython/README.md):
#   rp2:   tools/build_rp2 [RPI_PICO|RPI_PICO2]    (verified: builds and links, see below)
#   esp32: idf.py -DUSER_C_MODULES=/path/to/veriwatt/crypto_c/micropython/micropython.cmake build
#          (NOT verified: ESP-IDF cannot be installed here)
# The sources are the shared ones in crypto_c/: the binding (also the natmod's source)
# and the modexp library. Keep this file in step with micropython.mk beside it.
#
# Verified with MicroPython 1.25 ports/rp2 + pico-sdk 2.1.1 (tests/crypto/test_cmake_usermod.py):
# the module is registered, compiled for Cortex-M0+ (RPI_PICO) under the port's -Wall -Werror.

get_filename_component(VWCRYPTO_SRC_DIR ${CMAKE_CURRENT_LIST_DIR}/../.. ABSOLUTE)

add_library(usermod_vwcrypto INTERFACE)

target_sources(usermod_vwcrypto INTERFACE
    ${VWCRYPTO_SRC_DIR}/mod_vwcrypto.c
    ${VWCRYPTO_SRC_DIR}/vw_mont.c
    ${VWCRYPTO_SRC_DIR}/vw_powmod.c
    ${VWCRYPTO_SRC_DIR}/vw_fixedbase.c
    ${VWCRYPTO_SRC_DIR}/vw_fbtables.c
)

target_include_directories(usermod_vwcrypto INTERFACE
    ${VWCRYPTO_SRC_DIR}
)

# 32-bit limbs (as micropython.mk): the native word of the ESP32 (Xtensa, RISC-V) and
# RP2 (Cortex-M) cores. -DVWCRYPTO_LIMB_BITS=64 only for a 64-bit target.
if(NOT VWCRYPTO_LIMB_BITS)
    set(VWCRYPTO_LIMB_BITS 32)
endif()
target_compile_definitions(usermod_vwcrypto INTERFACE
    VW_LIMB_BITS=${VWCRYPTO_LIMB_BITS}
)

# The modexp library is the hot path: -O2 instead of the port's -Os (rp2 builds MinSizeRel),
# as micropython.mk does. Source-file options come after the target's flags on the compile
# line, so this -O2 wins. This file is include()d into the port's own CMakeLists.txt, the
# directory of the firmware target, which is where source-file properties are looked up.
set_source_files_properties(
    ${VWCRYPTO_SRC_DIR}/vw_mont.c
    ${VWCRYPTO_SRC_DIR}/vw_powmod.c
    ${VWCRYPTO_SRC_DIR}/vw_fixedbase.c
    PROPERTIES COMPILE_OPTIONS "-O2"
)

target_link_libraries(usermod INTERFACE usermod_vwcrypto)
