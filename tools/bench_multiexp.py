#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The C multi-exponentiation's backends compared (issue 14): veriwatt.cmexp on GMP's mpn layer
("mpn") and with AVX-512 IFMA ("ifma", crypto_c/cpython/vw_mont52.c), interleaved in one run.

    python tools/bench_multiexp.py [--rounds 5] [--reps 20000] [--out build/bench/multiexp.json]

1. one Montgomery product of the project's 2048-bit group (cmexp.mul_loop: reps products
   r = r b / R, and reps squarings r = r^2 / R), ns per product;
2. one month-bill's multi-exponentiation: 1,488 bases with 64-bit weights (Bos-Coster), and
   1,488 bases with 256-bit exponents (Pippenger), ms per call (bytes already packed, as
   batchverify passes them); and 32 bills' weights joined as verify_many joins them (47,616
   bases, 64-bit weights: Pippenger on IFMA, Bos-Coster on mpn), ms per call;
3. one Montgomery product for other modulus sizes (random odd moduli, 64 to 4,096 bits: where
   the IFMA backend pays, the rule of VW_MEXP_IFMA_MIN_BITS), ns per product.
Best and median of --rounds; process time (one core), with the load average: the machine is
shared."""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from typing import Any, Callable, Dict, List

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host"))
sys.path.insert(0, os.path.join(ROOT, "firmware"))

from veriwatt import cmexp  # noqa: E402
from vwcore import group as _group  # noqa: E402


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def _cases(p: int, reps: int) -> Dict[str, tuple]:
    """name -> (function, divisor to get the unit, unit)."""
    rnd = random.Random(14)
    b = rnd.randrange(2, p)
    mlen = (p.bit_length() + 7) // 8
    bases = b"".join(rnd.randrange(2, p).to_bytes(mlen, "little") for _ in range(1488))
    w64 = b"".join(rnd.getrandbits(64).to_bytes(8, "little") for _ in range(1488))
    e256 = b"".join(rnd.getrandbits(256).to_bytes(32, "little") for _ in range(1488))
    many = 32 * 1488  # batchverify.COMBINE bills of a month
    bases32 = b"".join(rnd.randrange(2, p).to_bytes(mlen, "little") for _ in range(many))
    w64_32 = b"".join(rnd.getrandbits(64).to_bytes(8, "little") for _ in range(many))
    out = {
        "mul_ns": (lambda: cmexp.mul_loop(b, reps, p), reps / 1e9),
        "sqr_ns": (lambda: cmexp.mul_loop(b, reps, p, square=True), reps / 1e9),
        "bill_1488x64_ms": (lambda: cmexp.multiexp_packed(bases, w64, 8, p), 1e-3),
        "bill_1488x256_ms": (lambda: cmexp.multiexp_packed(bases, e256, 32, p), 1e-3),
        "bills32_47616x64_ms": (lambda: cmexp.multiexp_packed(bases32, w64_32, 8, p), 1e-3),
    }
    for bits in (64, 256, 384, 512, 768, 1024, 3072, 4096):
        q = rnd.getrandbits(bits) | (1 << (bits - 1)) | 1
        out["mul%d_ns" % bits] = (lambda q=q: cmexp.mul_loop(q // 3, reps, q), reps / 1e9)
    return out


def bench(rounds: int, reps: int) -> Dict[str, Any]:
    p = _group.DEFAULT.p
    backends = [b for b in ("mpn", "ifma") if b in cmexp.backends()]
    cases = _cases(p, reps)
    t: Dict[str, List[float]] = {}
    try:
        for _ in range(rounds):  # interleaved: every backend sees the same load
            for name, (fn, unit) in cases.items():
                for be in backends:
                    cmexp.set_backend(be)
                    t.setdefault(name + "_" + be, []).append(_timed(fn) / unit)
    finally:
        cmexp.set_backend("auto")
    out: Dict[str, Any] = {"backends": backends, "rounds": rounds, "reps": reps}
    for k, v in t.items():
        out[k] = {"best": round(min(v), 3), "median": round(statistics.median(v), 3)}
    if "ifma" in backends:
        for name in cases:
            out["speedup_" + name[: name.rindex("_")]] = round(min(t[name + "_mpn"]) / min(t[name + "_ifma"]), 2)
    out["load"] = [round(x, 2) for x in os.getloadavg()]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=20000, help="Montgomery products per timed loop")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench", "multiexp.json"))
    args = ap.parse_args()
    if not cmexp.available():
        print("vwcrypto has no C multi-exponentiation: rerun bash tools/setup", file=sys.stderr)
        return 2
    res = bench(args.rounds, args.reps)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
