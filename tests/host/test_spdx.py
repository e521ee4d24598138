# SPDX-License-Identifier: MIT
"""SPDX license tags (tools/spdx_headers.py): every source file carries
`SPDX-License-Identifier: MIT` in its own comment syntax, and the tool adds it without
breaking a script's #! line or a module's docstring."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "spdx_headers.py"
TAG = "SPDX-License-Identifier: MIT"
pytestmark = pytest.mark.packaging


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(TOOL), *args], capture_output=True, text=True, cwd=str(ROOT), timeout=120
    )


def test_every_source_file_has_a_tag():
    r = _run("--check")
    assert r.returncode == 0, "source files without an SPDX tag (run tools/spdx_headers.py):\n" + r.stdout


SAMPLES = {
    "mod.py": ('"""Docstring."""\nX = 1\n', "# " + TAG + "\n"),
    "script": ("#!/usr/bin/env python3\nprint(1)\n", "#!/usr/bin/env python3\n# " + TAG + "\n"),
    "run": ("#!/usr/bin/env bash\necho hi\n", "#!/usr/bin/env bash\n# " + TAG + "\n"),
    "lib.c": ("int x;\n", "/* " + TAG + " */\n"),
    "lib.h": ("#define Y 1\n", "/* " + TAG + " */\n"),
    "board.mk": ("CFLAGS += -O2\n", "# " + TAG + "\n"),
    "Makefile": ("all:\n\ttrue\n", "# " + TAG + "\n"),
    "mod.cmake": ("set(A 1)\n", "# " + TAG + "\n"),
    "link.ld": ("MEMORY {}\n", "/* " + TAG + " */\n"),
}


def test_tags_in_each_comment_syntax(tmp_path):
    for name, (text, _head) in SAMPLES.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "script").chmod(0o755)
    (tmp_path / "notes.txt").write_text("not a source file\n")
    files = [str(tmp_path / n) for n in [*SAMPLES, "notes.txt"]]
    r = _run("--check", *files)
    assert r.returncode == 1 and len(r.stdout.split()) == len(SAMPLES), r.stdout
    r = _run(*files)
    assert r.returncode == 0, r.stderr
    for name, (text, head) in SAMPLES.items():
        out = (tmp_path / name).read_text()
        assert out.startswith(head) and out.count(TAG) == 1, (name, out)
        assert out.replace("# %s\n" % TAG, "").replace("/* %s */\n" % TAG, "") == text, name
    assert ast.get_docstring(ast.parse((tmp_path / "mod.py").read_text())) == "Docstring."
    assert (tmp_path / "script").stat().st_mode & 0o111  # still executable
    assert (tmp_path / "notes.txt").read_text() == "not a source file\n"
    before = {n: (tmp_path / n).read_text() for n in SAMPLES}
    assert _run(*files).returncode == 0 and _run("--check", *files).returncode == 0  # idempotent
    assert before == {n: (tmp_path / n).read_text() for n in SAMPLES}


def test_bad_arguments(tmp_path):
    assert _run("--bogus").returncode == 2
    assert _run(str(tmp_path / "missing.py")).returncode == 2
