# SPDX-License-Identifier: MIT
"""Bills computed in the meter (docs/COMPUTATIONS.md section 6): the real firmware on the unix
MicroPython behind real ptys (veriwatt.meter_sim), the host library over pyserial.

A cycle billed by the meter is verified by the supplier's verify_bill and equals the customer's
own bill; every refusal of a bad tariff leaves the stored tariff as it was; a power cut in the
middle of a cycle keeps the sums; a tampered BILL is refused by the host."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
for _p in (ROOT / "firmware", ROOT / "simulators"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from hosthelpers import with_cycle  # noqa: E402
from meter_sim import MeterSim  # noqa: E402
from vwcore import meterbill as mb  # noqa: E402
from vwcore import wire  # noqa: E402

from veriwatt import api, jsonio, keys, meterbill, serial_client, tariff  # noqa: E402
from veriwatt.errors import DeviceError, InvalidError  # noqa: E402

pytestmark = [pytest.mark.computations, pytest.mark.sim]

T0 = 1796126400  # 2026-12-01T12:00Z, a Tuesday: the cycle below crosses the 16:00 peak band
S0 = T0 // 1800
SPEED = 3600  # a half-hour slot every 0.5 s
LEAD = 10  # the cycle starts this many slots after provisioning (5 s to install)
N = 12  # slots of the test cycle
MID = "4d42494c4c303031"  # "MBILL001"


class Rig:
    """A provisioned simulated meter with its files, the supplier's keys and a signed tariff."""

    def __init__(self, sim, d: Path, supplier_key, start: int, n: int = N, timeout: float = 5.0):
        self.sim, self.d, self.timeout = sim, d, timeout
        self.port = sim.meters[0].port
        self.prov = api.provision(self.port, out=str(d), meter_id=MID, clock=T0, name="m", timeout=timeout)
        self.admin, self.meter_pub = self.prov["admin_file"], self.prov["public_key_file"]
        self.sk = supplier_key
        jsonio.write(str(d / "sup.key.json"), supplier_key, private=True)
        jsonio.write(str(d / "sup.pub.json"), keys.public(supplier_key))
        self.sup_pub = str(d / "sup.pub.json")
        self.a, self.b = start, start + n
        self.tariff = self.signed_tariff("tariff.json", self.a, self.b)

    def signed_tariff(self, name: str, a: int, b: int, body=None) -> str:
        signed = tariff.sign(with_cycle(body or tariff.example(), (a, b)), self.sk)
        jsonio.write(str(self.d / name), signed)
        return str(self.d / name)

    def meter_tariff(self, name: str = "mt.json", tariff_file=None, a=None, b=None) -> str:
        api.meter_tariff(
            tariff_file or self.tariff,
            str(self.d / "sup.key.json"),
            MID,
            "%d:%d" % (a or self.a, b or self.b),
            str(self.d / name),
        )
        return str(self.d / name)

    def link(self):
        return serial_client.MeterLink(self.port, timeout=self.timeout, retries=1)

    def info(self):
        with self.link() as link:
            return link.hello()

    def wait_slot(self, slot: int, timeout: float = 60.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            i = self.info()
            if i["last_slot"] != wire.NO_SLOT and i["last_slot"] >= slot:
                return i
            time.sleep(0.3)
        raise TimeoutError("meter did not certify slot %d" % slot)


@pytest.fixture
def rig(tmp_path, supplier):
    with MeterSim(n=1, storage=tmp_path / "sim", speed=SPEED, start="none") as s:
        yield Rig(s, tmp_path, supplier, S0 + LEAD)


def installed(r: Rig):
    api.install_supplier_key(r.port, r.admin, r.sup_pub)
    api.install_tariff(r.port, r.meter_tariff(), r.tariff, r.sup_pub)
    return r.info()["tariff"]


def refused(fn, code: int) -> str:
    with pytest.raises(DeviceError) as ei:
        fn()
    assert ei.value.meter_code == code, str(ei.value)
    return str(ei.value)


def cli(*args) -> dict:
    """`veriwatt ARGS --json` (the CLI's thin wrappers over veriwatt.meterbill): its JSON output."""
    import json
    import subprocess

    p = subprocess.run(
        [sys.executable, "-m", "veriwatt.cli", *[str(a) for a in args], "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_cycle_billed_by_the_meter_verifies_and_equals_the_customers_bill(rig, tmp_path):
    r = rig
    # the engineer's commands, as a customer without a computer has them run
    k = cli("install-supplier-key", r.port, "--admin", r.admin, "--supplier-pub", r.sup_pub)
    assert k["meter_id"] == MID and k["supplier_key_id"] == keys.key_id(r.sk)
    t = cli("install-tariff", r.port, r.meter_tariff(), "--tariff", r.tariff, "--supplier-key", r.sup_pub)
    assert (t["start_slot"], t["end_slot"], t["tariff_digest"]) == (r.a, r.b, jsonio.load(r.tariff, "t")["digest"])
    shown = r.info()["tariff"]
    assert shown["start_slot"] == r.a and shown["end_slot"] == r.b
    assert "sha256:" + shown["digest"].hex() == jsonio.load(r.tariff, "t")["digest"]
    # before the cycle is over the meter says so
    with r.link() as link:
        msg = refused(lambda: meterbill.fetch_meter_bill(link, r.a), wire.E_BAD_ARGUMENT)
    assert "not finished" in msg
    r.wait_slot(r.b)  # the cycle's last slot is certified (and one more)
    res = cli(
        "meter-bill",
        r.port,
        "--tariff",
        r.tariff,
        "--period",
        "%d:%d" % (r.a, r.b),
        "--out",
        tmp_path / "mbill.json",
        "--store",
        tmp_path / "v.db",
        "--supplier-key",
        r.sup_pub,
        "--meter-key",
        r.meter_pub,
    )
    assert res["valid"] and res["file"] == str(tmp_path / "mbill.json")
    rep = api.verify_bill(str(tmp_path / "mbill.json"), r.meter_pub, r.tariff, r.sup_pub)
    assert rep["valid"] and rep["total"] == res["total"]
    # the customer's device computes the same bill from the opened readings
    own = api.bill(
        str(tmp_path / "v.db"),
        "%d:%d" % (r.a, r.b),
        _code(r),
        r.tariff,
        r.sup_pub,
        out=str(tmp_path / "own.json"),
    )
    assert own["total"] == res["total"] and res["total"] > 0
    B = jsonio.load(str(tmp_path / "mbill.json"), "bill")
    assert B["proof"] == jsonio.load(str(tmp_path / "own.json"), "bill")["proof"]
    # prices changed inside the cycle (the peak band), so the point list is not trivial
    assert len(jsonio.load(str(r.d / "mt.json"), "mt")["points"]) >= 2


def _code(r: Rig) -> bytes:
    from veriwatt import records

    return records.customer_key(r.prov["customer_code"])


@pytest.mark.security
def test_bad_tariffs_are_refused_and_the_stored_one_stays(rig, intruder):
    r = rig
    with r.link() as link:
        info = link.hello()
        # no supplier key yet: ERROR 4
        refused(lambda: link.request(wire.TARIFF_SET, mb.encode_tariff_begin(r.a, r.b, 1), (wire.OK,)), 4)
        # SUPPLIER_KEY with a bad admin tag: ERROR 6, nothing installed
        G = keys.group_of(r.sk)
        yb = G.elem_bytes(keys.y_of(r.sk))
        bad = mb.supplier_key_tag(b"x" * 32, info["meter_id"], info["challenge"], yb)
        refused(
            lambda: link.request(wire.SUPPLIER_KEY, mb.encode_supplier_key(info["challenge"], bad, yb), (wire.OK,)), 6
        )
        refused(lambda: link.request(wire.TARIFF_SET, mb.encode_tariff_begin(r.a, r.b, 1), (wire.OK,)), 4)
    good = installed(r)
    mt = meterbill.parse_meter_tariff(jsonio.load(r.meter_tariff(), "mt"))

    def still():
        assert r.info()["tariff"] == good

    def send(m, commit_sig=None, n=None):
        with r.link() as link:
            pts = m["points"]
            link.request(
                wire.TARIFF_SET, mb.encode_tariff_begin(m["start_slot"], m["end_slot"], n or len(pts)), (wire.OK,)
            )
            link.request(wire.TARIFF_SET, mb.encode_tariff_points(0, pts), (wire.OK,))
            link.request(wire.TARIFF_SET, mb.encode_tariff_commit(m["digest"], commit_sig or m["sig"]), (wire.OK,))

    # another cycle (not started), other prices: a valid install would replace the stored one
    a2, b2 = r.a + 1, r.b + 1
    t2 = r.signed_tariff("t2.json", a2, b2)
    m2 = meterbill.parse_meter_tariff(jsonio.load(r.meter_tariff("m2.json", t2, a2, b2), "m2"))
    # unsigned (all-zero signature) and wrongly signed (the intruder's key)
    refused(lambda: send(m2, bytes(64)), 6)
    still()
    msg = mb.tariff_bytes(m2["meter_id"], a2, b2, m2["digest"], m2["points"])
    forged = bytes.fromhex(keys.sign(intruder, msg))
    refused(lambda: send(m2, forged), 6)
    still()
    # prices changed after signing
    m3 = dict(m2, points=[(o, p + 1) for o, p in m2["points"]])
    refused(lambda: send(m3), 6)
    still()
    # another meter's tariff (validly signed for meter OTHER001)
    other = meterbill.sign_meter_tariff(
        tariff.parse_signed(jsonio.load(t2, "t"), keys.public(r.sk)), r.sk, b"OTHER001", a2, b2
    )
    refused(lambda: send(meterbill.parse_meter_tariff(other)), 6)
    still()
    # oversized: n > 256 at BEGIN, more points than announced
    with r.link() as link:
        refused(lambda: link.request(wire.TARIFF_SET, mb.encode_tariff_begin(a2, b2, 257), (wire.OK,)), 10)
    pts = [(i, 10 + i) for i in range(3)]
    with r.link() as link:
        link.request(wire.TARIFF_SET, mb.encode_tariff_begin(a2, b2, 2), (wire.OK,))
        refused(lambda: link.request(wire.TARIFF_SET, mb.encode_tariff_points(0, pts), (wire.OK,)), 10)
        # the pending tariff was dropped: COMMIT has nothing to commit
        refused(lambda: link.request(wire.TARIFF_SET, mb.encode_tariff_commit(m2["digest"], m2["sig"]), (wire.OK,)), 13)
    still()
    # points out of order, and a part that does not continue
    with r.link() as link:
        link.request(wire.TARIFF_SET, mb.encode_tariff_begin(a2, b2, 3), (wire.OK,))
        refused(
            lambda: link.request(wire.TARIFF_SET, mb.encode_tariff_points(0, [(0, 1), (5, 2), (3, 3)]), (wire.OK,)), 13
        )
        link.request(wire.TARIFF_SET, mb.encode_tariff_begin(a2, b2, 3), (wire.OK,))
        refused(lambda: link.request(wire.TARIFF_SET, mb.encode_tariff_points(1, [(1, 1)]), (wire.OK,)), 13)
    still()
    # a cycle that has already started: validly signed, refused
    a0 = r.wait_slot(S0)["last_slot"]
    t0 = r.signed_tariff("t0.json", a0, a0 + 4)
    m0 = meterbill.parse_meter_tariff(jsonio.load(r.meter_tariff("m0.json", t0, a0, a0 + 4), "m0"))
    assert "already started" in refused(lambda: send(m0), 10)
    still()
    # and the honest replacement is accepted (the refusals above were the checks, not a broken meter)
    send(m2)
    assert r.info()["tariff"]["start_slot"] == a2
    # a repeated COMMIT (its OK lost) is answered OK and changes nothing; any other is refused
    with r.link() as link:
        link.request(wire.TARIFF_SET, mb.encode_tariff_commit(m2["digest"], m2["sig"]), (wire.OK,))
        refused(lambda: link.request(wire.TARIFF_SET, mb.encode_tariff_commit(mt["digest"], mt["sig"]), (wire.OK,)), 13)
    assert r.info()["tariff"]["start_slot"] == a2


@pytest.mark.security
def test_tampered_bill_frame_is_refused_by_the_host(rig, tmp_path):
    r = rig
    installed(r)
    r.wait_slot(r.b)
    with r.link() as link:
        b = meterbill.fetch_meter_bill(link, r.a)
    pub = keys.load_public(r.meter_pub, "meter")
    meterbill.check_bill_frame(b, pub)
    for k, v in (
        ("total", b["total"] - 1),
        ("R", (b["R"] + 1)),
        ("end_slot", b["end_slot"] - 1),
        ("digest", bytes(32)),
        ("sig", bytes(64)),
    ):
        with pytest.raises(InvalidError):
            meterbill.check_bill_frame(dict(b, **{k: v}), pub)
    # the bytes on the line: one bit of the total flipped, the frame still decodes
    raw = bytearray(
        mb.encode_bill(b["meter_id"], b["start_slot"], b["end_slot"], b["digest"], b["total"], b["R"], b["sig"])
    )
    raw[55] ^= 1
    with pytest.raises(InvalidError):
        meterbill.check_bill_frame(mb.decode_bill(bytes(raw)), pub)


def test_power_cut_mid_cycle_keeps_the_sums(rig, tmp_path):
    r = rig
    installed(r)
    r.wait_slot(r.a + N // 2)
    r.sim.restart(0)  # power cut: the process is killed, the flash (storage dir) stays
    r.port = r.sim.meters[0].port
    assert r.info()["tariff"]["start_slot"] == r.a
    r.wait_slot(r.b)
    res = api.meter_bill(
        r.port,
        r.tariff,
        "%d:%d" % (r.a, r.b),
        str(tmp_path / "mb.json"),
        str(tmp_path / "v.db"),
        r.sup_pub,
        r.meter_pub,
    )
    own = api.bill(
        str(tmp_path / "v.db"), "%d:%d" % (r.a, r.b), _code(r), r.tariff, r.sup_pub, out=str(tmp_path / "o.json")
    )
    assert res["valid"] and res["total"] == own["total"]


def test_firmware_without_meter_billing_says_so(tmp_path):
    """An image built with VW_METER_BILLING=0 (for a board without the flash for it) lacks
    vwcore/meterbill.py and vwmeter/billing.py; the meter then answers its messages ERROR 2 with
    a clear reason and keeps metering."""
    import shutil

    import veriwatt.meter_sim as ms

    fw = tmp_path / "fw"
    shutil.copytree(ms.FIRMWARE, fw, ignore=shutil.ignore_patterns("meterbill.py", "billing.py", "__pycache__"))
    env = {"MICROPYPATH": ms.micropypath().replace(str(ms.FIRMWARE), str(fw))}
    with MeterSim(n=1, storage=tmp_path / "sim", speed=SPEED, start="none", extra_env=env, natmod=False) as s:
        port = s.meters[0].port
        api.provision(port, out=str(tmp_path), meter_id=MID, clock=T0, name="m")
        with serial_client.MeterLink(port, timeout=5.0, retries=1) as link:
            for t, payload in (
                (wire.BILL_FETCH, mb.encode_bill_fetch(S0)),
                (wire.TARIFF_SET, mb.encode_tariff_begin(S0 + 9, S0 + 19, 1)),
            ):
                assert "no meter billing" in refused(lambda: link.request(t, payload, (wire.OK, wire.BILL)), 2)
            i = link.hello()
            assert i["provisioned"] and "tariff" not in i


def test_next_cycles_tariff_waits_for_the_current_cycle(rig, tmp_path):
    """A tariff for the next cycle, installed while the current cycle runs, becomes current when
    that cycle ends; both cycles are billed by the meter as the customer's device bills them."""
    r = rig
    installed(r)
    a2, b2 = r.b, r.b + 6
    t2 = r.signed_tariff("t2.json", a2, b2)
    r.wait_slot(r.a)  # the first cycle is in progress
    api.install_tariff(r.port, r.meter_tariff("m2.json", t2, a2, b2), t2, r.sup_pub)
    assert r.info()["tariff"]["start_slot"] == r.a  # the current tariff stays until its cycle ends
    r.wait_slot(r.b)
    with r.link() as link:
        b1 = meterbill.fetch_meter_bill(link, r.a)
    meterbill.check_bill_frame(b1, keys.load_public(r.meter_pub, "meter"))
    assert r.info()["tariff"]["start_slot"] == a2
    r.wait_slot(b2)
    store = str(tmp_path / "v.db")
    res = api.meter_bill(r.port, t2, "%d:%d" % (a2, b2), str(tmp_path / "b2.json"), store, r.sup_pub, r.meter_pub)
    api.fetch(r.port, store, None, r.meter_pub, r.a, r.b)
    own1 = api.bill(store, "%d:%d" % (r.a, r.b), _code(r), r.tariff, r.sup_pub, out=str(tmp_path / "o1.json"))
    own2 = api.bill(store, "%d:%d" % (a2, b2), _code(r), t2, r.sup_pub, out=str(tmp_path / "o2.json"))
    assert res["valid"] and res["total"] == own2["total"] and b1["total"] == own1["total"]
    # only the last finished cycle is kept: the first one's BILL is gone, with a clear answer
    with r.link() as link:
        assert "no meter tariff" in refused(lambda: meterbill.fetch_meter_bill(link, r.a), wire.E_BAD_ARGUMENT)
