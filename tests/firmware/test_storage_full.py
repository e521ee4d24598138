# SPDX-License-Identifier: MIT
"""The running meter with a tiny store (3 segments x 4 slots): when full it stops
recording rather than overwrite unacknowledged readings; ACK frees whole acknowledged
segments and recording resumes."""

from __future__ import annotations

import sys
import time

import pytest

from fwhelpers import ROOT, cpython_paths

cpython_paths()
sys.path.insert(0, str(ROOT / "simulators"))
from fwclient import Client  # noqa: E402
from meter_sim import MeterSim  # noqa: E402
from vwcore import reading, wire  # noqa: E402

pytestmark = pytest.mark.sim
MID = b"VWFULL01"
T0 = 1767225600 + 1800 * 2  # slot 2 mod 4: the first segment starts mid-way


def test_full_refuses_then_resumes_after_ack(tmp_path):
    env = {"VW_SEG_RECORDS": 4, "VW_MAX_SEGMENTS": 3}
    with MeterSim(n=1, storage=tmp_path, speed=18000, start="none", extra_env=env) as s:
        c = Client(s.meters[0].port)
        c.ok(wire.PROVISION, wire.encode_provision(MID, 1, T0, bytes(32), bytes(32), b"k" * 15))
        deadline = time.time() + 20
        while time.time() < deadline:
            i = c.info()
            if (
                i["last_slot"] != wire.NO_SLOT
                and i["last_slot"] % 4 == 3
                and i["last_slot"] // 4 - i["first_slot"] // 4 == 2
            ):
                break
            time.sleep(0.1)
        full = c.info()
        assert full["capacity"] == 12
        first, last = full["first_slot"], full["last_slot"]
        assert first == T0 // 1800 and last - first + 1 == 10  # 2 + 4 + 4 slots
        time.sleep(0.8)  # 8 more slots elapse
        i = c.info()
        assert (i["first_slot"], i["last_slot"]) == (first, last), "overwrote or grew when full"
        assert i["unacked"] == 10
        assert i["storage_full"], "INFO must report the full state (flag F_STORAGE_FULL)"
        recs, end = c.fetch(first, 0)
        assert [r.slot for r in recs] == list(range(first, last + 1)) and not end["more"]
        y = i["sig_pub"]
        # ACK not covering the oldest segment frees nothing
        c.ack(first, b"k" * 15)
        time.sleep(0.5)
        assert c.info()["last_slot"] == last
        # ACK the oldest segment (slots first, first+1): recording resumes, only it is dropped
        c.ack(first + 1, b"k" * 15)
        deadline = time.time() + 10
        while c.info()["last_slot"] == last and time.time() < deadline:
            time.sleep(0.1)
        i = c.info()
        assert i["first_slot"] == first + 2 and i["last_slot"] > last
        assert not i["storage_full"]
        recs2, _ = c.fetch(0, 0)
        assert [r.encode() for r in recs2[:8]] == [r.encode() for r in recs[2:]]
        assert all(reading.verify_record(r, y, MID) for r in recs2)
        c.close()
