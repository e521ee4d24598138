# SPDX-License-Identifier: MIT
"""Bill verification in bulk, one core (issue 14): the supplier's month of bills.

`verify_bill(bill, tariff, meter_pub)` gives exactly veriwatt.bill.verify_bill's verdict (the
same code runs every check in the same order: envelope, key, tariff, cycle, bounds,
completeness before any exponentiation, signatures, proof, amount; tests/scale compare the two
on honest and tampered bills) with the signatures checked by `FastChecker`:

- the signatures are in the (e, s) form of ISO/IEC 14888-3 (vwcore/sig.py, docs/FORMATS.md):
  a record carries e = H(R, y, M) and s, not R, so alone it needs R' = g^s y^-e computed and
  hashed one signature at a time. A bill may carry each R_t (`sig_R`, written by the
  customer's `veriwatt bill`); then `FastChecker.batch_ok` checks e_t == H(R_t, y, M_t) for
  every record (hashes only) and ONE small-exponent batch equation (Bellare, Garay, Rabin,
  EUROCRYPT 1998) g^(sum a_t s_t) y^-(sum a_t e_t) == prod R_t^a_t with random 64-bit a_t from
  os.urandom, the product by `multiexp` (Pippenger's bucket method: in C through
  veriwatt.cmexp when vwcrypto was built with it, `USE_C`, else on gmpy2, the same value so
  the same verdicts; variable time, public values only). When that fails the
  signatures are checked one by one as by bill.verify_bill, naming the first bad record with
  its message. Soundness, and the one case where the verdicts can differ (records made with
  the meter's own key, closed by subgroup_check=True at one exponentiation per record):
  docs/SECURITY.md ("Batch verification of bills").
- One by one (bills without `sig_R`, or after a failed batch): g^s through a process-wide
  fixed-base table of g with 12-bit windows (22 multiplications per 256-bit exponent instead
  of 32) and y^(q-e) through one 8-bit-window table of the meter's key per bill (32
  multiplications, the table costs 8,160 multiplications, i.e. 5.5 per signature of a month;
  8 bits is the optimum for 1,488 uses), accumulated in one product (BGMW, EUROCRYPT 1992;
  HAC 14.109); the hash's constant prefix is absorbed once per key; the bill's linear check
  prod C_t^w_t (already one combination per bill) runs on GMP integers (veriwatt.linear).

- Packed columns (issue 14): for a linear bill with `sig_R` whose every entry is canonical,
  bill.verify_bill hands `FastChecker.packed_ok` the bill's columns as packed bytes
  (bill.packed_records, veriwatt.cbill: no Python integer per C_t, R_t, e_t, s_t): the hashes
  (`packed_records_ok`) and the same batch test on those bytes; False sends the bill through
  the usual parse, which then goes one by one at once (`_batch_failed`) and names the record.

Everything here handles public values only (keys, signatures, commitments): variable time
is fine. `verify_many` checks many bill files and returns one result per bill, idempotent by
bill digest (the SHA-256 of the file's bytes, as veriwatt.ledger).
"""

from __future__ import annotations

import hashlib
import os
import struct
import time
from dataclasses import asdict, dataclass
from operator import mul
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from vwcore import group as _group
from vwcore import sig as _sig
from vwcore import wire

from . import bill as _bill
from . import cbill, cchal, cmexp, fastexp, jsonio, keys
from .errors import InvalidError, VeriwattError
from .records import Checker

# The batch equation's product prod R_t^a_t: C (veriwatt.cmexp: GMP, Montgomery, Pippenger) when
# vwcrypto was built with it, else `multiexp_gmpy2`; the same value, so the same verdicts.
USE_C = cmexp.available()
# The records' challenges e_t == H(R_t, y, M_t): one C call (veriwatt.cchal: OpenSSL's SHA-256)
# when vwcrypto was built with it, else hashlib one record at a time; the same verdicts.
USE_C_HASH = cchal.available()
G_WINDOW = 12
Y_WINDOW = 8
A_BYTES = 8  # the batch test's random weights a_t: 64 bits (soundness error 2^-64 per bill; equation_ok
# reads them as struct "Q"s: 8 bytes)


def _len4(n: int) -> bytes:
    return n.to_bytes(4, "big")


class FastChecker(Checker):
    """records.Checker with the same sig_ok answer, computed with fixed-base tables for g
    (shared by the process) and for this meter's key y (built here: meant for one bill or
    more of one meter). Without gmpy2 it is the plain Checker."""

    def __init__(self, meter_id: bytes, y: int, grp: Any = None, subgroup_check: bool = False) -> None:
        super().__init__(meter_id, y, grp, fast=True)  # refuses a y outside the subgroup
        self.subgroup_check = subgroup_check  # batch_ok also requires R_t^q == 1 for every t
        self._fast = fastexp.available()
        self._ytab: Any = None  # built at the first one-by-one check (the batch path needs none)
        h0 = hashlib.sha256(b"\x00\x00\x00\x00" + _len4(len(_sig.DOMAIN)) + _sig.DOMAIN)
        h1 = hashlib.sha256(b"\x00\x00\x00\x01" + _len4(len(_sig.DOMAIN)) + _sig.DOMAIN)
        self._h = (h0, h1)
        self._ypart = _len4(len(self._yb)) + self._yb
        # packed_ok refused this bill's records (hashes, or the batch test): the same records
        # parsed (bill.verify_bill's usual path) go one by one at once, to name the bad one
        self._batch_failed = False

    @classmethod
    def from_pub(cls, pub: Dict[str, Any], fast: bool = True, subgroup_check: bool = False) -> "FastChecker":
        from .records import meter_id_bytes

        return cls(meter_id_bytes(pub["meter_id"]), keys.y_of(pub), keys.group_of(pub), subgroup_check)

    def _challenge(self, R: int, msg: bytes) -> int:
        """group.hash_to_scalar(DOMAIN, R, y, msg): the same bytes hashed, prefix absorbed once."""
        Rb = self.G.elem_bytes(R)
        tail = _len4(len(Rb)) + Rb + self._ypart + _len4(len(msg)) + msg
        a, b = self._h[0].copy(), self._h[1].copy()
        a.update(tail)
        b.update(tail)
        return int.from_bytes(a.digest() + b.digest(), "big") % self.G.q

    @property
    def _tabs(self) -> Any:
        if not self._fast:
            return None
        if self._ytab is None:
            self._ytab = fastexp.FixedBase(self.y, self.G.p, 256, Y_WINDOW)
        return (fastexp.fixed_base_w(self.G.g, self.G.p, G_WINDOW), self._ytab)

    def commitment(self, s: int, e: int) -> int:
        if not self._fast:
            return super().commitment(s, e)
        return self._r(s, self.G.q - e)

    def batch_ok(self, entries: Sequence[Tuple[int, int, int, int]], rs: Sequence[int]) -> bool:
        """True when every signature of the bill verifies, given each one's commitment R_t
        (`sig_R`): `records_ok`, then ONE small-exponent batch test (Bellare, Garay, Rabin,
        EUROCRYPT 1998), `equation_ok`. False means "check one by one" (the caller then names
        the bad record); soundness in docs/SECURITY.md ("Batch verification of bills")."""
        return self.records_ok(entries, rs) and equation_ok([(self, entries, rs)])

    def records_ok(self, entries: Sequence[Tuple[int, int, int, int]], rs: Sequence[int]) -> bool:
        """Every field in range and e_t == H(R_t, y, M_t) for every t (hashes only); with
        subgroup_check also R_t^q == 1."""
        G = self.G
        if not self._fast or len(rs) != len(entries) or not entries or self._batch_failed:
            return False
        q, p = G.q, G.p
        for (slot, C, e, s), R in zip(entries, rs):
            if not (0 <= e < q and 0 <= s < q and 1 < C < p and 1 < R < p and 0 <= slot < wire.NO_SLOT):
                return False
        if not self._challenges_ok(entries, rs):
            return False
        return not (self.subgroup_check and any(fastexp.powmod(R, q, p) != 1 for R in rs))

    def _challenges_ok(self, entries: Sequence[Tuple[int, int, int, int]], rs: Sequence[int]) -> bool:
        """e_t == H(R_t, y, M_t) for every t (fields already in range): `_challenge` on the
        bytes of wire.signed_bytes, with everything but R_t, the slot and C_t laid out once."""
        G = self.G
        plen, q = G.plen, G.q
        head = wire.signed_bytes(self.meter_id, 0, 0, G.id)[: -(4 + plen)]  # domain, version, group, meter
        lr, mid = _len4(plen), self._ypart + _len4(len(head) + 4 + plen) + head
        if USE_C_HASH:  # one C call: the same bytes hashed, the same comparison (veriwatt.cchal)
            return self._challenges_ok_c(entries, rs, lr, mid)
        h0, h1 = self._h
        for (slot, C, e, _), R in zip(entries, rs):
            tail = b"".join((lr, R.to_bytes(plen, "big"), mid, slot.to_bytes(4, "big"), C.to_bytes(plen, "big")))
            a, b = h0.copy(), h1.copy()
            a.update(tail)
            b.update(tail)
            if int.from_bytes(a.digest() + b.digest(), "big") % q != e:
                return False
        return True

    def _challenges_ok_c(
        self, entries: Sequence[Tuple[int, int, int, int]], rs: Sequence[int], lr: bytes, mid: bytes
    ) -> bool:
        G = self.G
        plen, qlen = G.plen, G.qlen
        pre = _len4(len(_sig.DOMAIN)) + _sig.DOMAIN + lr
        rb = b"".join([R.to_bytes(plen, "big") for R in rs])
        sb = b"".join([t[0].to_bytes(4, "big") for t in entries])
        cb = b"".join([t[1].to_bytes(plen, "big") for t in entries])
        eb = b"".join([t[2].to_bytes(qlen, "big") for t in entries])
        n = len(entries)
        return (
            cchal.first_mismatch(b"\x00\x00\x00\x00" + pre, b"\x00\x00\x00\x01" + pre, mid, rb, sb, cb, plen, eb, G.q)
            == n
        )

    def packs(self) -> bool:
        """True when `packed_ok` can answer (bill.verify_bill then hands it the bill's packed
        columns): the C challenges, multi-exponentiation and column decoder are in, gmpy2 too,
        and no subgroup_check (which needs every R_t as an integer)."""
        return USE_C and USE_C_HASH and cbill.available() and self._fast and not self.subgroup_check

    def packed_ok(self, pk: Any) -> bool:
        """batch_ok on packed columns (bill.PackedRecords: complete, canonical, every field in
        range): the records' hashes in one C call, then the batch test. False means "check as
        usual" (bill.verify_bill then parses the bill and names the bad record)."""
        ok = self.packed_records_ok(pk) and equation_ok([(self, pk, None)])
        self._batch_failed = not ok
        return ok

    def packed_records_ok(self, pk: Any) -> bool:
        """records_ok on packed columns: e_t == H(R_t, y, M_t) for every t, the same bytes
        hashed by veriwatt.cchal (the ranges were checked by the decoder, veriwatt.cbill)."""
        G = self.G
        if not self.packs() or pk.n <= 0 or len(pk.cbe) != pk.n * G.plen:
            return False
        head = wire.signed_bytes(self.meter_id, 0, 0, G.id)[: -(4 + G.plen)]
        mid = self._ypart + _len4(len(head) + 4 + G.plen) + head
        pre = _len4(len(_sig.DOMAIN)) + _sig.DOMAIN + _len4(G.plen)
        sb = struct.pack(">%dI" % pk.n, *range(pk.start, pk.start + pk.n))
        got = cchal.first_mismatch(
            b"\x00\x00\x00\x00" + pre, b"\x00\x00\x00\x01" + pre, mid, pk.rbe, sb, pk.cbe, G.plen, pk.es, G.q
        )
        return got == pk.n

    def _r(self, s: int, f: int) -> int:
        """g^s * y^f mod p in one accumulator: y's 8-bit digits are the bytes of f, g's 12-bit
        digits come from s by shifting; no multiplication by the initial 1."""
        tg, ty = self._tabs
        p, gt, yt = tg.p, tg.table, ty.table
        acc = None
        for i, d in enumerate(f.to_bytes(32, "little")):
            if d:
                acc = yt[i][d] if acc is None else acc * yt[i][d] % p
        i = 0
        while s:
            d = s & 0xFFF
            if d:
                acc = gt[i][d] if acc is None else acc * gt[i][d] % p
            s >>= 12
            i += 1
        return 1 if acc is None else int(acc)


Pending = Tuple["FastChecker", Sequence[Tuple[int, int, int, int]], Sequence[int]]


def equation_ok(items: Sequence[Pending]) -> bool:
    """The batch test over every record of every item (checker, entries, R_t's), all of one
    group: random a_t of A_BYTES * 8 bits from os.urandom, fresh for each record, and
    g^(sum a_t s_t mod q) * prod_bills y^-(sum a_t e_t mod q) == prod R_t^a_t mod p."""
    if not items:
        return False
    G = items[0][0].G
    if any(c.G is not G or not c._fast for c, _, _ in items):
        return False
    q, p = G.q, G.p
    mlen = (p.bit_length() + 7) // 8
    A, bases, exps, weights, parts, yterms = 0, [], [], [], [], []  # type: ignore[var-annotated]
    for chk, entries, rs in items:
        if isinstance(entries, _bill.PackedRecords):  # bill.packed_records: R_t already packed
            digits = os.urandom(A_BYTES * entries.n)
            A += cbill.weighted_sum(digits, entries.ss, G.qlen)
            E = cbill.weighted_sum(digits, entries.es, G.qlen)
            weights.append(digits)
            parts.append(entries.rle)
            if not USE_C:
                exps.extend(struct.unpack("<%dQ" % entries.n, digits))
                bases.extend(
                    [int.from_bytes(entries.rle[i : i + mlen], "little") for i in range(0, len(entries.rle), mlen)]
                )
            yterms.append((chk.y, (-E) % q))
            continue
        digits = os.urandom(A_BYTES * len(entries))
        a_s = struct.unpack("<%dQ" % len(entries), digits)  # a_t: bytes 8t..8t+8, little-endian
        A += sum(map(mul, a_s, [t[3] for t in entries]))
        E = sum(map(mul, a_s, [t[2] for t in entries]))
        exps.extend(a_s)
        weights.append(digits)
        bases.extend(rs)
        if USE_C:  # as the C code reads them (1 < R_t < p: records_ok)
            parts.append(b"".join([R.to_bytes(mlen, "little") for R in rs]))
        yterms.append((chk.y, (-E) % q))
    ylhs = _y_terms(yterms, p)
    lhs = fastexp.fixed_base_w(G.g, p, G_WINDOW).pow(A % q) * ylhs % p
    if USE_C:  # the same a_t and R_t, in the same order
        return int(lhs) == cmexp.multiexp_packed(b"".join(parts), b"".join(weights), A_BYTES, p)
    return int(lhs) == multiexp(bases, exps, p)


def _y_terms(terms: Sequence[Tuple[int, int]], p: int) -> Any:
    """prod y_b^E_b mod p over the bills' (key, exponent) terms: one C multi-exponentiation
    (veriwatt.cmexp: the 256-bit exponents' squarings shared, about a third of 32 separate
    powers) for 4 terms or more when USE_C, else one GMP power each; the same value."""
    if USE_C and len(terms) >= 4:
        return cmexp.multiexp([y for y, _ in terms], [e for _, e in terms], p)
    acc = 1
    for y, e in terms:
        acc = acc * fastexp.powmod(y, e, p) % p
    return acc


def window_for(n: int, bits: int) -> int:
    """The bucket width c (4..16) with the fewest multiplications for n bases of `bits`-bit
    exponents: per window n + 2 * 2^width, plus c squarings between windows."""

    def cost(c: int) -> int:
        widths = [min(c, bits - sh) for sh in range(0, bits, c)]
        return sum(n + 2 * (1 << w) for w in widths) + c * (len(widths) - 1)

    return min(range(4, 17), key=cost)


def multiexp(bases: Sequence[int], exps: Sequence[int], p: int, bits: int = 8 * A_BYTES) -> int:
    """prod bases[t]^exps[t] mod p for 0 <= exps[t] < 2^bits: veriwatt.cmexp.multiexp (C) when
    USE_C, else `multiexp_gmpy2` (the same method in Python over gmpy2)."""
    if USE_C:
        return cmexp.multiexp(bases, exps, p)
    return multiexp_gmpy2(bases, exps, p, bits)


def multiexp_gmpy2(bases: Sequence[int], exps: Sequence[int], p: int, bits: int = 8 * A_BYTES) -> int:
    """prod bases[t]^exps[t] mod p for 0 <= exps[t] < 2^bits: Pippenger's bucket method (HAC
    14.5; Bernstein et al., "Faster batch forgery identification", INDOCRYPT 2012, sec. 4) with
    c-bit windows (`window_for`): per window one multiplication per base into the bucket of its
    digit, then the buckets combined as prod B_d^d by running products (2 * 2^c
    multiplications), windows joined by c squarings. A month (1,488 bases, 64-bit exponents):
    c = 8, about 16,000 multiplications; 32 months at once: c = 11, about 9,600 per month."""
    import gmpy2 as gm

    P = gm.mpz(p)
    bs = [gm.mpz(b) for b in bases]
    c = window_for(len(bs), bits)
    acc = None
    for sh in range(((bits - 1) // c) * c, -1, -c):
        if acc is not None:
            for _ in range(c):
                acc = acc * acc % P
        m = (1 << min(c, bits - sh)) - 1
        buckets: List[Any] = [None] * (m + 1)
        for b, a in zip(bs, exps):
            d = (a >> sh) & m
            if d:
                x = buckets[d]
                buckets[d] = b if x is None else x * b % P
        run = tot = None
        for d in range(m, 0, -1):
            x = buckets[d]
            if x is not None:
                run = x if run is None else run * x % P
            if run is not None:
                tot = run if tot is None else tot * run % P
        if tot is not None:
            acc = tot if acc is None else acc * tot % P
    return 1 if acc is None else int(acc)


def verify_bill(bill: Any, tariff: Any, meter_pub: Dict[str, Any], subgroup_check: bool = False) -> Dict[str, Any]:
    """veriwatt.bill.verify_bill with FastChecker: the same report, the same exceptions (for a
    bill with `sig_R`: the batch test, one by one only when it fails). subgroup_check: also
    R_t^q == 1 for every R_t (one 256-bit exponentiation each): the verdict then equals
    bill.verify_bill's even on records crafted with the meter's own key (docs/SECURITY.md)."""
    return _bill.verify_bill(
        bill, tariff, meter_pub, checker=lambda pub: FastChecker.from_pub(pub, subgroup_check=subgroup_check)
    )


@dataclass
class Result:
    """One bill's verdict. status: "valid", "invalid" (a check failed: reason, problem kind and
    slot of the first problem) or "malformed" (not a readable bill: reason)."""

    bill_digest: str
    name: str
    status: str
    meter_id: Optional[str] = None
    kind: Optional[str] = None
    start_slot: Optional[int] = None
    end_slot: Optional[int] = None
    total: Optional[int] = None
    amount: Optional[str] = None
    reason: Optional[str] = None
    problem: Optional[str] = None
    slot: Optional[int] = None
    seconds: float = 0.0

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


PubLookup = Callable[[str], Dict[str, Any]]


def _envelope_fields(b: Any) -> Dict[str, Any]:
    if not isinstance(b, dict):
        return {}
    per = b.get("period") if isinstance(b.get("period"), dict) else {}
    out = {
        "meter_id": b.get("meter_id"),
        "kind": b.get("kind"),
        "start_slot": per.get("start_slot"),
        "end_slot": per.get("end_slot"),
    }
    return {k: (v if isinstance(v, (str, int)) and not isinstance(v, bool) else None) for k, v in out.items()}


def verify_raw(raw: bytes, name: str, tariff: Any, pub_for: PubLookup, checker: Any = None) -> Result:
    """Verdict on one bill file's bytes. pub_for(meter_id) gives the meter's public key (a
    VeriwattError from it, e.g. an unknown meter, makes the bill "malformed"). checker: as
    bill.verify_bill's (default FastChecker.from_pub)."""
    t0 = time.perf_counter()
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    res = Result(digest, name, "malformed")
    try:
        b = jsonio.loads(raw.decode("utf-8"), "bill", name) if len(raw) <= jsonio.cap_for("bill") else None
        if b is None:
            raise VeriwattError("bill %s is larger than the %d-byte cap" % (name, jsonio.cap_for("bill")))
        for k, v in _envelope_fields(b).items():
            setattr(res, k, v)
        if not isinstance(res.meter_id, str):
            raise VeriwattError("bill %s: no meter_id" % name)
        pub = pub_for(res.meter_id)
        rep = verify_bill(b, tariff, pub) if checker is None else _bill.verify_bill(b, tariff, pub, checker=checker)
        res.status, res.total, res.amount = "valid", rep["total"], rep["amount"]
    except UnicodeDecodeError:
        res.reason = "bill %s is not UTF-8 text" % name
    except InvalidError as e:
        res.status, res.reason = "invalid", str(e)
        probs = getattr(e, "report", {}).get("problems") or []
        if probs:
            res.problem, res.slot = probs[0].get("kind"), probs[0].get("slot")
    except VeriwattError as e:
        res.reason = str(e)
    res.seconds = round(time.perf_counter() - t0, 4)
    return res


COMBINE = 32  # bills whose batch equations verify_many joins into one multi-exponentiation


class _Deferring(FastChecker):
    """FastChecker whose batch_ok checks the records now (ranges, hashes) and leaves the
    batch equation to verify_many, which joins it with other bills' (`pending`)."""

    pending: List[Pending]

    def batch_ok(self, entries: Sequence[Tuple[int, int, int, int]], rs: Sequence[int]) -> bool:
        if not self.records_ok(entries, rs):
            return False
        self.pending.append((self, entries, rs))
        return True

    def packed_ok(self, pk: Any) -> bool:
        if not self.packed_records_ok(pk):
            self._batch_failed = True
            return False
        self.pending.append((self, pk, None))  # type: ignore[arg-type]
        return True


def verify_many(items: Iterable[tuple], tariff: Any, pub_for: PubLookup, combine: int = COMBINE) -> List[Result]:
    """Verdicts for (name, raw bytes) items, in order; one core. The batch equations of up to
    `combine` bills with `sig_R` are checked as ONE test (the same Bellare-Garay-Rabin test over
    all their records: fewer multiplications per bill, `multiexp`); if it fails, each of
    those bills is verified again on its own (its own batch, then one by one), so every
    verdict is verify_raw's."""
    items = list(items)
    out: List[Result] = []
    for k in range(0, len(items), max(1, combine)):
        out.extend(_verify_group(items[k : k + max(1, combine)], tariff, pub_for))
    return out


def _verify_group(items: List[tuple], tariff: Any, pub_for: PubLookup) -> List[Result]:
    if len(items) < 2 or not fastexp.available():
        return [verify_raw(raw, name, tariff, pub_for) for name, raw in items]
    pending: List[Pending] = []

    def deferring(pub: Dict[str, Any]) -> FastChecker:
        from .records import meter_id_bytes

        chk = _Deferring(meter_id_bytes(pub["meter_id"]), keys.y_of(pub), keys.group_of(pub))
        chk.pending = pending
        return chk

    out, deferred = [], []
    for i, (name, raw) in enumerate(items):
        mark = len(pending)
        res = verify_raw(raw, name, tariff, pub_for, checker=deferring)
        if len(pending) > mark:
            if res.status == "valid":
                deferred.append(i)
            else:  # a check after the (deferred) signatures failed: the verdict must come in order
                del pending[mark:]
                res = verify_raw(raw, name, tariff, pub_for)
        out.append(res)
    if pending and not equation_ok(pending):
        for i in deferred:
            out[i] = verify_raw(items[i][1], items[i][0], tariff, pub_for)
    return out


def group_table_ready() -> None:
    """Build the process-wide table of g now (about 0.3 s), e.g. when a worker starts."""
    if fastexp.available():
        G = _group.DEFAULT
        fastexp.fixed_base_w(G.g, G.p, G_WINDOW)
