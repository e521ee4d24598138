# SPDX-License-Identifier: MIT
"""Tariff format: evaluation of bands, validation, digest and supplier signatures."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from veriwatt import keys, slots, tariff
from veriwatt.errors import InvalidError, VeriwattError

pytestmark = pytest.mark.host


def slot_at(text: str, tz: str = "Europe/London") -> int:
    return slots.slot_of(dt.datetime.fromisoformat(text).replace(tzinfo=slots.zone(tz)))


def test_example_bands():
    t = tariff.Tariff(tariff.example())
    assert t.band(slot_at("2026-12-02T17:00")).name == "peak"  # Wednesday
    assert t.band(slot_at("2026-12-05T17:00")).name == "weekend-day"  # Saturday
    assert t.band(slot_at("2026-12-02T23:30")).name == "night"  # wraps past midnight
    assert t.band(slot_at("2026-12-03T06:30")).name == "night"
    assert t.band(slot_at("2026-12-03T07:00")).name == "default"
    assert t.price(slot_at("2026-07-01T03:00")) == 12  # summer season
    assert t.price(slot_at("2026-07-01T12:00")) == 24


def test_month_lengths_follow_the_time_zone():
    a, b = slots.month_range("2026-12", "Europe/London")
    assert b - a == 1488
    a, b = slots.month_range("2026-10", "Europe/London")
    assert b - a == 1490  # the clocks go back: one more hour
    a, b = slots.month_range("2026-02", "UTC")
    assert b - a == 28 * 48


def test_uncovered_date_is_an_error():
    t = tariff.Tariff(tariff.example())
    with pytest.raises(VeriwattError, match="does not cover"):
        t.price(slot_at("2030-01-01T00:00"))


@pytest.mark.parametrize(
    "mutate, msg",
    [
        (lambda b: b["seasons"][0]["bands"][0].__setitem__("price", 12.5), "integer"),
        (lambda b: b["seasons"][0]["bands"][0].__setitem__("start", "07:15"), "half-hour"),
        (lambda b: b["seasons"][0]["bands"][0].__setitem__("price", -3), "negative"),
        (lambda b: b["seasons"][0]["bands"][0].__setitem__("days", ["funday"]), "unknown day"),
        (lambda b: b.__setitem__("format", "nope"), "format"),
        (lambda b: b.__setitem__("seasons", []), "seasons"),
        (lambda b: b.__setitem__("timezone", "Mars/Olympus"), "time zone"),
        (lambda b: b["seasons"][0].__setitem__("to", "2026-01-01"), "after"),
    ],
)
def test_validation_messages(mutate, msg):
    body = tariff.example()
    mutate(body)
    with pytest.raises(VeriwattError, match=msg):
        tariff.Tariff(body)
        tariff.digest(body)


def test_index_may_be_negative():
    t = tariff.Tariff(tariff.example("index"))
    prices = set(t.prices(*slots.month_range("2026-12", "Europe/London")))
    assert min(prices) < 0


def test_digest_is_canonical():
    body = tariff.example()
    shuffled = dict(reversed(list(body.items())))
    assert tariff.digest(body) == tariff.digest(shuffled)
    body2 = copy.deepcopy(body)
    body2["seasons"][1]["bands"][1]["price"] += 1
    assert tariff.digest(body) != tariff.digest(body2)


def test_sign_and_verify(signed_tariff, supplier):
    pub = keys.public(supplier)
    t = tariff.parse_signed(signed_tariff, pub)
    assert t.digest() == signed_tariff["digest"]


def test_changed_tariff_is_rejected(signed_tariff, supplier):
    bad = copy.deepcopy(signed_tariff)
    bad["tariff"]["seasons"][1]["bands"][1]["price"] = 1
    with pytest.raises(InvalidError, match="changed after signing"):
        tariff.parse_signed(bad, keys.public(supplier))
    bad.pop("digest")
    with pytest.raises(InvalidError, match="does not verify"):
        tariff.parse_signed(bad, keys.public(supplier))


def test_other_supplier_key_is_rejected(signed_tariff):
    other = keys.public(keys.new_supplier_key(secret=b"\x06" * 32))
    with pytest.raises(InvalidError, match="signed by key"):
        tariff.parse_signed(signed_tariff, other)


def test_amount_formatting():
    t = tariff.Tariff(tariff.example())
    assert t.amount(8412345) == "84.12 GBP"
    assert t.amount(-150000) == "-1.50 GBP"
