# SPDX-License-Identifier: MIT
# Power-cut driver for the store, run by the unix micropython (see test_powercut.py):
#   micropython mp_powercut.py <dir> <last_slot_to_write>
# Resumes after whatever the store holds, appends slots up to the given one, acknowledges
# every third slot (so old segments get dropped), and prints after each durable step:
#   "C <slot>"  append(slot) returned (committed)
#   "A <slot>"  ack(slot) returned (acknowledgement durable)
#   "W <n>"     total write points passed, at the end
# VW_CRASH_AT=<n> in the environment stops it at the n-th write point (SystemExit 86).
import sys

from vwmeter import durable
from vwmeter.store import Store
from store_cases import payload

RL = 40
S, M = 4, 4
FIRST = 1000


def main():
    d, upto = sys.argv[1], int(sys.argv[2])
    s = Store(d, RL, S, M)
    t = FIRST if s.last_slot is None else s.last_slot + 1
    while t <= upto:
        if t == FIRST + 9:
            t += 3  # a gap, as after a meter outage
        s.append(t, payload(t))
        print("C", t)
        if (t - FIRST) % 3 == 2:
            a = s.ack(t - 1)
            print("A", a)
        t += 1
    print("W", durable.WP_COUNT)


main()
