#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Heap of the FROZEN meter on its 48 KB board (qemu port, VERIWATT_AN386 `meter` variant,
-icount shift=0): what the meter application (vwmeter + vwcore, frozen in flash) keeps on the
heap and how much more it needs to certify a reading and answer a FETCH.

    tools/bench_meter_heap.py [--json build/bench/meter_heap.json] [--kernel other/firmware.elf]

At the board's REPL (boot.py/main.py skipped) the script builds the meter like vwmeter.main does
(Meter over the qemu HAL's storage and reading source, Server), with a clock it sets itself, and
reports `gc.mem_free()` after a collection:

  repl                   before importing the meter (first boot)
  boot_unprovisioned     after Meter(board) + Server on an empty filesystem
  after_provision        after PROVISION (keys made, store opened), same boot
  boot_provisioned       after a soft reset: Meter(board) + Server of the provisioned meter, what
                         it holds from then on while serving (the steady state)
  certified              after 4 slots certified and stored, and a FETCH of them encoded as frames

and, per certify (Meter.tick: read, certify, append), the instructions (ticks_us under
-icount: 1 us = 1000 instructions) and the bytes allocated (garbage included).  "Working set"
(the peak): the smallest free heap, left by a ballast of 256-byte blocks, with which one more
certify and a FETCH of 4 records still succeed (bisection to 256 bytes, varies by a few hundred
bytes with fragmentation): the heap the meter needs beyond what it keeps.  --kernel runs another
build of the variant (to compare before/after a change).  Needs `make qemu`
(tools/build_qemu meter) first.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "simulators"))

COMMON = (
    r"""
import gc, time
gc.collect()
F_REPL = gc.mem_free()
import vwhal
from vwcore import wire
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
gc.collect()
F_BOOT = gc.mem_free()
"""
)

# first boot: an unprovisioned meter, then PROVISION
PROVISION = (
    COMMON
    + r"""
M.provision({"meter_id": b"HEAP0001", "group_id": 1, "clock": 0, "host_entropy": bytes(32),
             "admin_secret": bytes(range(32)), "customer_key": b"k" * 15})
gc.collect()
print("RESULT1", F_REPL, F_BOOT, gc.mem_free())
"""
)

# after a reset of the board: the provisioned meter as it runs from then on
RUN = (
    COMMON
    + r"""
CLK.set(1767225600)
M.tick()

def one():
    CLK.t += 1800
    gc.collect()
    f0 = gc.mem_free()
    t0 = time.ticks_us()
    M.tick()
    dt = time.ticks_diff(time.ticks_us(), t0)
    return dt, f0 - gc.mem_free()

def fetch4():
    n = 0
    for slot, rec in M.fetch(getattr(M, "metering", M).store.last_slot - 3, 4):
        fr = wire.encode_frame(wire.READING, 1, rec)
        n += len(fr)
    return n

best = alloc = None
for i in range(4):
    dt, a = one()
    best = dt if best is None or dt < best else best
    alloc = a if alloc is None or a > alloc else alloc
NB = fetch4()
gc.collect()
F_CERT = gc.mem_free()

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
        one()
        fetch4()
    except MemoryError:
        ok = False
    bal = None
    gc.collect()
    return ok

lo, hi = 0, F_CERT
if not trial(hi):
    lo = hi
while hi - lo > 256:
    mid = (lo + hi) // 2
    if trial(mid):
        hi = mid
    else:
        lo = mid
gc.collect()
print("RESULT2", F_BOOT, F_CERT, best, alloc, NB, hi)
"""
)


def parse(out: str, tag: str) -> list:
    line = next(ln for ln in out.splitlines() if ln.startswith(tag + " "))
    return [int(x) for x in line.split()[1:]]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", default=str(ROOT / "build" / "bench" / "meter_heap.json"))
    ap.add_argument("--kernel", help="another firmware.elf of the meter variant (e.g. an older build to compare)")
    args = ap.parse_args()
    import qemu_sim as qemu_board

    msg = qemu_board.missing_firmware_message("meter")
    if msg:
        print("bench_meter_heap: " + msg, file=sys.stderr)
        return 2
    with qemu_board.QemuBoard("meter", kernel=args.kernel, icount=True) as q:
        out1 = q.exec(PROVISION, timeout=300)
        q._close_transport()
        q.mpremote("soft-reset", check=False)
        out2 = q.exec(RUN, timeout=900)
    try:
        v1, v2 = parse(out1, "RESULT1"), parse(out2, "RESULT2")
    except StopIteration:
        print("bench_meter_heap: no result from the board:\n" + out1 + out2, file=sys.stderr)
        return 4
    res = {
        "heap_free_repl": v1[0],
        "heap_free_boot_unprovisioned": v1[1],
        "heap_free_after_provision": v1[2],
        "heap_free_boot_provisioned": v2[0],
        "heap_free_certified": v2[1],
        "certify_instructions": v2[2] * 1000,
        "certify_alloc_bytes": v2[3],
        "fetch4_frame_bytes": v2[4],
        "working_set_bytes": v2[5],
    }
    res["machine"] = "qemu-system-arm -M mps2-an386, VERIWATT_AN386 meter variant (48 KB heap), -icount shift=0"
    for k, v in res.items():
        print("%-24s %s" % (k, v))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
