"""Privacy-friendly aggregation: per-slot masked shares that cancel over a group of meters.

After Kursawe, Danezis & Kohlweiss, "Privacy-Friendly Aggregation for the Smart-Grid"
(PETS 2011), the Diffie-Hellman based protocol:

  - Each member i (a meter, or a customer device building shares for a meter that only
    certifies) has an aggregation secret x_i and public Y_i = g^x_i mod p (same group as
    the commitments). The aggregator A has (x_A, Y_A).
  - Enrollment, once per group: the member computes, for every other member j, the shared
    key k_ij = HKDF-SHA256(Y_j^x_i mod p, "pair" || gid || min(id) || max(id)) (RFC 5869),
    and its MAC key with the aggregator k_iA = HKDF(Y_A^x_i, "aggregator" || gid || id_i).
    That is n-1 modular exponentiations, done once; then only HMACs per slot.
  - Per slot t, the two masks of member i are
        M_i(t) = sum_{j != i} s_ij * PRF(k_ij, t)   (mod 2^64),  s_ij = +1 if id_i < id_j else -1
    with PRF = HMAC-SHA256 (first 8 bytes for the value mask, next 8 for the square mask),
    so sum_i M_i(t) = 0 over the group. The share is (m + M1, m^2 + M2) mod 2^64, plus
    an optional noise term, MACed with k_iA (HMAC-SHA256 truncated to 16 bytes). The group
    id gid is a hash of the label, the aggregator key and every (member id, public key).
  - The aggregator learns sum(m), sum(m^2) and so count, mean and variance; a single
    share, or any strict subset, is uniform in Z_2^64 to anyone without the pair keys.
  - Recovery for missing members K: every present member i sends
        R_i(t) = sum_{k in K} s_ik * PRF(k_ik, t)
    and the aggregator subtracts them. Caveat (as in Bonawitz et al. CCS 2017 without
    double masking): once a slot is recovered, a late share of a member in K for that slot
    would reveal its reading; the aggregator therefore rejects it, and the caveat is
    documented for deployments where the aggregator is not trusted to do so.
  - Differential privacy (optional): every member adds X - Y with X, Y ~ Polya(1/n, a),
    a = exp(-epsilon / sensitivity); the sum of n such terms is a two-sided geometric
    (discrete Laplace) variable, so the published sum is epsilon-DP (Acs & Castelluccia,
    "I have a DREAM!", IH 2011; Ghosh, Roughgarden & Sundararajan 2009 for the geometric
    mechanism). Accuracy cost: standard deviation sqrt(2a)/(1-a) Wh on the sum.

Everything is deterministic from the provisioned secrets and the slot number: the meter
needs no RNG at run time.
"""
import hashlib
import math
import struct

from vwcore import group as _group
from vwcore import kdf
from vwcore import modexp

MOD = 1 << 64
DOMAIN = b"veriwatt/agg/v1"
ID_LEN = 8
GID_LEN = 16
TAG_LEN = 16
_SHARE_HEAD = ">16s8sIQQ"
SHARE_LEN = 44 + TAG_LEN
_REC_HEAD = ">16s8sIQQH"


class AggError(ValueError):
    """A share, recovery message or enrollment that must be rejected; str() says why."""


def _check_id(mid):
    if not isinstance(mid, (bytes, bytearray)) or len(mid) != ID_LEN:
        raise AggError("member id must be %d bytes" % ID_LEN)
    return bytes(mid)


def secret_scalar(agg_secret, grp=None):
    """The member's DH exponent x in [1, q), derived from its provisioned aggregation secret."""
    G = _group.get(grp)
    return 1 + kdf.derive(agg_secret, b"veriwatt/agg/x", q=G.q - 1)


def public_key(x, grp=None):
    G = _group.get(grp)
    return modexp.powmod(G.g, x, G.p)


def group_id(label, members, agg_pub, grp=None):
    """16-byte id binding the label, the group parameters, the aggregator key and every
    (member id, public key) pair; members is an iterable of (id, Y) in any order."""
    G = _group.get(grp)
    h = hashlib.sha256(kdf.encode_parts(DOMAIN, b"group", label, bytes((G.id,)), G.elem_bytes(agg_pub)))
    for mid, y in sorted(members):
        h.update(_check_id(mid))
        h.update(G.elem_bytes(y))
    return h.digest()[:GID_LEN]


def _dh(x, pub, G):
    if not _group.is_element(pub, G):
        raise AggError("public key is not an element of the group")
    return G.elem_bytes(modexp.powmod(pub, x, G.p))


def pair_key(x, my_id, their_pub, their_id, gid, grp=None):
    """k_ij = HKDF(Y_j^x_i, "pair" || gid || min id || max id); symmetric in i and j."""
    G = _group.get(grp)
    lo, hi = sorted((_check_id(my_id), _check_id(their_id)))
    return kdf.hkdf(_dh(x, their_pub, G), kdf.encode_parts(DOMAIN, b"pair", gid, lo, hi), 32)


def aggregator_key(x, member_id, other_pub, gid, grp=None):
    """k_iA: member side x = x_i, other_pub = Y_A; aggregator side x = x_A, other_pub = Y_i."""
    G = _group.get(grp)
    return kdf.hkdf(_dh(x, other_pub, G), kdf.encode_parts(DOMAIN, b"aggregator", gid, _check_id(member_id)), 32)


def _prf2(key, slot):
    d = kdf.hmac_sha256(key, DOMAIN + b"/mask" + struct.pack(">I", slot))
    return int.from_bytes(d[0:8], "big"), int.from_bytes(d[8:16], "big")


def _tag(key, body):
    return kdf.hmac_sha256(key, DOMAIN + body)[:TAG_LEN]


class Enrollment:
    """A member's state for one group: its id, gid, MAC key and one (id, sign, key) per peer.
    Serialises to bytes (to_bytes/from_bytes) for the meter's storage: 58 + 41 bytes/peer."""

    def __init__(self, member_id, gid, mac_key, peers):
        self.member_id = _check_id(member_id)
        self.gid = bytes(gid)
        self.mac_key = bytes(mac_key)
        self.peers = peers  # list of (peer id, +1/-1, 32-byte key), sorted by id

    @classmethod
    def create(cls, x, member_id, label, members, agg_pub, grp=None):
        """Enroll: members = [(id, Y), ...] including this member; n-1 modexps + 1."""
        G = _group.get(grp)
        member_id = _check_id(member_id)
        ids = [m[0] for m in members]
        if member_id not in ids:
            raise AggError("this member is not in the group list")
        if len(set(ids)) != len(ids):
            raise AggError("duplicate member id in the group list")
        gid = group_id(label, members, agg_pub, G)
        peers = []
        for mid, y in sorted(members):
            if mid == member_id:
                continue
            sign = 1 if member_id < mid else -1
            peers.append((mid, sign, pair_key(x, member_id, y, mid, gid, G)))
        return cls(member_id, gid, aggregator_key(x, member_id, agg_pub, gid, G), peers)

    def to_bytes(self):
        out = [self.gid, self.member_id, self.mac_key, struct.pack(">H", len(self.peers))]
        for mid, sign, key in self.peers:
            out.append(mid + bytes((1 if sign > 0 else 0,)) + key)
        return b"".join(out)

    @classmethod
    def from_bytes(cls, b):
        if len(b) < 58 or (len(b) - 58) % 41:
            raise AggError("corrupt enrollment record")
        gid, mid, mac = b[0:16], b[16:24], b[24:56]
        n = struct.unpack(">H", b[56:58])[0]
        if len(b) != 58 + 41 * n:
            raise AggError("corrupt enrollment record")
        peers = []
        for i in range(n):
            e = b[58 + 41 * i: 99 + 41 * i]
            peers.append((bytes(e[0:8]), 1 if e[8] else -1, bytes(e[9:41])))
        return cls(mid, gid, mac, peers)

    def masks(self, slot, only=None):
        """(M1, M2) for a slot; with only=set of peer ids, the part due to those peers."""
        m1 = m2 = 0
        for mid, sign, key in self.peers:
            if only is not None and mid not in only:
                continue
            v1, v2 = _prf2(key, slot)
            m1 += sign * v1
            m2 += sign * v2
        return m1 % MOD, m2 % MOD

    def share(self, slot, wh, noise1=0, noise2=0):
        """The encoded, MACed share of a reading (Wh) for a slot."""
        if not isinstance(wh, int) or wh < 0:
            raise AggError("reading must be a non-negative int")
        m1, m2 = self.masks(slot)
        body = struct.pack(_SHARE_HEAD, self.gid, self.member_id, slot,
                           (wh + noise1 + m1) % MOD, (wh * wh + noise2 + m2) % MOD)
        return body + _tag(self.mac_key, b"/share" + body)

    def recovery(self, slot, missing):
        """The recovery message cancelling the masks shared with the missing members."""
        missing = sorted(set(_check_id(m) for m in missing))
        known = set(p[0] for p in self.peers)
        for m in missing:
            if m not in known:
                raise AggError("missing member %s is not in this group" % m.hex())
        r1, r2 = self.masks(slot, set(missing))
        body = struct.pack(_REC_HEAD, self.gid, self.member_id, slot, r1, r2, len(missing)) + b"".join(missing)
        return body + _tag(self.mac_key, b"/recovery" + body)


def decode_share(b):
    """(gid, member id, slot, c1, c2, body, tag); AggError on a wrong length."""
    if len(b) != SHARE_LEN:
        raise AggError("share must be %d bytes, got %d" % (SHARE_LEN, len(b)))
    gid, mid, slot, c1, c2 = struct.unpack(_SHARE_HEAD, b[:44])
    return gid, mid, slot, c1, c2, b[:44], b[44:]


def decode_recovery(b):
    """(gid, member id, slot, r1, r2, missing ids, body, tag); AggError when malformed."""
    if len(b) < 46 + TAG_LEN:
        raise AggError("recovery message too short")
    gid, mid, slot, r1, r2, n = struct.unpack(_REC_HEAD, b[:46])
    if len(b) != 46 + 8 * n + TAG_LEN:
        raise AggError("recovery message length does not match its member count")
    missing = [bytes(b[46 + 8 * i: 54 + 8 * i]) for i in range(n)]
    return gid, mid, slot, r1, r2, missing, b[:46 + 8 * n], b[46 + 8 * n:]


def check_tag(key, kind, body, tag):
    return kdf.ct_equal(_tag(key, kind + body), tag)


# ---- differential privacy: distributed discrete Laplace noise ----------------------------

class _Uniform:
    """Uniform floats in (0, 1) from an HMAC-SHA256 counter stream (deterministic)."""

    def __init__(self, key, slot, label):
        self._h = kdf.HMAC(key)
        self._ctx = DOMAIN + label + struct.pack(">I", slot)
        self._buf = b""
        self._i = 0

    def next(self):
        if len(self._buf) < 4:
            self._i += 1
            self._buf = self._h.mac_parts(struct.pack(">I", self._i), self._ctx)
        u = int.from_bytes(self._buf[:4], "big")
        self._buf = self._buf[4:]
        return (u + 0.5) / 4294967296.0


def _gamma(shape, scale, rnd):
    """Gamma(shape, scale): Marsaglia & Tsang (2000), with the U^(1/shape) boost for shape < 1."""
    boost = 1.0
    if shape < 1.0:
        boost = rnd.next() ** (1.0 / shape)
        shape += 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        # standard normal by Box-Muller
        z = math.sqrt(-2.0 * math.log(rnd.next())) * math.cos(2.0 * math.pi * rnd.next())
        v = 1.0 + c * z
        if v <= 0.0:
            continue
        v = v * v * v
        u = rnd.next()
        if math.log(u) < 0.5 * z * z + d - d * v + d * math.log(v):
            return d * v * scale * boost


def _poisson(lam, rnd):
    """Poisson(lam): multiplication method for lam < 30, else a rounded normal approximation."""
    if lam < 30.0:
        limit = math.exp(-lam)
        k, prod = 0, rnd.next()
        while prod > limit:
            k += 1
            prod *= rnd.next()
        return k
    z = math.sqrt(-2.0 * math.log(rnd.next())) * math.cos(2.0 * math.pi * rnd.next())
    return max(0, int(lam + math.sqrt(lam) * z + 0.5))


def _polya(r, a, rnd):
    """Polya (negative binomial) NB(r, a) as a Gamma-Poisson mixture."""
    return _poisson(_gamma(r, a / (1.0 - a), rnd), rnd)


def noise_alpha(epsilon, sensitivity):
    """a = exp(-epsilon / sensitivity) for the geometric mechanism."""
    if epsilon <= 0 or sensitivity <= 0:
        raise AggError("epsilon and sensitivity must be positive")
    return math.exp(-float(epsilon) / sensitivity)


def noise_share(noise_key, slot, n_members, epsilon, sensitivity, label=b"/noise"):
    """This member's share of the noise: X - Y, X, Y ~ Polya(1/n, a). Summed over n members
    the total is two-sided geometric with parameter a (epsilon-DP for that sensitivity)."""
    a = noise_alpha(epsilon, sensitivity)
    rnd = _Uniform(noise_key, slot, label)
    r = 1.0 / n_members
    return _polya(r, a, rnd) - _polya(r, a, rnd)


def noise_stddev(epsilon, sensitivity):
    """Standard deviation of the summed (two-sided geometric) noise."""
    a = noise_alpha(epsilon, sensitivity)
    return math.sqrt(2.0 * a) / (1.0 - a)


# ---- meter side: streamed enrollment and a packed (one-buffer) enrollment ----------------

CHUNK_PEERS = 8     # the meter keeps peers in buffers of 8 x 41 = 328 bytes (no 2 KB block)


class PackedEnrollment(Enrollment):
    """The same member state kept as buffers (the to_bytes() form, 58 + 41 bytes per peer:
    about 2 KB for 50 members) instead of a list of tuples: the meter's form. Either one
    buffer (bytes, bytearray or memoryview; not copied), or with chunks= the 58-byte head and
    a list of peer buffers (each a multiple of 41 bytes), so that a small, fragmented heap
    never needs one 2 KB block. Peers are read from the buffers on each use."""

    def __init__(self, blob, chunks=None):
        if chunks is None:
            if len(blob) < 58:
                raise AggError("corrupt enrollment record")
            chunks = [memoryview(blob)[58:]]
        n = 0
        for c in chunks:
            if len(c) % 41:
                raise AggError("corrupt enrollment record")
            n += len(c) // 41
        if len(blob) < 58 or struct.unpack(">H", bytes(blob[56:58]))[0] != n:
            raise AggError("corrupt enrollment record")
        self.chunks = chunks
        self.gid = bytes(blob[0:16])
        self.member_id = bytes(blob[16:24])
        self.mac_key = bytes(blob[24:56])
        self.n_peers = n

    @property
    def peers(self):
        for b in self.chunks:
            for o in range(0, len(b), 41):
                yield bytes(b[o:o + 8]), (1 if b[o + 8] else -1), bytes(b[o + 9:o + 41])

    def head(self):
        return self.gid + self.member_id + self.mac_key + struct.pack(">H", self.n_peers)

    def to_bytes(self):
        return self.head() + b"".join(bytes(c) for c in self.chunks)


class EnrollBuilder:
    """Enrollment streamed member by member (the meter cannot hold 50 public keys of 256
    bytes): members must arrive in strictly increasing id order, each costs one modexp at
    once (plus the group-membership check of its key); finish() gives the same bytes as
    Enrollment.create(...).to_bytes(), finish_parts() the meter's chunked form.

    HKDF = expand(extract(ikm)): the extract step (PRK, 32 bytes) does not depend on the
    group id, which is known only after the last member, so the builder keeps one PRK per
    peer and expands them all at the end. RAM: 41 bytes per peer, in buffers of
    CHUNK_PEERS peers (a fragmented 48 KB heap may have no free 2 KB block)."""

    def __init__(self, x, member_id, label, agg_pub, n_members, grp=None):
        G = _group.get(grp)
        if n_members < 2:
            raise AggError("a group has at least 2 members")
        self.G = G
        self.x = x
        self.member_id = _check_id(member_id)
        self.n = n_members
        self.count = 0
        self.k = 0
        self.last = None
        self.seen_self = False
        self.chunks = []
        self.h = hashlib.sha256(kdf.encode_parts(DOMAIN, b"group", label, bytes((G.id,)), G.elem_bytes(agg_pub)))
        self.prk_a = kdf.hkdf_extract(b"", _dh(x, agg_pub, G))

    def add(self, mid, y):
        mid = _check_id(mid)
        if self.count >= self.n:
            raise AggError("more members than announced")
        if self.last is not None and mid <= self.last:
            raise AggError("members must come in strictly increasing id order")
        if mid == self.member_id:
            if y != public_key(self.x, self.G):
                raise AggError("the list gives this member another public key")
            self.seen_self = True
        else:
            if self.k >= self.n - 1:
                raise AggError("this member is not in the group list")
            prk = kdf.hkdf_extract(b"", _dh(self.x, y, self.G))
            i = self.k % CHUNK_PEERS
            if i == 0:
                left = self.n - 1 - self.k
                self.chunks.append(bytearray(41 * (left if left < CHUNK_PEERS else CHUNK_PEERS)))
            c = self.chunks[-1]
            o = 41 * i
            c[o:o + 8] = mid
            c[o + 8] = 1 if self.member_id < mid else 0
            c[o + 9:o + 41] = prk
            self.k += 1
        self.h.update(mid)
        self.h.update(self.G.elem_bytes(y))
        self.last = mid
        self.count += 1

    def finish_parts(self):
        """(58-byte head, [peer buffers]) of the enrollment."""
        if self.count != self.n:
            raise AggError("%d members received, %d announced" % (self.count, self.n))
        if not self.seen_self:
            raise AggError("this member is not in the group list")
        gid = self.h.digest()[:GID_LEN]
        me = self.member_id
        for c in self.chunks:
            for o in range(0, len(c), 41):
                mid = bytes(c[o:o + 8])
                lo, hi = (me, mid) if me < mid else (mid, me)
                c[o + 9:o + 41] = kdf.hkdf_expand(bytes(c[o + 9:o + 41]), kdf.encode_parts(DOMAIN, b"pair", gid, lo, hi), 32)
        mac = kdf.hkdf_expand(self.prk_a, kdf.encode_parts(DOMAIN, b"aggregator", gid, me), 32)
        chunks, self.chunks = self.chunks, None
        return gid + me + mac + struct.pack(">H", self.k), chunks

    def finish(self):
        head, chunks = self.finish_parts()
        return head + b"".join(bytes(c) for c in chunks)


def noise_key(agg_secret, gid, member_id):
    """The member's key for its noise stream (deterministic, independent of the masks)."""
    return kdf.hkdf(agg_secret, kdf.encode_parts(DOMAIN, b"noise", gid, _check_id(member_id)), 32)


def member_noise(nkey, slot, n_members, eps_milli, sensitivity_wh):
    """(noise1, noise2) for a share: two-sided geometric noise on the value with
    (epsilon, sensitivity) and on the square with (epsilon, sensitivity^2). Publishing both
    sums costs 2 epsilon (basic composition). (0, 0) when eps_milli or sensitivity is 0."""
    if not eps_milli or not sensitivity_wh:
        return 0, 0
    e = eps_milli / 1000.0
    return (noise_share(nkey, slot, n_members, e, sensitivity_wh, b"/noise"),
            noise_share(nkey, slot, n_members, e, sensitivity_wh * sensitivity_wh, b"/noise2"))
