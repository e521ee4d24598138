#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`make bench`, aggregation part; JSON in build/bench/agg.json.

1. Aggregator throughput for 10,000 meters: 200 feeder groups of 50 meters, one slot.
   Enrolling 10,000 meters for real takes 10,000 x 49 modexps, so the pair keys of this
   benchmark are drawn from a seed (synthetic enrollment); the aggregator's work per share
   (decode, MAC check, bookkeeping, sums) is exactly the real one, and the aggregator keys
   are real DH-derived keys for the first group (the MAC cost does not depend on it).
2. Member-side cost per slot against group size, in CPython and in the unix MicroPython:
   enrollment (n-1 modexps + 1) and one share (n-1 HMACs).
3. Meter-side cost on the Cortex-M4 QEMU board (firmware variant `vwcrypto`, vwcore as .mpy
   on LittleFS, -icount shift=0: instructions), the meter's own code path: streamed
   enrollment (vwcore.agg.EnrollBuilder: BEGIN, one add() per member, finish()), one share
   from the packed enrollment, the AEAD opening of the stored reading it is derived from,
   and one recovery message; checked byte for byte against CPython. `--no-qemu` skips it,
   `--sizes 3,10,50` chooses the group sizes.
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
    return {
        "meters": groups * size,
        "groups": groups,
        "group_size": size,
        "seconds": dt,
        "shares_per_second": groups * size / dt,
    }


def member_costs(sizes=(3, 10, 50)):
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
            row.update(
                {
                    name + "_backend": backend,
                    name + "_enroll_ms": round(float(enroll), 2),
                    name + "_share_ms": round(float(share), 3),
                }
            )
        out.append(row)
    return out


def sim_collection(n_meters=4, days=1, baud=115200):
    """Enrollment and collection over serial: unix simulated meters (the real firmware)
    behind ptys throttled to `baud`; a day of shares per meter, then one slot recovered."""
    import tempfile

    from veriwatt import device, serial_client, slots
    from veriwatt.aggregation import Aggregator
    from vwcore import group

    a = slots.month_range("2026-12")[0]
    b = a + 48 * days
    with tempfile.TemporaryDirectory() as tmp:
        sim = device.start_sim(n_meters, tmp + "/sim", 300000, "none", baud=baud)
        try:
            links = [serial_client.MeterLink(m.port, timeout=10, retries=3) for m in sim.meters]
            cks = []
            for i, link in enumerate(links):
                cks.append(
                    device.provision(link, b"BENCH%03d" % i, tmp, (a - 2) * 1800, name="m%d" % i)["customer_key"]
                )
            while (
                min(link.hello()["last_slot"] for link in links) in (0xFFFFFFFF,)
                or min(link.hello()["last_slot"] for link in links) < b
            ):
                time.sleep(0.2)
            infos = [link.hello() for link in links]
            G = group.get(infos[0]["group_id"])
            members = [(i["meter_id"], i["agg_pub"]) for i in infos]
            A = Aggregator(b"bench", members, agg.secret_scalar(os.urandom(32), G), G)
            digest = agg.enroll_digest(agg.group_hash(b"bench", members, A.pub, G), len(members), 0, 0)
            t0 = time.perf_counter()
            for link, info, ck in zip(links, infos, cks):
                link.agg_enroll(
                    G.id, b"bench", A.pub, members, tag=agg.enroll_tag(ck, info["meter_id"], info["challenge"], digest)
                )
            t_enroll = time.perf_counter() - t0
            # slot a without the last meter: decided first, reduced shares from the others
            t0 = time.perf_counter()
            missing = A.start_recovery(a, [members[-1][0]])
            for link in links[:-1]:
                A.add_recovery(link.agg_recover(a, missing))
            A.result(a)
            t_rec = time.perf_counter() - t0
            rx0 = sum(link.stats.rx_bytes for link in links)
            t0 = time.perf_counter()
            shares = [link.agg_fetch(a + 1, b) for link in links]
            t_fetch = time.perf_counter() - t0
            rx = sum(link.stats.rx_bytes for link in links) - rx0
            for got in shares:
                for sh in got.values():
                    A.add_share(sh)
            for link in links:
                link.close()
        finally:
            sim.stop()
    return {
        "meters": n_meters,
        "slots": b - a,
        "baud": baud,
        "enroll_seconds_all": round(t_enroll, 3),
        "fetch_seconds_all": round(t_fetch, 3),
        "fetch_seconds_per_meter": round(t_fetch / n_meters, 3),
        "bytes_received": rx,
        "recover_one_slot_seconds": round(t_rec, 3),
    }


QEMU_SETUP = '''
import gc, vwboard
from vwcore import agg, aead
def measure(f):
    gc.collect()
    t0 = vwboard.ticks_ns()
    r = f()
    return vwboard.ticks_ns() - t0, r
'''


def qemu_member_costs(sizes=(3, 10, 50)):
    """Instructions on the QEMU Cortex-M4 board for the meter's aggregation work."""
    import tempfile
    from pathlib import Path

    sys.path.insert(0, os.path.join(ROOT, "simulators"))
    import qemu_sim as qemu_board
    from vwcore import aead, group

    msg = qemu_board.missing_firmware_message("vwcrypto")
    if msg:
        return {"error": msg}
    G = group.get(None)
    out = {
        "machine": "qemu-system-arm -M mps2-an386 (Cortex-M4), firmware vwcrypto, -icount shift=0",
        "unit": "instructions",
        "group": "2048/256",
        "rows": [],
    }
    ck = bytes(range(15))
    slot, wh = 998000, 1234
    pt = wh.to_bytes(4, "big") + bytes(32)
    ct = aead.encrypt(ck, aead.record_nonce(b"MTR00000", slot), pt, b"ad")
    with tempfile.TemporaryDirectory() as tmp, qemu_board.QemuBoard("vwcrypto") as bd:
        qemu_board.deploy_vwcore_selftest(bd, Path(tmp), Path(ROOT) / "tests" / "core" / "mp_selftest.py")
        bd.exec(QEMU_SETUP)
        out["heap_free_after_import"] = bd.eval("gc.collect() or gc.mem_free()")
        out["modexp_backend"] = bd.eval("__import__('vwcore.modexp').modexp.BACKEND")
        for n in sizes:
            xs = [agg.secret_scalar(b"bench-%d" % i, G) for i in range(n)]
            ids = [b"MTR%05d" % i for i in range(n)]
            members = [(mid, agg.public_key(x, G)) for mid, x in zip(ids, xs)]
            xa = agg.secret_scalar(b"bench-aggregator", G)
            ya = agg.public_key(xa, G)
            want = agg.Enrollment.create(xs[0], ids[0], b"feeder", members, ya, G)
            bd.exec(
                "gc.collect(); m0 = gc.mem_free()\n"
                "t_begin, b = measure(lambda: agg.EnrollBuilder(agg.secret_scalar(b'bench-0'), %r, b'feeder', %d, %d))\n"
                "t_add = []" % (ids[0], ya, n)
            )
            for mid, y in members:
                bd.exec("t_add.append(measure(lambda: b.add(%r, %d))[0])" % (mid, y), timeout=300)
            bd.exec(
                "gc.collect()\nm1 = gc.mem_free()\nt_fin, blob = measure(b.finish)\nb = None\ngc.collect()\n"
                "t_pack, e = measure(lambda: agg.PackedEnrollment(blob))\nm2 = gc.mem_free()"
            )
            blob_hex = bd.eval("blob.hex()")
            if bytes.fromhex(blob_hex) != want.to_bytes():
                raise SystemExit("bench_agg: the board's enrollment differs from CPython's (n=%d)" % n)
            r = bd.eval("(t_begin, t_add, t_fin, m0 - m1, m0 - m2)")
            t_begin, t_add, t_fin, ram_build, ram_kept = r
            share = []
            for _ in range(3):
                share.append(bd.eval("measure(lambda: e.share(%d, %d))[0]" % (slot, wh)))
            sh = bytes.fromhex(bd.eval("e.share(%d, %d).hex()" % (slot, wh)))
            if sh != want.share(slot, wh):
                raise SystemExit("bench_agg: the board's share differs from CPython's (n=%d)" % n)
            t_open = min(
                bd.eval(
                    "measure(lambda: aead.AEAD(%r).decrypt(aead.record_nonce(b'MTR00000', %d), %r, b'ad'))[0]"
                    % (ck, slot, ct)
                )
                for _ in range(2)
            )
            t_rec = bd.eval("measure(lambda: e.reduced_share(%d, %d, [%r]))[0]" % (slot, wh, ids[-1]))
            row = {
                "group_size": n,
                "enroll_instructions": t_begin + sum(t_add) + t_fin,
                "enroll_begin": t_begin,
                "enroll_per_member_add": sum(t_add) // n,
                "enroll_finish": t_fin,
                "share_instructions": min(share),
                "open_reading_instructions": t_open,
                "per_slot_instructions": min(share) + t_open,
                "recovery_1_missing_instructions": t_rec,
                "enrollment_bytes": len(want.to_bytes()),
                "heap_during_enroll_bytes": ram_build,
                "heap_kept_bytes": ram_kept,
            }
            out["rows"].append(row)
            bd.exec("e = blob = None\ngc.collect()")
    return out


def main():
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-qemu", action="store_true", help="skip the QEMU meter-side measurement")
    ap.add_argument("--sizes", default="3,10,50", help="group sizes (default 3,10,50)")
    args = ap.parse_args()
    sizes = tuple(int(x) for x in args.sizes.split(","))
    res = {"aggregator": aggregator_throughput(), "member": member_costs(sizes)}
    res["serial"] = c = sim_collection()
    print(
        "serial (%d simulated meters, %d baud): enroll all %.2f s; a day of shares %.2f s per meter (%d bytes in all); "
        "recovery of one slot without one meter %.2f s"
        % (
            c["meters"],
            c["baud"],
            c["enroll_seconds_all"],
            c["fetch_seconds_per_meter"],
            c["bytes_received"],
            c["recover_one_slot_seconds"],
        )
    )
    if not args.no_qemu:
        t0 = time.time()
        res["qemu_meter"] = q = qemu_member_costs(sizes)
        q["wall_seconds"] = round(time.time() - t0, 1)
        if "error" in q:
            print("qemu: skipped: %s" % q["error"])
        else:
            print("meter on Cortex-M4 (QEMU -icount, %s backend), millions of instructions:" % q["modexp_backend"])
            for r in q["rows"]:
                print(
                    "  group of %3d: enroll %8.1f M (%.1f M per member), per slot %.2f M (share %.2f M + opening %.2f M), "
                    "recovery %.2f M; enrollment %d B, heap while enrolling %d B"
                    % (
                        r["group_size"],
                        r["enroll_instructions"] / 1e6,
                        r["enroll_per_member_add"] / 1e6,
                        r["per_slot_instructions"] / 1e6,
                        r["share_instructions"] / 1e6,
                        r["open_reading_instructions"] / 1e6,
                        r["recovery_1_missing_instructions"] / 1e6,
                        r["enrollment_bytes"],
                        r["heap_during_enroll_bytes"],
                    )
                )
    a = res["aggregator"]
    print(
        "aggregator: %d meters (%d groups of %d): %.2f s, %.0f shares/s"
        % (a["meters"], a["groups"], a["group_size"], a["seconds"], a["shares_per_second"])
    )
    for row in res["member"]:
        print(
            "member, group of %3d: CPython (%s) enroll %s ms, share %s ms; MicroPython (%s) enroll %s ms, share %s ms"
            % tuple(
                [row["group_size"]]
                + [
                    row.get(k, "-")
                    for k in (
                        "cpython_backend",
                        "cpython_enroll_ms",
                        "cpython_share_ms",
                        "micropython_backend",
                        "micropython_enroll_ms",
                        "micropython_share_ms",
                    )
                ]
            )
        )
    os.makedirs(os.path.join(ROOT, "build", "bench"), exist_ok=True)
    with open(os.path.join(ROOT, "build", "bench", "agg.json"), "w") as f:
        json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
