# SPDX-License-Identifier: MIT
"""An aggregation group of one emulated board meter and simulated meters, run end to end over
serial (shared by tests/aggregation/test_agg_qemu.py and tests/stm32/test_stm32_agg.py):
provision every meter, fetch and open its readings (the plaintext the sums are checked
against), enroll with the customers' codes, collect exact sums, and collect without the
first meter once it left."""

from __future__ import annotations

import json
import time
from pathlib import Path

from veriwatt import cli, device, records, serial_client
from vwcore import wire


def provision_and_open(ports, tmp_path: Path, prefix: bytes, first: int, n: int, retries: int, wait_s: float):
    """Provision the meters on `ports` (ids prefix + 00, 01, ...); wait until each closed slot
    first + n + 1 and open slots [first, first + n + 2). Returns (provisioning results,
    {meter id: [Wh per slot]})."""
    prov = []
    for i, port in enumerate(ports):
        with serial_client.MeterLink(port, timeout=20, retries=retries) as link:
            prov.append(device.provision(link, prefix + b"%02d" % i, str(tmp_path), (first - 2) * 1800, name="m%d" % i))
    plain = {}
    deadline = time.monotonic() + wait_s
    for i, port in enumerate(ports):
        with serial_client.MeterLink(port, timeout=20, retries=retries) as link:
            while link.hello()["last_slot"] == wire.NO_SLOT or link.info["last_slot"] < first + n + 2:
                assert time.monotonic() < deadline, "meter %d too slow" % i
                time.sleep(0.5)
            recs, _ = link.fetch_batch(first, n + 2)
            recs = [records.decode(r) for r in recs]
            assert [r.slot for r in recs] == list(range(first, first + n + 2))
            plain[prov[i]["meter_id"]] = [m for m, _ in records.open_all(recs, prov[i]["customer_key"])]
    return prov, plain


def enroll_and_collect(ports, prov, plain, tmp_path: Path, label: str, first: int, n: int, timeout: int):
    """`aggregate enroll` (with the customers' codes) and `aggregate collect` of slots
    [first, first + n): exact count, sum and sum of squares. Returns (group file, result file)."""
    g = str(tmp_path / "group.json")
    codes = tmp_path / "codes.json"
    codes.write_text(json.dumps({p["meter_id"]: p["customer_code"] for p in prov}))
    assert (
        cli.main(
            [
                "aggregate",
                "enroll",
                *ports,
                "--codes",
                str(codes),
                "--label",
                label,
                "--out",
                g,
                "--timeout",
                str(timeout),
            ]
        )
        == 0
    )
    out = str(tmp_path / "agg.json")
    assert (
        cli.main(
            [
                "aggregate",
                "collect",
                *ports,
                "--group",
                g,
                "--from-slot",
                str(first),
                "--to-slot",
                str(first + n),
                "--out",
                out,
                "--timeout",
                str(timeout),
            ]
        )
        == 0
    )
    r = json.load(open(out))
    assert len(r["slots"]) == n
    for k, s in enumerate(r["slots"]):
        v = [plain[m][k] for m in sorted(plain)]
        assert (s["count"], s["sum_wh"], s["sum_sq"]) == (len(ports), sum(v), sum(x * x for x in v))
    return g, out


def collect_without_first(ports, prov, plain, g: str, out: str, first: int, n: int) -> None:
    """The first meter left: the others still give exact sums of slots [first + n, first + n + 2)
    (slots not fetched before: a meter releases one value per slot), naming it missing."""
    assert (
        cli.main(
            [
                "aggregate",
                "collect",
                *ports[1:],
                "--group",
                g,
                "--from-slot",
                str(first + n),
                "--to-slot",
                str(first + n + 2),
                "--out",
                out,
            ]
        )
        == 0
    )
    r = json.load(open(out))
    assert len(r["slots"]) == 2
    for k, s in enumerate(r["slots"]):
        v = [plain[p["meter_id"]][n + k] for p in prov[1:]]
        assert (s["count"], s["sum_wh"], s["missing"]) == (len(ports) - 1, sum(v), [prov[0]["meter_id"]])
