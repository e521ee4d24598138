# SPDX-License-Identifier: MIT
# Run by test_meter_unload.py on the unix MicroPython (MICROPYPATH from fwhelpers.mp_env): what a
# meter keeps imported after boot, PROVISION, a reboot and RESET.  One line per stage:
#   "<stage> <module>=<0|1> ..."  1: in sys.modules or still an attribute of its package.
import sys

import vwcore
import vwmeter
from stepclock import StepClock  # simulators/ (MICROPYPATH from fwhelpers.mp_env)
from vwmeter.meter import Meter

WATCH = (
    ("vwmeter.keys", vwmeter, "keys"),
    ("vwcore.agg", vwcore, "agg"),
    ("vwmeter.aggstate", vwmeter, "aggstate"),
    ("vwcore.auth", vwcore, "auth"),
)


def show(stage):
    out = [stage]
    for name, pkg, attr in WATCH:
        out.append("%s=%d" % (name, 1 if (name in sys.modules or hasattr(pkg, attr)) else 0))
    print(" ".join(out))


def board(root):
    return {"profile": "test", "clock": StepClock(), "source": None, "storage": root}


root = sys.argv[1]
m = Meter(board(root))
show("boot")
m.provision(
    {
        "meter_id": b"UNLOAD01",
        "group_id": 1,
        "clock": 0,
        "host_entropy": bytes(32),
        "admin_secret": bytes(range(32)),
        "customer_key": b"k" * 15,
    }
)
show("provisioned")
m = Meter(board(root))
show("reboot")
from vwcore import auth  # noqa: E402  (the engineer's side: makes the RESET tag)

ch = m.challenge()
m.reset({"meter_id": b"UNLOAD01", "challenge": ch, "tag": auth.reset_tag(bytes(range(32)), b"UNLOAD01", ch)})
show("reset")
print("after_reset provisioned=%d" % m.provisioned)
