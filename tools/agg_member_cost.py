# SPDX-License-Identifier: MIT
"""Member-side aggregation cost for one group size; runs unchanged in CPython and MicroPython.
Usage: <python or micropython> tools/agg_member_cost.py ROOT N
Prints: backend enroll_ms share_ms
"""

import sys

sys.path.insert(0, sys.argv[1] + "/firmware")
try:
    from time import ticks_diff, ticks_ms  # MicroPython
except ImportError:
    import time

    def ticks_ms():
        return time.perf_counter() * 1000.0

    def ticks_diff(a, b):
        return a - b


from vwcore import agg, group, modexp  # noqa: E402

G = group.DEFAULT
n = int(sys.argv[2])
xs = [agg.secret_scalar(b"agg-secret-%d" % i, G) for i in range(n)]
members = [(b"MTR%05d" % i, agg.public_key(x, G)) for i, x in enumerate(xs)]
ya = agg.public_key(agg.secret_scalar(b"aggregator", G), G)
t0 = ticks_ms()
e = agg.Enrollment.create(xs[0], members[0][0], b"bench", members, ya, G)
t1 = ticks_ms()
for s in range(20):
    e.share(s, 500)
t2 = ticks_ms()
print(modexp.BACKEND, ticks_diff(t1, t0), ticks_diff(t2, t1) / 20)
