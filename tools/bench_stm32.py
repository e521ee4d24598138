#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Instructions per certified reading (commit + sign + encrypt, 2048/256 group) with the meter
code FROZEN in flash, on two firmwares under `-icount shift=0` (one instruction = one virtual
ns, so time.ticks_us() differences are thousands of instructions):

  - MicroPython's stm32 port, emulation board VERIWATT_NETDUINO_PLUS_2 (make stm32),
    qemu-system-arm -M netduinoplus2 (STM32F405 model, Cortex-M4, SysTick at 168 MHz);
  - MicroPython's qemu port, board VERIWATT_AN386 `meter` variant (make qemu),
    qemu-system-arm -M mps2-an386 (Cortex-M4, SysTick at 25 MHz).

Both have vwcrypto as a user C module.  Best of N certifies and of N verifications (verify_record: signature and subgroup check), plus the derivation of the meter
keys.  JSON in build/bench/stm32.json.   tools/bench_stm32.py [--n 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "simulators")]

SCRIPT = """
import gc, time
from vwcore import modexp, reading
t0 = time.ticks_us()
keys = reading.MeterKeys(b"BENCH001", bytes(range(32)), bytes(range(15)), 1)
tk = time.ticks_diff(time.ticks_us(), t0)
best = vbest = None
for i in range(%d):
    gc.collect()
    t0 = time.ticks_us()
    rec = reading.certify(keys, 981000 + i, 100 + i)
    dt = time.ticks_diff(time.ticks_us(), t0)
    best = dt if best is None or dt < best else best
    gc.collect()
    t0 = time.ticks_us()
    ok = reading.verify_record(rec, keys.y, b"BENCH001")
    dt = time.ticks_diff(time.ticks_us(), t0)
    assert ok
    vbest = dt if vbest is None or dt < vbest else vbest
gc.collect()
print("RESULT", modexp.BACKEND, best, tk, gc.mem_free(), vbest)
"""


def parse(out: str) -> dict:
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT"))
    _, backend, best, tk, free, vbest = line.split()
    return {
        "backend": backend,
        "certify_instructions": int(best) * 1000,
        "meterkeys_instructions": int(tk) * 1000,
        "heap_free_after": int(free),
        "verify_instructions": int(vbest) * 1000,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5, help="certifies per firmware (best is kept)")
    n = ap.parse_args().n
    import qemu_sim as qemu_board
    from stm32_sim import Stm32Board

    res = {"unit": "instructions (-icount shift=0, 1 us of ticks_us = 1000)", "group": "2048/256"}
    with tempfile.TemporaryDirectory() as tmp:
        b = Stm32Board(Path(tmp), safe=True, icount=True)
        try:
            b.start()
            res["stm32_port_netduinoplus2"] = parse(b.mpremote("exec", SCRIPT % n, timeout=600))
        finally:
            b.kill()
    with qemu_board.QemuBoard("meter", icount=True) as q:
        res["qemu_port_an386_meter"] = parse(q.exec(SCRIPT % n, timeout=600))
    s, q = res["stm32_port_netduinoplus2"], res["qemu_port_an386_meter"]
    res["ratio_stm32_over_qemu_certify"] = s["certify_instructions"] / q["certify_instructions"]
    for name, r in (("stm32 port, netduinoplus2", s), ("qemu port, an386 meter", q)):
        print(
            "%-26s certify %11d  verify %11d  meter keys %11d instructions  (%s, heap free %d)"
            % (
                name,
                r["certify_instructions"],
                r["verify_instructions"],
                r["meterkeys_instructions"],
                r["backend"],
                r["heap_free_after"],
            )
        )
    print("ratio stm32 / qemu port (certify): %.3f" % res["ratio_stm32_over_qemu_certify"])
    out = ROOT / "build" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "stm32.json").write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
