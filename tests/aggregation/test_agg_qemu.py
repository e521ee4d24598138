# SPDX-License-Identifier: MIT
"""Aggregation with a meter on the QEMU Cortex-M4 board and two unix simulated meters in the
same group: enroll over serial, collect a few slots, exact sums against the plaintext readings,
recovery without the QEMU meter; then a 50-member group (47 virtual members computed here).
Two firmware variants: "vwcrypto" (vwcore + vwmeter + hal/qemu installed as .py files with
mpremote) and "meter" (the same code frozen into flash, 48 KB heap: the 64 KB-RAM budget)."""

from __future__ import annotations


import pytest

from veriwatt import device, serial_client, slots
from veriwatt.aggregation import Aggregator
from vwcore import agg, group
from aggroup import collect_without_first, enroll_and_collect, provision_and_open
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
        n = 6
        prov, plain = provision_and_open(ports, tmp_path, b"AGGQEM", A, n, retries=2, wait_s=120)
        g, out = enroll_and_collect(ports, prov, plain, tmp_path, "qemu+sim", A, n, timeout=20)
        # the QEMU meter leaves: the two simulated meters send reduced shares without it
        collect_without_first(ports, prov, plain, g, out, A, n)
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
            # a retry arriving while the frozen 48 KB meter still computes a part is served (ERROR 16
            # at worst, then resent: test_agg_qemu_memory.py), so the normal timeout will do
            with serial_client.MeterLink(port, timeout=60, retries=2) as link:
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
