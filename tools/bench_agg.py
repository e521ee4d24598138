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
from vwcore import agg  # noqa: E402


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


def member_costs(sizes=(2, 10, 50)):
    """Run tools/agg_member_cost.py under CPython and the unix MicroPython for each size."""
    out = []
    script = os.path.join(ROOT, "tools", "agg_member_cost.py")
    interpreters = [("cpython", sys.executable), ("micropython", os.path.join(ROOT, ".venv", "bin", "micropython"))]
    for n in sizes:
        row = {"group_size": n}
        for name, exe in interpreters:
            if not os.path.exists(exe):
                row[name + "_error"] = "not installed"
                continue
            r = subprocess.run([exe, script, ROOT, str(n)], capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                row[name + "_error"] = r.stderr.strip().splitlines()[-1:]
                continue
            backend, enroll, share = r.stdout.split()
            row.update({name + "_backend": backend, name + "_enroll_ms": round(float(enroll), 2),
                        name + "_share_ms": round(float(share), 3)})
        out.append(row)
    return out


def main():
    res = {"aggregator": aggregator_throughput(), "member": member_costs()}
    a = res["aggregator"]
    print("aggregator: %d meters (%d groups of %d): %.2f s, %.0f shares/s"
          % (a["meters"], a["groups"], a["group_size"], a["seconds"], a["shares_per_second"]))
    for row in res["member"]:
        print("member, group of %3d: CPython (%s) enroll %s ms, share %s ms; MicroPython (%s) enroll %s ms, share %s ms"
              % tuple([row["group_size"]] + [row.get(k, "-") for k in (
                  "cpython_backend", "cpython_enroll_ms", "cpython_share_ms",
                  "micropython_backend", "micropython_enroll_ms", "micropython_share_ms")]))
    os.makedirs(os.path.join(ROOT, "build", "bench"), exist_ok=True)
    with open(os.path.join(ROOT, "build", "bench", "agg.json"), "w") as f:
        json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
