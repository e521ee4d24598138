# vwcrypto as a MicroPython user C module (CMake-based ports: esp32, rp2).
#   idf.py -DUSER_C_MODULES=/path/to/veriwatt/crypto_c/micropython/micropython.cmake build
# (or include() this file from such a top-level micropython.cmake).
# The sources are the shared ones in crypto_c/: the binding (also the natmod's source)
# and the modexp library.

get_filename_component(VWCRYPTO_SRC_DIR ${CMAKE_CURRENT_LIST_DIR}/../.. ABSOLUTE)

add_library(usermod_vwcrypto INTERFACE)

target_sources(usermod_vwcrypto INTERFACE
    ${VWCRYPTO_SRC_DIR}/mod_vwcrypto.c
    ${VWCRYPTO_SRC_DIR}/vw_mont.c
    ${VWCRYPTO_SRC_DIR}/vw_powmod.c
)

target_include_directories(usermod_vwcrypto INTERFACE
    ${VWCRYPTO_SRC_DIR}
)

# 32-bit limbs: the native word of the ESP32 (Xtensa, RISC-V) and RP2 (Cortex-M) cores.
target_compile_definitions(usermod_vwcrypto INTERFACE
    VW_LIMB_BITS=32
)

target_link_libraries(usermod INTERFACE usermod_vwcrypto)
