# SPDX-License-Identifier: MIT
# Top-level file for CMake-based ports: -DUSER_C_MODULES=<this file>.
# (Make-based ports take the folder instead: USER_C_MODULES=<this folder>.)
include(${CMAKE_CURRENT_LIST_DIR}/vwcrypto/micropython.cmake)
