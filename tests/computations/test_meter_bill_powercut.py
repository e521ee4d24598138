# SPDX-License-Identifier: MIT
"""Power cuts during a cycle billed by the meter: the real firmware (vwmeter.billing) on the unix
MicroPython, cut at EVERY write point after the tariff is installed (a write at the cut is torn
in half, vwmeter/durable.py), then restarted: the BILL must carry the sums of the stored records
(opened with the customer key: readings are deterministic, so the total is the uncut run's) and
the meter's valid signature."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "firmware"))
from fwhelpers import MICROPYTHON, cpython_paths, keys_on_flash, mp_path  # noqa: E402

cpython_paths()
from vwcore import meterbill as mb  # noqa: E402
from vwcore import reading, sig, wire  # noqa: E402
from vwmeter import durable  # noqa: E402
from vwmeter.store import Store  # noqa: E402

pytestmark = [pytest.mark.computations, pytest.mark.sim]
DRIVER = str(HERE / "mp_bill_crash.py")
A, N, POINTS = 1767225600 // 1800 + 1, 6, [(0, 10), (2, 25), (4, -3)]


def run(d: Path, crash=None):
    import os

    d.mkdir(exist_ok=True)
    env = dict(os.environ, MICROPYPATH=mp_path(HERE))
    env.pop("VW_CRASH_AT", None)
    if crash is not None:
        env["VW_CRASH_AT"] = str(crash)
    r = subprocess.run([str(MICROPYTHON), DRIVER, str(d)], env=env, capture_output=True, text=True, timeout=120)
    out = dict(ln.split(" ", 1) for ln in r.stdout.splitlines() if " " in ln)
    return r.returncode, out, r.stderr


def check_bill(d: Path, hexbill: str) -> dict:
    """The BILL of the meter under d: its signature under the meter's key (read from its flash)
    and the sums of its stored records (opened with the customer key). Returns it decoded."""
    bill = mb.decode_bill(bytes.fromhex(hexbill))
    k = keys_on_flash(d)
    mk = reading.MeterKeys(k["meter_id"], k["sig_secret"], k["customer_key"])
    recs = [wire.decode_record(raw) for _, raw in Store(str(d / "log"), wire.record_len(1), 4, 8).iter_from(A, N)]
    assert [r.slot for r in recs] == list(range(A, A + N)), d
    prices = mb.expand(POINTS, N)
    ops = [reading.open_record(r, k["customer_key"]) for r in recs]
    assert bill["total"] == sum(p * m for p, (m, _) in zip(prices, ops)), d
    assert bill["R"] == sum(p * r for p, (_, r) in zip(prices, ops)) % mk.grp.q, d
    msg = mb.bill_bytes(bill["meter_id"], A, A + N, bill["digest"], bill["total"], bill["R"])
    assert sig.verify(mk.y, msg, sig.decode_sig(bill["sig"]), mk.grp), d
    return bill


def test_bill_survives_a_power_cut_at_every_write_point(tmp_path):
    ref = tmp_path / "ref"
    rc, out, err = run(ref)
    assert rc == 0, err
    installed, total_wp = int(out["I"]), int(out["done"])
    want = check_bill(ref, out["B"])["total"]
    assert total_wp - installed > 10
    # a cut at every write point after the install (each a new meter: its keys differ), a restart
    for cut in range(installed + 1, total_wp + 1):
        d = tmp_path / ("k%d" % cut)
        rc, _, err = run(d, crash=cut)
        assert rc == durable.CRASH_EXIT, (cut, rc, err)
        rc, out2, err = run(d)
        assert rc == 0, (cut, err)
        assert check_bill(d, out2["B"])["total"] == want, "write point %d" % cut
