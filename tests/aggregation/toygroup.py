# SPDX-License-Identifier: MIT
"""A small prime-order subgroup for fast property tests (NOT for real use): |p| = 512, |q| = 128,
made deterministically from a seed with Miller-Rabin; same Group class as the real ones."""

import random

from vwcore.group import Group


def _is_probable_prime(n: int, rnd: random.Random) -> bool:
    if n < 2:
        return False
    for sp in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % sp == 0:
            return n == sp
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(32):
        x = pow(rnd.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def make_toy_group(seed: int = 7) -> Group:
    rnd = random.Random(seed)
    while True:
        q = rnd.getrandbits(128) | (1 << 127) | 1
        if _is_probable_prime(q, rnd):
            break
    while True:
        k = rnd.getrandbits(384) | (1 << 383)
        k -= k % 2
        p = k * q + 1
        if _is_probable_prime(p, rnd):
            break
    g = pow(2, (p - 1) // q, p)
    h = pow(3, (p - 1) // q, p)
    assert g != 1 and h != 1
    return Group("toy512", {"id": 99, "p": p, "q": q, "g": g, "h": h, "L": p.bit_length(), "N": 128})


TOY = make_toy_group()
