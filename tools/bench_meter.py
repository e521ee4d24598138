#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`make bench`, meter part: cost of one certified reading (commit + sign + encrypt) on the
QEMU Cortex-M4 board (MicroPython 1.25, vwcore deployed as .mpy), with the vwcrypto C module
and with builtin pow forced, in the same firmware; instructions under -icount shift=0
(the self-test's "_ms" figures are virtual ms = millions of instructions). Also the heap the
meter code uses and the bytes per reading. JSON in build/bench/meter.json.
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "simulators"))
import qemu_sim as qemu_board  # noqa: E402

M = 1_000_000


def main() -> int:
    msg = qemu_board.missing_firmware_message("vwcrypto")
    if msg:
        print("bench_meter: " + msg, file=sys.stderr)
        return 2
    t0 = time.time()
    res = {
        "machine": "qemu-system-arm -M mps2-an386 (Cortex-M4), -icount shift=0",
        "unit": "instructions",
        "group": "2048/256",
    }
    with tempfile.TemporaryDirectory() as tmp, qemu_board.QemuBoard("vwcrypto") as b:
        qemu_board.deploy_vwcore_selftest(b, Path(tmp), ROOT / "tests" / "core" / "mp_selftest.py")
        for backend, args in (("vwcrypto", ["--bench-only"]), ("pow", ["--pow", "--bench-only"])):
            bench, _ = qemu_board.run_vwcore_selftest(b, args)
            assert bench["backend"] == backend, bench
            res[backend] = {
                "certify_instructions": int(float(bench["certify_ms_best"]) * M),
                "verify_instructions": int(float(bench["verify_ms"]) * M),
                "open_instructions": int(float(bench["open_ms"]) * M),
                "meterkeys_instructions": int(float(bench["meterkeys_ms"]) * M),
                "certify_peak_alloc_bytes": int(bench["certify_alloc_bytes"]),
                "heap_import_bytes": int(bench["heap_import_bytes"]),
                "heap_used_bytes": int(bench["heap_used_bytes"]),
            }
            res["record_bytes"] = int(bench["record_bytes"])
            res["frame_bytes"] = int(bench["frame_bytes"])
    v, p = res["vwcrypto"], res["pow"]
    res["ratio_certify_pow_over_vwcrypto"] = p["certify_instructions"] / v["certify_instructions"]
    res["wall_seconds"] = round(time.time() - t0, 1)
    print("certified reading on Cortex-M4 (QEMU, -icount shift=0), 2048/256 group:")
    for k in ("certify", "verify", "open", "meterkeys"):
        print(
            "  %-10s vwcrypto %12d   builtin pow %12d instructions"
            % (k, v[k + "_instructions"], p[k + "_instructions"])
        )
    print("  ratio pow / vwcrypto for certify: %.1fx" % res["ratio_certify_pow_over_vwcrypto"])
    print(
        "  heap: %d B after importing vwcore, %d B allocated (mostly garbage) per certify"
        % (v["heap_import_bytes"], v["certify_peak_alloc_bytes"])
    )
    print("  wire: %d B per record, %d B per frame" % (res["record_bytes"], res["frame_bytes"]))
    out = ROOT / "build" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "meter.json").write_text(json.dumps(res, indent=2))
    print("wrote %s (%.0f s)" % (os.path.relpath(out / "meter.json"), res["wall_seconds"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
