# SPDX-License-Identifier: MIT
"""The customer's page: decrypt a month of certified readings and compute the bill, in the browser.

Runs under the official MicroPython WebAssembly build (npm @micropython/micropython-webassembly-
pyscript) with the SAME vwcore modules the meter runs (aead, kdf, reading, wire, group, sig;
vwcore.modexp falls back to the builtin 3-argument pow there). Also plain CPython (the tests
compare it with the host package). Nothing here sends anything: the page's JavaScript hands in
the text the service served and gets back the bill (no reading, no opening, no key in it).

    unlock(code, meter_id_hex)  -> access token (hex) for the service; keeps the customer key here
    bill_json(request_json)     -> {"ok", "bill", "readings", "prices", "bands", "checked"} as JSON
                                   text (readings for the chart stay in the page), or {"ok": false,
                                   "error": a one-line message for the person at the keyboard}

Every opening is checked against its signed commitment in one batch (random 32-bit weights
a_t from the browser's CSPRNG: prod C_t^a_t == g^sum(a_t m_t) h^sum(a_t r_t) mod p, a forged
opening passes with probability about 2^-32, then slot by slot to name the culprit), the
AEAD tag of every record (HMAC-SHA256, vwcore.aead), the period's completeness, and a sample
of the meter's signatures (the supplier checks all of them). The access token is
HKDF-SHA256 (RFC 5869) of the customer key with its own label (veriwatt.webaccess on the host).
"""

import json

try:
    import binascii
except ImportError:  # pragma: no cover
    import ubinascii as binascii

from vwcore import aead as _aead
from vwcore import group as _group
from vwcore import kdf as _kdf
from vwcore import reading as _reading
from vwcore import sig as _sig
from vwcore import wire as _wire

ACCESS_LABEL = b"veriwatt/web-access/v1"
BILL_FORMAT = "veriwatt-bill/1"
SIG_SAMPLE = 6  # meter signatures the page checks itself (each costs two 2048-bit pows)

_state = {}


class PageError(ValueError):
    pass


def access_token(customer_key, meter_id):
    """HKDF-SHA256(ikm = customer key, salt = ACCESS_LABEL, info = ACCESS_LABEL || " token" ||
    meter id, 32 bytes): what the page shows the service to download the meter's records.
    The service stores only SHA-256 of it (the verifier published at provisioning)."""
    return _kdf.hkdf(customer_key, ACCESS_LABEL + b" token" + bytes(meter_id), 32, ACCESS_LABEL)


def unlock(code, meter_id_hex):
    try:
        key = _aead.parse_customer_code(code)
    except ValueError as e:
        why = str(e)
        raise PageError("%s%s; it is the 25-character code on the meter label" % (why[:1].upper(), why[1:]))
    mid = binascii.unhexlify(meter_id_hex)
    if len(mid) != _wire.METER_ID_LEN:
        raise PageError("meter id must be 16 hex digits")
    _state.clear()
    _state["aead"] = _aead.AEAD(key)
    _state["meter_id"] = mid
    return binascii.hexlify(access_token(key, mid)).decode()


def forget():
    _state.clear()


# ---------------------------------------------------------------- civil time (no zoneinfo here)
def civil(days):
    """(year, month, day) of a day number since 1970-01-01 (H. Hinnant's days_from_civil inverse)."""
    z = days + 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + 1 if m <= 2 else y, m, d)


def iso(t):
    """Slot t's start as YYYY-MM-DDTHH:MM:SSZ (the bill's period.start/end)."""
    return iso_secs(t * 1800)


def iso_secs(secs):
    y, m, d = civil(secs // 86400)
    r = secs % 86400
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (y, m, d, r // 3600, r % 3600 // 60, r % 60)


# ---------------------------------------------------------------- the tariff (docs/TARIFF.md)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_SETS = {"all": (0, 1, 2, 3, 4, 5, 6), "weekday": (0, 1, 2, 3, 4), "weekend": (5, 6)}


def _hhmm(s):
    return int(s[:2]) * 60 + int(s[3:])


def _days(d):
    if d is None:
        return DAY_SETS["all"]
    if isinstance(d, str):
        return DAY_SETS[d] if d in DAY_SETS else (DAYS.index(d),)
    return tuple(DAYS.index(x) for x in d)


def _band_match(b, wd, minute):
    if wd not in _days(b.get("days")):
        return False
    st = _hhmm(b["start"])
    en = _hhmm(b["end"])
    en = en % 1440 if en != 1440 else 1440
    if st < en:
        return st <= minute < en
    return minute >= st or minute < en


def price_band(body, local_secs):
    """(price, band name) of the slot starting at local time local_secs (seconds since the
    local epoch, i.e. UTC seconds + the zone's offset then), as veriwatt.tariff.Tariff.band."""
    days = local_secs // 86400
    y, m, d = civil(days)
    date = "%04d-%02d-%02d" % (y, m, d)
    wd = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    minute = local_secs % 86400 // 60
    default = body.get("default_price")
    for s in body["seasons"]:
        a, b = s.get("from"), s.get("to")
        if (a is None or a <= date) and (b is None or date < b):
            for j, band in enumerate(s.get("bands", [])):
                if _band_match(band, wd, minute):
                    return band["price"], str(band.get("name", "band%d" % j))
            dp = s.get("default_price", default)
            if dp is None:
                raise PageError("the tariff has no price for %s (no band and no default)" % date)
            return dp, "default"
    raise PageError("the tariff does not cover %s" % date)


def amount(body, total):
    """The bill's display amount (docs/FORMATS.md, `amount`)."""
    div = body.get("divisor", 1)
    cur = str(body.get("currency", ""))
    if div == 1:
        return ("%d %s" % (total, cur)).strip()
    cents = (abs(total) * 100 + div // 2) // div
    return ("%s%d.%02d %s" % ("-" if total < 0 else "", cents // 100, cents % 100, cur)).strip()


def _jstr(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "\n\r\t\b\f":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}[ch])
        elif o < 0x20 or o > 0x7E:
            if o > 0xFFFF:
                o -= 0x10000
                out.append("\\u%04x\\u%04x" % (0xD800 + (o >> 10), 0xDC00 + (o & 0x3FF)))
            else:
                out.append("\\u%04x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def canonical(o):
    """veriwatt.tariff.canonical: sorted keys, no spaces, ASCII escapes, integers only."""
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if isinstance(o, int):
        return "%d" % o
    if isinstance(o, str):
        return _jstr(o)
    if isinstance(o, list):
        return "[" + ",".join(canonical(x) for x in o) + "]"
    if isinstance(o, dict):
        return "{" + ",".join(_jstr(k) + ":" + canonical(o[k]) for k in sorted(o)) + "}"
    raise PageError("the tariff holds a value that is not an integer, string, list or object")


def tariff_digest(body):
    return "sha256:" + binascii.hexlify(_kdf.sha256(canonical(body).encode())).decode()


def _unhex(s, what):
    if not isinstance(s, str) or not s or s != s.lower() or (len(s) > 1 and s[0] == "0"):
        raise PageError("%s is not in its canonical hex encoding" % what)
    try:
        return int(s, 16)
    except ValueError:
        raise PageError("%s is not hexadecimal" % what)


def check_tariff(signed, supplier_pub):
    """The tariff body after checking its digest and the supplier's Schnorr signature
    (veriwatt.tariff.verify_signature) under the supplier key the service published."""
    G = _group.get(supplier_pub["group"])
    body = signed["tariff"]
    d = tariff_digest(body)
    if signed.get("digest", d) != d:
        raise PageError("the tariff's digest does not match its contents: it was changed after signing")
    sg = signed["signature"]
    if sg.get("key_id") != supplier_pub.get("key_id") or len(sg.get("sig", "")) != 128:
        raise PageError("the tariff is not signed by the supplier's published key")
    e, s = int(sg["sig"][:64], 16), int(sg["sig"][64:], 16)
    y = _unhex(supplier_pub["y"], "the supplier key")
    if not (e < G.q and s < G.q and _sig.verify(y, b"veriwatt-tariff/1\x00" + d.encode(), (e, s), G)):
        raise PageError("the supplier's signature on the tariff does not verify: the tariff was changed")
    return body, d


# ---------------------------------------------------------------- records
def split_records(records_hex, G):
    """The records' bytes from one hex string (the page joins the service's base64 records as
    hex: bytes.fromhex is C code, this port's base64 decoder is not)."""
    n = 2 * _wire.record_len(G.id)
    if len(records_hex) % n:
        raise PageError("the service sent damaged records (their total length is not a whole number of records)")
    try:
        raw = bytes.fromhex(records_hex)
    except ValueError:
        raise PageError("the service sent damaged records (not hexadecimal)")
    n //= 2
    return [raw[i : i + n] for i in range(0, len(raw), n)]


def decode_records(raws, mid, start, end, G):
    """Records of [start, end), one per slot, in order, of this meter and group."""
    if len(raws) != end - start:
        raise PageError(
            "the service sent %d records for a period of %d half-hours: readings are missing "
            "or were added (the meter's data is incomplete or was altered)" % (len(raws), end - start)
        )
    recs = []
    for i, b in enumerate(raws):
        try:
            rec = _wire.decode_record(b)
        except ValueError as e:
            raise PageError("record %d is malformed (%s): the service sent damaged data" % (i, e))
        if rec.slot != start + i:
            raise PageError(
                "the record for half-hour %s is missing or out of order (the service sent slot %d): "
                "the data was altered" % (iso(start + i), rec.slot)
            )
        if rec.meter_id != mid or rec.group_id != G.id:
            raise PageError("the record for %s is from another meter: the data was altered" % iso(rec.slot))
        if not 1 < rec.C < G.p:
            raise PageError("the record for %s has a commitment out of range: the data was altered" % iso(rec.slot))
        recs.append(rec)
    return recs


def open_records(recs, a):
    """(m, r) of every record; AEAD tag first (vwcore.aead: wrong code or altered data)."""
    out = []
    for n, rec in enumerate(recs):
        try:
            pt = a.decrypt(
                _aead.record_nonce(rec.meter_id, rec.slot),
                rec.ct,
                _reading.record_ad(rec.group_id, rec.meter_id, rec.slot),
            )
        except ValueError:
            if n == 0:
                raise PageError(
                    "this code does not open the meter's readings: check the code on the meter label "
                    "(wrong code, or another meter's)"
                )
            raise PageError(
                "the reading for %s does not decrypt although earlier ones do: the record was altered" % iso(rec.slot)
            )
        m = int.from_bytes(pt[:4], "big")
        r = int.from_bytes(pt[4:], "big")
        if m > _reading.MAX_READING:
            raise PageError("the reading for %s is above %d Wh: meter fault" % (iso(rec.slot), _reading.MAX_READING))
        out.append((m, r))
    return out


def multi_pow(bases, exps, p, bits=32, c=8):
    """prod bases[i]^exps[i] mod p for exponents below 2^bits: Pippenger's bucket method
    (windows of c bits; public values only, so variable time is fine)."""
    acc = 1
    mask = (1 << c) - 1
    for w in range((bits + c - 1) // c - 1, -1, -1):
        for _ in range(c):
            acc = acc * acc % p
        buckets = [1] * (mask + 1)
        sh = w * c
        for b, e in zip(bases, exps):
            d = (e >> sh) & mask
            if d:
                buckets[d] = buckets[d] * b % p
        run = 1
        tot = 1
        for d in range(mask, 0, -1):
            run = run * buckets[d] % p
            tot = tot * run % p
        acc = acc * tot % p
    return acc


def check_openings(recs, ops, G, seed):
    """The batch check of every opening against its commitment (weights from `seed`, 32 bytes
    from the browser's CSPRNG); on failure slot by slot, naming the first bad one."""
    ws = _kdf.derive_bytes(seed, b"veriwatt/page/batch", 4 * len(recs))
    a = [int.from_bytes(ws[4 * i : 4 * i + 4], "big") | 1 for i in range(len(recs))]
    sm = sum(x * m for x, (m, _) in zip(a, ops)) % G.q
    sr = sum(x * r for x, (_, r) in zip(a, ops)) % G.q
    if multi_pow([r.C for r in recs], a, G.p) == pow(G.g, sm, G.p) * pow(G.h, sr, G.p) % G.p:
        return
    for rec, (m, r) in zip(recs, ops):
        if pow(G.g, m, G.p) * pow(G.h, r, G.p) % G.p != rec.C:
            raise PageError("the commitment for %s does not match its reading: the record was altered" % iso(rec.slot))
    raise PageError("the readings do not match their commitments: the data was altered")


def check_signatures(recs, y, G, seed):
    """A sample of the meter's signatures (first, last and random ones); the supplier checks all."""
    idx = {0, len(recs) - 1}
    rb = _kdf.derive_bytes(seed, b"veriwatt/page/sample", 4 * SIG_SAMPLE)
    for i in range(SIG_SAMPLE):
        idx.add(int.from_bytes(rb[4 * i : 4 * i + 4], "big") % len(recs))
    for i in sorted(idx):
        rec = recs[i]
        if not _sig.verify(y, _wire.signed_bytes(rec.meter_id, rec.slot, rec.C, G.id), (rec.e, rec.s), G):
            raise PageError(
                "the meter's signature on the reading for %s does not verify: the record was altered" % iso(rec.slot)
            )
    return len(idx)


def _slot_prices(body, start, end, offsets):
    if len(offsets) != end - start:
        raise PageError("internal: one time-zone offset per slot expected")
    pb = [price_band(body, (start + i) * 1800 + offsets[i] * 60) for i in range(end - start)]
    return [p for p, _ in pb], [n for _, n in pb]


def make_bill(req, records_hex):
    """The bill (docs/FORMATS.md, kind "tariff") and what the page shows, from the service's
    month (`req`: meter, supplier key, signed tariff, period, records) and the browser's
    inputs (time-zone offsets per slot, a random seed, the time now)."""
    if "aead" not in _state:
        raise PageError("type the customer code first")
    mp = req["meter"]
    G = _group.get(mp["group"])
    mid = _state["meter_id"]
    if mp["meter_id"] != binascii.hexlify(mid).decode():
        raise PageError("the service sent the key of another meter")
    start, end = req["start_slot"], req["end_slot"]
    body, digest = check_tariff(req["tariff"], req["supplier_key"])
    if body.get("kind", "tariff") != "tariff":
        raise PageError(
            "the page bills time-of-use tariffs (kind \"tariff\"); this tariff is of kind %s" % body.get("kind")
        )
    seed = binascii.unhexlify(req["seed"])
    raws = split_records(records_hex, G)
    recs = decode_records(raws, mid, start, end, G)
    ops = open_records(recs, _state["aead"])
    check_openings(recs, ops, G, seed)
    nsig = check_signatures(recs, _unhex(mp["y"], "the meter key"), G, seed)
    prices, bands = _slot_prices(body, start, end, req["offsets"])
    total = sum(w * m for w, (m, _) in zip(prices, ops))
    R = sum(w * r for w, (_, r) in zip(prices, ops)) % G.q
    bill = {
        "format": BILL_FORMAT,
        "kind": "tariff",
        "meter_id": mp["meter_id"],
        "meter_key_id": mp["key_id"],
        "group": G.name,
        "period": {"start_slot": start, "end_slot": end, "slots": end - start, "start": iso(start), "end": iso(end)},
        "tariff": {
            "digest": digest,
            "name": str(body.get("name", "")),
            "supplier": str(body.get("supplier", "")),
            "kind": body.get("kind", "tariff"),
        },
        "total": total,
        "amount": amount(body, total),
        "proof": {"R": "%064x" % R},
        "created": iso_secs(req["now"]),
    }
    return {
        "bill": bill,
        "raws": raws,
        "readings": [m for m, _ in ops],
        "prices": prices,
        "bands": bands,
        "checked": {"records": len(recs), "openings": len(recs), "signatures_sampled": nsig, "tariff_digest": digest},
    }


def bill_text(bill, raws, start, G):
    """The bill as JSON text. The commitments are written from the records' bytes (C minimal
    lowercase hex, sig = e || s as 128 hex digits: wire.encode_record's big-endian fields) and
    joined directly: this port's json.dumps and big-integer formatting take seconds for a month."""
    head = json.dumps(bill)
    o = 14  # wire: the record's head (format, group, meter id, slot)
    pl = G.plen
    cs = ",".join(
        '{"slot": %d, "C": "%s", "sig": "%s"}'
        % (start + i, raw[o : o + pl].hex().lstrip("0"), raw[o + pl : o + pl + 64].hex())
        for i, raw in enumerate(raws)
    )
    return head[:-1] + ', "commitments": [' + cs + "]}"


def bill_json(req_text, records_hex):
    """make_bill on the JSON text the page assembled (the service's month without its records)
    and the records as one hex string (passed apart: this port parses long JSON strings slowly);
    returns {"ok": true, "bill": {...}, ...}
    or {"ok": false, "error": one line} as JSON text (the page shows the error as it is)."""
    try:
        out = make_bill(json.loads(req_text), records_hex)
    except PageError as e:
        return json.dumps({"ok": False, "error": str(e)})
    except (KeyError, TypeError, ValueError, IndexError) as e:
        return json.dumps(
            {"ok": False, "error": "the service sent data the page cannot use (%s: %s)" % (type(e).__name__, e)}
        )
    b = out.pop("bill")
    text = bill_text(b, out.pop("raws"), b["period"]["start_slot"], _group.get(b["group"]))
    out["ok"] = True
    return json.dumps(out)[:-1] + ', "bill": ' + text + "}"


def unlock_json(code, meter_id_hex):
    try:
        return json.dumps({"ok": True, "token": unlock(code, meter_id_hex)})
    except PageError as e:
        return json.dumps({"ok": False, "error": str(e)})
    except ValueError:
        return json.dumps({"ok": False, "error": "meter id must be 16 hex digits"})
