"""The `veriwatt` command line: subcommands for meter engineers, customers, suppliers and grids.

Each subcommand is a small function taking the parsed arguments and returning an exit code.
Errors meant for the user are raised as VeriwattError and printed as one line.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path
from typing import List, Optional

from . import __version__, resources
from .errors import EXIT_INTERNAL, EXIT_INVALID, EXIT_OK, VeriwattError

EPILOG = """exit codes: 0 ok; 1 verification failed; 2 bad arguments or input files;
3 device or serial-line trouble; 4 internal error (a bug: please report it)"""


def cmd_selftest(args: argparse.Namespace) -> int:
    """Check the modexp backend against known answers and against Python's pow."""
    from . import vwcrypto

    checked = failed = 0
    vectors = Path(args.vectors) if args.vectors else resources.vectors_file()
    if args.vectors and not vectors.is_file():
        raise VeriwattError("known-answer file %s not found (omit --vectors for the packaged one)" % vectors)
    if vectors.exists():
        for line in vectors.read_text().splitlines():
            if not line or line.startswith("#"):
                continue
            kind, *nums = line.split()
            v = [int(x, 16) for x in nums]
            got = vwcrypto.powmod(*v[:3]) if kind == "powmod" else vwcrypto.powmod2(*v[:5])
            checked += 1
            failed += got != v[-1]
    rnd = random.Random(args.seed)
    for _ in range(args.random):
        m = rnd.getrandbits(rnd.choice([64, 256, 2048])) | 1
        b, e = rnd.getrandbits(2048), rnd.getrandbits(256)
        checked += 1
        failed += vwcrypto.powmod(b, e, m) != pow(b, e, m)
    result = {"backend": "vwcrypto (cffi, %d-bit limbs)" % vwcrypto.LIMB_BITS,
              "vectors": str(vectors) if vectors.exists() else None,
              "checked": checked, "failed": failed}
    if args.json:
        print(json.dumps(result))
    else:
        print("selftest: %s: %d checked, %d failed%s" % (
            result["backend"], checked, failed, "" if vectors.exists() else " (vector file not found; random cases only)"))
    return EXIT_OK if failed == 0 else EXIT_INVALID


def cmd_bench(args: argparse.Namespace) -> int:
    """Time the modexp backends in one run and print the ratios."""
    from . import bench

    result = bench.run(bits=args.bits, rounds=args.rounds)
    print(json.dumps(result, indent=2) if args.json else bench.report(result))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="veriwatt",
        description="Privacy-friendly smart metering: fetch certified readings from meters, "
                    "verify them, build and check bills with proofs, aggregate across meters.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version="veriwatt " + __version__)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser("selftest", help="check the crypto backend against known answers",
                       description=cmd_selftest.__doc__, epilog=EPILOG)
    s.add_argument("--vectors", help="known-answer file (default: crypto_c/vectors/modexp.txt, "
                   "which the installed package carries)")
    s.add_argument("--random", type=int, default=50, help="random cases checked against pow (default 50)")
    s.add_argument("--seed", type=int, default=1, help="seed for the random cases")
    s.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    s.set_defaults(func=cmd_selftest)

    b = sub.add_parser("bench", help="time modexp: vwcrypto vs pow vs gmpy2",
                       description=cmd_bench.__doc__, epilog=EPILOG)
    b.add_argument("--bits", type=int, default=2048, help="modulus size (default 2048)")
    b.add_argument("--rounds", type=int, default=7, help="rounds; the median is reported")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bench)

    from . import commands  # subcommands that live in their own modules register here
    commands.register(sub, EPILOG)
    from . import scale_cli
    scale_cli.register(sub, EPILOG)
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
        print("veriwatt: internal error: %s: %s (set VERIWATT_DEBUG=1 for a traceback; please report it)"
              % (type(e).__name__, e), file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
