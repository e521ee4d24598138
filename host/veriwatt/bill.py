"""Bills with proofs (and the same linear machinery for settlement and totals).

The customer's side, `make_bill`: from the meter's certified records for a period and their
openings (m_t, r_t), compute total = sum(w_t * m_t) and the proof R = sum(w_t * r_t) mod q,
where w_t is the tariff's price for slot t (kind "tariff"), a grid value-of-energy index
(tariff file of kind "index": a settlement), or 1 (kind "total": the period's consumption,
for fraud checks against a feeder meter).

The supplier's side, `verify_bill`: with only the tariff and the meter's public key, check
the tariff digest, the period's completeness, every signature, and
prod(C_t^w_t) == g^total * h^R mod p. Schema of the bill file: docs/FORMATS.md.

Non-linear tariffs (kinds step, cumulative, threshold, rebate: tariff.ZkTariff) go through
the same steps, with a zero-knowledge proof (veriwatt.zk.tariffs) in place of R: `make_bill`
proves, `verify_bill` verifies it, bound to the meter id, the period and the tariff digest
(zk_context).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import keys as _keys
from . import linear
from . import slots as _slots
from . import verify as _verify
from .errors import InvalidError, VeriwattError
from .records import Checker, Record
from .tariff import Tariff

FORMAT = "veriwatt-bill/1"
DISCLOSURE_FORMAT = "veriwatt-disclosure/1"
LINEAR_KINDS = ("tariff", "settlement", "total")
ZK_KINDS = ("step", "cumulative", "threshold", "rebate")
KINDS = LINEAR_KINDS + ZK_KINDS
PROOF_ALG = "veriwatt-zk/1"


def _iso(t: int) -> str:
    try:
        return _slots.slot_start(t).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return "out of range"


def weights_for(kind: str, tariff: Optional[Tariff], start: int, end: int) -> List[int]:
    if kind == "total":
        return [1] * (end - start)
    if tariff is None:
        raise VeriwattError("a %s needs a tariff file (--tariff)" % kind)
    return tariff.prices(start, end)


def kind_for(tariff: Any) -> str:
    if tariff is None:
        return "total"
    if tariff.kind in ZK_KINDS:
        return tariff.kind
    return "settlement" if tariff.kind == "index" else "tariff"


def zk_context(meter_id: str, start: int, end: int, tariff_digest: str) -> bytes:
    """What a zero-knowledge bill proof is bound to (absorbed into its Fiat-Shamir transcript,
    besides the proof-layer tariff, the commitments and the amount): the meter id, the period
    and the digest of the signed tariff body."""
    from .zk import tariffs as _zt

    return _zt.context(bytes.fromhex(meter_id), "%d:%d %s" % (start, end, tariff_digest), start)


def cycle_problem(tariff: Any, start: int, end: int) -> Optional[str]:
    """Why [start, end) is not exactly one billing cycle of the tariff (None if it is, or if
    there is no tariff: a `total` has no cycle). The cycle is part of the signed tariff body
    (docs/TARIFF.md), so the prover cannot choose how a period is cut."""
    if tariff is None:
        return None
    cyc = getattr(tariff, "cycle", None)
    if cyc is None:
        return "the tariff has no billing cycle (add `cycle` to it and sign it again, docs/TARIFF.md)"
    return cyc.problem(start, end)


def check_cycle(tariff: Any, start: int, end: int, err: Any = InvalidError) -> None:
    why = cycle_problem(tariff, start, end)
    if why:
        raise err(why)


def display_amount(kind: str, tariff: Any, total: int) -> str:
    return tariff.amount(total) if tariff is not None and kind not in ("settlement", "total") else str(total)


def make_bill(recs: Sequence[Record], openings: Sequence[Tuple[int, int]], tariff: Any,
              start: int, end: int, meter_pub: Dict[str, Any], workers: int = 1,
              progress: Any = None) -> Dict[str, Any]:
    """The bill object for the records of [start, end) (in slot order, exactly one per slot).
    For a non-linear tariff the proof is a zero-knowledge proof (workers: processes for the
    per-slot work of step and threshold proofs; progress(n) called as slots are done)."""
    kind = kind_for(tariff)
    G = _keys.group_of(meter_pub)
    _slots.check_range(start, end)
    check_cycle(tariff, start, end, VeriwattError)
    slots_ = [r.slot for r in recs]
    if slots_ != list(range(start, end)):
        probs = _verify.check_period([(r.slot, r.C, r.e, r.s) for r in recs], start, end, None)
        raise VeriwattError("cannot bill %s: %s; fetch the missing readings first (veriwatt fetch)"
                            % (_slots.describe(start, end), _verify.summary(probs)))
    proof: Dict[str, Any]
    if kind in ZK_KINDS:
        from .zk import tariffs as _zt

        zt = tariff.zk(start, end)
        ms = [m for m, _ in openings]
        rs = [r for _, r in openings]
        for r, m in zip(recs, ms):
            if not 0 <= m <= zt.max_reading:
                raise VeriwattError("slot %d: reading %d Wh is above the tariff's max_reading %d" % (r.slot, m, zt.max_reading))
        ctx = zk_context(meter_pub["meter_id"], start, end, tariff.digest())
        extra: Dict[str, Any] = {"workers": workers, "progress": progress} if kind in ("step", "threshold") else {}
        t0 = time.perf_counter()
        bp = _zt.PROVERS[kind](zt, [r.C for r in recs], ms, rs, ctx, G, **extra)
        total = bp.amount
        proof = {"alg": PROOF_ALG, "kind": kind, "bytes": len(bp.proof),
                 "sha256": hashlib.sha256(bp.proof).hexdigest(),
                 "seconds": round(time.perf_counter() - t0, 2),
                 "base64": base64.b64encode(bp.proof).decode()}
        if kind == "threshold":
            proof["dr_slots"] = len(zt.slots)
    else:
        w = weights_for(kind, tariff, start, end)
        total, R = linear.prove(openings, w, G.q)
        proof = {"R": "%064x" % R}
    bill: Dict[str, Any] = {
        "format": FORMAT,
        "kind": kind,
        "meter_id": meter_pub["meter_id"],
        "meter_key_id": _keys.key_id(meter_pub),
        "group": G.name,
        "period": {"start_slot": start, "end_slot": end, "slots": end - start,
                   "start": _iso(start), "end": _iso(end)},
        "tariff": None if tariff is None else {
            "digest": tariff.digest(), "name": tariff.name, "supplier": tariff.supplier, "kind": tariff.kind},
        "total": total,
        "amount": display_amount(kind, tariff, total),
        "proof": proof,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commitments": [{"slot": r.slot, "C": "%x" % r.C, "sig": "%064x%064x" % (r.e, r.s)} for r in recs],
    }
    return bill


def _hex(x: Any, where: str) -> int:
    if not isinstance(x, str) or not x:
        raise VeriwattError("bill: %s must be a hex string" % where)
    try:
        return int(x, 16)
    except ValueError:
        raise VeriwattError("bill: %s is not hexadecimal" % where)


def parse_entries(bill: Dict[str, Any]) -> List[Tuple[int, int, int, int]]:
    cs = bill.get("commitments")
    if not isinstance(cs, list):
        raise VeriwattError("bill: `commitments` must be a list (see docs/FORMATS.md)")
    out = []
    for i, c in enumerate(cs):
        if not isinstance(c, dict) or not isinstance(c.get("slot"), int) or isinstance(c.get("slot"), bool):
            raise VeriwattError("bill: commitments[%d] must be an object with an integer `slot`" % i)
        sig = c.get("sig")
        if not isinstance(sig, str) or len(sig) != 128:
            raise VeriwattError("bill: commitments[%d].sig must be 128 hex digits" % i)
        out.append((c["slot"], _hex(c.get("C"), "commitments[%d].C" % i), _hex(sig[:64], "sig"), _hex(sig[64:], "sig")))
    return out


def _int_field(d: Dict[str, Any], k: str, where: str) -> int:
    v = d.get(k)
    if not isinstance(v, int) or isinstance(v, bool):
        raise VeriwattError("%s: `%s` must be an integer" % (where, k))
    return v


def verify_bill(bill: Any, tariff: Any, meter_pub: Dict[str, Any], fast: bool = True,
                workers: int = 1, progress: Any = None) -> Dict[str, Any]:
    """Check a bill as the supplier would. Returns a report dict; raises InvalidError with the
    first reason when the bill is not valid (report in err.report), VeriwattError when the
    files are malformed. workers/progress: for zero-knowledge step and threshold proofs."""
    t0 = time.perf_counter()
    if not isinstance(bill, dict) or bill.get("format") != FORMAT:
        raise VeriwattError("not a bill: format must be %r" % FORMAT)
    kind = bill.get("kind")
    if kind not in KINDS:
        raise VeriwattError("bill: kind must be one of %s" % ", ".join(KINDS))
    period = bill.get("period")
    if not isinstance(period, dict):
        raise VeriwattError("bill: `period` must be an object with start_slot and end_slot")
    start, end = _int_field(period, "start_slot", "bill.period"), _int_field(period, "end_slot", "bill.period")
    _slots.check_range(start, end, "bill.period")
    total = _int_field(bill, "total", "bill")
    proof = bill.get("proof")
    if not isinstance(proof, dict):
        raise VeriwattError("bill: `proof` must be an object (R, or a zero-knowledge proof in base64)")
    if kind in ZK_KINDS:
        if proof.get("alg") != PROOF_ALG or not isinstance(proof.get("base64"), str):
            raise VeriwattError("bill: a %s bill needs `proof` {\"alg\": %r, \"base64\": ...}" % (kind, PROOF_ALG))
        R = 0
    else:
        R = _hex(proof.get("R"), "proof.R")
    entries = parse_entries(bill)
    G = _keys.group_of(meter_pub)
    report: Dict[str, Any] = {"valid": False, "kind": kind, "meter_id": bill.get("meter_id"),
                              "period": {"start_slot": start, "end_slot": end}, "total": total,
                              "amount": bill.get("amount"), "problems": []}

    def fail(kind_: str, msg: str, probs: Optional[List[_verify.Problem]] = None) -> None:
        report["problems"] = [p.as_dict() for p in probs] if probs else [{"kind": kind_, "slot": None, "message": msg}]
        report["reason"] = msg
        report["seconds"] = round(time.perf_counter() - t0, 4)
        err = InvalidError(msg)
        err.report = report  # type: ignore[attr-defined]
        raise err

    # 1. the meter key
    if bill.get("meter_id") != meter_pub.get("meter_id"):
        fail("meter", "the bill is for meter %s but the meter key file is for meter %s (wrong meter key)"
             % (bill.get("meter_id"), meter_pub.get("meter_id")))
    if bill.get("group", G.name) != G.name:
        fail("meter", "the bill uses group %s but the meter key is in group %s" % (bill.get("group"), G.name))
    if bill.get("meter_key_id") not in (None, _keys.key_id(meter_pub)):
        fail("meter", "the bill names meter key %s but the given meter key is %s (wrong or replaced meter key)"
             % (bill.get("meter_key_id"), _keys.key_id(meter_pub)))
    # 2. the tariff
    bt = bill.get("tariff")
    if kind == "total":
        if tariff is not None and bt is not None:
            fail("tariff", "a total carries no tariff")
    else:
        if tariff is None:
            raise VeriwattError("this bill (%s) needs the tariff to check it: --tariff FILE" % kind)
        if not isinstance(bt, dict) or "digest" not in bt:
            raise VeriwattError("bill: `tariff.digest` is missing")
        if bt["digest"] != tariff.digest():
            fail("tariff", "the bill was computed with tariff %s but the given tariff is %s (a different or altered tariff)"
                 % (bt["digest"], tariff.digest()))
        if kind_for(tariff) != kind:
            fail("tariff", "a %s bill needs a tariff of kind %s, the given tariff is of kind %s"
                 % (kind, {"settlement": "index"}.get(kind, kind), tariff.kind))
        # 2b. the period is exactly one billing cycle of the (signed) tariff
        why = cycle_problem(tariff, start, end)
        if why:
            fail("cycle", why)
    # 3. completeness and signatures
    checker = Checker.from_pub(meter_pub, fast=fast)
    probs = _verify.check_period(entries, start, end, checker)
    if probs:
        fail(probs[0].kind, _verify.summary(probs), probs)
    # 4. the proof
    if kind in ZK_KINDS:
        _verify_zk(bill, kind, tariff, entries, start, end, total, proof, G, fail, workers, progress)
        report["proof_bytes"] = proof.get("bytes")
    else:
        w = weights_for(kind, tariff, start, end)
        from . import fastexp
        pm = fastexp.powmod if fast else None
        if not linear.check([c for _, c, _, _ in entries], w, total, R, G.p, G.q, G.g, G.h, pm):
            fail("proof", "the total and its proof do not match the signed commitments: prod(C_t^w_t) != g^total * h^R "
                 "(the total, the proof R or a price was changed)")
    # 5. what people read
    if bill.get("amount") != display_amount(kind, tariff, total):
        fail("amount", "the displayed amount %r does not match the proven total %d (%s)"
             % (bill.get("amount"), total, display_amount(kind, tariff, total)))
    report["valid"] = True
    report["seconds"] = round(time.perf_counter() - t0, 4)
    return report


def _verify_zk(bill: Dict[str, Any], kind: str, tariff: Any, entries: Sequence[Tuple[int, int, int, int]],
               start: int, end: int, total: int, proof: Dict[str, Any], G: Any, fail: Any,
               workers: int, progress: Any) -> None:
    from .zk import ProofError
    from .zk import tariffs as _zt

    try:
        data = base64.b64decode(proof["base64"], validate=True)
    except (binascii.Error, ValueError):
        fail("proof", "the zero-knowledge proof is not valid base64 (the proof was altered)")
    if proof.get("bytes") not in (None, len(data)):
        fail("proof", "the zero-knowledge proof has %d bytes, the bill says %s (the proof was altered or cut)"
             % (len(data), proof.get("bytes")))
    if not 0 <= total < G.q:
        fail("proof", "the total %d is out of range" % total)
    zt = tariff.zk(start, end)
    ctx = zk_context(str(bill.get("meter_id")), start, end, tariff.digest())
    extra: Dict[str, Any] = {"workers": workers, "progress": progress} if kind in ("step", "threshold") else {}
    try:
        _zt.VERIFIERS[kind](zt, [c for _, c, _, _ in entries], total, data, ctx, G, **extra)
    except ProofError as e:
        fail("proof", "the zero-knowledge %s proof does not verify (%s): the total or the proof was changed, or the "
             "proof was made for another meter, period or tariff" % (kind, e))


# ----------------------------------------------------------------- selective disclosure
def make_disclosure(recs: Sequence[Record], openings: Sequence[Tuple[int, int]], chosen: Sequence[int],
                    meter_pub: Dict[str, Any], note: str = "") -> Dict[str, Any]:
    """Openings of the chosen slots only (the customer's consent), with their signed commitments."""
    by_slot = {r.slot: (r, o) for r, o in zip(recs, openings)}
    out = []
    for t in sorted(set(chosen)):
        if t not in by_slot:
            raise VeriwattError("slot %d is not in the store: fetch it first" % t)
        r, (m, rr) = by_slot[t]
        out.append({"slot": t, "start": _iso(t), "reading": m, "r": "%064x" % rr,
                    "C": "%x" % r.C, "sig": "%064x%064x" % (r.e, r.s)})
    return {"format": DISCLOSURE_FORMAT, "meter_id": meter_pub["meter_id"], "meter_key_id": _keys.key_id(meter_pub),
            "group": _keys.group_of(meter_pub).name, "note": note, "slots": out}


def verify_disclosure(d: Any, meter_pub: Dict[str, Any]) -> Dict[str, Any]:
    if not isinstance(d, dict) or d.get("format") != DISCLOSURE_FORMAT or not isinstance(d.get("slots"), list):
        raise VeriwattError("not a disclosure file: format must be %r with a `slots` list" % DISCLOSURE_FORMAT)
    if d.get("meter_id") != meter_pub.get("meter_id"):
        raise InvalidError("the disclosure is for meter %s, the key for meter %s" % (d.get("meter_id"), meter_pub.get("meter_id")))
    G = _keys.group_of(meter_pub)
    checker = Checker.from_pub(meter_pub)
    out = []
    for i, s in enumerate(d["slots"]):
        if not isinstance(s, dict):
            raise VeriwattError("disclosure: slots[%d] must be an object" % i)
        t = _int_field(s, "slot", "disclosure.slots[%d]" % i)
        m = _int_field(s, "reading", "disclosure.slots[%d]" % i)
        C, rr = _hex(s.get("C"), "C"), _hex(s.get("r"), "r")
        sig = s.get("sig")
        if not isinstance(sig, str) or len(sig) != 128:
            raise VeriwattError("disclosure: slots[%d].sig must be 128 hex digits" % i)
        if not checker.sig_ok(t, C, int(sig[:64], 16), int(sig[64:], 16)):
            raise InvalidError("slot %d: the meter's signature on the commitment does not verify" % t)
        if not linear.check_opening(C, m, rr, G.p, G.q, G.g, G.h):
            raise InvalidError("slot %d: the disclosed reading %d does not open the signed commitment" % (t, m))
        out.append({"slot": t, "start": _iso(t), "reading": m})
    return {"valid": True, "meter_id": d["meter_id"], "slots": out}
