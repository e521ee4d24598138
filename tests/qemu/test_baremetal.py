# SPDX-License-Identifier: MIT
"""Bare-metal Cortex-M4 known-answer test of crypto_c (crypto_c/baremetal) under
qemu-system-arm -M mps2-an386 with semihosting and -icount shift=0."""

import re
import shutil
import subprocess

import pytest

from qemu_board import ROOT, VECTORS

pytestmark = [pytest.mark.qemu, pytest.mark.crypto]

QEMU = [
    "qemu-system-arm",
    "-M",
    "mps2-an386",
    "-nographic",
    "-monitor",
    "null",
    "-semihosting-config",
    "enable=on,target=native",
    "-icount",
    "shift=0",
    "-kernel",
]


def build(tmp_build=None, vectors=None):
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            pytest.fail("%s is not installed: run `make setup`" % tool, pytrace=False)
    cmd = ["make", "-s", "-C", str(ROOT / "crypto_c" / "baremetal")]
    if tmp_build:
        cmd.append("BUILD=%s" % tmp_build)
    if vectors:
        cmd.append("VECTORS=%s" % vectors)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return (tmp_build or ROOT / "build" / "baremetal") / "vw_test.elf"


def run(elf):
    return subprocess.run(QEMU + [str(elf)], capture_output=True, text=True, timeout=300)


def n_vectors():
    return sum(1 for line in VECTORS.read_text().splitlines() if line.startswith("powmod"))


def test_all_vectors_pass():
    r = run(build())
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "%d passed, 0 failed" % n_vectors() in r.stdout


def test_clock_counts_instructions_and_is_deterministic():
    elf = build()
    out1, out2 = run(elf).stdout, run(elf).stdout

    def bench(out):
        return re.findall(r"^BENCH (\S+) (\d+)$", out, re.M)

    b1 = bench(out1)
    assert len(b1) == 4 and b1 == bench(out2), (out1, out2)
    # each benchmark measured twice in one run: equal to the clock's 40-instruction step
    assert abs(int(b1[0][1]) - int(b1[2][1])) <= 40 and abs(int(b1[1][1]) - int(b1[3][1])) <= 40
    m = re.search(r"difference=(-?\d+) \(expect 2000000\)", out1)
    assert m and abs(int(m.group(1)) - 2000000) <= 40, out1


def test_failure_gives_nonzero_exit(tmp_path):
    lines = VECTORS.read_text().splitlines()
    idx = next(i for i, line in enumerate(lines) if line.startswith("powmod2 "))
    parts = lines[idx].split()
    parts[-1] = "%x" % (int(parts[-1], 16) ^ 1)  # one wrong answer
    lines[idx] = " ".join(parts)
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(lines) + "\n")
    r = run(build(tmp_path / "b", bad))
    assert r.returncode != 0
    assert "%d passed, 1 failed" % (n_vectors() - 1) in r.stdout, r.stdout
    assert "FAIL line %d: powmod2 wrong result" % (idx + 1) in r.stdout, r.stdout
