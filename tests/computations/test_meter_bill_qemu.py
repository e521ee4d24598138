# SPDX-License-Identifier: MIT
"""Bills computed in the meter on the QEMU Cortex-M4 board with the FROZEN `meter` variant (48 KB
heap, docs/COMPUTATIONS.md section 6): install the supplier key and a signed meter tariff over the
board's UART, let the meter certify the cycle, fetch its BILL and verify it as the supplier."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
for _p in (TESTS, TESTS / "firmware", TESTS.parent / "simulators", TESTS.parent / "firmware"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from qemumeter import install_and_start_meter, qemu_board_port  # noqa: E402
from test_meter_bill import MID, Rig  # noqa: E402
from vwcore import wire  # noqa: E402

from veriwatt import api  # noqa: E402

pytestmark = [pytest.mark.computations, pytest.mark.qemu, pytest.mark.slow]

T0 = 1796126400  # 2026-12-01T12:00Z
LEAD = 40  # slots (1 s each at speed 1800) to install the supplier key and the tariff
N = 4


class _Board:
    def __init__(self, port):
        class M:
            pass

        self.meters = [M()]
        self.meters[0].port = port


def test_frozen_meter_on_qemu_bills_a_cycle(tmp_path, supplier):
    with qemu_board_port("meter", tmp_path) as port:
        install_and_start_meter(port, tmp_path, "meter", speed=1800)
        r = Rig(_Board(port), tmp_path, supplier, T0 // 1800 + LEAD, N, timeout=120.0)
        api.install_supplier_key(port, r.admin, r.sup_pub, timeout=120.0)
        api.install_tariff(port, r.meter_tariff(), r.tariff, r.sup_pub, timeout=120.0)
        i = r.info()
        assert i["tariff"]["start_slot"] == r.a and i["meter_id"].hex() == MID
        assert i["last_slot"] == wire.NO_SLOT or i["last_slot"] < r.a, "installed too late: raise LEAD"
        r.wait_slot(r.b, timeout=600)
        res = api.meter_bill(
            port,
            r.tariff,
            "%d:%d" % (r.a, r.b),
            str(tmp_path / "mb.json"),
            str(tmp_path / "v.db"),
            r.sup_pub,
            r.meter_pub,
            timeout=120.0,
        )
        assert res["valid"]
        rep = api.verify_bill(str(tmp_path / "mb.json"), r.meter_pub, r.tariff, r.sup_pub)
        assert rep["valid"] and rep["total"] == res["total"] > 0
