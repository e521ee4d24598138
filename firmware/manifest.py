# SPDX-License-Identifier: MIT
# Freeze the meter firmware into a MicroPython image (bytecode in flash, not in RAM: the
# meter then fits a 64 KB-RAM class MCU; run from .py/.mpy files it needs about 96 KB heap).
#
#   make -C ports/<port> BOARD=<board> FROZEN_MANIFEST=/abs/path/firmware/manifest.py \
#        VW_HAL=<unix|qemu|esp32|stm32>
#
# VW_HAL selects the hal profile (default qemu).  The micropython-lib manifest is NOT
# included: the Debian source tree has no micropython-lib (simulators/qemu/README.md), and the
# meter needs none of it.
import os

# tools/manifestfile.py runs this with the cwd set to this folder (and no __file__)
_here = os.path.dirname(os.path.abspath(__file__)) if "__file__" in globals() else os.getcwd()
_root = os.path.dirname(_here)
_hal = os.environ.get("VW_HAL", "qemu")

# Meter billing (vwcore/meterbill.py, vwmeter/billing.py: docs/COMPUTATIONS.md section 6) costs
# about 10.6 KB of flash; VW_METER_BILLING=0 leaves it out, for a board without that much
# flash (every image tools/build_stm32 makes carries it): such a meter answers its messages
# ERROR 2 "this board's firmware has no meter billing".
_skip = () if os.environ.get("VW_METER_BILLING", "1") != "0" else ("meterbill.py", "billing.py")


def _package(name):
    if not _skip:
        package(name, base_path=_here)
        return
    files = sorted(f for f in os.listdir(os.path.join(_here, name)) if f.endswith(".py") and f not in _skip)
    package(name, files=files, base_path=_here)


_package("vwcore")
_package("vwmeter")
module("vwhal.py", base_path=os.path.join(_root, "hal", _hal))
for _m in ("vwload.py", "vwclock.py", "vwstdio.py"):
    module(_m, base_path=os.path.join(_root, "hal", "common"))
if _hal in ("esp32", "stm32"):
    module("vwmachine.py", base_path=os.path.join(_root, "hal", "common"))
