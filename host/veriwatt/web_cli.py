# SPDX-License-Identifier: MIT
"""Command line of the web architecture (docs/WEB.md): parse, call the library, print.

veriwatt serve     the supplier's service (veriwatt.webapp on uvicorn)
veriwatt upload    send a meter's certified records from the local store to a service
veriwatt web-access  the access-token verifier of a meter (from its customer code)
veriwatt web-register  register a meter (public key + verifier) with a service
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, List

from .errors import EXIT_INVALID, EXIT_OK, VeriwattError


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the supplier's web service: the customer's page computes bills in the browser, the
    service verifies and records them (docs/WEB.md)."""
    from . import jsonio, keys, webserve

    pub = keys.load_public(args.supplier_key, "supplier")
    tariffs = [jsonio.load(t, "tariff") for t in args.tariff or []]
    meters = [_meter_arg(m) for m in args.register or []]
    srv = webserve.Server(args.database, pub, Path(args.token_file), tariffs, meters)
    print(
        "veriwatt serve: %s (database %s); supplier token in %s (mode 0600)"
        % (srv.url(args.host, args.port), srv.service.db.where(), args.token_file),
        file=sys.stderr,
    )
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        print(
            "veriwatt serve: note: plain HTTP on %s: put it behind a TLS reverse proxy (the page's access tokens, "
            "bills and the supplier token cross the network)" % args.host,
            file=sys.stderr,
        )
    srv.run(args.host, args.port)
    return EXIT_OK


def _meter_arg(text: str) -> Any:
    from . import keys, webaccess

    path, _, rest = text.rpartition(":")
    if not path:
        raise VeriwattError(
            "--register %s: give METER.pub.json:VERIFIER (64 hex digits, printed by provision) "
            "or METER.pub.json:CODE.json" % text
        )
    pub = keys.load_public(path, "meter")
    if len(rest) == 64 and all(c in "0123456789abcdef" for c in rest):
        return pub, rest  # the supplier's way: the verifier published at provisioning, no code
    return pub, webaccess.verifier(_code_from_file(rest), pub["meter_id"])


def _code_from_file(path: str) -> str:
    from . import jsonio

    obj = jsonio.load(path, "customer code", "key")
    if not isinstance(obj, dict) or obj.get("format") != "veriwatt-customer-code/1":
        raise VeriwattError("%s is not a customer code file (veriwatt-customer-code/1)" % path)
    return str(obj.get("customer_code"))


def cmd_upload(args: argparse.Namespace) -> int:
    """Send a meter's certified encrypted records from the local store to a service."""
    from . import slots, webclient
    from .store import Store

    if not Path(args.store).is_file():
        raise VeriwattError(
            "store %s does not exist: fetch readings first (veriwatt fetch PORT --store %s)" % (args.store, args.store)
        )
    start, end = slots.parse_period(args.period, "UTC") if args.period else (None, None)
    with Store(args.store) as st:
        res = webclient.upload_store(args.server, st, [args.meter] if args.meter else st.meters(), start, end)
    if args.json:
        print(json.dumps(res))
    else:
        print(upload_text(args.server, res))
    return EXIT_INVALID if res["rejected"] else EXIT_OK


def upload_text(server: str, res: Any) -> str:
    text = "upload to %s: %d sent, %d added, %d already there, %d refused" % (
        server,
        res["sent"],
        res["added"],
        res["duplicates"],
        res["rejected"],
    )
    return text + "".join("\n  refused: %s" % why for why in res["reasons"][:10])


def cmd_web_access(args: argparse.Namespace) -> int:
    """Print the access-token verifier of a meter (SHA-256 of the token the customer's browser
    derives from the code): what the supplier registers; the code itself stays with the customer."""
    from . import keys, webaccess

    pub = keys.load_public(args.meter_key, "meter")
    v = webaccess.verifier(_code_from_file(args.code_file), pub["meter_id"])
    print(json.dumps({"meter_id": pub["meter_id"], "access_verifier": v}) if args.json else v)
    return EXIT_OK


def cmd_web_register(args: argparse.Namespace) -> int:
    """Register a meter (its public key and access verifier) with a running service."""
    from . import keys, webclient

    pub = keys.load_public(args.meter_key, "meter")
    res = webclient.register(args.server, webclient.read_token(args.token_file), pub, args.verifier)
    print(json.dumps(res) if args.json else "meter %s registered with %s" % (pub["meter_id"], args.server))
    return EXIT_OK


def commands() -> List[Any]:
    """Rows of the CLI command table (veriwatt.cli_commands adds them to COMMANDS)."""
    from .cli import Command, common, opt

    return [
        Command(
            "serve",
            cmd_serve,
            "the supplier's web service (customer page, intake, bills, ledger)",
            (
                common(
                    "supplier-key",
                    required=True,
                    help="the supplier's public key (supplier.pub.json): tariffs must verify under it",
                ),
                opt(
                    "--database",
                    default="veriwatt-service.db",
                    help="SQLite file (default veriwatt-service.db), sqlite:///PATH or postgresql://USER@HOST/DB",
                ),
                opt("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"),
                opt("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)"),
                opt(
                    "--token-file",
                    default="supplier.token",
                    help="the supplier's bearer token: read, or created with mode 0600 (default supplier.token)",
                ),
                opt("--tariff", action="append", help="publish this signed tariff at start (repeatable)"),
                opt(
                    "--register",
                    action="append",
                    metavar="METER.pub.json:VERIFIER",
                    help="register a meter at start: its public key and access verifier (printed by provision; "
                    "or METER.pub.json:CODE.json to derive it from a customer code file)",
                ),
            ),
        ),
        Command(
            "upload",
            cmd_upload,
            "send certified records from the local store to a service",
            (
                opt("--server", required=True, help="the service's URL, e.g. http://127.0.0.1:8080"),
                "store",
                common("meter", help="only this meter (16 hex digits; default every meter in the store)"),
                common("period", required=False, help="only these slots: START:END, DATE..DATE or YYYY-MM (UTC)"),
                "json",
            ),
        ),
        Command(
            "web-access",
            cmd_web_access,
            "the access-token verifier of a meter, for `serve`",
            (
                common("meter-key", required=True),
                opt("--code-file", required=True, help="the customer code file (provision --save-code)"),
                "json",
            ),
        ),
        Command(
            "web-register",
            cmd_web_register,
            "register a meter with a running service",
            (
                opt("--server", required=True, help="the service's URL"),
                opt("--token-file", required=True, help="the supplier token file of the service"),
                common("meter-key", required=True),
                opt("--verifier", required=True, help="the meter's access verifier (veriwatt web-access)"),
                "json",
            ),
        ),
    ]
