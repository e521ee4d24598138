# SPDX-License-Identifier: MIT
# Power-cut driver for the whole meter application (keys, slot loop, certify, store), run
# by the unix micropython (see test_powercut.py):
#   micropython mp_meter_crash.py <storage dir> <n_slots>
# Provisions the meter if it is not (clock T0), then lets a deterministic clock run to
# T0 + n_slots half-hours and closes every slot.  VW_CRASH_AT=<k> cuts power at the k-th
# write point.  Prints "done <WP_COUNT>" when finished.
import sys

import vwload
from stepclock import StepClock
from vwmeter import durable
from vwmeter.meter import Meter

T0 = 1767225600
SIG = bytes(range(32))
AGG = bytes(range(32, 64))
CUST = bytes(range(100, 115))
MID = b"VWCRASH1"


class Source:
    def read_slot(self, slot):
        return vwload.wh(1, slot)


def main():
    root, n = sys.argv[1], int(sys.argv[2])
    clock = StepClock()
    m = Meter(
        {
            "profile": "crashtest",
            "clock": clock,
            "source": Source(),
            "storage": root,
            "seg_records": 2,
            "max_segments": 8,
        }
    )
    if not m.provisioned:
        m.provision(
            {
                "meter_id": MID,
                "group_id": 1,
                "clock": T0,
                "host_entropy": AGG,
                "admin_secret": SIG,
                "customer_key": CUST,
            }
        )
    clock.set(T0)
    m.backlog()  # metering starts with the slot of T0
    clock.set(T0 + n * 1800 + 1)
    while m.tick():
        pass
    m.tick()
    print("done", durable.WP_COUNT)


main()
