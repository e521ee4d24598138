"""The meter on MicroPython's real stm32 port (emulation board VERIWATT_NETDUINO_PLUS_2 under
qemu-system-arm -M netduinoplus2, `make stm32`) as ONE member of an aggregation group with
two unix simulated meters (groups have at least 3 members): provision all three, fetch and
open their readings (the plaintext to check against), enroll the group over serial with
each member's customer code (`veriwatt aggregate enroll --codes`), collect a few slots
(exact count, sum and sum of squares), then the stm32 meter leaves and the two others still
give the sums without it. Modelled on tests/aggregation/test_agg_qemu.py."""
from __future__ import annotations

import json
import time

import pytest

from stm32_sim import Stm32Board
from veriwatt import cli, device, records, serial_client, slots
from vwcore import wire

pytestmark = [pytest.mark.stm32, pytest.mark.aggregation, pytest.mark.qemu, pytest.mark.sim,
              pytest.mark.slow]

A = slots.month_range("2026-12")[0]


def test_stm32_meter_in_an_aggregation_group(tmp_path, capsys):
    (tmp_path / "board").mkdir()
    with Stm32Board(tmp_path / "board") as b:
        b.install_meter(speed=18000, seed=5)          # 10 slots per real second
        assert "ready (stm32, unprovisioned" in b.wait_ready()
        b.release_line()
        sim = device.start_sim(2, str(tmp_path / "sim"), 90000, "none")
        try:
            ports = [b.line] + [m.port for m in sim.meters]
            prov = []
            for i, port in enumerate(ports):
                with serial_client.MeterLink(port, timeout=20, retries=4) as link:
                    prov.append(device.provision(link, b"AGGSTM%02d" % i, str(tmp_path),
                                                 (A - 2) * 1800, name="m%d" % i))
            n = 4
            plain = {}
            deadline = time.monotonic() + 240
            for i, port in enumerate(ports):
                with serial_client.MeterLink(port, timeout=20, retries=4) as link:
                    while link.hello()["last_slot"] == wire.NO_SLOT or link.info["last_slot"] < A + n + 2:
                        assert time.monotonic() < deadline, "meter %d too slow" % i
                        time.sleep(0.5)
                    recs, _ = link.fetch_batch(A, n + 2)
                    recs = [records.decode(r) for r in recs]
                    assert [r.slot for r in recs] == list(range(A, A + n + 2))
                    plain[prov[i]["meter_id"]] = [m for m, _ in records.open_all(recs, prov[i]["customer_key"])]
            g = str(tmp_path / "group.json")
            codes = tmp_path / "codes.json"
            codes.write_text(json.dumps({p["meter_id"]: p["customer_code"] for p in prov}))
            assert cli.main(["aggregate", "enroll", *ports, "--codes", str(codes), "--label", "stm32+sim",
                             "--out", g, "--timeout", "30"]) == 0
            out = str(tmp_path / "agg.json")
            assert cli.main(["aggregate", "collect", *ports, "--group", g, "--from-slot", str(A),
                             "--to-slot", str(A + n), "--out", out, "--timeout", "30"]) == 0
            r = json.load(open(out))
            assert len(r["slots"]) == n
            for k, s in enumerate(r["slots"]):
                v = [plain[m][k] for m in sorted(plain)]
                assert (s["count"], s["sum_wh"], s["sum_sq"]) == (3, sum(v), sum(x * x for x in v))
            # the stm32 meter leaves: the two simulated meters still give exact sums without it
            assert cli.main(["aggregate", "collect", *ports[1:], "--group", g, "--from-slot", str(A + n),
                             "--to-slot", str(A + n + 2), "--out", out]) == 0
            r = json.load(open(out))
            assert len(r["slots"]) == 2
            for k, s in enumerate(r["slots"]):
                v = [plain[p["meter_id"]][n + k] for p in prov[1:]]
                assert (s["count"], s["sum_wh"], s["missing"]) == (2, sum(v), [prov[0]["meter_id"]])
        finally:
            sim.stop()
            capsys.readouterr()
