# SPDX-License-Identifier: MIT
"""Certified readings on the host: decode, check signatures in bulk, open with the customer key.

The record format and the meaning of each field are vwcore.wire / vwcore.reading (the one
protocol definition); this module only makes the host's bulk operations fast:

- `Checker(meter_pub)` verifies many records of one meter with fixed-base tables
  (fastexp), equivalent to vwcore.reading.verify_record(..., check_member=False) (tests
  compare the two). C is checked to be in range; subgroup membership of C is not needed
  for a bill's soundness since the meter signed C.
- `open_all(records, code)` decrypts the openings (m_t, r_t) and checks them together with
  one linear combination instead of one commitment per slot; only if that fails does it
  look for the culprit slot by slot.
"""

from __future__ import annotations

import random
from typing import Any, Dict, List, Optional, Sequence, Tuple

from vwcore import aead as _aead
from vwcore import group as _group
from vwcore import reading as _reading
from vwcore import sig as _sig
from vwcore import wire

from . import fastexp, linear
from .errors import InvalidError, VeriwattError

Record = wire.Record


def decode(raw: bytes) -> Record:
    return wire.decode_record(raw)


def meter_id_hex(mid: bytes) -> str:
    return bytes(mid).hex()


def meter_id_bytes(text: str) -> bytes:
    try:
        b = bytes.fromhex(text)
    except (ValueError, TypeError):
        raise VeriwattError("meter id %r is not hexadecimal (16 hex digits)" % (text,))
    if len(b) != wire.METER_ID_LEN:
        raise VeriwattError("meter id %r must be %d bytes (16 hex digits)" % (text, wire.METER_ID_LEN))
    return b


def customer_key(code: str) -> bytes:
    """The customer key from the short code on the meter label, with a clear error."""
    try:
        return _aead.parse_customer_code(code)
    except ValueError as e:
        raise VeriwattError(
            "customer code: %s; it is the 25-character code on the meter label, like ABCDE-FGHJK-MNPQR-STVWX-YZ012" % e
        )


class Checker:
    """Signature checks for one meter's records (public values only: variable time is fine)."""

    def __init__(self, meter_id: bytes, y: int, grp: Any = None, fast: bool = True) -> None:
        self.meter_id = bytes(meter_id)
        self.G = _group.get(grp)
        self.y = y
        self.fast = fast  # False: always vwcore.modexp.powmod2 (the constant-time C code)
        G = self.G
        member = (
            (isinstance(y, int) and 1 < y < G.p and fastexp.powmod(y, G.q, G.p) == 1)
            if fast
            else _group.is_element(y, G)
        )  # the same test (y public: GMP's variable-time powmod is fine)
        if not member:
            raise VeriwattError("the meter public key is not a group element (corrupted key file?)")
        self._yb = self.G.elem_bytes(y)

    @classmethod
    def from_pub(cls, pub: Dict[str, Any], fast: bool = True) -> "Checker":
        from . import keys

        return cls(meter_id_bytes(pub["meter_id"]), keys.y_of(pub), keys.group_of(pub), fast)

    def sig_ok(self, slot: int, C: int, e: int, s: int, meter_id: Optional[bytes] = None) -> bool:
        G = self.G
        if not (0 <= e < G.q and 0 <= s < G.q and 1 < C < G.p and 0 <= slot < wire.NO_SLOT):
            return False
        msg = wire.signed_bytes(meter_id if meter_id is not None else self.meter_id, slot, C, G.id)
        return self._challenge(self.commitment(s, e), msg) == e

    def commitment(self, s: int, e: int) -> int:
        """The signature's commitment R' = g^s * y^(q-e) mod p (= g^s y^-e; e, s in [0, q))."""
        G = self.G
        if self.fast:
            return fastexp.pow2(G.g, s, self.y, G.q - e, G.p)
        return _group.modexp.powmod2(G.g, s, self.y, G.q - e, G.p)

    def _challenge(self, R: int, msg: bytes) -> int:
        G = self.G
        return _group.hash_to_scalar(_sig.DOMAIN, G.elem_bytes(R), self._yb, msg, grp=G)

    def sig_problem(self, slot: int, C: int, e: int, s: int, R: Optional[int] = None) -> Optional[str]:
        """None when the signature (e, s) on (slot, C) verifies and, if the bill carries the
        signature's commitment R (docs/FORMATS.md, `sig_R`), R is exactly g^s y^-e; else
        "signature" (the signature does not verify) or "sig_R" (it does, R is not its R)."""
        G = self.G
        if not (0 <= e < G.q and 0 <= s < G.q and 1 < C < G.p and 0 <= slot < wire.NO_SLOT):
            return "signature"
        R1 = self.commitment(s, e)
        if self._challenge(R1, wire.signed_bytes(self.meter_id, slot, C, G.id)) != e:
            return "signature"
        return "sig_R" if R is not None and R1 != R else None

    def problem(self, rec: Record) -> Optional[str]:
        """None if the record is good for this meter, else the reason (one line)."""
        if rec.group_id != self.G.id:
            return "slot %d: record is for group %d, the meter key for group %d" % (rec.slot, rec.group_id, self.G.id)
        if rec.meter_id != self.meter_id:
            return "slot %d: record is from meter %s, not %s (foreign meter)" % (
                rec.slot,
                rec.meter_id.hex(),
                self.meter_id.hex(),
            )
        if len(rec.ct) != wire.CT_LEN:
            return "slot %d: ciphertext has the wrong length" % rec.slot
        if not self.sig_ok(rec.slot, rec.C, rec.e, rec.s):
            return (
                "slot %d: the meter's signature does not verify (record altered, or signed by another key)" % rec.slot
            )
        return None

    def check_raw(self, raw: bytes) -> Tuple[str, int]:
        """Store checker: (meter_id hex, slot) or ValueError with the reason."""
        try:
            rec = decode(raw)
        except ValueError as e:
            raise ValueError("malformed record: %s" % e)
        why = self.problem(rec)
        if why:
            raise ValueError(why)
        return rec.meter_id.hex(), rec.slot


def open_one(rec: Record, aead: "_aead.AEAD") -> Tuple[int, int]:
    """Decrypt (m, r) without the commitment check (open_all checks them together)."""
    try:
        pt = aead.decrypt(
            _aead.record_nonce(rec.meter_id, rec.slot), rec.ct, _reading.record_ad(rec.group_id, rec.meter_id, rec.slot)
        )
    except _aead.AuthError:
        raise InvalidError(
            "slot %d: cannot decrypt the reading: wrong customer code, or the record was altered" % rec.slot
        )
    return int.from_bytes(pt[:4], "big"), int.from_bytes(pt[4:], "big")


def open_all(recs: Sequence[Record], key: bytes) -> List[Tuple[int, int]]:
    """Openings (m_t, r_t) of all records, checked against the commitments in one batch:
    prod C_t^a_t == g^sum(a_t m_t) h^sum(a_t r_t) with random 32-bit a_t (a forged
    opening passes with probability about 2^-32); on failure each slot is checked alone."""
    if not recs:
        return []
    a = _aead.AEAD(key)
    G = _group.by_id(recs[0].group_id)
    ops = [open_one(r, a) for r in recs]
    rnd = random.SystemRandom()
    w = [rnd.getrandbits(32) | 1 for _ in recs]
    tot, rr = linear.prove(ops, w, G.q)
    lhs = fastexp.product([r.C for r in recs], w, G.p)
    if lhs == fastexp.pow2(G.g, tot % G.q, G.h, rr, G.p):
        return ops
    for rec, (m, r) in zip(recs, ops):
        if _group.commit(m, r, G) != rec.C:
            raise InvalidError(
                "slot %d: the decrypted reading does not match its signed commitment "
                "(meter fault or altered record)" % rec.slot
            )
    return ops
