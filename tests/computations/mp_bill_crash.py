# SPDX-License-Identifier: MIT
# Power-cut driver for bills computed in the meter, run by the unix micropython (see
# test_meter_bill_powercut.py):   micropython mp_bill_crash.py <storage dir>
# First run: provisions the meter, installs a supplier key and a signed 6-slot meter tariff
# (prices 10, 25, -3: the sums must also be right for negative prices), prints "I <write points
# so far>". Every run then lets a stepped clock run past the cycle, certifies every slot and
# prints the BILL payload ("B <hex>") and "done <write points>". VW_CRASH_AT=<k> cuts the power
# at the k-th write point of the run (vwmeter/durable.py).
import sys

import vwload
from stepclock import StepClock
from vwcore import meterbill as mb
from vwcore import sig
from vwmeter import durable
from vwmeter.meter import Meter

T0 = 1767225600
A = T0 // 1800 + 1
N = 6
ADMIN = bytes(range(32))
MID = b"VWBILLPC"
SUP = bytes([5]) * 32
POINTS = [(0, 10), (2, 25), (4, -3)]


class Source:
    def read_slot(self, slot):
        return vwload.wh(1, slot)


def install(m, clock):
    m.provision(
        {
            "meter_id": MID,
            "group_id": 1,
            "clock": T0,
            "host_entropy": bytes(32),
            "admin_secret": ADMIN,
            "customer_key": b"c" * 15,
        }
    )
    clock.set(T0)
    m.backlog()  # metering starts with the slot of T0
    sk = sig.SigningKey(SUP)
    yb = sk.y.to_bytes(256, "big")
    ch = m.challenge()
    b = m.billing()
    b.supplier_key({"challenge": ch, "tag": mb.supplier_key_tag(ADMIN, MID, ch, yb), "y": yb}, m.policy)
    digest = bytes(range(32))
    e_s = sk.sign(mb.tariff_bytes(MID, A, A + N, digest, POINTS))
    b.tariff_set({"op": 1, "start_slot": A, "end_slot": A + N, "n": len(POINTS)})
    b.tariff_set({"op": 2, "first": 0, "points": POINTS})
    b.tariff_set({"op": 3, "digest": digest, "sig": sig.encode_sig(e_s)})
    print("I", durable.WP_COUNT)


def main():
    clock = StepClock()
    m = Meter(
        {
            "profile": "crashtest",
            "clock": clock,
            "source": Source(),
            "storage": sys.argv[1],
            "seg_records": 4,
            "max_segments": 8,
        }
    )
    if not m.provisioned:
        install(m, clock)
    clock.set(T0)
    m.backlog()  # a meter cut before its first slot restarts metering at T0's slot, as on the first run
    clock.set(T0 + (N + 3) * 1800 + 1)
    while m.tick():
        pass
    m.tick()
    print("B", m.billing().bill(A).hex())
    print("done", durable.WP_COUNT)


main()
