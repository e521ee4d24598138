# SPDX-License-Identifier: MIT
"""`veriwatt meter-tariff|install-supplier-key|install-tariff|meter-bill`: thin CLI over the
library functions of veriwatt.meterbill (bills computed in the meter, docs/COMPUTATIONS.md
section 6). Parses, calls the library, prints; exit codes as everywhere: 0 ok, 1 verification
failed, 2 bad input, 3 device/serial trouble."""

from __future__ import annotations

import argparse
from typing import Any, Dict, List

from . import meterbill
from .cli_output import out
from .errors import EXIT_OK

A = argparse.Namespace


def _link(args: A) -> Dict[str, Any]:
    return {"baud": args.baud, "timeout": args.timeout, "retries": args.retries}


def cmd_meter_tariff(args: A) -> int:
    """Compile a signed tariff for one meter and cycle and sign it with the supplier key."""
    r = meterbill.meter_tariff(args.tariff, args.key, args.meter_id, args.period, args.out)
    text = "meter tariff for meter %s, slots %d..%d (%d price points) written to %s" % (
        r["meter_id"],
        r["start_slot"],
        r["end_slot"] - 1,
        r["points"],
        r["file"],
    )
    out(args, r, text)
    return EXIT_OK


def cmd_install_supplier_key(args: A) -> int:
    """Install the supplier's public key on a meter (authorised by its admin file)."""
    r = meterbill.install_supplier_key(args.port, args.admin, args.supplier_pub, **_link(args))
    out(
        args,
        r,
        "meter %s on %s now trusts supplier key %s for its tariffs" % (r["meter_id"], args.port, r["supplier_key_id"]),
    )
    return EXIT_OK


def cmd_install_tariff(args: A) -> int:
    """Check a meter tariff against its signed tariff and send it to the meter."""
    r = meterbill.install_tariff(args.port, args.file, args.tariff, args.supplier_key, **_link(args))
    out(
        args,
        r,
        "meter %s on %s holds the tariff for slots %d..%d (%d price points)"
        % (r["meter_id"], args.port, r["start_slot"], r["end_slot"] - 1, r["points"]),
    )
    return EXIT_OK


def cmd_meter_bill(args: A) -> int:
    """Fetch the bill the meter computed for a cycle and write it as a verified bill file."""
    r = meterbill.meter_bill(
        args.port, args.tariff, args.period, args.out, args.store, args.supplier_key, args.meter_key, **_link(args)
    )
    out(
        args,
        r,
        "meter %s billed slots %d..%d: %s (total %d), verified; written to %s"
        % (r["meter_id"], r["period"]["start_slot"], r["period"]["end_slot"] - 1, r["amount"], r["total"], r["file"]),
    )
    return EXIT_OK


def commands() -> List[Any]:
    """Rows of the CLI command table (veriwatt.cli_commands adds them to COMMANDS)."""
    from .cli import Command, common, opt

    period = common("period", help="the billing cycle: YYYY-MM (in the tariff's zone) or START:END slots")
    return [
        Command(
            "meter-tariff",
            cmd_meter_tariff,
            "supplier: compile a signed tariff for one meter and cycle, signed (meter billing)",
            (
                opt("--tariff", required=True, help="the signed tariff (veriwatt tariff sign)"),
                opt("--key", required=True, help="the supplier secret key that signed it (supplier.key.json)"),
                opt("--meter-id", required=True, help="the meter id (16 hex digits)"),
                period,
                opt("--out", default="meter-tariff.json", help="file to write (default meter-tariff.json)"),
                "json",
            ),
        ),
        Command(
            "install-supplier-key",
            cmd_install_supplier_key,
            "engineer: let a meter check supplier-signed tariffs (needs its admin file)",
            (
                "line",
                opt("--admin", required=True, metavar="FILE", help="the meter's admin file (NAME.admin.json)"),
                opt(
                    "--supplier-pub", required=True, metavar="FILE", help="the supplier public key (supplier.pub.json)"
                ),
                "json",
            ),
        ),
        Command(
            "install-tariff",
            cmd_install_tariff,
            "send a meter tariff to the meter before its cycle starts (meter billing)",
            (
                "line",
                opt("file", help="the meter tariff (veriwatt meter-tariff)"),
                opt("--tariff", required=True, help="the signed tariff it was compiled from (checked first)"),
                "supplier-key",
                "json",
            ),
        ),
        Command(
            "meter-bill",
            cmd_meter_bill,
            "fetch the bill the meter computed for a cycle, as a verified bill file",
            (
                "line",
                "store",
                opt("--tariff", required=True, help="the signed tariff of the cycle"),
                "supplier-key",
                common("meter-key", help="the meter's public key file (else the store's or the meter's)"),
                period,
                opt("--out", default="bill.json", help="bill file to write (default bill.json)"),
                "json",
            ),
        ),
    ]
