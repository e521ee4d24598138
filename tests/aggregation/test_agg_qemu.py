"""Aggregation with a meter on the QEMU Cortex-M4 board and two unix simulated meters in the
same group: enroll over serial, collect a few slots, exact sums against the plaintext readings,
recovery without the QEMU meter; then a 50-member group (47 virtual members computed here).
Two firmware variants: "vwcrypto" (vwcore + vwmeter + hal/qemu installed as .py files with
mpremote) and "meter" (the same code frozen into flash, 48 KB heap: the 64 KB-RAM budget)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from veriwatt import cli, device, records, serial_client, slots
from veriwatt.aggregation import Aggregator
from vwcore import agg, group, wire

pytestmark = [pytest.mark.aggregation, pytest.mark.qemu, pytest.mark.sim, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "simulators" / "qemu" / "run"
MPREMOTE = str(Path(sys.executable).parent / "mpremote")
A = slots.month_range("2026-12")[0]


@pytest.fixture(params=["vwcrypto", "meter"])
def qemu_meter(request, tmp_path):
    variant = request.param
    elf = ROOT / "build" / "qemu" / variant / "firmware.elf"
    if not elf.exists() or not shutil.which("qemu-system-arm"):
        pytest.fail("%s is missing or qemu-system-arm is not installed: run `make qemu`" % elf, pytrace=False)
    p = subprocess.Popen([str(RUN), "--variant", variant, "--fs", str(tmp_path / "fs.img"), "--no-icount"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        port = None
        deadline = time.time() + 30
        while port is None and time.time() < deadline:
            m = re.search(r"(/dev/pts/\d+)", p.stdout.readline())
            port = m.group(1) if m else None
        assert port, "qemu did not report its pty"
        cfg = tmp_path / "vwhal.json"
        cfg.write_text(json.dumps({"speed": 90000, "seed": 3}))
        files = [str(ROOT / "hal" / "qemu" / "vwhal.py")] + [
            str(ROOT / "hal" / "common" / m) for m in ("vwload.py", "vwclock.py", "vwstdio.py")]
        cmd = [MPREMOTE, "connect", port]
        if variant != "meter":  # the frozen image already has the code
            cmd += ["fs", "mkdir", ":lib", "+", "fs", "cp", "-r", str(ROOT / "firmware" / "vwcore"),
                    str(ROOT / "firmware" / "vwmeter"), ":lib/", "+", "fs", "cp"] + files + [":lib/", "+"]
        cmd += ["fs", "mkdir", ":vwdata", "+", "fs", "cp", str(cfg), ":vwdata/vwhal.json"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, r.stdout + r.stderr
        s = serial.Serial(port, 115200, timeout=0.1)
        s.write(b"\r\x03\x03\r")
        time.sleep(0.3)
        s.reset_input_buffer()
        s.write(b"import vwmeter.main as m; m.main()\r")
        buf = b""
        deadline = time.time() + 120
        while not re.search(rb"veriwatt-meter [^\r\n]* ready[^\n]*\n", buf) and time.time() < deadline:
            buf += s.read(200)
        s.close()
        assert b"ready (qemu" in buf, buf
        yield port
    finally:
        p.terminate()
        p.wait(timeout=10)


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
                while link.hello()["last_slot"] == wire.NO_SLOT or link.info["last_slot"] < A + n:
                    assert time.monotonic() < deadline, "meter %d too slow" % i
                    time.sleep(0.5)
                recs, _ = link.fetch_batch(A, n)
                recs = [records.decode(r) for r in recs]
                assert [r.slot for r in recs] == list(range(A, A + n))
                plain[prov[i]["meter_id"]] = [m for m, _ in records.open_all(recs, prov[i]["customer_key"])]
        g = str(tmp_path / "group.json")
        assert cli.main(["aggregate", "enroll", *ports, "--label", "qemu+sim", "--out", g, "--timeout", "20"]) == 0
        out = str(tmp_path / "agg.json")
        assert cli.main(["aggregate", "collect", *ports, "--group", g, "--from-slot", str(A), "--to-slot", str(A + n),
                         "--out", out, "--timeout", "20"]) == 0
        r = json.load(open(out))
        for k, s in enumerate(r["slots"]):
            v = [plain[m][k] for m in sorted(plain)]
            assert (s["count"], s["sum_wh"], s["sum_sq"]) == (3, sum(v), sum(x * x for x in v))
        # the QEMU meter leaves: the two simulated meters recover its part
        assert cli.main(["aggregate", "collect", *ports[1:], "--group", g, "--from-slot", str(A), "--to-slot", str(A + 2),
                         "--out", out]) == 0
        r = json.load(open(out))
        for k, s in enumerate(r["slots"]):
            v = [plain[p["meter_id"]][k] for p in prov[1:]]
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
        for port in ports:
            with serial_client.MeterLink(port, timeout=60, retries=1) as link:
                assert link.agg_enroll(G.id, b"fifty", Agg.pub, members)["gid"] == Agg.gid
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
