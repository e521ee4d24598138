# SPDX-License-Identifier: MIT
"""The README's own command blocks, run as written (issue "Reliability": the documented
"Typical use" could not produce a bill).

README.md is the single source: every fenced ```sh block right after a line
`<!-- readme-test: NAME -->` is run line by line with bash, in a fresh folder, with the venv's
`veriwatt` first on PATH. Only what a user must fill in is substituted: `PORT` (the first
meter's pty, printed by the line that starts the simulator in the background with `&`) and
the customer code `XXXXX-...` (printed by `provision`). Every line must exit 0, so the last
line of the typical use, verify-bill, must find the bill VALID. A background line's
processes are stopped at the end (their own process group)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from vwtest import ROOT, VENV_BIN

pytestmark = [pytest.mark.host, pytest.mark.sim, pytest.mark.reliability, pytest.mark.slow]

MARK = re.compile(r"<!--\s*readme-test:\s*([\w-]+)\s*-->\s*\n```sh\n(.*?)\n```", re.S)
PORT_LINE = re.compile(r"meter 0: (\S+)")
CODE_LINE = re.compile(r"customer code[^:\n]*:\s*([0-9A-Z]{5}(?:-[0-9A-Z]{5})+)")


def readme_blocks(text: str) -> List[Tuple[str, List[str]]]:
    """(name, command lines) of the README blocks marked for this test; a line ending in a
    backslash continues on the next one, as in bash."""
    out = []
    for m in MARK.finditer(text):
        cmds: List[str] = []
        cont = False
        for ln in m.group(2).splitlines():
            if not ln.strip() or ln.lstrip().startswith("#"):
                continue
            if cont:
                cmds[-1] = cmds[-1][:-1].rstrip() + " " + ln.strip()
            else:
                cmds.append(ln)
            cont = command_part(cmds[-1]).endswith("\\")
            if cont:
                cmds[-1] = command_part(cmds[-1])
        out.append((m.group(1), cmds))
    return out


def command_part(line: str) -> str:
    """The line without its trailing comment (a '#' after whitespace, as bash reads it)."""
    return re.split(r"\s#", line, maxsplit=1)[0].strip()


def substitute(line: str, found: Dict[str, str]) -> str:
    if re.search(r"\bPORT\b", line):
        assert "PORT" in found, "the README uses PORT before a line printed it: %s" % line
        line = re.sub(r"\bPORT\b", found["PORT"], line)
    if "XXXXX-..." in line:
        assert "CODE" in found, "the README uses the customer code before provision printed it: %s" % line
        line = line.replace("XXXXX-...", found["CODE"])
    return line


def stop_group(pgid: int) -> None:
    """Stop a background line's process group (bash ignores SIGINT in `cmd &`: SIGTERM, then KILL)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def run_block(lines: List[str], cwd: Path) -> List[Tuple[str, str]]:
    env = dict(os.environ, PATH="%s:%s" % (VENV_BIN, os.environ.get("PATH", "")))
    found: Dict[str, str] = {}
    background: List[subprocess.Popen] = []
    transcript: List[Tuple[str, str]] = []
    try:
        for raw in lines:
            line = substitute(command_part(raw), found)  # bash would skip the comment anyway
            if line.endswith("&"):
                p = subprocess.Popen(
                    ["bash", "-c", line],
                    cwd=cwd,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    start_new_session=True,
                )
                background.append(p)
                out = ""
                deadline = time.time() + 60
                while "PORT" not in found and time.time() < deadline:
                    got = p.stdout.readline()
                    if not got and p.poll() is not None:
                        break
                    out += got
                    m = PORT_LINE.search(got)
                    if m:
                        found["PORT"] = m.group(1)
                assert "PORT" in found, "%s\nprinted no port:\n%s" % (raw, out)
                transcript.append((raw, out))
                continue
            r = subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
            transcript.append((raw, r.stdout + r.stderr))
            assert r.returncode == 0, "README line failed (exit %d):\n  %s\n%s%s" % (
                r.returncode,
                raw,
                r.stdout[-2000:],
                r.stderr[-2000:],
            )
            m = CODE_LINE.search(r.stdout)
            if m:
                found["CODE"] = m.group(1)
    finally:
        for p in background:
            stop_group(p.pid)
    return transcript


def test_readme_marks_the_typical_use_block():
    names = [n for n, _ in readme_blocks((ROOT / "README.md").read_text())]
    assert "typical-use" in names


@pytest.mark.parametrize("name", [n for n, _ in readme_blocks((ROOT / "README.md").read_text())] or ["none"])
def test_readme_block_runs_verbatim(name, tmp_path):
    blocks = dict(readme_blocks((ROOT / "README.md").read_text()))
    assert name in blocks, "README.md has no block marked <!-- readme-test: ... -->"
    transcript = run_block(blocks[name], tmp_path)
    if name == "typical-use":
        last_line, last_out = transcript[-1]
        assert "veriwatt verify-bill" in last_line and "VALID" in last_out, transcript[-1]
        assert (tmp_path / "bill.json").is_file()


def test_harness_substitutes_only_port_and_code():
    found = {"PORT": "/dev/pts/9", "CODE": "ABCDE-FGHJK"}
    assert (
        substitute("veriwatt fetch PORT --code XXXXX-... --out PORTS", found)
        == "veriwatt fetch /dev/pts/9 --code ABCDE-FGHJK --out PORTS"
    )
    assert command_part("veriwatt sim --meters 1 &   # prints") == "veriwatt sim --meters 1 &"
    assert sys.executable  # the venv's python runs this suite


def test_wait_reports_an_unprovisioned_meter_and_gives_up_in_time(tmp_path):
    """`veriwatt wait` (the README's step between provision and fetch): exit 3 with what to do."""
    from veriwatt import device

    sim = device.start_sim(1, str(tmp_path / "sim"), 1800, "none")
    try:
        port = sim.meters[0].port
        veriwatt = str(VENV_BIN / "veriwatt")
        r = subprocess.run([veriwatt, "wait", port, "--period", "2026-12"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 3 and "not provisioned" in r.stderr and "veriwatt provision" in r.stderr, r.stderr
        r = subprocess.run(
            [veriwatt, "provision", port, "--clock", "2026-11-30T23:00:00", "--out", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        t0 = time.time()
        r = subprocess.run(
            [veriwatt, "wait", port, "--period", "2026-12", "--max-wait", "2"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 3 and "not complete after 2 s" in r.stderr and "--max-wait" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and time.time() - t0 < 20
    finally:
        sim.stop()
