# SPDX-License-Identifier: MIT
"""The page prices slots as the host does, across seasons and daylight-saving changes: the
browser's time-zone offsets (web/static/tz.js, run in Node's Intl) equal zoneinfo's, and the
page's band rule (vwpage.price_band, plain Python: run here in CPython) equals
veriwatt.tariff.Tariff.band for every slot of a year."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from webhelpers import ROOT, need_node, offsets

from veriwatt import slots, tariff

pytestmark = pytest.mark.web
YEAR = (
    slots.month_range("2026-04", "Europe/London")[0],
    slots.month_range("2027-04", "Europe/London")[0],
)  # the example's seasons


def page_module():
    sys.path.insert(0, str(ROOT / "web" / "static"))
    import vwpage

    return vwpage


@pytest.mark.parametrize("tz", ["Europe/London", "America/New_York", "Australia/Lord_Howe"])
def test_browser_offsets_equal_zoneinfo(tz):
    need_node()
    a, b = YEAR
    js = "import { offsets } from %s; process.stdout.write(JSON.stringify(offsets(%s, %d, %d)));" % (
        json.dumps(str(ROOT / "web" / "static" / "tz.js")),
        json.dumps(tz),
        a,
        b,
    )
    p = subprocess.run(["node", "--input-type=module", "-e", js], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == offsets(tz, a, b)


@pytest.mark.parametrize("kind", ["tariff", "index"])
def test_page_prices_equal_host_prices_for_a_year(kind):
    vp = page_module()
    body = tariff.example(kind)
    t = tariff.Tariff(body)
    a, b = YEAR
    offs = offsets(t.tzname, a, b)
    for i, slot in enumerate(range(a, b)):
        price, name = vp.price_band(body, slot * 1800 + offs[i] * 60)
        band = t.band(slot)
        assert (price, name) == (band.price, band.name), slots.slot_start(slot)
    assert vp.amount(body, 10443093) == t.amount(10443093) and vp.amount(body, -5) == t.amount(-5)
    assert vp.tariff_digest(body) == t.digest()
    if kind == "tariff":  # outside every season: refused, as on the host
        with pytest.raises(vp.PageError, match="does not cover 2027-04-01"):
            vp.price_band(body, b * 1800 + offs[-1] * 60)
