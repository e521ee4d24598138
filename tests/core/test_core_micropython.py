# SPDX-License-Identifier: MIT
"""The same vwcore code under the unix MicroPython: self-test, and cross-checks both ways
(records certified in MicroPython verify/open in CPython and are byte-identical to
CPython's; records and frames made in CPython verify/decode in MicroPython)."""

import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vwcore import reading, wire
from vwtest import require_artifact

ROOT = Path(__file__).resolve().parents[2]
SELFTEST = Path(__file__).resolve().parent / "mp_selftest.py"
METER_HEAP = "130000"  # about what the qemu Cortex-M port has free (TOOLCHAIN.md)
MID = b"MTR00042"
CK = bytes(range(15))
SS = b"\x11" * 32

pytestmark = pytest.mark.crypto


def mp_exe():
    exe = Path(sys.executable).parent / "micropython"
    if not exe.exists():
        pytest.fail("the unix `micropython` is missing from the venv: run `make setup`", pytrace=False)
    return str(exe)


def run_selftest(cmd, *args, timeout=300):
    env = dict(os.environ)
    env.pop("VERIWATT_MODEXP", None)
    r = subprocess.run(
        cmd + [str(SELFTEST)] + list(args), capture_output=True, text=True, timeout=timeout, cwd=str(ROOT), env=env
    )
    lines = r.stdout.splitlines()
    assert lines and lines[-1].endswith(" 0 failed"), r.stdout + r.stderr
    assert r.returncode == 0, r.stdout + r.stderr
    return lines


def save_bench(name, lines):
    bench = [l for l in lines if l.startswith("BENCH ")]
    try:
        d = ROOT / "build" / "bench"
        d.mkdir(parents=True, exist_ok=True)
        (d / ("vwcore_%s.txt" % name)).write_text("\n".join(bench) + "\n")
    except OSError:
        pass
    return dict(l.split()[1:3] for l in bench)


def test_selftest_micropython_meter_heap():
    """All core checks under the unix MicroPython with a meter-sized heap, pow backend
    forced (what a meter without the C module runs)."""
    lines = run_selftest([mp_exe(), "-X", "heapsize=" + METER_HEAP], "--pow")
    passed = int(lines[-1].split()[0])
    assert passed >= 15
    b = save_bench("micropython_pow", lines)
    assert b["backend"] == "pow" and b["record_bytes"] == "386"
    print("\n".join(l for l in lines if l.startswith("BENCH")))


def test_selftest_cpython():
    lines = run_selftest([sys.executable])
    save_bench("cpython", lines)


def test_cross_micropython_to_cpython():
    lines = run_selftest([mp_exe()], "--emit", "--nobench")
    pub = int([l for l in lines if l.startswith("XPUB ")][0].split()[1], 16)
    keys = reading.MeterKeys(MID, SS, CK)
    assert pub == keys.y
    recs = [l.split() for l in lines if l.startswith("XREC ")]
    assert len(recs) == 3
    for _, slot, m, hx in recs:
        b = bytes.fromhex(hx)
        rec = wire.decode_record(b)
        assert reading.verify_record(rec, pub, MID)
        assert reading.open_record(rec, CK)[0] == int(m)
        # deterministic: CPython certifies the very same bytes
        assert wire.encode_record(reading.certify(keys, int(slot), int(m))) == b
    frames = [bytes.fromhex(l.split()[1]) for l in lines if l.startswith("XFRAME ")]
    out = wire.Decoder().feed(b"".join(frames))
    assert [f.mtype for f in out] == [wire.FETCH, wire.END, wire.ERROR]
    assert wire.decode_fetch(out[0].payload) == {"from_slot": 1000, "max_count": 48}
    assert wire.decode_error(out[2].payload)["reason"] == "full"


def test_cross_cpython_to_micropython(tmp_path):
    keys = reading.MeterKeys(b"CPYTHON1", b"\x5a" * 32, b"\x07" * 15)
    records = []
    for slot, m in ((5, 0), (6, 65534), (2**31, reading.MAX_READING)):
        rec = reading.certify(keys, slot, m)
        records.append(
            {
                "hex": wire.encode_record(rec).hex(),
                "pub": "%x" % keys.y,
                "meter_id": keys.meter_id.hex(),
                "ck": (b"\x07" * 15).hex(),
                "m": m,
                "r": "%x" % keys.r_for(slot),
            }
        )
    frames = [
        (wire.HELLO, 1, b""),
        (wire.READING, 2, bytes.fromhex(records[0]["hex"])),
        (wire.INFO, 3, wire.encode_info({"meter_id": MID, "sig_pub": keys.y, "fw_version": "x"})),
    ]
    stream = b"junk\xa5" + b"".join(wire.encode_frame(*f) for f in frames)
    keys_data = [(b"\x0b" * 20, b"Hi There"), (b"\xaa" * 131, b"x" * 200), (b"", b"")]
    v = {
        "records": records,
        "stream": stream.hex(),
        "frames": [[t, s, p.hex()] for t, s, p in frames],
        "hmac": [[k.hex(), d.hex(), hmac.new(k, d, hashlib.sha256).hexdigest()] for k, d in keys_data],
    }
    path = tmp_path / "vectors.json"
    path.write_text(json.dumps(v))
    lines = run_selftest([mp_exe()], "--vectors", str(path), "--nobench")
    assert "PASS cross_vectors" in lines


UNIX_125 = ROOT / "build" / "unix" / "micropython"  # tools/build_unix: the QEMU firmware's source
EXTRA = [p for p in os.environ.get("VERIWATT_EXTRA_MICROPYTHON", "").split(os.pathsep) if p]


@pytest.mark.parametrize("exe", ["1.25"] + EXTRA)
def test_selftest_other_micropython_builds(exe):
    """The self-test and byte-identical records on the unix port of the Debian 1.25 source (the
    version the QEMU firmware is built from), plus any builds named in VERIWATT_EXTRA_MICROPYTHON."""
    if exe == "1.25":
        exe = str(require_artifact(UNIX_125, "unix"))
    lines = run_selftest([exe, "-X", "heapsize=" + METER_HEAP], "--pow", "--emit")
    keys = reading.MeterKeys(MID, SS, CK)
    for _, slot, m, hx in [l.split() for l in lines if l.startswith("XREC ")]:
        assert wire.encode_record(reading.certify(keys, int(slot), int(m))) == bytes.fromhex(hx)
