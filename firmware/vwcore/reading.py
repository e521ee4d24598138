# SPDX-License-Identifier: MIT
"""Certified readings: commit + sign + encrypt on the meter; verify and open on the host.

For meter M (8-byte id), slot t (uint32 half-hours since 1970-01-01T00:00Z) and reading
m_t (uint32, e.g. Wh in the slot):

    r_t  = derive(k_r, "veriwatt/commit-r/v1", M, t) in [0, q)   (kdf.derive: HMAC-SHA256,
           SP 800-108 counter mode, 64 bytes mod q), k_r = HKDF(sig_secret, "veriwatt/commit-r/v1")
    C_t  = g^m_t h^r_t mod p                                        (Pedersen, group.py)
    sig  = Schnorr(x, wire.signed_bytes(M, t, C_t, group_id))       (sig.py)
    ct   = AEAD(customer_key, nonce = 0x01||M||t,
                ad = "veriwatt/record/v1" || group_id || M || t,
                pt = uint32(m_t) || r_t (32 bytes))                  (aead.py)

Record layout on the wire: wire.encode_record / wire.decode_record. The host checks each
record with verify_record (signature, ranges, C in the subgroup) and the customer opens
it with open_record (tag, then commit(m, r) == C). Completeness of a billing period
(each slot exactly once, in order) is checked by the host over the slot numbers, which
are signed.
"""

from vwcore import wire  # first: the largest module to compile, while the heap is unfragmented
from vwcore import aead as _aead
from vwcore import group as _group
from vwcore import kdf
from vwcore import sig as _sig

R_LABEL = b"veriwatt/commit-r/v1"
AD_DOMAIN = b"veriwatt/record/v1"
# The largest reading a meter certifies, in Wh per half-hour slot: 65535 Wh (131 kW held for
# the whole half-hour, above any supply a meter is rated for). ONE constant shared by the
# meter (certify refuses more; the meter clamps its source to it) and the host (verifiers
# refuse a disclosed or decrypted reading above it, bills bound their totals with it, the
# zero-knowledge range proofs use it as the default max_reading). docs/FORMATS.md.
READING_BITS = 16
MAX_READING = (1 << READING_BITS) - 1  # 0xFFFF


class MeterKeys:
    """Everything the meter derives once from its provisioned secrets (one modexp for y).
    Attributes: meter_id, grp, signer (sig.SigningKey), y (public key), aead."""

    def __init__(self, meter_id, sig_secret, customer_key, grp=None):
        if len(meter_id) != wire.METER_ID_LEN:
            raise ValueError("meter_id must be %d bytes" % wire.METER_ID_LEN)
        self.meter_id = bytes(meter_id)
        self.grp = _group.get(grp)
        self.signer = _sig.SigningKey(sig_secret, self.grp)
        self.y = self.signer.y
        self._k_r = kdf.hkdf(sig_secret, R_LABEL, 32)
        self.aead = _aead.AEAD(customer_key)

    def r_for(self, slot):
        return kdf.derive(self._k_r, R_LABEL, self.meter_id, slot.to_bytes(4, "big"), q=self.grp.q)


def record_ad(group_id, meter_id, slot):
    return AD_DOMAIN + bytes((group_id,)) + bytes(meter_id) + slot.to_bytes(4, "big")


def certify(keys, slot, m):
    """Commit to, sign and encrypt reading m for slot; returns a wire.Record."""
    if not (0 <= m <= MAX_READING):
        raise ValueError("reading out of range [0, MAX_READING]")
    if not (0 <= slot < wire.NO_SLOT):
        raise ValueError("slot out of range")
    G = keys.grp
    r = keys.r_for(slot)
    C = _group.commit(m, r, G, READING_BITS)  # the bound is public, m stays secret
    e, s = keys.signer.sign(wire.signed_bytes(keys.meter_id, slot, C, G.id))
    pt = m.to_bytes(4, "big") + r.to_bytes(32, "big")
    ct = keys.aead.encrypt(_aead.record_nonce(keys.meter_id, slot), pt, record_ad(G.id, keys.meter_id, slot))
    return wire.Record(keys.meter_id, slot, C, e, s, ct, G.id)


def verify_record(rec, meter_pub, meter_id=None, check_member=True):
    """True iff rec carries a valid meter signature over (meter_id, slot, C, group) under
    meter_pub, C is in range (and in the order-q subgroup unless check_member=False,
    e.g. when the caller batch-checks membership), and, if meter_id is given, the record
    is from that meter."""
    try:
        G = _group.by_id(rec.group_id)
    except ValueError:
        return False
    if meter_id is not None and bytes(meter_id) != rec.meter_id:
        return False
    if not (0 <= rec.slot < wire.NO_SLOT) or len(rec.ct) != wire.CT_LEN:
        return False
    if not (1 < rec.C < G.p):
        return False
    if check_member and not _group.is_element(rec.C, G):
        return False
    return _sig.verify(meter_pub, wire.signed_bytes(rec.meter_id, rec.slot, rec.C, G.id), (rec.e, rec.s), G)


def open_record(rec, customer_key):
    """Decrypt rec with the customer key (bytes, or an aead.AEAD to reuse derived keys);
    returns (m, r) after checking commit(m, r) == C. Raises aead.AuthError on a bad tag,
    ValueError if the opening does not match the commitment."""
    G = _group.by_id(rec.group_id)
    a = customer_key if isinstance(customer_key, _aead.AEAD) else _aead.AEAD(customer_key)
    pt = a.decrypt(_aead.record_nonce(rec.meter_id, rec.slot), rec.ct, record_ad(rec.group_id, rec.meter_id, rec.slot))
    if len(pt) != wire.PT_LEN:
        raise ValueError("plaintext length wrong")
    m = int.from_bytes(pt[:4], "big")
    r = int.from_bytes(pt[4:], "big")
    if r >= G.q:
        raise ValueError("opening r out of range")
    if _group.commit(m, r, G) != rec.C:
        raise ValueError("opening does not match the commitment")
    return m, r
