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

package("vwcore", base_path=_here)
package("vwmeter", base_path=_here)
module("vwhal.py", base_path=os.path.join(_root, "hal", _hal))
for _m in ("vwload.py", "vwclock.py", "vwstdio.py"):
    module(_m, base_path=os.path.join(_root, "hal", "common"))
if _hal in ("esp32", "stm32"):
    module("vwmachine.py", base_path=os.path.join(_root, "hal", "common"))
