#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`make bench`, proof layer: prove / verify time and proof size per tariff kind for a month
of half-hours (1488 slots) in the 2048/256 group, vwcrypto (constant-time C) vs builtin pow.

    tools/bench_zk.py [--slots 1488] [--pow-slots 48] [--full] [--kinds step,cumulative,...]
                      [--out build/bench/zk.json]

The builtin-pow backend is about 5x slower; for the per-slot kinds (step, threshold) it is
timed on --pow-slots slots and scaled linearly to the month (marked "extrapolated"; the
work is exactly linear in the number of slots) unless --full is given. Membership caches
are cleared before every verification, so each one includes checking every C_t.
"""

import argparse
import json
import os
import platform
import random
import secrets
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host"))
sys.path.insert(0, os.path.join(ROOT, "firmware"))

from veriwatt import backend  # noqa: E402
from veriwatt.zk import groups, tariffs as T  # noqa: E402

MONTH = 1488  # 31 days x 48 half-hours


def profile(n, seed=2026):
    """Plausible household Wh per half-hour: base load, morning and evening peaks, noise."""
    rnd = random.Random(seed)
    out = []
    for t in range(n):
        hh = t % 48
        base = 120 + (250 if 14 <= hh < 18 else 0) + (700 if 34 <= hh < 42 else 0)
        out.append(
            max(
                0,
                min(T.MAX_READING, int(rnd.gauss(base, base / 3)) + (rnd.random() < 0.02) * rnd.randrange(1000, 4000)),
            )
        )
    return out


def tariffs(n, readings):
    peak = tuple(t for t in range(n) if 32 <= t % 48 < 40)  # 16:00-20:00 every day
    total = sum(readings)
    return {
        "step": T.StepTariff((0, 250, 1000), (10, 14, 20)),
        "cumulative": T.CumulativeTariff((total // 3, 2 * total // 3), (10, 14, 20)),
        "threshold": T.ThresholdTariff(peak, 1000, 50),
        "rebate": T.RebateTariff(total + total // 5, (20000, 60000), (2, 3, 5)),
    }


PER_SLOT = {"step", "threshold"}


def _membership_time(G, Cs):
    G._members.clear()
    t0 = time.perf_counter()
    assert all(G.is_element(C) for C in Cs)
    return time.perf_counter() - t0


class Counter:
    """Counts the backend's powmod / powmod2 calls (load-independent cost measure)."""

    def __enter__(self):
        self.n1 = self.n2 = 0
        self._p1, self._p2 = backend.powmod, backend.powmod2

        def p1(*a):
            self.n1 += 1
            return self._p1(*a)

        def p2(*a):
            self.n2 += 1
            return self._p2(*a)

        backend.powmod, backend.powmod2 = p1, p2
        return self

    def __exit__(self, *exc):
        backend.powmod, backend.powmod2 = self._p1, self._p2


def modexp_us(G, reps=30):
    """Microseconds per powmod / powmod2 (2048-bit modulus, 256-bit exponents) right now."""
    rnd = random.Random(1)
    xs = [
        (G.commit(rnd.randrange(G.q), rnd.randrange(G.q)), rnd.randrange(G.q), rnd.randrange(G.q)) for _ in range(reps)
    ]
    t0 = time.perf_counter()
    for b, e, f in xs:
        backend.powmod(b, e, G.p)
    t1 = time.perf_counter()
    for b, e, f in xs:
        backend.powmod2(G.g, e, b, f, G.p)
    t2 = time.perf_counter()
    return {"powmod": round((t1 - t0) / reps * 1e6), "powmod2": round((t2 - t1) / reps * 1e6)}


def run_one(G, kind, tar, Cs, ms, rs, ctx, counts=None, workers=1):
    kw = {"workers": workers} if kind in PER_SLOT else {}
    G._members.clear()
    with Counter() as cp:
        t0 = time.perf_counter()
        bp = T.PROVERS[kind](tar, Cs, ms, rs, ctx, G, **kw)
        t1 = time.perf_counter()
    G._members.clear()
    with Counter() as cv:
        T.VERIFIERS[kind](tar, Cs, bp.amount, bp.proof, ctx, G, **kw)
        t2 = time.perf_counter()
    assert bp.amount == tar.cost(ms)
    if counts is not None:
        counts.update(prove_powmod=cp.n1, prove_powmod2=cp.n2, verify_powmod=cv.n1, verify_powmod2=cv.n2)
    return bp, t1 - t0, t2 - t1


def markdown(res):
    """The docs/ZK.md table for a result."""
    rows = [
        "| kind | statement | proof size | exps prove / verify | vwcrypto prove / verify | pow prove / verify |",
        "|---|---|---|---|---|---|",
    ]
    for kind, e in res["kinds"].items():
        n = e["statement_slots"]
        ex = e.get("exponentiations", {})
        exps = (
            "%d / %d" % (ex["prove_powmod"] + ex["prove_powmod2"], ex["verify_powmod"] + ex["verify_powmod2"])
            if ex
            else "-"
        )

        def t(be):
            x = e.get(be)
            if not x:
                return "-"
            return "%.2f s / %.2f s%s" % (x["prove_s"], x["verify_s"], " (*)" if x["extrapolated"] else "")

        rows.append(
            "| %s | %d %s | %s | %s | %s | %s |"
            % (
                kind,
                n,
                "slots" if kind != "threshold" else "DR slots",
                "%.2f MB" % (e["proof_bytes"] / 1e6)
                if e["proof_bytes"] >= 1e6
                else "%.1f KB" % (e["proof_bytes"] / 1e3),
                exps,
                t("vwcrypto"),
                t("pow"),
            )
        )
    return "\n".join(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slots", type=int, default=MONTH)
    ap.add_argument("--pow-slots", type=int, default=48)
    ap.add_argument("--full", action="store_true", help="time the pow backend on every slot too")
    ap.add_argument("--kinds", default="step,cumulative,threshold,rebate")
    ap.add_argument("--backends", default="vwcrypto,pow")
    ap.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes for step/threshold (vwcrypto only; counts exclude them)",
    )
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench", "zk.json"))
    a = ap.parse_args(argv)

    G = groups.default_group()
    n = a.slots
    ms = profile(n)
    rs = [secrets.randbelow(G.q) for _ in ms]
    backend.use("vwcrypto")
    Cs = [G.commit(m, r) for m, r in zip(ms, rs)]
    ctx = T.context("bench-meter", "2026-11", 0)
    tars = tariffs(n, ms)
    res = {
        "group": "2048/256",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "slots": n,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "readings_total_wh": sum(ms),
        "kinds": {},
    }
    prev = backend.CHOICE
    try:
        for kind in a.kinds.split(","):
            tar = tars[kind]
            entry = {"tariff": tar.body(), "statement_slots": len(tar.slots) if kind == "threshold" else n}
            for be in a.backends.split(","):
                backend.use(be)
                unit_us = modexp_us(G)
                counts = {}
                units = len(tar.slots) if kind == "threshold" else n
                k = units
                if be == "pow" and kind in PER_SLOT and not a.full:
                    k = min(units, a.pow_slots)
                if kind == "threshold":
                    t = T.ThresholdTariff(tar.slots[:k], tar.limit, tar.price, tar.max_reading)
                    bp, tp, tv = run_one(G, kind, t, Cs, ms, rs, ctx, counts, a.workers if be != "pow" else 1)
                    fixed = _membership_time(G, Cs)  # every C_t checked, whatever the slot set
                    tp, tv = tp * units / k, fixed + (tv - fixed) * units / k
                else:
                    bp, tp, tv = run_one(
                        G, kind, tar, Cs[:k], ms[:k], rs[:k], ctx, counts, a.workers if be != "pow" else 1
                    )
                    tp, tv = tp * units / k, tv * units / k
                entry[be] = {
                    "prove_s": round(tp, 3),
                    "verify_s": round(tv, 3),
                    "timed_units": k,
                    "extrapolated": k != units,
                }
                entry[be]["load_avg"] = round(os.getloadavg()[0], 2)
                entry[be]["modexp_us"] = unit_us
                if kind in PER_SLOT and a.workers > 1 and be != "pow":
                    entry[be]["workers"] = a.workers
                if k == units:
                    if not (kind in PER_SLOT and a.workers > 1 and be != "pow"):
                        entry["exponentiations"] = counts  # parent process only
                    entry["proof_bytes"] = len(bp.proof)
                    entry["amount"] = bp.amount
                print(
                    "%-10s %-8s prove %8.2f s  verify %8.2f s  %s"
                    % (
                        kind,
                        be,
                        tp,
                        tv,
                        "(scaled from %d of %d slots)" % (k, units) if k != units else "%d bytes" % len(bp.proof),
                    ),
                    flush=True,
                )
            res["kinds"][kind] = entry
    finally:
        backend.use(prev)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=2)
    print(markdown(res))
    print("wrote", a.out)
    return res


if __name__ == "__main__":
    main()
