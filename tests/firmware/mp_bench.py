# SPDX-License-Identifier: MIT
# Meter-side measurements in the unix micropython (printed as "key value" lines):
#   micropython mp_bench.py <storage dir> [n]
# (run from .py sources the imports' bytecode also sits in the heap; frozen into the
# firmware image (firmware/manifest.py) it lives in flash instead)
# certify time per reading (commit + sign + encrypt), store append time, bytes per record,
# heap: in use after start-up with keys loaded, peak during certify+append.
import gc
import sys
import time

import micropython  # noqa: F401  (fails early off MicroPython: this script measures the meter's interpreter)

from vwcore import modexp, reading, wire
from vwmeter.store import Store


def main():
    d = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    gc.collect()
    base = gc.mem_alloc()
    print("heap_after_imports", base)
    keys = reading.MeterKeys(b"BENCH001", bytes(range(32)), bytes(range(15)), 1)
    st = Store(d, wire.record_len(1))
    gc.collect()
    print("backend", modexp.BACKEND)
    print("heap_keys_loaded", gc.mem_alloc() - base)
    slot0 = 1767225600 // 1800
    t_cert = 0
    t_app = 0
    peak = 0
    for i in range(n):
        gc.collect()
        a0 = gc.mem_alloc()
        t0 = time.ticks_us()
        rec = reading.certify(keys, slot0 + i, 100 + i).encode()
        t1 = time.ticks_us()
        st.append(slot0 + i, rec)
        t2 = time.ticks_us()
        t_cert += time.ticks_diff(t1, t0)
        t_app += time.ticks_diff(t2, t1)
        used = gc.mem_alloc() - a0
        peak = used if used > peak else peak
    print("certify_ms", t_cert / n / 1000)
    print("append_ms", t_app / n / 1000)
    print("garbage_per_reading_bytes", peak)
    print("record_bytes", len(rec))
    print("stored_bytes_per_record", st.rs)
    print("heap_total_alloc_now", gc.mem_alloc())


main()
