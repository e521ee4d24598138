# SPDX-License-Identifier: MIT
"""CLI: --help on every subcommand; bad paths and malformed files give one-line errors, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from veriwatt import cli

pytestmark = pytest.mark.host


def subcommands():
    p = cli.build_parser()
    for a in p._actions:
        if a.__class__.__name__ == "_SubParsersAction":
            return sorted(a.choices)
    raise AssertionError("no subcommands")


def run(*argv, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "veriwatt.cli", *argv], capture_output=True, text=True, timeout=timeout
    )


def test_every_subcommand_has_help(capsys):
    names = subcommands()
    for expected in (
        "demo",
        "fetch",
        "verify",
        "bill",
        "verify-bill",
        "tariff",
        "deploy",
        "flash",
        "provision",
        "info",
        "sim",
        "readings",
        "disclose",
        "verify-disclosure",
        "plot",
        "keygen",
    ):
        assert expected in names
    for name in names:
        with pytest.raises(SystemExit) as e:
            cli.main([name, "--help"])
        assert e.value.code == 0
        out = capsys.readouterr().out
        assert "usage: veriwatt " + name in out and "exit codes" in out


def one_line_error(r, code=2, *needles):
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.fixture
def files(tmp_path, meter_a, signed_tariff, supplier):
    from veriwatt import keys, trust

    trust.add(keys.public(supplier))  # the tests' own $VERIWATT_HOME (tests/conftest.py)
    (tmp_path / "meter.pub.json").write_text(json.dumps(meter_a.pub))
    (tmp_path / "tariff.json").write_text(json.dumps(signed_tariff))
    (tmp_path / "broken.json").write_text('{"format": "veriwatt-bill/1", ')
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    return tmp_path


def test_missing_files(files):
    one_line_error(
        run(
            "verify-bill",
            str(files / "nope.json"),
            "--tariff",
            str(files / "tariff.json"),
            "--meter-key",
            str(files / "meter.pub.json"),
        ),
        2,
        "bill file",
        "not found",
    )
    one_line_error(
        run(
            "verify-bill",
            str(files / "list.json"),
            "--tariff",
            str(files / "nope.json"),
            "--meter-key",
            str(files / "meter.pub.json"),
        ),
        2,
        "tariff file",
        "not found",
    )
    one_line_error(
        run("verify-bill", str(files / "list.json"), "--tariff", str(files / "tariff.json"), "--meter-key", str(files)),
        2,
        "is a folder",
    )


def test_malformed_json(files):
    one_line_error(
        run(
            "verify-bill",
            str(files / "broken.json"),
            "--tariff",
            str(files / "tariff.json"),
            "--meter-key",
            str(files / "meter.pub.json"),
        ),
        2,
        "not valid JSON",
        "line 1",
    )
    one_line_error(
        run(
            "verify-bill",
            str(files / "list.json"),
            "--tariff",
            str(files / "tariff.json"),
            "--meter-key",
            str(files / "meter.pub.json"),
        ),
        2,
        "not a bill",
    )
    one_line_error(
        run(
            "verify-bill",
            str(files / "list.json"),
            "--tariff",
            str(files / "tariff.json"),
            "--meter-key",
            str(files / "bin.json"),
        ),
        2,
        "UTF-8",
    )
    one_line_error(
        run(
            "verify-bill",
            str(files / "list.json"),
            "--tariff",
            str(files / "list.json"),
            "--meter-key",
            str(files / "meter.pub.json"),
        ),
        2,
        "tariff",
    )
    one_line_error(run("tariff", "verify", str(files / "broken.json")), 2, "not valid JSON")


def test_wrong_kind_of_key(files):
    one_line_error(
        run(
            "verify-bill",
            str(files / "list.json"),
            "--tariff",
            str(files / "tariff.json"),
            "--meter-key",
            str(files / "tariff.json"),
        ),
        2,
        "format",
    )


def test_store_commands_without_a_store(files):
    one_line_error(run("verify", "--store", str(files / "none.db"), "--period", "2026-12"), 2, "does not exist")
    from hosthelpers import WEEK  # a billing cycle of the test tariff (weekly cycles)

    one_line_error(
        run(
            "bill",
            "--store",
            str(files / "none.db"),
            "--period",
            "%d:%d" % WEEK,
            "--tariff",
            str(files / "tariff.json"),
            "--code",
            "x",
        ),
        2,
        "does not exist",
    )


def test_bad_period_and_code(files):
    one_line_error(run("tariff", "show", str(files / "tariff.json"), "--period", "2026-13"), 2, "bad month")
    one_line_error(run("tariff", "show", str(files / "tariff.json"), "--period", "soon"), 2, "bad period")


def test_tariff_roundtrip_via_cli(tmp_path):
    assert run("keygen", "--out", str(tmp_path / "sup")).returncode == 0
    assert run("tariff", "example", "--out", str(tmp_path / "t.json")).returncode == 0
    r = run(
        "tariff",
        "sign",
        str(tmp_path / "t.json"),
        "--key",
        str(tmp_path / "sup.key.json"),
        "--out",
        str(tmp_path / "ts.json"),
    )
    assert r.returncode == 0, r.stderr
    r = run("tariff", "verify", str(tmp_path / "ts.json"), "--supplier-key", str(tmp_path / "sup.pub.json"))
    assert r.returncode == 0 and "valid signature" in r.stdout
    d = json.loads((tmp_path / "ts.json").read_text())
    d["tariff"]["seasons"][0]["bands"][0]["price"] = 1
    (tmp_path / "bad.json").write_text(json.dumps(d))
    r = run("tariff", "verify", str(tmp_path / "bad.json"), "--supplier-key", str(tmp_path / "sup.pub.json"))
    one_line_error(r, 1, "changed after signing")
    r = run("tariff", "show", str(tmp_path / "ts.json"), "--period", "2026-12", "--json")
    one_line_error(r, 2, "no trusted supplier key", "veriwatt trust add")
    assert run("trust", "add", str(tmp_path / "sup.pub.json")).returncode == 0
    r = run("tariff", "show", str(tmp_path / "ts.json"), "--period", "2026-12", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["bands"]["peak"]["price"] == 42


@pytest.mark.reliability
def test_deploy_board_choice():
    """deploy takes the detected board's HAL; a --board naming another profile is refused (or
    forced); an unknown platform needs --board (issue "Reliability": esp32 HAL onto QEMU)."""
    from veriwatt import device
    from veriwatt.errors import VeriwattError

    q = ("qemu", "VERIWATT-AN386 with Cortex-M4")
    assert device.choose_board("P", None, q, False) == "qemu"
    assert device.choose_board("P", "qemu", q, False) == "qemu"
    with pytest.raises(VeriwattError, match="it needs --board qemu, not esp32"):
        device.choose_board("P", "esp32", q, False)
    assert device.choose_board("P", "esp32", q, True) == "esp32"
    assert device.choose_board("P", None, ("pyboard", "NUCLEO-F446RE"), False) == "stm32"
    with pytest.raises(VeriwattError, match="no HAL profile"):
        device.choose_board("P", None, ("rp2", "Raspberry Pi Pico"), False)
    assert device.choose_board("P", "stm32", ("rp2", "Raspberry Pi Pico"), False) == "stm32"


def test_deploy_and_flash_dry_run(tmp_path):
    r = run("deploy", "/dev/ttyUSB9", "--board", "esp32", "--dry-run")
    assert r.returncode == 0 and "mpremote" in r.stdout and ":vwcore/wire.py" in r.stdout and ":vwhal.py" in r.stdout
    r = run("deploy", "/dev/ttyUSB9", "--board", "stm32", "--tool", "ampy", "--dry-run")
    assert r.returncode == 0 and "ampy" in r.stdout and "put" in r.stdout
    one_line_error(run("deploy", "/dev/ttyUSB9", "--board", "pdp11", "--dry-run"), 2, "no HAL for board")
    one_line_error(run("deploy", "/dev/ttyUSB9", "--dry-run"), 2, "--dry-run does not contact the board", "--board")
    img = tmp_path / "fw.bin"
    img.write_bytes(b"\0" * 16)
    r = run("flash", "/dev/ttyUSB9", "--image", str(img), "--dry-run")
    assert r.returncode == 0 and "write_flash" in r.stdout and "0x1000" in r.stdout
    r = run("flash", "/dev/ttyUSB9", "--chip", "stm32")
    assert r.returncode == 0 and "dfu-util" in r.stdout
    one_line_error(run("flash", "/dev/ttyUSB9", "--image", str(tmp_path / "no.bin")), 2, "not found")


def test_customer_commands_on_a_store(tmp_path, meter_a, supplier):
    """bill (tariff, settlement index, total), disclose and verify-disclosure through the CLI."""
    from hosthelpers import WEEK

    from veriwatt import keys, records, tariff
    from veriwatt.store import Store

    db = str(tmp_path / "v.db")
    st = Store(db)
    st.add_meter(meter_a.pub["meter_id"], meter_a.pub)
    a, b = WEEK[0], WEEK[0] + 96
    st.add(
        [r for r in meter_a.raw(a, b).values()],
        records.Checker.from_pub(meter_a.pub).check_raw,
        meter_a.pub["meter_id"],
    )
    st.close()
    key = tmp_path / "meter.pub.json"
    key.write_text(json.dumps(meter_a.pub))
    (tmp_path / "supplier.pub.json").write_text(json.dumps(keys.public(supplier)))
    assert run("trust", "add", str(tmp_path / "supplier.pub.json")).returncode == 0
    for kind in ("tariff", "index"):
        s = tariff.sign(
            dict(tariff.example(kind), cycle={"kind": "periods", "periods": [[a, b], [b, b + 10]]}), supplier
        )
        s["supplier_key"] = keys.public(supplier)
        (tmp_path / (kind + ".json")).write_text(json.dumps(s))
    period = "%d:%d" % (a, b)
    common = ["--store", db, "--period", period, "--code", meter_a.code]
    r = run("bill", *common, "--tariff", str(tmp_path / "index.json"), "--out", str(tmp_path / "settle.json"), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["kind"] == "settlement"
    r = run(
        "verify-bill", str(tmp_path / "settle.json"), "--tariff", str(tmp_path / "index.json"), "--meter-key", str(key)
    )
    assert r.returncode == 0 and "VALID" in r.stdout
    r = run(
        "verify-bill", str(tmp_path / "settle.json"), "--tariff", str(tmp_path / "tariff.json"), "--meter-key", str(key)
    )
    one_line_error(r, 1, "INVALID", "needs a tariff of kind index")
    r = run("bill", *common, "--total", "--out", str(tmp_path / "total.json"), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["total"] == sum(meter_a.reading(t) for t in range(a, b))
    r = run("verify-bill", str(tmp_path / "total.json"), "--meter-key", str(key), "--total")
    assert r.returncode == 0 and "VALID" in r.stdout
    r = run(
        "disclose",
        *common[:2],
        "--code",
        meter_a.code,
        "--slots",
        "%d,%d" % (a + 5, a + 9),
        "--out",
        str(tmp_path / "d.json"),
    )
    assert r.returncode == 0, r.stderr
    r = run("verify-disclosure", str(tmp_path / "d.json"), "--meter-key", str(key), "--json")
    assert r.returncode == 0 and [s["reading"] for s in json.loads(r.stdout)["slots"]] == [
        meter_a.reading(a + 5),
        meter_a.reading(a + 9),
    ]
    r = run("bill", *common[:4], "--code", "NOT-A-CODE", "--tariff", str(tmp_path / "tariff.json"))
    one_line_error(r, 2, "customer code")
    r = run(
        "bill",
        "--store",
        db,
        "--period",
        "%d:%d" % (b, b + 10),
        "--code",
        meter_a.code,
        "--tariff",
        str(tmp_path / "tariff.json"),
    )
    one_line_error(r, 2, "missing", "fetch the missing readings first")


@pytest.mark.reliability
def test_disclose_slot_ranges_include_both_ends(tmp_path, meter_a):
    """disclose --slots D1..D2 opens both days (it used to stop before D2 without saying so),
    A:B both slots; the --help says so."""
    from hosthelpers import WEEK

    from veriwatt import records, slots
    from veriwatt.store import Store

    a = WEEK[0]
    day1 = slots.slot_start(a).strftime("%Y-%m-%d")
    day2 = slots.slot_start(a + 48).strftime("%Y-%m-%d")
    assert a % 48 == 0
    db = str(tmp_path / "v.db")
    st = Store(db)
    st.add_meter(meter_a.pub["meter_id"], meter_a.pub)
    st.add(
        [r for r in meter_a.raw(a, a + 96).values()],
        records.Checker.from_pub(meter_a.pub).check_raw,
        meter_a.pub["meter_id"],
    )
    st.close()
    key = tmp_path / "meter.pub.json"
    key.write_text(json.dumps(meter_a.pub))
    base = ["disclose", "--store", db, "--meter-key", str(key), "--code", meter_a.code, "--json"]
    for spec, want in (
        ("%s..%s" % (day1, day2), list(range(a, a + 96))),
        (day2, list(range(a + 48, a + 96))),
        ("%d:%d" % (a + 5, a + 7), [a + 5, a + 6, a + 7]),
    ):
        out = tmp_path / "d.json"
        r = run(*base, "--slots", spec, "--out", str(out))
        assert r.returncode == 0, r.stderr
        assert [s["slot"] for s in json.loads(out.read_text())["slots"]] == want, spec
    one_line_error(run(*base, "--slots", "%s..%s" % (day2, day1)), 2, "last day is before the first")
    assert "includes both ends" in " ".join(run("disclose", "--help").stdout.split())
