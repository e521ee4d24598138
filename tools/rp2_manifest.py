# SPDX-License-Identifier: MIT
# Frozen manifest for tools/build_rp2: the rp2 port's own boards/manifest.py without its
# require("onewire"/"ds18x20"/"dht"/"neopixel") lines, which need micropython-lib (empty in
# Debian's repacked MicroPython source). Keeps the port's _boot.py/rp2.py and asyncio.
freeze("$(PORT_DIR)/modules")
include("$(MPY_DIR)/extmod/asyncio")
