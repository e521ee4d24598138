"""Aggregation with a meter on the QEMU Cortex-M4 board and two unix simulated meters in the
same group: enroll over serial, collect a few slots, exact sums against the plaintext readings,
recovery without the QEMU meter; then a 50-member group (47 virtual members computed here).
Two firmware variants: "vwcrypto" (vwcore + vwmeter + hal/qemu installed as .py files with
mpremote) and "meter" (the same code frozen into flash, 48 KB heap: the 64 KB-RAM budget)."""
from __future__ import annotations

import json
import time

import pytest

from veriwatt import cli, device, records, serial_client, slots
from veriwatt.aggregation import Aggregator
from vwcore import agg, group, wire
from qemumeter import install_and_start_meter, qemu_board_port

pytestmark = [pytest.mark.aggregation, pytest.mark.qemu, pytest.mark.sim, pytest.mark.slow]

A = slots.month_range("2026-12")[0]


@pytest.fixture(params=["vwcrypto", "meter"])
def qemu_meter(request, tmp_path):
    with qemu_board_port(request.param, tmp_path) as port:
        install_and_start_meter(port, tmp_path, request.param, speed=90000)
        yield port


def test_qemu_meter_in_a_group(qemu_meter, tmp_path, capsys):
    sim = device.start_sim(2, str(tmp_path / "sim"), 90000, "none")
    try:
        ports = [qemu_meter] + [m.port for m in sim.meters]
        prov = []
        for i, port in enumerate(ports):
            with serial_client.MeterLink(port, timeout=20, retries=2) as link:
                prov.append(device.provision(link, b"AGGQEM%02d" % i, str(tmp_path), (A - 2) * 1800, name="m%d" % i))
        n = 6
        plain = {}
        deadline = time.monotonic() + 120
        for i, port in enumerate(ports):
            with serial_client.MeterLink(port, timeout=20, retries=2) as link:
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
        assert cli.main(["aggregate", "enroll", *ports, "--codes", str(codes), "--label", "qemu+sim", "--out", g,
                         "--timeout", "20"]) == 0
        out = str(tmp_path / "agg.json")
        assert cli.main(["aggregate", "collect", *ports, "--group", g, "--from-slot", str(A), "--to-slot", str(A + n),
                         "--out", out, "--timeout", "20"]) == 0
        r = json.load(open(out))
        for k, s in enumerate(r["slots"]):
            v = [plain[m][k] for m in sorted(plain)]
            assert (s["count"], s["sum_wh"], s["sum_sq"]) == (3, sum(v), sum(x * x for x in v))
        # the QEMU meter leaves: the two simulated meters send reduced shares without it (for
        # slots not fetched before: a meter releases one value per slot)
        assert cli.main(["aggregate", "collect", *ports[1:], "--group", g, "--from-slot", str(A + n),
                         "--to-slot", str(A + n + 2), "--out", out]) == 0
        r = json.load(open(out))
        assert len(r["slots"]) == 2
        for k, s in enumerate(r["slots"]):
            v = [plain[p["meter_id"]][n + k] for p in prov[1:]]
            assert (s["count"], s["sum_wh"], s["missing"]) == (2, sum(v), [prov[0]["meter_id"]])
        # 50 members: the 3 meters and 47 virtual ones; the QEMU meter streams 49 peers
        G = group.get(None)
        vx = [agg.secret_scalar(b"virtual-%d" % i, G) for i in range(47)]
        virtual = [(b"VIRT%04d" % i, agg.public_key(x, G)) for i, x in enumerate(vx)]
        infos = []
        for port in ports:
            with serial_client.MeterLink(port, timeout=20, retries=2) as link:
                infos.append(link.hello())
        members = [(i["meter_id"], i["agg_pub"]) for i in infos] + virtual
        Agg = Aggregator(b"fifty", members, agg.secret_scalar(b"aggregator", G), G)
        got = []
        digest = agg.enroll_digest(agg.group_hash(b"fifty", members, Agg.pub, G), len(members), 0, 0)
        for port, info, p in zip(ports, infos, prov):
            tag = agg.enroll_tag(p["customer_key"], info["meter_id"], info["challenge"], digest)
            with serial_client.MeterLink(port, timeout=60, retries=1) as link:
                assert link.agg_enroll(G.id, b"fifty", Agg.pub, members, tag=tag)["gid"] == Agg.gid
                got.append(link.agg_fetch(A, A + 2))
        for sh in got:
            for v in sh.values():
                Agg.add_share(v)
        for i, (mid, _) in enumerate(virtual):
            e = agg.Enrollment.create(vx[i], mid, b"fifty", members, Agg.pub, G)
            for slot in (A, A + 1):
                Agg.add_share(e.share(slot, 100 + i))
        for k in range(2):
            res = Agg.result(A + k)
            assert res.count == 50
            assert res.total == sum(plain[m][k] for m in plain) + sum(100 + i for i in range(47))
    finally:
        sim.stop()
        capsys.readouterr()
