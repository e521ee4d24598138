#!/usr/bin/env python3
"""`make bench`, aggregation part; JSON in build/bench/agg.json.

1. Aggregator throughput for 10,000 meters: 200 feeder groups of 50 meters, one slot.
   Enrolling 10,000 meters for real takes 10,000 x 49 modexps, so the pair keys of this
   benchmark are drawn from a seed (synthetic enrollment); the aggregator's work per share
   (decode, MAC check, bookkeeping, sums) is exactly the real one, and the aggregator keys
   are real DH-derived keys for the first group (the MAC cost does not depend on it).
2. Member-side cost per slot against group size, in CPython and in the unix MicroPython:
   enrollment (n-1 modexps + 1) and one share (n-1 HMACs).
"""
import json
import os
import random
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "firmware"))
sys.path.insert(0, os.path.join(ROOT, "host"))

from veriwatt.aggregation import Aggregator  # noqa: E402
from vwcore import agg, group  # noqa: E402


def synthetic_group(gidx, n, rnd):
    ids = [b"G%03dM%03d" % (gidx, i) for i in range(n)]
    gid = bytes(rnd.getrandbits(8) for _ in range(16))
    pair = {}
    for i in range(n):
        for j in range(i + 1, n):
            pair[(i, j)] = bytes(rnd.getrandbits(8) for _ in range(32))
    macs = {mid: bytes(rnd.getrandbits(8) for _ in range(32)) for mid in ids}
    ens = []
    for i, mid in enumerate(ids):
        peers = [(ids[j], 1 if i < j else -1, pair[(min(i, j), max(i, j))]) for j in range(n) if j != i]
        ens.append(agg.Enrollment(mid, gid, macs[mid], peers))
    return ens, Aggregator.from_keys(gid, macs)


def aggregator_throughput(groups=200, size=50):
    rnd = random.Random(1)
    built = [synthetic_group(g, size, rnd) for g in range(groups)]
    shares = [(A, [e.share(1000, rnd.randrange(0, 3000)) for e in ens]) for ens, A in built]
    t0 = time.perf_counter()
    total = 0
    for A, ss in shares:
        for s in ss:
            A.add_share(s)
        total += A.result(1000).total
    dt = time.perf_counter() - t0
    return {"meters": groups * size, "groups": groups, "group_size": size,
            "seconds": dt, "shares_per_second": groups * size / dt}


MP_BENCH = r"""
import sys, time
sys.path.insert(0, '%s/firmware')
from vwcore import agg, group, modexp
G = group.DEFAULT
n = %d
xs = [agg.secret_scalar(b'agg-secret-%%d' %% i, G) for i in range(n)]
members = [(b'MTR%%05d' %% i, agg.public_key(x, G)) for i, x in enumerate(xs)]
ya = agg.public_key(agg.secret_scalar(b'aggregator', G), G)
t0 = time.ticks_ms()
e = agg.Enrollment.create(xs[0], members[0][0], b'bench', members, ya, G)
t1 = time.ticks_ms()
for s in range(10):
    e.share(s, 500)
t2 = time.ticks_ms()
print(modexp.BACKEND, time.ticks_diff(t1, t0), time.ticks_diff(t2, t1) / 10)
"""


def member_costs(sizes=(2, 10, 50)):
    out = []
    mp = os.path.join(ROOT, ".venv", "bin", "micropython")
    for n in sizes:
        G = group.DEFAULT
        xs = [agg.secret_scalar(b"agg-secret-%d" % i, G) for i in range(n)]
        members = [(b"MTR%05d" % i, agg.public_key(x, G)) for i, x in enumerate(xs)]
        ya = agg.public_key(agg.secret_scalar(b"aggregator", G), G)
        t0 = time.perf_counter()
        e = agg.Enrollment.create(xs[0], members[0][0], b"bench", members, ya, G)
        t1 = time.perf_counter()
        for s in range(50):
            e.share(s, 500)
        t2 = time.perf_counter()
        row = {"group_size": n, "cpython_enroll_ms": (t1 - t0) * 1e3, "cpython_share_ms": (t2 - t1) / 50 * 1e3}
        if os.path.exists(mp):
            r = subprocess.run([mp, "-c", MP_BENCH % (ROOT, n)], capture_output=True, text=True, timeout=600)
            if r.returncode == 0:
                backend, enroll, share = r.stdout.split()
                row.update({"micropython_backend": backend, "micropython_enroll_ms": float(enroll),
                            "micropython_share_ms": float(share)})
            else:
                row["micropython_error"] = r.stderr.strip().splitlines()[-1:]
        out.append(row)
    return out


def main():
    res = {"aggregator": aggregator_throughput(), "member": member_costs()}
    a = res["aggregator"]
    print("aggregator: %d meters (%d groups of %d): %.2f s, %.0f shares/s"
          % (a["meters"], a["groups"], a["group_size"], a["seconds"], a["shares_per_second"]))
    for row in res["member"]:
        print("member, group of %3d: CPython enroll %7.1f ms, share %.2f ms; MicroPython (%s) enroll %s ms, share %s ms"
              % (row["group_size"], row["cpython_enroll_ms"], row["cpython_share_ms"],
                 row.get("micropython_backend", "-"), row.get("micropython_enroll_ms", "-"),
                 row.get("micropython_share_ms", "-")))
    os.makedirs(os.path.join(ROOT, "build", "bench"), exist_ok=True)
    with open(os.path.join(ROOT, "build", "bench", "agg.json"), "w") as f:
        json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
