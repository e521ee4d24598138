#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`make bench`, computations (issue 15, docs/COMPUTATIONS.md): score proofs (profile sets and
suspect patterns), the stand-alone square and product proofs, and sampled disclosures, for a
month of half-hours in the 2048/256 group, on records certified with vwcore.

    tools/bench_computations.py [--slots 1488] [--rounds 1] [--out build/bench/computations.json]

Times are wall-clock seconds on this machine (the median of --rounds); sizes are bytes of
the proof and of the JSON file. Prove uses the constant-time vwcrypto backend (secrets);
verify uses gmpy2 for public values (veriwatt.fastexp).
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host"))
sys.path.insert(0, os.path.join(ROOT, "firmware"))

from vwcore import reading  # noqa: E402

from veriwatt import keys, profiles, records, sampling, slots, tariff  # noqa: E402
from veriwatt.zk import groups, product  # noqa: E402

START = slots.month_range("2026-10", "UTC")[0]


def household(t: int) -> int:
    hh = t % 48
    return 120 + (250 if 14 <= hh < 18 else 0) + (700 if 34 <= hh < 42 else 0) + (t * 7919) % 97


def timed(fn, rounds):
    ts, out = [], None
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), out


def bench_scores(kind, recs, ops, pub, sup, n, rounds):
    ps = profiles.parse_signed(profiles.sign(profiles.example(kind, START, START + n), sup), keys.public(sup))
    tp, doc = timed(lambda: profiles.make_scores(recs, ops, ps, pub, consent=True), rounds)
    tv, rep = timed(lambda: profiles.verify_scores(doc, ps, pub), rounds)
    assert rep["valid"]
    return {
        "kind": kind,
        "slots": n,
        "categories": len(ps.categories),
        "scores": len(profiles._labels(ps)),
        "proof_bytes": doc["proof"]["bytes"],
        "file_bytes": len(json.dumps(doc, indent=1)),
        "prove_s": round(tp, 2),
        "verify_s": round(tv, 2),
        "prove_ms_per_slot": round(1000 * tp / n, 2),
        "verify_ms_per_slot": round(1000 * tv / n, 2),
    }


def bench_single(rounds):
    G = groups.default_group()
    m, r = 1234, 987654321
    C = G.commit(m, r)
    S, s = product.square_commit(m, G)
    tp, pr = timed(lambda: product.prove_square(C, m, r, S, s, b"bench", G), max(rounds, 20))
    tv, _ = timed(lambda: product.verify_square(C, S, pr, b"bench", G), max(rounds, 20))
    C2 = G.commit(56, 77)
    C3 = G.commit(m * 56, 99)
    tpp, pp = timed(lambda: product.prove_product(C, m, r, C2, 56, 77, C3, 99, b"bench", G), max(rounds, 20))
    tvp, _ = timed(lambda: product.verify_product(C, C2, C3, pp, b"bench", G), max(rounds, 20))
    return {
        "square": {"proof_bytes": len(pr), "prove_ms": round(1000 * tp, 2), "verify_ms": round(1000 * tv, 2)},
        "product": {"proof_bytes": len(pp), "prove_ms": round(1000 * tpp, 2), "verify_ms": round(1000 * tvp, 2)},
    }


def bench_sample(recs, ops, pub, sup, n, rounds):
    t = tariff.parse_signed(tariff.sign(tariff.example(), sup), keys.public(sup))
    body = sampling.new_beacon(START, START + n, "bench", b"\x42" * 32, "2030-01-01T00:00:00Z")
    be = sampling.parse_signed(sampling.sign(body, sup), keys.public(sup))
    tp, doc = timed(lambda: sampling.make_sample(recs, ops, be, t, pub), rounds)
    tv, rep = timed(lambda: sampling.verify_sample(doc, be, t, pub), rounds)
    return {
        "slots": n,
        "rate": 100,
        "opened": len(rep["slots"]),
        "file_bytes": len(json.dumps(doc, indent=1)),
        "make_s": round(tp, 3),
        "verify_s": round(tv, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--slots", type=int, default=1488)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench", "computations.json"))
    a = ap.parse_args()
    mk = reading.MeterKeys(b"BENCH-01", b"\x07" * 32, b"\x08" * 15)
    pub = keys.meter_public(b"BENCH-01", mk.y)
    recs = [reading.certify(mk, t, household(t)) for t in range(START, START + a.slots)]
    ops = records.open_all(recs, b"\x08" * 15)
    sup = keys.new_supplier_key(secret=b"\x05" * 32)
    res = {
        "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "group": "2048/256",
        "single": bench_single(a.rounds),
        "scores": [bench_scores(k, recs, ops, pub, sup, a.slots, a.rounds) for k in ("profiles", "suspect")],
        "sample": bench_sample(recs, ops, pub, sup, a.slots, a.rounds),
    }
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
