# SPDX-License-Identifier: MIT
"""`veriwatt population`, `veriwatt verify-bills` and `veriwatt aggregate run`: argument parsing
only; they call veriwatt.api (population, verify_bills, aggregate_run), whose work is in
veriwatt.population, veriwatt.batchverify, veriwatt.scale, veriwatt.dbverify and veriwatt.aggrun.

    veriwatt population --meters N --month 2026-12 --out DIR [--workers K] [--seed HEX]
    veriwatt verify-bills DIR [--db results.db|postgresql://...] [--scheduler tcp://HOST:8786] [--workers K]
    veriwatt verify-bills --database sqlite:///srv.db|postgresql://... --supplier-key supplier.pub.json
                          [--meter-keys DIR] [--cycle 2026-12] [--unchecked] [--scheduler ...] [--workers K]

Exit codes: 0 ok (every bill valid), 1 at least one bill invalid or malformed, 2 bad arguments
or input (no such folder or database, unreachable scheduler or database), 4 a bug.
"""

from __future__ import annotations

import argparse
from typing import Any, List

from .cli_output import out
from .errors import EXIT_INVALID, EXIT_OK


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
    from . import api, population
    from .cli_commands import bar_for

    with bar_for("meters", args, milestones=not args.json) as bar:
        m = api.population(args.meters, args.out, args.month, args.seed, args.workers, args.force, bar.cb)
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
    """Verify bills on Dask (an embedded LocalCluster of --workers processes, or --scheduler
    tcp://HOST:8786): every bill of a FOLDER (the layout of `veriwatt population`), verdicts into
    the table bill_checks of --db; or, with --database URL and --supplier-key, the bills the
    service recorded in its database (one --cycle, or --unchecked ones), verdicts into the same
    database's bill_checks. Keyed by bill digest (re-running changes nothing); prints a summary
    with every bad bill and its reason. Exit 1 if any bill is not valid."""
    from . import api
    from .cli_commands import bar_for

    with bar_for("bills", args, milestones=not args.json) as bar:
        s = api.verify_bills(
            args.folder,
            args.db,
            args.database,
            args.supplier_key,
            args.cycle,
            args.unchecked,
            args.scheduler,
            args.workers,
            args.batch,
            bar.cb,
            args.meter_keys,
        )
    head = "%d bills: %d valid, %d invalid, %d malformed in %.1f s (results in %s, table bill_checks)" % (
        s["bills"],
        s["valid"],
        s["invalid"],
        s["malformed"],
        s["seconds"],
        s["results"],
    )
    out(args, s, "\n".join([head] + ["  %s: %s: %s" % (p["name"], p["status"], p["reason"]) for p in s["problems"]]))
    return EXIT_OK if s["valid"] == s["bills"] else EXIT_INVALID


def cmd_aggregate_run(args: argparse.Namespace) -> int:
    """Aggregate many groups on Dask: FOLDER/groups/NAME.group.json (the aggregator's group
    file) with FOLDER/shares/NAME.shares.json; one task per group (an embedded LocalCluster of
    --workers processes, or --scheduler tcp://HOST:8786); writes FOLDER/results/NAME.result.json
    and prints a summary. Exit 1 if any share was refused."""
    from . import api
    from .cli_commands import bar_for

    with bar_for("groups", args, milestones=not args.json) as bar:
        s = api.aggregate_run(args.folder, args.scheduler, args.workers, bar.cb)
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
            "verify a folder of bills, or the service database's, on Dask (local cluster or --scheduler)",
            (
                opt(
                    "folder",
                    nargs="?",
                    help="folder in the population layout (bills/, meters/, tariff.json, supplier.pub.json)",
                ),
                opt(
                    "--db",
                    help="FOLDER's verdicts: a SQLite file, sqlite:///PATH or postgresql://... "
                    "(default ledger.db, next to the ledger's tables)",
                ),
                opt(
                    "--database",
                    help="instead of FOLDER: the service's database (veriwatt serve --database: a SQLite "
                    "file, sqlite:///PATH or postgresql://...); its ledger's bills are verified and the "
                    "verdicts written into its table bill_checks",
                ),
                opt(
                    "--supplier-key", help="with --database: the supplier's public key the tariffs must be signed with"
                ),
                opt(
                    "--meter-keys",
                    help="with --database: a folder of the supplier's own meter public key files "
                    "(*.pub.json); the database's meters table must hold exactly those keys, else "
                    "the bill is invalid (problem 'meter key')",
                ),
                opt("--cycle", help="with --database: only the bills of this cycle label (e.g. 2026-12)"),
                opt(
                    "--unchecked",
                    action="store_true",
                    help="with --database: only bills with no verdict in bill_checks yet",
                ),
                sched,
                common("workers", help="LocalCluster worker processes (ignored with --scheduler)"),
                opt("--batch", type=_positive, default=200, help="bills per task (default 200)"),
                common("json", help="print the summary as JSON (docs/FORMATS.md, Bill checks)"),
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
