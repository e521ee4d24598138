# SPDX-License-Identifier: MIT
"""The meter on MicroPython's real stm32 port (emulation board VERIWATT_NETDUINO_PLUS_2 under
qemu-system-arm -M netduinoplus2, `make stm32`) as ONE member of an aggregation group with
two unix simulated meters (groups have at least 3 members): provision all three, fetch and
open their readings (the plaintext to check against), enroll the group over serial with
each member's customer code (`veriwatt aggregate enroll --codes`), collect a few slots
(exact count, sum and sum of squares), then the stm32 meter leaves and the two others still
give the sums without it. Modelled on tests/aggregation/test_agg_qemu.py."""

from __future__ import annotations


import pytest

from aggroup import collect_without_first, enroll_and_collect, provision_and_open
from stm32_sim import Stm32Board
from veriwatt import device, slots

pytestmark = [pytest.mark.stm32, pytest.mark.aggregation, pytest.mark.qemu, pytest.mark.sim, pytest.mark.slow]

A = slots.month_range("2026-12")[0]


def test_stm32_meter_in_an_aggregation_group(tmp_path, capsys):
    (tmp_path / "board").mkdir()
    with Stm32Board(tmp_path / "board") as b:
        b.install_meter(speed=18000, seed=5)  # 10 slots per real second
        assert "ready (stm32, unprovisioned" in b.wait_ready()
        b.release_line()
        sim = device.start_sim(2, str(tmp_path / "sim"), 90000, "none")
        try:
            ports = [b.line] + [m.port for m in sim.meters]
            n = 4
            prov, plain = provision_and_open(ports, tmp_path, b"AGGSTM", A, n, retries=4, wait_s=240)
            g, out = enroll_and_collect(ports, prov, plain, tmp_path, "stm32+sim", A, n, timeout=30)
            # the stm32 meter leaves: the two simulated meters still give exact sums without it
            collect_without_first(ports, prov, plain, g, out, A, n)
        finally:
            sim.stop()
            capsys.readouterr()
