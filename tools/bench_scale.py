#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Scale benchmarks (issue 14); JSON in build/bench/scale.json, figures in docs/BENCHMARKS.md.

    python tools/bench_scale.py [--meters 6] [--rounds 3] [--population DIR] [--skip ...]

1. population: `veriwatt population` time for --meters meters (1 process, and --workers).
2. bills: month-bills verified per CPU-second (process time: per core) on one core, interleaved,
   best and median of --rounds passes: reference (veriwatt.bill.verify_bill on the bill without
   `sig_R`, its fixed-base table cache cleared per bill: every bill of a supplier is another
   meter's), per_signature (veriwatt.batchverify.verify_bill without `sig_R`: one signature at
   a time), batch (the same with `sig_R`: hashes plus one batch equation) and batch_raw (the
   batch path from the file's bytes: JSON parsing included, batchverify.verify_raw) and
   batch_many (the same files through batchverify.verify_many: the batch equations of up to
   COMBINE bills joined in one multi-exponentiation). The batch passes run twice in the same
   interleaved rounds: "*_gmpy2" with the Python/gmpy2 products (batchverify.USE_C and
   linear.USE_C off: the path before the C multi-exponentiation) and without suffix with the C
   products (veriwatt.cmexp) and challenges (veriwatt.cchal, batchverify.USE_C_HASH; hashlib
   on the "_gmpy2" path). --base REV adds, in the same rounds, REV's verify_many
   ("batch_many_base": the code before a change). Then where the time goes
   ("parts_ms_per_bill", `bill_parts`: the usual parse's parts and the packed columns' in the
   same rounds). --many-only: only the verify_many passes (and the base's), for more rounds in
   the same time; --parts-only: only the parts, best of --rounds. Where the CPU has AVX-512
   IFMA, the verify_many pass also runs, in the same rounds, with the C products forced onto
   GMP's mpn backend ("batch_many_mpn"; the others use the default, IFMA: cmexp.set_backend).
3. shares: aggregator shares per second for 10,000 meters (200 groups of 50; batches of 4 and
   of 48 slots per group), before (veriwatt.aggregation.Aggregator, share by share,
   tools/bench_agg.py) and after (veriwatt.bulkagg: its hashlib path and its C MAC kernel),
   interleaved, then where the time goes (tools/bench_bulkagg.py); --base REV adds, in the
   same rounds, REV's bulkagg and aggregation ("base_after": the code before a change).
4. dask: verify-bills of the population on an embedded LocalCluster with 1 and 2 workers
   (one thread each): bills/s and the ratio, when veriwatt.scale exists.
5. dask_db: verify-bills --database (veriwatt.dbverify) over a SQLite service database holding
   the population's bills, 1 and 2 workers, --db-batch bills per task.
Every figure carries the machine's load average: the build machine is shared.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host"))
sys.path.insert(0, os.path.join(ROOT, "firmware"))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from veriwatt import batchverify, bill, cbill, cchal, cmexp, fastexp, jsonio, linear, population  # noqa: E402


def load() -> List[float]:
    return [round(x, 2) for x in os.getloadavg()]


def make_population(out: str, meters: int, workers: int) -> Dict[str, Any]:
    t0 = time.perf_counter()
    population.generate(out, meters, "2026-12", seed=b"bench-scale-seed-0123456789abcdef", workers=workers)
    return {"meters": meters, "workers": workers, "seconds": round(time.perf_counter() - t0, 2), "load": load()}


def _bills(pop: population.Population) -> List[tuple]:
    out = []
    for p in pop.bill_paths():
        with open(p) as f:
            b = json.load(f)
        out.append((b, pop.meter_pub(b["meter_id"])))
    return out


def _pass(fn: Callable[..., Any], bills: List[tuple], T: Any, cold: bool) -> float:
    """CPU seconds of this process per bill (per core, whatever else the machine runs)."""
    t0 = time.process_time()
    for b, pub in bills:
        if cold:
            fastexp._cache.clear()
        assert fn(b, T, pub)["valid"]
    return (time.process_time() - t0) / len(bills)


def _raw_pass(raws: List[tuple], T: Any, pubs: Dict[str, Any]) -> float:
    t0 = time.process_time()
    for name, raw in raws:
        assert batchverify.verify_raw(raw, name, T, pubs.__getitem__).status == "valid"
    return (time.process_time() - t0) / len(raws)


def _many_pass(raws: List[tuple], T: Any, pubs: Dict[str, Any]) -> float:
    t0 = time.process_time()
    assert all(r.status == "valid" for r in batchverify.verify_many(raws, T, pubs.__getitem__))
    return (time.process_time() - t0) / len(raws)


def _many_pass_mpn(raws: List[tuple], T: Any, pubs: Dict[str, Any]) -> float:
    """_many_pass with the C multi-exponentiation on GMP's mpn backend (not IFMA)."""
    cmexp.set_backend("mpn")
    try:
        return _many_pass(raws, T, pubs)
    finally:
        cmexp.set_backend("auto")


def _use_c(on: bool) -> None:
    batchverify.USE_C = linear.USE_C = on and cmexp.available()
    batchverify.USE_C_HASH = on and cchal.available()


def base_package(rev: str) -> Any:
    """The veriwatt package of git revision rev (its host/veriwatt, extracted by `git archive`
    into a temporary folder and imported under another name; vwcore and the vwcrypto build
    are this tree's): the code before a change, measured in the same run as the change."""
    import importlib
    import subprocess

    d = tempfile.mkdtemp(prefix="vw-bills-base-")
    tar = subprocess.run(["git", "-C", ROOT, "archive", rev, "host/veriwatt"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", d], input=tar.stdout, check=True)
    name = "vw_base_" + "".join(c if c.isalnum() else "_" for c in rev)
    os.rename(os.path.join(d, "host", "veriwatt"), os.path.join(d, name))
    sys.path.insert(0, d)
    return importlib.import_module(name + ".batchverify")


def _many_pass_of(bv: Any, raws: List[tuple], T: Any, pubs: Dict[str, Any]) -> float:
    t0 = time.process_time()
    assert all(r.status == "valid" for r in bv.verify_many(raws, T, pubs.__getitem__))
    return (time.process_time() - t0) / len(raws)


def bill_parts(
    pop: population.Population, raws: List[tuple], pubs: Dict[str, Any], rounds: int = 1
) -> Dict[str, float]:
    """Where the time of `verify_many` goes (CPU ms per bill, this tree's C path): each part
    run alone over the population's bills (the batch equation over all of them at once, as
    verify_many joins up to COMBINE), best of `rounds`, plus the whole for comparison. The
    parts of the usual parse ("usual_*": parse_entries, parse_sig_rs, Python ints) and, when
    veriwatt.cbill is built, of the packed columns verify_many takes ("packed_*":
    bill.packed_records, FastChecker.packed_records_ok, linear.check_packed), in the same rounds."""
    from vwcore import group as _group

    G, n, T = _group.DEFAULT, len(raws), pop.tariff
    ms: Dict[str, float] = {}

    def part(name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.process_time()
        got = fn()
        v = round((time.process_time() - t0) * 1000 / n, 2)
        ms[name] = min(ms.get(name, v), v)
        return got

    for _ in range(rounds):
        part("file_sha256", lambda: [hashlib.sha256(raw).digest() for _, raw in raws])
        bs = part("json", lambda: [jsonio.loads(raw.decode("utf-8"), "bill", nm) for nm, raw in raws])
        per = [(b["period"]["start_slot"], b["period"]["end_slot"]) for b in bs]
        chks = part("checkers", lambda: [batchverify.FastChecker.from_pub(pubs[b["meter_id"]]) for b in bs])
        ws = [bill.weights_for(b["kind"], T, s, e) for b, (s, e) in zip(bs, per)]
        Rs = [int(b["proof"]["R"], 16) for b in bs]
        ents = part("usual_decode_commitments", lambda: [bill.parse_entries(b, G, len(b["commitments"])) for b in bs])
        rs = part("usual_decode_sig_R", lambda: [bill.parse_sig_rs(b, G, len(e)) for b, e in zip(bs, ents)])
        part("usual_hashes", lambda: [c._challenges_ok(e, r) for c, e, r in zip(chks, ents, rs)])
        part("usual_batch_equation", lambda: batchverify.equation_ok(list(zip(chks, ents, rs))))
        part(
            "usual_linear_check",
            lambda: [bill._linear_ok(e, w, b["total"], R, G, True) for e, w, b, R in zip(ents, ws, bs, Rs)],
        )
        part("whole_verify_many", lambda: batchverify.verify_many(raws, T, pubs.__getitem__))
        if not (cbill.available() and chks[0].packs()):
            continue
        pks = part("packed_decode", lambda: [bill.packed_records(b, G, s, e) for b, (s, e) in zip(bs, per)])
        part("packed_hashes", lambda: [c.packed_records_ok(pk) for c, pk in zip(chks, pks)])
        part("packed_batch_equation", lambda: batchverify.equation_ok([(c, pk, None) for c, pk in zip(chks, pks)]))
        pm = bill._powmod_gh(G)
        part(
            "packed_linear_check",
            lambda: [
                linear.check_packed(pk.cle, G.plen, w, b["total"], R, G.p, G.q, G.g, G.h, pm)
                for pk, w, b, R in zip(pks, ws, bs, Rs)
            ],
        )
    taken = "packed_" if "packed_decode" in ms else "usual_"
    ms["rest"] = round(
        ms["whole_verify_many"]
        - sum(v for k, v in ms.items() if k != "whole_verify_many" and not k.startswith(("usual_", "packed_")))
        - sum(v for k, v in ms.items() if k.startswith(taken)),
        2,
    )
    return ms


def _stripped(bills: List[tuple]) -> List[tuple]:
    return [({k: v for k, v in b.items() if k != "sig_R"}, pub) for b, pub in bills]


def _add(t: Dict[str, List[float]], key: str, v: float) -> None:
    t.setdefault(key, []).append(v)


def bench_bills(
    pop: population.Population,
    rounds: int,
    base: Optional[str] = None,
    many_only: bool = False,
    parts_only: bool = False,
) -> Dict[str, Any]:
    bills = _bills(pop)
    if parts_only:
        raws = [(os.path.basename(p), open(p, "rb").read()) for p in pop.bill_paths()]
        batchverify.group_table_ready()
        pubs = {b["meter_id"]: pub for b, pub in bills}
        return {"parts_ms_per_bill": bill_parts(pop, raws, pubs, rounds), "rounds": rounds, "load": load()}
    base_bv = base_package(base) if base else None
    t0 = time.perf_counter()
    batchverify.group_table_ready()
    table_s = time.perf_counter() - t0
    plain = _stripped(bills)
    raws = [(os.path.basename(p), open(p, "rb").read()) for p in pop.bill_paths()]
    pubs = {b["meter_id"]: pub for b, pub in bills}
    t: Dict[str, List[float]] = {}
    ifma = "ifma" in cmexp.backends()
    for _ in range(rounds if many_only else 0):  # --many-only: verify_many against the base only
        _use_c(True)
        _add(t, "batch_many", _many_pass(raws, pop.tariff, pubs))
        if ifma:
            _add(t, "batch_many_mpn", _many_pass_mpn(raws, pop.tariff, pubs))
        if base_bv is not None:
            _add(t, "batch_many_base", _many_pass_of(base_bv, raws, pop.tariff, pubs))
    for _ in range(0 if many_only else rounds):  # interleaved, so all see the same load
        _use_c(False)  # before: the Python / gmpy2 products
        _add(t, "reference", _pass(bill.verify_bill, plain, pop.tariff, True))
        _add(t, "per_signature", _pass(batchverify.verify_bill, plain, pop.tariff, False))
        for sfx, on in (("_gmpy2", False), ("", True)):
            _use_c(on)
            _add(t, "batch" + sfx, _pass(batchverify.verify_bill, bills, pop.tariff, False))
            _add(t, "batch_raw" + sfx, _raw_pass(raws, pop.tariff, pubs))
            _add(t, "batch_many" + sfx, _many_pass(raws, pop.tariff, pubs))
        if ifma:
            _add(t, "batch_many_mpn", _many_pass_mpn(raws, pop.tariff, pubs))
        if base_bv is not None:  # the code before the change, in the same round
            _add(t, "batch_many_base", _many_pass_of(base_bv, raws, pop.tariff, pubs))
    _use_c(True)
    out: Dict[str, Any] = {
        "bills": len(bills),
        "slots_per_bill": bills[0][0]["period"]["slots"],
        "rounds": rounds,
        "g_table_seconds": round(table_s, 3),
        "c_multiexp": cmexp.available(),
        "c_challenges": cchal.available(),
        "mexp_backend": cmexp.backend(2048),
        "base": base,
    }
    for k, v in t.items():
        out[k] = {
            "s_per_bill_best": round(min(v), 4),
            "s_per_bill_median": round(statistics.median(v), 4),
            "bills_per_s": round(1 / min(v), 2),
        }
    if ifma:
        out["speedup_many_ifma_over_mpn"] = round(min(t["batch_many_mpn"]) / min(t["batch_many"]), 2)
    if many_only:
        if base_bv is not None:
            out["speedup_many_over_base"] = round(min(t["batch_many_base"]) / min(t["batch_many"]), 2)
        out["load"] = load()
        return out
    out["speedup_batch_over_per_signature"] = round(min(t["per_signature"]) / min(t["batch"]), 2)
    out["speedup_batch_over_reference"] = round(min(t["reference"]) / min(t["batch"]), 2)
    out["speedup_many_over_reference"] = round(min(t["reference"]) / min(t["batch_many"]), 2)
    out["speedup_c_over_gmpy2_batch"] = round(min(t["batch_gmpy2"]) / min(t["batch"]), 2)
    out["speedup_c_over_gmpy2_many"] = round(min(t["batch_many_gmpy2"]) / min(t["batch_many"]), 2)
    if base_bv is not None:
        out["speedup_many_over_base"] = round(min(t["batch_many_base"]) / min(t["batch_many"]), 2)
    out["parts_ms_per_bill"] = bill_parts(pop, raws, pubs, rounds)
    out["load"] = load()
    return out


def bench_shares(rounds: int, base: Optional[str] = None) -> Dict[str, Any]:
    """Per batch size (a group's 4 slots, real masked shares; a group's day, 48 slots), interleaved
    rounds of: before (add_share one by one), after_python (bulkagg, hashlib MAC loop) and after
    (bulkagg, C MAC kernel), with base (a git revision) also base_after (that revision's bulkagg,
    C MAC kernel); for 4 slots also forged (a flood of shares whose MACs all fail, refused per
    CPU-second; base_forged: the base's); then where the C path's time goes."""
    import bench_bulkagg

    impl = bench_bulkagg.baseline(base) if base else None
    keys = ["before", "after_python", "after"] + (["base_after"] if base else [])
    out: Dict[str, Any] = {"base": base} if base else {}
    for name, slots, masked in (("slots_4", 4, True), ("slots_48", 48, False)):
        d = bench_bulkagg.data(slots=slots, masked=masked)
        r: Dict[str, Any] = {"shares": sum(len(ss) for _, _, ss in d), **{k: [] for k in keys}}
        for _ in range(rounds):  # interleaved; CPU time of this process (per core)
            r["before"].append(round(bench_bulkagg.before(d)))
            r["after_python"].append(round(bench_bulkagg.throughput(d, native=False)))
            if impl:
                r["base_after"].append(round(bench_bulkagg.throughput(d, native=True, impl=impl)))
            r["after"].append(round(bench_bulkagg.throughput(d, native=True)))
            if name == "slots_4":  # a flood of forged shares (every MAC fails), refused per CPU-second
                r.setdefault("forged", []).append(round(bench_bulkagg.forged(d)))
                if impl:
                    r.setdefault("base_forged", []).append(round(bench_bulkagg.forged(d, impl=impl)))
            r.setdefault("load", []).append(load())
        for k in keys + [k for k in ("forged", "base_forged") if k in r]:
            r[k + "_best"] = max(r[k])
        r["parts"] = bench_bulkagg.parts(d)
        out[name] = r
        print("shares", name, r, flush=True)
    out["load"] = load()
    return out


def bench_dask(pop_dir: str, n_bills: int) -> Dict[str, Any]:
    """Wall time of verify-bills (batch 1) on a warm LocalCluster of 1 and 2 workers (started,
    tables built, before the clock starts)."""
    from distributed import Client, LocalCluster

    from veriwatt import scale

    res: Dict[str, Any] = {}
    for workers in (1, 2):
        with (
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cl,
            Client(cl) as c,
            tempfile.TemporaryDirectory() as d,
        ):
            c.run(scale._context, str(os.path.realpath(pop_dir)))
            t0 = time.perf_counter()
            summary = scale.verify_bills(pop_dir, db=os.path.join(d, "r.db"), client=c, batch=1)
            dt = time.perf_counter() - t0
        assert summary["valid"] == n_bills, summary
        res["workers_%d" % workers] = {"seconds": round(dt, 2), "bills_per_s": round(n_bills / dt, 2)}
    res["ratio_2_over_1"] = round(res["workers_2"]["bills_per_s"] / res["workers_1"]["bills_per_s"], 3)
    res["load"] = load()
    return res


def bench_dask_db(pop_dir: str, n_bills: int, batch: int) -> Dict[str, Any]:
    """Wall time of verify-bills --database (veriwatt.dbverify) over a SQLite service database
    holding the population's bills, on a warm LocalCluster of 1 and 2 workers (started, their
    database connection opened and g table built before the clock starts); bill_checks is
    emptied before each run, so every bill is verified and written."""
    from distributed import Client, LocalCluster

    from veriwatt import dbverify, keys

    res: Dict[str, Any] = {"batch": batch, "bills": n_bills}
    spub = keys.load_public(os.path.join(pop_dir, "supplier.pub.json"), "supplier")
    with tempfile.TemporaryDirectory() as d:
        url = "sqlite:///" + os.path.join(d, "svc.db")
        dbverify.record_population(pop_dir, url)
        for workers in (1, 2):
            with (
                LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cl,
                Client(cl) as c,
            ):
                c.run(dbverify.warm, url)
                db = dbverify.open_existing(url)
                dbverify.results_db(db)  # the table exists
                db.query("DELETE FROM bill_checks")
                db.close()
                t0 = time.perf_counter()
                summary = dbverify.verify_database(url, spub, client=c, batch=batch)
                dt = time.perf_counter() - t0
            assert summary["valid"] == n_bills, summary
            res["workers_%d" % workers] = {
                "seconds": round(dt, 2),
                "bills_per_s": round(n_bills / dt, 2),
                "load": load(),
            }
    res["ratio_2_over_1"] = round(res["workers_2"]["bills_per_s"] / res["workers_1"]["bills_per_s"], 3)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--meters", type=int, default=6)
    ap.add_argument("--workers", type=int, default=2, help="processes for the population")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--population", help="reuse this population folder (else a temporary one)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["bills", "shares", "dask", "dask_db"])
    ap.add_argument("--base", help="also measure this git revision's bulkagg and verify_many (e.g. main), interleaved")
    ap.add_argument("--many-only", action="store_true", help="bills: only verify_many (and --base's), interleaved")
    ap.add_argument("--parts-only", action="store_true", help="bills: only where the time goes (best of --rounds)")
    ap.add_argument("--db-batch", type=int, default=4, help="bills per task of the database path (dask_db)")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench", "scale.json"))
    args = ap.parse_args()
    res: Dict[str, Any] = {"gmpy2": fastexp.available(), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        pdir = args.population or os.path.join(tmp, "pop")
        if not os.path.exists(os.path.join(pdir, "population.json")):
            res["population"] = make_population(pdir, args.meters, args.workers)
            print("population", res["population"], flush=True)
        pop = population.Population(pdir)
        if "bills" not in args.skip:
            res["bills"] = bench_bills(pop, args.rounds, args.base, args.many_only, args.parts_only)
            print("bills", res["bills"], flush=True)
        if "shares" not in args.skip:
            res["shares"] = bench_shares(args.rounds, args.base)
            print("shares", res["shares"], flush=True)
        if "dask" not in args.skip:
            res["dask"] = bench_dask(pdir, len(pop.bill_paths()))
            print("dask", res["dask"], flush=True)
        if "dask_db" not in args.skip:
            res["dask_db"] = bench_dask_db(pdir, len(pop.bill_paths()), args.db_batch)
            print("dask_db", res["dask_db"], flush=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
