# SPDX-License-Identifier: MIT
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
import hashlib
import re
import time
from operator import itemgetter
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from vwcore import group as _group
from vwcore import wire as _wire

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
# bills of up to this many slots (two years) carry `sig_R`; longer ones (up to five years) would
# pass the bill file cap with it (docs/FORMATS.md) and are checked one signature at a time
SIG_R_MAX_SLOTS = 35136


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


def make_bill(
    recs: Sequence[Record],
    openings: Sequence[Tuple[int, int]],
    tariff: Any,
    start: int,
    end: int,
    meter_pub: Dict[str, Any],
    workers: int = 1,
    progress: Any = None,
    sig_rs: Optional[Sequence[int]] = None,
) -> Dict[str, Any]:
    """The bill object for the records of [start, end) (in slot order, exactly one per slot).
    For a non-linear tariff the proof is a zero-knowledge proof (workers: processes for the
    per-slot work of step and threshold proofs; progress(n) called as slots are done).
    The bill carries each signature's commitment R_t = g^s y^-e (`sig_R`, docs/FORMATS.md) so
    the supplier can check the signatures as one batch; they are computed here (verifying every
    signature on the way) or taken from sig_rs (one per record, e.g. the meter simulator's R,
    checked against each e by hashing)."""
    kind = kind_for(tariff)
    G = _keys.group_of(meter_pub)
    _slots.check_range(start, end)
    check_cycle(tariff, start, end, VeriwattError)
    slots_ = [r.slot for r in recs]
    if slots_ != list(range(start, end)):
        probs = _verify.check_period([(r.slot, r.C, r.e, r.s) for r in recs], start, end, None)
        raise VeriwattError(
            "cannot bill %s: %s; fetch the missing readings first (veriwatt fetch)"
            % (_slots.describe(start, end), _verify.summary(probs))
        )
    sig_r = signature_commitments(recs, meter_pub, sig_rs) if end - start <= SIG_R_MAX_SLOTS else None
    from vwcore.reading import MAX_READING

    for r, (m, _) in zip(recs, openings):
        if not 0 <= m <= MAX_READING:
            raise VeriwattError(
                "slot %d: reading %d Wh is outside 0..%d (MAX_READING): meter fault" % (r.slot, m, MAX_READING)
            )
    proof: Dict[str, Any]
    if kind in ZK_KINDS:
        from .zk import tariffs as _zt

        zt = tariff.zk(start, end)
        ms = [m for m, _ in openings]
        rs = [r for _, r in openings]
        for r, m in zip(recs, ms):
            if not 0 <= m <= zt.max_reading:
                raise VeriwattError(
                    "slot %d: reading %d Wh is above the tariff's max_reading %d" % (r.slot, m, zt.max_reading)
                )
        ctx = zk_context(meter_pub["meter_id"], start, end, tariff.digest())
        extra: Dict[str, Any] = {"workers": workers, "progress": progress} if kind in ("step", "threshold") else {}
        bp = _zt.PROVERS[kind](zt, [r.C for r in recs], ms, rs, ctx, G, **extra)
        total = bp.amount
        proof = {
            "alg": PROOF_ALG,
            "kind": kind,
            "bytes": len(bp.proof),
            "sha256": hashlib.sha256(bp.proof).hexdigest(),
            "base64": base64.b64encode(bp.proof).decode(),
        }
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
        "period": {"start_slot": start, "end_slot": end, "slots": end - start, "start": _iso(start), "end": _iso(end)},
        "tariff": None
        if tariff is None
        else {"digest": tariff.digest(), "name": tariff.name, "supplier": tariff.supplier, "kind": tariff.kind},
        "total": total,
        "amount": display_amount(kind, tariff, total),
        "proof": proof,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commitments": [{"slot": r.slot, "C": "%x" % r.C, "sig": "%064x%064x" % (r.e, r.s)} for r in recs],
    }
    if sig_r is not None:
        bill["sig_R"] = ["%x" % x for x in sig_r]
    return bill


def signature_commitments(
    recs: Sequence[Record], meter_pub: Dict[str, Any], given: Optional[Sequence[int]] = None
) -> List[int]:
    """R_t = g^s_t y^-e_t of every record's Schnorr signature (e_t, s_t), checking on the way
    that e_t == H(R_t, y, M_t), i.e. that the signature verifies (vwcore/sig.py). given: the
    R_t already known (then only the hashes are checked)."""
    chk = Checker.from_pub(meter_pub)
    if given is not None and len(given) != len(recs):
        raise VeriwattError("%d signature commitments for %d records" % (len(given), len(recs)))
    out = []
    for i, r in enumerate(recs):
        R = chk.commitment(r.s, r.e) if given is None else given[i]
        msg = _wire.signed_bytes(chk.meter_id, r.slot, r.C, chk.G.id)
        if not (0 <= r.e < chk.G.q and 0 <= r.s < chk.G.q and 1 < R < chk.G.p) or chk._challenge(R, msg) != r.e:
            raise VeriwattError(
                "slot %d: the meter's signature does not verify: the record was altered; fetch it again" % r.slot
            )
        out.append(R)
    return out


# A certified-readings document (a bill, a score file): its leading and trailing fields
DOC_HEAD_FIELDS = ("format", "kind", "meter_id", "meter_key_id", "group", "period")
DOC_TAIL_FIELDS = ("proof", "created", "commitments")
BILL_FIELDS = DOC_HEAD_FIELDS + ("tariff", "total", "amount") + DOC_TAIL_FIELDS
BILL_OPTIONAL = ("sig_R",)
PERIOD_FIELDS = ("start_slot", "end_slot", "slots", "start", "end")
BILL_TARIFF_FIELDS = ("digest", "name", "supplier", "kind")
ZK_PROOF_FIELDS = ("alg", "kind", "bytes", "sha256", "base64")
CREATED_RE = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\Z"


def parse_entries(bill: Dict[str, Any], G: Any = None, n: Optional[int] = None) -> List[Tuple[int, int, int, int]]:
    """(slot, C, e, s) of every commitment, each field in its one canonical encoding
    (docs/FORMATS.md): slot an integer, C minimal lowercase hex in (1, p), sig 128 lowercase
    hex digits e || s with e, s < q. n: the number of slots of the period (far more entries
    are refused before any is decoded; check_period then reports exactly what is wrong)."""
    from . import jsonio

    G = G or _keys.group_of({})
    cs = bill.get("commitments")
    if not isinstance(cs, list):
        raise VeriwattError("bill: `commitments` must be a list (see docs/FORMATS.md)")
    if n is not None and len(cs) > 2 * n + 16:
        raise InvalidError(
            "bill: %d commitments for a period of %d slots (each slot must appear exactly once): "
            "slots were duplicated or replayed" % (len(cs), n)
        )
    bulk = _entries_bulk(cs, G)
    if bulk is not None:
        return bulk
    out = []
    for i, c in enumerate(cs):
        got = _entry_fast(c, G)
        if got is not None:
            out.append(got)
            continue
        w = "bill: commitments[%d]" % i
        jsonio.only_keys(c, w, ("slot", "C", "sig"))
        slot = jsonio.integer(c["slot"], w + ".slot", 0, _slots.NO_SLOT - 1)
        C = jsonio.element(c["C"], G, w + ".C", member=False)  # the meter's signature covers C (docs/FORMATS.md)
        e, s_ = _keys.parse_sig(c["sig"], G, w + ".sig")
        out.append((slot, C, e, s_))
    return out


def _hex_elem(x: Any, G: Any) -> int:
    """x when it is an element's canonical hex (as jsonio.element(member=False) accepts), else 0."""
    if type(x) is str and len(x) <= 2 * G.plen and x.isascii():
        h = x if len(x) % 2 == 0 else "0" + x
        try:
            b = bytes.fromhex(h)
        except ValueError:
            return 0
        # x == "%x" % v, checked on the bytes (lowercase, no whitespace, no leading zero digit)
        # without formatting the 2048-bit integer back to hex
        v = int.from_bytes(b, "big") if x[:1] != "0" and b.hex() == h else 0
        if 1 < v < G.p:
            return v
    return 0


def _elems_bulk(xs: List[Any], G: Any) -> Optional[List[int]]:
    """The values of a list of group elements when EVERY one is in its canonical encoding (as
    _hex_elem accepts: minimal lowercase hex, 1 < x < p), else None (then the element-by-element
    parse decides, with its error message). One bytes.fromhex over the joined, zero-padded
    strings; the canonical form is checked on the whole: each a non-empty str of at most 2 *
    plen characters not starting with "0", and the bytes' hex equal to the joined text (so
    lowercase hex digits only, no whitespace)."""
    w, pl = 2 * G.plen, G.plen
    if not all([type(x) is str and 0 < len(x) <= w and x[0] != "0" for x in xs]):
        return None
    text = "".join([x.rjust(w, "0") for x in xs])
    if not text.isascii():
        return None
    try:
        b = bytes.fromhex(text)
    except ValueError:
        return None
    if len(b) != pl * len(xs) or b.hex() != text:
        return None
    vals = [int.from_bytes(b[i : i + pl], "big") for i in range(0, len(b), pl)]
    p = G.p
    return vals if all([1 < v < p for v in vals]) else None


def _entries_bulk(cs: List[Any], G: Any) -> Optional[List[Tuple[int, int, int, int]]]:
    """parse_entries's answer when EVERY commitment is canonical (as _entry_fast accepts:
    exactly the keys slot, C, sig; slot an int in [0, NO_SLOT); C as _elems_bulk; sig 4 * qlen
    lowercase hex digits with e, s < q), decoded column by column; else None."""
    if not cs or not all([type(c) is dict and len(c) == 3 for c in cs]):
        return None
    try:
        slots, Cs, sigs = [c["slot"] for c in cs], [c["C"] for c in cs], [c["sig"] for c in cs]
    except KeyError:
        return None
    if not all([type(t) is int and 0 <= t < _slots.NO_SLOT for t in slots]):
        return None
    ql, n = G.qlen, len(cs)
    if not all([type(x) is str and len(x) == 4 * ql for x in sigs]):
        return None
    text = "".join(sigs)
    if not text.isascii():
        return None
    try:
        es = bytes.fromhex(text)
    except ValueError:
        return None
    if len(es) != 2 * ql * n or es.hex() != text:
        return None
    vals = [int.from_bytes(es[i : i + ql], "big") for i in range(0, len(es), ql)]
    if not all([v < G.q for v in vals]):
        return None
    C = _elems_bulk(Cs, G)
    if C is None:
        return None
    return list(zip(slots, C, vals[0::2], vals[1::2]))


def _entry_fast(c: Any, G: Any) -> Optional[Tuple[int, int, int, int]]:
    """(slot, C, e, s) of a commitment already in its canonical form, else None (then the
    field-by-field parse decides, with its error message): the same values, found faster."""
    if type(c) is not dict or len(c) != 3 or "slot" not in c or "C" not in c or "sig" not in c:
        return None
    slot, sig = c["slot"], c["sig"]
    if (
        type(slot) is not int
        or not 0 <= slot < _slots.NO_SLOT
        or type(sig) is not str
        or len(sig) != 4 * G.qlen
        or not sig.isascii()
    ):
        return None
    C = _hex_elem(c["C"], G)
    try:
        es = bytes.fromhex(sig)
    except ValueError:
        return None
    if not C or es.hex() != sig:
        return None
    e, s_ = int.from_bytes(es[: G.qlen], "big"), int.from_bytes(es[G.qlen :], "big")
    return (slot, C, e, s_) if e < G.q and s_ < G.q else None


def parse_sig_rs(bill: Dict[str, Any], G: Any, n: int) -> Optional[List[int]]:
    """The optional `sig_R` list (None when absent): exactly n entries (one per commitment, in
    the same order; the length is checked before any entry is decoded), each a group element
    in its canonical encoding (minimal lowercase hex, 1 < R < p). Whether each is the right R
    is checked with the signatures. verify_bill calls it once the period is complete."""
    from . import jsonio

    if "sig_R" not in bill:
        return None
    rs = bill["sig_R"]
    if not isinstance(rs, list):
        raise VeriwattError("bill: `sig_R` must be a list (see docs/FORMATS.md)")
    if len(rs) != n:
        raise VeriwattError(
            "bill: `sig_R` has %d entries for %d commitments (exactly one per commitment)" % (len(rs), n)
        )
    bulk = _elems_bulk(rs, G) if rs else None
    if bulk is not None:
        return bulk
    return [_hex_elem(x, G) or jsonio.element(x, G, "bill: sig_R[%d]" % i, member=False) for i, x in enumerate(rs)]


def total_bounds(kind: str, weights: Optional[Sequence[int]], n_slots: int) -> Tuple[int, int]:
    """[lo, hi] a proven total can take with every reading in [0, MAX_READING]: for weights
    w_t (prices, index values, 1 for a total) sum(min(w_t, 0)) * MAX and sum(max(w_t, 0)) * MAX;
    for zero-knowledge kinds 0 .. MAX_PRICE * MAX * slots (and below q)."""
    from vwcore.reading import MAX_READING

    if weights is not None:
        return (sum(w for w in weights if w < 0) * MAX_READING, sum(w for w in weights if w > 0) * MAX_READING)
    from .zk import tariffs as _zt

    return 0, _zt.MAX_PRICE * MAX_READING * n_slots


def _check_envelope(bill: Any, tariff: Any, meter_pub: Dict[str, Any], G: Any) -> Tuple[str, int, int]:
    """Every field of the bill except the commitments and the proof's bytes, strictly: the
    kind asked for (a tariff's kind, or a total when no tariff is given), the meter, group,
    period (ISO times must be the slots'), tariff summary, total (integer), amount (string),
    created (timestamp: informational, not covered by the proof). Returns (kind, start, end)."""
    from . import jsonio

    if not isinstance(bill, dict) or bill.get("format") != FORMAT:
        raise VeriwattError("not a bill: format must be %r" % FORMAT)
    jsonio.only_keys(bill, "bill:", BILL_FIELDS, BILL_OPTIONAL)
    kind = bill["kind"]
    if kind not in KINDS:
        raise VeriwattError("bill: kind must be one of %s" % ", ".join(KINDS))
    want = kind_for(tariff)
    if kind != want:
        if tariff is None:
            raise InvalidError(
                "this is a %s bill, but no tariff was given: verify it with the signed tariff it "
                "names (--tariff FILE)" % kind
            )
        if kind == "total":
            raise InvalidError(
                "this file proves a total consumption (Wh), not a bill under the given tariff: "
                "its total is not money (verify it as a total: verify-bill FILE --total)"
            )
        raise InvalidError(
            "a %s bill needs a tariff of kind %s, the given tariff is of kind %s"
            % (kind, {"settlement": "index"}.get(kind, kind), tariff.kind)
        )
    p = jsonio.only_keys(bill["period"], "bill.period", PERIOD_FIELDS)
    start = jsonio.integer(p["start_slot"], "bill.period.start_slot")
    end = jsonio.integer(p["end_slot"], "bill.period.end_slot")
    _slots.check_range(start, end, "bill.period")
    jsonio.integer(p["slots"], "bill.period.slots", end - start, end - start)
    if p["start"] != _iso(start) or p["end"] != _iso(end):
        raise VeriwattError(
            "bill.period: start/end must be the ISO times of start_slot/end_slot (%s, %s)" % (_iso(start), _iso(end))
        )
    jsonio.hex_bytes(bill["meter_id"], "bill.meter_id", 8)
    jsonio.hex_bytes(bill["meter_key_id"], "bill.meter_key_id", 8)
    if not isinstance(bill["group"], str):
        raise VeriwattError("bill.group must be a string (\"2048\" or \"3072\")")
    jsonio.integer(bill["total"], "bill.total")
    if not isinstance(bill["amount"], str):
        raise VeriwattError("bill.amount must be a string")
    if not isinstance(bill["created"], str) or not re.match(CREATED_RE, bill["created"]):
        raise VeriwattError("bill.created must be a UTC time YYYY-MM-DDTHH:MM:SSZ")
    if kind == "total":
        if bill["tariff"] is not None:
            raise VeriwattError("bill: a total carries no tariff (`tariff`: null)")
    else:
        jsonio.only_keys(bill["tariff"], "bill.tariff", BILL_TARIFF_FIELDS)
    proof = bill["proof"]
    if kind in ZK_KINDS:
        jsonio.only_keys(proof, "bill.proof", ZK_PROOF_FIELDS, ("dr_slots",) if kind == "threshold" else ())
        if proof["alg"] != PROOF_ALG or proof["kind"] != kind:
            raise VeriwattError("bill: a %s bill needs `proof` alg %r and kind %r" % (kind, PROOF_ALG, kind))
        jsonio.integer(proof["bytes"], "bill.proof.bytes", 0)
        jsonio.hex_bytes(proof["sha256"], "bill.proof.sha256", 32)
        if not isinstance(proof["base64"], str):
            raise VeriwattError("bill.proof.base64 must be a string")
    else:
        jsonio.only_keys(proof, "bill.proof", ("R",))
        jsonio.scalar(proof["R"], G, "bill.proof.R")
    return kind, start, end


def verify_bill(
    bill: Any,
    tariff: Any,
    meter_pub: Dict[str, Any],
    fast: bool = True,
    workers: int = 1,
    progress: Any = None,
    checker: Any = None,
) -> Dict[str, Any]:
    """Check a bill as the supplier would. Returns a report dict; raises InvalidError with the
    first reason when the bill is not valid (report in err.report), VeriwattError when the
    files are malformed. The bill must be of the kind asked for: priced under `tariff` (a
    trusted, signed tariff), or a total consumption when tariff is None. Order: structure and
    encodings of every field, bounds, completeness, then signatures, then the proof.
    workers/progress: for zero-knowledge step and threshold proofs. checker: a function
    meter_pub -> records.Checker-like object (sig_ok) for the signatures, called once the
    period is complete (default Checker.from_pub; veriwatt.batchverify passes a faster one)."""
    from . import jsonio

    t0 = time.perf_counter()
    G = _keys.group_of(meter_pub)
    kind, start, end = _check_envelope(bill, tariff, meter_pub, G)
    total = bill["total"]
    proof = bill["proof"]
    R = 0 if kind in ZK_KINDS else jsonio.scalar(proof["R"], G, "bill.proof.R")
    report: Dict[str, Any] = {
        "valid": False,
        "kind": kind,
        "meter_id": bill.get("meter_id"),
        "period": {"start_slot": start, "end_slot": end},
        "total": total,
        "amount": bill.get("amount"),
        "problems": [],
    }

    def fail(kind_: str, msg: str, probs: Optional[List[_verify.Problem]] = None) -> None:
        report["problems"] = [p.as_dict() for p in probs] if probs else [{"kind": kind_, "slot": None, "message": msg}]
        report["reason"] = msg
        report["seconds"] = round(time.perf_counter() - t0, 4)
        err = InvalidError(msg)
        err.report = report  # type: ignore[attr-defined]
        raise err

    why = _meter_problem(bill, meter_pub, G) or (
        _tariff_problem(bill, tariff, kind, start, end) if kind != "total" else None
    )
    if why:
        fail(*why)
    # 3. bounds: every reading is in [0, MAX_READING], so the total is too
    w = None if kind in ZK_KINDS else weights_for(kind, tariff, start, end)
    lo, hi = total_bounds(kind, w, end - start)
    if not lo <= total <= hi or (kind in ZK_KINDS and total >= G.q):
        fail(
            "total",
            "the total %d is impossible for %d slots of at most %d Wh each under this tariff (allowed "
            "%d..%d): the total was changed" % (total, end - start, _max_reading(), lo, hi),
        )
    # 4. completeness (before any signature), then every signature; 5. the proof
    made: List[Any] = []  # the checker, once checker(meter_pub) was called
    if kind in ZK_KINDS or not _packed_ok(bill, checker, meter_pub, made, w, total, R, start, end, G):
        entries = parse_entries(bill, G, end - start)
        chk = made[0] if made else checker(meter_pub) if checker is not None else None
        probs = _signature_problems(bill, entries, start, end, meter_pub, G, fast, chk)
        if probs:
            fail(probs[0].kind, _verify.summary(probs), probs)
        if kind in ZK_KINDS:
            _verify_zk(bill, kind, tariff, entries, start, end, total, proof, G, fail, workers, progress)
            report["proof_bytes"] = proof.get("bytes")
        elif not _linear_ok(entries, w, total, R, G, fast):
            fail(
                "proof",
                "the total and its proof do not match the signed commitments: prod(C_t^w_t) != g^total * h^R "
                "(the total, the proof R or a price was changed)",
            )
    # 6. what people read
    if bill["amount"] != display_amount(kind, tariff, total):
        fail(
            "amount",
            "the displayed amount %r does not match the proven total %d (%s)"
            % (bill["amount"][:80], total, display_amount(kind, tariff, total)),
        )
    report["valid"] = True
    report["seconds"] = round(time.perf_counter() - t0, 4)
    return report


def _meter_problem(bill: Any, meter_pub: Dict[str, Any], G: Any) -> Optional[Tuple[str, str]]:
    """1. The bill names the given meter, its group and its key (kind, message), or None."""
    if bill["meter_id"] != meter_pub.get("meter_id"):
        return (
            "meter",
            "the bill is for meter %s but the meter key file is for meter %s (wrong meter key)"
            % (bill["meter_id"], meter_pub.get("meter_id")),
        )
    if bill["group"] != G.name:
        return "meter", "the bill uses group %s but the meter key is in group %s" % (str(bill["group"])[:8], G.name)
    if bill["meter_key_id"] != _keys.key_id(meter_pub):
        return (
            "meter",
            "the bill names meter key %s but the given meter key is %s (wrong or replaced meter key)"
            % (bill["meter_key_id"], _keys.key_id(meter_pub)),
        )
    return None


def _tariff_problem(bill: Any, tariff: Any, kind: str, start: int, end: int) -> Optional[Tuple[str, str]]:
    """2. The bill was priced under the given signed tariff, of the matching kind, over exactly
    one of its billing cycles (kind, message), or None."""
    bt = bill["tariff"]
    if bt["digest"] != tariff.digest():
        return (
            "tariff",
            "the bill was computed with tariff %s but the given tariff is %s (a different or altered tariff)"
            % (str(bt["digest"])[:80], tariff.digest()),
        )
    if [bt["name"], bt["supplier"], bt["kind"]] != [tariff.name, tariff.supplier, tariff.kind]:
        return "tariff", "the bill's tariff name, supplier or kind differ from the signed tariff's"
    if kind_for(tariff) != kind:
        return (
            "tariff",
            "a %s bill needs a tariff of kind %s, the given tariff is of kind %s"
            % (kind, {"settlement": "index"}.get(kind, kind), tariff.kind),
        )
    why = cycle_problem(tariff, start, end)  # 2b. exactly one billing cycle of the signed tariff
    return ("cycle", why) if why else None


def _signature_problems(
    bill: Any, entries: Any, start: int, end: int, meter_pub: Dict[str, Any], G: Any, fast: bool, checker: Any
) -> List[_verify.Problem]:
    """4. Completeness first (no signature is checked for an incomplete period), then every
    signature: one batch test when the bill carries sig_R and the checker (a records.Checker-like
    object, or None for Checker.from_pub) can batch, one by one otherwise or when the batch
    fails (to name the bad record)."""
    probs = _verify.check_period(entries, start, end, None)
    if probs:
        return probs
    rs = parse_sig_rs(bill, G, len(entries))  # after completeness: a dropped slot is named as such
    chk = checker if checker is not None else Checker.from_pub(meter_pub, fast=fast)
    batch = getattr(chk, "batch_ok", None) if rs is not None else None
    if batch is not None and batch(entries, rs):
        return []
    return _verify.check_period(entries, start, end, chk, rs=rs)


def _packed_ok(
    bill: Any,
    checker: Any,
    meter_pub: Dict[str, Any],
    made: List[Any],
    w: Any,
    total: int,
    R: int,
    start: int,
    end: int,
    G: Any,
) -> bool:
    """4. and 5. at once on packed columns (issue 14), for a linear bill with `sig_R` whose
    every commitment and R_t is canonical, when the checker can take them (`packs()`:
    batchverify.FastChecker with the C code): True when the period is complete, the linear
    proof holds and every signature verifies (chk.packed_ok: the records' hashes and the
    batch test). False means "check as usual": that path then names the first problem, or
    accepts; this one never accepts what it would refuse (tests/scale/test_packed.py).
    checker(meter_pub) is called only once the columns are complete and canonical (where the
    usual path calls it too: the same error if it refuses the key), its result kept in made."""
    from . import fastexp

    if checker is None or not fastexp.available():
        return False
    pk = packed_records(bill, G, start, end)
    if pk is None:
        return False
    made.append(checker(meter_pub))
    chk = made[0]
    packs = getattr(chk, "packs", None)
    if packs is None or not packs():
        return False
    if not linear.check_packed(pk.cle, G.plen, w, total, R, G.p, G.q, G.g, G.h, _powmod_gh(G)):
        return False
    return bool(chk.packed_ok(pk))


class PackedRecords(NamedTuple):
    """A bill's records as packed columns (`packed_records`): n records of slots start..start+n-1;
    C_t and R_t plen bytes each big-endian (cbe, rbe: the challenges' input) and little-endian
    (cle, rle: the C multi-exponentiation's), e_t and s_t qlen bytes each big-endian."""

    start: int
    n: int
    cbe: bytes
    cle: bytes
    rbe: bytes
    rle: bytes
    es: bytes
    ss: bytes


_SLOT_C_SIG = itemgetter("slot", "C", "sig")


def packed_records(bill: Any, G: Any, start: int, end: int) -> Optional[PackedRecords]:
    """The records of a bill with `sig_R` as packed columns (veriwatt.cbill) when the period is
    complete (exactly the slots start..end-1 in order, one commitment and one R_t each) and
    every field is canonical as parse_entries and parse_sig_rs accept it (each commitment
    exactly the keys slot, C, sig; C and R_t minimal lowercase hex in (1, p); sig 4 * qlen
    lowercase hex digits with e, s < q); else None (then the usual parse decides, with its
    message)."""
    from . import cbill

    cs, rs, n = bill.get("commitments"), bill.get("sig_R"), end - start
    if type(cs) is not list or type(rs) is not list or not 0 < n == len(cs) == len(rs):
        return None
    if set(map(type, cs)) != {dict} or set(map(len, cs)) != {3}:
        return None
    try:
        slots, Cs, sigs = zip(*map(_SLOT_C_SIG, cs))
    except KeyError:
        return None
    if not 0 <= start < end <= _slots.NO_SLOT or slots != tuple(range(start, end)):
        return None
    if set(map(type, slots)) != {int}:  # not True for 1, nor 1.0
        return None
    c, r, es = cbill.elems(Cs, G.plen, G.p), cbill.elems(rs, G.plen, G.p), cbill.sigs(sigs, G.qlen, G.q)
    if c is None or r is None or es is None:
        return None
    return PackedRecords(start, n, c[0], c[1], r[0], r[1], es[0], es[1])


def _linear_ok(entries: Any, w: Any, total: int, R: int, G: Any, fast: bool) -> bool:
    """5. prod(C_t^w_t) == g^total * h^R over the signed commitments (linear bills)."""
    from . import fastexp

    pm = _powmod_gh(G) if fast and fastexp.available() else (fastexp.powmod if fast else None)
    return linear.check([c for _, c, _, _ in entries], w, total, R, G.p, G.q, G.g, G.h, pm)


def _powmod_gh(G: Any) -> Any:
    """b^e mod p (public values) with the process-wide fixed-base tables of g (12-bit windows,
    batchverify.G_WINDOW) and h (8-bit windows: 32 multiplications for h^R instead of about
    300) for exponents below 2^256, gmpy2's powmod otherwise: the same values."""
    from . import fastexp

    def pm(b: int, e: int, m: int) -> int:
        if m == G.p and 0 <= e < 1 << 256 and (b == G.g or b == G.h):
            return int(fastexp.fixed_base_w(b, m, 12 if b == G.g else 8).pow(e))
        return fastexp.powmod(b, e, m)

    return pm


def _max_reading() -> int:
    from vwcore.reading import MAX_READING

    return MAX_READING


def _verify_zk(
    bill: Dict[str, Any],
    kind: str,
    tariff: Any,
    entries: Sequence[Tuple[int, int, int, int]],
    start: int,
    end: int,
    total: int,
    proof: Dict[str, Any],
    G: Any,
    fail: Any,
    workers: int,
    progress: Any,
) -> None:
    from .zk import ProofError
    from .zk import tariffs as _zt

    from . import jsonio

    try:
        data = jsonio.b64(proof["base64"], "the zero-knowledge proof")
    except VeriwattError as e:
        fail("proof", "%s (the proof was altered)" % e)
    if proof["bytes"] != len(data):
        fail(
            "proof",
            "the zero-knowledge proof has %d bytes, the bill says %s (the proof was altered or cut)"
            % (len(data), proof["bytes"]),
        )
    if proof["sha256"] != hashlib.sha256(data).hexdigest():
        fail("proof", "the zero-knowledge proof's SHA-256 is not the one the bill states (the proof was altered)")
    zt = tariff.zk(start, end)
    if kind == "threshold" and proof.get("dr_slots") != len(zt.slots):
        fail(
            "proof",
            "the bill states %r demand-response slots, the tariff gives %d for this period"
            % (proof.get("dr_slots"), len(zt.slots)),
        )
    ctx = zk_context(str(bill.get("meter_id")), start, end, tariff.digest())
    extra: Dict[str, Any] = {"workers": workers, "progress": progress} if kind in ("step", "threshold") else {}
    try:
        _zt.VERIFIERS[kind](zt, [c for _, c, _, _ in entries], total, data, ctx, G, **extra)
    except ProofError as e:
        fail(
            "proof",
            "the zero-knowledge %s proof does not verify (%s): the total or the proof was changed, or the "
            "proof was made for another meter, period or tariff" % (kind, e),
        )


# ----------------------------------------------------------------- selective disclosure
def make_disclosure(
    recs: Sequence[Record],
    openings: Sequence[Tuple[int, int]],
    chosen: Sequence[int],
    meter_pub: Dict[str, Any],
    note: str = "",
) -> Dict[str, Any]:
    """Openings of the chosen slots only (the customer's consent), with their signed commitments."""
    by_slot = {r.slot: (r, o) for r, o in zip(recs, openings)}
    out = []
    for t in sorted(set(chosen)):
        if t not in by_slot:
            raise VeriwattError("slot %d is not in the store: fetch it first" % t)
        r, (m, rr) = by_slot[t]
        out.append(
            {
                "slot": t,
                "start": _iso(t),
                "reading": m,
                "r": "%064x" % rr,
                "C": "%x" % r.C,
                "sig": "%064x%064x" % (r.e, r.s),
            }
        )
    return {
        "format": DISCLOSURE_FORMAT,
        "meter_id": meter_pub["meter_id"],
        "meter_key_id": _keys.key_id(meter_pub),
        "group": _keys.group_of(meter_pub).name,
        "note": note,
        "slots": out,
    }


DISCLOSURE_FIELDS = ("format", "meter_id", "meter_key_id", "group", "note", "slots")
DISCLOSED_FIELDS = ("slot", "start", "reading", "r", "C", "sig")


def verify_disclosure(d: Any, meter_pub: Dict[str, Any]) -> Dict[str, Any]:
    """Check a disclosure strictly: every field in its canonical encoding, each reading in
    [0, MAX_READING], r in [0, q), C a group element, the meter's signature on (slot, C),
    then C == g^reading h^r. Raises VeriwattError (malformed) or InvalidError."""
    from vwcore.reading import MAX_READING

    from . import jsonio

    if not isinstance(d, dict) or d.get("format") != DISCLOSURE_FORMAT or not isinstance(d.get("slots"), list):
        raise VeriwattError("not a disclosure file: format must be %r with a `slots` list" % DISCLOSURE_FORMAT)
    jsonio.only_keys(d, "disclosure:", DISCLOSURE_FIELDS)
    G = _keys.group_of(meter_pub)
    if d["meter_id"] != meter_pub.get("meter_id"):
        raise InvalidError(
            "the disclosure is for meter %s, the key for meter %s"
            % (str(d["meter_id"])[:16], meter_pub.get("meter_id"))
        )
    if d["meter_key_id"] != _keys.key_id(meter_pub) or d["group"] != G.name:
        raise InvalidError(
            "the disclosure names meter key %s (group %s), the given key is %s (group %s)"
            % (str(d["meter_key_id"])[:16], str(d["group"])[:8], _keys.key_id(meter_pub), G.name)
        )
    if not isinstance(d["note"], str):
        raise VeriwattError("disclosure: note must be a string")
    parsed = []
    last = -1
    for i, s in enumerate(d["slots"]):
        w = "disclosure: slots[%d]" % i
        jsonio.only_keys(s, w, DISCLOSED_FIELDS)
        t = jsonio.integer(s["slot"], w + ".slot", 0, _slots.NO_SLOT - 1)
        if t <= last:
            raise VeriwattError("%s: slots must be in increasing order, each once" % w)
        last = t
        if s["start"] != _iso(t):
            raise VeriwattError("%s.start must be the slot's ISO time %s" % (w, _iso(t)))
        if not isinstance(s["reading"], int) or isinstance(s["reading"], bool):
            raise VeriwattError("%s.reading must be a JSON integer" % w)
        m = s["reading"]
        if not 0 <= m <= MAX_READING:
            raise InvalidError(
                "slot %d: the disclosed reading %d is impossible: a meter certifies 0..%d Wh per "
                "half-hour" % (t, m, MAX_READING)
            )
        rr = jsonio.scalar(s["r"], G, w + ".r")
        C = jsonio.element(s["C"], G, w + ".C", member=False)  # membership below, after the signature
        e, s_ = _keys.parse_sig(s["sig"], G, w + ".sig")
        parsed.append((t, m, rr, C, e, s_))
    checker = Checker.from_pub(meter_pub)
    out = []
    for t, m, rr, C, e, s_ in parsed:  # per slot, cheapest refusal first: one bad slot costs one check
        if not checker.sig_ok(t, C, e, s_):
            raise InvalidError("slot %d: the meter's signature on the commitment does not verify" % t)
        if not _group.is_element(C, G):
            raise InvalidError("slot %d: the commitment is not in the order-q subgroup" % t)
        if not linear.check_opening(C, m, rr, G.p, G.q, G.g, G.h):
            raise InvalidError("slot %d: the disclosed reading %d does not open the signed commitment" % (t, m))
        out.append({"slot": t, "start": _iso(t), "reading": m})
    return {"valid": True, "meter_id": d["meter_id"], "slots": out}
