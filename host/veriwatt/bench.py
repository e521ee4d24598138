# SPDX-License-Identifier: MIT
"""Host benchmark of the modexp backends, measured in one run so the ratios are fair.

2048-bit modulus, 256-bit exponents (the default group's sizes): vwcrypto (cffi over
crypto_c) vs CPython's pow vs gmpy2.powmod_sec (GMP's constant-time mpz_powm_sec) when
gmpy2 is installed. Reports the median time per call and the ratios.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from typing import Callable, Dict

from . import vwcrypto


def _median_us(fn: Callable[[int, int], object], cases, rounds: int) -> float:
    per_round = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for b, e in cases:
            fn(b, e)
        per_round.append((time.perf_counter() - t0) / len(cases))
    return statistics.median(per_round) * 1e6


def run(bits: int = 2048, ebits: int = 256, n: int = 20, rounds: int = 7, seed: int = 2026) -> Dict:
    rnd = random.Random(seed)
    p = rnd.getrandbits(bits) | 1 | (1 << (bits - 1))
    cases = [(rnd.getrandbits(bits) % p, rnd.getrandbits(ebits)) for _ in range(n)]
    h = rnd.getrandbits(bits) % p
    res: Dict[str, float] = {
        "vwcrypto.powmod": _median_us(lambda b, e: vwcrypto.powmod(b, e, p), cases, rounds),
        "pow": _median_us(lambda b, e: pow(b, e, p), cases, rounds),
        "vwcrypto.powmod2": _median_us(lambda b, e: vwcrypto.powmod2(b, e, h, e ^ 1, p), cases, rounds),
        "pow*pow": _median_us(lambda b, e: pow(b, e, p) * pow(h, e ^ 1, p) % p, cases, rounds),
    }
    try:
        import gmpy2

        P = gmpy2.mpz(p)
        res["gmpy2.powmod_sec"] = _median_us(lambda b, e: gmpy2.powmod_sec(b, e, P), cases, rounds)
    except ImportError:
        pass
    ratios = {
        "pow / vwcrypto.powmod": res["pow"] / res["vwcrypto.powmod"],
        "pow*pow / vwcrypto.powmod2": res["pow*pow"] / res["vwcrypto.powmod2"],
    }
    if "gmpy2.powmod_sec" in res:
        ratios["vwcrypto.powmod / gmpy2.powmod_sec"] = res["vwcrypto.powmod"] / res["gmpy2.powmod_sec"]
    return {"bits": bits, "exp_bits": ebits, "limb_bits": vwcrypto.LIMB_BITS, "median_us": res, "ratios": ratios}


def report(result: Dict) -> str:
    lines = [
        "modexp on this machine, %d-bit modulus, %d-bit exponent (%d-bit limbs), median per call:"
        % (result["bits"], result["exp_bits"], result["limb_bits"])
    ]
    for k, v in result["median_us"].items():
        lines.append("  %-20s %9.1f us" % (k, v))
    for k, v in result["ratios"].items():
        lines.append("  %-36s %6.2fx" % (k, v))
    return "\n".join(lines)


if __name__ == "__main__":
    r = run()
    print(report(r))
    print(json.dumps(r))
