#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`make bench`, host fetch and bill part; JSON in build/bench/fetch.json.

1. A month of half hours (1488 slots) certified by the real firmware on a simulated meter
   (unix MicroPython behind a pty), then fetched over the pty: wall time, bytes on the wire
   (both directions) against the bytes a verifier strictly needs (per slot: slot number,
   commitment, signature; the meter id once) and the bytes the customer needs (plus the
   52-byte ciphertext), and the implied transfer time at 115200 baud 8N1 (10 bits a byte).
2. The same meter behind a line throttled to 115200 baud: a day (96 slots) fetched, to show
   how close the protocol gets to the wire's own limit.
3. Bill and verify-bill for the month, median of several rounds, with each backend for
   public-value exponentiation: gmp (gmpy2 + fixed-base tables, the default when present),
   vwcrypto (the project's constant-time C code through vwcore.modexp) and CPython's pow.

    .venv/bin/python tools/bench_host_fetch.py [--rounds 5] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host"))
sys.path.insert(0, os.path.join(ROOT, "firmware"))

from vwcore import wire  # noqa: E402

from veriwatt import backend, bill, device, fastexp, keys, records, serial_client, slots, tariff  # noqa: E402
from veriwatt.store import Store  # noqa: E402

BAUD = 115200
MONTH = "2026-12"


def wait_month(port: str, last: int, timeout: float = 180) -> dict:
    link = serial_client.MeterLink(port, timeout=5)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = link.hello()
            if info["last_slot"] != wire.NO_SLOT and info["last_slot"] >= last:
                return info
            time.sleep(0.5)
    finally:
        link.close()
    raise SystemExit("the simulated meter did not certify a month in %d s" % timeout)


def fetch_once(port: str, db: str, pub: dict, a: int, b: int) -> dict:
    st = Store(db)
    link = serial_client.MeterLink(port, timeout=5)
    try:
        link.hello()
        t0 = time.perf_counter()
        s = serial_client.fetch(
            link, st, pub["meter_id"], records.Checker.from_pub(pub).check_raw, from_slot=a, to_slot=b, batch=64
        )
        s["wall_s"] = time.perf_counter() - t0
    finally:
        link.close()
        st.close()
    return s


def median_time(fn, rounds: int) -> float:
    ts = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="rounds for the medians (pow: fewer)")
    ap.add_argument("--quick", action="store_true", help="fewer rounds, no throttled fetch")
    args = ap.parse_args()
    rounds = 2 if args.quick else args.rounds
    tmp = tempfile.mkdtemp(prefix="vw-bench-")
    result: dict = {"month": MONTH, "baud": BAUD}
    try:
        a, b = slots.month_range(MONTH, "Europe/London")
        n = b - a
        # --- a month certified by the firmware at 300000x, then the meter restarted at 1x
        sim = device.start_sim(1, os.path.join(tmp, "sim"), 300000, "none")
        try:
            link = serial_client.MeterLink(sim.meters[0].port, timeout=5)
            prov = device.provision(link, b"VWBENCH1", tmp, (a - 2) * 1800)
            link.close()
            t0 = time.monotonic()
            wait_month(sim.meters[0].port, b - 1)
            result["firmware_month_certify_s"] = round(time.monotonic() - t0, 2)
        finally:
            sim.stop()
        pub = prov["pub"]
        sim = device.start_sim(1, os.path.join(tmp, "sim"), 1, "none")
        try:
            port = sim.meters[0].port
            runs = [fetch_once(port, os.path.join(tmp, "f%d.db" % i), pub, a, b) for i in range(3)]
        finally:
            sim.stop()
        run = sorted(runs, key=lambda s: s["wall_s"])[1]
        assert run["complete"] and run["added"] == n, run
        rec_len = wire.record_len(1)
        need_verifier = n * (4 + 256 + 64) + 8
        need_customer = need_verifier + n * wire.CT_LEN
        wire_bytes = run["line"]["rx_bytes"] + run["line"]["tx_bytes"]
        result["fetch_pty"] = {
            "slots": n,
            "wall_s_median_of_3": round(run["wall_s"], 3),
            "rx_bytes": run["line"]["rx_bytes"],
            "tx_bytes": run["line"]["tx_bytes"],
            "wire_bytes": wire_bytes,
            "requests": run["line"]["requests"],
            "frames": run["line"]["frames"],
            "record_bytes": rec_len,
            "frame_bytes_per_reading": rec_len + wire.FRAME_OVERHEAD,
            "verifier_needs_bytes": need_verifier,
            "customer_needs_bytes": need_customer,
            "wire_over_verifier_need": round(wire_bytes / need_verifier, 3),
            "wire_over_customer_need": round(wire_bytes / need_customer, 3),
            "implied_s_at_115200_8N1": round(wire_bytes * 10 / BAUD, 2),
            "verifier_need_s_at_115200_8N1": round(need_verifier * 10 / BAUD, 2),
        }
        # --- a day over a line throttled to 115200 baud
        if not args.quick:
            sim = device.start_sim(1, os.path.join(tmp, "sim"), 1, "none", baud=BAUD)
            try:
                d = fetch_once(sim.meters[0].port, os.path.join(tmp, "day.db"), pub, a, a + 96)
            finally:
                sim.stop()
            ideal = d["line"]["rx_bytes"] * 10 / BAUD
            result["fetch_115200_day"] = {
                "slots": 96,
                "wall_s": round(d["wall_s"], 3),
                "rx_bytes": d["line"]["rx_bytes"],
                "rx_wire_time_s": round(ideal, 3),
                "efficiency": round(ideal / d["wall_s"], 3),
                "month_extrapolated_s": round(d["wall_s"] * n / 96, 1),
            }
        # --- bill and verify-bill for the month, per backend
        st = Store(os.path.join(tmp, "f0.db"))
        recs = [records.decode(raw) for _, raw in st.records(pub["meter_id"], a, b)]
        st.close()
        sk = keys.new_supplier_key(secret=b"\x01" * 32)
        T = tariff.parse_signed(tariff.sign(tariff.example(), sk), keys.public(sk))
        B = None
        result["bill_month"] = {}
        for be in ("gmp", "vwcrypto", "pow"):
            if be == "gmp" and backend.GMP is None:
                continue
            backend.use("gmpy2" if be == "gmp" else be)
            fastexp._cache.clear()
            r = rounds if be != "pow" else max(1, rounds // 3)

            def make():
                ops = records.open_all(recs, prov["customer_key"])
                return bill.make_bill(recs, ops, T, a, b, pub)

            B = make()
            text = json.dumps(B)

            def check():
                assert bill.verify_bill(json.loads(text), T, pub)["valid"]

            result["bill_month"][be] = {
                "rounds": r,
                "bill_s": round(median_time(make, r), 4),
                "verify_bill_s": round(median_time(check, r), 4),
            }
        backend.use("auto")
        bm = result["bill_month"]
        if "pow" in bm:
            for be in ("gmp", "vwcrypto"):
                if be in bm:
                    bm[be]["verify_speedup_vs_pow"] = round(bm["pow"]["verify_bill_s"] / bm[be]["verify_bill_s"], 1)
        result["bill_file_bytes"] = len(json.dumps(B, indent=1)) if B else None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(ROOT, "build", "bench"), exist_ok=True)
    with open(os.path.join(ROOT, "build", "bench", "fetch.json"), "w") as f:
        json.dump(result, f, indent=2)
    f = result["fetch_pty"]
    print(
        "fetch of a month (%d slots) over a pty: %.2f s; %d bytes on the wire (%.2fx what a verifier needs, "
        "%.2fx with the customer's ciphertexts): %.1f s at 115200 8N1 (verifier's minimum %.1f s)"
        % (
            f["slots"],
            f["wall_s_median_of_3"],
            f["wire_bytes"],
            f["wire_over_verifier_need"],
            f["wire_over_customer_need"],
            f["implied_s_at_115200_8N1"],
            f["verifier_need_s_at_115200_8N1"],
        )
    )
    if "fetch_115200_day" in result:
        d = result["fetch_115200_day"]
        print(
            "a day (96 slots) at 115200 baud: %.2f s, %.0f%% of the line's capacity used; a month: about %.0f s"
            % (d["wall_s"], d["efficiency"] * 100, d["month_extrapolated_s"])
        )
    for be, v in result["bill_month"].items():
        print(
            "bill a month: %-8s bill %.3f s, verify-bill %.3f s (median of %d)%s"
            % (
                be,
                v["bill_s"],
                v["verify_bill_s"],
                v["rounds"],
                ", verify %.1fx faster than pow" % v["verify_speedup_vs_pow"] if "verify_speedup_vs_pow" in v else "",
            )
        )
    print("wrote build/bench/fetch.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
