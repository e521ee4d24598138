# SPDX-License-Identifier: MIT
"""Prime-order-q subgroup of Z_p^*, Pedersen commitments, hashing to scalars.

Parameters come from params.py, generated verifiably by tools/gen_params.py following
FIPS 186-4 Appendix A.1.1.2 (p, q with SHA-256 from a seed derived from the published
string b"veriwatt group v1") and A.2.3 (verifiable canonical generators: g with index 1,
h with index 2, so nobody knows log_g h). Default |p| = 2048, |q| = 256 (id 1);
3072/256 (id 2) as an option; the 2048-bit group gives about 112-bit security
(NIST SP 800-57 Part 1 Table 2), 3072 about 128.

Pedersen commitment (Pedersen, CRYPTO '91): commit(m, r) = g^m h^r mod p; perfectly
hiding, computationally binding under the discrete-log assumption in <g>.

hash_to_scalar(domain, *parts): SHA-256 in counter mode over an injective length-prefixed
encoding, 64 bytes reduced mod q (bias < 2^-256; cf. FIPS 186-4 B.2.1).
"""

import hashlib

from vwcore import modexp
from vwcore import params as _params


class Group:
    """Group parameters: name, id, p, q, g, h, plen (bytes of p), qlen (bytes of q)."""

    def __init__(self, name, d):
        self.name = name
        self.id = d["id"]
        self.p = d["p"]
        self.q = d["q"]
        self.g = d["g"]
        self.h = d["h"]
        self.L = d["L"]
        self.N = d["N"]
        self.plen = (d["L"] + 7) // 8
        self.qlen = (d["N"] + 7) // 8

    def __repr__(self):
        return "Group(%s/%d, id=%d)" % (self.name, self.N, self.id)

    def elem_bytes(self, x):
        return x.to_bytes(self.plen, "big")

    def scalar_bytes(self, x):
        return x.to_bytes(self.qlen, "big")


GROUPS = {"2048": Group("2048", _params.P2048), "3072": Group("3072", _params.P3072)}
DEFAULT = GROUPS["2048"]
_BY_ID = {}
for _g in GROUPS.values():
    _BY_ID[_g.id] = _g


def by_id(gid):
    """Group by wire id (1 = 2048/256, 2 = 3072/256); ValueError if unknown."""
    g = _BY_ID.get(gid)
    if g is None:
        raise ValueError("unknown group id %d" % gid)
    return g


def get(grp=None):
    """Accept a Group, a name ('2048'/'3072'), a wire id or None (default)."""
    if grp is None:
        return DEFAULT
    if isinstance(grp, Group):
        return grp
    if isinstance(grp, int):
        return by_id(grp)
    g = GROUPS.get(grp)
    if g is None:
        raise ValueError("unknown group %r" % (grp,))
    return g


def commit(m, r, grp=None, mbits=None):
    """Pedersen commitment g^m h^r mod p (m, r reduced mod q). mbits: a PUBLIC bound on
    m (0 <= m < 2**mbits, e.g. READING_BITS for a reading; ValueError above it) that lets
    the fixed-base comb skip the zero bits of m; default the bit length of q."""
    G = get(grp)
    return modexp.powmod2_fb(G.g, m % G.q, mbits or G.N, G.h, r % G.q, G.N, G.p)


def is_element(x, grp=None):
    """True iff 1 < x < p and x^q == 1 mod p (x in the order-q subgroup, not 1)."""
    G = get(grp)
    if not isinstance(x, int) or not (1 < x < G.p):
        return False
    return modexp.powmod(x, G.q, G.p) == 1


def is_scalar(x, grp=None):
    G = get(grp)
    return isinstance(x, int) and 0 <= x < G.q


def _len4(n):
    return n.to_bytes(4, "big")


def hash_to_scalar(domain, *parts, grp=None):
    """SHA-256(ctr || enc(domain, parts)) for ctr = 0, 1; 64 bytes as an int, mod q.
    parts are bytes (encode ints with fixed widths before calling)."""
    G = get(grp)
    h0 = hashlib.sha256(b"\x00\x00\x00\x00")
    h1 = hashlib.sha256(b"\x00\x00\x00\x01")
    for p in (domain,) + parts:
        ln = _len4(len(p))
        h0.update(ln)
        h0.update(p)
        h1.update(ln)
        h1.update(p)
    return int.from_bytes(h0.digest() + h1.digest(), "big") % G.q
