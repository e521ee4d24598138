#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The meter simulator lives in the host package, veriwatt/meter_sim.py (so that an installed
veriwatt has it: `veriwatt sim`, `python -m veriwatt.meter_sim`).  This file keeps the
checkout's entry points working:

    python simulators/meter_sim.py --meters 3 --seed 7 --speed 1800 --storage /tmp/vwsim
    sys.path.insert(0, "simulators"); from meter_sim import MeterSim

Imported, it IS veriwatt.meter_sim (the same module object, so settings made on one are seen
by the other).
"""

import sys
from pathlib import Path

try:
    import veriwatt.meter_sim as _impl
except ImportError:  # the package is not installed: use the checkout's host/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host"))
    import veriwatt.meter_sim as _impl

if __name__ == "__main__":
    sys.exit(_impl.main())
sys.modules[__name__] = _impl
