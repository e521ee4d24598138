#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Generate (or --check) the veriwatt group parameters in firmware/vwcore/params.py.

Method (FIPS 186-4, Digital Signature Standard, July 2013):
  * p, q: Appendix A.1.1.2 "Generation of the Probable Primes p and q Using an Approved
    Hash Function" with SHA-256 (outlen = 256), N = 256, L = 2048 or 3072, seedlen = 256.
    The standard takes an arbitrary domain_parameter_seed and says "go to step 5" (pick a
    new seed) when q is not prime or no p was found within counter < 4L. To make the
    result verifiable from a published string we fix the choice of seeds:
        domain_parameter_seed_i = SHA-256(SEED_STRING || ":" || L || ":" || uint32_be(i)),
    i = 0, 1, 2, ... and take the first i that succeeds. Anyone re-runs the same steps
    (this is what Appendix A.1.1.3 validation does given seed and counter) with --check.
  * Primality: FIPS 186-4 Appendix C.3.1 Miller-Rabin with the iteration counts of
    Table C.1 (p: 56 for L=2048, 64 for L=3072; q: 64), bases derived deterministically
    from SHA-256 of the candidate (for reproducibility; the error bound of C.3.1 holds
    for any fixed bases only heuristically, so --check additionally runs a Lucas test
    (Baillie-PSW) on p and q).
  * g and h: Appendix A.2.3 "Verifiable Canonical Generation of the Generator g" with
    index 1 for g and index 2 for h: W = SHA-256(seed || "ggen" || index || count),
    g = W^((p-1)/q) mod p, first count >= 1 with g >= 2. Since h comes from a hash, nobody
    knows log_g(h) (required for the binding of Pedersen commitments).

Usage:  tools/gen_params.py            regenerate firmware/vwcore/params.py
        tools/gen_params.py --check    re-derive everything and compare (exit 1 on mismatch)
"""

import hashlib
import os
import sys

SEED_STRING = b"veriwatt group v1"
SIZES = (("2048", 1, 2048, 256), ("3072", 2, 3072, 256))
G_INDEX = 1
H_INDEX = 2
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "firmware", "vwcore", "params.py")
MR_ROUNDS = {2048: (56, 64), 3072: (64, 64)}  # Table C.1: (p, q)

SMALL_PRIMES = [x for x in range(3, 20000, 2) if all(x % d for d in range(3, int(x**0.5) + 1, 2))]


def H(b):
    return hashlib.sha256(b).digest()


def miller_rabin(w, rounds):
    """FIPS 186-4 C.3.1 with deterministic bases b = SHA-256(w || j) mod (w-3) + 2."""
    if w < 3 or w % 2 == 0:
        return w == 2
    for sp in SMALL_PRIMES:
        if w % sp == 0:
            return w == sp
    a, m = 0, w - 1
    while m % 2 == 0:
        m //= 2
        a += 1
    wb = w.to_bytes((w.bit_length() + 7) // 8, "big")
    for j in range(rounds):
        b = int.from_bytes(H(wb + j.to_bytes(4, "big")) + H(wb + b"x" + j.to_bytes(4, "big")), "big") % (w - 3) + 2
        z = pow(b, m, w)
        if z == 1 or z == w - 1:
            continue
        for _ in range(a - 1):
            z = z * z % w
            if z == w - 1:
                break
            if z == 1:
                return False
        else:
            return False
    return True


def _jacobi(a, n):
    a %= n
    t = 1
    while a:
        while a % 2 == 0:
            a //= 2
            if n % 8 in (3, 5):
                t = -t
        a, n = n, a
        if a % 4 == 3 and n % 4 == 3:
            t = -t
        a %= n
    return t if n == 1 else 0


def lucas_strong(n):
    """Strong Lucas probable-prime test (FIPS 186-4 C.3.3), Selfridge parameters."""
    r = int(n**0.5) if n < 2**52 else None
    if r is not None and r * r == n:
        return False
    D = 5
    while True:
        j = _jacobi(D, n)
        if j == -1:
            break
        if j == 0 and abs(D) != n:
            return False
        D = -D - 2 if D > 0 else -D + 2
    P, Q = 1, (1 - D) // 4
    d, s = n + 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    U, V, Qk = 0, 2, 1  # U_0, V_0, Q^0
    inv2 = (n + 1) // 2
    for bit in bin(d)[2:]:
        U, V = U * V % n, (V * V - 2 * Qk) % n
        Qk = Qk * Qk % n
        if bit == "1":
            U, V = (P * U + V) * inv2 % n, (D * U + P * V) * inv2 % n
            Qk = Qk * Q % n
    if U == 0 or V == 0:
        return True
    for _ in range(s - 1):
        V = (V * V - 2 * Qk) % n
        Qk = Qk * Qk % n
        if V == 0:
            return True
    return False


def gen_pq(L, N, seed):
    """FIPS 186-4 A.1.1.2 steps 6-15 for one domain_parameter_seed. Returns (p, q, counter)
    or None (q composite, or no p within 4L counters)."""
    outlen, seedlen = 256, len(seed) * 8
    U = int.from_bytes(H(seed), "big") % 2 ** (N - 1)
    q = 2 ** (N - 1) + U + 1 - (U % 2)
    if not miller_rabin(q, MR_ROUNDS[L][1]):
        return None
    n = -(-L // outlen) - 1
    b = L - 1 - n * outlen
    offset = 1
    s = int.from_bytes(seed, "big")
    for counter in range(4 * L):
        W = 0
        for j in range(n + 1):
            Vj = int.from_bytes(H(((s + offset + j) % 2**seedlen).to_bytes(len(seed), "big")), "big")
            if j == n:
                Vj %= 2**b
            W += Vj << (j * outlen)
        X = W + 2 ** (L - 1)
        c = X % (2 * q)
        p = X - (c - 1)
        if p >= 2 ** (L - 1) and miller_rabin(p, MR_ROUNDS[L][0]):
            return p, q, counter
        offset += n + 1
    return None


def gen_g(p, q, seed, index):
    """FIPS 186-4 A.2.3. Returns (g, count)."""
    e = (p - 1) // q
    for count in range(1, 2**16):
        U = seed + b"ggen" + bytes([index]) + count.to_bytes(2, "big")
        W = int.from_bytes(H(U), "big")
        g = pow(W, e, p)
        if g >= 2:
            return g, count
    raise RuntimeError("no generator found")


def seed_i(L, i):
    return H(SEED_STRING + b":" + str(L).encode() + b":" + i.to_bytes(4, "big"))


def generate(L, N, progress=False):
    i = 0
    while True:
        seed = seed_i(L, i)
        r = gen_pq(L, N, seed)
        if r:
            p, q, counter = r
            g, gc = gen_g(p, q, seed, G_INDEX)
            h, hc = gen_g(p, q, seed, H_INDEX)
            return dict(
                L=L,
                N=N,
                seed_index=i,
                seed=seed.hex(),
                counter=counter,
                p=p,
                q=q,
                g=g,
                h=h,
                g_index=G_INDEX,
                g_count=gc,
                h_index=H_INDEX,
                h_count=hc,
            )
        if progress:
            print("  seed %d: no (q composite or counter exhausted)" % i, file=sys.stderr)
        i += 1


def check_one(d, L, N, full=True):
    """FIPS 186-4 A.1.1.3 + A.2.4 style validation of one parameter set. full=False skips
    re-running the earlier (failing) seeds, the slow part."""
    p, q, g, h = d["p"], d["q"], d["g"], d["h"]
    seed = bytes.fromhex(d["seed"]) if "seed" in d else seed_i(L, d["seed_index"])
    errs = []
    if p.bit_length() != L or q.bit_length() != N:
        errs.append("bit lengths")
    if (p - 1) % q:
        errs.append("q does not divide p-1")
    for i in range(d["seed_index"] if full else 0):  # earlier seeds must all fail (first-success rule)
        if gen_pq(L, N, seed_i(L, i)) is not None:
            errs.append("seed index %d is not the first success" % d["seed_index"])
            break
    if seed != seed_i(L, d["seed_index"]):
        errs.append("seed does not come from the published string")
    r = gen_pq(L, N, seed)
    if r is None or r != (p, q, d["counter"]):
        errs.append("p, q, counter not re-derived from the seed")
    if not lucas_strong(p) or not lucas_strong(q):
        errs.append("Lucas test failed")
    for name, idx in (("g", G_INDEX), ("h", H_INDEX)):
        x, c = gen_g(p, q, seed, idx)
        if x != d[name] or c != d[name + "_count"]:
            errs.append("%s not re-derived (A.2.3 index %d)" % (name, idx))
        if not (1 < d[name] < p) or pow(d[name], q, p) != 1:
            errs.append("%s not in the order-q subgroup" % name)
    if g == h:
        errs.append("g == h")
    return errs


def render(sets):
    out = [
        "# SPDX-License-Identifier: MIT",  # as tools/spdx_headers.py tags every source file
        '"""Group parameters: GENERATED by tools/gen_params.py -- do not edit by hand.',
        "",
        "FIPS 186-4 A.1.1.2 (p, q from SHA-256 of a seed) and A.2.3 (canonical",
        "generators g: index 1, h: index 2) from the published string %r;" % SEED_STRING.decode(),
        "domain_parameter_seed = SHA-256(SEED_STRING || ':' || L || ':' || uint32(seed_index)).",
        "Re-check with `tools/gen_params.py --check`. The numbers are plain int literals",
        "(one line each) so that MicroPython keeps no string copies of them in RAM.",
        '"""',
        "SEED_STRING = %r" % SEED_STRING,
    ]
    for name, gid, L, N in SIZES:
        d = sets[name]
        out.append("")
        out.append("# %d/%d: domain_parameter_seed = %s" % (L, N, d["seed"]))
        out.append("P%s = {" % name)
        out.append("    'id': %d, 'L': %d, 'N': %d," % (gid, L, N))
        out.append("    'seed_index': %d, 'counter': %d," % (d["seed_index"], d["counter"]))
        out.append(
            "    'g_index': %d, 'g_count': %d, 'h_index': %d, 'h_count': %d,"
            % (d["g_index"], d["g_count"], d["h_index"], d["h_count"])
        )
        for k in ("p", "q", "g", "h"):
            out.append("    '%s': 0x%x," % (k, d[k]))
        out.append("}")
    return "\n".join(out) + "\n"


def render_one_ok(ns, name):
    """The committed file must be byte-for-byte what render() makes of its own values."""
    sets = {}
    for n, gid, L, N in SIZES:
        d = dict(ns["P" + n])
        d["seed"] = seed_i(L, d["seed_index"]).hex()
        sets[n] = d
    with open(OUT) as f:
        return f.read() == render(sets)


def load_current():
    ns = {}
    with open(OUT) as f:
        exec(f.read(), ns)
    return ns


def main(argv):
    if "--check" in argv:
        ns = load_current()
        bad = 0
        for name, gid, L, N in SIZES:
            d = dict(ns["P" + name])
            errs = check_one(d, L, N)
            if render_one_ok(ns, name) is False:
                errs.append("file is not what the generator writes")
            if d.get("id") != gid:
                errs.append("group id")
            print("%s: %s" % (name, "OK" if not errs else "FAIL: " + "; ".join(errs)))
            bad += bool(errs)
        return 1 if bad else 0
    sets = {}
    for name, gid, L, N in SIZES:
        print("generating %s ..." % name, file=sys.stderr)
        sets[name] = generate(L, N, progress=True)
    text = render(sets)
    with open(OUT, "w") as f:
        f.write(text)
    print("wrote %s" % os.path.normpath(OUT), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
