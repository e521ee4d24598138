# SPDX-License-Identifier: MIT
"""The VERIWATT_AN386 board itself (build/qemu/plain): time, virtual clock = instruction
count under -icount shift=0, heap, LittleFS on a semihosted image that persists across
QEMU runs, boot.py/main.py, select.poll on the UART, the real mpremote CLI."""

import re

import pytest

from qemu_board import qemu_board  # noqa: F401 (fixture)

pytestmark = pytest.mark.qemu

SPIN = """
import micropython, vwboard, time
@micropython.asm_thumb
def spin(r0):           # 2 instructions per iteration: subs, bne
    label(loop)
    sub(r0, r0, 1)
    bne(loop)
def measure(n):
    t0 = vwboard.ticks_ns(); u0 = time.ticks_us()
    spin(n)
    return vwboard.ticks_ns() - t0, time.ticks_diff(time.ticks_us(), u0)
"""


def test_ticks_count_instructions(qemu_board):
    """Under -icount shift=0 one instruction is 1 ns: 1M more loop iterations (2M more
    instructions) must read 2,000,000 ns more, to the clock's 40 ns resolution."""
    b = qemu_board("plain")
    b.exec(SPIN)
    b.eval("measure(1000)")  # warm up (the first call costs a few hundred more)
    (n1, u1), (n2, u2), (n3, u3) = [b.eval("measure(%d)" % n) for n in (1000000, 2000000, 3000000)]
    assert abs((n2 - n1) - 2000000) <= 80, (n1, n2)
    assert abs((n3 - n2) - 2000000) <= 80, (n2, n3)
    assert abs(u2 - n2 / 1000) <= 2 and abs(u3 - n3 / 1000) <= 2  # ticks_us = ns / 1000
    # deterministic: the same measurement again gives the same count
    assert abs(b.eval("measure(2000000)")[0] - n2) <= 40


def test_time_module(qemu_board):
    b = qemu_board("plain")
    out = b.exec("""
import time
t0 = time.ticks_ms(); time.sleep_ms(30); t1 = time.ticks_ms()
u0 = time.ticks_us(); time.sleep_us(500); u1 = time.ticks_us()
print(time.ticks_diff(t1, t0), time.ticks_diff(u1, u0))
print(time.ticks_diff(time.ticks_add(5, -10), 5), time.ticks_diff(1, (1 << 30) - 1))
print(time.time() >= 0, time.time_ns() > 0, type(time.ticks_cpu()))
""").split("\n")
    ms, us = map(int, out[0].split())
    assert 30 <= ms <= 32 and 500 <= us <= 520, out
    assert out[1].strip() == "-10 2", out
    assert out[2].strip() == "True True <class 'int'>", out


def test_heap_for_bignums(qemu_board):
    b = qemu_board("plain")
    free = b.eval("__import__('gc').collect() or __import__('gc').mem_free()")
    print("gc.mem_free() after boot:", free)
    assert free > 200 * 1024
    # 2048-bit builtin pow, 256-bit exponent, and a 4096-bit product fit
    assert b.eval("pow(3, (1 << 256) - 5, (1 << 2048) - 159) > 0") is True
    assert b.eval("((1 << 4096) - 3) * ((1 << 4096) - 5) % ((1 << 4096) - 7) > 0") is True


def test_filesystem_persists_across_runs(qemu_board, tmp_path):
    img = tmp_path / "fs.img"
    b = qemu_board("plain", fs=img)
    assert b.eval("__import__('vwboard').storage()") == str(img)
    b.exec(
        "f = open('data.bin', 'wb'); f.write(bytes(range(256)) * 40); f.close()\n"
        "import os; os.mkdir('lib')\n"
        "with open('lib/vwtest_mod.py', 'w') as f: f.write('X = 42\\n')"
    )
    b.stop()
    assert img.stat().st_size > 0
    b2 = qemu_board("plain", fs=img)
    assert b2.eval("open('data.bin', 'rb').read() == bytes(range(256)) * 40") is True
    assert b2.eval("__import__('vwtest_mod').X") == 42  # /lib is on sys.path
    assert b2.eval("__import__('os').statvfs('/')[0]") == 4096


def test_ram_disk_without_image(qemu_board):
    b = qemu_board("plain", fs="ram")
    assert b.eval("__import__('vwboard').storage()") == "ram"
    b.exec("with open('x.txt', 'w') as f: f.write('ram ok')")
    assert b.eval("open('x.txt').read()") == "ram ok"


def test_boot_and_main_scripts(qemu_board, tmp_path):
    img = tmp_path / "fs.img"
    b = qemu_board("plain", fs=img)
    b.exec(
        "with open('boot.py', 'w') as f: f.write(%r)\n"
        "with open('main.py', 'w') as f: f.write(%r)"
        % (
            "import os\nn = int(open('boots').read()) if 'boots' in os.listdir() else 0\n"
            "with open('boots', 'w') as f:\n    f.write(str(n + 1))\n",
            "with open('mainran', 'w') as f:\n    f.write('yes')\n",
        )
    )
    b.stop()
    b2 = qemu_board("plain", fs=img, safe=False)  # power-on: friendly REPL, boot.py + main.py
    assert b2.eval("open('boots').read()") == "1"
    assert b2.eval("open('mainran').read()") == "yes"
    b2.exec("import os; os.remove('mainran')")
    b2.mpremote("soft-reset", "exec", "print(1)")  # soft reset in raw REPL: boot.py only
    assert b2.eval("open('boots').read()") == "2"
    assert b2.eval("'mainran' in __import__('os').listdir()") is False
    b3 = qemu_board("plain", fs=img, safe=True)  # `safe`: neither
    assert b3.eval("open('boots').read()") == "2"


def test_select_poll_on_uart(qemu_board):
    b = qemu_board("plain")
    out = b.exec("""
import select, sys, time
p = select.poll(); p.register(sys.stdin.buffer, select.POLLIN)
t0 = time.ticks_ms(); r = p.poll(40); dt = time.ticks_diff(time.ticks_ms(), t0)
print(r, dt, p.poll(0) == [], [x[1] for x in select.poll().poll(0)])
""")
    m = re.match(r"\[\] (\d+) True \[\]", out.strip())
    assert m and 40 <= int(m.group(1)) <= 42, out


def test_mpremote_cli_cp_run_ls(qemu_board, tmp_path):
    script = tmp_path / "hello_vw.py"
    script.write_text("import sys\nprint('hello from', sys.implementation._build)\n")
    b = qemu_board("plain")
    b.mpremote("cp", str(script), ":hello_vw.py")
    assert "hello_vw.py" in b.mpremote("ls").stdout
    assert "hello from VERIWATT_AN386" in b.mpremote("run", str(script)).stdout
    assert "hello from VERIWATT_AN386" in b.mpremote("exec", "import hello_vw").stdout


def test_runs_without_icount(qemu_board):
    b = qemu_board("plain", icount=False)
    assert b.eval("pow(7, 65537, (1 << 2048) - 159) % 1000 >= 0") is True
