# SPDX-License-Identifier: MIT
"""The `veriwatt` command line: ONE command table (cli_commands.COMMANDS) of thin wrappers over
the library (veriwatt.api), for meter engineers, customers, suppliers and grids.

This module builds the argparse parser from the table and runs a handler. The options every
command shares are declared once here (OPTIONS), each with ONE default; a command names them
(e.g. "port", "retries", "json") and adds its own with `opt(...)`. Handlers take the parsed
arguments, call the library, print, and return an exit code. Errors meant for the user are
raised as VeriwattError and printed as one line.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import __version__
from .errors import EXIT_INTERNAL, EXIT_OK, VeriwattError
from .serial_client import DEFAULT_BAUD, DEFAULT_RETRIES, DEFAULT_TIMEOUT

EPILOG = """exit codes: 0 ok; 1 verification failed; 2 bad arguments or input files;
3 device or serial-line trouble; 4 internal error (a bug: please report it)"""

DEFAULT_STORE = os.environ.get("VERIWATT_STORE", "veriwatt.db")
Opt = Tuple[Tuple[str, ...], Dict[str, Any]]


def opt(*flags: str, **kw: Any) -> Opt:
    """A command's own option: the arguments of argparse's add_argument."""
    return flags, kw


def _workers(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= 256:
        raise argparse.ArgumentTypeError("--workers must be an integer from 1 to 256 (got %r)" % text)
    return n


PORT_HELP = "serial port: /dev/ttyUSB0, a simulated meter's pty, or a pyserial URL"
PERIOD_HELP = "YYYY-MM, START:END slots or YYYY-MM-DD..YYYY-MM-DD"
TRUST_HELP = "(default: your trust store, see veriwatt trust)"

# The common options: one declaration and one default each.
OPTIONS: Dict[str, List[Opt]] = {
    "port": [opt("port", help=PORT_HELP)],
    "ports": [
        opt("ports", nargs="+", metavar="PORT", help="serial ports of the meters (ttys, simulated ptys, pyserial URLs)")
    ],
    "baud": [opt("--baud", type=int, default=DEFAULT_BAUD, help="baud rate (default %d)" % DEFAULT_BAUD)],
    "timeout": [
        opt(
            "--timeout",
            type=float,
            default=DEFAULT_TIMEOUT,
            help="seconds without an answer before a retry (default %g)" % DEFAULT_TIMEOUT,
        )
    ],
    "retries": [
        opt("--retries", type=int, default=DEFAULT_RETRIES, help="retries per request (default %d)" % DEFAULT_RETRIES)
    ],
    "store": [
        opt(
            "--store",
            default=DEFAULT_STORE,
            help="local store (SQLite file; default %s or $VERIWATT_STORE)" % DEFAULT_STORE,
        )
    ],
    "code": [
        opt("--code", help="customer code from the meter label (or set VERIWATT_CODE; asked for if omitted)"),
        opt("--code-file", help="file holding the customer code"),
    ],
    "json": [opt("--json", action="store_true", help="print a JSON object instead of text")],
    "supplier-key": [opt("--supplier-key", help="supplier public key the tariff must be signed with " + TRUST_HELP)],
    "meter-key": [opt("--meter-key", help="the meter's public key file (meter.pub.json)")],
    "meter": [opt("--meter", help="meter id (16 hex digits) when the store holds several meters")],
    "period": [opt("--period", required=True, help=PERIOD_HELP)],
    "tz": [opt("--tz", help="time zone for months and dates in --period (default UTC), e.g. Europe/London")],
    "workers": [
        opt(
            "--workers",
            type=_workers,
            default=1,
            help="processes for the per-slot work of step and threshold proofs (default 1)",
        )
    ],
}
GROUPS: Dict[str, Tuple[str, ...]] = {
    "line": ("port", "baud", "timeout", "retries"),  # one meter on a serial line
    "lines": ("ports", "baud", "timeout", "retries"),  # several meters
    "stored": ("store", "meter-key", "meter"),  # a meter's readings in the local store
}


def common(name: str, **override: Any) -> Tuple[str, Dict[str, Any]]:
    """A common option with another help text or `required` for one command (never another default)."""
    if "default" in override:
        raise ValueError("common option %s has one default" % name)
    return name, override


Spec = Union[str, Opt, Tuple[str, Dict[str, Any]]]


@dataclass
class Command:
    """One row of the command table: name, handler, one-line help, options, subcommands."""

    name: str
    run: Callable[[argparse.Namespace], int]
    help: str
    options: Sequence[Spec] = ()
    sub: Sequence["Command"] = field(default_factory=tuple)


def _add_options(p: argparse.ArgumentParser, specs: Sequence[Spec]) -> None:
    for spec in specs:
        if isinstance(spec, str) and spec in GROUPS:
            _add_options(p, GROUPS[spec])
            continue
        if isinstance(spec, str) or isinstance(spec[0], str):  # a common option (maybe with another help)
            name, over = (spec, {}) if isinstance(spec, str) else spec
            for i, (flags, kw) in enumerate(OPTIONS[name]):  # type: ignore[index]
                p.add_argument(*flags, **dict(kw, **(over if i == 0 else {})))  # type: ignore[arg-type]
            continue
        p.add_argument(*spec[0], **spec[1])  # type: ignore[arg-type]


def _add_command(sub: Any, c: Command) -> None:
    p = sub.add_parser(
        c.name,
        help=c.help,
        description=c.run.__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=c.run, parser=p)
    _add_options(p, c.options)
    if c.sub:
        s = p.add_subparsers(title="%s commands" % c.name, metavar="COMMAND")
        for sc in c.sub:
            _add_command(s, sc)


def build_parser() -> argparse.ArgumentParser:
    from .cli_commands import COMMANDS

    p = argparse.ArgumentParser(
        prog="veriwatt",
        description="Privacy-friendly smart metering: fetch certified readings from meters, "
        "verify them, build and check bills with proofs, aggregate across meters.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version="veriwatt " + __version__)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for c in COMMANDS:
        _add_command(sub, c)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except VeriwattError as e:
        print("veriwatt: error: %s" % e, file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("veriwatt: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os._exit(EXIT_OK)
    except Exception as e:  # a bug: say so plainly, keep the traceback for VERIWATT_DEBUG=1
        if os.environ.get("VERIWATT_DEBUG"):
            raise
        print(
            "veriwatt: internal error: %s: %s (set VERIWATT_DEBUG=1 for a traceback; please report it)"
            % (type(e).__name__, e),
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
