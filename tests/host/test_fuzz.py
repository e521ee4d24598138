# SPDX-License-Identifier: MIT
"""Property tests: tariff evaluation against a brute-force reading of the rules; malformed bills,
tariffs and keys only ever give VeriwattError (a one-line message), never another exception."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from hosthelpers import WEEK

from veriwatt import bill, keys, records, slots, tariff
from veriwatt.errors import VeriwattError

pytestmark = pytest.mark.host

HH = [("%02d:%02d" % (m // 60, m % 60)) for m in range(0, 24 * 60, 30)]

band = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["a", "b", "c"]),
        "days": st.sampled_from(["all", "weekday", "weekend", ["mon", "sun"], ["sat"]]),
        "start": st.sampled_from(HH),
        "end": st.sampled_from(HH[1:] + ["24:00"]),
        "price": st.integers(0, 100),
    }
)


@settings(max_examples=60, deadline=None)
@given(
    bands=st.lists(band, max_size=4),
    default=st.integers(0, 50),
    offset=st.integers(0, 2000),
    tz=st.sampled_from(["UTC", "Europe/London", "America/New_York"]),
)
def test_band_evaluation_matches_the_rules(bands, default, offset, tz):
    bands = [b for b in bands if b["start"] != b["end"]]
    body = {
        "format": tariff.FORMAT,
        "timezone": tz,
        "seasons": [{"default_price": default, "bands": bands}],
        "cycle": {"kind": "calendar-month", "zone": tz},
    }
    t = tariff.Tariff(body)
    slot = WEEK[0] + offset
    local = slots.slot_start(slot).astimezone(slots.zone(tz))
    minute = local.hour * 60 + local.minute
    day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][local.weekday()]
    expect = default
    for b in bands:
        days = (
            {
                "all": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                "weekday": ["mon", "tue", "wed", "thu", "fri"],
                "weekend": ["sat", "sun"],
            }.get(b["days"], b["days"])
            if isinstance(b["days"], str)
            else b["days"]
        )
        s = int(b["start"][:2]) * 60 + int(b["start"][3:])
        e = int(b["end"][:2]) * 60 + int(b["end"][3:])
        inside = (s <= minute < e) if s < e else (minute >= s or minute < e)
        if day in days and inside:
            expect = b["price"]
            break
    assert t.price(slot) == expect


@pytest.fixture(scope="module")
def day_tariff(supplier):
    """The example with daily cycles for WEEK's first day (a small bill)."""
    from hosthelpers import with_cycle

    from veriwatt import keys

    return tariff.parse_signed(
        tariff.sign(with_cycle(tariff.example(), (WEEK[0], WEEK[0] + 48)), supplier), keys.public(supplier)
    )


@pytest.fixture(scope="module")
def small_bill(meter_a, day_tariff):
    recs = meter_a.records(WEEK[0], WEEK[0] + 48)
    ops = records.open_all(recs, meter_a.customer_key)
    return bill.make_bill(recs, ops, day_tariff, WEEK[0], WEEK[0] + 48, meter_a.pub)


junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.floats(allow_nan=True),
)


def paths(obj, prefix=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield prefix + (k,)
            yield from paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:2]):
            yield prefix + (i,)
            yield from paths(v, prefix + (i,))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mangled_bill_never_crashes(small_bill, day_tariff, meter_a, data):
    b = copy.deepcopy(small_bill)
    ps = list(paths(b))
    for _ in range(data.draw(st.integers(1, 3))):
        p = data.draw(st.sampled_from(ps))
        tgt = b
        try:
            for k in p[:-1]:
                tgt = tgt[k]
            if data.draw(st.booleans()) and isinstance(tgt, dict):
                tgt.pop(p[-1], None)
            else:
                tgt[p[-1]] = data.draw(junk)
        except (KeyError, IndexError, TypeError):
            pass
    try:
        rep = bill.verify_bill(json.loads(json.dumps(b, default=str)), day_tariff, meter_a.pub)
    except VeriwattError:
        return
    assert rep["valid"]  # only changes that do not matter (e.g. `amount`, `created`) may pass


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_mangled_tariff_never_crashes(data):
    body = tariff.example()
    ps = list(paths(body))
    for _ in range(data.draw(st.integers(1, 3))):
        p = data.draw(st.sampled_from(ps))
        tgt = body
        try:
            for k in p[:-1]:
                tgt = tgt[k]
            tgt[p[-1]] = data.draw(junk)
        except (KeyError, IndexError, TypeError):
            pass
    try:
        t = tariff.Tariff(body)
        t.prices(WEEK[0], WEEK[0] + 48)
        tariff.digest(body)
    except VeriwattError:
        pass


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_mangled_meter_key_never_crashes(meter_a, data):
    k = dict(meter_a.pub)
    key = data.draw(st.sampled_from(sorted(k)))
    k[key] = data.draw(junk)
    try:
        keys.check_public(k, "meter", "meter.pub.json")
    except VeriwattError:
        pass
