#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Cost of bills computed in the meter (docs/COMPUTATIONS.md section 6) on the FROZEN meter, its
48 KB-heap board (qemu port, VERIWATT_AN386 `meter` variant, -icount shift=0: ticks_us x 1000 =
instructions):

  supplier_key        SUPPLIER_KEY: admin tag check and the membership test of Y (one modexp)
  commit              TARIFF_SET COMMIT of a month's time-of-use tariff (the points of a calendar
                      month of the example tariff): one Schnorr verification under Y, then the
                      two-copy write of the tariff
  on_slot             per certified slot of the cycle (min, max of 4): r_t, p_t m_t and p_t r_t mod q added, sums written
                      (two-copy state with the points: flash write included)
  sums_only           the arithmetic of on_slot alone (r_t given)
  bill                BILL_FETCH: the meter's Schnorr signature over the bill
  heap                free heap of the provisioned meter before billing, with billing loaded and a
                      month's tariff installed (resident), and the working set of a COMMIT (the
                      smallest free heap, left by a ballast of 256-byte blocks, with which a COMMIT
                      still succeeds; bisection to 256 bytes)

    tools/bench_meter_bill.py [--json build/bench/meter_bill.json]

Needs `make qemu` (tools/build_qemu meter) first. Results into docs/BENCHMARKS.md by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "simulators"))
sys.path.insert(0, str(ROOT / "firmware"))
sys.path.insert(0, str(ROOT / "host"))

MID = b"HEAP0001"
ADMIN = bytes(range(32))
T = 1796083200  # 2026-12-01T00:00Z: the meter's clock


def _tariffs() -> dict:
    """Host side: the supplier key, a signed month tariff (January 2027) and a 4-slot one, compiled."""
    from vwcore import meterbill as mb

    from veriwatt import keys, meterbill, slots, tariff

    sk = keys.new_supplier_key(secret=bytes([5]) * 32, name="bench supplier")
    out = {"y": keys.group_of(sk).elem_bytes(keys.y_of(sk)).hex()}
    a, b = slots.month_range("2027-01", "Europe/London")
    s0 = T // 1800 + 2
    for name, (x, y) in (("month", (a, b)), ("short", (s0, s0 + 4))):
        body = dict(tariff.example(), cycle={"kind": "periods", "periods": [[x, y]]})
        t = tariff.parse_signed(tariff.sign(body, sk), keys.public(sk))
        m = meterbill.sign_meter_tariff(t, sk, MID, x, y)
        msg = mb.tariff_bytes(MID, x, y, meterbill.digest_bytes(t), [tuple(p) for p in m["points"]])
        out[name] = {
            "a": x,
            "b": y,
            "pts": [tuple(p) for p in m["points"]],
            "d": meterbill.digest_bytes(t).hex(),
            "sig": m["sig"],
            "msg_len": len(msg),
        }
    return out


BOARD = (
    r"""
import gc, time
import vwhal
from vwcore import wire
from vwcore import meterbill as mb
from vwmeter.meter import Meter
from vwmeter.server import Server
"""
    + (ROOT / "simulators" / "stepclock.py").read_text()
    + r"""
CLK = StepClock()
B = {"profile": "qemu", "clock": CLK, "source": vwhal.ReadingSource(3), "storage": vwhal.storage_root(),
     "serial": None, "entropy": None}
M = Meter(B)
S = Server(M, None, vwhal.ticks_ms)
M.provision({"meter_id": MID, "group_id": 1, "clock": 0, "host_entropy": bytes(32),
             "admin_secret": ADMIN, "customer_key": b"k" * 15})
CLK.set(TCLK)
M.tick()
gc.collect()
F_PROV = gc.mem_free()

def us(f):
    gc.collect()
    t0 = time.ticks_us()
    r = f()
    return time.ticks_diff(time.ticks_us(), t0), r

ch = M.challenge()
tag = mb.supplier_key_tag(ADMIN, MID, ch, YB)
D_KEY, _ = us(lambda: M.billing().supplier_key({"challenge": ch, "tag": tag, "y": YB}, M.policy))

def install(t):
    M.billing().tariff_set({"op": 1, "start_slot": t[0], "end_slot": t[1], "n": len(t[2])})
    for i in range(0, len(t[2]), 170):
        M.billing().tariff_set({"op": 2, "first": i, "points": t[2][i:i + 170]})
    gc.collect()
    t0 = time.ticks_us()
    M.billing().tariff_set({"op": 3, "digest": t[3], "sig": t[4]})
    return time.ticks_diff(time.ticks_us(), t0)

D_COMMIT = install(MONTH)
gc.collect()
F_RES = gc.mem_free()

def trial(left):
    gc.collect()
    n = (gc.mem_free() - left) // 272
    bal = [None] * (n if n > 0 else 0)
    ok = True
    try:
        for i in range(len(bal)):
            bal[i] = bytearray(256)
    except MemoryError:
        pass
    try:
        install(MONTH)
    except MemoryError:
        ok = False
    bal = None
    gc.collect()
    return ok

lo, hi = 0, F_RES
while hi - lo > 256:
    mid = (lo + hi) // 2
    if trial(mid):
        hi = mid
    else:
        lo = mid
WS = hi
install(SHORT)
ON = []
orig = M.metering.on_slot
def timed(s, m):
    t0 = time.ticks_us()
    orig(s, m)
    if SHORT[0] <= s < SHORT[1]:
        ON.append(time.ticks_diff(time.ticks_us(), t0))
M.metering.on_slot = timed
for i in range(8):
    CLK.t += 1800
    M.tick()
bl = M._bill
c = [0, 0, 0, 0, 0, 0, wire.NO_SLOT]
r = M.metering.keys.r_for(SHORT[0])
q = bl.G.q
t0 = time.ticks_us()
for i in range(10):
    c[4] += 42 * 1234
    c[5] = (c[5] + 42 * r) % q
D_SUMS = time.ticks_diff(time.ticks_us(), t0) // 10
D_BILL, fr = us(lambda: M.billing().bill(SHORT[0]))
gc.collect()
print("RESULT", F_PROV, D_KEY, D_COMMIT, F_RES, WS, min(ON), max(ON), D_SUMS, D_BILL, len(fr), len(ON))
print("BILLHEX", fr.hex())
"""
)


def script(t: dict) -> str:
    def tup(x):
        return "(%d, %d, %r, bytes.fromhex(%r), bytes.fromhex(%r))" % (x["a"], x["b"], x["pts"], x["d"], x["sig"])

    head = "MID = %r\nADMIN = %r\nTCLK = %d\nYB = bytes.fromhex(%r)\nMONTH = %s\nSHORT = %s\n" % (
        MID,
        ADMIN,
        T,
        t["y"],
        tup(t["month"]),
        tup(t["short"]),
    )
    return head + BOARD


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", default=str(ROOT / "build" / "bench" / "meter_bill.json"))
    args = ap.parse_args()
    import qemu_sim as qemu_board

    msg = qemu_board.missing_firmware_message("meter")
    if msg:
        print("bench_meter_bill: " + msg, file=sys.stderr)
        return 2
    t = _tariffs()
    with qemu_board.QemuBoard("meter", icount=True) as q:
        out = q.exec(script(t), timeout=1800)
    line = next((ln for ln in out.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        print("bench_meter_bill: no result from the board:\n" + out, file=sys.stderr)
        return 4
    v = [int(x) for x in line.split()[1:]]
    k = 1000
    res = {
        "machine": "qemu-system-arm -M mps2-an386, VERIWATT_AN386 meter variant (48 KB heap), -icount shift=0",
        "month_tariff_points": len(t["month"]["pts"]),
        "heap_free_provisioned": v[0],
        "supplier_key_instructions": v[1] * k,
        "commit_instructions": v[2] * k,
        "heap_free_tariff_installed": v[3],
        "commit_working_set_bytes": v[4],
        "on_slot_instructions_min": v[5] * k,
        "on_slot_instructions_max": v[6] * k,
        "sums_only_instructions": v[7] * k,
        "bill_sign_instructions": v[8] * k,
        "bill_payload_bytes": v[9],
        "slots_timed": v[10],
    }
    for key, val in res.items():
        print("%-28s %s" % (key, val))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
