# SPDX-License-Identifier: MIT
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
  - Missing members K: every present member i sends ONE reduced share
        v_i(t) = m + sum_{j present, j != i} s_ij * PRF(k_ij, t)
    (its share minus the masks shared with K) and the aggregator sums them. Release rule
    (ReleaseLog, on the meter): per slot a member releases either its full share or one
    reduced share for one K, never both, never masks alone, and K leaves at least one other
    member present; so every reading is in at most one released value, which holds a mask
    that nothing else released cancels (docs/AGGREGATION.md, proof by enumeration in
    tests/aggregation/test_agg_release_proof.py). Groups have at least MIN_MEMBERS = 3.
  - Enrollment needs the customer's consent: enroll_tag (HMAC under an HKDF key from the
    customer key) over the meter id, its INFO challenge and enroll_digest (everything the
    enrollment sets).
  - Differential privacy (optional): every member adds an exact discrete Laplace sample
    (Canonne, Kamath & Steinke, NeurIPS 2020, Algorithms 1-2; integers only) with
    a = exp(-epsilon / sensitivity), the geometric mechanism (Ghosh, Roughgarden &
    Sundararajan 2009): each sum containing member i is epsilon-DP for i's reading even if
    the others' noise is known or missing. Accuracy cost: standard deviation
    sqrt(n) x sqrt(2a)/(1-a) Wh on a sum of n members.

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
MIN_MEMBERS = 3  # smallest group a meter joins (with 2, each member learns the other's reading)
MIN_PRESENT = 2  # a reduced share keeps the mask with at least one other present member
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
    return modexp.powmod_fb(G.g, x % G.q, G.p, G.N)


def group_hash(label, members, agg_pub, grp=None):
    """32-byte SHA-256 binding the label, the group parameters, the aggregator key and every
    (member id, public key) pair; members is an iterable of (id, Y) in any order."""
    G = _group.get(grp)
    h = hashlib.sha256(kdf.encode_parts(DOMAIN, b"group", label, bytes((G.id,)), G.elem_bytes(agg_pub)))
    for mid, y in sorted(members):
        h.update(_check_id(mid))
        h.update(G.elem_bytes(y))
    return h.digest()


def group_id(label, members, agg_pub, grp=None):
    """The group id gid: the first 16 bytes of group_hash."""
    return group_hash(label, members, agg_pub, grp)[:GID_LEN]


def enroll_digest(ghash, n_members, eps_milli, sensitivity_wh):
    """SHA-256 of everything an enrollment sets: the full group hash (label, group parameters,
    aggregator key, every member id and public key) and '>HII' n_members, eps_milli,
    sensitivity_wh (the noise parameters)."""
    return hashlib.sha256(
        DOMAIN + b"/enroll" + bytes(ghash) + struct.pack(">HII", n_members, eps_milli, sensitivity_wh)
    ).digest()


def enroll_tag(customer_key, meter_id, challenge, digest):
    """16-byte tag authorising AGG_ENROLL COMMIT: vwcore.auth.enroll_tag (where every
    authorisation tag is defined), with this module's member-id check (AggError)."""
    from vwcore import auth

    return auth.enroll_tag(customer_key, _check_id(meter_id), challenge, digest)


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
        if len(ids) < MIN_MEMBERS:
            raise AggError("a group has at least %d members" % MIN_MEMBERS)
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
            e = b[58 + 41 * i : 99 + 41 * i]
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
        body = struct.pack(
            _SHARE_HEAD, self.gid, self.member_id, slot, (wh + noise1 + m1) % MOD, (wh * wh + noise2 + m2) % MOD
        )
        return body + _tag(self.mac_key, b"/share" + body)

    def present_peers(self, missing):
        """The set of peer ids not in `missing`; AggError unless missing is a set of 1..n-2 of
        this member's peers (at least one other member must stay present: MIN_PRESENT)."""
        known = set(p[0] for p in self.peers)
        miss = set()
        for m in missing:
            m = _check_id(m)
            if m not in known:
                raise AggError("missing member %s is not a peer in this group" % m.hex())
            miss.add(m)
        if not miss:
            raise AggError("a recovery names at least one missing member")
        present = known - miss
        if len(present) + 1 < MIN_PRESENT:
            raise AggError("at least %d members (this one included) must stay present" % MIN_PRESENT)
        return present

    def reduced_share(self, slot, wh, missing, noise1=0, noise2=0):
        """The share of a reading for a slot without the members in `missing` (AGG_RECOVER):
        v = m + noise + sum_{j present} s_ij PRF(k_ij, t), i.e. the full share minus the masks
        shared with the missing members, in ONE message. The meter releases per slot either
        the full share or one reduced share (ReleaseLog), never both, and never masks alone."""
        if not isinstance(wh, int) or wh < 0:
            raise AggError("reading must be a non-negative int")
        present = self.present_peers(missing)
        missing = sorted(set(_check_id(m) for m in missing))
        m1, m2 = self.masks(slot, present)
        body = struct.pack(
            _REC_HEAD,
            self.gid,
            self.member_id,
            slot,
            (wh + noise1 + m1) % MOD,
            (wh * wh + noise2 + m2) % MOD,
            len(missing),
        ) + b"".join(missing)
        return body + _tag(self.mac_key, b"/reduced" + body)


def decode_share(b):
    """(gid, member id, slot, c1, c2, body, tag); AggError on a wrong length."""
    if len(b) != SHARE_LEN:
        raise AggError("share must be %d bytes, got %d" % (SHARE_LEN, len(b)))
    gid, mid, slot, c1, c2 = struct.unpack(_SHARE_HEAD, b[:44])
    return gid, mid, slot, c1, c2, b[:44], b[44:]


def decode_recovery(b):
    """A reduced share (AGG_RECOVERY): (gid, member id, slot, v1, v2, missing ids, body, tag);
    AggError when malformed. The tag is over kind b"/reduced"."""
    if len(b) < 46 + TAG_LEN:
        raise AggError("recovery message too short")
    gid, mid, slot, r1, r2, n = struct.unpack(_REC_HEAD, b[:46])
    if len(b) != 46 + 8 * n + TAG_LEN:
        raise AggError("recovery message length does not match its member count")
    missing = [bytes(b[46 + 8 * i : 54 + 8 * i]) for i in range(n)]
    return gid, mid, slot, r1, r2, missing, b[: 46 + 8 * n], b[46 + 8 * n :]


def check_tag(key, kind, body, tag):
    return kdf.ct_equal(_tag(key, kind + body), tag)


# ---- differential privacy: exact discrete Laplace noise, added by every member -----------


class _Stream:
    """Uniform integers from an HMAC-SHA256 counter stream (deterministic; integers only, so
    MicroPython and CPython draw exactly the same values)."""

    def __init__(self, key, slot, label):
        self._h = kdf.HMAC(key)
        self._ctx = DOMAIN + label + struct.pack(">I", slot)
        self._buf = b""
        self._o = 0
        self._i = 0

    def _byte(self):
        if self._o >= len(self._buf):
            self._i += 1
            self._buf = self._h.mac_parts(struct.pack(">I", self._i), self._ctx)
            self._o = 0
        self._o += 1
        return self._buf[self._o - 1]

    def below(self, d):
        """Uniform in [0, d), exactly (rejection of the top of a power-of-two range)."""
        k = 0
        while (1 << k) < d:
            k += 1
        mask = (1 << k) - 1
        while True:
            v = 0
            for _ in range((k + 7) // 8):
                v = (v << 8) | self._byte()
            v &= mask
            if v < d:
                return v


def _bern_exp_le1(rnd, num, den):
    """Bernoulli(exp(-num/den)) for 0 <= num <= den (Canonne, Kamath & Steinke, "The Discrete
    Gaussian for Differential Privacy", NeurIPS 2020, Algorithm 1, case gamma in [0, 1])."""
    k = 1
    while rnd.below(den * k) < num:  # A ~ Bernoulli(gamma / k)
        k += 1
    return k % 2 == 1


def bern_exp(rnd, num, den):
    """Bernoulli(exp(-num/den)) exactly, num >= 0, den >= 1 (CKS 2020 Algorithm 1)."""
    while num > den:
        if not _bern_exp_le1(rnd, 1, 1):
            return False
        num -= den
    return _bern_exp_le1(rnd, num, den)


def discrete_laplace(rnd, s, t):
    """One exact sample of the discrete Laplace distribution with scale t/s (s, t >= 1 ints):
    P[Z = z] = (1 - a) / (1 + a) * a^|z|, a = exp(-s/t) (CKS 2020 Algorithm 2)."""
    while True:
        u = rnd.below(t)
        if not bern_exp(rnd, u, t):
            continue
        v = 0
        while bern_exp(rnd, 1, 1):
            v += 1
        y = (u + t * v) // s
        b = rnd.below(2)
        if b == 1 and y == 0:
            continue
        return -y if b else y


def noise_alpha(epsilon, sensitivity):
    """a = exp(-epsilon / sensitivity) for the geometric mechanism."""
    if epsilon <= 0 or sensitivity <= 0:
        raise AggError("epsilon and sensitivity must be positive")
    return math.exp(-float(epsilon) / sensitivity)


def noise_stddev(epsilon, sensitivity, n_members=1):
    """Standard deviation of the summed noise of n members, each adding discrete Laplace with
    a = exp(-epsilon / sensitivity): sqrt(n * 2a) / (1 - a)."""
    a = noise_alpha(epsilon, sensitivity)
    return math.sqrt(2.0 * a * n_members) / (1.0 - a)


# ---- meter side: streamed enrollment and a packed (one-buffer) enrollment ----------------

CHUNK_PEERS = 8  # the meter keeps peers in buffers of 8 x 41 = 328 bytes (no 2 KB block)


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
                yield bytes(b[o : o + 8]), (1 if b[o + 8] else -1), bytes(b[o + 9 : o + 41])

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
    CHUNK_PEERS peers (a fragmented 48 KB heap may have no free 2 KB block), all allocated by
    the constructor (a group too big for the heap fails at once, with MemoryError); add() changes
    nothing when it raises (its allocations come first), so a part may be sent again."""

    def __init__(self, x, member_id, label, agg_pub, n_members, grp=None):
        G = _group.get(grp)
        if n_members < MIN_MEMBERS:
            raise AggError("a group has at least %d members" % MIN_MEMBERS)
        self.G = G
        self.x = x
        self.member_id = _check_id(member_id)
        self.n = n_members
        self.count = 0
        self.k = 0
        self.last = None
        self.seen_self = False
        self.chunks = []
        left = n_members - 1
        while left > 0:
            self.chunks.append(bytearray(41 * (left if left < CHUNK_PEERS else CHUNK_PEERS)))
            left -= CHUNK_PEERS
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
            ey = self.G.elem_bytes(y)
            self.seen_self = True
        else:
            if self.k >= self.n - 1:
                raise AggError("this member is not in the group list")
            prk = kdf.hkdf_extract(b"", _dh(self.x, y, self.G))
            ey = self.G.elem_bytes(y)
            c = self.chunks[self.k // CHUNK_PEERS]
            o = 41 * (self.k % CHUNK_PEERS)
            c[o : o + 8] = mid
            c[o + 8] = 1 if self.member_id < mid else 0
            c[o + 9 : o + 41] = prk
            self.k += 1
        self.h.update(mid)
        self.h.update(ey)
        self.last = mid
        self.count += 1

    def finish_parts(self):
        """(58-byte head, [peer buffers]) of the enrollment."""
        if self.count != self.n:
            raise AggError("%d members received, %d announced" % (self.count, self.n))
        if not self.seen_self:
            raise AggError("this member is not in the group list")
        self.ghash = self.h.digest()
        gid = self.ghash[:GID_LEN]
        me = self.member_id
        for c in self.chunks:
            for o in range(0, len(c), 41):
                mid = bytes(c[o : o + 8])
                lo, hi = (me, mid) if me < mid else (mid, me)
                c[o + 9 : o + 41] = kdf.hkdf_expand(
                    bytes(c[o + 9 : o + 41]), kdf.encode_parts(DOMAIN, b"pair", gid, lo, hi), 32
                )
        mac = kdf.hkdf_expand(self.prk_a, kdf.encode_parts(DOMAIN, b"aggregator", gid, me), 32)
        chunks, self.chunks = self.chunks, None
        return gid + me + mac + struct.pack(">H", self.k), chunks

    def finish(self):
        head, chunks = self.finish_parts()
        return head + b"".join(bytes(c) for c in chunks)


def noise_key(agg_secret, gid, member_id):
    """The member's key for its noise stream (deterministic, independent of the masks)."""
    return kdf.hkdf(agg_secret, kdf.encode_parts(DOMAIN, b"noise", gid, _check_id(member_id)), 32)


def member_noise(nkey, slot, eps_milli, sensitivity_wh):
    """(noise1, noise2) for a share: exact discrete Laplace noise with a = exp(-epsilon /
    sensitivity) on the value and a = exp(-epsilon / sensitivity^2) on the square, epsilon =
    eps_milli / 1000 (integer parameters s = eps_milli, t = 1000 x sensitivity(^2) of
    discrete_laplace). Each member's own share is then epsilon-DP for the value and for the
    square (2 epsilon for both, basic composition) whatever the others do; every published
    sum contains at least one honest member's noise. (0, 0) when eps_milli or sensitivity is 0."""
    if not eps_milli or not sensitivity_wh:
        return 0, 0
    return (
        discrete_laplace(_Stream(nkey, slot, b"/noise"), eps_milli, 1000 * sensitivity_wh),
        discrete_laplace(_Stream(nkey, slot, b"/noise2"), eps_milli, 1000 * sensitivity_wh * sensitivity_wh),
    )


# ---- meter side: what the meter has released, per slot ----------------------------------

RELEASE_RUNS = 16  # reduced-share runs remembered (16 bytes each)


def missing_digest(missing):
    """8-byte digest of a missing set (order and repeats do not matter)."""
    ids = sorted(set(_check_id(m) for m in missing))
    return hashlib.sha256(DOMAIN + b"/missing" + b"".join(ids)).digest()[:8]


class ReleaseLog:
    """The meter's durable record of what it released, so that per slot it releases at most
    ONE linear value of its reading: either the full share (AGG_FETCH) or one reduced share
    for one missing set (AGG_RECOVER), repeated identically but never both, never two sets.

    State (bounded): F = the highest slot AGG_FETCH may have released in full (a watermark:
    a reduced share is refused for every slot <= F), and up to RELEASE_RUNS runs
    (first, last, missing digest) of slots released as reduced shares (AGG_FETCH skips
    them). A run is forgotten only once its readings are no longer stored (no share of them
    can be derived any more). Bytes: '>IB' F + 1 (0 = none), number of runs, then '>II8s'
    per run: at most 5 + 16 x 16 = 261 bytes."""

    def __init__(self, raw=None):
        self.f = -1
        self.runs = []
        if raw:
            if len(raw) < 5 or len(raw) != 5 + 16 * raw[4]:
                raise AggError("corrupt release log")
            self.f = struct.unpack(">I", raw[0:4])[0] - 1
            for i in range(raw[4]):
                a, b, d = struct.unpack(">II8s", raw[5 + 16 * i : 21 + 16 * i])
                self.runs.append([a, b, bytes(d)])

    def to_bytes(self):
        out = [struct.pack(">IB", self.f + 1, len(self.runs))]
        for a, b, d in self.runs:
            out.append(struct.pack(">II8s", a, b, d))
        return b"".join(out)

    def _run(self, slot):
        for r in self.runs:
            if r[0] <= slot <= r[1]:
                return r
        return None

    def may_share(self, slot):
        """May AGG_FETCH release the full share of this slot? (not if it was reduced)"""
        return self._run(slot) is None

    def note_shares(self, last_slot):
        """AGG_FETCH is about to release full shares up to last_slot: True if F grew (save)."""
        if last_slot > self.f:
            self.f = last_slot
            return True
        return False

    def reduce(self, slot, mdig, first_stored):
        """May AGG_RECOVER release the reduced share of slot for the missing set with digest
        mdig? True if the log changed (save it before answering), False if this exact
        release was already made; AggError (why) if refused."""
        r = self._run(slot)
        if r is not None:
            if r[2] != mdig:
                raise AggError("slot %d was already released without another missing set; one release per slot" % slot)
            return False
        if slot <= self.f:
            raise AggError(
                "the share of slot %d may have been released already (AGG_FETCH up to "
                "slot %d): no recovery for it" % (slot, self.f)
            )
        for r in self.runs:
            if r[1] + 1 == slot and r[2] == mdig:
                r[1] = slot
                return True
            if r[0] - 1 == slot and r[2] == mdig:
                r[0] = slot
                return True
        if len(self.runs) >= RELEASE_RUNS and first_stored is not None:
            self.runs = [r for r in self.runs if r[1] >= first_stored]
        if len(self.runs) >= RELEASE_RUNS:
            raise AggError(
                "recovery memory full (%d runs of recovered slots still stored; they are "
                "freed as the log wraps): collect this slot with every member present" % RELEASE_RUNS
            )
        self.runs.append([slot, slot, bytes(mdig)])
        return True
