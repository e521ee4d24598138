# SPDX-License-Identifier: MIT
"""Profile sets and suspect patterns: scores of a certified month against signed load shapes,
with proofs (formats, protocol and what the recipient learns: docs/COMPUTATIONS.md).

A supplier publishes a signed profile set (signedfile conventions, domain
"veriwatt-profiles/1"): for one period [start_slot, end_slot), categories each with one
non-negative integer weight per slot. A fraud team publishes a suspect pattern the same
way (kind "suspect", exactly one category). The customer's side (`make_scores`, opt-in
only) computes from the meter's certified records and their openings (m_t, r_t):

    kind "profiles": total = sum m_t, and per category k: inner_k = sum p_kt m_t and
                     distance_k = sum (m_t - p_kt)^2
    kind "suspect":  distance = sum (m_t - p_t)^2 only

and proves them without revealing any reading: a commitment S_t = g^(m_t^2) h^(s_t) per
slot with a square proof (zk.product), and for each score v with weights w (and the S_t
for distances) PK{R: prod C_t^w_t [* prod S_t * g^(|p|^2)] / g^v = h^R}, everything under
one Fiat-Shamir challenge bound to the meter id, the period, the profile set digest, the
consent record and every commitment (zk.product.Squares). The combined randomness R is
never revealed (unlike a linear bill's), so answering many profile sets does not add up
to the openings r_t.

The recipient (`verify_scores`) learns the scores, nothing else; see docs/COMPUTATIONS.md
for what scores themselves can reveal (differencing of close profiles).
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import bill as _bill
from . import jsonio
from . import keys as _keys
from . import linear, signedfile
from . import slots as _slots
from . import verify as _verify
from .errors import InvalidError, VeriwattError
from .records import Checker, Record

FORMAT = "veriwatt-profiles/1"
SIGNED_FORMAT = "veriwatt-signed-profiles/1"
SCORES_FORMAT = "veriwatt-scores/1"
PROOF_ALG = "veriwatt-scores/1"
KINDS = ("profiles", "suspect")
MAX_CATEGORIES = 16
MAX_WEIGHT = 65535  # the largest reading a meter certifies (vwcore.reading.MAX_READING)
MAX_SLOTS = 48 * 366  # a profile set covers at most a (leap) year
MAX_NAME = 80
MAX_RATE = 1000000
KIND = signedfile.Kind("profile set", FORMAT, SIGNED_FORMAT, "profiles", b"veriwatt-profiles/1\x00", "profiles")
BODY_FIELDS = ("format", "kind", "name", "supplier", "period", "categories")
BODY_OPTIONAL = ("unit", "sample_rate")
CONSENT_TEXT = (
    "I agree that my meter's certified readings of this period are compared with this profile set; "
    "the recipient learns the scores only"
)
CREATED_RE = _bill.CREATED_RE
KIND_SCORES = 18


class ProfileSet:
    """A validated profile-set body; `digest` is what the supplier signed."""

    def __init__(self, body: Any, where: str = "profile set") -> None:
        from . import tariff as _tariff

        jsonio.only_keys(body, where + ":", BODY_FIELDS, BODY_OPTIONAL)
        if body["format"] != FORMAT:
            raise VeriwattError("%s: format must be %r" % (where, FORMAT))
        _tariff.canonical(body)  # integers only, no floats anywhere
        self.body = body
        self.kind = body["kind"]
        if self.kind not in KINDS:
            raise VeriwattError("%s: kind must be one of %s" % (where, ", ".join(KINDS)))
        self.name, self.supplier = _text(body["name"], where + ".name"), _text(body["supplier"], where + ".supplier")
        if "unit" in body:
            _text(body["unit"], where + ".unit", 400)
        p = jsonio.only_keys(body["period"], where + ".period", ("start_slot", "end_slot"))
        self.start = jsonio.integer(p["start_slot"], where + ".period.start_slot", 0, _slots.NO_SLOT - 1)
        self.end = jsonio.integer(p["end_slot"], where + ".period.end_slot", self.start + 1, _slots.NO_SLOT)
        if self.end - self.start > MAX_SLOTS:
            raise VeriwattError(
                "%s: the period has %d slots, more than %d (a year)" % (where, self.end - self.start, MAX_SLOTS)
            )
        self.sample_rate = sample_rate(body, where)
        self.categories = _categories(body["categories"], self.kind, self.end - self.start, where)
        self.digest = signedfile.digest(body)

    @property
    def n(self) -> int:
        return self.end - self.start


def _text(v: Any, where: str, limit: int = MAX_NAME) -> str:
    if not isinstance(v, str) or len(v) > limit:
        raise VeriwattError("%s must be a string of at most %d characters" % (where, limit))
    return v


def sample_rate(body: Dict[str, Any], where: str) -> int:
    """The signed `sample_rate` (one reading in N is disclosed for settlement; default 100)."""
    return jsonio.integer(body.get("sample_rate", 100), where + ".sample_rate", 1, MAX_RATE)


def _categories(cs: Any, kind: str, n: int, where: str) -> List[Tuple[str, List[int]]]:
    if not isinstance(cs, list) or not 1 <= len(cs) <= MAX_CATEGORIES:
        raise VeriwattError("%s.categories must be a list of 1 to %d categories" % (where, MAX_CATEGORIES))
    if kind == "suspect" and len(cs) != 1:
        raise VeriwattError("%s: a suspect pattern has exactly one category (the pattern)" % where)
    out: List[Tuple[str, List[int]]] = []
    for i, c in enumerate(cs):
        w = "%s.categories[%d]" % (where, i)
        jsonio.only_keys(c, w, ("name", "weights"))
        name = _text(c["name"], w + ".name")
        if any(name == o for o, _ in out):
            raise VeriwattError("%s: category name %r appears twice" % (w, name[:40]))
        ws = c["weights"]
        if not isinstance(ws, list) or len(ws) != n:
            raise VeriwattError(
                "%s.weights must be a list of exactly %d integers (one per slot of the period)" % (w, n)
            )
        for j, x in enumerate(ws):
            if type(x) is not int or not 0 <= x <= MAX_WEIGHT:
                raise VeriwattError("%s.weights[%d] must be an integer in [0, %d]" % (w, j, MAX_WEIGHT))
        out.append((name, ws))
    return out


# ------------------------------------------------------------------ the signed file
# sign(body, supplier_key) -> signed file; parse_signed(obj, supplier_pub, where) and
# load_signed(path, supplier_key_path) -> ProfileSet: veriwatt.signedfile.Typed
_SIGNED = signedfile.Typed(KIND, ProfileSet)
sign, parse_signed, load_signed = _SIGNED.sign, _SIGNED.parse_signed, _SIGNED.load_signed


def example(kind: str, start: int, end: int) -> Dict[str, Any]:
    """An example body: daily shapes (UTC) for three household categories, or one suspect
    pattern (a steady 24-hour load, as a cannabis farm or a meter bypass might show)."""

    def shape(f: Any) -> List[int]:
        return [f(((t % 48) / 2.0)) for t in range(start, end)]

    cats = {
        "day-worker": shape(lambda h: 900 if 17 <= h < 22 else (400 if 7 <= h < 9 else 150)),
        "home-all-day": shape(lambda h: 500 if 8 <= h < 22 else 150),
        "night-storage-heating": shape(lambda h: 1400 if h < 7 else 250),
    }
    suspect = kind == "suspect"
    body = {
        "format": FORMAT,
        "kind": "suspect" if suspect else "profiles",
        "name": "Steady high load around the clock" if suspect else "Example household load profiles",
        "supplier": "Example Energy Ltd fraud team" if suspect else "Example Energy Ltd",
        "period": {"start_slot": start, "end_slot": end},
        "unit": "Wh per half-hour",
    }  # type: Dict[str, Any]
    if suspect:
        body["categories"] = [{"name": "steady-1.6kW", "weights": [800] * (end - start)}]
    else:
        body["sample_rate"] = 100
        body["categories"] = [{"name": k, "weights": v} for k, v in cats.items()]
    return body


# ------------------------------------------------------------------ statements
def _labels(ps: ProfileSet) -> List[Tuple[str, str, Optional[int]]]:
    """(score name, category, index) in proof order: total, then inner/distance per category."""
    if ps.kind == "suspect":
        return [("distance", ps.categories[0][0], 0)]
    out: List[Tuple[str, str, Optional[int]]] = [("total", "", None)]
    for k, (name, _) in enumerate(ps.categories):
        out += [("inner", name, k), ("distance", name, k)]
    return out


def _transcript(
    G: Any,
    ps: ProfileSet,
    meter_id: str,
    consent: Dict[str, Any],
    Cs: Sequence[int],
    Ss: Sequence[int],
    values: Sequence[int],
) -> Any:
    from . import tariff as _tariff
    from .zk.transcript import Transcript

    tr = Transcript(b"scores/1")
    tr.absorb(b"group", G.digest)
    tr.absorb(
        b"context",
        bytes.fromhex(meter_id) + b"%d:%d " % (ps.start, ps.end) + ps.digest.encode() + b" " + ps.kind.encode(),
    )
    tr.absorb(b"consent", _tariff.canonical(consent))
    tr.absorb_elements(b"commitments", list(Cs), G.plen)
    tr.absorb_elements(b"squares", list(Ss), G.plen)
    for v in values:
        tr.absorb_signed(b"score", v)
    return tr


def _scores(ps: ProfileSet, ms: Sequence[int]) -> List[int]:
    out = []
    for what, _, k in _labels(ps):
        if what == "total":
            out.append(sum(ms))
        elif what == "inner":
            out.append(sum(p * m for p, m in zip(ps.categories[k][1], ms)))
        else:
            out.append(sum((m - p) * (m - p) for p, m in zip(ps.categories[k][1], ms)))
    return out


def _randomness(ps: ProfileSet, rs: Sequence[int], ss: Sequence[int], q: int) -> List[int]:
    out = []
    s_sum = sum(ss)
    for what, _, k in _labels(ps):
        if what == "total":
            out.append(sum(rs) % q)
        elif what == "inner":
            out.append(sum(p * r for p, r in zip(ps.categories[k][1], rs)) % q)
        else:
            out.append((s_sum - 2 * sum(p * r for p, r in zip(ps.categories[k][1], rs))) % q)
    return out


def consent_record(given: Optional[str] = None) -> Dict[str, Any]:
    """What the score file records about the customer's opt-in (bound into the proof)."""
    return {"opt_in": True, "text": CONSENT_TEXT, "given": given or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


# ------------------------------------------------------------------ the customer's side
def make_scores(
    recs: Sequence[Record],
    openings: Sequence[Tuple[int, int]],
    ps: ProfileSet,
    meter_pub: Dict[str, Any],
    consent: bool,
    progress: Any = None,
) -> Dict[str, Any]:
    """The score file for the records of the profile set's period (one per slot, in order).
    consent must be True: profiling is opt-in (the file records the consent)."""
    from vwcore.reading import MAX_READING

    from .zk import product
    from .zk.encoding import Writer
    from .zk.groups import view

    if consent is not True:
        raise VeriwattError("profiling is opt-in: the customer must consent explicitly (--consent)")
    if [r.slot for r in recs] != list(range(ps.start, ps.end)):
        raise VeriwattError(
            "the profile set covers %s: the store must hold every reading of it (fetch first)"
            % _slots.describe(ps.start, ps.end)
        )
    ms = [m for m, _ in openings]
    if any(not 0 <= m <= MAX_READING for m in ms):
        raise VeriwattError("a reading is outside 0..%d Wh: meter fault" % MAX_READING)
    G = view(_keys.group_of(meter_pub))
    rs = [r % G.q for _, r in openings]
    sq = [product.square_commit(m, G) for m in ms]
    Ss, ss = [S for S, _ in sq], [s for _, s in sq]
    values = _scores(ps, ms)
    cons = consent_record()
    Cs = [r.C for r in recs]
    tr = _transcript(G, ps, meter_pub["meter_id"], cons, Cs, Ss, values)
    W = Writer(G, KIND_SCORES)
    for S in Ss:
        W.element(S)
    product.Squares.prove(G, tr, Cs, list(zip(ms, rs)), ss, _randomness(ps, rs, ss, G.q), W, progress)
    return _document(ps, meter_pub, G, cons, values, W.getvalue(), recs)


def _document(
    ps: ProfileSet,
    meter_pub: Dict[str, Any],
    G: Any,
    cons: Dict[str, Any],
    values: List[int],
    proof: bytes,
    recs: Sequence[Record],
) -> Dict[str, Any]:
    scores: List[Dict[str, Any]] = []
    doc: Dict[str, Any] = {
        "format": SCORES_FORMAT,
        "kind": ps.kind,
        "meter_id": meter_pub["meter_id"],
        "meter_key_id": _keys.key_id(meter_pub),
        "group": _keys.group_of(meter_pub).name,
        "period": {
            "start_slot": ps.start,
            "end_slot": ps.end,
            "slots": ps.n,
            "start": _bill._iso(ps.start),
            "end": _bill._iso(ps.end),
        },
        "profiles": {"digest": ps.digest, "name": ps.name, "supplier": ps.supplier, "kind": ps.kind},
        "consent": cons,
        "scores": scores,
        "proof": {
            "alg": PROOF_ALG,
            "bytes": len(proof),
            "sha256": hashlib.sha256(proof).hexdigest(),
            "base64": base64.b64encode(proof).decode(),
        },
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commitments": [{"slot": r.slot, "C": "%x" % r.C, "sig": "%064x%064x" % (r.e, r.s)} for r in recs],
    }
    labels = _labels(ps)
    for (what, cat, k), v in zip(labels, values):
        if what == "total":
            doc["total"] = v
        elif what == "inner":
            scores.append({"category": cat, "inner": v})
        else:
            if ps.kind == "suspect":
                scores.append({"category": cat})
            scores[-1]["distance"] = v
    return doc


# ------------------------------------------------------------------ the recipient's side
DOC_FIELDS = _bill.DOC_HEAD_FIELDS + ("profiles", "consent", "scores") + _bill.DOC_TAIL_FIELDS
PERIOD_FIELDS = _bill.PERIOD_FIELDS
PROFILES_FIELDS = _bill.BILL_TARIFF_FIELDS  # the signed file's digest, name, supplier, kind
PROOF_FIELDS = ("alg", "bytes", "sha256", "base64")


def _claimed(doc: Dict[str, Any], ps: ProfileSet) -> List[int]:
    """The claimed scores in proof order, each a bounded JSON integer under its category."""
    from vwcore.reading import MAX_READING

    if not isinstance(doc["scores"], list) or len(doc["scores"]) != len(ps.categories):
        raise InvalidError(
            "the score file has %s score entries, the profile set %d categories"
            % (len(doc["scores"]) if isinstance(doc["scores"], list) else "no", len(ps.categories))
        )
    n = ps.n
    out: List[int] = []
    if ps.kind == "profiles":
        out.append(jsonio.integer(doc["total"], "scores.total", 0, n * MAX_READING))
    for i, ((name, ws), s) in enumerate(zip(ps.categories, doc["scores"])):
        w = "scores[%d]" % i
        jsonio.only_keys(s, w, ("category", "distance") + (("inner",) if ps.kind == "profiles" else ()))
        if s["category"] != name:
            raise InvalidError("%s is for category %r, the profile set's is %r" % (w, str(s["category"])[:40], name))
        if ps.kind == "profiles":
            out.append(jsonio.integer(s["inner"], w + ".inner", 0, sum(ws) * MAX_READING))
        hi = sum(max(p, MAX_READING - p) ** 2 for p in ws)
        out.append(jsonio.integer(s["distance"], w + ".distance", 0, hi))
    return out


def _check_doc(doc: Any, ps: ProfileSet, meter_pub: Dict[str, Any], G: Any) -> None:
    """Every field but the proof bytes and commitments; refusals for another meter, period or set."""
    if not isinstance(doc, dict) or doc.get("format") != SCORES_FORMAT:
        raise VeriwattError("not a score file: format must be %r" % SCORES_FORMAT)
    jsonio.only_keys(doc, "score file:", DOC_FIELDS + (("total",) if ps.kind == "profiles" else ()))
    jsonio.hex_bytes(doc["meter_id"], "score file: meter_id", 8)
    jsonio.hex_bytes(doc["meter_key_id"], "score file: meter_key_id", 8)
    if doc["meter_id"] != meter_pub.get("meter_id") or doc["meter_key_id"] != _keys.key_id(meter_pub):
        raise InvalidError(
            "the score file is for meter %s (key %s), the meter key given is meter %s (key %s)"
            % (doc["meter_id"], doc["meter_key_id"], meter_pub.get("meter_id"), _keys.key_id(meter_pub))
        )
    if doc["group"] != _keys.group_of(meter_pub).name:
        raise InvalidError("the score file uses group %s, the meter key group %s" % (str(doc["group"])[:8], G.name))
    p = jsonio.only_keys(doc["period"], "score file: period", PERIOD_FIELDS)
    if (
        [p["start_slot"], p["end_slot"], p["slots"]] != [ps.start, ps.end, ps.n]
        or type(p["start_slot"]) is not int
        or type(p["end_slot"]) is not int
        or type(p["slots"]) is not int
    ):
        raise InvalidError(
            "the score file is for period %s:%s, the profile set for %d:%d"
            % (str(p["start_slot"])[:12], str(p["end_slot"])[:12], ps.start, ps.end)
        )
    if p["start"] != _bill._iso(ps.start) or p["end"] != _bill._iso(ps.end):
        raise VeriwattError("score file: period start/end must be the ISO times of its slots")
    pr = jsonio.only_keys(doc["profiles"], "score file: profiles", PROFILES_FIELDS)
    if pr["digest"] != ps.digest:
        raise InvalidError(
            "the score file was computed for profile set %s, the given (signed) one is %s"
            % (str(pr["digest"])[:80], ps.digest)
        )
    if [pr["name"], pr["supplier"], pr["kind"], doc["kind"]] != [ps.name, ps.supplier, ps.kind, ps.kind]:
        raise InvalidError("the score file's profile set name, supplier or kind differ from the signed set's")
    c = jsonio.only_keys(doc["consent"], "score file: consent", ("opt_in", "text", "given"))
    if (
        c["opt_in"] is not True
        or c["text"] != CONSENT_TEXT
        or not isinstance(c["given"], str)
        or not re.match(CREATED_RE, c["given"])
    ):
        raise InvalidError("the score file does not record the customer's opt-in consent in the standard form")
    if not isinstance(doc["created"], str) or not re.match(CREATED_RE, doc["created"]):
        raise VeriwattError("score file: created must be a UTC time YYYY-MM-DDTHH:MM:SSZ")
    pf = jsonio.only_keys(doc["proof"], "score file: proof", PROOF_FIELDS)
    if pf["alg"] != PROOF_ALG:
        raise VeriwattError("score file: proof alg must be %r" % PROOF_ALG)
    jsonio.integer(pf["bytes"], "score file: proof.bytes", 0)
    jsonio.hex_bytes(pf["sha256"], "score file: proof.sha256", 32)


def _proof_bytes(doc: Dict[str, Any], G: Any, n: int, atoms: int) -> bytes:
    from .zk import product

    pf = doc["proof"]
    want = 6 + product.size(G, n, atoms)
    data = jsonio.b64(pf["base64"], "score file: proof.base64", max_len=4 * (want + 2) // 3 + 4)
    if len(data) != pf["bytes"] or len(data) != want:
        raise InvalidError(
            "the proof has %d bytes, the file says %s, the statement needs %d (altered or cut)"
            % (len(data), pf["bytes"], want)
        )
    if hashlib.sha256(data).hexdigest() != pf["sha256"]:
        raise InvalidError("the proof's SHA-256 is not the one the file states (the proof was altered)")
    return data


def _statement(ps: ProfileSet, G: Any, Cs: Sequence[int], Ss: Sequence[int], values: Sequence[int]) -> List[int]:
    """Y_k = prod C^w [* prod S * C^(-2p) * g^|p|^2] * g^-v_k for every score, in proof order."""
    from . import fastexp

    p = G.p
    S_all = 1
    for S in Ss:
        S_all = S_all * S % p
    Ys = []
    cache: Dict[int, int] = {}
    for (what, _, k), v in zip(_labels(ps), values):
        if what == "total":
            acc = linear.weighted_product(Cs, [1] * len(Cs), p)
        else:
            if k not in cache:
                cache[k] = linear.weighted_product(Cs, ps.categories[k][1], p, fastexp.powmod)
            acc = cache[k]
            if what == "distance":
                norm = sum(x * x for x in ps.categories[k][1])
                acc = S_all * pow(acc, -2, p) % p * pow(G.g, norm % G.q, p) % p
        Ys.append(acc * pow(G.ginv, v % G.q, p) % p)
    return Ys


def _member(G: Any, x: int) -> bool:
    """1 < x < p and x^q = 1: a public value, so gmpy2 (fastexp) may check it."""
    from . import fastexp

    return 1 < x < G.p and fastexp.powmod(x, G.q, G.p) == 1


def verify_scores(doc: Any, ps: ProfileSet, meter_pub: Dict[str, Any], progress: Any = None) -> Dict[str, Any]:
    """Check a score file against the signed profile set and the meter key. Returns the report
    (the scores); InvalidError for anything that does not verify, VeriwattError when malformed.
    Order: fields and encodings, meter / period / profile set, bounds, completeness and
    every signature, proof length and digest, every element's membership, the proof."""
    from .bill import parse_entries
    from .zk import ProofError
    from .zk.encoding import Reader
    from .zk.groups import view

    t0 = time.perf_counter()
    G = view(_keys.group_of(meter_pub))
    _check_doc(doc, ps, meter_pub, G)
    values = _claimed(doc, ps)
    entries = parse_entries(doc, _keys.group_of(meter_pub), ps.n)
    probs = _verify.check_period(entries, ps.start, ps.end, None)
    if not probs:
        probs = _verify.check_period(entries, ps.start, ps.end, Checker.from_pub(meter_pub))
    if probs:
        raise InvalidError(_verify.summary(probs))
    Cs = [c for _, c, _, _ in entries]
    for t, C in zip(range(ps.start, ps.end), Cs):
        if not _member(G, C):
            raise InvalidError("slot %d: the commitment is not in the order-q subgroup" % t)
    R = Reader(G, KIND_SCORES, _proof_bytes(doc, G, ps.n, len(values)))
    try:
        Ss = [int.from_bytes(R.take(G.plen), "big") for _ in range(ps.n)]
        for t, S in zip(range(ps.start, ps.end), Ss):
            if not _member(G, S):
                raise ProofError("the square commitment of slot %d is not in the order-q subgroup" % t)
        tr = _transcript(G, ps, doc["meter_id"], doc["consent"], Cs, Ss, values)
        from .zk import product

        product.Squares.verify(G, tr, Cs, Ss, _statement(ps, G, Cs, Ss, values), R, progress)
        R.done()
    except ProofError as e:
        raise InvalidError(
            "the score proof does not verify (%s): a score or the proof was changed, or it was "
            "made for another meter, period, profile set or consent" % e
        )
    rep: Dict[str, Any] = {
        "valid": True,
        "kind": ps.kind,
        "meter_id": doc["meter_id"],
        "period": {"start_slot": ps.start, "end_slot": ps.end},
        "profiles": ps.digest,
        "consent": doc["consent"]["given"],
        "scores": doc["scores"],
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if ps.kind == "profiles":
        rep["total"] = doc["total"]
        rep["nearest"] = min(doc["scores"], key=lambda s: s["distance"])["category"]
    return rep
