# SPDX-License-Identifier: MIT
"""The meter on MicroPython's REAL stm32 port (1.25), emulated: board VERIWATT_NETDUINO_PLUS_2
under qemu-system-arm -M netduinoplus2 (STM32F405), built by `make stm32`, run by
simulators/stm32/run.  The meter, hal/stm32 and vwcrypto are frozen into the image, as on
the flashable Nucleo images; the meter line is machine.UART(2) (QEMU's second serial port),
the REPL stays on USART1, /flash is the port's FAT filesystem on a semihosted host file.

Boot to the REPL, mpremote, provision, a day of slots on an accelerated clock, `veriwatt
fetch` over the emulated UART, verify, open every reading, and a power cut (QEMU killed)
while the meter writes, then recovery on the same storage."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from stm32_sim import Stm32Board
from vwtest import ROOT

sys.path.insert(0, str(ROOT / "hal" / "common"))
import vwload  # noqa: E402  (the seeded household the board's "sim" source reads)

pytestmark = [pytest.mark.stm32, pytest.mark.qemu, pytest.mark.slow]

SEED = 3
DAY = 48


def cli(*argv, timeout=240):
    return subprocess.run(
        [sys.executable, "-m", "veriwatt.cli", *argv], capture_output=True, text=True, timeout=timeout
    )


def info(port):
    r = cli("info", port, "--json", "--retries", "8")
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def wait_used(port, n, timeout=300):
    deadline = time.time() + timeout
    while True:
        i = info(port)
        if i["used"] >= n or time.time() > deadline:
            return i
        time.sleep(1)


def test_boot_to_repl_and_mpremote(tmp_path):
    with Stm32Board(tmp_path) as b:
        assert "veriwatt NetduinoPlus2 (QEMU)" in b.boot_text and "STM32F405RG" in b.boot_text
        assert "can't mount flash" not in b.boot_text, b.boot_text
        out = b.mpremote(
            "exec",
            "import os, sys, gc, vwhal, vwcrypto, machine\n"
            "print(sys.platform, os.getcwd(), vwhal.PROFILE, vwhal.DEFAULTS['clock'])\n"
            "print(vwcrypto.powmod(3, 5, 7), pow(2, 2**255, 2**2048 - 1) > 0)\n"
            "print(hasattr(machine, 'UART'), 'vwmeter' in sys.modules)\n"
            "gc.collect(); print('free', gc.mem_free())",
        )
        lines = out.split()
        assert lines[:4] == ["pyboard", "/flash", "stm32", "ticks"], out
        assert lines[4:7] == ["5", "True", "True"], out
        assert int(lines[lines.index("free") + 1]) > 60000, out
        # the port's own storage layer on the semihosted file: write, then read back after a
        # power cycle (QEMU killed and started again on the same image)
        b.mpremote("exec", "f = open('/flash/probe.txt', 'w'); f.write('kept'); f.close()")
        b.restart(wait_repl=True)
        assert b.mpremote("exec", "print(open('/flash/probe.txt').read())").strip() == "kept"
        # main.py runs at boot from /flash, except with the semihosting word `safe` (run --safe)
        # (main.py leaves a file behind: what the guest prints before the host opens the REPL's
        # pty is dropped by QEMU, so the boot text alone cannot tell; os.sync() puts the port's
        # flash cache on the image before the power cut)
        main = tmp_path / "main.py"
        main.write_text("f = open('/flash/ran.txt', 'w'); f.write('MAIN' + 'RAN'); f.close()\n")
        b.mpremote("fs", "cp", str(main), ":main.py")
        b.mpremote("exec", "import os; os.sync()")
        b.restart(wait_repl=True)
        ran = "import os; print('ran.txt' in os.listdir('/flash') and open('/flash/ran.txt').read())"
        assert b.mpremote("exec", ran).strip() == "MAINRAN"
        b.mpremote("exec", "import os; os.remove('/flash/ran.txt'); os.sync()")
        b.safe = True
        b.restart(wait_repl=True)
        assert b.mpremote("exec", ran).strip() == "False"
    assert b.fs.stat().st_size == 64 * 1024


def test_meter_day_fetch_verify_readings(tmp_path):
    """...with no more free heap than on the smallest target, the NUCLEO_F401RE."""
    with Stm32Board(tmp_path) as b:
        b.install_meter(speed=18000, seed=SEED, heap_of="nucleo_f401re")  # 10 slots per real second
        banner = b.wait_ready()
        assert "ready (stm32, unprovisioned" in banner, banner
        b.release_line()
        i = info(b.line)
        assert i["fw_version"].endswith("/stm32") and not i["provisioned"], i
        r = cli("provision", b.line, "--clock", "2026-12-01", "--out", str(tmp_path), "--json", "--retries", "8")
        assert r.returncode == 0, r.stdout + r.stderr
        code = json.loads(r.stdout)["customer_code"]
        i = wait_used(b.line, DAY)
        assert i["used"] >= DAY, i
        db, key = str(tmp_path / "v.db"), str(tmp_path / "meter.pub.json")
        r = cli("fetch", b.line, "--store", db, "--meter-key", key, "--json", "--retries", "8")
        assert r.returncode == 0, r.stdout + r.stderr
        f = json.loads(r.stdout)
        assert f["added"] >= DAY and f["rejected"] == 0, f
        a = f["from_slot"]
        period = "%d:%d" % (a, a + DAY)
        r = cli("verify", "--store", db, "--period", period)
        assert r.returncode == 0 and "complete and every signature valid" in r.stdout, r.stdout + r.stderr
        r = cli("readings", "--store", db, "--period", period, "--code", code, "--csv")
        assert r.returncode == 0, r.stderr
        rows = [ln.split(",") for ln in r.stdout.splitlines()[1:]]
        assert len(rows) == DAY
        got = {int(row[0]): int(row[-1]) for row in rows}
        assert got == {s: vwload.wh(SEED, s) for s in range(a, a + DAY)}, (rows[:3], a)
        # the customer's bill for that day, checked as the supplier would: a tariff whose signed
        # billing cycle is this day, signed by a supplier key the verifier pins
        r = cli("tariff", "example")
        assert r.returncode == 0, r.stderr
        t = json.loads(r.stdout)
        t["cycle"] = {"kind": "periods", "periods": [[a, a + DAY]]}
        (tmp_path / "t.json").write_text(json.dumps(t))
        sup = str(tmp_path / "supplier")
        for argv in (
            ("keygen", "--out", sup),
            (
                "tariff",
                "sign",
                str(tmp_path / "t.json"),
                "--key",
                sup + ".key.json",
                "--out",
                str(tmp_path / "tariff.json"),
            ),
            (
                "bill",
                "--store",
                db,
                "--tariff",
                str(tmp_path / "tariff.json"),
                "--period",
                period,
                "--code",
                code,
                "--supplier-key",
                sup + ".pub.json",
                "--out",
                str(tmp_path / "bill.json"),
            ),
        ):
            r = cli(*argv)
            assert r.returncode == 0, (argv, r.stdout + r.stderr)
        r = cli(
            "verify-bill",
            str(tmp_path / "bill.json"),
            "--tariff",
            str(tmp_path / "tariff.json"),
            "--meter-key",
            key,
            "--supplier-key",
            sup + ".pub.json",
        )
        assert r.returncode == 0 and "VALID" in r.stdout, r.stdout + r.stderr
        # the REPL (USART1) is not the meter line: mpremote interrupts the meter there and finds
        # its store where a Nucleo keeps it, in the port's /flash filesystem
        out = b.mpremote("exec", "import os; print(sorted(os.listdir('/flash/vwdata')))")
        assert "vwhal.json" in out and len(eval(out)) > 1, out


def kill_during_write(b, delay_s):
    """Power cut while the meter writes: wait until the storage file changes (a block write
    through semihosting has begun, a record append is several of them), then `delay_s`
    later SIGKILL QEMU.  Returns False if no write happened within 60 s."""
    st = b.fs.stat().st_mtime_ns
    deadline = time.time() + 60
    while b.fs.stat().st_mtime_ns == st:
        if time.time() > deadline:
            return False
        time.sleep(0.0005)
    time.sleep(delay_s)
    b.kill()
    return True


@pytest.mark.reliability
def test_power_cut_mid_write_and_recovery(tmp_path):
    """Kill QEMU (no flush, no shutdown) right after the meter started writing to its flash
    file, three times at different points; after every restart the meter boots from main.py on
    the same storage, every reading it had is still there and verifies, nothing is rejected;
    after the clock is set again it goes on certifying slots."""
    db, key = str(tmp_path / "v.db"), str(tmp_path / "meter.pub.json")
    with Stm32Board(tmp_path) as b:
        b.install_meter(speed=18000, seed=SEED)
        b.wait_ready()
        b.release_line()
        r = cli("provision", b.line, "--clock", "2026-12-01", "--out", str(tmp_path), "--json", "--retries", "8")
        assert r.returncode == 0, r.stdout + r.stderr
        code = json.loads(r.stdout)["customer_code"]
        seen = 0
        first = None
        for delay in (0.0, 0.003, 0.02):
            before = wait_used(b.line, seen + 4)  # committed: INFO counts them
            assert kill_during_write(b, delay), "the meter wrote nothing for 60 s"
            b.start(wait_repl=False)
            banner = b.wait_ready()
            assert "ready (stm32, meter" in banner, banner  # provisioned, from main.py
            b.release_line()
            i = info(b.line)
            assert i["provisioned"] and not i["clock_set"], i  # no RTC: the clock is lost
            assert i["first_slot"] == before["first_slot"] and i["last_slot"] >= before["last_slot"], (i, before)
            # the clock back (authenticated: the engineer's secret file), FETCH needs it, slots go on
            now = (i["last_slot"] + 1) * 1800  # just after its newest reading
            r = cli(
                "set-clock",
                b.line,
                "--time",
                str(now),
                "--admin",
                str(tmp_path / "meter.admin.json"),
                "--json",
                "--retries",
                "8",
            )
            assert r.returncode == 0, r.stdout + r.stderr
            r = cli(
                "fetch",
                b.line,
                "--store",
                db,
                "--meter-key",
                key,
                "--json",
                "--no-ack",
                "--from-slot",
                str(first or 0),
                "--retries",
                "8",
            )
            assert r.returncode == 0, r.stdout + r.stderr
            f = json.loads(r.stdout)
            assert f["rejected"] == 0, f
            first = first or f["from_slot"]
            seen = i["used"]
        i = wait_used(b.line, seen + 4)
        assert i["used"] >= seen + 4, i
        r = cli("fetch", b.line, "--store", db, "--meter-key", key, "--code", code, "--json", "--retries", "8")
        assert r.returncode == 0, r.stdout + r.stderr
        assert json.loads(r.stdout)["rejected"] == 0
        last = i["last_slot"]
        r = cli("verify", "--store", db, "--period", "%d:%d" % (first, last + 1))
        assert r.returncode == 0 and "complete and every signature valid" in r.stdout, r.stdout + r.stderr
        r = cli("readings", "--store", db, "--period", "%d:%d" % (first, last + 1), "--code", code, "--csv")
        rows = [ln.split(",") for ln in r.stdout.splitlines()[1:]]
        assert rows and all(int(row[-1]) == vwload.wh(SEED, int(row[0])) for row in rows), rows[:3]


def test_meter_on_the_repl_uart_as_on_a_nucleo(tmp_path):
    """The Nucleo images' default meter line: {"serial": "stdio"}, the REPL UART itself
    (hal/common/vwstdio.py: sys.stdin.buffer + select.poll, Ctrl-C off), here USART1."""
    with Stm32Board(tmp_path, meter_on="repl") as b:
        b.install_meter(speed=18000, seed=SEED, extra={"serial": "stdio"})
        assert "ready (stm32, unprovisioned" in b.wait_ready()
        b.release_line()
        r = cli("provision", b.repl, "--clock", "2026-12-01", "--out", str(tmp_path), "--json", "--retries", "8")
        assert r.returncode == 0, r.stdout + r.stderr
        assert wait_used(b.repl, 6)["used"] >= 6
        db = str(tmp_path / "v.db")
        r = cli(
            "fetch", b.repl, "--store", db, "--meter-key", str(tmp_path / "meter.pub.json"), "--json", "--retries", "8"
        )
        assert r.returncode == 0, r.stdout + r.stderr
        f = json.loads(r.stdout)
        assert f["added"] >= 6 and f["rejected"] == 0, f
        r = cli("verify", "--store", db, "--period", "%d:%d" % (f["from_slot"], f["from_slot"] + 6))
        assert r.returncode == 0 and "complete and every signature valid" in r.stdout, r.stdout + r.stderr
