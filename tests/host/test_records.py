# SPDX-License-Identifier: MIT
"""The host's bulk checks agree with vwcore.reading (the one definition) on every backend."""

from __future__ import annotations

import random

import pytest

from hosthelpers import WEEK

from vwcore import reading, wire

from veriwatt import backend as switch
from veriwatt import fastexp, linear, records

pytestmark = pytest.mark.host


@pytest.fixture(params=["gmpy2", "vwcrypto", "pow"])
def backend(request):
    if request.param == "gmpy2" and switch.GMP is None:
        pytest.skip("gmpy2 not installed")
    switch.use(request.param)
    yield request.param
    switch.use("auto")


def variants(rec):
    """The record and single-field corruptions of it."""
    yield rec, True
    yield wire.Record(rec.meter_id, rec.slot + 1, rec.C, rec.e, rec.s, rec.ct, rec.group_id), False
    yield wire.Record(rec.meter_id, rec.slot, rec.C + 1, rec.e, rec.s, rec.ct, rec.group_id), False
    yield wire.Record(rec.meter_id, rec.slot, rec.C, rec.e ^ 1, rec.s, rec.ct, rec.group_id), False
    yield wire.Record(rec.meter_id, rec.slot, rec.C, rec.e, (rec.s + 1) % (1 << 256), rec.ct, rec.group_id), False
    yield wire.Record(b"OTHERMTR", rec.slot, rec.C, rec.e, rec.s, rec.ct, rec.group_id), False


def test_checker_agrees_with_vwcore(backend, meter_a):
    chk = records.Checker.from_pub(meter_a.pub)
    for t in (WEEK[0], WEEK[0] + 17, WEEK[0] + 200):
        for rec, good in variants(meter_a.record(t)):
            ref = reading.verify_record(rec, meter_a.keys.y, meter_id=meter_a.mid, check_member=False)
            assert ref == good
            assert (chk.problem(rec) is None) == good


def test_backends_agree_on_products(backend):
    from vwcore import group

    G = group.DEFAULT
    rnd = random.Random(4)
    cs = [pow(G.g, rnd.getrandbits(200), G.p) for _ in range(20)]
    ws = [rnd.randrange(-50, 50) for _ in cs]
    ref = 1
    for c, w in zip(cs, ws):
        ref = ref * pow(c, w % G.q, G.p) % G.p
    assert linear.weighted_product(cs, ws, G.p, fastexp.powmod) == ref
    ws2 = [abs(w) for w in ws]
    ref2 = 1
    for c, w in zip(cs, ws2):
        ref2 = ref2 * pow(c, w, G.p) % G.p
    assert fastexp.product(cs, ws2, G.p) == ref2
    a, b = rnd.getrandbits(256) % G.q, rnd.getrandbits(256) % G.q
    assert fastexp.pow2(G.g, a, G.h, b, G.p) == pow(G.g, a, G.p) * pow(G.h, b, G.p) % G.p


def test_open_all_on_every_backend(backend, meter_a):
    recs = meter_a.records(WEEK[0], WEEK[0] + 30)
    ops = records.open_all(recs, meter_a.customer_key)
    assert [m for m, _ in ops] == [meter_a.reading(r.slot) for r in recs]
