# SPDX-License-Identifier: MIT
"""Synthetic populations of meters for benchmarks and scale tests (`veriwatt population`).

`generate(out, meters=N, month="2026-12")` makes N synthetic meters with real keys and their
certified month, computed on the host: every record is byte for byte what vwcore.reading.certify
(the meter's own code) returns for the same keys, slot and reading (tests compare them), only
faster, because the exponentiations go through gmpy2 fixed-base tables (veriwatt.fastexp)
instead of the meter's constant-time code. Variable time is acceptable ONLY because these
meters and their secrets are synthetic: never use this module to certify real readings.

Besides the records it makes a supplier key, a signed time-of-use tariff (the example tariff,
whose `cycle` is the calendar month, docs/TARIFF.md) and each meter's bill under it
(veriwatt.bill.make_bill, the customer's code). Layout of OUT (docs/FORMATS.md,
"population"):

    population.json               manifest: format, month, period, meters, tariff digest, timing
    supplier.key.json (0600)      the supplier's secret key (signed the tariff)
    supplier.pub.json             its public key
    tariff.json                   the signed tariff
    meters/<meter_id>.pub.json    each meter's public key
    records/<meter_id>.rec        the certified month: wire records (vwcore.wire) back to back
    bills/<meter_id>.bill.json    the meter's bill (veriwatt-bill/1)

The meters' own secrets (signing secret, customer key) are derived from a seed and not written;
the same seed gives the same population (except bill `created` times).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import multiprocessing
import os
import random
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from vwcore import aead as _aead
from vwcore import group as _group
from vwcore import kdf, reading, wire
from vwcore import sig as _sig

from . import bill as _bill
from . import fastexp, jsonio, keys, slots, tariff
from .errors import VeriwattError

FORMAT = "veriwatt-population/1"
MAX_METERS = 1_000_000
SEED_LABEL = b"veriwatt/population/v1"
Opening = Tuple[int, int]


class FastCertifier:
    """vwcore.reading.certify for one synthetic meter, with gmpy2 fixed-base tables for g and h
    (public tables, variable-time arithmetic on the synthetic secrets: test data only)."""

    def __init__(self, mk: reading.MeterKeys, tables: "Tables") -> None:
        self.mk = mk
        self.t = tables
        self._kr = hmac.new(mk._k_r, digestmod="sha256")
        self.last_R = 0

    def _r_for(self, slot: int) -> int:
        """mk.r_for(slot) (kdf.derive) with CPython's hmac (RFC 2104, same result)."""
        enc = kdf.encode_parts(reading.R_LABEL, self.mk.meter_id, slot.to_bytes(4, "big"))
        h1, h2 = self._kr.copy(), self._kr.copy()
        h1.update(b"\x00\x00\x00\x01" + enc)
        h2.update(b"\x00\x00\x00\x02" + enc)
        return int.from_bytes(h1.digest() + h2.digest(), "big") % self.mk.grp.q

    def certify(self, slot: int, m: int) -> Tuple[wire.Record, Opening]:
        """(record, (m, r)) equal to reading.certify(mk, slot, m) and its opening."""
        if not 0 <= m <= reading.MAX_READING or not 0 <= slot < wire.NO_SLOT:
            raise ValueError("reading or slot out of range")
        mk, G, t = self.mk, self.mk.grp, self.t
        r = self._r_for(slot)
        C = int(t.g.pow(m) * t.h.pow(r) % t.g.p)
        msg = wire.signed_bytes(mk.meter_id, slot, C, G.id)
        x = mk.signer.x
        k = rfc6979_nonce(x, hashlib.sha256(msg).digest(), G.q, _sig.DOMAIN)
        R = self.last_R = int(t.g.pow(k))  # the signature's commitment, for the bill's sig_R
        e = _sig._challenge(G, R, mk.y, msg)
        s = (k + e * x) % G.q
        pt = m.to_bytes(4, "big") + r.to_bytes(32, "big")
        ct = mk.aead.encrypt(_aead.record_nonce(mk.meter_id, slot), pt, reading.record_ad(G.id, mk.meter_id, slot))
        return wire.Record(mk.meter_id, slot, C, e, s, ct, G.id), (m, r)


def rfc6979_nonce(x: int, h1: bytes, q: int, extra: bytes = b"") -> int:
    """vwcore.kdf.rfc6979_nonce (RFC 6979 sec. 3.2 with the sec. 3.6 additional data) on CPython's
    C HMAC instead of the meter's pure-Python one: the same nonce (tests compare the records)."""
    qlen = q.bit_length()
    rlen = (qlen + 7) // 8
    xb = x.to_bytes(rlen, "big")
    hb = (kdf._bits2int(h1, qlen) % q).to_bytes(rlen, "big")
    V, K = b"\x01" * 32, b"\x00" * 32
    K = hmac.digest(K, V + b"\x00" + xb + hb + extra, "sha256")
    V = hmac.digest(K, V, "sha256")
    K = hmac.digest(K, V + b"\x01" + xb + hb + extra, "sha256")
    V = hmac.digest(K, V, "sha256")
    while True:
        T = b""
        while len(T) < rlen:
            V = hmac.digest(K, V, "sha256")
            T += V
        k = kdf._bits2int(T, qlen)
        if 1 <= k < q:
            return k
        K = hmac.digest(K, V + b"\x00", "sha256")
        V = hmac.digest(K, V, "sha256")


class Tables:
    """Fixed-base tables for the group's g and h (built once per process)."""

    def __init__(self, G: Any) -> None:
        if not fastexp.available():
            raise VeriwattError("veriwatt population needs gmpy2 (pip install gmpy2)")
        self.g = fastexp.FixedBase(G.g, G.p)
        self.h = fastexp.FixedBase(G.h, G.p)


def meter_secrets(seed: bytes, index: int) -> Tuple[bytes, bytes, bytes]:
    """(meter_id, signing secret, customer key) of synthetic meter `index` (HKDF, RFC 5869)."""
    ib = index.to_bytes(8, "big")
    mid = b"SY" + kdf.hkdf(seed, SEED_LABEL + b" id" + ib, 6)
    return mid, kdf.hkdf(seed, SEED_LABEL + b" sig" + ib, 32), kdf.hkdf(seed, SEED_LABEL + b" customer" + ib, 15)


def readings(seed: bytes, index: int, start: int, end: int) -> List[int]:
    """A plausible household profile in Wh per half hour: base load, morning and evening peaks,
    noise (deterministic per seed and meter). Always in [0, MAX_READING]."""
    rnd = random.Random(hashlib.sha256(SEED_LABEL + seed + index.to_bytes(8, "big")).digest())
    base = rnd.randrange(60, 200)
    out = []
    for t in range(start, end):
        hh = t % 48
        peak = 600 if 34 <= hh < 42 else 250 if 14 <= hh < 18 else 0
        out.append(min(reading.MAX_READING, max(0, base + peak + rnd.randrange(-40, 400))))
    return out


def certify_month(
    seed: bytes, index: int, start: int, end: int, tables: Tables, sig_rs: Optional[List[int]] = None
) -> Tuple[Dict[str, Any], List[wire.Record], List[Opening]]:
    """(meter public key, records, openings) of synthetic meter `index` for [start, end);
    sig_rs (a list) receives each signature's commitment R = g^k (for the bill's sig_R)."""
    mid, sig_secret, ckey = meter_secrets(seed, index)
    mk = reading.MeterKeys(mid, sig_secret, ckey)
    fc = FastCertifier(mk, tables)
    recs, ops = [], []
    for t, m in zip(range(start, end), readings(seed, index, start, end)):
        rec, op = fc.certify(t, m)
        if sig_rs is not None:
            sig_rs.append(fc.last_R)
        recs.append(rec)
        ops.append(op)
    return keys.meter_public(mid, mk.y), recs, ops


# ------------------------------------------------------------------ writing a population
_W: Dict[str, Any] = {}


def _init_worker(
    seed: bytes, out: str, start: int, end: int, signed: Dict[str, Any], supplier_pub: Dict[str, Any]
) -> None:
    _W.update(
        seed=seed,
        out=out,
        start=start,
        end=end,
        tables=Tables(_group.DEFAULT),
        tariff=tariff.parse_signed(signed, supplier_pub),
    )


def _make_meter(index: int) -> str:
    """Certify, bill and write meter `index` (in a worker); returns its meter id."""
    w = _W
    rs: List[int] = []
    pub, recs, ops = certify_month(w["seed"], index, w["start"], w["end"], w["tables"], rs)
    b = _bill.make_bill(recs, ops, w["tariff"], w["start"], w["end"], pub, sig_rs=rs)
    out, mid = Path(w["out"]), pub["meter_id"]
    jsonio.write(str(out / "meters" / (mid + ".pub.json")), pub)
    _write_bytes(out / "records" / (mid + ".rec"), b"".join(wire.encode_record(r) for r in recs))
    jsonio.write(str(out / "bills" / (mid + ".bill.json")), b)
    return mid


def _write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _clear(out: Path) -> None:
    """Remove a previous population's per-meter files (a smaller new one must not inherit them)."""
    for d, pat in (("meters", "*.pub.json"), ("records", "*.rec"), ("bills", "*.bill.json")):
        for f in (out / d).glob(pat):
            f.unlink()
    (out / "population.json").unlink(missing_ok=True)


def _setup(out: Path, seed: bytes, month: str) -> Tuple[Dict[str, Any], Dict[str, Any], Any, int, int]:
    _clear(out)
    for d in ("meters", "records", "bills"):
        (out / d).mkdir(parents=True, exist_ok=True)
    sk = keys.new_supplier_key(secret=kdf.hkdf(seed, SEED_LABEL + b" supplier", 32), name="Synthetic Supplier")
    pub = keys.public(sk)
    signed = tariff.sign(tariff.example(), sk)
    T = tariff.parse_signed(signed, pub)
    cyc = T.cycle
    a, b = slots.month_range(month, cyc.zone_name if cyc.kind == "calendar-month" else T.tzname)
    _bill.check_cycle(T, a, b, VeriwattError)
    jsonio.write(str(out / "supplier.key.json"), sk, private=True)
    jsonio.write(str(out / "supplier.pub.json"), pub)
    jsonio.write(str(out / "tariff.json"), signed)
    return signed, pub, T, a, b


def generate(
    out: str,
    meters: int,
    month: str = "2026-12",
    seed: Optional[bytes] = None,
    workers: int = 1,
    progress: Optional[Callable[[int], None]] = None,
) -> Dict[str, Any]:
    """Write a population of `meters` synthetic meters for `month` into folder `out` (layout in
    the module docstring; a previous population there is replaced); returns the manifest.
    workers: processes (1 = this one)."""
    if not 1 <= meters <= MAX_METERS:
        raise VeriwattError("--meters must be 1..%d" % MAX_METERS)
    if not 1 <= workers <= 64:
        raise VeriwattError("--workers must be 1..64")
    seed = seed if seed is not None else os.urandom(32)
    t0 = time.perf_counter()
    o = Path(out)
    signed, pub, T, a, b = _setup(o, seed, month)
    init = (seed, str(o), a, b, signed, pub)
    ids = list(_run(init, meters, workers, progress))
    manifest = {
        "format": FORMAT,
        "month": month,
        "period": {"start_slot": a, "end_slot": b},
        "meters": meters,
        "tariff_digest": T.digest(),
        "workers": workers,
        "seconds": round(time.perf_counter() - t0, 3),
        "meter_ids": sorted(ids),
    }
    jsonio.write(str(o / "population.json"), manifest)
    return manifest


def _run(init: Tuple[Any, ...], n: int, workers: int, progress: Optional[Callable[[int], None]]) -> Iterator[str]:
    if workers == 1:
        _init_worker(*init)
        for i in range(n):
            yield _make_meter(i)
            if progress:
                progress(1)
        return
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads
    with ctx.Pool(workers, _init_worker, init) as pool:
        for mid in pool.imap_unordered(_make_meter, range(n), chunksize=1):
            if progress:
                progress(1)
            yield mid


# ------------------------------------------------------------------ reading a population
class Population:
    """A population folder: .manifest, .tariff (verified under the folder's supplier key: the
    supplier trusts its own key), .supplier_pub, .bill_paths(), .meter_pub(meter_id)."""

    def __init__(self, folder: str) -> None:
        self.dir = Path(folder)
        self.manifest = jsonio.load(str(self.dir / "population.json"), "population manifest", "population")
        if not isinstance(self.manifest, dict) or self.manifest.get("format") != FORMAT:
            raise VeriwattError("%s is not a population folder (population.json format must be %r)" % (folder, FORMAT))
        self.supplier_pub = keys.load_public(str(self.dir / "supplier.pub.json"), "supplier")
        self.tariff = tariff.load_signed(str(self.dir / "tariff.json"), self.supplier_pub)

    def bill_paths(self) -> List[str]:
        return sorted(str(p) for p in (self.dir / "bills").glob("*.bill.json"))

    def meter_pub(self, meter_id: str) -> Dict[str, Any]:
        return keys.load_public(str(self.dir / "meters" / (meter_id + ".pub.json")), "meter")

    def records(self, meter_id: str) -> List[wire.Record]:
        data = (self.dir / "records" / (meter_id + ".rec")).read_bytes()
        n = wire.record_len(_group.DEFAULT.id)
        if len(data) % n:
            raise VeriwattError("records/%s.rec: not a whole number of %d-byte records" % (meter_id, n))
        return [wire.decode_record(data[i : i + n]) for i in range(0, len(data), n)]


def dumps_manifest(m: Dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in m.items() if k != "meter_ids"}, indent=1, sort_keys=True)


def check_equal_to_meter(seed: bytes, index: int, slots_: Sequence[int], tables: Tables) -> bool:
    """True when FastCertifier gives exactly reading.certify's records for these slots (self-test)."""
    mid, sig_secret, ckey = meter_secrets(seed, index)
    mk = reading.MeterKeys(mid, sig_secret, ckey)
    fc = FastCertifier(mk, tables)
    return all(fc.certify(t, (t * 37) % 3000)[0] == reading.certify(mk, t, (t * 37) % 3000) for t in slots_)
