# SPDX-License-Identifier: MIT
# Frozen-module manifest for the VERIWATT_AN386 qemu board (tools/build_qemu passes it as
# FROZEN_MANIFEST). Empty on purpose: micropython-lib is not in the Debian source, so
# nothing may `require()` from it. The firmware owners can freeze the meter code here,
# paths being relative to this file, e.g.:
#
#   package("vwcore", base_path="../../../../firmware")
#   package("vwmeter", base_path="../../../../firmware")
#   module("vwhal.py", base_path="../../../../hal/qemu")
#
# Frozen modules are found through sys.path entry ".frozen" (before "/lib").
