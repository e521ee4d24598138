# SPDX-License-Identifier: MIT
"""Output helpers shared by the CLI handlers (cli_commands, computations_cli, scale_cli): one
way to print a result as text or --json, and one way to report a verdict of INVALID."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Optional, TypeVar

from .errors import InvalidError

T = TypeVar("T")


def out(args: argparse.Namespace, obj: Any, text: str, indent: Optional[int] = 1, sort_keys: bool = True) -> None:
    """Print `obj` as JSON with --json, else `text`."""
    print(json.dumps(obj, indent=indent, sort_keys=sort_keys) if getattr(args, "json", False) else text)


def invalid(args: argparse.Namespace, what: str, path: str, fn: Callable[[], T]) -> Optional[T]:
    """fn()'s result, or None after printing why it raised InvalidError: with --json its report
    (the error's `report`, else {"valid": false, "reason": ...}) on stdout, else the one line
    "WHAT PATH: INVALID: reason" on stderr. The caller then exits 1 (EXIT_INVALID)."""
    try:
        return fn()
    except InvalidError as e:
        if getattr(args, "json", False):
            print(json.dumps(getattr(e, "report", {"valid": False, "reason": str(e)}), indent=1, sort_keys=True))
        else:
            print("%s %s: INVALID: %s" % (what, path, e), file=sys.stderr)
        return None
