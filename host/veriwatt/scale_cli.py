# SPDX-License-Identifier: MIT
"""`veriwatt population` and `veriwatt verify-bills`: argument parsing only; the work is in
veriwatt.population, veriwatt.batchverify and veriwatt.scale (library modules).

    veriwatt population --meters N --month 2026-12 --out DIR [--workers K] [--seed HEX]
    veriwatt verify-bills DIR [--db results.db] [--scheduler tcp://HOST:8786] [--workers K]

Exit codes: 0 ok (every bill valid), 1 at least one bill invalid or malformed, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, List

from .cli_output import out
from .errors import EXIT_INVALID, EXIT_OK, VeriwattError


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a whole number" % text)
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def _seed(text: str) -> bytes:
    try:
        b = bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError("--seed must be hexadecimal")
    if not 16 <= len(b) <= 64:
        raise argparse.ArgumentTypeError("--seed must be 16..64 bytes (32..128 hex digits)")
    return b


def cmd_population(args: argparse.Namespace) -> int:
    """Generate N synthetic meters' certified months (real keys, commitments and signatures,
    the meters' exact record format) and their bills under a signed tariff, for benchmarks
    and tests. Synthetic only: never use it to certify real readings."""
    from . import population
    from .progress import Progress

    if os.path.exists(os.path.join(args.out, "population.json")) and not args.force:
        raise VeriwattError("%s already holds a population (use --force to overwrite)" % args.out)
    with Progress(args.meters, "meters", milestones=not args.json) as bar:
        m = population.generate(args.out, args.meters, args.month, args.seed, args.workers, bar.update)
    if args.json:
        print(population.dumps_manifest(m))
    else:
        print(
            "%d meters, month %s (slots %d..%d), %.1f s with %d worker(s): %s"
            % (
                m["meters"],
                m["month"],
                m["period"]["start_slot"],
                m["period"]["end_slot"] - 1,
                m["seconds"],
                m["workers"],
                args.out,
            )
        )
    return EXIT_OK


def cmd_verify_bills(args: argparse.Namespace) -> int:
    """Verify every bill of a folder (the layout of `veriwatt population`: tariff.json signed by
    supplier.pub.json, meters/*.pub.json, bills/*.bill.json) on Dask: an embedded LocalCluster
    of --workers processes, or --scheduler tcp://HOST:8786. Verdicts go into the table
    bill_checks of the SQLite file --db, keyed by bill digest (re-running changes nothing);
    prints a summary with every bad bill and its reason. Exit 1 if any bill is not valid."""
    from . import scale
    from .progress import Progress

    n = len(scale.bill_names(args.folder))
    with Progress(n, "bills", milestones=not args.json) as bar:
        s = scale.verify_bills(args.folder, args.db, args.scheduler, args.workers, args.batch, progress=bar.update)
    head = "%d bills: %d valid, %d invalid, %d malformed in %.1f s (results in %s, table bill_checks)" % (
        s["bills"],
        s["valid"],
        s["invalid"],
        s["malformed"],
        s["seconds"],
        args.db,
    )
    out(args, s, "\n".join([head] + ["  %s: %s: %s" % (p["name"], p["status"], p["reason"]) for p in s["problems"]]))
    return EXIT_OK if s["valid"] == s["bills"] else EXIT_INVALID


def cmd_aggregate_run(args: argparse.Namespace) -> int:
    """Aggregate many groups on Dask: FOLDER/groups/NAME.group.json (the aggregator's group
    file) with FOLDER/shares/NAME.shares.json; one task per group (an embedded LocalCluster of
    --workers processes, or --scheduler tcp://HOST:8786); writes FOLDER/results/NAME.result.json
    and prints a summary. Exit 1 if any share was refused."""
    from . import aggrun
    from .progress import Progress

    n = len(aggrun.group_names(args.folder))
    with Progress(n, "groups", milestones=not args.json) as bar:
        s = aggrun.run(args.folder, args.scheduler, args.workers, progress=bar.update)
    head = "%d groups, %d shares: %d accepted, %d refused, %d slot results in %.1f s (in %s/results)" % (
        s["groups"],
        s["shares"],
        s["accepted"],
        s["refused"],
        s["slots"],
        s["seconds"],
        args.folder,
    )
    out(args, s, "\n".join([head] + ["  %s: %s" % (p["group"], p["reason"]) for p in s["problems"]]))
    return EXIT_OK if not s["refused"] else EXIT_INVALID


def _scheduler_opt() -> Any:
    from .cli import opt

    return opt("--scheduler", help="a running Dask scheduler, tcp://HOST:8786 (default: an embedded LocalCluster)")


def commands() -> List[Any]:
    """Rows of the CLI command table (veriwatt.cli_commands adds them to COMMANDS)."""
    from .cli import Command, common, opt

    sched = _scheduler_opt()
    return [
        Command(
            "population",
            cmd_population,
            "synthetic meters' certified months and bills (benchmarks, tests)",
            (
                opt("--meters", type=_positive, required=True, help="number of meters"),
                opt("--month", default="2026-12", help="month YYYY-MM (default 2026-12)"),
                opt("--out", required=True, help="output folder"),
                common("workers", help="processes generating meters"),
                opt("--seed", type=_seed, help="hex seed (default random): the same seed gives the same meters"),
                opt("--force", action="store_true", help="overwrite a population in --out"),
                common("json", help="print the manifest as JSON"),
            ),
        ),
        Command(
            "verify-bills",
            cmd_verify_bills,
            "verify a folder of bills on Dask (local cluster or --scheduler)",
            (
                opt("folder", help="folder in the population layout (bills/, meters/, tariff.json, supplier.pub.json)"),
                opt(
                    "--db",
                    default="ledger.db",
                    help="SQLite file for the verdicts (default ledger.db, next to the ledger's tables)",
                ),
                sched,
                common("workers", help="LocalCluster worker processes (ignored with --scheduler)"),
                opt("--batch", type=_positive, default=200, help="bills per task (default 200)"),
                common("json", help="print the summary as JSON"),
            ),
        ),
    ]


def aggregate_run() -> Any:
    """The `veriwatt aggregate run` row (many groups on Dask)."""
    from .cli import Command, common, opt

    return Command(
        "run",
        cmd_aggregate_run,
        "aggregate many groups' shares on Dask (local cluster or --scheduler)",
        (
            opt("folder", help="folder with groups/NAME.group.json and shares/NAME.shares.json"),
            _scheduler_opt(),
            common("workers", help="LocalCluster worker processes (ignored with --scheduler)"),
            common("json", help="print the summary as JSON"),
        ),
    )
