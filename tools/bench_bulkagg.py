#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Bulk aggregation throughput (veriwatt.bulkagg) for 10,000 meters: 200 feeder groups of 50,
one slot, the same synthetic groups as tools/bench_agg.py; used by tools/bench_scale.py.
Shares per CPU-second (process time: per core), MAC checks, bookkeeping and sums included."""

import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "firmware"))
sys.path.insert(0, os.path.join(ROOT, "host"))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from bench_agg import synthetic_group  # noqa: E402

from veriwatt.bulkagg import BulkAggregator  # noqa: E402


def _data(groups, size, slots):
    rnd = random.Random(1)
    built = [synthetic_group(g, size, rnd) for g in range(groups)]
    return [(A, [e.share(1000 + t, rnd.randrange(0, 3000)) for t in range(slots) for e in ens]) for ens, A in built]


def before(groups=200, size=50, slots=4):
    """The same work with Aggregator.add_share share by share (tools/bench_agg.py), CPU time."""
    batches = _data(groups, size, slots)
    t0 = time.process_time()
    for A, ss in batches:
        for s in ss:
            A.add_share(s)
        for t in range(slots):
            A.result(1000 + t)
    dt = time.process_time() - t0
    return {"cpu_seconds": dt, "shares_per_second": groups * size * slots / dt}


def throughput(groups=200, size=50, slots=4):
    batches = _data(groups, size, slots)
    bulks = [BulkAggregator(A) for A, _ in batches]  # once per group and aggregator run, not per slot
    t0 = time.process_time()
    total = 0
    for B, (A, ss) in zip(bulks, batches):
        rep = B.add_shares(ss)
        assert rep.accepted == len(ss), rep.refused[:1]
        for t in range(slots):
            total += A.result(1000 + t).total
    dt = time.process_time() - t0
    n = groups * size * slots
    return {
        "meters": groups * size,
        "groups": groups,
        "group_size": size,
        "slots": slots,
        "cpu_seconds": dt,
        "shares_per_second": n / dt,
    }


if __name__ == "__main__":
    for _ in range(3):
        print("before", before())
        print("after", throughput())
