"""Registry of the subcommands implemented in their own modules (meters, bills, aggregation).

`register(sub, epilog)` adds them to the argparse subparsers of veriwatt.cli.
"""
from __future__ import annotations

import argparse


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the main job on simulated meters (no hardware needed)."""
    from .cli import cmd_bench, cmd_selftest

    # Until the meter simulator and bills land, the demo checks and times the crypto core.
    print("veriwatt demo: crypto core self-test and benchmark (the meter demo lands with the host CLI)")
    rc = cmd_selftest(argparse.Namespace(vectors=None, random=50, seed=1, json=False))
    cmd_bench(argparse.Namespace(bits=2048, rounds=5, json=False))
    return rc


def register(sub, epilog: str) -> None:
    d = sub.add_parser("demo", help="the main job on simulated meters, no hardware needed",
                       description=cmd_demo.__doc__, epilog=epilog)
    d.add_argument("--out", default="out/demo", help="folder for the results (default out/demo)")
    d.set_defaults(func=cmd_demo)
