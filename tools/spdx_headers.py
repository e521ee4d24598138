#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Add the license tag `SPDX-License-Identifier: MIT` (SPDX specification 2.3, annex H: short
identifiers in source files; the project's LICENSE) to every source file that lacks it, in
that file type's comment syntax:

    .py, Python scripts, shell scripts, Makefile, .mk, .cmake   # SPDX-License-Identifier: MIT
    .c, .h, .ld                                                 /* SPDX-License-Identifier: MIT */

The tag goes on the first line, or right after a `#!` line (and a Python coding line), so
scripts still start and a module's docstring stays its docstring.

    tools/spdx_headers.py              tag every source file git tracks (and untracked, not
                                       ignored ones) that has no tag yet
    tools/spdx_headers.py FILE...      only these files
    tools/spdx_headers.py --check [FILE...]
                                       change nothing; list the untagged files, exit 1 if any

Exit status: 0 done / all tagged, 1 (--check) files without a tag, 2 bad arguments.
Generated files (crypto_c/vw_fbtables.c, firmware/vwcore/params.py) carry the tag because
their generators write it (tools/gen_fb_tables.py, tools/gen_params.py).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterable, List, Optional

ROOT = Path(__file__).resolve().parents[1]
TAG = "SPDX-License-Identifier: MIT"
HASH = "# %s\n" % TAG
C_STYLE = "/* %s */\n" % TAG
HASH_SUFFIXES = {".py", ".mk", ".cmake", ".sh"}
C_SUFFIXES = {".c", ".h", ".ld"}
HASH_NAMES = {"Makefile", "CMakeLists.txt"}
SHEBANG = re.compile(rb"^#!.*\b(python[0-9.]*|bash|sh)\b")
CODING = re.compile(r"^#.*coding[:=]")
SEARCH_LINES = 5  # a tag within the first lines counts


def comment_for(path: Path, head: bytes) -> Optional[str]:
    """The tag line for this file type, or None when the file is no source file."""
    if path.suffix in C_SUFFIXES:
        return C_STYLE
    if path.suffix in HASH_SUFFIXES or path.name in HASH_NAMES:
        return HASH
    if not path.suffix and SHEBANG.match(head):
        return HASH
    return None


def has_tag(text: str) -> bool:
    return any(TAG in line for line in text.splitlines()[:SEARCH_LINES])


def tagged(text: str, line: str) -> str:
    """text with `line` inserted after its #! line (and a Python coding line), else first."""
    lines = text.splitlines(keepends=True)
    at = 0
    if lines and lines[0].startswith("#!"):
        at = 1
    if len(lines) > at and CODING.match(lines[at]):
        at += 1
    if at and not lines[at - 1].endswith("\n"):
        lines[at - 1] += "\n"
    return "".join(lines[:at] + [line] + lines[at:])


def candidates(root: Path) -> List[Path]:
    """Tracked files and untracked, not ignored ones (a plain walk outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout
        names = [n for n in out.decode().split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = [os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs]
    return [root / n for n in sorted(set(names)) if (root / n).is_file() and not (root / n).is_symlink()]


def untagged(paths: Iterable[Path]) -> List[Path]:
    """The source files among `paths` without a tag."""
    out = []
    for p in paths:
        with open(p, "rb") as f:
            head = f.read(64)
        if comment_for(p, head) is None:
            continue
        if not has_tag(p.read_text(encoding="utf-8", errors="replace")):
            out.append(p)
    return out


def add_tag(path: Path) -> None:
    with open(path, "rb") as f:
        head = f.read(64)
    line = comment_for(path, head)
    text = path.read_text(encoding="utf-8")
    if line is None or has_tag(text):
        return
    mode = path.stat().st_mode
    path.write_text(tagged(text, line), encoding="utf-8")
    os.chmod(path, mode)


def main(argv: List[str]) -> int:
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    if any(a.startswith("-") for a in args):
        print("usage: tools/spdx_headers.py [--check] [FILE...]", file=sys.stderr)
        return 2
    paths = [Path(a).resolve() for a in args] if args else candidates(ROOT)
    missing = [p for p in paths if not p.is_file()]
    if missing:
        print("spdx_headers: no such file: %s" % missing[0], file=sys.stderr)
        return 2
    todo = untagged(paths)
    if check:
        for p in todo:
            print(os.path.relpath(p, ROOT) if p.is_relative_to(ROOT) else p)
        return 1 if todo else 0
    for p in todo:
        add_tag(p)
    print("spdx_headers: tagged %d file(s)" % len(todo))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
